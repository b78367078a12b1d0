"""``LLMPolicy``: plays a role of the environment with any :class:`LLMBackend`.

The environment hands every turn its ready-made chat messages (``info["messages"]``) and, for a
base-model Reasoner, a plain prompt (``info["prompt"]``); the policy only generates from them.
``act_batch`` makes one backend call for the whole batch, and when the turns share one prompt
(the K Reasoner answers to one question) it asks for K samples of that prompt, so the backend
can encode the question once.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable, Hashable, Sequence
from typing import Any

from spice_env.policies.sampling import (
    Completion,
    LLMBackend,
    Prompt,
    SamplingParams,
    derive_seed,
    messages_to_text,
)

__all__ = ["LLMPolicy", "shared_backend"]


class LLMPolicy:
    """A language model playing one role through a backend.

    Args:
        backend: Any :class:`~spice_env.policies.sampling.LLMBackend`.
        params: Sampling settings; ``n`` is ignored (one action per turn).
        use_chat: Send chat messages (``True``) or plain text (``False``: ``info["prompt"]``
            when the env gives one, else the messages joined as text) for base models.
        seed: Base seed: call ``c`` samples with ``derive_seed(seed, c)``, so a run repeats.
            ``params.seed``, when set, takes precedence; ``None`` for both means unseeded.

    Attributes:
        last_completions: The completions behind the last actions, in action order (with token
            ids and log-probabilities for a trainer).
        stats: Running totals: ``calls``, ``completions``, ``generated_tokens``, ``seconds``.
    """

    def __init__(
        self,
        backend: LLMBackend,
        params: SamplingParams | None = None,
        use_chat: bool = True,
        *,
        seed: int | None = None,
    ) -> None:
        self.backend = backend
        self.params = (params or SamplingParams()).replace(n=1)
        self.use_chat = use_chat
        self.seed = self.params.seed if self.params.seed is not None else seed
        self.last_completions: list[Completion] = []
        self.stats: dict[str, float] = {
            "calls": 0,
            "completions": 0,
            "generated_tokens": 0,
            "seconds": 0.0,
        }

    def prompt_for(self, info: dict[str, Any]) -> Prompt:
        """The prompt for one turn, read from the env's ``info``.

        Args:
            info: The env's info dict for the acting role.

        Returns:
            Chat messages, or a plain string when ``use_chat`` is off.
        """
        messages = info.get("messages")
        if not self.use_chat:
            if info.get("prompt"):
                return str(info["prompt"])
            if messages:
                # A base model continues the text, so end on a blank line after the instructions.
                return messages_to_text(messages) + "\n\n"
        if not messages:
            raise ValueError(
                "info has no 'messages' (nor 'prompt'): the episode is over or the env is not a "
                "SpiceCorpus env; an LLMPolicy needs the env's info dict of the acting turn"
            )
        return [dict(m) for m in messages]

    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
        """Generate the action for one turn."""
        return self.act_batch([observation], [info])[0]

    def act_batch(
        self, observations: Sequence[dict[str, Any]], infos: Sequence[dict[str, Any]]
    ) -> list[str]:
        """Generate one action per turn with a single backend call.

        Args:
            observations: The env observations (unused: the prompts are in ``infos``).
            infos: The env info dicts, one per turn.

        Returns:
            One action text per turn.
        """
        prompts = [self.prompt_for(info) for info in infos]
        if not prompts:
            return []
        keys = [_prompt_key(p) for p in prompts]
        distinct = list(dict.fromkeys(keys))
        counts = [keys.count(k) for k in distinct]
        call = int(self.stats["calls"])
        seed = derive_seed(self.seed, call) if self.seed is not None else None
        start = time.perf_counter()
        if len(set(counts)) == 1:
            # Every distinct prompt repeats equally often (the K answers to one question):
            # ask for that many samples of each, so the backend encodes each prompt once.
            unique_prompts = [prompts[keys.index(k)] for k in distinct]
            params = self.params.replace(n=counts[0], seed=seed)
            grouped = self.backend.generate(unique_prompts, params)
            taken = dict.fromkeys(distinct, 0)
            completions = []
            for key in keys:
                completions.append(grouped[distinct.index(key)][taken[key]])
                taken[key] += 1
        else:
            params = self.params.replace(n=1, seed=seed)
            completions = [c[0] for c in self.backend.generate(prompts, params)]
        self.stats["seconds"] += time.perf_counter() - start
        self.stats["calls"] += 1
        self.stats["completions"] += len(completions)
        self.stats["generated_tokens"] += sum(c.num_tokens or 0 for c in completions)
        self.last_completions = completions
        return [c.text for c in completions]

    @property
    def tokens_per_second(self) -> float | None:
        """Generated tokens per second of backend time so far (``None`` before any call)."""
        seconds = self.stats["seconds"]
        return self.stats["generated_tokens"] / seconds if seconds > 0 else None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({type(self.backend).__name__}, {self.params})"


def _prompt_key(prompt: Prompt) -> Hashable:
    if isinstance(prompt, str):
        return prompt
    return tuple((m["role"], m["content"]) for m in prompt)


_SHARED: weakref.WeakValueDictionary[Hashable, Any] = weakref.WeakValueDictionary()


def shared_backend(key: Hashable, build: Callable[[], Any]) -> Any:
    """The live backend stored under ``key``, or a new one from ``build()``.

    SPICE plays both roles with one model; when the Challenger and the Reasoner name the same
    model, this hands them one backend (one copy of the weights). Entries are weak, so a
    backend is freed once no policy holds it.

    Args:
        key: Identifies the backend (kind, model, device, dtype...).
        build: Makes the backend when none is alive under ``key``.

    Returns:
        The shared backend.
    """
    backend = _SHARED.get(key)
    if backend is None:
        backend = build()
        _SHARED[key] = backend
    return backend
