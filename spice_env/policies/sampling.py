"""What every language-model backend speaks: sampling settings, completions, the protocol.

A backend turns a batch of prompts into completions. A prompt is either chat messages
(``[{"role": "user", "content": "..."}]``, rendered with the model's chat template) or a plain
string (a raw prompt for base models). The reply has one list per prompt with ``params.n``
completions in it::

    params = SamplingParams(n=8, temperature=1.0, max_new_tokens=256, seed=0)
    completions = backend.generate([messages], params)   # [[Completion x 8]]

Nothing here imports torch, transformers or an HTTP client, so the trainer, the CLI and tests
can use these types for free.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "AsyncLLMBackend",
    "BackendError",
    "ChatMessages",
    "Completion",
    "LLMBackend",
    "Prompt",
    "SamplingParams",
    "derive_seed",
    "find_stop",
    "is_chat",
    "messages_to_text",
]

ChatMessages = list[dict[str, str]]
"""Chat messages: dicts with ``role`` and ``content``."""
Prompt = ChatMessages | str
"""Chat messages, or a raw prompt string for base models."""

FINISH_REASONS = ("stop", "length")
"""``stop``: an end-of-sequence token or a stop string; ``length``: ``max_new_tokens`` reached."""


class BackendError(RuntimeError):
    """A backend could not produce completions (bad response, server error after retries...)."""


@dataclass(frozen=True)
class SamplingParams:
    """How to sample completions; the same settings mean the same thing on every backend.

    Example:
        ``SamplingParams(n=8, temperature=1.0, top_p=1.0, max_new_tokens=256, seed=0)``
    """

    n: int = 1
    """Completions per prompt."""
    temperature: float = 1.0
    """Softmax temperature; 0 means greedy decoding (argmax)."""
    top_p: float = 1.0
    """Nucleus sampling: sample from the smallest set of tokens whose probability reaches it."""
    max_new_tokens: int = 512
    """Most tokens generated per completion (end-of-sequence included)."""
    stop: tuple[str, ...] = ()
    """Strings that end a completion; the text is cut before the first one found."""
    seed: int | None = None
    """Seed of the sampling; with a seed, backends that support it repeat their outputs."""
    json_schema: dict[str, Any] | None = field(default=None, hash=False)
    """A JSON Schema the completion must follow (grammar-constrained decoding), or ``None``
    for free text. Backends with ``supports_json_schema`` honor it; the output should still be
    validated, since a server may ignore it."""

    def __post_init__(self) -> None:
        if isinstance(self.stop, str):
            # A lone string would otherwise be read as a tuple of one-character stops.
            object.__setattr__(self, "stop", (self.stop,))
        elif not isinstance(self.stop, tuple):
            object.__setattr__(self, "stop", tuple(self.stop))
        if isinstance(self.n, bool) or not isinstance(self.n, int) or self.n < 1:
            raise ValueError(f"n={self.n!r}: ask for at least one completion per prompt (n >= 1)")
        if not math.isfinite(self.temperature) or self.temperature < 0:
            raise ValueError(
                f"temperature={self.temperature!r}: use 0 for greedy decoding or a positive "
                "finite value (1.0 samples from the model's distribution)"
            )
        if not math.isfinite(self.top_p) or not 0.0 < self.top_p <= 1.0:
            raise ValueError(
                f"top_p={self.top_p!r} must be in (0, 1]; 1.0 turns nucleus sampling off"
            )
        if (
            isinstance(self.max_new_tokens, bool)
            or not isinstance(self.max_new_tokens, int)
            or self.max_new_tokens < 1
        ):
            raise ValueError(f"max_new_tokens={self.max_new_tokens!r} must be a positive integer")
        for stop in self.stop:
            if not isinstance(stop, str) or not stop:
                raise ValueError(f"stop={self.stop!r}: every stop string must be a non-empty str")
        if self.seed is not None and (
            isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0
        ):
            raise ValueError(f"seed={self.seed!r} must be None or a non-negative integer")
        if self.json_schema is not None and not isinstance(self.json_schema, Mapping):
            raise ValueError(
                f"json_schema must be a JSON Schema dict or None, not {type(self.json_schema)}; "
                "for an OpenAI response_format use spice_env.tasks.schema_from_response_format"
            )

    @property
    def greedy(self) -> bool:
        """Whether decoding is greedy (``temperature == 0``)."""
        return self.temperature == 0.0

    def replace(self, **changes: Any) -> SamplingParams:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)


@dataclass
class Completion:
    """One generated completion.

    ``logprobs[i]`` is the log-probability of ``token_ids[i]`` under the distribution the
    token was sampled from, at temperature 1 and before top-p truncation, so a trainer can
    compare it with its own forward pass:

    - unconstrained: the model's own distribution (log-softmax over the whole vocabulary);
    - constrained by a JSON Schema (``json_schema`` set) with ``logprobs_masked`` true: the
      *masked* distribution, a log-softmax over the tokens the grammar allowed at that step
      (rebuild those masks with :func:`spice_env.policies.grammar.replay_masks`); a step where
      the grammar allowed a single token has log-prob 0;
    - constrained with ``logprobs_masked`` false (the llama.cpp server, unknown servers): the
      raw, unmasked model log-probs of the tokens, which are *not* those of the policy that
      sampled; recompute them from the masks before using them in an importance ratio.

    Remote backends that report no token ids leave ``token_ids`` empty and set ``num_tokens``
    from the server's usage count.
    """

    text: str
    """The generated text, special tokens removed, cut before the first stop string."""
    token_ids: list[int]
    """The generated token ids, end-of-sequence token included (empty if not reported)."""
    logprobs: list[float] | None
    """Log-probability of each generated token, or ``None`` where the backend has none."""
    prompt_token_ids: list[int] | None
    """The prompt's token ids as the model saw them, or ``None`` where not reported."""
    finish_reason: str
    """``"stop"`` (end of sequence or stop string) or ``"length"`` (``max_new_tokens``)."""
    num_tokens: int | None = field(default=None)
    """Tokens generated; defaults to ``len(token_ids)``."""
    json_schema: dict[str, Any] | None = field(default=None)
    """The JSON Schema the sampling was constrained by, or ``None`` for free text."""
    logprobs_masked: bool = False
    """True when ``logprobs`` are those of the grammar-masked distribution (see above)."""

    def __post_init__(self) -> None:
        if self.num_tokens is None:
            self.num_tokens = len(self.token_ids)


@runtime_checkable
class LLMBackend(Protocol):
    """Anything that samples completions for a batch of prompts.

    Backends also state what they can do with class attributes that callers may read:
    ``supports_logprobs`` and ``supports_seed`` (both ``bool``), and optionally
    ``supports_json_schema`` (``bool``, ``False`` when absent): whether the backend honors
    ``SamplingParams.json_schema``.
    """

    def generate(self, prompts: Sequence[Prompt], params: SamplingParams) -> list[list[Completion]]:
        """Sample ``params.n`` completions for each prompt.

        Args:
            prompts: Chat messages (rendered with the chat template) or raw prompt strings.
            params: Sampling settings.

        Returns:
            One list per prompt, in order, each holding ``params.n`` completions.
        """
        ...


@runtime_checkable
class AsyncLLMBackend(LLMBackend, Protocol):
    """A backend that can also be awaited (remote servers), e.g. from an async trainer."""

    async def agenerate(
        self, prompts: Sequence[Prompt], params: SamplingParams
    ) -> list[list[Completion]]:
        """Async :meth:`generate`."""
        ...


def is_chat(prompt: Prompt) -> bool:
    """Whether ``prompt`` is chat messages (``True``) or a raw string (``False``).

    Raises:
        TypeError: for anything else, naming the two accepted forms.
    """
    if isinstance(prompt, str):
        return False
    if isinstance(prompt, Sequence) and all(
        isinstance(m, dict) and "role" in m and "content" in m for m in prompt
    ):
        return True
    raise TypeError(
        "a prompt is either a str (raw prompt) or a list of {'role': ..., 'content': ...} "
        f"dicts (chat messages), not {type(prompt).__name__}"
    )


def messages_to_text(messages: Sequence[dict[str, str]], assistant_prefix: str = "") -> str:
    """Render chat messages as plain text, for models without a chat template.

    Args:
        messages: Chat messages.
        assistant_prefix: Text appended at the end to cue the reply (e.g. ``"Assistant:"``).

    Returns:
        The message contents separated by blank lines (system and user messages carry no
        role label: the prompts already read as instructions), then ``assistant_prefix``.
    """
    parts = [m["content"] for m in messages if m.get("content")]
    text = "\n\n".join(parts)
    return f"{text}\n\n{assistant_prefix}" if assistant_prefix else text


def derive_seed(*parts: object) -> int:
    """A 63-bit seed mixed from ``parts`` (ints, strings), the same in every process.

    Python's ``hash`` is salted per process, so it cannot make runs repeat; a keyed digest can.

    Args:
        *parts: Anything with a stable ``repr`` (base seed, prompt index, sample index...).

    Returns:
        A non-negative integer below ``2**63``.
    """
    digest = hashlib.blake2b(repr(parts).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little") & (2**63 - 1)


def find_stop(text: str, stops: Sequence[str]) -> int:
    """Index of the earliest stop string in ``text``, or ``-1`` when none occurs."""
    found = [i for i in (text.find(s) for s in stops) if i >= 0]
    return min(found) if found else -1


def encode_prompt(tokenizer: Any, prompt: Prompt) -> list[int]:
    """Token ids of a prompt for a Hugging Face tokenizer, shared by the local backends.

    Chat messages go through the tokenizer's chat template (which already writes any BOS token,
    so none is added again); without a template, or for a raw string, the text is tokenized
    with special tokens.
    """
    if is_chat(prompt):
        if getattr(tokenizer, "chat_template", None):
            text = tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
            return list(tokenizer(text, add_special_tokens=False)["input_ids"])
        prompt = messages_to_text(prompt, assistant_prefix="Assistant:")
    return list(tokenizer(prompt, add_special_tokens=True)["input_ids"])
