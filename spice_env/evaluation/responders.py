"""What the harness asks of a model: sampled answers to a batch of benchmark problems.

Two kinds of answerer are accepted, and :func:`as_responder` tells them apart:

- an env :class:`~spice_env.policies.Policy` (``act_batch(observations, infos)``), which sees
  exactly the observation and info of the env's Reasoner turn (``info["messages"]`` built by
  the same prompt templates as in training). Scripted baselines, harness checks and any custom
  policy go this way; decoding is the policy's own business.
- an :class:`~spice_env.policies.sampling.LLMBackend` (``generate(prompts, params)``), or a
  policy that wraps one in a ``backend`` attribute. Then the harness sets the decoding itself
  (greedy for pass@1, ``n`` samples at the protocol's temperature for avg@k), so a policy
  built for training (temperature 1.0) is still evaluated with the paper's protocol.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from spice_env.evaluation.benchmarks import EvalItem
from spice_env.prompts import DEFAULT_PROMPTS, PromptTemplates, format_question
from spice_env.tasks import Task

__all__ = [
    "BackendResponder",
    "DecodingSettings",
    "PolicyResponder",
    "Responder",
    "Response",
    "as_responder",
    "reasoner_turn",
]

PromptStyle = Literal["chat", "base"]


@dataclass(frozen=True)
class DecodingSettings:
    """How one benchmark is sampled.

    Attributes:
        samples: Samples per problem (1: one greedy answer).
        temperature: Sampling temperature (0: greedy).
        top_p: Nucleus sampling threshold (1.0: off).
        max_new_tokens: Token budget of each answer.
        seed: Seed of the sampling (backends that support seeds repeat their outputs).
    """

    samples: int = 1
    temperature: float = 0.0
    top_p: float = 1.0
    max_new_tokens: int = 1024
    seed: int = 0

    def __post_init__(self) -> None:
        if self.samples < 1:
            raise ValueError(f"samples={self.samples} must be at least 1")
        if self.temperature < 0:
            raise ValueError(f"temperature={self.temperature} must be >= 0 (0: greedy)")
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens={self.max_new_tokens} must be at least 1")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, also what the per-item cache key is built from."""
        return {
            "samples": self.samples,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_new_tokens": self.max_new_tokens,
            "seed": self.seed,
        }


@dataclass(frozen=True)
class Response:
    """One sampled answer.

    Attributes:
        text: The raw answer text.
        finish_reason: ``"stop"`` or ``"length"`` when the backend reports it, else ``None``.
        num_tokens: Tokens generated, when known.
    """

    text: str
    finish_reason: str | None = None
    num_tokens: int | None = None


@runtime_checkable
class Responder(Protocol):
    """Anything that answers a batch of benchmark problems."""

    def respond(
        self, items: Sequence[EvalItem], decoding: DecodingSettings, seed: int
    ) -> list[list[Response]]:
        """Answer each item ``decoding.samples`` times.

        Args:
            items: The problems of this batch.
            decoding: Samples, temperature, budget.
            seed: Seed for this batch (derived by the harness, stable across resumes).

        Returns:
            One list of ``decoding.samples`` responses per item, in order.
        """
        ...


def reasoner_turn(
    item: EvalItem,
    prompts: PromptTemplates = DEFAULT_PROMPTS,
    style: PromptStyle = "chat",
    *,
    privileged: bool = False,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The observation and info of the env's Reasoner turn for a benchmark item.

    The info carries the same keys as ``SpiceCorpus-v0`` at the answering stage: ``task``
    without the gold, and, with ``privileged=True``, ``info["privileged"]`` holding the gold
    (for oracle baselines only, as in an env made with ``privileged_info=True``).

    Args:
        item: The benchmark item.
        prompts: Prompt templates (the env's defaults unless overridden).
        style: ``"chat"`` (messages) or ``"base"`` (also a plain prompt in ``info["prompt"]``).
        privileged: Add ``info["privileged"]``.

    Returns:
        ``(observation, info)``.
    """
    observation = {"role": 1, "stage": 2, "text": format_question(item.question, item.options)}
    task = item.task_dict()
    info: dict[str, Any] = {
        "role": "reasoner",
        "stage": "answering",
        "messages": prompts.reasoner_messages(item.question, item.options),
        "task": {key: task.get(key) for key in Task.PUBLIC_FIELDS},
        "task_type": "mcq" if item.is_mcq else "free_form",
        "answer_type": item.answer_type,
        "document_id": None,
        "attempt": 0,
    }
    if style == "base":
        info["prompt"] = prompts.reasoner_prompt(item.question, item.options)
    if privileged:
        info["privileged"] = {"task": task, "answer": task["answer"]}
    return observation, info


def _check_options(item: EvalItem) -> None:
    # format_question renders exactly the four letters A-D; more options would silently vanish
    # from the prompt, which is worse than refusing.
    if item.options is not None and len(item.options) > 4:
        raise ValueError(
            f"{item.benchmark}/{item.id} has {len(item.options)} options; the Reasoner prompt "
            "renders four (A-D). Use a four-option benchmark or extend the prompt templates."
        )


class PolicyResponder:
    """Answers through an env policy's ``act_batch``, one call per batch.

    Args:
        policy: Any env policy.
        prompts: Prompt templates used to build ``info["messages"]``.
        style: ``"chat"`` or ``"base"``.
    """

    def __init__(
        self,
        policy: Any,
        prompts: PromptTemplates = DEFAULT_PROMPTS,
        style: PromptStyle = "chat",
    ) -> None:
        self.policy = policy
        self.prompts = prompts
        self.style = style

    def respond(
        self, items: Sequence[EvalItem], decoding: DecodingSettings, seed: int
    ) -> list[list[Response]]:
        """Ask the policy for ``decoding.samples`` answers per item in one ``act_batch``."""
        observations: list[dict[str, Any]] = []
        infos: list[dict[str, Any]] = []
        for item in items:
            _check_options(item)
            observation, info = reasoner_turn(
                item,
                self.prompts,
                self.style,
                privileged=bool(getattr(self.policy, "uses_privileged_info", False)),
            )
            for attempt in range(decoding.samples):
                observations.append(observation)
                infos.append({**info, "attempt": attempt})
        texts = self.policy.act_batch(observations, infos)
        if len(texts) != len(observations):
            raise RuntimeError(
                f"the policy returned {len(texts)} answers for {len(observations)} turns"
            )
        k = decoding.samples
        return [
            [Response(_as_text(text)) for text in texts[i * k : (i + 1) * k]]
            for i in range(len(items))
        ]


class BackendResponder:
    """Answers through an LLM backend, with the harness choosing the decoding.

    Args:
        backend: An object with ``generate(prompts, params) -> list[list[Completion]]``.
        prompts: Prompt templates for the Reasoner messages.
        style: ``"chat"`` sends chat messages; ``"base"`` sends the plain base-model prompt.
        stop: Stop strings passed to the backend.
    """

    def __init__(
        self,
        backend: Any,
        prompts: PromptTemplates = DEFAULT_PROMPTS,
        style: PromptStyle = "chat",
        stop: Sequence[str] = (),
    ) -> None:
        self.backend = backend
        self.prompts = prompts
        self.style = style
        self.stop = tuple(stop)

    def respond(
        self, items: Sequence[EvalItem], decoding: DecodingSettings, seed: int
    ) -> list[list[Response]]:
        """One ``generate`` call for the batch, ``n = decoding.samples``."""
        from spice_env.policies.sampling import SamplingParams

        prompts: list[Any] = []
        for item in items:
            _check_options(item)
            if self.style == "base":
                prompts.append(self.prompts.reasoner_prompt(item.question, item.options))
            else:
                prompts.append(self.prompts.reasoner_messages(item.question, item.options))
        params = SamplingParams(
            n=decoding.samples,
            temperature=decoding.temperature,
            top_p=decoding.top_p,
            max_new_tokens=decoding.max_new_tokens,
            stop=self.stop,
            seed=seed,
        )
        outputs = self.backend.generate(prompts, params)
        if len(outputs) != len(items):
            raise RuntimeError(f"the backend returned {len(outputs)} results for {len(items)}")
        return [
            [
                Response(
                    _as_text(getattr(c, "text", c)),
                    getattr(c, "finish_reason", None),
                    getattr(c, "num_tokens", None),
                )
                for c in completions
            ]
            for completions in outputs
        ]


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def as_responder(
    answerer: Any,
    prompts: PromptTemplates = DEFAULT_PROMPTS,
    style: PromptStyle = "chat",
) -> Responder:
    """Wrap a responder, an LLM backend, an LLM policy or an env policy as a :class:`Responder`.

    Args:
        answerer: A :class:`Responder` (returned as is), an object with ``generate``, an object
            with a ``backend`` attribute that has ``generate`` (an LLM policy), or an env
            policy with ``act_batch``.
        prompts: Prompt templates.
        style: ``"chat"`` or ``"base"`` prompts.

    Returns:
        A responder.

    Raises:
        TypeError: When ``answerer`` is none of these.
    """
    if isinstance(answerer, (PolicyResponder, BackendResponder)) or (
        hasattr(answerer, "respond") and not hasattr(answerer, "act_batch")
    ):
        return answerer
    if callable(getattr(answerer, "generate", None)):
        return BackendResponder(answerer, prompts, style)
    backend = getattr(answerer, "backend", None)
    if callable(getattr(backend, "generate", None)):
        return BackendResponder(backend, prompts, style)
    if callable(getattr(answerer, "act_batch", None)):
        return PolicyResponder(answerer, prompts, style)
    raise TypeError(
        f"cannot evaluate a {type(answerer).__name__}: pass an env policy (act_batch), an LLM "
        "backend (generate) or a policy with a .backend"
    )
