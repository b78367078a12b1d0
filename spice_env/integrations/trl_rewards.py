"""The SPICE rewards as TRL reward functions, and task datasets built by the environment.

TRL's trainers (``GRPOTrainer``, ``RLOOTrainer``...) call each reward function as
``fn(prompts=..., completions=..., completion_ids=..., **columns)``, where ``columns`` are the
dataset's other columns repeated per completion, and expect ``list[float | None]`` back
(``None``: "does not apply to this row"). The functions here are plain picklable callables
built on the project's own pieces (``spice_env.verifiers.check``, the Reasoner reward registry,
the Challenger reward-shape registry, task parsing and validity checks), so a TRL run is scored
exactly as ``SpiceCorpus-v0`` scores an episode. Nothing here imports TRL.

- :class:`ReasonerCorrectnessReward`: r_R, the Reasoner's reward for one answer (1 if the
  answer is equivalent to the gold in the ``answer`` column, else 0).
- :class:`GroupChallengerReward`: r_C that the task of each prompt would earn from the
  current group of answers (the K = ``num_generations`` completions of one prompt), e.g. the
  SPICE variance shape. For Reasoner training, add it with weight 0
  (``GRPOConfig(reward_weights=[1.0, 0.0])``) and TRL logs it as a curriculum signal: near 1
  means the tasks sit at the Reasoner's frontier, near 0.04 that they are all too easy or too
  hard.
- :class:`ChallengerTaskReward`: r_C for *Challenger* completions: each completion is parsed
  and validated as a task about the row's ``document``; a valid one is answered K times by a
  Reasoner policy and scored with the chosen shape; an invalid one gets the shape's penalty.
- :func:`reasoner_task_records` / :func:`challenger_prompt_records`: dataset rows (dicts; wrap
  them with ``datasets.Dataset.from_list``) whose ``prompt`` column holds the env's chat
  messages.

```python
from datasets import Dataset
from trl import GRPOConfig, GRPOTrainer
from spice_env.integrations.trl_rewards import (
    GroupChallengerReward, ReasonerCorrectnessReward, reasoner_task_records)

dataset = Dataset.from_list(reasoner_task_records(256, seed=0))
trainer = GRPOTrainer(
    model=model, processing_class=tokenizer, train_dataset=dataset,
    reward_funcs=[ReasonerCorrectnessReward(), GroupChallengerReward("spice")],
    args=GRPOConfig(num_generations=8, reward_weights=[1.0, 0.0], loss_type="dr_grpo",
                    scale_rewards="none", beta=0.0, ...),
)
```

Groups in :class:`GroupChallengerReward` are formed within one call, keyed by the ``task_id``
column (or the prompt). TRL scores each process's share of a batch separately; with several
processes a group may be split, and its r_C is then computed from the answers that process
holds.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from spice_env.policies.base import Policy
from spice_env.rewards import make_challenger_reward, make_reasoner_reward
from spice_env.tasks import Task, TaskType

__all__ = [
    "ChallengerTaskReward",
    "GroupChallengerReward",
    "ReasonerCorrectnessReward",
    "challenger_prompt_records",
    "completion_text",
    "reasoner_task_records",
]


# ---------------------------------------------------------------------- helpers
def completion_text(completion: Any) -> str:
    """The text of one TRL completion.

    Args:
        completion: A string (standard format), a list of messages (conversational format:
            the last message's ``content``), or a single message dict.

    Returns:
        The completion text; ``""`` for anything else (never raises on model output).
    """
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        return str(completion.get("content") or "")
    if isinstance(completion, Sequence) and completion:
        return completion_text(completion[-1])
    return ""


def _column(columns: dict[str, Any], name: str, size: int) -> list[Any]:
    values = columns.get(name)
    if values is None:
        return [None] * size
    values = list(values)
    if len(values) != size:
        raise ValueError(
            f"column {name!r} has {len(values)} values for {size} completions; TRL repeats "
            "dataset columns per completion, so pass one value per completion"
        )
    return values


def _task_from_row(row: dict[str, Any]) -> Task | None:
    gold = row.get("answer")
    if gold is None or str(gold).strip() == "":
        return None
    options = row.get("options")
    answer_type = row.get("answer_type") or ("MCQ" if options else None)
    task_type = row.get("task_type") or ("mcq" if options else "free_form")
    return Task(
        question=str(row.get("question") or ""),
        answer=str(gold),
        answer_type=str(answer_type or ""),
        task_type=TaskType(task_type),
        options=tuple(options) if options else None,
        document_id=row.get("document_id"),
    )


def _checker(verifier_config: Any) -> Callable[..., Any]:
    from spice_env.verifiers import check

    return functools.partial(check, config=verifier_config)


# ---------------------------------------------------------------------- Reasoner
class ReasonerCorrectnessReward:
    """r_R: the env's Reasoner reward of each completion against the row's gold answer.

    Reads the columns ``answer`` (gold), ``answer_type`` (``"MCQ"``, ``"Integer"``,
    ``"Expression"``, ``"String"``; detected from the gold when missing), ``options`` (the four
    option texts of a multiple-choice task) and optionally ``question``, ``task_type``. Rows
    without a gold answer get ``None``.

    Args:
        reasoner_reward: A registered Reasoner reward name (``"correctness"``,
            ``"format_aware"``) or a callable ``(verify_result, task, answer) -> float``.
        verifier_config: A ``spice_env.verifiers.VerifierConfig`` (``None``: the defaults).
    """

    def __init__(
        self,
        reasoner_reward: str | Callable[..., float] = "correctness",
        *,
        verifier_config: Any = None,
    ) -> None:
        self.reasoner_reward = make_reasoner_reward(reasoner_reward)
        self.verifier_config = verifier_config
        # TRL logs each reward function under its __name__.
        self.__name__ = "spice_reasoner_reward"

    def outcomes(self, completions: Sequence[Any], **columns: Any) -> list[float | None]:
        """1.0 / 0.0 per completion from the verifier alone (``None`` without a gold)."""
        return [
            None if r is None else (1.0 if r[0].correct else 0.0)
            for r in self._verify(completions, columns)
        ]

    def __call__(self, completions: Sequence[Any], **columns: Any) -> list[float | None]:
        """Score a batch of completions.

        Args:
            completions: TRL completions (strings or message lists).
            **columns: The dataset columns (``answer``, ``answer_type``, ``options``...);
                TRL's extra keyword arguments (``prompts``, ``trainer_state``...) are ignored.

        Returns:
            One reward per completion, ``None`` where the row has no gold answer.
        """
        rewards: list[float | None] = []
        for verified in self._verify(completions, columns):
            if verified is None:
                rewards.append(None)
                continue
            result, task, text = verified
            rewards.append(float(self.reasoner_reward(result, task, text)))
        return rewards

    def _verify(self, completions: Sequence[Any], columns: dict[str, Any]) -> list[Any]:
        check = _checker(self.verifier_config)
        size = len(completions)
        names = ("answer", "answer_type", "options", "question", "task_type", "document_id")
        values = {name: _column(columns, name, size) for name in names}
        out: list[Any] = []
        for index, completion in enumerate(completions):
            task = _task_from_row({name: values[name][index] for name in names})
            if task is None:
                out.append(None)
                continue
            text = completion_text(completion)
            result = check(task.answer, text, task.answer_type or None, options=task.options)
            out.append((result, task, text))
        return out


class GroupChallengerReward:
    """r_C that each prompt's task would earn from the outcomes of its group of completions.

    Completions are grouped by the ``task_id`` column when present, else by prompt; the
    outcomes are the verifier's 0/1 judgments (as in :class:`ReasonerCorrectnessReward`); every
    completion of a group gets the group's ``shape(outcomes)``. Rows without a gold get
    ``None``.

    Args:
        shape: A registered Challenger reward shape (``"spice"``, ``"absolute_zero"``,
            ``"threshold"``, ``"r_zero"``, ``"learnability"``...) or a shape object/callable.
        group_column: Column whose value identifies a task.
        verifier_config: A ``spice_env.verifiers.VerifierConfig``.
        **shape_kwargs: Parameters of a named shape (e.g. ``tau=0.02``).
    """

    def __init__(
        self,
        shape: Any = "spice",
        *,
        group_column: str = "task_id",
        verifier_config: Any = None,
        **shape_kwargs: Any,
    ) -> None:
        self.shape = make_challenger_reward(shape, **shape_kwargs)
        self.group_column = group_column
        self.correctness = ReasonerCorrectnessReward(verifier_config=verifier_config)
        name = shape if isinstance(shape, str) else type(self.shape).__name__
        self.__name__ = f"spice_challenger_{name}"

    def __call__(self, completions: Sequence[Any], **columns: Any) -> list[float | None]:
        """Score a batch: one r_C per completion, equal within a group."""
        outcomes = self.correctness.outcomes(completions, **columns)
        size = len(completions)
        keys = _column(columns, self.group_column, size)
        if all(key is None for key in keys):
            keys = [repr(prompt) for prompt in _column(columns, "prompts", size)]
        groups: dict[Any, list[float]] = defaultdict(list)
        for key, outcome in zip(keys, outcomes):
            if outcome is not None:
                groups[key].append(outcome)
        shaped = {key: float(self.shape(values)) for key, values in groups.items()}
        return [None if outcome is None else shaped[key] for key, outcome in zip(keys, outcomes)]


# ---------------------------------------------------------------------- Challenger
class ChallengerTaskReward:
    """r_C for Challenger completions: validity, then K Reasoner answers, then the shape.

    Each completion is played as the generation turn of an env episode on the row's
    ``document``, with the row's ``task_type`` (``"mcq"`` or ``"free_form"``) and free-form
    ``answer_type``, through the env's rollout driver: the env parses and checks it (invalid
    tasks get ``shape.invalid(reason)``, SPICE: -0.1), and a valid task is answered
    ``num_attempts`` times by ``reasoner`` in one batched ``act_batch`` call and scored by
    the env. The reward is the env's Challenger reward for the same task and answers.

    Args:
        reasoner: The Reasoner policy (an ``LLMPolicy`` in practice; in SPICE the same model).
        num_attempts: K, answers per valid task (SPICE: 8).
        shape: Challenger reward shape name or object.
        validity: The env's task checks (``ValidityConfig`` or a dict of its fields).
        verifier_config: A ``spice_env.verifiers.VerifierConfig``.
        **env_kwargs: More ``CorpusSelfPlayEnv`` arguments for the scoring env (prompts...).

    Attributes:
        last_tasks: The parsed tasks of the last call (``None`` where invalid), for logging.
    """

    def __init__(
        self,
        reasoner: Policy,
        *,
        num_attempts: int = 8,
        shape: Any = "spice",
        validity: Any = None,
        verifier_config: Any = None,
        **env_kwargs: Any,
    ) -> None:
        from spice_env.rollout import RolloutDriver, policy_act

        self.reasoner = reasoner
        self.num_attempts = num_attempts
        self._reasoner_act = policy_act(reasoner)
        self.driver = RolloutDriver(
            num_reasoner_attempts=num_attempts,
            challenger_reward=shape,
            validity=validity,
            verifier_config=verifier_config,
            type_selection=False,
            **env_kwargs,
        )
        self.last_tasks: list[Task | None] = []
        self.__name__ = "spice_challenger_reward"

    def __call__(self, completions: Sequence[Any], **columns: Any) -> list[float | None]:
        """Score a batch of Challenger completions (``None`` for rows without a document)."""
        from spice_env.rollout import EpisodeStart

        size = len(completions)
        documents = _column(columns, "document", size)
        task_types = _column(columns, "task_type", size)
        answer_types = _column(columns, "answer_type", size)
        document_ids = _column(columns, "document_id", size)
        rows = [i for i in range(size) if documents[i] is not None]
        starts = [
            EpisodeStart(
                key=i,
                document={"id": document_ids[i], "text": str(documents[i])},
                options={"task_type": task_types[i] or "mcq", "answer_type": answer_types[i]},
            )
            for i in rows
        ]
        texts = [completion_text(completions[i]) for i in rows]
        episodes = self.driver.challenger_phase(
            starts, lambda turns: [texts[t.episode] for t in turns]
        )
        self.driver.reasoner_phase(episodes, self._reasoner_act)
        rewards: list[float | None] = [None] * size
        self.last_tasks = [None] * size
        for episode in episodes:
            rewards[episode.key] = episode.challenger_reward
            if episode.valid and episode.task is not None:
                self.last_tasks[episode.key] = Task.from_dict(episode.task)
        return rewards


# ---------------------------------------------------------------------- datasets
def reasoner_task_records(
    num_tasks: int,
    *,
    challenger: Policy | None = None,
    seed: int = 0,
    max_attempts: int | None = None,
    **env_kwargs: Any,
) -> list[dict[str, Any]]:
    """Reasoner training rows: valid tasks written by a Challenger through the env.

    Args:
        num_tasks: Rows to return.
        challenger: The Challenger policy (default: ``ScriptedChallenger(seed=seed)``).
        seed: Seed of the env's first reset (later resets continue its RNG).
        max_attempts: Episodes to try before giving up (default ``20 * num_tasks``).
        **env_kwargs: ``CorpusSelfPlayEnv`` arguments (``task_types``, ``corpus``,
            ``reasoner_prompt_style="base"`` for plain-text prompts...).

    Returns:
        Dicts with ``prompt`` (the env's Reasoner chat messages, or its plain prompt when
        ``reasoner_prompt_style="base"``), ``question``, ``options``, ``answer``,
        ``answer_type``, ``task_type``, ``document_id`` and ``task_id``.
    """
    from spice_env.policies.scripted import ScriptedChallenger
    from spice_env.rollout import EpisodeStart, RolloutDriver, episode_seed, policy_act

    act = policy_act(challenger or ScriptedChallenger(seed=seed))
    driver = RolloutDriver(**env_kwargs)
    limit = max_attempts if max_attempts is not None else 20 * num_tasks
    records: list[dict[str, Any]] = []
    for first in range(0, limit, num_tasks):
        starts = [
            EpisodeStart(key=i, seed=episode_seed(seed, i))
            for i in range(first, min(first + num_tasks, limit))
        ]
        for episode in driver.challenger_phase(starts, act):
            if not episode.valid or len(records) >= num_tasks:
                continue  # an invalid task is the Challenger's problem, not a training row
            # The row is the task as one Reasoner attempt sees it: options in that attempt's
            # order, the gold letter mapped along.
            reset_seed = episode_seed(seed, "row", len(records))
            _, turn = driver.env(0).reset(seed=reset_seed, options={"task": episode.task})
            shown = turn["task"]
            records.append(
                {
                    "prompt": turn.get("prompt") or turn["messages"],
                    "question": shown["question"],
                    "options": shown["options"],
                    "answer": turn["privileged"]["answer"],
                    "answer_type": shown["answer_type"],
                    "task_type": shown["task_type"],
                    "document_id": shown["document_id"],
                    "task_id": f"task-{len(records)}",
                }
            )
        if len(records) >= num_tasks:
            break
    if len(records) < num_tasks:
        raise RuntimeError(
            f"only {len(records)} valid tasks in {limit} episodes; raise max_attempts or use "
            "a corpus the Challenger can write tasks from"
        )
    return records


def challenger_prompt_records(
    num_prompts: int, *, seed: int = 0, **env_kwargs: Any
) -> list[dict[str, Any]]:
    """Challenger training rows: generation-stage prompts for documents drawn by the env.

    The env picks the task type (``type_selection=False``), so each row carries the prompt of
    its template and the columns :class:`ChallengerTaskReward` needs.

    Args:
        num_prompts: Rows to return.
        seed: Seed of the env's first reset.
        **env_kwargs: ``CorpusSelfPlayEnv`` arguments (``task_types``, ``corpus``...).

    Returns:
        Dicts with ``prompt`` (chat messages), ``document``, ``document_id``, ``task_type``
        and ``answer_type``.
    """
    from spice_env.envs.corpus_self_play import CorpusSelfPlayEnv

    env = CorpusSelfPlayEnv(type_selection=False, **env_kwargs)
    records = []
    for index in range(num_prompts):
        observation, info = env.reset(seed=seed if index == 0 else None)
        records.append(
            {
                "prompt": info["messages"],
                "document": observation["text"],
                "document_id": info["document_id"],
                "task_type": info["task_type"],
                "answer_type": info["answer_type"],
            }
        )
    env.close()
    return records
