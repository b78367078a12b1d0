"""Challenger reward shapes: a reward for a task from the Reasoner's K outcomes.

A shape is a small picklable object with two methods:

- ``shape(outcomes) -> float`` for a valid task, where ``outcomes`` are the K Reasoner
  correctness values in {0, 1};
- ``shape.invalid(reason) -> float`` for an invalid task (``reason`` is the
  :class:`~spice_env.tasks.InvalidReason`, or ``None``).

Register a new shape with :func:`register_challenger_reward`; any plain callable over the K
outcomes also works and gets the SPICE invalid penalty.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from spice_env.rewards.registry import Registry
from spice_env.rewards.repetition import repetition_penalties
from spice_env.tasks.task import InvalidReason

__all__ = [
    "AbsoluteZeroReward",
    "CallableChallengerReward",
    "ChallengerReward",
    "LearnabilityReward",
    "RZeroReward",
    "SpiceReward",
    "ThresholdReward",
    "list_challenger_rewards",
    "make_challenger_reward",
    "pass_rate",
    "register_challenger_reward",
    "repetition_penalties",
]


@runtime_checkable
class ChallengerReward(Protocol):
    """What the environment needs from a Challenger reward shape."""

    def __call__(self, outcomes: Sequence[float]) -> float: ...

    def invalid(self, reason: InvalidReason | str | None = None) -> float: ...


def pass_rate(outcomes: Sequence[float]) -> float:
    """Mean of the Reasoner outcomes; raises ``ValueError`` on an empty sequence."""
    outcomes = list(outcomes)
    if not outcomes:
        raise ValueError("a Challenger reward needs at least one Reasoner outcome")
    return float(sum(outcomes)) / len(outcomes)


@dataclass(frozen=True)
class SpiceReward:
    """SPICE's variance reward: ``exp(-(p(1-p) - target)^2 / (2 tau))``, peak 1.0 at p = 0.5.

    Attributes:
        tau: Width of the Gaussian (paper: 0.01).
        target: Variance at which the reward peaks (paper: 0.25, the maximum of p(1-p)).
        invalid_penalty: Reward for an invalid task (paper: rho = -0.1).
    """

    tau: float = 0.01
    target: float = 0.25
    invalid_penalty: float = -0.1

    def __post_init__(self) -> None:
        if self.tau <= 0:
            raise ValueError(f"tau={self.tau} must be positive (paper: 0.01)")

    def __call__(self, outcomes: Sequence[float]) -> float:
        p = pass_rate(outcomes)
        variance = p * (1.0 - p)
        return math.exp(-((variance - self.target) ** 2) / (2.0 * self.tau))

    def invalid(self, reason: InvalidReason | str | None = None) -> float:
        return self.invalid_penalty


@dataclass(frozen=True)
class AbsoluteZeroReward:
    """Absolute Zero's learnability: ``1 - p`` for 0 < p < 1, else 0.

    Invalid tasks: ``invalid_formatted`` when the output parsed but failed a check,
    ``invalid_unformatted`` when it could not be parsed at all (paper: -0.5 and -1).
    """

    invalid_formatted: float = -0.5
    invalid_unformatted: float = -1.0

    def __call__(self, outcomes: Sequence[float]) -> float:
        p = pass_rate(outcomes)
        return 1.0 - p if 0.0 < p < 1.0 else 0.0

    def invalid(self, reason: InvalidReason | str | None = None) -> float:
        if reason in (InvalidReason.UNPARSABLE, InvalidReason.UNPARSABLE.value, None):
            return self.invalid_unformatted
        return self.invalid_formatted


@dataclass(frozen=True)
class ThresholdReward:
    """1 when the Reasoner sometimes succeeds and sometimes fails (0 < p < 1), else 0."""

    invalid_penalty: float = -0.1

    def __call__(self, outcomes: Sequence[float]) -> float:
        p = pass_rate(outcomes)
        return 1.0 if 0.0 < p < 1.0 else 0.0

    def invalid(self, reason: InvalidReason | str | None = None) -> float:
        return self.invalid_penalty


@dataclass(frozen=True)
class RZeroReward:
    """R-Zero's uncertainty reward ``1 - 2|p - 0.5|`` (invalid: -1).

    R-Zero also subtracts a repetition penalty computed over the whole batch of questions
    (BLEU-distance clusters); that needs the batch, so it lives in
    :func:`~spice_env.rewards.repetition.repetition_penalties` for trainers to apply.
    """

    invalid_penalty: float = -1.0

    def __call__(self, outcomes: Sequence[float]) -> float:
        return 1.0 - 2.0 * abs(pass_rate(outcomes) - 0.5)

    def invalid(self, reason: InvalidReason | str | None = None) -> float:
        return self.invalid_penalty


@dataclass(frozen=True)
class LearnabilityReward:
    """The plain learnability ``4 p (1 - p)``: 1 at p = 0.5, 0 at p in {0, 1}."""

    invalid_penalty: float = -0.1

    def __call__(self, outcomes: Sequence[float]) -> float:
        p = pass_rate(outcomes)
        return 4.0 * p * (1.0 - p)

    def invalid(self, reason: InvalidReason | str | None = None) -> float:
        return self.invalid_penalty


@dataclass(frozen=True)
class CallableChallengerReward:
    """Wraps a plain ``fn(outcomes) -> float`` into a shape, with a fixed invalid penalty."""

    fn: Callable[[Sequence[float]], float]
    invalid_penalty: float = -0.1

    def __call__(self, outcomes: Sequence[float]) -> float:
        return float(self.fn(list(outcomes)))

    def invalid(self, reason: InvalidReason | str | None = None) -> float:
        return self.invalid_penalty


_CHALLENGER_REWARDS: Registry[ChallengerReward] = Registry("Challenger reward shape")
_CHALLENGER_REWARDS.register("spice", SpiceReward)
_CHALLENGER_REWARDS.register("absolute_zero", AbsoluteZeroReward)
_CHALLENGER_REWARDS.register("threshold", ThresholdReward)
_CHALLENGER_REWARDS.register("r_zero", RZeroReward)
_CHALLENGER_REWARDS.register("learnability", LearnabilityReward)


def register_challenger_reward(
    name: str, factory: Callable[..., Any], *, overwrite: bool = False
) -> None:
    """Register a Challenger reward shape under ``name``.

    Args:
        name: The name to use in ``gym.make(..., challenger_reward=name)``.
        factory: A shape class (called with keyword arguments to build it), or a plain
            ``fn(outcomes) -> float``, which gets the SPICE invalid penalty of -0.1.
        overwrite: Replace an existing registration of ``name``.
    """
    if isinstance(factory, type) or _is_shape(factory):
        _CHALLENGER_REWARDS.register(
            name, factory if isinstance(factory, type) else (lambda: factory), overwrite=overwrite
        )
    else:
        _CHALLENGER_REWARDS.register(
            name,
            lambda invalid_penalty=-0.1: CallableChallengerReward(factory, invalid_penalty),
            overwrite=overwrite,
        )


def _is_shape(obj: Any) -> bool:
    return callable(obj) and callable(getattr(obj, "invalid", None))


def make_challenger_reward(
    spec: str | Callable[..., Any] | ChallengerReward, **kwargs: Any
) -> ChallengerReward:
    """Build a shape from a registered name, a shape object, or a plain callable.

    Args:
        spec: ``"spice"``, ``"absolute_zero"``, ``"threshold"``, ``"r_zero"``,
            ``"learnability"`` or a user-registered name; or an object with ``__call__`` and
            ``invalid``; or a plain ``fn(outcomes) -> float``.
        **kwargs: Parameters of the named shape (e.g. ``tau=0.02``).
    """
    if isinstance(spec, str):
        return _CHALLENGER_REWARDS.make(spec, **kwargs)
    if _is_shape(spec):
        if kwargs:
            raise ValueError("keyword parameters only apply to a shape given by name")
        return spec  # type: ignore[return-value]
    if callable(spec):
        return CallableChallengerReward(spec, **kwargs)
    raise TypeError(f"challenger_reward must be a name or a callable, got {type(spec).__name__}")


def list_challenger_rewards() -> list[str]:
    """Names of the registered Challenger reward shapes."""
    return _CHALLENGER_REWARDS.names()
