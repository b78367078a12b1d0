"""``ScriptedLM``: a tiny rule-based language model that speaks the backend protocol.

It writes words taken from its prompt, one word per token, from a seeded stream per
(prompt, sample), so it runs in microseconds with no weights. It follows every rule of the
protocol (n samples, ``max_new_tokens``, stop strings, seeds, log-probabilities, chat and raw
prompts), which makes it the dependency-free reference the contract tests hold the real
backends to, and a fast stand-in when wiring up a trainer or a pipeline.
"""

from __future__ import annotations

import math
import random
import secrets
from collections.abc import Sequence

from spice_env.policies.sampling import (
    Completion,
    Prompt,
    SamplingParams,
    derive_seed,
    find_stop,
    is_chat,
    messages_to_text,
)

__all__ = ["ScriptedLM"]

_EOS_ID = 0
_FALLBACK_WORDS = ("the", "answer", "is", "42", ".")


def _token_id(word: str) -> int:
    # Stable across processes (unlike hash()), never the EOS id.
    return 1 + derive_seed("word", word) % (2**20)


class ScriptedLM:
    """A word-level model: each token is a word of the prompt, or end of sequence.

    Greedy decoding walks through the prompt's words in order and never ends early; sampling
    draws words uniformly and ends with probability ``stop_probability`` per step. The model's
    distribution is uniform over the prompt's distinct words plus end-of-sequence, and the
    reported log-probabilities are those of that distribution.

    Args:
        stop_probability: Chance of end-of-sequence at each sampled step.

    Attributes:
        supports_logprobs: ``True``.
        supports_seed: ``True``.
        supports_json_schema: ``False``: words of the prompt follow no grammar, so an
            ``LLMPolicy`` over it writes free text even when the env offers a schema.
    """

    supports_logprobs = True
    supports_seed = True
    supports_json_schema = False

    def __init__(self, stop_probability: float = 0.05) -> None:
        if not 0.0 <= stop_probability < 1.0:
            raise ValueError(f"stop_probability={stop_probability} must be in [0, 1)")
        self.stop_probability = stop_probability

    def generate(self, prompts: Sequence[Prompt], params: SamplingParams) -> list[list[Completion]]:
        """Sample ``params.n`` completions per prompt (see :class:`LLMBackend`).

        Args:
            prompts: Chat messages or raw strings.
            params: Sampling settings.

        Returns:
            One list of ``params.n`` completions per prompt.
        """
        base_seed = params.seed if params.seed is not None else secrets.randbits(63)
        results = []
        for index, prompt in enumerate(prompts):
            text = messages_to_text(prompt) if is_chat(prompt) else prompt
            words = text.split() or list(_FALLBACK_WORDS)
            prompt_ids = [_token_id(w) for w in words]
            results.append(
                [
                    self._complete(words, prompt_ids, params, derive_seed(base_seed, index, j))
                    for j in range(params.n)
                ]
            )
        return results

    def _complete(
        self, words: list[str], prompt_ids: list[int], params: SamplingParams, seed: int
    ) -> Completion:
        rng = random.Random(seed)
        logprob = -math.log(len(set(words)) + 1)
        out: list[str] = []
        ids: list[int] = []
        finish = "length"
        for step in range(params.max_new_tokens):
            if not params.greedy and rng.random() < self.stop_probability:
                ids.append(_EOS_ID)
                finish = "stop"
                break
            word = words[step % len(words)] if params.greedy else rng.choice(words)
            out.append(word)
            ids.append(_token_id(word))
            if params.stop and find_stop(" ".join(out), params.stop) >= 0:
                finish = "stop"
                break
        text = " ".join(out)
        cut = find_stop(text, params.stop)
        if cut >= 0:
            text = text[:cut]
        return Completion(
            text=text,
            token_ids=ids,
            logprobs=[logprob] * len(ids),
            prompt_token_ids=prompt_ids,
            finish_reason=finish,
        )
