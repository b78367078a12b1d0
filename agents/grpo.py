"""Dr. GRPO for SPICE self-play: one model, two roles, role-specific advantages.

The algorithm reads top to bottom in this file (CleanRL style); the rollouts that feed it
are in ``spice_agents.collector``, the model and backend in ``spice_agents.models``.

1. **Rollouts** (``SelfPlayCollector.collect``): B documents, G Challenger episodes each (up
   to N attempts), K Reasoner answers per kept valid task, all through the env's rollout
   driver. One :class:`~spice_agents.collector.Sample` per generated sequence.
2. **Advantages** (:func:`assign_advantages`): reward minus the group mean, per role, with no
   standard-deviation normalization (Dr. GRPO): the Challenger's group is the G episodes of
   one document, the Reasoner's the K answers to one question.
3. **Loss** (:func:`dr_grpo_loss`): token-level policy gradient with PPO clipping, summed
   over tokens and divided by ONE constant for every token of both roles (the longest
   generation budget times the number of sequences), never by a sequence's own length; an
   optional k3 KL to the frozen model self-play starts from (:func:`k3_kl`).
4. **Update** (:meth:`GRPOTrainer.update`): AdamW with warm-up then a constant learning rate,
   gradient accumulation over micro-batches, gradient clipping; several PPO epochs or
   minibatches reuse stored old log-probabilities. ``accelerate`` does every all-reduce, so
   the same code runs on one CPU or under ``accelerate launch`` with DDP, FSDP2 or DeepSpeed
   ZeRO-1/2 (what differs between them: ``spice_agents.distributed``).

The environment is driven only through its public API, so everything here is something your
own RL code can do too.
"""

from __future__ import annotations

import copy
import json
import signal
import time
from collections import defaultdict
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spice_agents.collector import Sample, SelfPlayCollector, merge_rollout_stats
from spice_agents.config import TrainConfig
from spice_agents.metrics import MetricsLogger, mean, pooled_letters

from spice_env.envs import ROLES

REFERENCE_FILE = "reference/model.safetensors"
"""The KL reference of a warm-started run, under its run folder (only when ``kl_coef > 0``).
A folder of its own: weights beside the run's ``config.json`` would make the run folder
look like a model folder to ``spice eval --model RUN_DIR``."""

__all__ = [
    "GRPOTrainer",
    "LossTerms",
    "assign_advantages",
    "dr_grpo_loss",
    "group_advantages",
    "k3_kl",
    "sequence_logprobs",
    "train",
]


# ============================================================================== advantages
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
    baseline = sum(rewards) / len(rewards)
    return [float(r) - baseline for r in rewards]


def assign_advantages(samples: Sequence[Sample]) -> dict[str, dict[str, int]]:
    """Set each sample's advantage from the rewards of its group (role and group id).

    A Challenger group is the G episodes of a document; an episode's turns share its reward
    and count once in the group mean, so the advantages of a group's episodes sum to zero.
    A Reasoner group is the K answers to one task.

    Returns:
        Per role, ``groups`` and ``groups_with_signal`` (groups whose advantages are not all
        zero): the learning signal of the iteration.
    """
    groups: dict[tuple[str, str], list[Sample]] = defaultdict(list)
    for sample in samples:
        groups[(sample.role, sample.group)].append(sample)
    signal_stats = {role: {"groups": 0, "groups_with_signal": 0} for role in ROLES}
    for (role, _), members in groups.items():
        episodes = {sample.episode: sample.reward for sample in members}
        advantages = dict(zip(episodes, group_advantages(list(episodes.values()))))
        for sample in members:
            sample.advantage = advantages[sample.episode]
        signal_stats[role]["groups"] += 1
        signal_stats[role]["groups_with_signal"] += int(any(advantages.values()))
    return signal_stats


# ==================================================================================== loss
def sequence_logprobs(
    model: Any,
    samples: Sequence[Sample],
    *,
    pad_token_id: int,
    temperature: float | Sequence[float] = 1.0,
    device: Any = None,
    with_entropy: bool = False,
    masks: Sequence[Any] | None = None,
) -> tuple[Any, Any, Any]:
    """Per-token log-probabilities of the samples' completions under ``model``.

    Prompts are left-padded and completions right-padded, so every completion starts at the
    same column and only the completion positions go through the LM head
    (``logits_to_keep``); explicit position ids make padding invisible to the model.

    A completion sampled under a grammar (a JSON Schema) was drawn from the *masked*
    distribution, renormalized over the tokens the grammar allowed at each step; with its
    packed allowed-token masks (``spice_env.policies.grammar.replay_masks``) the log-probs
    are those of that distribution, so the importance ratio compares the policy that sampled
    with the policy being trained. Without the masks they would be the unmasked model's.

    Args:
        model: A causal LM (possibly wrapped by DDP/FSDP/DeepSpeed).
        samples: The sequences.
        pad_token_id: Padding id (its positions are masked out).
        temperature: Logits are divided by it, matching how the tokens were sampled: one value,
            or one per sample (roles sampled at different temperatures).
        device: Where to put the batch.
        with_entropy: Also return the per-token entropy (no gradient).
        masks: Per sample, its packed allowed-token masks ``[len(completion), width]`` or
            ``None`` (unconstrained).

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
    if not isinstance(temperature, (int, float)):
        temperature = torch.tensor(
            [float(t) for t in temperature], dtype=torch.float32, device=logits.device
        ).view(-1, 1, 1)
    logits = logits[:, :-1, :].float() / temperature
    allowed = _allowed_tokens(masks, logits) if masks is not None else None
    if allowed is not None:
        logits = logits.masked_fill(~allowed, float("-inf"))
    targets = input_ids[:, prompt_len:]
    log_norm = torch.logsumexp(logits, dim=-1)
    logprobs = logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1) - log_norm
    entropy = None
    if with_entropy:
        with torch.no_grad():
            probs = torch.softmax(logits, dim=-1)
            finite = logits if allowed is None else logits.masked_fill(~allowed, 0.0)
            entropy = log_norm - (probs * finite).sum(-1)
    return logprobs * mask, mask, entropy


def _allowed_tokens(masks: Sequence[Any], logits: Any) -> Any:
    """``[N, C, V]`` booleans from per-sample packed masks (all True for unconstrained rows)."""
    import torch

    if all(m is None for m in masks):
        return None
    from spice_env.policies.grammar import unpack_bitmask

    vocab = logits.shape[-1]
    allowed = torch.ones(logits.shape, dtype=torch.bool, device=logits.device)
    for row, bitmask in enumerate(masks):
        if bitmask is not None:
            steps = min(int(bitmask.shape[0]), logits.shape[1])
            unpacked = unpack_bitmask(bitmask[:steps].to(logits.device), vocab)
            allowed[row, :steps] = False
            allowed[row, :steps, : unpacked.shape[-1]] = unpacked
    return allowed


def k3_kl(logprobs: Any, reference_logprobs: Any) -> Any:
    """Per-token k3 estimate of KL(policy || reference): ``exp(d) - d - 1``, ``d = ref - logp``.

    Unbiased for samples of the policy and never negative (Schulman's k3).
    """
    import torch

    delta = reference_logprobs - logprobs
    return torch.exp(delta) - delta - 1.0


@dataclass
class LossTerms:
    """The loss of a batch and its parts.

    Attributes:
        loss: The scalar to back-propagate (policy term plus ``kl_coef`` times the KL term).
        per_token_policy: ``[N, C]`` policy-gradient term of every token, already weighted.
        per_token_kl: ``[N, C]`` weighted k3 KL of every token (zeros without a reference).
        clipped: ``[N, C]`` 1 where the clipped surrogate was the smaller one.
        ratio: ``[N, C]`` the importance ratio ``exp(logp - logp_old)``.
    """

    loss: Any
    per_token_policy: Any
    per_token_kl: Any
    clipped: Any
    ratio: Any


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
) -> LossTerms:
    """Dr. GRPO's clipped token-level policy-gradient loss (plus an optional k3 KL term).

    ``loss = sum_i w_i sum_t [ -min(rho A_i, clip(rho, 1-eps_low, 1+eps_high) A_i)
    + beta KL_t ]`` where ``rho = exp(logp - logp_old)`` and ``w_i`` is the one constant
    normalizer ``1 / (max budget x number of sequences)``, never ``1 / its own length``.

    Args:
        logprobs: ``[N, C]`` current log-probabilities (with gradient).
        old_logprobs: ``[N, C]`` log-probabilities of the policy that sampled (no gradient).
        advantages: ``[N]`` one advantage per sequence.
        mask: ``[N, C]`` 1 on completion tokens.
        token_weights: ``[N]`` the weight of each sequence's tokens (0 for padding rows).
        clip_eps_low: Lower clip range.
        clip_eps_high: Upper clip range.
        ref_logprobs: ``[N, C]`` log-probabilities of the reference model, or ``None``.
        kl_coef: Weight of the KL term.

    Returns:
        The :class:`LossTerms`.
    """
    import torch

    ratio = torch.exp(logprobs - old_logprobs)
    adv = advantages.unsqueeze(-1)
    unclipped = ratio * adv
    clipped = torch.clamp(ratio, 1.0 - clip_eps_low, 1.0 + clip_eps_high) * adv
    weights = token_weights.unsqueeze(-1) * mask
    per_token_policy = -torch.minimum(unclipped, clipped) * weights
    loss = per_token_policy.sum()
    per_token_kl = torch.zeros_like(per_token_policy)
    if ref_logprobs is not None:
        per_token_kl = k3_kl(logprobs, ref_logprobs) * weights
        loss = loss + kl_coef * per_token_kl.sum()
    return LossTerms(
        loss=loss,
        per_token_policy=per_token_policy,
        per_token_kl=per_token_kl,
        clipped=((clipped < unclipped).float() * mask).detach(),
        ratio=ratio.detach(),
    )


# ================================================================================= trainer
_SYNC_BATCH_BYTES = 1 << 30
"""Full weights handed to the generator per ``load_weights`` call during a weight sync."""


@dataclass
class _Scored:
    """A sample in an update, with what was computed for it before the first step."""

    sample: Sample
    weight: float  # the constant normalizer of its tokens (0 for a padding row)
    old: Any = None  # log-probabilities of the sampling policy, when stored
    ref: Any = None  # log-probabilities of the reference model, when the KL is on
    mask: Any = None  # packed allowed-token masks of a grammar-constrained completion


class GRPOTrainer:
    """Trains one model in both SPICE roles with Dr. GRPO.

    Args:
        config: The run configuration.
        accelerator: An ``accelerate.Accelerator``; one is made from the config if ``None``
            (under ``accelerate launch`` it picks up the launcher's settings).
        model: A model to train instead of building ``config.model`` (tokenizer required too).
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
        from accelerate.utils import DistributedType, gather_object, set_seed
        from spice_agents.distributed import (
            configure_deepspeed,
            generator_needs_own_weights,
            make_accelerator,
        )
        from spice_agents.models import build_model, make_backend

        self.config = config
        if config.run.torch_threads:
            torch.set_num_threads(config.run.torch_threads)
        # DDP, FSDP2 or DeepSpeed from the launch configuration (gloo on a CPU-only machine).
        self.accelerator = acc = accelerator or make_accelerator(config)
        set_seed(config.run.seed)  # python, numpy and torch: the same start on every process
        self.run_dir = Path(config.run.output_dir)
        self.iteration = 0
        self._stop_signal: int | None = None

        # -- model (shared by both roles), reference model, optimizer, schedule --
        if model is None:
            model, tokenizer = build_model(config)
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
        self._deepspeed = acc.distributed_type == DistributedType.DEEPSPEED
        if self._deepspeed:
            configure_deepspeed(acc, optim)  # no DataLoader: micro-batch and clipping from us
        # Sharded parameters (FSDP) cannot generate in-process: the generator gets its own copy
        # of the weights, refreshed after every update on every process, as vLLM's is.
        own_copy = (
            backend is None
            and config.generation.backend == "hf"
            and generator_needs_own_weights(acc)
        )
        generator_model = copy.deepcopy(model) if own_copy else None
        self.model, self.optimizer, self.scheduler = acc.prepare(model, optimizer, scheduler)
        # One scheduler step per optimizer step, whatever accelerator was passed in: a prepared
        # scheduler otherwise steps once per process, shortening the warm-up by the world size.
        self.scheduler.step_with_optimizer = False
        self.backend = backend or make_backend(
            config,
            generator_model if own_copy else acc.unwrap_model(self.model),
            tokenizer,
            acc.device,
        )
        shares_model = getattr(self.backend, "model", None) is acc.unwrap_model(self.model)
        self._generator_has_own_weights = (
            getattr(self.backend, "load_weights", None) is not None and not shares_model
        )
        self.collector = SelfPlayCollector(
            config,
            self.backend,
            process_index=acc.process_index,
            num_processes=acc.num_processes,
            gather=gather_object,
        )
        # The logits' width: grammar masks are replayed over the model's whole output.
        self.vocab_size = int(
            self.accelerator.unwrap_model(self.model).get_output_embeddings().weight.shape[0]
        )
        # Dr. GRPO's one constant: every token of both roles is divided by the same number.
        generation = config.generation
        self.loss_constant = max(
            generation.type_selection_max_new_tokens,
            generation.challenger_max_new_tokens,
            generation.reasoner_max_new_tokens,
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
        started = time.perf_counter()  # run.max_minutes counts the warm start too
        resumed_at = None
        if resume:
            path = latest_checkpoint(self.run_dir) if resume is True else Path(resume)
            if path is None:
                raise FileNotFoundError(
                    f"no checkpoint to resume from in {self.run_dir}/checkpoints"
                )
            self.load(path)
            resumed_at = self.iteration
            self._load_reference()
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
        if resumed_at is None and self.iteration == 0 and self.config.warmstart.enabled:
            self.warm_start()
            self._save_reference()
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
        budgets = token_budgets(self.config.generation)
        out_of_time = False
        try:
            while self.iteration < run.iterations and not out_of_time:
                record = self.train_iteration()
                records.append(record)
                bar.update(1)
                bar.set_postfix(_postfix(record))
                for warning in (
                    no_signal_warning(records, run.no_signal_patience),
                    letter_collapse_warning(records, run.no_signal_patience),
                    truncation_warning(records, run.no_signal_patience, budgets),
                ):
                    if warning and is_main:
                        bar.write(warning)
                stop = self._any_process_stopping()
                out_of_time = self._out_of_time(records, time.perf_counter() - started)
                due = run.checkpoint_every and self.iteration % run.checkpoint_every == 0
                if stop or due or out_of_time or self.iteration == run.iterations:
                    self.save()
                if stop:
                    self._stop_signal = self._stop_signal or signal.SIGTERM
                    bar.write(
                        f"stopped by a signal after iteration {self.iteration}; "
                        "checkpoint saved, continue with --resume"
                    )
                    break
                if out_of_time and self.iteration < run.iterations:
                    bar.write(
                        f"max_minutes={run.max_minutes} reached after iteration "
                        f"{self.iteration}: finishing here"
                    )
        finally:
            self._restore_signal_handlers(previous)
            bar.close()
            self.metrics.close()
        if not self.stopped and (self.iteration == run.iterations or out_of_time):
            self._finish()
        return records

    def _out_of_time(self, records: list[dict[str, Any]], elapsed: float) -> bool:
        """Whether another iteration would end past ``run.max_minutes`` (the same answer on
        every process: the main process decides)."""
        import torch

        limit = self.config.run.max_minutes * 60.0
        if limit <= 0:
            return False
        recent = [r["time"]["iteration"] for r in records[-3:]]
        late = elapsed + sum(recent) / len(recent) > limit
        flag = torch.tensor(
            [1.0 if late and self.accelerator.is_main_process else 0.0],
            device=self.accelerator.device,
        )
        return bool(self.accelerator.reduce(flag, reduction="sum").item() > 0)

    def warm_start(self) -> dict[str, Any]:
        """The supervised warm start of ``config.warmstart`` (see ``spice_agents.warmstart``);
        writes ``warmstart.json`` and the checkpoint ``iter_000000`` self-play starts from."""
        from spice_agents.warmstart import run_warm_start

        result = run_warm_start(self)
        if self.accelerator.is_main_process:
            (self.run_dir / "warmstart.json").write_text(json.dumps(result, indent=2))
            epochs = self.config.warmstart.warm_start_epochs
            trend = (
                f"epoch mean {result['loss_first_epoch']:.3f} -> {result['loss_last_epoch']:.3f}"
                if epochs > 1
                else f"first step {result['loss_first_step']:.3f}, last {result['loss_last_step']:.3f}"
            )
            print(
                f"warm start: {result['examples']} examples, {result['steps']} steps, loss "
                f"{trend} ({result['seconds']:.0f} s)"
            )
        self.save()
        return result

    def _save_reference(self) -> None:
        """Make the KL reference the policy self-play starts from (the warm-started model).

        Built from the model before the warm start, the reference would pull self-play back
        toward a model that has not learned the answer format. Its weights go to
        ``RUN_DIR/reference/model.safetensors`` so that a resumed run anchors to the same
        model.
        """
        if self.reference is None:
            return
        from safetensors.torch import save_file

        state = self.accelerator.get_state_dict(self.model)  # a collective under FSDP
        if self.accelerator.is_main_process:
            # Tied weights share storage, which safetensors refuses: store each tensor apart.
            tensors = {k: v.detach().cpu().clone().contiguous() for k, v in state.items()}
            (self.run_dir / REFERENCE_FILE).parent.mkdir(parents=True, exist_ok=True)
            save_file(tensors, str(self.run_dir / REFERENCE_FILE))
        self.accelerator.wait_for_everyone()
        self._load_reference()

    def _load_reference(self) -> None:
        """Load the warm-started reference saved by :meth:`_save_reference`, if this run has one."""
        path = self.run_dir / REFERENCE_FILE
        if self.reference is None or not self.config.warmstart.enabled or not path.is_file():
            return
        from safetensors.torch import load_file

        state = load_file(str(path), device=str(self.accelerator.device))
        self.reference.load_state_dict(state)

    @property
    def stopped(self) -> bool:
        """Whether the last :meth:`train` call ended early because of a signal."""
        return self._stop_signal is not None

    def train_iteration(self) -> dict[str, Any]:
        """One iteration: rollouts, advantages, update, weight sync, metrics."""
        from accelerate.utils import gather_object

        tic = time.perf_counter()
        self.model.eval()  # generation: no dropout
        rollout = self.collector.collect(self.iteration)
        self.model.train()
        signal_counts = assign_advantages(rollout.samples)
        update = self.update(rollout.samples)
        sync_seconds = self._sync_weights()
        self.iteration += 1

        # -- one metrics record: rollout statistics of all processes, then the update --
        per_process = gather_object([{**rollout.stats, "signal": signal_counts}])
        record: dict[str, Any] = {"iteration": self.iteration}
        record.update(merge_rollout_stats(per_process, self.config.selfplay.num_answers))
        record["signal"] = _signal_fractions([stats["signal"] for stats in per_process])
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

        Each sequence's loss is its token sum times ``1 / (C x S)``, with C the one constant
        (:attr:`loss_constant`) and S the number of sequences in the *global* (all-process)
        minibatch. DDP averages gradients over processes, so the backward pass gets the loss
        times the world size: the gradient is that of one process holding the whole batch.

        Returns:
            Metrics: every loss term, KL, entropy, clip fraction, ratio, gradient norm,
            learning rate, and the time spent.
        """
        import torch

        tic = time.perf_counter()
        acc, optim = self.accelerator, self.config.optim
        device = acc.device

        # Zero-advantage sequences have zero policy gradient; skipping them is exact when
        # there is no KL term, and they still count in the normalizer S.
        trained = [
            s
            for s in samples
            if s.advantage != 0.0 or not optim.skip_zero_advantage or optim.kl_coef > 0
        ]
        counts = torch.tensor([len(samples)], dtype=torch.float64, device=device)
        global_samples = float(acc.reduce(counts, reduction="sum").item())
        per_minibatch = max(global_samples / optim.minibatches, 1.0)
        weight = 1.0 / (self.loss_constant * per_minibatch)
        scored = [_Scored(s, weight, mask=self._replay(s)) for s in trained]

        # Stored log-probabilities: the sampling policy (for the ratio) and the reference.
        score_tic = time.perf_counter()
        if optim.updates_per_batch > 1 or optim.minibatches > 1:
            self._score(scored, self.model, "old")
        if self.reference is not None:
            self._score(scored, self.reference, "ref")
        score_seconds = time.perf_counter() - score_tic

        sums: dict[str, float] = defaultdict(float)
        grad_norms: list[float] = []
        minibatches = [scored[i :: optim.minibatches] for i in range(optim.minibatches)]
        for _epoch in range(optim.updates_per_batch):
            for minibatch in minibatches:
                micro = [
                    minibatch[i : i + optim.micro_batch_size]
                    for i in range(0, len(minibatch), optim.micro_batch_size)
                ]
                # Every process runs the same number of backward passes (each one
                # all-reduces); one with fewer micro-batches runs weight-0 padding rows.
                steps = self._max_over_processes(len(micro))
                for step in range(steps):
                    chunk = micro[step] if step < len(micro) else [self._padding_row()]
                    with self._accumulation(last=step == steps - 1):
                        loss, terms = self._micro_loss(chunk)
                        self._backward(loss * acc.num_processes)
                    for key, value in terms.items():
                        sums[key] += value
                if self._deepspeed:
                    grad_norm = self.model.get_global_grad_norm()  # clipped by the engine
                elif optim.max_grad_norm > 0:
                    grad_norm = acc.clip_grad_norm_(self.model.parameters(), optim.max_grad_norm)
                else:
                    grad_norm = _grad_norm(self.model)
                grad_norms.append(float("nan") if grad_norm is None else float(grad_norm))
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
        return {
            "loss": {
                "total": policy + optim.kl_coef * kl,
                "policy": policy,
                **{f"policy_{role}": summed.get(f"policy_{role}", 0.0) / steps for role in ROLES},
                "kl": optim.kl_coef * kl,
            },
            "kl": {
                "reference": summed.get("kl_reference", 0.0) / tokens
                if tokens and self.reference is not None
                else None,
                "sampler": summed["kl_sampler"] / summed["sampler_tokens"]
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
            "time": {"update": time.perf_counter() - tic, "old_logprobs": score_seconds},
        }

    def _replay(self, sample: Sample) -> Any:
        """The allowed-token masks a constrained completion was sampled under (else None)."""
        if sample.json_schema is None:
            return None
        from spice_env.policies.grammar import replay_masks

        return replay_masks(
            sample.json_schema, self.tokenizer, sample.completion_ids, self.vocab_size
        )

    def _max_over_processes(self, count: int) -> int:
        """The largest ``count`` of any process (a collective: every process calls it)."""
        import torch

        if self.accelerator.num_processes == 1:
            return count
        local = torch.tensor([count], device=self.accelerator.device)
        return int(self.accelerator.gather(local).max().item())

    def _accumulation(self, *, last: bool) -> Any:
        """The context of one micro-batch's forward and backward pass.

        DDP and FSDP skip the gradient reduction until the last micro-batch of an optimizer
        step (``no_sync``). Under ZeRO-2 ``no_sync`` does nothing and ``accelerator.backward``
        steps the engine after every micro-batch, so the DeepSpeed engine is told instead
        whether this micro-batch is the accumulation boundary (before its forward pass).
        """
        if self._deepspeed:
            self.model.set_gradient_accumulation_boundary(last)
            return nullcontext()
        return nullcontext() if last else self.accelerator.no_sync(self.model)

    def _backward(self, loss: Any) -> None:
        """Back-propagate one micro-batch (see :meth:`_accumulation`)."""
        if self._deepspeed:
            # DeepSpeed's own loop: backward, then step(), which counts the micro-step and
            # updates (clipping, optimizer, zeroing) only at the accumulation boundary.
            self.model.backward(loss)
            self.model.step()
        else:
            self.accelerator.backward(loss)

    def _padding_row(self) -> _Scored:
        """A one-token row of weight 0: it touches every parameter and contributes nothing."""
        pad = self.tokenizer.pad_token_id
        return _Scored(Sample("reasoner", "answering", [pad], [pad], 0.0), weight=0.0)

    def _micro_loss(self, chunk: list[_Scored]) -> tuple[Any, dict[str, float]]:
        """The loss of one micro-batch and the sums of its logged terms."""
        import torch

        device, optim = self.accelerator.device, self.config.optim
        samples = [row.sample for row in chunk]
        logprobs, mask, entropy = sequence_logprobs(
            self.model,
            samples,
            pad_token_id=self.tokenizer.pad_token_id,
            temperature=[self.config.generation.temperature_of(s.role) for s in samples],
            device=device,
            with_entropy=True,
            masks=[row.mask for row in chunk],
        )
        width = logprobs.shape[1]
        old = (
            _stack([row.old for row in chunk], width, device) if chunk[0].old is not None else None
        )
        ref = None
        if self.reference is not None:
            # A padding row has no stored reference: scoring it against its own
            # log-probabilities makes its KL exactly 0 (weight 0 times an overflowing
            # exp(ref - logp) would be NaN).
            missing = torch.tensor([row.ref is None for row in chunk], device=device)
            ref = torch.where(
                missing.unsqueeze(-1),
                logprobs.detach(),
                _stack([row.ref for row in chunk], width, device),
            )
        weights = torch.tensor([row.weight for row in chunk], dtype=torch.float32, device=device)
        terms = dr_grpo_loss(
            logprobs,
            old if old is not None else logprobs.detach(),
            torch.tensor([s.advantage for s in samples], dtype=torch.float32, device=device),
            mask,
            weights,
            clip_eps_low=optim.clip_eps_low,
            clip_eps_high=optim.clip_eps_high,
            ref_logprobs=ref,
            kl_coef=optim.kl_coef,
        )
        real = (weights > 0).float().unsqueeze(-1) * mask  # tokens of real rows
        sums = {
            "policy": float(terms.per_token_policy.detach().sum()),
            "kl": float(terms.per_token_kl.detach().sum()),
            "clipped_tokens": float(terms.clipped.mul(real).sum()),
            "ratio_sum": float((terms.ratio * real).sum()),
            "tokens": float(real.sum()),
        }
        with torch.no_grad():
            for role in ROLES:
                rows = torch.tensor([s.role == role for s in samples], device=device)
                sums[f"policy_{role}"] = float(terms.per_token_policy.detach()[rows].sum())
                sums[f"tokens_{role}"] = float(real[rows].sum())
                sums[f"entropy_{role}"] = float((entropy[rows] * real[rows]).sum())
            if ref is not None:
                sums["kl_reference"] = float((k3_kl(logprobs.detach(), ref) * real).sum())
            # Backends report temperature-1 log-probabilities: compare them with ours to see
            # whether generation and training see the same distribution (vLLM vs. trainer).
            # A constrained completion's reported log-probs are comparable only when they are
            # the masked distribution's (a llama.cpp server reports the raw ones).
            reported = [
                s.sampler_logprobs if s.json_schema is None or s.sampler_logprobs_masked else None
                for s in samples
            ]
            untempered = all(self.config.generation.temperature_of(role) == 1.0 for role in ROLES)
            if untempered and all(reported) and bool(real.any()):
                sampler = _stack([torch.tensor(r[:width]) for r in reported], width, device)
                gap = k3_kl(sampler, logprobs.detach())
                sums["kl_sampler"] = float((gap * real).sum())
                sums["sampler_tokens"] = float(real.sum())
        return terms.loss, sums

    def _score(self, rows: list[_Scored], model: Any, field: str) -> None:
        """Store log-probabilities under ``model`` (no gradient) on each row's ``field``."""
        import torch

        size = self.config.optim.micro_batch_size
        chunks = [rows[start : start + size] for start in range(0, len(rows), size)]
        # The trained model's forward passes can be collectives (FSDP gathers the parameters,
        # DDP may broadcast buffers): every process runs as many, padding if it has fewer.
        count = self._max_over_processes(len(chunks)) if model is self.model else len(chunks)
        with torch.no_grad():
            for index in range(count):
                chunk = chunks[index] if index < len(chunks) else [self._padding_row()]
                logprobs, _, _ = sequence_logprobs(
                    model,
                    [row.sample for row in chunk],
                    pad_token_id=self.tokenizer.pad_token_id,
                    temperature=[
                        self.config.generation.temperature_of(row.sample.role) for row in chunk
                    ],
                    device=self.accelerator.device,
                    masks=[row.mask for row in chunk],
                )
                if index >= len(chunks):
                    continue
                for position, row in enumerate(chunk):
                    length = len(row.sample.completion_ids)
                    setattr(row, field, logprobs[position, :length].detach())

    def _sync_weights(self) -> float:
        """Push the trained weights to a generator that holds its own copy, on every process.

        Every process samples from its own generator (a vLLM engine, or under FSDP the HF
        backend's copy), so each one loads the full weights; under FSDP they are gathered
        parameter by parameter (a collective), never only on the main process. A backend that
        generates with the trained model itself needs nothing.

        Returns:
            Seconds spent.
        """
        from spice_agents.distributed import full_named_tensors

        if not self._generator_has_own_weights:
            return 0.0
        tic = time.perf_counter()
        batch: list[tuple[str, Any]] = []
        held = 0
        for name, tensor in full_named_tensors(self.accelerator, self.model):
            batch.append((name, tensor))
            held += tensor.numel() * tensor.element_size()
            if held >= _SYNC_BATCH_BYTES:  # bound the full tensors held at once
                self.backend.load_weights(batch)
                batch, held = [], 0
        if batch:
            self.backend.load_weights(batch)
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
            keep_resumable=self.config.run.keep_resumable,
        )

    def load(self, path: str | Path) -> None:
        """Restore a checkpoint written by :meth:`save`."""
        from spice_agents.checkpoint import load_checkpoint

        state = load_checkpoint(self.accelerator, path)
        self.iteration = int(state["iteration"])
        self.collector.load_state_dict(state["collector"])

    def _finish(self) -> None:
        if self.config.run.save_final_model:
            # A collective under FSDP (the full weights are gathered): every process asks.
            state = self.accelerator.get_state_dict(self.model)
            if self.accelerator.is_main_process:
                final = self.run_dir / "final"
                model = self.accelerator.unwrap_model(self.model)
                model.save_pretrained(final, state_dict=state)
                self.tokenizer.save_pretrained(final)
        # `--iterations 0` (a warm start alone) leaves no metrics to summarize or plot.
        ran = (self.run_dir / "metrics.jsonl").exists()
        if self.accelerator.is_main_process and ran:
            from spice_agents.metrics import write_run_summary

            write_run_summary(self.run_dir)
        if self.accelerator.is_main_process and ran and self.config.run.plot:
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


def no_signal_warning(records: Sequence[dict[str, Any]], patience: int) -> str | None:
    """A warning when a role has had no learning signal for ``patience`` iterations in a row.

    A group whose advantages are all zero contributes no gradient; when every group of a role
    is like that, nothing of that role learns, and the warning names the likely cause from the
    iteration's metrics. It is given once, at the iteration the streak reaches ``patience``.

    Returns:
        The warning text, or ``None``.
    """
    if patience <= 0 or len(records) < patience:
        return None
    recent = records[-patience:]
    lines = []
    for role in ROLES:
        fractions = [r.get("signal", {}).get(role) for r in recent]
        before = (
            records[-patience - 1].get("signal", {}).get(role) if len(records) > patience else 1
        )
        if any(f is None or f > 0 for f in fractions) or before == 0:
            continue
        last = recent[-1]
        if role == "challenger":
            reasons = last["challenger"].get("invalid_reasons") or {}
            cause = (
                f"valid-task rate {last['challenger']['valid_rate']}, invalid reasons {reasons}: "
                "when every attempt of a document gets the same reward (all invalid, or all "
                "valid with the same pass rate) its advantages are zero; try the structured "
                "output constraint, a worked-example prompt, a warm start, or more attempts"
            )
        else:
            cause = (
                f"mean pass rate {last['pass_rate']['mean']}, histogram "
                f"{last['pass_rate']['histogram']}: every answer group is all right or all "
                "wrong; the tasks are too hard or too easy for the Reasoner, or its answers are "
                "never read (the training verifier only reads the final \\boxed{} answer)"
            )
        lines.append(f"warning: no {role} learning signal for {patience} iterations ({cause})")
    return "\n".join(lines) or None


LETTER_COLLAPSE_SHARE = 0.6
"""A favourite multiple-choice letter above this share of the Reasoner's answers is warned of
(options are shuffled per attempt: each of four letters is the gold about a quarter of the time)."""


def letter_collapse_warning(records: Sequence[dict[str, Any]], patience: int) -> str | None:
    """A warning when the Reasoner has piled its multiple-choice answers on one letter.

    Pooled over the last ``patience`` iterations (at least 20 answers), a favourite letter
    above :data:`LETTER_COLLAPSE_SHARE` of the answers means the Reasoner guesses a letter
    instead of reading the options: on shuffled options that earns no more than any other
    guess, but it scores on a fixed evaluation set as often as that letter is the gold. Given
    once, when the pooled share first crosses the line.

    Returns:
        The warning text, or ``None``.
    """
    from spice_env.evaluation.metrics import favourite_letter

    def collapsed(part: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
        found = favourite_letter(pooled_letters(part))
        if found and found["answers"] >= 20 and found["share"] > LETTER_COLLAPSE_SHARE:
            return found
        return None

    if patience <= 0 or len(records) < patience:
        return None
    now = collapsed(records[-patience:])
    if now is None or (len(records) > patience and collapsed(records[-patience - 1 : -1])):
        return None
    return (
        f"warning: the Reasoner chose {now['letter']} in {now['share']:.0%} of its last "
        f"{now['answers']} multiple-choice answers ({patience} iterations); the options are "
        "shuffled per attempt, so it is guessing a letter, not reading the options. A fixed "
        "evaluation set will then score it by how often that letter is the gold (`spice eval` "
        "puts the favourite letter beside the score)"
    )


TRUNCATION_SHARE = 0.5
"""A stage whose outputs hit their token budget more often than this (pooled over the warning
window) is warned of."""

_STAGE_BUDGETS = {
    "type_selection": ("the Challenger's type selections", "type_selection_max_new_tokens"),
    "generation": ("the Challenger's tasks", "challenger_max_new_tokens"),
    "answering": ("the Reasoner's answers", "reasoner_max_new_tokens"),
}


def token_budgets(generation: Any) -> dict[str, int]:
    """The ``max_new_tokens`` of each generation stage, keyed as the metrics' length fields."""
    return {stage: getattr(generation, name) for stage, (_, name) in _STAGE_BUDGETS.items()}


def truncation_warning(
    records: Sequence[dict[str, Any]], patience: int, budgets: dict[str, int] | None = None
) -> str | None:
    """A warning when most outputs of a stage were cut off at its token budget.

    Averaged over the last ``patience`` iterations, a share of cut-off outputs above
    :data:`TRUNCATION_SHARE` means that stage mostly runs into its budget: a cut-off Challenger
    output does not parse, and a cut-off Reasoner answer is scored only on a complete boxed
    answer it already holds (a policy repeating "The answer is \\boxed{6}." still scores, and
    still wastes its budget). A share that climbs during a run is the usual sign of a policy
    falling into repetition (the learning rate is a common cause); one that is high from the
    start, of a budget too small for the task. Given once per stage, when the window first
    crosses the line.

    Args:
        records: The run's per-iteration metrics so far.
        patience: Iterations in the window (the run's ``no_signal_patience``); 0 turns it off.
        budgets: ``max_new_tokens`` per stage, named in the message (see :func:`token_budgets`).

    Returns:
        The warning text, or ``None``.
    """

    def share(part: Sequence[dict[str, Any]], stage: str) -> float | None:
        values = [r.get("length", {}).get(f"{stage}_truncated") for r in part]
        values = [v for v in values if v is not None]
        return sum(values) / len(values) if len(values) == len(part) else None

    if patience <= 0 or len(records) < patience:
        return None
    lines = []
    for stage, (what, name) in _STAGE_BUDGETS.items():
        now = share(records[-patience:], stage)
        if now is None or now <= TRUNCATION_SHARE:
            continue
        if len(records) > patience:
            before = share(records[-patience - 1 : -1], stage)
            if before is not None and before > TRUNCATION_SHARE:
                continue
        first = records[0].get("length", {}).get(f"{stage}_truncated")
        budget = f"{name}={budgets[stage]}" if budgets and stage in budgets else name
        at = records[0].get("iteration", 1)
        start = f"; {first:.0%} at iteration {at}" if first is not None else ""
        lines.append(
            f"warning: {now:.0%} of {what} in the last {patience} iterations were cut off at "
            f"{budget}{start}. A cut-off task does not parse, and a cut-off answer is scored "
            "only on a complete boxed answer it already holds. A share that climbs during a "
            "run usually means the policy is falling into repetition (read samples.jsonl; try "
            "a lower learning rate); one that is high from the start, a budget too small for "
            "the task"
        )
    return "\n".join(lines) or None


def _signal_fractions(per_process: list[dict[str, dict[str, int]]]) -> dict[str, float | None]:
    """Per role, the share of advantage groups whose advantages are not all zero."""
    out: dict[str, float | None] = {}
    for role in ROLES:
        groups = sum(stats[role]["groups"] for stats in per_process)
        with_signal = sum(stats[role]["groups_with_signal"] for stats in per_process)
        out[role] = with_signal / groups if groups else None
    return out


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
        if row is not None:
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
        "signal": "/".join(fmt(record["signal"][role]) for role in ROLES),
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
