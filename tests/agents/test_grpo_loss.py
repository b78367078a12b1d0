"""Dr. GRPO pieces on their own: advantages, sub-sampling, the loss, token log-probabilities."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from spice_agents.collector import Sample, subsample_preserving_ratio
from spice_agents.grpo import assign_advantages, dr_grpo_loss, group_advantages, sequence_logprobs


@pytest.mark.parametrize(
    ("rewards", "expected"),
    [
        ([1.0, 0.0, 0.0, 1.0], [0.5, -0.5, -0.5, 0.5]),
        ([1.0, 1.0], [0.0, 0.0]),
        ([-0.1, 1.0, 0.044, -0.1], [-0.3110, 0.7890, -0.1670, -0.3110]),
        ([], []),
    ],
)
def test_group_advantages_subtract_the_mean_without_std(rewards, expected):
    assert group_advantages(rewards) == pytest.approx(expected, abs=1e-4)


def test_no_std_normalization_keeps_reward_scale():
    # GRPO would divide by the std and make both groups +-1; Dr. GRPO keeps the scale.
    assert group_advantages([0.0, 0.1]) == pytest.approx([-0.05, 0.05])
    assert group_advantages([0.0, 10.0]) == pytest.approx([-5.0, 5.0])


@pytest.mark.parametrize(
    ("num_valid", "num_invalid", "size", "kept_valid"),
    [
        (1, 15, 8, 1),
        (8, 8, 8, 4),
        (2, 22, 8, 1),
        (12, 4, 8, 6),
        (0, 16, 8, 0),
        (16, 0, 8, 8),
        (3, 5, 8, 3),
    ],
)
def test_subsample_preserves_the_valid_ratio(num_valid, num_invalid, size, kept_valid):
    valid = list(range(num_valid))
    invalid = list(range(num_valid, num_valid + num_invalid))
    kept = subsample_preserving_ratio(valid, invalid, size, np.random.default_rng(0))
    assert len(kept) == min(size, num_valid + num_invalid)
    assert len(set(kept)) == len(kept)
    assert sum(i < num_valid for i in kept) == kept_valid


def _loss(logprobs, old, advantages, mask, weights, **kw):
    terms = dr_grpo_loss(logprobs, old, torch.tensor(advantages), mask, torch.tensor(weights), **kw)
    return terms.loss, terms


def test_loss_uses_a_constant_normalizer_not_the_sequence_length():
    # Two sequences with the same advantage, lengths 1 and 4: with a constant normalizer each
    # token gets the same gradient weight; dividing by length would give the short one 4x.
    logprobs = torch.zeros(2, 4, requires_grad=True)
    mask = torch.tensor([[1.0, 0, 0, 0], [1, 1, 1, 1]])
    weights = [1 / (4 * 2), 1 / (4 * 2)]
    loss, _ = _loss(logprobs, logprobs.detach(), [1.0, 1.0], mask, weights)
    loss.backward()
    grad = logprobs.grad
    assert torch.allclose(grad[0, 0], grad[1, 0])
    assert torch.allclose(grad[1], torch.full((4,), -1 / 8))
    assert torch.all(grad[0, 1:] == 0)


def test_loss_value_and_gradient_are_the_policy_gradient_on_policy():
    logprobs = torch.tensor([[-1.0, -2.0], [-0.5, -0.1]], requires_grad=True)
    mask = torch.tensor([[1.0, 1.0], [1.0, 0.0]])
    advantages, weights = [0.5, -0.5], [0.25, 0.25]
    loss, terms = _loss(logprobs, logprobs.detach(), advantages, mask, weights)
    # ratio = 1: loss = -sum_i w_i A_i |o_i| = -(0.25*0.5*2) + (0.25*0.5*1) = -0.125
    assert float(loss.detach()) == pytest.approx(-0.125)
    assert float(terms.per_token_policy.detach().sum()) == pytest.approx(-0.125)
    loss.backward()
    expected = torch.tensor([[-0.125, -0.125], [0.125, 0.0]])
    assert torch.allclose(logprobs.grad, expected)


def test_clipping_stops_the_gradient_outside_the_trust_region():
    old = torch.zeros(1, 3)
    # ratios e^0.5 = 1.65 (clipped for A > 0), 1.0 and e^-0.5 = 0.61 (not clipped for A > 0)
    logprobs = torch.tensor([[0.5, 0.0, -0.5]], requires_grad=True)
    loss, terms = _loss(
        logprobs, old, [1.0], torch.ones(1, 3), [1.0], clip_eps_low=0.2, clip_eps_high=0.2
    )
    loss.backward()
    assert logprobs.grad[0, 0] == 0  # clipped: no push beyond 1 + eps
    assert logprobs.grad[0, 1] == pytest.approx(-1.0)
    assert logprobs.grad[0, 2] == pytest.approx(-np.exp(-0.5), rel=1e-5)
    assert float(terms.clipped.sum()) == 1


def test_kl_term_is_zero_at_the_reference_and_positive_away_from_it():
    logprobs = torch.tensor([[-1.0, -2.0]], requires_grad=True)
    mask = torch.ones(1, 2)
    loss, terms = _loss(
        logprobs,
        logprobs.detach(),
        [0.0],
        mask,
        [1.0],
        ref_logprobs=logprobs.detach().clone(),
        kl_coef=0.1,
    )
    assert float(terms.per_token_kl.sum()) == pytest.approx(0.0)
    loss, terms = _loss(
        logprobs,
        logprobs.detach(),
        [0.0],
        mask,
        [1.0],
        ref_logprobs=logprobs.detach() - 0.3,
        kl_coef=0.1,
    )
    expected = 2 * (np.exp(-0.3) + 0.3 - 1)
    assert float(terms.per_token_kl.sum()) == pytest.approx(expected, rel=1e-5)
    assert float(loss.detach()) == pytest.approx(0.1 * expected, rel=1e-5)


def test_sequence_logprobs_align_with_a_plain_forward(tiny_tokenizer):
    from spice_agents.tiny import build_tiny_model

    model = build_tiny_model(tiny_tokenizer, seed=3).eval()
    samples = [
        Sample("reasoner", "answering", [5, 6, 7, 8, 9], [10, 11], 1.0),
        Sample("challenger", "generation", [12, 13], [14, 15, 16, 17], 0.0),
    ]
    logprobs, mask, entropy = sequence_logprobs(
        model, samples, pad_token_id=tiny_tokenizer.pad_token_id, with_entropy=True
    )
    assert mask.tolist() == [[1, 1, 0, 0], [1, 1, 1, 1]]
    for row, sample in enumerate(samples):
        ids = torch.tensor([sample.prompt_ids + sample.completion_ids])
        with torch.no_grad():
            full = torch.log_softmax(model(input_ids=ids).logits[0].float(), dim=-1)
        start = len(sample.prompt_ids)
        for t, token in enumerate(sample.completion_ids):
            # Padding (left for prompts, right for completions) must not change anything.
            assert float(logprobs[row, t].detach()) == pytest.approx(
                float(full[start + t - 1, token]), abs=1e-5
            )
    assert entropy is not None and torch.all(entropy[mask.bool()] > 0)
    # With temperature T the scores are those of logits / T (the sampled distribution).
    hot, _, _ = sequence_logprobs(model, samples[:1], pad_token_id=0, temperature=2.0)
    assert not torch.allclose(hot[0, :2], logprobs[0, :2])
    # One temperature per sample (the roles' own): each row as if scored alone at its own.
    cold, _, _ = sequence_logprobs(model, samples[1:], pad_token_id=0, temperature=0.5)
    mixed, _, _ = sequence_logprobs(model, samples, pad_token_id=0, temperature=[2.0, 0.5])
    assert torch.allclose(mixed[0, :2], hot[0, :2], atol=1e-5)
    assert torch.allclose(mixed[1], cold[0], atol=1e-5)
    assert not torch.allclose(mixed[1], logprobs[1], atol=1e-3)


def test_challenger_episodes_count_once_in_their_group_mean():
    # Two episodes of one document: one with two turns (reward 1), one with one turn (0).
    # Counting turns would make the mean 2/3; the group mean is over episodes: 1/2.
    samples = [
        Sample("challenger", "type_selection", [1], [2], 1.0, group="c0", episode="0"),
        Sample("challenger", "generation", [1], [3], 1.0, group="c0", episode="0"),
        Sample("challenger", "type_selection", [1], [2], 0.0, group="c0", episode="1"),
        Sample("reasoner", "answering", [1], [4], 1.0, group="r0", episode="0"),
        Sample("reasoner", "answering", [1], [5], 1.0, group="r0", episode="1"),
    ]
    signal = assign_advantages(samples)
    assert [s.advantage for s in samples] == pytest.approx([0.5, 0.5, -0.5, 0.0, 0.0])
    assert signal == {
        "challenger": {"groups": 1, "groups_with_signal": 1},
        "reasoner": {"groups": 1, "groups_with_signal": 0},
    }


def test_every_token_of_both_roles_is_divided_by_one_constant(tiny_tokenizer, tmp_path):
    # Budgets of 16 (type selection), 24 (task) and 8 (answer) tokens: Dr. GRPO divides every
    # token by the same C = 24 (times the S = 4 sequences), never by its own stage's budget
    # (which would weigh an answer token 3x a task token and reweight E[r_C] against E[r_R]).
    from spice_agents.config import make_preset
    from spice_agents.grpo import GRPOTrainer

    config = make_preset(
        "cpu-tiny",
        output_dir=str(tmp_path),
        type_selection_max_new_tokens=16,
        challenger_max_new_tokens=24,
        reasoner_max_new_tokens=8,
    )
    trainer = GRPOTrainer(config)
    assert trainer.loss_constant == 24
    rows = [  # (role, stage, completion length, advantage)
        ("challenger", "type_selection", 3, 0.5),
        ("challenger", "generation", 5, -0.5),
        ("reasoner", "answering", 2, 1.0),
        ("reasoner", "answering", 4, -0.25),
    ]
    samples = [
        Sample(role, stage, [5, 6, 7], [10 + i for i in range(length)], 0.0, advantage=adv)
        for role, stage, length, adv in rows
    ]
    losses = trainer.update(samples)["loss"]
    # On-policy the ratio is 1, so each token contributes -A / (C x S) to its role's loss.
    for role in ("challenger", "reasoner"):
        expected = sum(-adv * length for r, _, length, adv in rows if r == role) / (24 * 4)
        assert losses[f"policy_{role}"] == pytest.approx(expected, rel=1e-6)
