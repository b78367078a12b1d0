"""``LLMPolicy``: plays a role of the environment with any :class:`LLMBackend`.

The environment hands every turn its ready-made chat messages (``info["messages"]``) and, for a
base-model Reasoner, a plain prompt (``info["prompt"]``); the policy only generates from them.
``act_batch`` makes one backend call for the whole batch, and when the turns share one prompt
(the K Reasoner answers to one question) it asks for K samples of that prompt, so the backend
can encode the question once.

At Challenger turns the env also hands the stage's JSON Schema (``info["response_format"]``).
With ``constrain`` on (the default) the policy resizes the project's own schemas to its token
budget (:func:`spice_env.tasks.refit_response_format`) and passes the schema to the backend
(``SamplingParams.json_schema``), one backend call per distinct schema; with it off (the
paper's setting) the model writes free text and learns the format from the invalid penalty.
"""

from __future__ import annotations

import json
import time
import warnings
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
        constrain: Follow the JSON Schema of ``info["response_format"]`` (Challenger turns)
            through the backend's grammar-constrained decoding. ``False`` is the paper's
            setting: free text, judged only by the parser. Turns without a response format
            (the Reasoner's) are never constrained. A backend without
            ``supports_json_schema`` generates free text (a warning says so once).

    Attributes:
        last_completions: The completions behind the last actions, in action order (with token
            ids and log-probabilities for a trainer).
        stats: Running totals: ``calls``, ``completions``, ``generated_tokens``, ``seconds``;
            ``constrained_completions``, and ``grammar_seconds`` (the backend's time in the
            grammar engine, for backends that measure it).
    """

    def __init__(
        self,
        backend: LLMBackend,
        params: SamplingParams | None = None,
        use_chat: bool = True,
        *,
        seed: int | None = None,
        constrain: bool = True,
    ) -> None:
        self.backend = backend
        self.params = (params or SamplingParams()).replace(n=1)
        self.use_chat = use_chat
        self.seed = self.params.seed if self.params.seed is not None else seed
        self.constrain = bool(constrain)
        self.last_completions: list[Completion] = []
        self.stats: dict[str, float] = {
            "calls": 0,
            "completions": 0,
            "generated_tokens": 0,
            "seconds": 0.0,
            "constrained_completions": 0,
            "grammar_seconds": 0.0,
        }
        self._warned_unconstrained = False
        self._warned_budget = False

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

    def schema_for(self, info: dict[str, Any]) -> dict[str, Any] | None:
        """The JSON Schema this policy constrains one turn with, or ``None`` for free text.

        Args:
            info: The env's info dict for the acting role.

        Returns:
            ``None`` when ``constrain`` is off, the turn has no ``response_format`` or the
            backend cannot follow a schema; else the schema, the project's own ones resized to
            ``params.max_new_tokens``.
        """
        value = info.get("response_format")
        if not self.constrain or value is None:
            return None
        if not getattr(self.backend, "supports_json_schema", False):
            if not self._warned_unconstrained:
                warnings.warn(
                    f"{type(self.backend).__name__} cannot follow a JSON Schema; the Challenger "
                    "writes free text (pass constrain=False to silence this)",
                    stacklevel=3,
                )
                self._warned_unconstrained = True
            return None
        from spice_env.tasks.schemas import refit_response_format, schema_from_response_format

        try:
            value = refit_response_format(value, self.params.max_new_tokens)
        except ValueError as error:
            # A budget too small for any task: keep the env's schema (the output will be cut
            # and judged invalid, as it would be without a schema).
            if not self._warned_budget:
                warnings.warn(f"{error}; using the env's schema as it is", stacklevel=3)
                self._warned_budget = True
        return schema_from_response_format(value)

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
        return [c.text for c in self.complete_batch(infos)]

    def complete_batch(
        self, infos: Sequence[dict[str, Any]], *, seed: int | None = None
    ) -> list[Completion]:
        """The completions behind :meth:`act_batch`: text, token ids, log-probabilities and
        the schema each was sampled under (what a trainer keeps).

        Args:
            infos: The env info dicts, one per turn.
            seed: Seed of this call; default: derived from the policy's seed and its call
                count (``None`` for both: unseeded).

        Returns:
            One completion per turn, in order.
        """
        prompts = [self.prompt_for(info) for info in infos]
        if not prompts:
            return []
        schemas = [self.schema_for(info) for info in infos]
        schema_keys = [_schema_key(schema) for schema in schemas]
        call = int(self.stats["calls"])
        if seed is None and self.seed is not None:
            seed = derive_seed(self.seed, call)
        grammar_before = _backend_grammar_seconds(self.backend)
        start = time.perf_counter()
        completions: list[Completion | None] = [None] * len(prompts)
        # One backend call per distinct schema (free text being one of them).
        for group, key in enumerate(dict.fromkeys(schema_keys)):
            members = [i for i, k in enumerate(schema_keys) if k == key]
            group_seed = seed if seed is None or group == 0 else derive_seed(seed, group)
            params = self.params.replace(seed=group_seed, json_schema=schemas[members[0]])
            for index, completion in zip(
                members, self._generate([prompts[i] for i in members], params)
            ):
                completions[index] = completion
        done = [c for c in completions if c is not None]
        self.stats["seconds"] += time.perf_counter() - start
        self.stats["grammar_seconds"] += _backend_grammar_seconds(self.backend) - grammar_before
        self.stats["calls"] += 1
        self.stats["completions"] += len(done)
        self.stats["constrained_completions"] += sum(c.json_schema is not None for c in done)
        self.stats["generated_tokens"] += sum(c.num_tokens or 0 for c in done)
        self.last_completions = done
        return done

    def _generate(self, prompts: list[Prompt], params: SamplingParams) -> list[Completion]:
        """One completion per prompt, in order, from one backend call."""
        keys = [_prompt_key(p) for p in prompts]
        distinct = list(dict.fromkeys(keys))
        counts = [keys.count(k) for k in distinct]
        if len(set(counts)) == 1:
            # Every distinct prompt repeats equally often (the K answers to one question):
            # ask for that many samples of each, so the backend encodes each prompt once.
            unique_prompts = [prompts[keys.index(k)] for k in distinct]
            grouped = self.backend.generate(unique_prompts, params.replace(n=counts[0]))
            taken = dict.fromkeys(distinct, 0)
            completions = []
            for key in keys:
                completions.append(grouped[distinct.index(key)][taken[key]])
                taken[key] += 1
            return completions
        return [c[0] for c in self.backend.generate(prompts, params.replace(n=1))]

    @property
    def tokens_per_second(self) -> float | None:
        """Generated tokens per second of backend time so far (``None`` before any call)."""
        seconds = self.stats["seconds"]
        return self.stats["generated_tokens"] / seconds if seconds > 0 else None

    def __repr__(self) -> str:
        constrain = "" if self.constrain else ", constrain=False"
        return f"{type(self).__name__}({type(self.backend).__name__}, {self.params}{constrain})"


def _schema_key(schema: dict[str, Any] | None) -> str | None:
    return None if schema is None else json.dumps(schema, sort_keys=True)


def _backend_grammar_seconds(backend: Any) -> float:
    stats = getattr(backend, "stats", None)
    return float(stats.get("grammar_seconds", 0.0)) if isinstance(stats, dict) else 0.0


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
