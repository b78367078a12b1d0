"""Must-show 1: learning happens, and the test notices when it does not.

cpu-tiny's randomly initialized model answers scripted multiple-choice tasks whose correct
letter is always B, with one token, through the real env reward (the verifier). At the start a
correct answer is a 1-in-500 accident; Dr. GRPO must raise the Reasoner reward above 0.8
within 25 iterations with a fixed seed. The same run with the advantage sign flipped (a
classic bug) must not learn, which shows the test can fail.
"""

from __future__ import annotations

import time

import pytest
import spice_agents.grpo as grpo
from agent_helpers import learning_overrides
from spice_agents.config import make_preset
from spice_agents.grpo import GRPOTrainer

ITERATIONS = 25


def _reasoner_rewards(tasks_file, output_dir) -> list[float]:
    config = make_preset(
        "cpu-tiny", **learning_overrides(tasks_file, output_dir, iterations=ITERATIONS, seed=0)
    )
    trainer = GRPOTrainer(config)
    records = trainer.train()
    return [r["reward"]["reasoner"] for r in records]


def test_reasoner_reward_rises_on_a_learnable_task(letter_tasks, tmp_path, capsys):
    start = time.perf_counter()
    rewards = _reasoner_rewards(letter_tasks, tmp_path / "run")
    seconds = time.perf_counter() - start
    before = sum(rewards[:3]) / 3
    after = sum(rewards[-3:]) / 3
    with capsys.disabled():
        print(
            f"\n[learning] reward before {before:.3f} -> after {after:.3f} in {ITERATIONS} "
            f"iterations ({seconds:.1f} s); curve {[round(r, 2) for r in rewards]}"
        )
    assert before < 0.1
    assert after > 0.8


def test_learning_test_fails_when_the_advantage_sign_is_wrong(
    letter_tasks, tmp_path, monkeypatch, capsys
):
    original = grpo.group_advantages
    monkeypatch.setattr(grpo, "group_advantages", lambda rewards: [-a for a in original(rewards)])
    rewards = _reasoner_rewards(letter_tasks, tmp_path / "broken")
    after = sum(rewards[-3:]) / 3
    with capsys.disabled():
        print(f"\n[learning, sign flipped] reward after {ITERATIONS} iterations {after:.3f}")
    assert after < 0.1, "a broken update must not pass the learning test"


@pytest.mark.parametrize("broken", ["no_optimizer_step"])
def test_learning_test_fails_without_updates(letter_tasks, tmp_path, monkeypatch, broken):
    monkeypatch.setattr(GRPOTrainer, "update", _frozen_update)
    config = make_preset(
        "cpu-tiny", **learning_overrides(letter_tasks, tmp_path / broken, iterations=8, seed=0)
    )
    records = GRPOTrainer(config).train()
    assert max(r["reward"]["reasoner"] for r in records) < 0.1


def _frozen_update(self, samples):
    # What the update returns, without touching the weights.
    return {
        "loss": {
            "total": 0.0,
            "policy": 0.0,
            "policy_challenger": 0.0,
            "policy_reasoner": 0.0,
            "kl": 0.0,
        },
        "train_tokens": 0.0,
        "time": {"update": 0.0, "old_logprobs": 0.0},
    }
