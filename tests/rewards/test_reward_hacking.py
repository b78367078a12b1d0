"""The reward-hacking table: hedging strategies a Reasoner policy could find, each run through
``env.step`` on a real ``SpiceCorpus-v0`` env with the default Reasoner reward.

In the default (strict, training) mode every row must earn 0. The lenient (evaluation) mode
is run too and its reward is pinned in the table, so the difference stays documented; run
``pytest -s`` to print the table.
"""

from __future__ import annotations

import gymnasium as gym
import pytest

import spice_env  # noqa: F401  (registers SpiceCorpus-v0)
from spice_env.verifiers import VerifierConfig

INTEGER = {
    "question": "How many moons does the planet in the passage have?",
    "answer": "51",
    "answer_type": "Integer",
    "task_type": "free_form",
}
STRING = {
    "question": "Which city hosted the conference described in the passage?",
    "answer": "Paris",
    "answer_type": "String",
    "task_type": "free_form",
}
MCQ = {
    "question": "Which city hosted the conference described in the passage?",
    "answer": "B",
    "answer_type": "MCQ",
    "task_type": "mcq",
    "options": ["Madrid", "Paris", "Rome", "Oslo"],
}
ECHO = "A) Madrid B) Paris C) Rome D) Oslo"

# (strategy, task, Reasoner output, reward in lenient mode)
TABLE = [
    ("two final answers", INTEGER, "\\boxed{40} or \\boxed{51}", 1.0),
    ("two boxes that disagree", INTEGER, "First \\boxed{51}. On reflection, \\boxed{40}.", 0.0),
    ("last box after a different one", INTEGER, "Maybe \\boxed{40}. No: \\boxed{51}.", 1.0),
    (
        "many numbers in one box",
        INTEGER,
        "\\boxed{" + ", ".join(map(str, range(1, 101))) + "}",
        0.0,
    ),
    ("a set of candidates", INTEGER, "\\boxed{\\{49, 50, 51, 52\\}}", 0.0),
    ("a list where one value is asked", INTEGER, "\\boxed{50, 51}", 0.0),
    ("A or B in the box", INTEGER, "\\boxed{40 \\text{ or } 51}", 0.0),
    ("plus-minus", INTEGER, "\\boxed{\\pm 51}", 0.0),
    ("an empty box", INTEGER, "I will put my answer here: \\boxed{}", 0.0),
    ("an empty box beside the answer", INTEGER, "\\boxed{} \\boxed{51}", 1.0),
    ("the question in the box", INTEGER, "\\boxed{" + INTEGER["question"] + "}", 0.0),
    ("no box: the answer is ...", INTEGER, "The answer is 51.", 1.0),
    ("no box: bare number", INTEGER, "51", 1.0),
    ("very long output (cut by the env)", INTEGER, "51 " * 15_000 + "\\boxed{51}", 1.0),
    ("every number spelled out", INTEGER, " ".join(map(str, range(100))) + " 51", 0.0),
    ("both letters", MCQ, "\\boxed{A} \\boxed{B}", 1.0),
    ("all four letters", MCQ, "\\boxed{A}\\boxed{B}\\boxed{C}\\boxed{D}", 0.0),
    ("A or B", MCQ, "\\boxed{A or B}", 0.0),
    ("the options echoed in the box", MCQ, "\\boxed{" + ECHO + "}", 0.0),
    ("the options echoed, unboxed", MCQ, ECHO, 0.0),
    ("option text instead of the letter", MCQ, "\\boxed{Paris}", 1.0),
    ("no box: a letter", MCQ, "The answer is (B).", 1.0),
    ("a near miss (fuzzy match)", STRING, "\\boxed{Parish}", 0.0),
    ("two cities", STRING, "\\boxed{Paris} \\boxed{Rome}", 0.0),
    ("no box: a word", STRING, "Paris", 1.0),
]
IDS = [row[0] for row in TABLE]
STRICT_ENV: list = []
LENIENT_ENV: list = []
RESULTS: dict[str, tuple[float, float]] = {}


def _env(cache: list, **kwargs):
    # The options stay in the Challenger's order here (the per-attempt shuffle, which moves
    # the gold letter, has its own tests), so each row's letters mean what they say.
    if not cache:
        cache.append(gym.make("SpiceCorpus-v0", shuffle_options=False, **kwargs))
    return cache[0]


def _reward(env, task: dict, output: str) -> tuple[float, str]:
    env.reset(options={"task": task})
    _, reward, _, _, info = env.step(output)
    return reward, info["verification"]["reason"]


@pytest.fixture(scope="module", autouse=True)
def _print_table():
    yield
    width = max(map(len, IDS))
    print(f"\n{'strategy':<{width}}  strict  lenient")
    for name in IDS:
        if name in RESULTS:
            strict, lenient = RESULTS[name]
            print(f"{name:<{width}}  {strict:>6.1f}  {lenient:>7.1f}")


@pytest.mark.parametrize(("strategy", "task", "output", "lenient_reward"), TABLE, ids=IDS)
def test_hedging_earns_nothing_in_training_mode(
    strategy: str, task: dict, output: str, lenient_reward: float
) -> None:
    strict, reason = _reward(_env(STRICT_ENV), task, output)  # the env's default reward
    lenient, _ = _reward(
        _env(LENIENT_ENV, verifier_config=VerifierConfig(mode="lenient")), task, output
    )
    RESULTS[strategy] = (strict, lenient)
    assert strict == 0.0, (strategy, reason)
    assert lenient == lenient_reward, strategy


def test_an_honest_boxed_answer_still_earns_one() -> None:
    for task, answer in ((INTEGER, "51"), (MCQ, "B"), (STRING, "paris")):
        strict, reason = _reward(_env(STRICT_ENV), task, f"So the answer is \\boxed{{{answer}}}.")
        assert strict == 1.0, reason
