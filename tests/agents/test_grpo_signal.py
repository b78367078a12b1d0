"""The learning signal made visible: per-role signal fractions, the warning, the run summary."""

from __future__ import annotations

import json

import pytest
from agent_helpers import quiet_run
from spice_agents.config import make_preset
from spice_agents.grpo import (
    GRPOTrainer,
    letter_collapse_warning,
    no_signal_warning,
    token_budgets,
    truncation_warning,
)
from spice_agents.metrics import read_metrics, summarize_run


def _record(challenger, reasoner, valid=0, attempts=4, reasons=None):
    return {
        "signal": {"challenger": challenger, "reasoner": reasoner},
        "challenger": {
            "valid": valid,
            "attempts": attempts,
            "valid_rate": valid / attempts,
            "invalid_reasons": reasons if reasons is not None else {"unparsable": attempts - valid},
        },
        "pass_rate": {"mean": None, "histogram": {}},
        "reward": {"challenger": -0.1, "reasoner": None},
        "time": {"iteration": 2.0, "update": 0.5},
    }


def test_the_warning_names_the_role_and_the_likely_cause_once():
    records = [_record(0.0, None) for _ in range(3)]
    warning = no_signal_warning(records, patience=3)
    assert warning is not None and "no challenger learning signal for 3 iterations" in warning
    assert "unparsable" in warning and "reasoner" not in warning.split("(")[0]
    assert no_signal_warning([*records, _record(0.0, None)], patience=3) is None  # said once
    assert no_signal_warning(records[:2], patience=3) is None
    assert no_signal_warning([_record(0.5, 0.0)] + records[:2], patience=3) is None
    assert no_signal_warning(records, patience=0) is None


def test_the_run_summary_tests_the_valid_rate_of_the_first_and_last_quarter():
    records = [_record(0.5, 0.5, valid=1, attempts=10) for _ in range(4)]
    records += [_record(0.5, 0.5, valid=8, attempts=10) for _ in range(4)]
    summary = summarize_run(records)
    valid = summary["valid_rate"]
    assert summary["quarter_iterations"] == 2
    assert valid["first_quarter"]["valid"] == 2 and valid["last_quarter"]["valid"] == 16
    assert valid["rate_a"] == pytest.approx(0.1) and valid["rate_b"] == pytest.approx(0.8)
    assert valid["p_value"] < 1e-4
    assert summary["signal"]["challenger"]["mean"] == pytest.approx(0.5)
    assert summary["seconds"]["iteration"] == pytest.approx(2.0)
    assert "reasoner_anchor" not in summary["reward"]  # a run without anchor tasks


def test_the_run_summary_gives_the_anchor_reward_apart():
    records = [_record(0.5, 0.5, valid=1) for _ in range(8)]
    for index, record in enumerate(records):
        record["anchor"] = {"documents": 2, "answered": 2, "reasoner_reward": index / 10}
    reward = summarize_run(records)["reward"]
    assert reward["reasoner_anchor"]["first_quarter"] == pytest.approx(0.05)
    assert reward["reasoner_anchor"]["last_quarter"] == pytest.approx(0.65)


def test_a_run_that_never_learns_says_so(tmp_path, capsys):
    # The tiny model writes no valid task: every Challenger group is all -0.1.
    config = make_preset("cpu-tiny", **quiet_run(tmp_path / "run", iterations=3))
    trainer = GRPOTrainer(config)
    trainer.train()
    printed = capsys.readouterr()
    assert "no challenger learning signal for 3 iterations" in printed.out + printed.err
    records = read_metrics(tmp_path / "run")
    assert [r["signal"]["challenger"] for r in records] == [0.0, 0.0, 0.0]
    assert records[-1]["challenger"]["valid"] == 0
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["iterations"] == 3 and summary["valid_rate"]["rate_b"] == 0.0


def test_max_minutes_ends_the_run_early_with_its_final_outputs(tmp_path):
    config = make_preset(
        "cpu-tiny",
        iterations=50,
        max_minutes=0.001,  # 60 ms: less than one iteration
        output_dir=str(tmp_path / "run"),
        progress=False,
        plot=False,
        checkpoint_every=0,
    )
    trainer = GRPOTrainer(config)
    records = trainer.train()
    assert len(records) == 1 and not trainer.stopped
    assert (tmp_path / "run" / "final" / "config.json").is_file()
    assert (tmp_path / "run" / "checkpoints" / "iter_000001").is_dir()
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["iterations"] == 1


def _lettered(letters):
    return {**_record(0.5, 0.5), "reasoner_letters": letters}


def test_a_reasoner_piling_its_answers_on_one_letter_is_warned_of_once():
    spread = [_lettered({"A": 6, "B": 7, "C": 6, "D": 5}) for _ in range(3)]
    piled = [_lettered({"A": 1, "B": 20, "C": 2, "none": 1}) for _ in range(3)]
    run = [*spread, *piled, *piled]
    said = {
        n: warning
        for n in range(1, len(run) + 1)
        if (warning := letter_collapse_warning(run[:n], patience=3))
    }
    # Once, when the pooled window first crosses the line: 7 + 20 + 20 of 72 answers are B.
    assert list(said) == [5] and "chose B in 65% of its last 72" in said[5]
    assert letter_collapse_warning(piled[:2], patience=3) is None
    assert letter_collapse_warning(piled, patience=0) is None
    # Too few answers to tell a favourite from chance.
    few = [_lettered({"B": 3}) for _ in range(3)]
    assert letter_collapse_warning(few, patience=3) is None

    summary = summarize_run([*spread, *spread, *piled, *piled])
    letters = summary["reasoner_letters"]
    # Quarters of 3 iterations: 21 of 72 answers B at first, 60 of 72 at the end.
    assert letters["first_quarter"] == {
        "letter": "B",
        "share": pytest.approx(21 / 72),
        "answers": 72,
    }
    assert letters["last_quarter"] == {
        "letter": "B",
        "share": pytest.approx(60 / 72),
        "answers": 72,
    }


def _lengths(answering, generation=0.0, iteration=1):
    return {
        **_record(0.5, 0.5),
        "iteration": iteration,
        "length": {
            "type_selection_truncated": 0.0,
            "generation_truncated": generation,
            "answering_truncated": answering,
        },
    }


def test_a_reasoner_falling_into_cut_off_answers_is_warned_of_once():
    # The share of cut-off Reasoner answers per iteration of a CPU run at learning rate 1e-4
    # (run 12 in the README), whose answers fell into repetition.
    shares = [0.0, 0.0, 0.01, 0.0, 0.14, 0.12, 0.1, 0.14, 0.06, 0.1, 0.14, 0.39, 0.52, 0.95, 1.0]
    run = [_lengths(share, iteration=n) for n, share in enumerate(shares, 1)]
    budgets = token_budgets(make_preset("cpu-smollm2").generation)
    said = {
        n: warning
        for n in range(1, len(run) + 1)
        if (warning := truncation_warning(run[:n], 3, budgets))
    }
    # Once, at iteration 14: (0.39 + 0.52 + 0.95) / 3 = 62%; iterations 11-13 pool to 35%.
    assert list(said) == [14]
    assert "62% of the Reasoner's answers" in said[14]
    assert "reasoner_max_new_tokens=64" in said[14] and "0% at iteration 1" in said[14]
    assert "Challenger" not in said[14]
    assert truncation_warning(run, 0, budgets) is None


def test_cut_off_challenger_tasks_are_warned_of_by_stage():
    run = [_lengths(0.0, generation=0.8) for _ in range(3)]
    warning = truncation_warning(run, 3)
    assert warning is not None and "80% of the Challenger's tasks" in warning
    assert "challenger_max_new_tokens" in warning and "Reasoner" not in warning
    # Records without length fields (older runs) give no warning.
    assert truncation_warning([_record(0.5, 0.5)] * 3, 3) is None


def test_a_run_whose_outputs_are_cut_off_says_so(tmp_path, capsys):
    config = make_preset(
        "cpu-tiny", **quiet_run(tmp_path / "run", iterations=3, type_selection_max_new_tokens=2)
    )
    with pytest.warns(UserWarning, match="too small for the type selection schema"):
        GRPOTrainer(config).train()
    printed = capsys.readouterr()
    assert (
        "of the Challenger's type selections in the last 3 iterations were cut off at "
        "type_selection_max_new_tokens=2" in printed.out + printed.err
    )
    records = read_metrics(tmp_path / "run")
    assert all(r["length"]["type_selection_truncated"] > 0.5 for r in records)
