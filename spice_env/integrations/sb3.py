"""Multiple-choice Reasoner turns as a ``Discrete(4)`` environment for array-based RL agents.

## Description

Stable-Baselines3 (and most RL libraries) need array observations and numeric actions, while
``SpiceCorpus-v0`` speaks text. :class:`MCQChoiceEnv` bridges the two for the one turn where
a small discrete action is natural: answering a multiple-choice task. Each episode is one
step: the Challenger policy (by default the scripted one) writes a multiple-choice task from a
corpus document through the core env, the agent observes numeric features of the question and
its four options and picks a letter, and the core env scores the letter with the project's
verifier and Reasoner reward (1 if correct, else 0).

```python
from stable_baselines3 import PPO
from spice_env.integrations.sb3 import MCQChoiceEnv

model = PPO("MlpPolicy", MCQChoiceEnv(), seed=0).learn(20_000)
```

## What can be learned (read this before quoting a number)

The agent never sees the document, and the features are not a language model: they cannot
recall facts. What they expose is the *structure* of the task, in particular regularities of
how a Challenger builds questions and distractors. With the scripted Challenger (fill-in-the-
blank sentences, distractors taken from nearby numbers or other terms of the document):

- the blanked answer never appears elsewhere in its sentence, while distractors often do;
- numeric distractors cluster around the answer (the nearest numbers of the document, or the
  answer plus 1, 2, 10), so the answer's rank and its neighbours among the options carry
  signal;
- the words around the blank constrain the answer (a year after "in", at most 100 before
  "percent", a magnitude near the other numbers of the sentence).

An agent that beats 25% here has learned those test-taking cues, which is exactly the kind of
exploitable artifact a fixed Challenger leaves and a co-trained SPICE Challenger is paid to
remove. It is a conformance and learnability check for the bridge, not a reasoning benchmark.

## Observation Space

``Box(0, 1, (4 * len(FEATURE_NAMES),), float32)``: the features of options A, B, C, D in
order, ``len(FEATURE_NAMES)`` each (see :data:`FEATURE_NAMES`). Pass ``featurizer`` to use your
own ``(question, options) -> array of shape (4, F)`` with values in [0, 1].

## Action Space

``Discrete(4)``: 0 = A, 1 = B, 2 = C, 3 = D.

## Rewards

The core env's Reasoner reward for the answer ``\\boxed{letter}`` (default ``"correctness"``).

## Episode End

After one step (``terminated=True``). The reset's ``info["task"]`` is the task without its
gold; the step's ``info`` holds ``correct``, ``gold`` and ``chosen`` letters and the ``task``
with its gold. The options are in the order the core env showed them (seeded per episode).

## Arguments

- ``challenger``: a ``Policy`` for the Challenger turn; default: a fresh
  ``ScriptedChallenger`` seeded from the env's RNG at every reset, so runs repeat.
- ``tasks``: a fixed pool of multiple-choice task dicts to sample from instead of having the
  Challenger write one per reset (about 3x faster per step; build one with
  :func:`generate_mcq_tasks`; ``challenger`` and ``document_ids`` are then unused). Answers
  are still scored by the core env.
- ``document_ids``: restrict documents (e.g. a train/test split); default: the whole corpus.
- ``featurizer``: see Observation Space.
- ``max_task_attempts``: Challenger outputs tried per reset before giving up (invalid tasks
  are skipped, since the agent only plays the Reasoner).
- ``**env_kwargs``: ``CorpusSelfPlayEnv`` arguments (``corpus``, ``reasoner_reward``...).
  ``task_types``, ``type_selection`` and ``num_reasoner_attempts`` are fixed here.

## Version History

- v0: initial version.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from spice_env.envs.corpus_self_play import CorpusSelfPlayEnv
from spice_env.policies.base import Policy
from spice_env.policies.scripted import ScriptedChallenger
from spice_env.prompts import OPTION_LETTERS

__all__ = ["FEATURE_NAMES", "MCQChoiceEnv", "generate_mcq_tasks", "option_features"]

FEATURE_NAMES = (
    "is_number",
    "value_rank",
    "is_smallest",
    "is_largest",
    "option_within_10_above",
    "option_within_10_below",
    "log_gap_to_question_numbers",
    "within_question_number_range",
    "appears_in_question",
    "log_magnitude",
    "year_like",
    "year_like_after_year_cue",
    "at_most_100_before_percent",
    "word_count",
    "question_word_overlap",
    "capitalized",
)
"""Names of the per-option features of :func:`option_features`, in column order."""

_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")
_WORD = re.compile(r"[a-z]+")
_YEAR_CUE = re.compile(r"\b(?:in|year|since|until|by|founded|of|from|to)\s+____")
_PERCENT_CUE = re.compile(r"____\s*(?:%|percent|per cent)")


def _copy_task(task: dict[str, Any]) -> dict[str, Any]:
    # Returned infos must not share objects with each other (users may keep and edit them);
    # a task dict holds only strings and the options list.
    return {**task, "options": list(task["options"])}


def _as_number(text: str) -> float | None:
    cleaned = text.replace(",", "").strip()
    return float(cleaned) if _NUMBER.fullmatch(cleaned) else None


def _log_size(value: float) -> float:
    return math.log1p(abs(value))


def option_features(question: str, options: Sequence[str]) -> np.ndarray:
    """Numeric features of each option of a multiple-choice question, all in [0, 1].

    Args:
        question: The question text (without the options).
        options: The four option texts, in A-D order.

    Returns:
        An array of shape ``(len(options), len(FEATURE_NAMES))``, float32.
    """
    lowered = question.lower()
    question_numbers = [float(x) for x in _NUMBER.findall(question.replace(",", ""))]
    question_words = set(_WORD.findall(lowered))
    year_cue = _YEAR_CUE.search(lowered) is not None
    percent_cue = _PERCENT_CUE.search(lowered) is not None
    values = [_as_number(option) for option in options]
    numeric = [v for v in values if v is not None]

    rows = []
    for index, option in enumerate(options):
        value = values[index]
        others = [v for j, v in enumerate(values) if j != index and v is not None]
        row = dict.fromkeys(FEATURE_NAMES, 0.0)
        row["appears_in_question"] = float(
            bool(option.strip()) and option.strip().lower() in lowered
        )
        if value is not None:
            row["is_number"] = 1.0
            row["value_rank"] = sum(v < value for v in numeric) / max(1, len(numeric) - 1)
            row["is_smallest"] = float(value == min(numeric))
            row["is_largest"] = float(value == max(numeric))
            row["option_within_10_above"] = float(any(value < v <= value + 10 for v in others))
            row["option_within_10_below"] = float(any(value - 10 <= v < value for v in others))
            if question_numbers:
                gap = min(abs(_log_size(value) - _log_size(q)) for q in question_numbers)
                row["log_gap_to_question_numbers"] = min(gap, 5.0) / 5.0
                row["within_question_number_range"] = float(
                    min(question_numbers) <= value <= max(question_numbers)
                )
            else:
                row["log_gap_to_question_numbers"] = 0.5  # unknown: halfway
            row["log_magnitude"] = min(_log_size(value), 10.0) / 10.0
            row["year_like"] = float(1000 <= value <= 2100)
            row["year_like_after_year_cue"] = float(year_cue and 1000 <= value <= 2100)
            row["at_most_100_before_percent"] = float(percent_cue and 0 <= value <= 100)
        else:
            words = _WORD.findall(option.lower())
            row["word_count"] = min(len(option.split()), 3) / 3.0
            row["question_word_overlap"] = (
                len(set(words) & question_words) / len(set(words)) if words else 0.0
            )
            row["capitalized"] = float(option[:1].isupper())
        rows.append([row[name] for name in FEATURE_NAMES])
    return np.asarray(rows, dtype=np.float32)


class MCQChoiceEnv(gym.Env[np.ndarray, np.int64]):
    """One multiple-choice Reasoner turn per episode, as ``Discrete(4)`` over option features.

    See the module docstring for the spaces, the reward and what an agent can learn here.
    """

    metadata = {"render_modes": []}

    def __init__(
        self,
        challenger: Policy | None = None,
        *,
        tasks: Sequence[dict[str, Any]] | None = None,
        document_ids: Sequence[str] | None = None,
        featurizer: Callable[[str, Sequence[str]], np.ndarray] = option_features,
        max_task_attempts: int = 32,
        **env_kwargs: Any,
    ) -> None:
        fixed = {"task_types", "type_selection", "num_reasoner_attempts"} & set(env_kwargs)
        if fixed:
            raise ValueError(
                f"MCQChoiceEnv fixes {sorted(fixed)} (one multiple-choice answer per episode); "
                "remove them from the keyword arguments"
            )
        if max_task_attempts < 1:
            raise ValueError(f"max_task_attempts={max_task_attempts} must be at least 1")
        # The core env shows each task's options in a seeded order and keeps the gold in
        # info["privileged"], which this env reads to report it once the answer is in.
        self.core = CorpusSelfPlayEnv(
            task_types=("mcq",),
            type_selection=False,
            num_reasoner_attempts=1,
            privileged_info=True,
            **env_kwargs,
        )
        self.challenger = challenger
        self.document_ids = list(document_ids) if document_ids is not None else None
        if self.document_ids is not None and not self.document_ids:
            raise ValueError("document_ids is empty; pass None to use the whole corpus")
        self.tasks = [dict(task) for task in tasks] if tasks is not None else None
        if self.tasks is not None:
            if not self.tasks:
                raise ValueError("tasks is empty; pass None to let the Challenger write tasks")
            if any(task.get("task_type") != "mcq" for task in self.tasks):
                raise ValueError("tasks must all be multiple-choice (task_type 'mcq')")
        self.featurizer = featurizer
        self.max_task_attempts = max_task_attempts

        num_features = np.asarray(featurizer("What is ____?", ["1", "2", "3", "4"])).shape[-1]
        self.observation_space = spaces.Box(
            0.0, 1.0, shape=(len(OPTION_LETTERS) * num_features,), dtype=np.float32
        )
        self.action_space = spaces.Discrete(len(OPTION_LETTERS))
        self.task: dict[str, Any] | None = None
        self._last_observation = np.zeros(self.observation_space.shape, dtype=np.float32)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Have the Challenger write a multiple-choice task and observe its features.

        Args:
            seed: Seeds the env's RNG, from which the document, the core env's seed and the
                default Challenger's seed are drawn.
            options: ``{"document_id": id}`` pins the document of the first attempt (ignored
                with a task pool).
        """
        super().reset(seed=seed)
        options = dict(options or {})
        if self.tasks is not None:
            index = int(self.np_random.integers(len(self.tasks)))
            _, info = self.core.reset(seed=self._draw_seed(), options={"task": self.tasks[index]})
            return self._shown(info, attempts=0)
        challenger = self.challenger or ScriptedChallenger(seed=self._draw_seed())
        for attempt in range(self.max_task_attempts):
            core_options = {}
            if attempt == 0 and options.get("document_id") is not None:
                core_options["document_id"] = options["document_id"]
            elif self.document_ids is not None:
                pick = int(self.np_random.integers(len(self.document_ids)))
                core_options["document_id"] = self.document_ids[pick]
            observation, info = self.core.reset(
                seed=self._draw_seed(), options=core_options or None
            )
            _, _, terminated, _, info = self.core.step(challenger.act(observation, info))
            if not terminated:
                return self._shown(info, attempts=attempt + 1)
        raise RuntimeError(
            f"the Challenger wrote no valid multiple-choice task in {self.max_task_attempts} "
            "attempts; check the corpus (documents need sentences with numbers or terms)"
        )

    def step(self, action: int | np.integer) -> tuple[np.ndarray, float, bool, bool, dict]:
        """Answer with letter ``action`` (0-3); the episode ends."""
        if self.task is None:
            raise RuntimeError("call reset() before step()")
        if not self.action_space.contains(int(action)):
            raise ValueError(f"action={action!r} is not in Discrete(4)")
        letter = OPTION_LETTERS[int(action)]
        _, _, _, _, info = self.core.step(f"The answer is \\boxed{{{letter}}}.")
        reward = float(info["rewards"]["reasoner"])
        step_info = {
            "correct": bool(info["verification"]["correct"]),
            "gold": self.task["answer"],
            "chosen": letter,
            "task": _copy_task(self.task),
        }
        self.task = None
        # The episode is over; the terminal observation is the one the choice was made on.
        return self._last_observation.copy(), reward, True, False, step_info

    def close(self) -> None:
        """Close the core env."""
        self.core.close()

    def _draw_seed(self) -> int:
        return int(self.np_random.integers(2**31 - 1))

    def task_features(self, task: dict[str, Any]) -> np.ndarray:
        """The observation this env gives for ``task`` (a ``Task.to_dict()`` dict).

        Lets an agent be evaluated on a fixed list of tasks without stepping the env.
        """
        features = np.asarray(self.featurizer(task["question"], task["options"]), np.float32)
        return np.clip(features.reshape(-1), 0.0, 1.0)

    def _shown(self, info: dict[str, Any], attempts: int) -> tuple[np.ndarray, dict[str, Any]]:
        """Observe the task as the core env shows it (its option order); the gold stays here."""
        self.task = {**info["task"], "answer": info["privileged"]["answer"]}
        self._last_observation = self.task_features(self.task)
        return self._last_observation.copy(), {
            "task": _copy_task(info["task"]),
            "attempts": attempts,
        }


def generate_mcq_tasks(
    num_tasks: int,
    *,
    document_ids: Sequence[str] | None = None,
    seed: int = 0,
    challenger: Policy | None = None,
    **env_kwargs: Any,
) -> list[dict[str, Any]]:
    """Valid multiple-choice tasks written by a Challenger through the core env.

    Args:
        num_tasks: How many tasks to return (duplicates are possible on a small corpus).
        document_ids: Documents to write from; default: the whole corpus.
        seed: Seed of the generating :class:`MCQChoiceEnv`.
        challenger: Challenger policy; default: the scripted one.
        **env_kwargs: ``CorpusSelfPlayEnv`` arguments.

    Returns:
        ``num_tasks`` task dicts (``Task.to_dict()`` form).
    """
    env = MCQChoiceEnv(challenger, document_ids=document_ids, **env_kwargs)
    tasks = []
    env.reset(seed=seed)
    while True:
        assert env.task is not None
        tasks.append(_copy_task(env.task))  # the task as shown, gold included
        if len(tasks) == num_tasks:
            break
        env.reset()
    env.close()
    return tasks
