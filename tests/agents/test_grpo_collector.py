"""The SPICE rollout loop through the env's public API, with a scripted stand-in backend."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest
from agent_helpers import ScriptedBackend
from spice_agents.collector import SelfPlayCollector, merge_rollout_stats
from spice_agents.config import make_preset
from spice_agents.grpo import assign_advantages


def _collector(tokenizer, invalid_rate=0.3, **overrides):
    settings = dict(
        batch_documents=4,
        group_size=4,
        num_answers=4,
        max_attempts=4,
        log_samples=1,
        max_segment_tokens=96,
    )
    settings.update(overrides)
    config = make_preset("cpu-tiny", **settings)
    backend = ScriptedBackend(tokenizer, invalid_rate=invalid_rate)
    return SelfPlayCollector(config, backend), backend, config


def test_one_generate_call_per_stage_and_reasoner_answers_batched(tiny_tokenizer):
    collector, backend, config = _collector(tiny_tokenizer)
    rollout = collector.collect(iteration=0)
    # type selection, generation (all documents at once), then every kept valid task's K
    # answers (multiple-choice attempts see their own option order, so prompts may differ)
    assert len(backend.calls) == 3
    (n_select, k_select, budget_select), (_, _, budget_gen), (n_tasks, k, budget_answer) = (
        backend.calls
    )
    # the G type selections of one document share their prompt: one prompt, n = G
    assert (n_select, k_select) == (4, 4)
    assert budget_select == config.generation.type_selection_max_new_tokens
    assert budget_gen == config.generation.challenger_max_new_tokens
    assert budget_answer == config.generation.reasoner_max_new_tokens
    answers = rollout.stats["valid_attempts"] * config.selfplay.num_answers
    assert n_tasks * k == answers


def test_each_role_samples_at_its_own_temperature(tiny_tokenizer):
    collector, backend, _ = _collector(tiny_tokenizer, challenger_temperature=0.5)
    collector.collect(iteration=0)
    # type selection and generation are the Challenger's, the answers the Reasoner's
    assert backend.temperatures == [0.5, 0.5, 1.0]


def test_role_specific_groups_and_advantages(tiny_tokenizer):
    collector, _, config = _collector(tiny_tokenizer)
    rollout = collector.collect(iteration=0)
    assign_advantages(rollout.samples)
    by_group = defaultdict(list)
    for sample in rollout.samples:
        by_group[(sample.role, sample.group)].append(sample)
    challenger_groups = [g for (role, g) in by_group if role == "challenger"]
    reasoner_groups = [g for (role, g) in by_group if role == "reasoner"]
    assert len(challenger_groups) == config.selfplay.batch_documents
    for (role, _), samples in by_group.items():
        if role == "reasoner":
            # the K answers to one task: advantages are reward minus the group mean
            assert len(samples) == config.selfplay.num_answers
            rewards = [s.reward for s in samples]
            assert [s.advantage for s in samples] == pytest.approx(
                [r - np.mean(rewards) for r in rewards]
            )
        else:
            # every Challenger turn of the G episodes is trained
            assert sum(s.stage == "type_selection" for s in samples) == config.selfplay.group_size
    # one Reasoner group per document that has a valid kept task, never more
    assert len(reasoner_groups) <= config.selfplay.batch_documents
    assert rollout.stats["documents"] == config.selfplay.batch_documents


def test_every_answered_valid_task_can_train_the_reasoner(tiny_tokenizer):
    """reasoner_tasks_per_document=0: one Reasoner group per answered valid kept task (its K
    answers already exist), against one per document by default (the paper)."""
    counts = {}
    for per_document in (1, 0):
        collector, _, config = _collector(
            tiny_tokenizer, invalid_rate=0.0, reasoner_tasks_per_document=per_document
        )
        rollout = collector.collect(iteration=0)
        assign_advantages(rollout.samples)
        groups = {s.group for s in rollout.samples if s.role == "reasoner"}
        counts[per_document] = len(groups)
        valid_kept = rollout.stats["pass_rates"]  # one per answered valid kept task
        if per_document == 0:
            assert len(groups) == len(valid_kept)
            assert rollout.stats["samples"]["reasoner"] == len(valid_kept) * 4
        else:
            assert len(groups) == config.selfplay.batch_documents
    # documents with several valid kept tasks give several groups
    assert counts[0] > counts[1]


def test_anchor_tasks_train_the_reasoner_only(tiny_tokenizer):
    """anchor_documents: extra documents whose scripted task's K answers train the Reasoner;
    the Challenger's samples and numbers are those of self-play alone."""
    plain, _, config = _collector(tiny_tokenizer)
    anchored, backend, _ = _collector(tiny_tokenizer, anchor_documents=3)
    without, rollout = plain.collect(0), anchored.collect(0)
    # the self-play documents and the Challenger's attempts are the same
    assert rollout.stats["attempts"] == without.stats["attempts"]
    assert rollout.stats["valid_attempts"] == without.stats["valid_attempts"]
    assert rollout.stats["invalid_reasons"] == without.stats["invalid_reasons"]
    challenger = {s.group for s in rollout.samples if s.role == "challenger"}
    assert challenger == {s.group for s in without.samples if s.role == "challenger"}
    # anchors come from 3 further documents, answered in the same single Reasoner call
    assert len(backend.calls) == 3
    anchor_groups = defaultdict(list)
    for sample in rollout.samples:
        if sample.group.startswith("a"):
            anchor_groups[sample.group].append(sample)
    assert rollout.stats["anchor_documents"] == 3
    assert len(anchor_groups) == rollout.stats["anchor_answered"] >= 1
    batch = config.selfplay.batch_documents
    for group, samples in anchor_groups.items():
        assert int(group[1:]) >= batch  # documents drawn after the self-play batch
        assert {s.role for s in samples} == {"reasoner"}
        assert len(samples) == config.selfplay.num_answers
    merged = merge_rollout_stats([rollout.stats], config.selfplay.num_answers)
    assert merged["anchor"]["answered"] == len(anchor_groups)
    rewards = [s.reward for samples in anchor_groups.values() for s in samples]
    assert merged["anchor"]["reasoner_reward"] == pytest.approx(np.mean(rewards))
    # the trained Reasoner reward is the self-play tasks' alone
    own = [s.reward for s in rollout.samples if s.group.startswith("r")]
    assert merged["reward"]["reasoner"] == pytest.approx(np.mean(own))


def test_challenger_rewards_follow_the_env(tiny_tokenizer):
    collector, _, config = _collector(tiny_tokenizer)
    rollout = collector.collect(iteration=0)
    rewards = rollout.stats["challenger_rewards"]
    assert len(rewards) == config.selfplay.batch_documents * config.selfplay.group_size
    # SPICE shape: invalid tasks get rho = -0.1, valid ones exp(-(var - 0.25)^2 / 0.02) in (0, 1]
    for reward in rewards:
        assert reward == pytest.approx(-0.1) or 0.0 < reward <= 1.0
    assert any(r == pytest.approx(-0.1) for r in rewards)
    assign_advantages(rollout.samples)
    challenger = [s for s in rollout.samples if s.role == "challenger"]
    # per document, the advantages of the G trajectories sum to zero (one turn counted each)
    firsts = defaultdict(float)
    for s in challenger:
        if s.stage == "type_selection":
            firsts[s.group] += s.advantage
    assert all(abs(total) < 1e-9 for total in firsts.values())


def test_retries_until_valid_up_to_max_attempts(tiny_tokenizer):
    collector, backend, config = _collector(
        tiny_tokenizer, invalid_rate=0.9, max_attempts=12, group_size=2, batch_documents=3
    )
    rollout = collector.collect(iteration=0)
    attempts = rollout.stats["attempts"]
    assert attempts > config.selfplay.batch_documents * config.selfplay.group_size  # retried
    assert attempts <= config.selfplay.batch_documents * config.selfplay.max_attempts
    assert attempts % config.selfplay.group_size == 0
    # G trajectories are kept per document whatever the number of attempts
    assert len(rollout.stats["challenger_rewards"]) == 3 * 2


def test_fixed_challenger_trains_only_the_reasoner(tiny_tokenizer):
    collector, backend, _ = _collector(tiny_tokenizer, challenger="scripted")
    rollout = collector.collect(iteration=0)
    assert {s.role for s in rollout.samples} == {"reasoner"}
    assert len(backend.calls) == 1  # only the Reasoner used the backend


@pytest.mark.parametrize("anchor_documents", [0, 2])
def test_collect_is_deterministic_and_resumable(tiny_tokenizer, anchor_documents):
    first, _, _ = _collector(tiny_tokenizer, anchor_documents=anchor_documents)
    second, _, _ = _collector(tiny_tokenizer, anchor_documents=anchor_documents)
    a0, b0 = first.collect(0), second.collect(0)
    assert [s.completion_ids for s in a0.samples] == [s.completion_ids for s in b0.samples]
    state = first.state_dict()
    a1 = first.collect(1)
    third, _, _ = _collector(tiny_tokenizer, anchor_documents=anchor_documents)
    third.load_state_dict(state)
    c1 = third.collect(1)
    assign_advantages(a1.samples)
    assign_advantages(c1.samples)
    assert [s.prompt_ids for s in a1.samples] == [s.prompt_ids for s in c1.samples]
    assert [s.advantage for s in a1.samples] == [s.advantage for s in c1.samples]


def test_sharding_splits_documents_across_processes(tiny_tokenizer):
    config = make_preset("cpu-tiny", batch_documents=4, group_size=2, num_answers=2, max_attempts=2)
    seen = []
    for rank in range(2):
        collector = SelfPlayCollector(
            config, ScriptedBackend(tiny_tokenizer), process_index=rank, num_processes=2
        )
        rollout = collector.collect(0)
        assert rollout.stats["documents"] == 2
        seen.append({s.group for s in rollout.samples if s.role == "challenger"})
    assert not seen[0] & seen[1]
    with pytest.raises(ValueError, match="at least one document"):
        SelfPlayCollector(
            make_preset("cpu-tiny", batch_documents=1),
            ScriptedBackend(tiny_tokenizer),
            process_index=0,
            num_processes=2,
        )


def test_merged_stats_have_every_logged_field(tiny_tokenizer):
    collector, _, config = _collector(tiny_tokenizer)
    stats = collector.collect(0).stats
    merged = merge_rollout_stats([stats, stats], config.selfplay.num_answers)
    assert merged["challenger"]["attempts"] == 2 * stats["attempts"]
    assert set(merged["pass_rate"]["histogram"]) == {f"{i}/4" for i in range(5)}
    assert sum(merged["pass_rate"]["histogram"].values()) == 2 * len(stats["pass_rates"])
    assert merged["challenger"]["invalid_reasons"]
    assert {"challenger", "reasoner", "reasoner_all_answers"} <= set(merged["reward"])
    assert "generation_mean" in merged["length"] and "answering_mean" in merged["length"]


def test_repetition_penalty_reaches_every_kept_episode(tiny_tokenizer):
    # R-Zero penalizes the whole batch, invalid tasks too (an unparsable one counts as "").
    plain, _, _ = _collector(tiny_tokenizer)
    penalized, _, _ = _collector(tiny_tokenizer, repetition_penalty=True)
    before = plain.collect(0).stats["challenger_rewards"]
    after = penalized.collect(0).stats["challenger_rewards"]
    size = len(before)  # B x G kept episodes
    assert size == 16
    shares = [(b - a) * size for b, a in zip(before, after)]
    # each one loses its cluster's share of the batch: a whole number of 1/16ths, at least one
    assert all(share >= 1 - 1e-9 and abs(share - round(share)) < 1e-9 for share in shares)
    invalid = [share for share, reward in zip(shares, before) if reward == pytest.approx(-0.1)]
    assert invalid  # the scripted Challenger writes some invalid tasks, and they pay too
