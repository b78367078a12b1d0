"""Baselines with a known score, to test the harness itself (each test can fail).

- ``oracle`` (the env's :class:`~spice_env.policies.OracleReasoner`): boxes the gold answer, so
  every adapter must score 100%. It fails when an adapter reads the wrong gold field, when a
  gold cannot verify against itself, or when answers and items get out of step.
- ``random`` (the env's :class:`~spice_env.policies.RandomReasoner`): a random letter on
  multiple choice, so mmlu_stem must land near 25%. It fails when letters are mapped to the
  wrong options or when any letter is accepted.
- ``wrong_format`` (:class:`WrongFormatReasoner`, here): answers in ways that carry no final
  answer (an empty box, a box cut off before its content, a letter outside the options, a
  refusal), so every benchmark must score 0%. It fails when the harness credits a missing
  answer, or compares the gold with itself.
"""

from __future__ import annotations

from typing import Any

from spice_env.policies import BasePolicy, register_policy
from spice_env.policies.registry import list_policies

__all__ = ["WRONG_FORMAT_ANSWERS", "WrongFormatReasoner"]

WRONG_FORMAT_ANSWERS: tuple[str, ...] = (
    "Let me think about this carefully. I will put my final result in a box: \\boxed{}",
    "Working through it step by step, the result is \\boxed{",
    "I would rather not commit to a final result here.",
    "Final choice: \\boxed{Z}",
)
"""Outputs in a wrong format: no answer can be read from any of them."""


class WrongFormatReasoner(BasePolicy):
    """Never states a readable final answer; cycles through :data:`WRONG_FORMAT_ANSWERS`."""

    def __init__(self) -> None:
        self._calls = 0

    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
        """Return the next wrong-format output."""
        answer = WRONG_FORMAT_ANSWERS[self._calls % len(WRONG_FORMAT_ANSWERS)]
        self._calls += 1
        return answer


def _wrong_format(arg: str | None, *, role: str, seed: int, **_: Any) -> WrongFormatReasoner:
    if role != "reasoner":
        raise ValueError(f"policy 'wrong_format' plays the reasoner only, not the {role}")
    return WrongFormatReasoner()


if "wrong_format" not in list_policies():
    register_policy("wrong_format", _wrong_format)
