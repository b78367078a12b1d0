"""Rollouts for the GRPO trainer: SPICE episodes played by the env's driver, as training data.

Per iteration (:meth:`SelfPlayCollector.collect`):

1. **Documents.** B documents are drawn from the corpus by a dedicated env whose RNG is the
   corpus position (the same on every process); this process keeps every world-th one.
2. **Challenger.** Rounds of G Challenger episodes per document go through
   :meth:`spice_env.rollout.RolloutDriver.challenger_phase` (one generation call per stage
   for every episode of the round), while a document has no valid task and fewer than N
   attempts; :func:`select_groups` then keeps G per document, preserving the valid:invalid
   ratio (:func:`subsample_preserving_ratio`).
3. **Reasoner.** Every kept valid task is answered K times through
   :meth:`~spice_env.rollout.RolloutDriver.reasoner_phase` (one generation call for all);
   the env turns the K outcomes into the Challenger's reward with the configured shape.
   With ``repetition_penalty``, R-Zero's penalty over the whole batch (every process's kept
   episodes, gathered) is subtracted from each kept episode's reward.
   With ``anchor_documents``, that many further documents get one task each from a
   scripted Challenger (``anchor_challenger``), answered K times in the same generation call
   (an anchor of grounded tasks for the Reasoner; nothing of theirs trains or counts for the
   Challenger).
4. **Samples.** :func:`build_samples` makes one :class:`Sample` per generated sequence: every
   Challenger turn of the G episodes of a document (group ``c<doc>``), and the K answers to
   one valid task per document, drawn at random (group ``r<doc>``; with
   ``reasoner_tasks_per_document=0`` every answered valid task of it, one group each), and
   each anchor task's K answers (group ``a<doc>``). Advantages are the algorithm's business
   (``spice_agents.grpo.assign_advantages``).

Everything but :class:`SelfPlayCollector` is a pure function of its arguments.
"""

from __future__ import annotations

import copy
import json
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
from spice_agents.config import TrainConfig
from spice_agents.metrics import histogram, mean

from spice_env.rollout import (
    Episode,
    EpisodeStart,
    RolloutDriver,
    Turn,
    answer_letters,
    episode_seed,
)

__all__ = [
    "PhaseTimer",
    "Rollout",
    "Sample",
    "SelfPlayCollector",
    "build_samples",
    "merge_rollout_stats",
    "reasoner_groups",
    "rollout_stats",
    "select_groups",
    "subsample_preserving_ratio",
]


# ===================================================================================== data
@dataclass
class Sample:
    """One generated sequence that the policy gradient is taken on.

    Attributes:
        role: ``"challenger"`` or ``"reasoner"``.
        stage: The env stage it was generated at (``type_selection``, ``generation``,
            ``answering``).
        prompt_ids: The prompt's token ids exactly as the model saw them.
        completion_ids: The sampled token ids (end-of-sequence included when it stopped).
        reward: The reward of its role (the episode's r_C, or the answer's r_R).
        group: The advantage group: ``c<doc>`` (the G Challenger episodes of a document) or
            ``r<doc>`` (the K answers to one task).
        episode: Which member of the group it belongs to (an episode's Challenger turns share
            one reward and count once in the group mean; each Reasoner answer is its own).
        advantage: Role-specific Dr. GRPO advantage, shared by all tokens (set by the
            trainer).
        sampler_logprobs: Log-probabilities reported by the backend (to measure the
            sampler/trainer mismatch), or ``None``.
        sampler_logprobs_masked: Whether those are the grammar-masked distribution's.
        json_schema: The JSON Schema the completion was sampled under, or ``None`` when
            unconstrained (the trainer replays its grammar to score the tokens).
    """

    role: str
    stage: str
    prompt_ids: list[int]
    completion_ids: list[int]
    reward: float
    group: str = ""
    episode: str = ""
    advantage: float = 0.0
    sampler_logprobs: list[float] | None = None
    sampler_logprobs_masked: bool = False
    json_schema: dict[str, Any] | None = None


@dataclass
class Rollout:
    """What one iteration of rollouts produced on this process."""

    samples: list[Sample]
    stats: dict[str, Any]
    examples: list[dict[str, Any]]
    timings: dict[str, float]


class PhaseTimer:
    """Seconds spent per named phase; ``with timer("challenger_generation"): ...``."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    @contextmanager
    def __call__(self, phase: str) -> Iterator[None]:
        tic = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[phase] += time.perf_counter() - tic


# ================================================================= groups and samples (pure)
def subsample_preserving_ratio(
    valid: Sequence[int], invalid: Sequence[int], size: int, rng: np.random.Generator
) -> list[int]:
    """Pick ``size`` attempts keeping the valid:invalid ratio (at least one valid if any).

    Args:
        valid: Indices of the valid attempts.
        invalid: Indices of the invalid attempts.
        size: G, how many to keep (at most ``len(valid) + len(invalid)``).
        rng: Random source.

    Returns:
        The kept indices, sorted.
    """
    total = len(valid) + len(invalid)
    if total <= size:
        return sorted([*valid, *invalid])
    num_valid = round(size * len(valid) / total)
    if valid:
        num_valid = max(1, num_valid)
    num_valid = min(num_valid, len(valid))
    num_invalid = min(size - num_valid, len(invalid))
    num_valid = size - num_invalid
    kept = [*rng.choice(valid, num_valid, replace=False).tolist()] if num_valid else []
    kept += rng.choice(invalid, num_invalid, replace=False).tolist() if num_invalid else []
    return sorted(int(i) for i in kept)


def select_groups(
    attempts: dict[int, list[Episode]], group_size: int, seed: int, iteration: int
) -> dict[int, list[Episode]]:
    """Keep G attempts per document, preserving the valid:invalid ratio (seeded per document)."""
    groups = {}
    for index, tried in attempts.items():
        rng = np.random.default_rng(episode_seed(seed, "subsample", iteration, index))
        valid = [i for i, e in enumerate(tried) if e.valid]
        invalid = [i for i, e in enumerate(tried) if not e.valid]
        groups[index] = [
            tried[i] for i in subsample_preserving_ratio(valid, invalid, group_size, rng)
        ]
    return groups


def reasoner_groups(
    group: Sequence[Episode], seed: int, iteration: int, index: int, count: int = 1
) -> list[Episode]:
    """The answered valid tasks of a document whose K answers train the Reasoner.

    Args:
        group: The document's kept Challenger episodes.
        seed: Run seed.
        iteration: Iteration number.
        index: The document's global index in the batch.
        count: How many tasks to keep: 1 draws one at random (the paper's choice), 0 keeps
            every answered valid task.

    Returns:
        The chosen episodes (empty when the document has no answered valid task), in the
        group's order.
    """
    answered = [e for e in group if e.valid and e.answered]
    if count == 0 or len(answered) <= count:
        return answered
    rng = np.random.default_rng(episode_seed(seed, "reasoner_group", iteration, index))
    picks = sorted(rng.choice(len(answered), count, replace=False).tolist())
    return [answered[i] for i in picks]


def _sample(role: str, turn: Turn, reward: float, group: str, episode: str) -> Sample | None:
    completion = turn.output
    if completion is None or not completion.token_ids:
        return None  # a scripted turn, or an empty completion: nothing to train on
    return Sample(
        role=role,
        stage=turn.stage,
        prompt_ids=list(completion.prompt_token_ids),
        completion_ids=list(completion.token_ids),
        reward=reward,
        group=group,
        episode=episode,
        sampler_logprobs=completion.logprobs,
        sampler_logprobs_masked=bool(getattr(completion, "logprobs_masked", False)),
        json_schema=getattr(completion, "json_schema", None),
    )


def build_samples(
    groups: dict[int, list[Episode]],
    chosen: dict[int, list[Episode]],
    *,
    train_challenger: bool,
    anchors: dict[int, Episode] | None = None,
) -> list[Sample]:
    """One :class:`Sample` per generated sequence of the kept episodes.

    Args:
        groups: Document index -> its G kept Challenger episodes.
        chosen: Document index -> the episodes whose K answers train the Reasoner (one
            advantage group each).
        train_challenger: Whether the Challenger's turns are trained (not when a fixed
            Challenger or a task file wrote the tasks).
        anchors: Document index -> an anchor task (``anchor_documents``) answered K times;
            its answers train the Reasoner, its Challenger turns nothing.

    Returns:
        Challenger samples (every turn of every kept episode, with the episode's r_C) and
        Reasoner samples (each chosen task's K answers, with their r_R; group ``r<doc>``, or
        ``r<doc>.<j>`` for the j-th of several tasks of one document), in document order,
        then the anchors' answers (group ``a<doc>``).
    """
    samples: list[Sample] = []
    for index, group in groups.items():
        if train_challenger:
            for member, episode in enumerate(group):
                reward = float(episode.challenger_reward or 0.0)
                for turn in episode.challenger_turns:
                    samples.append(_sample("challenger", turn, reward, f"c{index}", str(member)))
        tasks = chosen.get(index, [])
        for j, episode in enumerate(tasks):
            group_id = f"r{index}" if len(tasks) == 1 else f"r{index}.{j}"
            samples.extend(_answer_samples(episode, group_id))
    for index, episode in (anchors or {}).items():
        if episode.valid and episode.answered:
            samples.extend(_answer_samples(episode, f"a{index}"))
    return [s for s in samples if s is not None]


def _answer_samples(episode: Episode, group: str) -> list[Sample | None]:
    """The K answers to one task as one Reasoner advantage group."""
    return [
        _sample("reasoner", turn, float(reward), group, str(attempt))
        for attempt, (turn, reward) in enumerate(
            zip(episode.reasoner_turns, episode.reasoner_rewards)
        )
    ]


def examples(groups: dict[int, list[Episode]], count: int) -> list[dict[str, Any]]:
    """A few episodes as text, for ``samples.jsonl``."""
    out = []
    for group in list(groups.values())[:count]:
        episode = group[0]
        out.append(
            {
                "document_id": episode.document_id,
                "challenger": [t.text for t in episode.challenger_turns],
                "valid": episode.valid,
                "invalid_reason": episode.invalid_reason,
                "task": episode.task,
                "answers": [t.text for t in episode.reasoner_turns[:2]],
                "challenger_reward": episode.challenger_reward,
                "reasoner_rewards": episode.reasoner_rewards,
            }
        )
    return out


def _tokens(turn: Turn) -> int:
    output = turn.output
    return len(output.token_ids) if output is not None and output.token_ids else 0


def rollout_stats(
    attempts: dict[int, list[Episode]],
    groups: dict[int, list[Episode]],
    chosen: dict[int, list[Episode]],
    samples: Sequence[Sample],
    *,
    train_challenger: bool,
    anchors: dict[int, Episode] | None = None,
) -> dict[str, Any]:
    """Raw per-process numbers; :func:`merge_rollout_stats` combines the processes.

    Anchor tasks (``anchors``) are counted apart: the Challenger's numbers are its own.
    """
    tried = [e for es in attempts.values() for e in es]
    kept = [e for es in groups.values() for e in es]
    kept_valid = [e for e in kept if e.valid and e.answered]
    lengths: dict[str, list[int]] = defaultdict(list)
    truncated: dict[str, list[int]] = defaultdict(list)
    generated = 0
    for episode in tried:
        for turn in episode.challenger_turns:
            if turn.output is not None:
                lengths[turn.stage].append(_tokens(turn))
                truncated[turn.stage].append(int(turn.output.finish_reason == "length"))
                generated += _tokens(turn)
    for episode in kept_valid:
        for turn in episode.reasoner_turns:
            if turn.output is not None:
                lengths["answering"].append(_tokens(turn))
                truncated["answering"].append(int(turn.output.finish_reason == "length"))
                generated += _tokens(turn)
    letters = Counter(letter for e in kept_valid for letter in e.gold_letters_shown)
    return {
        "documents": len(groups),
        "attempts": len(tried),
        "valid_attempts": sum(e.valid for e in tried),
        "documents_without_valid": sum(not any(e.valid for e in es) for es in attempts.values()),
        "invalid_reasons": Counter(e.invalid_reason for e in tried if not e.valid),
        "task_types": Counter(str((e.task or {}).get("task_type")) for e in kept_valid),
        "challenger_rewards": [float(e.challenger_reward or 0.0) for e in kept]
        if train_challenger
        else [],
        "pass_rates": [e.pass_rate for e in kept_valid if e.pass_rate is not None],
        "reasoner_rewards_all": [r for e in kept_valid for r in e.reasoner_rewards],
        "reasoner_rewards_trained": [
            r for es in chosen.values() for e in es for r in e.reasoner_rewards
        ],
        "gold_letters_shown": letters,
        # Every Reasoner answer to a multiple-choice task, anchors included (both are trained).
        "reasoner_letters": answer_letters(
            [*kept_valid, *(e for e in (anchors or {}).values() if e.valid and e.answered)]
        ),
        "completion_lengths": dict(lengths),
        "truncated": dict(truncated),
        "prompt_lengths": [len(s.prompt_ids) for s in samples],
        "generated_tokens": generated,
        "samples": Counter(s.role for s in samples),
        **_anchor_stats(list((anchors or {}).values())),
    }


def _anchor_stats(anchors: list[Episode]) -> dict[str, Any]:
    answered = [e for e in anchors if e.valid and e.answered]
    return {
        "anchor_documents": len(anchors),
        "anchor_answered": len(answered),
        "anchor_rewards": [r for e in answered for r in e.reasoner_rewards],
        "anchor_groups_with_signal": sum(len(set(e.reasoner_rewards)) > 1 for e in answered),
    }


def merge_rollout_stats(per_process: list[dict[str, Any]], num_answers: int) -> dict[str, Any]:
    """Combine the processes' raw rollout numbers into the logged metrics."""

    def total(key: str) -> int:
        return int(sum(stats[key] for stats in per_process))

    def joined(key: str) -> list[Any]:
        return [value for stats in per_process for value in stats[key]]

    def counted(key: str) -> dict[str, int]:
        merged: Counter[str] = Counter()
        for stats in per_process:
            merged.update(stats[key])
        return dict(merged.most_common())

    lengths: dict[str, list[int]] = defaultdict(list)
    truncated: dict[str, list[int]] = defaultdict(list)
    for stats in per_process:
        for stage, values in stats["completion_lengths"].items():
            lengths[stage].extend(values)
        for stage, values in stats["truncated"].items():
            truncated[stage].extend(values)
    attempts = total("attempts")
    pass_rates = joined("pass_rates")
    samples = counted("samples")
    return {
        "reward": {
            "challenger": mean(joined("challenger_rewards")),
            "reasoner": mean(joined("reasoner_rewards_trained")),
            "reasoner_all_answers": mean(joined("reasoner_rewards_all")),
        },
        "challenger": {
            "documents": total("documents"),
            "attempts": attempts,
            "valid": total("valid_attempts"),
            "valid_rate": total("valid_attempts") / attempts if attempts else None,
            "documents_without_valid": total("documents_without_valid"),
            "invalid_reasons": counted("invalid_reasons"),
            "task_types": counted("task_types"),
        },
        "pass_rate": {"mean": mean(pass_rates), "histogram": histogram(pass_rates, num_answers)},
        "gold_letters_shown": dict(sorted(counted("gold_letters_shown").items())),
        "reasoner_letters": dict(sorted(counted("reasoner_letters").items())),
        "length": {
            **{f"{stage}_mean": mean(values) for stage, values in lengths.items()},
            **{f"{stage}_truncated": mean(values) for stage, values in truncated.items()},
            "prompt_mean": mean(joined("prompt_lengths")),
        },
        "samples": {
            "challenger": samples.get("challenger", 0),
            "reasoner": samples.get("reasoner", 0),
        },
        "generated_tokens": total("generated_tokens"),
        "anchor": {
            "documents": total("anchor_documents"),
            "answered": total("anchor_answered"),
            "reasoner_reward": mean(joined("anchor_rewards")),
            "groups_with_signal": total("anchor_groups_with_signal"),
        },
    }


# ================================================================================ collector
class SelfPlayCollector:
    """Plays one iteration of SPICE rollouts per :meth:`collect` and returns training data.

    Args:
        config: The run configuration.
        backend: An ``LLMBackend`` (``generate(prompts, SamplingParams)``) sampling from the
            model being trained.
        process_index: This process's rank: it plays documents ``rank::world_size``.
        num_processes: World size.
        gather: A collective that concatenates a picklable list over all processes, in rank
            order (``accelerate.utils.gather_object``); required with several processes
            when the repetition penalty is on (it spans the whole batch).
    """

    def __init__(
        self,
        config: TrainConfig,
        backend: Any,
        *,
        process_index: int = 0,
        num_processes: int = 1,
        gather: Callable[[list[Any]], list[Any]] | None = None,
    ) -> None:
        import spice_env

        selfplay = config.selfplay
        self.config = config
        self.backend = backend
        self.rank = process_index
        self.world = num_processes
        if gather is None and num_processes > 1 and selfplay.repetition_penalty:
            raise ValueError(
                "the repetition penalty spans every process's questions: pass gather "
                "(accelerate.utils.gather_object) when num_processes > 1"
            )
        self.gather: Callable[[list[Any]], list[Any]] = gather or list
        self.seed = config.run.seed
        if selfplay.batch_documents < num_processes:
            raise ValueError(
                f"batch_documents={selfplay.batch_documents} is smaller than the "
                f"{num_processes} processes; give every process at least one document"
            )
        text_field = (
            selfplay.text_field.split(",") if "," in selfplay.text_field else selfplay.text_field
        )
        env_kwargs_rest = dict(selfplay.env_kwargs)
        corpus_config = {
            **env_kwargs_rest.pop("corpus_config", {}),
            "text_field": text_field,
            "id_field": selfplay.id_field,
            "max_segment_tokens": selfplay.max_segment_tokens,
        }
        if selfplay.holdout_fraction > 0:
            corpus_config.update(holdout_fraction=selfplay.holdout_fraction, part="train")
        # Load once and hand the same object to every env instead of re-reading it.
        corpus = (
            spice_env.load_corpus(selfplay.corpus, corpus_config)
            if selfplay.corpus is not None
            else None
        )
        env_kwargs = dict(
            corpus=corpus,
            corpus_config=corpus_config,
            num_reasoner_attempts=selfplay.num_answers,
            challenger_reward=selfplay.challenger_reward,
            reasoner_reward=selfplay.reasoner_reward,
            task_types=selfplay.task_types,
            **env_kwargs_rest,
        )
        self.driver = RolloutDriver(**env_kwargs)
        self.policies = self._stage_policies()

        # -- what a task comes from: the corpus (self-play) or a fixed task file --
        self.tasks: list[dict[str, Any]] | None = None
        if selfplay.tasks_file is not None:
            with open(selfplay.tasks_file, encoding="utf-8") as handle:
                self.tasks = [json.loads(line) for line in handle if line.strip()]
            if not self.tasks:
                raise ValueError(f"tasks_file {selfplay.tasks_file} holds no tasks")
        else:
            # A dedicated env draws documents: its RNG stream is the corpus position, the
            # same on every process, so all ranks agree on the global batch of documents.
            self.document_env = self.driver.make_env()
            self.document_env.reset(seed=self.seed)
            self.documents_drawn = 0
        self.challenger_policy: Any = None
        if selfplay.challenger != "model":
            from spice_env.policies import make_policy

            self.challenger_policy = make_policy(
                selfplay.challenger, role="challenger", seed=self.seed + self.rank
            )
        self.anchor_policy: Any = None
        if selfplay.anchor_documents:
            from spice_env.policies import make_policy

            self.anchor_policy = make_policy(
                selfplay.anchor_challenger,
                role="challenger",
                seed=episode_seed(self.seed, "anchor", self.rank),
            )

    @property
    def trains_challenger(self) -> bool:
        """Whether the model writes (and so learns) the tasks."""
        return self.tasks is None and self.challenger_policy is None

    # -- state (checkpointed) ---------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The collector's position: document sampler RNG and draws, fixed policy state."""
        # Copies: the fixed policies carry RNGs that go on moving after the snapshot.
        state: dict[str, Any] = {
            "challenger_policy": copy.deepcopy(self.challenger_policy),
            "anchor_policy": copy.deepcopy(self.anchor_policy),
        }
        if self.tasks is None:
            state["document_rng"] = self.document_env.unwrapped.np_random.bit_generator.state
            state["documents_drawn"] = self.documents_drawn
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self.challenger_policy = state.get("challenger_policy", self.challenger_policy)
        self.anchor_policy = state.get("anchor_policy", self.anchor_policy)
        if self.tasks is None:
            generator = np.random.Generator(np.random.PCG64())
            generator.bit_generator.state = state["document_rng"]
            self.document_env.unwrapped.np_random = generator
            self.documents_drawn = state["documents_drawn"]

    # -- generation ---------------------------------------------------------------------------
    def _stage_policies(self) -> dict[str, Any]:
        """One ``LLMPolicy`` per stage over the backend: its budget, the shared sampling.

        Challenger stages follow the env's JSON Schemas when ``challenger_constraint`` is
        ``"constrained"`` (the completions then record the schema, which the trainer replays
        to score the tokens under the masked distribution that sampled them).
        """
        from spice_env.policies.llm import LLMPolicy
        from spice_env.policies.sampling import SamplingParams

        generation = self.config.generation
        constrained = generation.challenger_constraint == "constrained"
        base_style = self.config.selfplay.env_kwargs.get("reasoner_prompt_style") == "base"
        budgets = {
            "type_selection": generation.type_selection_max_new_tokens,
            "generation": generation.challenger_max_new_tokens,
            "answering": generation.reasoner_max_new_tokens,
        }
        policies = {}
        for stage, budget in budgets.items():
            answering = stage == "answering"
            role = "reasoner" if answering else "challenger"
            params = SamplingParams(
                temperature=generation.temperature_of(role),
                top_p=generation.top_p,
                max_new_tokens=budget,
            )
            policies[stage] = LLMPolicy(
                self.backend,
                params,
                use_chat=not (answering and base_style),
                constrain=constrained and not answering,
            )
        return policies

    def _model_act(self, timer: PhaseTimer, phase: str, *tag: Any) -> Any:
        """An act function that samples from the model: one policy call per stage group."""

        def act(turns: list[Turn]) -> list[Any]:
            stage = turns[0].stage
            policy = self.policies[stage]
            seed = episode_seed(self.seed, "generate", self.rank, *tag, stage)
            with timer(phase):
                return policy.complete_batch([t.info for t in turns], seed=seed)

        return act

    def _challenger_act(self, timer: PhaseTimer, iteration: int, round_index: int) -> Any:
        if self.challenger_policy is None:
            return self._model_act(timer, "challenger_generation", iteration, round_index)
        from spice_env.rollout import policy_act

        fixed = policy_act(self.challenger_policy)

        def act(turns: list[Turn]) -> list[Any]:
            with timer("challenger_generation"):
                return fixed(turns)

        return act

    # -- one iteration ----------------------------------------------------------------------
    def collect(self, iteration: int) -> Rollout:
        """Play one iteration's rollouts on this process's share of the batch.

        Args:
            iteration: The iteration number (part of every seed).

        Returns:
            The samples to train on (advantages not yet set), statistics, a few example
            texts and phase timings.
        """
        timer = PhaseTimer()
        start = time.perf_counter()
        reasoner_act = self._model_act(timer, "reasoner_generation", iteration)
        anchors: dict[int, Episode] = {}
        if self.tasks is not None:
            with timer("reasoner_phase"):
                groups = self._task_groups(iteration, reasoner_act)
            attempts: dict[int, list[Episode]] = {}
        else:
            with timer("documents"):
                documents = self._draw_documents(self.config.selfplay.batch_documents)
                anchor_documents = self._draw_documents(self.config.selfplay.anchor_documents)
            with timer("challenger_phase"):
                attempts = self._challenger_rounds(iteration, documents, timer)
                anchors = self._anchor_tasks(iteration, anchor_documents)
            groups = select_groups(attempts, self.config.selfplay.group_size, self.seed, iteration)
            kept_valid = [e for group in groups.values() for e in group if e.valid]
            # The anchors' answers go in the same generation call as the self-play tasks'.
            answered = kept_valid + [e for e in anchors.values() if e.valid]
            with timer("reasoner_phase"):
                seeds = [
                    episode_seed(self.seed, "reasoner", iteration, e.key, slot)
                    for slot, e in enumerate(answered)
                ]
                self.driver.reasoner_phase(answered, reasoner_act, seeds)
            if self.config.selfplay.repetition_penalty:
                _apply_repetition_penalty(groups, self.gather)
        per_document = self.config.selfplay.reasoner_tasks_per_document
        chosen = {
            index: tasks
            for index, group in groups.items()
            if (tasks := reasoner_groups(group, self.seed, iteration, index, per_document))
        }
        samples = build_samples(
            groups, chosen, train_challenger=self.trains_challenger, anchors=anchors
        )
        stats = rollout_stats(
            attempts,
            groups,
            chosen,
            samples,
            train_challenger=self.trains_challenger,
            anchors=anchors,
        )
        timings = dict(timer.seconds)
        # Env and bookkeeping time of each phase: the phase minus its generation.
        for phase, generation in (
            ("challenger_phase", "challenger_generation"),
            ("reasoner_phase", "reasoner_generation"),
        ):
            if phase in timings:
                role = phase.split("_")[0]
                timings[f"{role}_env"] = timings.pop(phase) - timings.get(generation, 0.0)
        timings["rollout_total"] = time.perf_counter() - start
        return Rollout(
            samples=samples,
            stats=stats,
            examples=examples(groups, self.config.run.log_samples),
            timings=timings,
        )

    def _draw_documents(self, count: int) -> list[tuple[int, str]]:
        """``count`` documents (global index, id); this process keeps every world-th one."""
        drawn = []
        for _ in range(count):
            _, info = self.document_env.reset()
            drawn.append((self.documents_drawn, info["document_id"]))
            self.documents_drawn += 1
        return drawn[self.rank :: self.world]

    def _challenger_rounds(
        self, iteration: int, documents: list[tuple[int, str]], timer: PhaseTimer
    ) -> dict[int, list[Episode]]:
        """Rounds of G Challenger episodes per document until one is valid or N are spent."""
        group_size = self.config.selfplay.group_size
        max_attempts = self.config.selfplay.max_attempts
        attempts: dict[int, list[Episode]] = {index: [] for index, _ in documents}
        pending = list(documents)
        round_index = 0
        while pending:
            starts = [
                EpisodeStart(
                    key=index,
                    seed=episode_seed(self.seed, "challenger", iteration, index, round_index, m),
                    document_id=doc_id,
                )
                for index, doc_id in pending
                for m in range(group_size)
            ]
            act = self._challenger_act(timer, iteration, round_index)
            for episode in self.driver.challenger_phase(starts, act):
                attempts[episode.key].append(episode)
            round_index += 1
            pending = [
                (index, doc_id)
                for index, doc_id in pending
                if not any(e.valid for e in attempts[index])
                and len(attempts[index]) + group_size <= max_attempts
            ]
        return attempts

    def _anchor_tasks(self, iteration: int, documents: list[tuple[int, str]]) -> dict[int, Episode]:
        """One scripted task per anchor document (not answered yet); index -> episode."""
        if not documents:
            return {}
        from spice_env.rollout import policy_act

        starts = [
            EpisodeStart(
                key=index,
                seed=episode_seed(self.seed, "anchor", iteration, index),
                document_id=doc_id,
            )
            for index, doc_id in documents
        ]
        episodes = self.driver.challenger_phase(starts, policy_act(self.anchor_policy))
        return {episode.key: episode for episode in episodes}

    def _task_groups(self, iteration: int, act: Any) -> dict[int, list[Episode]]:
        """Reasoner-only training: B tasks from the task file (this rank's share), answered."""
        assert self.tasks is not None
        rng = np.random.default_rng(episode_seed(self.seed, "tasks", iteration))
        size = self.config.selfplay.batch_documents
        picks = rng.choice(len(self.tasks), size, replace=size > len(self.tasks))
        mine = list(enumerate(picks))[self.rank :: self.world]
        episodes = self.driver.answer_tasks(
            [self.tasks[int(i)] for _, i in mine],
            act,
            keys=[g for g, _ in mine],
            seeds=[episode_seed(self.seed, "reasoner", iteration, g) for g, _ in mine],
        )
        return {episode.key: [episode] for episode in episodes}


def _apply_repetition_penalty(
    groups: dict[int, list[Episode]], gather: Callable[[list[Any]], list[Any]]
) -> None:
    """Subtract R-Zero's repetition penalty from every kept episode's Challenger reward.

    R-Zero clusters the whole batch's questions, valid or not (an unparsable task counts as
    ``""``), so every process's kept episodes are gathered first and put in document order:
    the penalties are then the same however the batch is split over processes.

    Args:
        groups: This process's kept episodes (global document index -> its G episodes).
        gather: Concatenates a list over all processes (the identity on one process).
    """
    from spice_env.rewards import repetition_penalties

    local = [
        (index, member, str((episode.task or {}).get("question", "")))
        for index, group in groups.items()
        for member, episode in enumerate(group)
    ]
    batch = sorted(gather(local))
    penalties = repetition_penalties([question for _, _, question in batch])
    penalty_of = {(index, member): p for (index, member, _), p in zip(batch, penalties)}
    for index, group in groups.items():
        for member, episode in enumerate(group):
            reward = float(episode.challenger_reward or 0.0)
            episode.challenger_reward = reward - penalty_of[(index, member)]
