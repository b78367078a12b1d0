"""Reasoner reward shapes: a reward for one answer from its verification result.

A shape is ``fn(result, task, answer) -> float`` where ``result`` is the
:class:`~spice_env.verifiers.VerifyResult` of the answer against the task's gold. The env
verifies in strict mode unless its ``verifier_config`` says otherwise
(``VerifierConfig(mode="strict")``, SPEC): only an unhedged final ``\\boxed{}`` answer can be
correct, so a policy cannot earn reward with two boxes, "A or B", a list of candidates, the
options echoed or an unboxed answer (see ``tests/rewards/test_reward_hacking.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from spice_env.rewards.registry import Registry
from spice_env.tasks.task import Task

__all__ = [
    "CorrectnessReward",
    "FormatAwareCorrectnessReward",
    "ReasonerReward",
    "list_reasoner_rewards",
    "make_reasoner_reward",
    "register_reasoner_reward",
]

ReasonerReward = Callable[[Any, Task, str], float]
"""``(verify_result, task, answer) -> reward``."""


@dataclass(frozen=True)
class CorrectnessReward:
    """SPICE's Reasoner reward: 1 for an answer equivalent to the gold, else 0 (the default)."""

    def __call__(self, result: Any, task: Task, answer: str) -> float:
        return 1.0 if result.correct else 0.0


@dataclass(frozen=True)
class FormatAwareCorrectnessReward:
    """Correctness, with ``no_answer_penalty`` when no final answer could be extracted at all.

    Useful early in training of base models, which often never write ``\\boxed{}``. In strict
    mode an unboxed or hedged answer has no extracted answer, so it gets the penalty too.
    """

    no_answer_penalty: float = -0.1

    def __call__(self, result: Any, task: Task, answer: str) -> float:
        if result.correct:
            return 1.0
        return self.no_answer_penalty if result.extracted is None else 0.0


_REASONER_REWARDS: Registry[ReasonerReward] = Registry("Reasoner reward")
_REASONER_REWARDS.register("correctness", CorrectnessReward)
_REASONER_REWARDS.register("format_aware", FormatAwareCorrectnessReward)


def register_reasoner_reward(
    name: str, factory: Callable[..., Any], *, overwrite: bool = False
) -> None:
    """Register a Reasoner reward: a class (built with keyword arguments) or a plain
    ``fn(result, task, answer) -> float``."""
    if isinstance(factory, type):
        _REASONER_REWARDS.register(name, factory, overwrite=overwrite)
    else:
        _REASONER_REWARDS.register(name, lambda: factory, overwrite=overwrite)


def make_reasoner_reward(spec: str | ReasonerReward, **kwargs: Any) -> ReasonerReward:
    """Build a Reasoner reward from a registered name or return a callable as it is."""
    if isinstance(spec, str):
        return _REASONER_REWARDS.make(spec, **kwargs)
    if callable(spec):
        return spec
    raise TypeError(f"reasoner_reward must be a name or a callable, got {type(spec).__name__}")


def list_reasoner_rewards() -> list[str]:
    """Names of the registered Reasoner rewards."""
    return _REASONER_REWARDS.names()
