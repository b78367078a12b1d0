"""Dr. GRPO for SPICE self-play: one model, two roles, role-specific advantages.

The whole algorithm reads top to bottom in this file (CleanRL style):

1. **Rollouts** (:class:`SelfPlayCollector`). Per iteration, B documents are drawn. For each,
   G Challenger trajectories are played through ``SpiceCorpus-v0`` (task-type selection, then
   generation); rounds of G more are played, up to N attempts, while a document has no valid
   task, and G trajectories are then sub-sampled keeping the valid:invalid ratio. Every kept
   valid task is answered K times by the Reasoner (through ``reset(options={"task": ...})``);
   the env turns the K outcomes into the Challenger's reward with the configured shape. One
   valid task per document is drawn at random and its K answers form the Reasoner's group.
   All prompts of a stage go to the generation backend in one call (the Reasoner's with
   ``n=K``): that batching is where the speed comes from.
2. **Advantages** (:func:`group_advantages`): reward minus the group mean, per role, with no
   standard-deviation normalization (Dr. GRPO): the Challenger's group is the G trajectories
   of one document, the Reasoner's the K answers to one question.
3. **Loss** (:func:`dr_grpo_loss`): token-level policy gradient with PPO clipping, summed over
   each sequence's tokens and divided by a *constant* (that sequence's ``max_new_tokens``
   times the number of sequences in the batch), never by the sequence's own length; an
   optional k3 KL to the frozen initial model.
4. **Update** (:meth:`GRPOTrainer.update`): AdamW with warm-up then a constant learning rate,
   gradient accumulation over micro-batches, gradient clipping; several PPO epochs or
   minibatches reuse stored old log-probabilities. ``accelerate`` does every all-reduce, so
   the same code runs on one CPU, under ``accelerate launch`` with DDP, FSDP or DeepSpeed.

The environment is driven only through its public API (``gym.make``, ``reset``, ``step``,
``info``), so everything here is something your own RL code can do too.
"""

from __future__ import annotations

import copy
import json
import signal
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from spice_agents.config import TrainConfig
from spice_agents.metrics import MetricsLogger, histogram, mean

__all__ = [
    "GRPOTrainer",
    "Rollout",
    "Sample",
    "SelfPlayCollector",
    "Trajectory",
    "dr_grpo_loss",
    "group_advantages",
    "load_model_and_tokenizer",
    "sequence_logprobs",
    "train",
]

ROLES = ("challenger", "reasoner")


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
        advantage: Role-specific Dr. GRPO advantage, shared by all tokens.
        reward: The reward the advantage was computed from (for logging).
        max_new_tokens: The generation budget: Dr. GRPO's constant normalizer for its tokens.
        sampler_logprobs: Log-probabilities reported by the backend (to measure the
            sampler/trainer mismatch), or ``None``.
        group: Identifier of the advantage group (for logging and tests).
    """

    role: str
    stage: str
    prompt_ids: list[int]
    completion_ids: list[int]
    advantage: float
    reward: float
    max_new_tokens: int
    sampler_logprobs: list[float] | None = None
    group: str = ""


@dataclass
class Trajectory:
    """One Challenger episode, then (if its task is valid and kept) its K Reasoner answers."""

    document_index: int
    document_id: str
    turns: list[dict[str, Any]] = field(default_factory=list)
    valid: bool = False
    task: dict[str, Any] | None = None
    invalid_reason: str | None = None
    challenger_reward: float = 0.0
    pass_rate: float | None = None
    answers: list[dict[str, Any]] = field(default_factory=list)
    reasoner_rewards: list[float] = field(default_factory=list)


@dataclass
class Rollout:
    """What one iteration of rollouts produced on this process."""

    samples: list[Sample]
    stats: dict[str, Any]
    examples: list[dict[str, Any]]
    timings: dict[str, float]


def group_advantages(rewards: Sequence[float]) -> list[float]:
    """Dr. GRPO advantages of one group: reward minus the group mean, no std division.

    Args:
        rewards: Rewards of the group's members.

    Returns:
        ``r_i - mean(r)`` for each member (all zero when the rewards are equal).
    """
    if not rewards:
        return []
    if max(rewards) == min(rewards):
        # Exactly zero (not 1e-17 from float rounding), so such groups can be skipped.
        return [0.0] * len(rewards)
    baseline = float(np.mean(rewards))
    return [float(r) - baseline for r in rewards]


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


# ================================================================================ rollouts
class SelfPlayCollector:
    """Plays SPICE rollouts through the environment and turns them into training samples.

    Args:
        config: The run configuration.
        backend: An ``LLMBackend`` (``generate(prompts, SamplingParams)``).
        tokenizer: The model's tokenizer (only used when a backend reports no prompt ids).
        process_index: This process's rank: it plays documents ``rank::world_size``.
        num_processes: World size.
    """

    def __init__(
        self,
        config: TrainConfig,
        backend: Any,
        tokenizer: Any,
        *,
        process_index: int = 0,
        num_processes: int = 1,
    ) -> None:
        import gymnasium as gym

        import spice_env

        self.config = config
        self.selfplay = config.selfplay
        self.generation = config.generation
        self.backend = backend
        self.tokenizer = tokenizer
        self.rank = process_index
        self.world = num_processes
        self.seed = config.run.seed
        if self.selfplay.batch_documents < num_processes:
            raise ValueError(
                f"batch_documents={self.selfplay.batch_documents} is smaller than the "
                f"{num_processes} processes; give every process at least one document"
            )
        corpus: Any = None
        if self.selfplay.corpus is not None:
            # Load once and hand the same object to every env instead of re-reading it.
            corpus = spice_env.load_corpus(
                self.selfplay.corpus,
                text_field=self.selfplay.text_field,
                max_segment_tokens=self.selfplay.max_segment_tokens,
            )
        self._env_kwargs = dict(
            corpus=corpus,
            max_segment_tokens=self.selfplay.max_segment_tokens,
            num_reasoner_attempts=self.selfplay.num_answers,
            challenger_reward=self.selfplay.challenger_reward,
            reasoner_reward=self.selfplay.reasoner_reward,
            task_types=self.selfplay.task_types,
            **self.selfplay.env_kwargs,
        )
        self._make_env = lambda: gym.make(spice_env.ENV_ID, **self._env_kwargs)
        self._envs: list[Any] = []

        # -- what a task comes from: the corpus (self-play) or a fixed task file --
        self.tasks: list[dict[str, Any]] | None = None
        if self.selfplay.tasks_file is not None:
            with open(self.selfplay.tasks_file, encoding="utf-8") as handle:
                self.tasks = [json.loads(line) for line in handle if line.strip()]
            if not self.tasks:
                raise ValueError(f"tasks_file {self.selfplay.tasks_file} holds no tasks")
        else:
            # A dedicated env draws documents: its RNG stream is the corpus position, the
            # same on every process, so all ranks agree on the global batch of documents.
            self.document_env = self._make_env()
            self.document_env.reset(seed=self.seed)
            self.documents_drawn = 0
        self.challenger_policy: Any = None
        if self.selfplay.challenger != "model":
            from spice_env.policies import make_policy

            self.challenger_policy = make_policy(
                self.selfplay.challenger, role="challenger", seed=self.seed + self.rank
            )

    # -- state (checkpointed) ---------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The collector's position: document sampler RNG and draws, fixed policy state."""
        state: dict[str, Any] = {"challenger_policy": self.challenger_policy}
        if self.tasks is None:
            state["document_rng"] = self.document_env.np_random.bit_generator.state
            state["documents_drawn"] = self.documents_drawn
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self.challenger_policy = state.get("challenger_policy", self.challenger_policy)
        if self.tasks is None:
            generator = np.random.Generator(np.random.PCG64())
            generator.bit_generator.state = state["document_rng"]
            self.document_env.np_random = generator
            self.documents_drawn = state["documents_drawn"]

    # -- helpers ----------------------------------------------------------------------------
    def _env(self, index: int) -> Any:
        while len(self._envs) <= index:
            self._envs.append(self._make_env())
        return self._envs[index]

    def _seed(self, *parts: Any) -> int:
        from spice_env.policies.sampling import derive_seed

        # Seeds depend on the document's *global* index, never on the rank, so env choices
        # are the same however the batch is split across processes.
        return derive_seed(self.seed, *parts) % (2**31)

    def _generate(
        self, prompts: list[Any], n: int, max_new_tokens: int, tag: tuple[Any, ...]
    ) -> list[list[Any]]:
        from spice_env.policies.sampling import SamplingParams

        params = SamplingParams(
            n=n,
            temperature=self.generation.temperature,
            top_p=self.generation.top_p,
            max_new_tokens=max_new_tokens,
            seed=self._seed("generate", self.rank, *tag),
        )
        return self.backend.generate(prompts, params)

    def _prompt_ids(self, prompt: Any, completion: Any) -> list[int]:
        if completion.prompt_token_ids is not None:
            return list(completion.prompt_token_ids)
        # Remote backends may not report the prompt's tokens; rebuild them the same way.
        if isinstance(prompt, str):
            return list(self.tokenizer(prompt, add_special_tokens=False)["input_ids"])
        encoded = self.tokenizer.apply_chat_template(prompt, add_generation_prompt=True)
        return list(encoded["input_ids"] if hasattr(encoded, "keys") else encoded)

    def _budget(self, stage: str) -> int:
        if stage == "type_selection":
            return self.generation.type_selection_max_new_tokens
        if stage == "generation":
            return self.generation.challenger_max_new_tokens
        return self.generation.reasoner_max_new_tokens

    # -- one iteration ----------------------------------------------------------------------
    def collect(self, iteration: int) -> Rollout:
        """Play one iteration's rollouts on this process's share of the batch.

        Args:
            iteration: The iteration number (part of every seed).

        Returns:
            The samples to train on, statistics, a few example texts and phase timings.
        """
        timings: dict[str, float] = defaultdict(float)
        self._timings = timings
        self._generated_tokens = 0
        start = time.perf_counter()
        if self.tasks is not None:
            trajectories = self._tasks_phase(iteration)
            groups: dict[int, list[Trajectory]] = {t.document_index: [t] for t in trajectories}
            attempts: dict[int, list[Trajectory]] = {}
        else:
            documents = self._draw_documents()
            timings["documents"] += time.perf_counter() - start
            attempts = self._challenger_phase(iteration, documents)
            groups = self._select_groups(iteration, attempts)
            kept_valid = [t for group in groups.values() for t in group if t.valid]
            self._reasoner_phase(iteration, kept_valid)
            if self.selfplay.repetition_penalty:
                self._apply_repetition_penalty(kept_valid)
        samples, examples = self._build_samples(iteration, groups)
        stats = self._rollout_stats(attempts, groups, samples)
        timings["rollout_total"] = time.perf_counter() - start
        return Rollout(samples=samples, stats=stats, examples=examples, timings=dict(timings))

    def _draw_documents(self) -> list[tuple[int, str]]:
        """B documents (global index, id); this process keeps every world-th one."""
        drawn = []
        for _ in range(self.selfplay.batch_documents):
            _, info = self.document_env.reset()
            drawn.append((self.documents_drawn, info["document_id"]))
            self.documents_drawn += 1
        return drawn[self.rank :: self.world]

    def _challenger_phase(
        self, iteration: int, documents: list[tuple[int, str]]
    ) -> dict[int, list[Trajectory]]:
        """Rounds of G Challenger trajectories per document until one is valid or N are spent."""
        group_size, max_attempts = self.selfplay.group_size, self.selfplay.max_attempts
        attempts: dict[int, list[Trajectory]] = {index: [] for index, _ in documents}
        pending = list(documents)
        round_index = 0
        while pending:
            jobs = [
                (index, doc_id, slot) for index, doc_id in pending for slot in range(group_size)
            ]
            for trajectory in self._play_challenger(iteration, round_index, jobs):
                attempts[trajectory.document_index].append(trajectory)
            round_index += 1
            pending = [
                (index, doc_id)
                for index, doc_id in pending
                if not any(t.valid for t in attempts[index])
                and len(attempts[index]) + group_size <= max_attempts
            ]
        return attempts

    def _play_challenger(
        self, iteration: int, round_index: int, jobs: list[tuple[int, str, int]]
    ) -> list[Trajectory]:
        """Play Challenger episodes in lockstep: one generate call per stage for all of them."""
        trajectories = [Trajectory(document_index=i, document_id=d) for i, d, _ in jobs]
        observations: list[Any] = [None] * len(jobs)
        infos: list[dict[str, Any]] = [{}] * len(jobs)
        tic = time.perf_counter()
        for slot, (index, doc_id, member) in enumerate(jobs):
            seed = self._seed("challenger", iteration, index, round_index, member)
            observations[slot], infos[slot] = self._env(slot).reset(
                seed=seed, options={"document_id": doc_id}
            )
        self._timings["challenger_env"] += time.perf_counter() - tic
        live = list(range(len(jobs)))
        while live:
            by_stage: dict[str, list[int]] = defaultdict(list)
            for slot in live:
                by_stage[infos[slot]["stage"]].append(slot)
            live = []
            for stage, members in by_stage.items():
                prompts = [infos[slot]["messages"] for slot in members]
                tic = time.perf_counter()
                if self.challenger_policy is None:
                    outputs = self._generate(
                        prompts,
                        1,
                        self._budget(stage),
                        ("challenger", iteration, round_index, stage),
                    )
                    completions = [out[0] for out in outputs]
                    texts = [c.text for c in completions]
                else:
                    completions = [None] * len(members)
                    texts = self.challenger_policy.act_batch(
                        [observations[s] for s in members], [infos[s] for s in members]
                    )
                self._timings["challenger_generation"] += time.perf_counter() - tic
                tic = time.perf_counter()
                for slot, prompt, completion, text in zip(members, prompts, completions, texts):
                    if completion is not None:
                        self._generated_tokens += len(completion.token_ids)
                        trajectories[slot].turns.append(
                            {
                                "stage": stage,
                                "prompt": prompt,
                                "prompt_ids": self._prompt_ids(prompt, completion),
                                "completion_ids": list(completion.token_ids),
                                "logprobs": completion.logprobs,
                                "finish_reason": completion.finish_reason,
                                "text": text,
                            }
                        )
                    observations[slot], _, terminated, truncated, infos[slot] = self._env(
                        slot
                    ).step(text)
                    trajectory = trajectories[slot]
                    if terminated or truncated:  # an invalid task ends the episode
                        episode = infos[slot]["episode"]
                        trajectory.valid = False
                        trajectory.invalid_reason = episode["invalid_reason"]
                        trajectory.challenger_reward = float(episode["rewards"]["challenger"])
                        trajectory.task = episode.get("task")
                    elif infos[slot]["role"] == "reasoner":  # a valid task: the K answers later
                        trajectory.valid = True
                        trajectory.task = infos[slot]["task"]
                    else:
                        live.append(slot)
                self._timings["challenger_env"] += time.perf_counter() - tic
        return trajectories

    def _select_groups(
        self, iteration: int, attempts: dict[int, list[Trajectory]]
    ) -> dict[int, list[Trajectory]]:
        """Sub-sample G attempts per document, keeping the valid:invalid ratio."""
        groups = {}
        for index, tried in attempts.items():
            rng = np.random.default_rng(self._seed("subsample", iteration, index))
            valid = [i for i, t in enumerate(tried) if t.valid]
            invalid = [i for i, t in enumerate(tried) if not t.valid]
            kept = subsample_preserving_ratio(valid, invalid, self.selfplay.group_size, rng)
            groups[index] = [tried[i] for i in kept]
        return groups

    def _reasoner_phase(self, iteration: int, trajectories: list[Trajectory]) -> None:
        """K answers for every kept valid task: one generate call with ``n=K`` for all."""
        if not trajectories:
            return
        k = self.selfplay.num_answers
        tic = time.perf_counter()
        prompts, envs = [], []
        for slot, trajectory in enumerate(trajectories):
            env = self._env(slot)
            seed = self._seed("reasoner", iteration, trajectory.document_index, slot)
            _, info = env.reset(seed=seed, options={"task": trajectory.task})
            # Base models get the env's plain-text prompt; chat models the messages.
            prompts.append(info.get("prompt") or info["messages"])
            envs.append(env)
        self._timings["reasoner_env"] += time.perf_counter() - tic
        tic = time.perf_counter()
        outputs = self._generate(prompts, k, self._budget("answering"), ("reasoner", iteration))
        self._timings["reasoner_generation"] += time.perf_counter() - tic
        tic = time.perf_counter()
        for trajectory, env, prompt, completions in zip(trajectories, envs, prompts, outputs):
            info: dict[str, Any] = {}
            for completion in completions:
                self._generated_tokens += len(completion.token_ids)
                _, _, terminated, _, info = env.step(completion.text)
                trajectory.answers.append(
                    {
                        "prompt": prompt,
                        "prompt_ids": self._prompt_ids(prompt, completion),
                        "completion_ids": list(completion.token_ids),
                        "logprobs": completion.logprobs,
                        "finish_reason": completion.finish_reason,
                        "text": completion.text,
                    }
                )
            episode = info["episode"]
            trajectory.challenger_reward = float(episode["rewards"]["challenger"])
            trajectory.reasoner_rewards = [float(r) for r in episode["rewards"]["reasoner"]]
            trajectory.pass_rate = episode["pass_rate"]
        self._timings["reasoner_env"] += time.perf_counter() - tic

    def _tasks_phase(self, iteration: int) -> list[Trajectory]:
        """Reasoner-only training: draw B tasks from the task file; this rank's share."""
        assert self.tasks is not None
        rng = np.random.default_rng(self._seed("tasks", iteration))
        size = self.selfplay.batch_documents
        picks = rng.choice(len(self.tasks), size, replace=size > len(self.tasks))
        trajectories = [
            Trajectory(
                document_index=g,
                document_id=str(self.tasks[int(i)].get("document_id")),
                valid=True,
                task=self.tasks[int(i)],
            )
            for g, i in enumerate(picks)
        ][self.rank :: self.world]
        self._reasoner_phase(iteration, trajectories)
        return trajectories

    def _apply_repetition_penalty(self, trajectories: list[Trajectory]) -> None:
        from spice_env.rewards import repetition_penalties

        questions = [str((t.task or {}).get("question", "")) for t in trajectories]
        for trajectory, penalty in zip(trajectories, repetition_penalties(questions)):
            trajectory.challenger_reward -= penalty

    # -- samples and statistics -------------------------------------------------------------
    def _build_samples(
        self, iteration: int, groups: dict[int, list[Trajectory]]
    ) -> tuple[list[Sample], list[dict[str, Any]]]:
        """Role-specific advantages, then one :class:`Sample` per generated sequence."""
        samples: list[Sample] = []
        self._reasoner_groups: list[Trajectory] = []
        for index, group in groups.items():
            # Challenger: the G trajectories of one document (none for task-file training).
            if self.tasks is None and self.challenger_policy is None:
                advantages = group_advantages([t.challenger_reward for t in group])
                for trajectory, advantage in zip(group, advantages):
                    for turn in trajectory.turns:
                        samples.append(
                            self._sample(
                                "challenger",
                                turn,
                                advantage,
                                trajectory.challenger_reward,
                                f"c{index}",
                            )
                        )
            # Reasoner: the K answers to one valid task of the document, drawn at random.
            valid = [t for t in group if t.valid and t.answers]
            if not valid:
                continue
            rng = np.random.default_rng(self._seed("reasoner_group", iteration, index))
            chosen = valid[int(rng.integers(len(valid)))]
            self._reasoner_groups.append(chosen)
            advantages = group_advantages(chosen.reasoner_rewards)
            for answer, reward, advantage in zip(
                chosen.answers, chosen.reasoner_rewards, advantages
            ):
                samples.append(
                    self._sample(
                        "reasoner", {**answer, "stage": "answering"}, advantage, reward, f"r{index}"
                    )
                )
        samples = [s for s in samples if s.completion_ids]
        examples = self._examples(groups)
        return samples, examples

    def _sample(
        self, role: str, turn: dict[str, Any], advantage: float, reward: float, group: str
    ) -> Sample:
        return Sample(
            role=role,
            stage=turn["stage"],
            prompt_ids=turn["prompt_ids"],
            completion_ids=turn["completion_ids"],
            advantage=advantage,
            reward=reward,
            max_new_tokens=self._budget(turn["stage"]),
            sampler_logprobs=turn.get("logprobs"),
            group=group,
        )

    def _examples(self, groups: dict[int, list[Trajectory]]) -> list[dict[str, Any]]:
        count = self.config.run.log_samples
        examples: list[dict[str, Any]] = []
        for group in list(groups.values())[:count]:
            trajectory = group[0]
            examples.append(
                {
                    "document_id": trajectory.document_id,
                    "challenger": [t["text"] for t in trajectory.turns],
                    "valid": trajectory.valid,
                    "invalid_reason": trajectory.invalid_reason,
                    "task": trajectory.task,
                    "answers": [a["text"] for a in trajectory.answers[:2]],
                    "challenger_reward": trajectory.challenger_reward,
                    "reasoner_rewards": trajectory.reasoner_rewards,
                }
            )
        return examples

    def _rollout_stats(
        self,
        attempts: dict[int, list[Trajectory]],
        groups: dict[int, list[Trajectory]],
        samples: list[Sample],
    ) -> dict[str, Any]:
        """Raw per-process numbers; :func:`merge_rollout_stats` combines the processes."""
        tried = [t for ts in attempts.values() for t in ts]
        kept = [t for ts in groups.values() for t in ts]
        kept_valid = [t for t in kept if t.valid]
        lengths: dict[str, list[int]] = defaultdict(list)
        truncated: dict[str, list[int]] = defaultdict(list)
        for trajectory in tried:
            for turn in trajectory.turns:
                lengths[turn["stage"]].append(len(turn["completion_ids"]))
                truncated[turn["stage"]].append(int(turn["finish_reason"] == "length"))
        for trajectory in kept_valid:
            for answer in trajectory.answers:
                lengths["answering"].append(len(answer["completion_ids"]))
                truncated["answering"].append(int(answer["finish_reason"] == "length"))
        return {
            "documents": len(groups),
            "attempts": len(tried),
            "valid_attempts": sum(t.valid for t in tried),
            "documents_without_valid": sum(
                not any(t.valid for t in ts) for ts in attempts.values()
            ),
            "invalid_reasons": Counter(t.invalid_reason for t in tried if not t.valid),
            "task_types": Counter(str((t.task or {}).get("task_type")) for t in kept_valid),
            "challenger_rewards": [t.challenger_reward for t in kept] if self.tasks is None else [],
            "pass_rates": [t.pass_rate for t in kept_valid if t.pass_rate is not None],
            "reasoner_rewards_all": [r for t in kept_valid for r in t.reasoner_rewards],
            "reasoner_rewards_trained": [
                r for t in self._reasoner_groups for r in t.reasoner_rewards
            ],
            "completion_lengths": dict(lengths),
            "truncated": dict(truncated),
            "prompt_lengths": [len(s.prompt_ids) for s in samples],
            "generated_tokens": self._generated_tokens,
            "zero_advantage_samples": sum(s.advantage == 0 for s in samples),
            "samples": Counter(s.role for s in samples),
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
            "valid_rate": total("valid_attempts") / attempts if attempts else None,
            "documents_without_valid": total("documents_without_valid"),
            "invalid_reasons": counted("invalid_reasons"),
            "task_types": counted("task_types"),
        },
        "pass_rate": {"mean": mean(pass_rates), "histogram": histogram(pass_rates, num_answers)},
        "length": {
            **{f"{stage}_mean": mean(values) for stage, values in lengths.items()},
            **{f"{stage}_truncated": mean(values) for stage, values in truncated.items()},
            "prompt_mean": mean(joined("prompt_lengths")),
        },
        "samples": {
            "challenger": samples.get("challenger", 0),
            "reasoner": samples.get("reasoner", 0),
            "zero_advantage": total("zero_advantage_samples"),
        },
        "generated_tokens": total("generated_tokens"),
    }


# ==================================================================================== loss
def sequence_logprobs(
    model: Any,
    samples: Sequence[Sample],
    *,
    pad_token_id: int,
    temperature: float = 1.0,
    device: Any = None,
    with_entropy: bool = False,
) -> tuple[Any, Any, Any]:
    """Per-token log-probabilities of the samples' completions under ``model``.

    Prompts are left-padded and completions right-padded, so every completion starts at the
    same column and only the completion positions go through the LM head
    (``logits_to_keep``); explicit position ids make padding invisible to the model.

    Args:
        model: A causal LM (possibly wrapped by DDP/FSDP/DeepSpeed).
        samples: The sequences.
        pad_token_id: Padding id (its positions are masked out).
        temperature: Logits are divided by it, matching how the tokens were sampled.
        device: Where to put the batch.
        with_entropy: Also return the per-token entropy (no gradient).

    Returns:
        ``(logprobs [N, C], mask [N, C], entropy [N, C] or None)`` with C the longest
        completion.
    """
    import torch

    prompt_len = max(len(s.prompt_ids) for s in samples)
    completion_len = max(len(s.completion_ids) for s in samples)
    rows, attention, completion_mask = [], [], []
    for s in samples:
        left = prompt_len - len(s.prompt_ids)
        right = completion_len - len(s.completion_ids)
        rows.append(
            [pad_token_id] * left + s.prompt_ids + s.completion_ids + [pad_token_id] * right
        )
        attention.append(
            [0] * left + [1] * (len(s.prompt_ids) + len(s.completion_ids)) + [0] * right
        )
        completion_mask.append([1] * len(s.completion_ids) + [0] * right)
    input_ids = torch.tensor(rows, dtype=torch.long, device=device)
    attention_mask = torch.tensor(attention, dtype=torch.long, device=device)
    mask = torch.tensor(completion_mask, dtype=torch.float32, device=device)
    position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)
    logits = model(
        input_ids=input_ids,
        attention_mask=attention_mask,
        position_ids=position_ids,
        logits_to_keep=completion_len + 1,
        use_cache=False,
    ).logits
    # The logit at column j predicts the token at column j + 1: drop the last one.
    logits = logits[:, :-1, :].float() / temperature
    targets = input_ids[:, prompt_len:]
    log_norm = torch.logsumexp(logits, dim=-1)
    logprobs = logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1) - log_norm
    entropy = None
    if with_entropy:
        with torch.no_grad():
            probs = torch.softmax(logits, dim=-1)
            entropy = log_norm - (probs * logits).sum(-1)
    return logprobs * mask, mask, entropy


def dr_grpo_loss(
    logprobs: Any,
    old_logprobs: Any,
    advantages: Any,
    mask: Any,
    token_weights: Any,
    *,
    clip_eps_low: float = 0.2,
    clip_eps_high: float = 0.2,
    ref_logprobs: Any = None,
    kl_coef: float = 0.0,
) -> tuple[Any, dict[str, Any]]:
    """Dr. GRPO's clipped token-level policy-gradient loss (plus an optional k3 KL term).

    ``loss = sum_i w_i sum_t [ -min(rho A_i, clip(rho, 1-eps_low, 1+eps_high) A_i)
    + beta KL_t ]`` where ``rho = exp(logp - logp_old)`` and ``w_i`` is a constant per
    sequence (1 / (max_new_tokens x number of sequences)), never 1 / its own length.

    Args:
        logprobs: ``[N, C]`` current log-probabilities (with gradient).
        old_logprobs: ``[N, C]`` log-probabilities of the policy that sampled (no gradient).
        advantages: ``[N]`` one advantage per sequence.
        mask: ``[N, C]`` 1 on completion tokens.
        token_weights: ``[N]`` the constant normalizer of each sequence.
        clip_eps_low: Lower clip range.
        clip_eps_high: Upper clip range.
        ref_logprobs: ``[N, C]`` log-probabilities of the reference model, or ``None``.
        kl_coef: Weight of the KL term.

    Returns:
        ``(loss, terms)``: the scalar loss and detached sums of its terms (``policy``, ``kl``,
        and the per-token ``clipped`` and ``ratio`` statistics) weighted like the loss.
    """
    import torch

    log_ratio = logprobs - old_logprobs
    ratio = torch.exp(log_ratio)
    adv = advantages.unsqueeze(-1)
    unclipped = ratio * adv
    clipped = torch.clamp(ratio, 1.0 - clip_eps_low, 1.0 + clip_eps_high) * adv
    policy_per_token = -torch.minimum(unclipped, clipped)
    weights = token_weights.unsqueeze(-1) * mask
    policy = (policy_per_token * weights).sum()
    loss = policy
    kl_sum = torch.zeros((), device=logprobs.device)
    if ref_logprobs is not None:
        delta = ref_logprobs - logprobs
        kl_per_token = torch.exp(delta) - delta - 1.0  # k3: unbiased, always >= 0
        kl_sum = (kl_per_token * weights).sum()
        loss = loss + kl_coef * kl_sum
    with torch.no_grad():
        is_clipped = (clipped < unclipped).float() * mask
        terms = {
            "policy": policy.detach(),
            "kl": kl_sum.detach(),
            "clipped_tokens": is_clipped.sum(),
            "ratio_sum": (ratio * mask).sum(),
            "tokens": mask.sum(),
        }
    return loss, terms


# ================================================================================= trainer
def load_model_and_tokenizer(config: TrainConfig) -> tuple[Any, Any]:
    """Build or load the model both roles share, and its tokenizer.

    Returns:
        ``(model, tokenizer)``; the model is in float32 (mixed precision is applied by
        ``accelerate`` so the optimizer keeps float32 master weights even with a 1e-6 rate).
    """
    import torch

    spec = config.model
    if spec.model == "tiny":
        from spice_agents.tiny import build_tiny_model, build_tiny_tokenizer

        tokenizer = build_tiny_tokenizer(spec.tiny_vocab_size)
        model = build_tiny_model(
            tokenizer,
            hidden_size=spec.tiny_hidden_size,
            num_layers=spec.tiny_layers,
            num_heads=spec.tiny_heads,
            intermediate_size=2 * spec.tiny_hidden_size,
            seed=config.run.seed,
        )
    elif spec.model.startswith("random:"):
        from spice_agents.tiny import build_random_model, build_tiny_tokenizer

        tokenizer = build_tiny_tokenizer(spec.tiny_vocab_size)
        model = build_random_model(spec.model.split(":", 1)[1], tokenizer, seed=config.run.seed)
    elif spec.model in ("smollm2", "smollm2-135m-instruct"):
        from spice_env.policies.smollm2 import load_smollm2

        model, tokenizer = load_smollm2(dtype=torch.float32)
    else:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        kwargs: dict[str, Any] = {"dtype": torch.float32}
        if spec.attn_implementation:
            kwargs["attn_implementation"] = spec.attn_implementation
        model = AutoModelForCausalLM.from_pretrained(spec.model, **kwargs)
        tokenizer = AutoTokenizer.from_pretrained(spec.model)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    if spec.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.train()
    return model, tokenizer


def _mixed_precision(config: TrainConfig) -> str:
    import torch

    dtype = config.model.dtype
    if dtype == "auto":
        use_bf16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
        return "bf16" if use_bf16 else "no"
    return {"float32": "no", "bfloat16": "bf16", "float16": "fp16"}[dtype]


def _make_backend(config: TrainConfig, model: Any, tokenizer: Any, device: Any) -> Any:
    if config.generation.backend == "vllm":
        from spice_env.policies.vllm_backend import VLLMBackend  # GPU only

        # Its own copy of the weights: the trainer pushes new ones after every update.
        return VLLMBackend(
            config.model.model,
            seed=config.run.seed,
            gpu_memory_utilization=config.generation.vllm_gpu_memory_utilization,
        )
    from spice_env.policies.hf import HFBackend

    # The backend generates with the very model object being trained: no weight copies.
    return HFBackend(
        model, tokenizer, device=device, batch_size=config.generation.generation_batch_size
    )


class GRPOTrainer:
    """Trains one model in both SPICE roles with Dr. GRPO.

    Args:
        config: The run configuration.
        accelerator: An ``accelerate.Accelerator``; one is made from the config if ``None``
            (under ``accelerate launch`` it picks up the launcher's settings).
        model: A model to train instead of loading ``config.model`` (tokenizer required too).
        tokenizer: Its tokenizer.
        backend: A generation backend instead of the configured one.
    """

    def __init__(
        self,
        config: TrainConfig,
        *,
        accelerator: Any = None,
        model: Any = None,
        tokenizer: Any = None,
        backend: Any = None,
    ) -> None:
        import torch
        from accelerate import Accelerator
        from accelerate.utils import set_seed

        self.config = config
        if config.run.torch_threads:
            torch.set_num_threads(config.run.torch_threads)
        # Without CUDA, say so: accelerate then joins the processes of a multi-process launch
        # over gloo (MULTI_CPU) instead of leaving each one to train alone.
        self.accelerator = accelerator or Accelerator(
            mixed_precision=_mixed_precision(config), cpu=not torch.cuda.is_available()
        )
        set_seed(config.run.seed)  # python, numpy and torch: the same start on every process
        self.run_dir = Path(config.run.output_dir)
        self.iteration = 0
        self._stop_signal: int | None = None

        # -- model (shared by both roles), reference model, optimizer, schedule --
        if model is None:
            model, tokenizer = load_model_and_tokenizer(config)
        elif tokenizer is None:
            raise ValueError("pass the tokenizer together with the model")
        self.tokenizer = tokenizer
        self.reference = None
        if config.optim.kl_coef > 0:
            self.reference = copy.deepcopy(model).eval().requires_grad_(False)
            self.reference.to(self.accelerator.device)
        optim = config.optim
        optimizer = torch.optim.AdamW(
            [p for p in model.parameters() if p.requires_grad],
            lr=optim.learning_rate,
            betas=(optim.adam_beta1, optim.adam_beta2),
            eps=optim.adam_eps,
            weight_decay=optim.weight_decay,
        )
        warmup = optim.warmup_steps
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: min(1.0, (step + 1) / warmup) if warmup else 1.0
        )
        self.model, self.optimizer, self.scheduler = self.accelerator.prepare(
            model, optimizer, scheduler
        )
        self.backend = backend or _make_backend(
            config, self.accelerator.unwrap_model(self.model), tokenizer, self.accelerator.device
        )
        self.collector = SelfPlayCollector(
            config,
            self.backend,
            tokenizer,
            process_index=self.accelerator.process_index,
            num_processes=self.accelerator.num_processes,
        )
        self.metrics: MetricsLogger | None = None

    # -- the outer loop ---------------------------------------------------------------------
    def train(self, *, resume: str | Path | bool | None = None) -> list[dict[str, Any]]:
        """Run (or continue) training to ``config.run.iterations``.

        Args:
            resume: ``True`` for the run folder's latest checkpoint, or a checkpoint path.

        Returns:
            The metrics records of the iterations run by this call.
        """
        from spice_agents.checkpoint import latest_checkpoint
        from tqdm.auto import tqdm

        is_main = self.accelerator.is_main_process
        resumed_at = None
        if resume:
            path = latest_checkpoint(self.run_dir) if resume is True else Path(resume)
            if path is None:
                raise FileNotFoundError(
                    f"no checkpoint to resume from in {self.run_dir}/checkpoints"
                )
            self.load(path)
            resumed_at = self.iteration
        if is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            (self.run_dir / "config.json").write_text(self.config.to_json())
            _truncate_jsonl(self.run_dir / "samples.jsonl", resumed_at)
        self.metrics = MetricsLogger(
            self.run_dir,
            enabled=is_main,
            tensorboard=self.config.run.tensorboard,
            resume_iteration=resumed_at,
        )
        records: list[dict[str, Any]] = []
        run = self.config.run
        bar = tqdm(
            total=run.iterations,
            initial=self.iteration,
            unit="it",
            desc="spice",
            disable=not (run.progress and is_main),
            dynamic_ncols=True,
        )
        previous = self._install_signal_handlers()
        try:
            while self.iteration < run.iterations:
                record = self.train_iteration()
                records.append(record)
                bar.update(1)
                bar.set_postfix(_postfix(record))
                stop = self._any_process_stopping()
                due = run.checkpoint_every and self.iteration % run.checkpoint_every == 0
                if stop or due or self.iteration == run.iterations:
                    self.save()
                if stop:
                    self._stop_signal = self._stop_signal or signal.SIGTERM
                    bar.write(
                        f"stopped by a signal after iteration {self.iteration}; "
                        "checkpoint saved, continue with --resume"
                    )
                    break
        finally:
            self._restore_signal_handlers(previous)
            bar.close()
            self.metrics.close()
        if self.iteration == run.iterations and not self.stopped:
            self._finish()
        return records

    @property
    def stopped(self) -> bool:
        """Whether the last :meth:`train` call ended early because of a signal."""
        return self._stop_signal is not None

    def train_iteration(self) -> dict[str, Any]:
        """One iteration: rollouts, update, weight sync, metrics."""
        from accelerate.utils import gather_object

        tic = time.perf_counter()
        self.model.eval()  # generation: no dropout
        rollout = self.collector.collect(self.iteration)
        self.model.train()
        update = self.update(rollout.samples)
        sync_seconds = self._sync_weights()
        self.iteration += 1

        # -- one metrics record: rollout statistics of all processes, then the update --
        per_process = gather_object([rollout.stats])
        record: dict[str, Any] = {"iteration": self.iteration}
        record.update(merge_rollout_stats(per_process, self.config.selfplay.num_answers))
        update_time = update.pop("time")
        train_tokens = update.pop("train_tokens")
        record.update(update)
        seconds = {**rollout.timings, **update_time, "weight_sync": sync_seconds}
        seconds["iteration"] = time.perf_counter() - tic
        record["time"] = {phase: round(value, 4) for phase, value in seconds.items()}
        generating = seconds.get("challenger_generation", 0.0) + seconds.get(
            "reasoner_generation", 0.0
        )
        trained = record["samples"]["challenger"] + record["samples"]["reasoner"]
        # Tokens of all processes over this process's seconds: the throughput of the job.
        record["throughput"] = {
            "generated_tokens_per_s": record["generated_tokens"] / generating
            if generating
            else None,
            "train_tokens_per_s": train_tokens / update_time["update"]
            if update_time["update"]
            else None,
            "samples_per_s": trained / seconds["iteration"],
        }
        if self.metrics is not None:
            self.metrics.log(record)
        if self.accelerator.is_main_process and rollout.examples:
            with (self.run_dir / "samples.jsonl").open("a", encoding="utf-8") as handle:
                for example in rollout.examples:
                    handle.write(json.dumps({"iteration": self.iteration, **example}) + "\n")
        return record

    # -- the update ---------------------------------------------------------------------------
    def update(self, samples: list[Sample]) -> dict[str, Any]:
        """Dr. GRPO update on this process's samples (a collective call under DDP).

        The loss of each sequence is its token sum times the constant
        ``1 / (max_new_tokens x S)`` where S is the number of sequences in the *global*
        (all-process) minibatch; multiplying by the world size undoes DDP's gradient mean,
        so the gradient is the same as one process with the whole batch.

        Returns:
            Metrics: every loss term, KL, entropy, clip fraction, ratio, gradient norm,
            learning rate, and the time spent.
        """
        import torch

        tic = time.perf_counter()
        acc = self.accelerator
        optim = self.config.optim
        world = acc.num_processes
        device = acc.device
        temperature = self.config.generation.temperature
        pad = self.tokenizer.pad_token_id

        # Zero-advantage sequences have zero policy gradient; skipping them is exact when
        # there is no KL term, and they still count in the normalizer S.
        trained = [
            s
            for s in samples
            if s.advantage != 0.0 or not optim.skip_zero_advantage or optim.kl_coef > 0
        ]
        minibatches = [trained[i :: optim.minibatches] for i in range(optim.minibatches)]
        counts = torch.tensor([len(samples)], dtype=torch.float64, device=device)
        global_samples = float(acc.reduce(counts, reduction="sum").item())
        per_minibatch = max(global_samples / optim.minibatches, 1.0)

        # Stored log-probabilities: the sampling policy (for the ratio) and the reference.
        needs_old = optim.updates_per_batch > 1 or optim.minibatches > 1
        old_tic = time.perf_counter()
        old_logprobs = self._score(trained, self.model) if needs_old else None
        ref_logprobs = self._score(trained, self.reference) if self.reference is not None else None
        old_seconds = time.perf_counter() - old_tic

        sums: dict[str, float] = defaultdict(float)
        grad_norms: list[float] = []
        for _epoch in range(optim.updates_per_batch):
            for minibatch in minibatches:
                micro = [
                    minibatch[i : i + optim.micro_batch_size]
                    for i in range(0, len(minibatch), optim.micro_batch_size)
                ]
                # Every process must run the same number of backward passes (each one
                # all-reduces); processes with fewer sequences run weight-0 dummies.
                local = torch.tensor([len(micro)], device=device)
                steps = int(acc.gather(local).max().item())
                for step in range(steps):
                    chunk = micro[step] if step < len(micro) else []
                    last = step == steps - 1
                    context = nullcontext() if last else acc.no_sync(self.model)
                    with context:
                        loss, terms = self._micro_step(
                            chunk,
                            old_logprobs,
                            ref_logprobs,
                            world,
                            per_minibatch,
                            temperature,
                            pad,
                            device,
                        )
                        acc.backward(loss)
                    for key, value in terms.items():
                        sums[key] += float(value)
                grad_norm = (
                    acc.clip_grad_norm_(self.model.parameters(), optim.max_grad_norm)
                    if optim.max_grad_norm > 0
                    else _grad_norm(self.model)
                )
                grad_norms.append(float(grad_norm))
                self.optimizer.step()
                self.scheduler.step()
                self.optimizer.zero_grad(set_to_none=True)

        # -- metrics: sum each term over processes; the loss matches one process exactly --
        keys = sorted(sums)
        totals = (
            acc.reduce(
                torch.tensor([sums[k] for k in keys], dtype=torch.float64, device=device),
                reduction="sum",
            ).tolist()
            if keys
            else []
        )
        summed = dict(zip(keys, totals))
        tokens = summed.get("tokens", 0.0)
        # Each minibatch is normalized by S / minibatches, so one epoch's sum over its
        # minibatches is `minibatches` times the loss of the whole batch: the logged losses
        # are the mean over the optimizer steps of the batch loss (one step when on-policy).
        steps = optim.minibatches * optim.updates_per_batch
        policy = summed.get("policy", 0.0) / steps
        kl = summed.get("kl", 0.0) / steps
        metrics = {
            "loss": {
                "total": policy + optim.kl_coef * kl,
                "policy": policy,
                "policy_challenger": summed.get("policy_challenger", 0.0) / steps,
                "policy_reasoner": summed.get("policy_reasoner", 0.0) / steps,
                "kl": optim.kl_coef * kl,
            },
            "kl": {
                "reference": summed.get("kl_mean_sum", 0.0) / tokens
                if tokens and self.reference is not None
                else None,
                "sampler": summed["sampler_kl_sum"] / summed["sampler_tokens"]
                if summed.get("sampler_tokens")
                else None,
            },
            "entropy": {
                role: summed.get(f"entropy_{role}", 0.0) / summed[f"tokens_{role}"]
                if summed.get(f"tokens_{role}")
                else None
                for role in ROLES
            },
            "clip_fraction": summed.get("clipped_tokens", 0.0) / tokens if tokens else None,
            "ratio_mean": summed.get("ratio_sum", 0.0) / tokens if tokens else None,
            "grad_norm": mean(grad_norms),
            "learning_rate": self.scheduler.get_last_lr()[0],
            "optimizer_steps": len(grad_norms),
            "advantage": {
                role: mean([abs(s.advantage) for s in samples if s.role == role]) for role in ROLES
            },
            "train_tokens": tokens,
            "time": {"update": time.perf_counter() - tic, "old_logprobs": old_seconds},
        }
        return metrics

    def _micro_step(
        self,
        chunk: list[Sample],
        old_logprobs: dict[int, Any] | None,
        ref_logprobs: dict[int, Any] | None,
        world: int,
        per_minibatch: float,
        temperature: float,
        pad: int,
        device: Any,
    ) -> tuple[Any, dict[str, float]]:
        """Loss of one micro-batch, scaled so that summing over micro-batches and averaging
        over processes gives the global Dr. GRPO loss."""
        import torch

        weight_scale = 1.0
        if not chunk:  # a dummy: touches every parameter, contributes nothing
            chunk = [Sample("reasoner", "answering", [pad], [pad], 0.0, 0.0, 1)]
            weight_scale = 0.0
        logprobs, mask, entropy = sequence_logprobs(
            self.model,
            chunk,
            pad_token_id=pad,
            temperature=temperature,
            device=device,
            with_entropy=True,
        )
        width = logprobs.shape[1]
        old = (
            _stack([old_logprobs[id(s)] for s in chunk], width, device)
            if old_logprobs is not None
            else logprobs.detach()
        )
        ref = (
            _stack([ref_logprobs[id(s)] for s in chunk], width, device)
            if ref_logprobs is not None
            else None
        )
        advantages = torch.tensor([s.advantage for s in chunk], dtype=torch.float32, device=device)
        # Dr. GRPO's constant normalizer, times the world size to undo DDP's gradient mean.
        base = torch.tensor(
            [weight_scale / (s.max_new_tokens * per_minibatch) for s in chunk],
            dtype=torch.float32,
            device=device,
        )
        optim = self.config.optim
        loss, terms = dr_grpo_loss(
            logprobs,
            old,
            advantages,
            mask,
            base * world,
            clip_eps_low=optim.clip_eps_low,
            clip_eps_high=optim.clip_eps_high,
            ref_logprobs=ref,
            kl_coef=optim.kl_coef,
        )
        # Logged terms use the weights without the world factor, so they add up across ranks.
        out = {
            key: float(value) / world if key in ("policy", "kl") else float(value)
            for key, value in terms.items()
        }
        with torch.no_grad():
            token_terms = (
                -torch.minimum(
                    torch.exp(logprobs - old) * advantages.unsqueeze(-1),
                    torch.clamp(
                        torch.exp(logprobs - old), 1 - optim.clip_eps_low, 1 + optim.clip_eps_high
                    )
                    * advantages.unsqueeze(-1),
                )
                * mask
                * base.unsqueeze(-1)
            )
            for role in ROLES:
                rows = torch.tensor([s.role == role for s in chunk], device=device)
                out[f"policy_{role}"] = float(token_terms[rows].sum())
                out[f"tokens_{role}"] = float((mask[rows]).sum()) * weight_scale
                out[f"entropy_{role}"] = float((entropy[rows] * mask[rows]).sum()) * weight_scale
            if ref is not None:
                delta = ref - logprobs.detach()
                out["kl_mean_sum"] = (
                    float(((torch.exp(delta) - delta - 1) * mask).sum()) * weight_scale
                )
            # Backends report temperature-1 log-probabilities: compare with ours (k3 KL) to see
            # whether generation and training see the same distribution (vLLM vs. trainer).
            if temperature == 1.0 and weight_scale and all(s.sampler_logprobs for s in chunk):
                sampler = _stack(
                    [torch.tensor(s.sampler_logprobs[:width]) for s in chunk], width, device
                )
                delta = logprobs.detach() - sampler
                out["sampler_kl_sum"] = float(((torch.exp(delta) - delta - 1) * mask).sum())
                out["sampler_tokens"] = float(mask.sum())
        out["tokens"] *= weight_scale
        out["clipped_tokens"] *= weight_scale
        out["ratio_sum"] *= weight_scale
        return loss, out

    def _score(self, samples: list[Sample], model: Any) -> dict[int, Any]:
        """Log-probabilities under ``model`` without gradient, keyed by sample identity."""
        import torch

        scores: dict[int, Any] = {}
        size = self.config.optim.micro_batch_size
        with torch.no_grad():
            for start in range(0, len(samples), size):
                chunk = samples[start : start + size]
                logprobs, _, _ = sequence_logprobs(
                    model,
                    chunk,
                    pad_token_id=self.tokenizer.pad_token_id,
                    temperature=self.config.generation.temperature,
                    device=self.accelerator.device,
                )
                for row, sample in enumerate(chunk):
                    scores[id(sample)] = logprobs[row, : len(sample.completion_ids)].detach()
        return scores

    def _sync_weights(self) -> float:
        """Push the new weights to a backend that holds its own copy (vLLM)."""
        load = getattr(self.backend, "load_weights", None)
        if load is None:
            return 0.0  # the HF backend generates with the trained model itself
        tic = time.perf_counter()
        # Every process runs its own generation engine, so each one loads the full weights
        # (DDP and ZeRO-2 keep full parameters on every process).
        state = self.accelerator.get_state_dict(self.model)
        if state:
            load(state.items())
        return time.perf_counter() - tic

    # -- checkpoints --------------------------------------------------------------------------
    def trainer_state(self) -> dict[str, Any]:
        """This process's loop state (what ``accelerate`` does not save)."""
        return {
            "iteration": self.iteration,
            "collector": self.collector.state_dict(),
            "config": self.config.to_dict(),
        }

    def save(self) -> Path:
        """Checkpoint now (all processes must call it)."""
        from spice_agents.checkpoint import save_checkpoint

        return save_checkpoint(
            self.accelerator,
            self.run_dir,
            self.iteration,
            self.trainer_state(),
            keep=self.config.run.keep_checkpoints,
        )

    def load(self, path: str | Path) -> None:
        """Restore a checkpoint written by :meth:`save`."""
        from spice_agents.checkpoint import load_checkpoint

        state = load_checkpoint(self.accelerator, path)
        self.iteration = int(state["iteration"])
        self.collector.load_state_dict(state["collector"])

    def _finish(self) -> None:
        if self.accelerator.is_main_process and self.config.run.save_final_model:
            final = self.run_dir / "final"
            self.accelerator.unwrap_model(self.model).save_pretrained(final)
            self.tokenizer.save_pretrained(final)
        if self.accelerator.is_main_process and self.config.run.plot:
            from spice_agents.plotting import plot_run

            plot_run(self.run_dir)
        self.accelerator.wait_for_everyone()

    # -- signals ------------------------------------------------------------------------------
    def _install_signal_handlers(self) -> dict[int, Any]:
        """SIGTERM/SIGINT: finish the iteration, checkpoint, stop. A second SIGINT aborts."""
        previous: dict[int, Any] = {}

        def handler(signum: int, _frame: Any) -> None:
            if self._stop_signal is not None and signum == signal.SIGINT:
                raise KeyboardInterrupt
            self._stop_signal = signum

        try:
            for signum in (signal.SIGTERM, signal.SIGINT):
                previous[signum] = signal.signal(signum, handler)
        except ValueError:  # not the main thread: leave signals alone
            return {}
        return previous

    @staticmethod
    def _restore_signal_handlers(previous: dict[int, Any]) -> None:
        for signum, old in previous.items():
            signal.signal(signum, old)

    def _any_process_stopping(self) -> bool:
        import torch

        flag = torch.tensor(
            [1.0 if self._stop_signal is not None else 0.0], device=self.accelerator.device
        )
        return bool(self.accelerator.reduce(flag, reduction="sum").item() > 0)


def _truncate_jsonl(path: Path, last_iteration: int | None) -> None:
    """Drop records written after the checkpoint we resume from (all of them on a new run)."""
    if not path.exists():
        return
    if last_iteration is None:
        path.unlink()
        return
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [line for line in lines if json.loads(line).get("iteration", 0) <= last_iteration]
    path.write_text("".join(kept), encoding="utf-8")


def _stack(rows: list[Any], width: int, device: Any) -> Any:
    import torch

    out = torch.zeros(len(rows), width, dtype=torch.float32, device=device)
    for index, row in enumerate(rows):
        out[index, : row.shape[0]] = row
    return out


def _grad_norm(model: Any) -> float:
    norms = [p.grad.detach().float().norm() ** 2 for p in model.parameters() if p.grad is not None]
    return float(sum(norms) ** 0.5) if norms else 0.0


def _postfix(record: dict[str, Any]) -> dict[str, str]:
    def fmt(value: Any) -> str:
        return "n/a" if value is None else f"{value:.3f}"

    return {
        "r_C": fmt(record["reward"]["challenger"]),
        "r_R": fmt(record["reward"]["reasoner"]),
        "valid": fmt(record["challenger"]["valid_rate"]),
        "loss": f"{record['loss']['total']:.4f}",
        "s/it": f"{record['time']['iteration']:.1f}",
    }


# ================================================================================ entry point
def train(config: TrainConfig, *, resume: str | Path | bool | None = None) -> GRPOTrainer:
    """Build a :class:`GRPOTrainer` from ``config`` and train it.

    Args:
        config: The run configuration.
        resume: ``True`` (latest checkpoint of the run folder) or a checkpoint path.

    Returns:
        The trainer (its ``iteration``, ``model`` and run folder hold the results).
    """
    trainer = GRPOTrainer(config)
    trainer.train(resume=resume)
    return trainer
