"""Must-show 3: a cpu-tiny run stopped by SIGTERM and resumed ends with the same parameters
as the run that was never interrupted; plus the checkpoint files themselves."""

from __future__ import annotations

import os
import signal

import pytest
import torch
from agent_helpers import learning_overrides
from safetensors.torch import load_file
from spice_agents.checkpoint import latest_checkpoint, list_checkpoints
from spice_agents.config import make_preset
from spice_agents.grpo import GRPOTrainer
from spice_agents.metrics import read_metrics

from spice_env.evaluation.models import load_model_and_tokenizer

# Warm-up (scheduler state), two PPO epochs (stored old log-probabilities, clipping) and a KL
# term (a reference model rebuilt on resume) all have to survive the restart.
SETTINGS = dict(
    iterations=5,
    seed=1,
    warmup_steps=3,
    updates_per_batch=2,
    kl_coef=0.05,
    learning_rate=5e-3,
    reasoner_max_new_tokens=2,
    checkpoint_every=0,
    batch_documents=8,
    num_answers=4,
)


def _params(trainer: GRPOTrainer) -> dict[str, torch.Tensor]:
    model = trainer.accelerator.unwrap_model(trainer.model)
    return {name: p.detach().clone() for name, p in model.named_parameters()}


def test_resume_after_sigterm_matches_an_uninterrupted_run(letter_tasks, tmp_path, monkeypatch):
    # -- the reference: five iterations in one go --
    straight = GRPOTrainer(
        make_preset(
            "cpu-tiny", **learning_overrides(letter_tasks, tmp_path / "straight", **SETTINGS)
        )
    )
    straight_records = straight.train()
    expected = _params(straight)

    # -- the same run, sent SIGTERM during iteration 3: it must finish it, save, stop --
    run_dir = tmp_path / "interrupted"
    config = make_preset("cpu-tiny", **learning_overrides(letter_tasks, run_dir, **SETTINGS))
    first = GRPOTrainer(config)
    original = GRPOTrainer.train_iteration

    def iteration_with_signal(self):
        if self.iteration == 2:
            os.kill(os.getpid(), signal.SIGTERM)
        return original(self)

    monkeypatch.setattr(GRPOTrainer, "train_iteration", iteration_with_signal)
    records = first.train()
    monkeypatch.setattr(GRPOTrainer, "train_iteration", original)
    assert first.stopped and first.iteration == 3 and len(records) == 3
    assert latest_checkpoint(run_dir).name == "iter_000003"
    assert not (run_dir / "final").exists()
    midway = _params(first)
    # iterations 4-5 still change the weights, so the comparison below means something
    assert any(not torch.equal(midway[name], value) for name, value in expected.items())

    # -- a fresh process-like start: new trainer, resume from the checkpoint --
    second = GRPOTrainer(config)
    resumed_records = second.train(resume=True)
    assert second.iteration == 5 and len(resumed_records) == 2
    resumed = _params(second)
    for name, value in expected.items():
        assert torch.equal(resumed[name], value), f"{name} differs after resume"

    # the resumed iterations saw exactly the same rollouts and losses
    for a, b in zip(straight_records[3:], resumed_records):
        assert a["reward"] == b["reward"]
        assert a["loss"] == b["loss"]
    # metrics.jsonl holds each iteration once
    assert [r["iteration"] for r in read_metrics(run_dir)] == [1, 2, 3, 4, 5]
    assert straight_records[-1]["learning_rate"] == resumed_records[-1]["learning_rate"]


def _three_iterations_checkpointing_each(letter_tasks, run_dir, keep: int):
    """A cpu-tiny run of three iterations with a checkpoint after each; returns its config."""
    config = make_preset(
        "cpu-tiny",
        **learning_overrides(
            letter_tasks, run_dir, iterations=3, checkpoint_every=1, keep_checkpoints=keep
        ),
    )
    GRPOTrainer(config).train()
    return config


def test_checkpoint_contents_and_rotation(letter_tasks, tmp_path):
    run_dir = tmp_path / "rotation"
    _three_iterations_checkpointing_each(letter_tasks, run_dir, keep=2)
    checkpoints = list_checkpoints(run_dir)
    assert [c.name for c in checkpoints] == ["iter_000002", "iter_000003"]
    files = {p.name for p in checkpoints[-1].iterdir()}
    # weights, optimizer, scheduler, RNG states of every process, loop state, completion marker
    assert {
        "model.safetensors",
        "optimizer.bin",
        "scheduler.bin",
        "random_states_0.pkl",
        "trainer_state_0.pkl",
        "DONE",
    } <= files
    # an interrupted save (no DONE marker) is never picked up
    broken = run_dir / "checkpoints" / "iter_000009"
    broken.mkdir()
    assert latest_checkpoint(run_dir).name == "iter_000003"


def test_older_checkpoints_keep_weights_only_and_still_evaluate(letter_tasks, tmp_path):
    run_dir = tmp_path / "thinned"
    config = _three_iterations_checkpointing_each(letter_tasks, run_dir, keep=3)
    *older, newest = list_checkpoints(run_dir)
    assert [c.name for c in older] == ["iter_000001", "iter_000002"]
    assert (newest / "optimizer.bin").is_file() and not (newest / "WEIGHTS_ONLY").exists()
    for old in older:
        names = {p.name for p in old.iterdir()}
        assert "optimizer.bin" not in names and {"WEIGHTS_ONLY", "DONE"} <= names
        # a thinned checkpoint is still a model to evaluate, with the weights it was saved with
        model, _ = load_model_and_tokenizer(old)
        saved = load_file(str(old / "model.safetensors"))
        params = dict(model.named_parameters())
        assert all(torch.equal(params[name], value) for name, value in saved.items())

    # resuming from a thinned checkpoint says why not and which one to use instead
    trainer = GRPOTrainer(config)
    with pytest.raises(ValueError, match=r"keep_resumable.*iter_000003"):
        trainer.load(older[-1])
    # the newest checkpoint still resumes: one more iteration from where the run stopped
    resumed = GRPOTrainer(config.replace(iterations=4))
    assert [r["iteration"] for r in resumed.train(resume=True)] == [4]

    with pytest.raises(ValueError, match="keep_resumable"):
        make_preset("cpu-tiny", keep_resumable=0)
