"""Tables and charts: one run (JSON, Markdown, PNG) and runs side by side."""

from __future__ import annotations

import json

import pytest

from spice_env.evaluation import EvalConfig, compare_runs, evaluate, load_report, summarize
from spice_env.evaluation.report import comparison_markdown, report_markdown
from spice_env.policies import NoisyReasoner, OracleReasoner
from spice_env.verifiers import VerifierConfig
from tests.evaluation._helpers import addition_rows, write_jsonl


def _result(score, category):
    return {"score": score, "category": category}


def test_summary_follows_the_paper():
    results = {
        "a": _result(0.2, "math"),
        "b": _result(0.4, "math"),
        "c": _result(0.9, "general"),
    }
    summary = summarize(results)
    assert summary["math_average"] == pytest.approx(0.3)
    assert summary["general_average"] == pytest.approx(0.9)
    # Overall is the unweighted mean of the benchmarks, not of the two averages.
    assert summary["overall"] == pytest.approx(0.5)
    assert summarize({"a": _result(0.2, "math")})["general_average"] is None
    assert summarize(results, only=["c"])["overall"] == pytest.approx(0.9)


@pytest.fixture
def two_runs(tmp_path):
    data = tmp_path / "data"
    write_jsonl(data / "gsm8k.jsonl", addition_rows(12))
    write_jsonl(
        data / "mmlu_stem.jsonl",
        [
            {"question": f"Q{i}", "choices": ["red", "green", "blue", "black"], "answer": i % 4}
            for i in range(8)
        ],
    )
    config = EvalConfig(progress=False)
    base = evaluate(
        NoisyReasoner(q=0.25, seed=1),
        ["gsm8k", "mmlu_stem"],
        tmp_path / "base",
        config=config,
        data_dirs=[data],
        label="base",
    )
    better = evaluate(
        OracleReasoner(),
        ["gsm8k", "mmlu_stem"],
        tmp_path / "better",
        config=config,
        data_dirs=[data],
        label="better",
    )
    return tmp_path, base, better


def test_a_run_writes_json_markdown_and_png(two_runs):
    root, base, _ = two_runs
    for name in ("results.json", "results.md", "results.png", "run.json"):
        assert (root / "base" / name).is_file(), name
    assert (root / "base" / "results.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert load_report(root / "base") == json.loads((root / "base" / "results.json").read_text())
    markdown = report_markdown(base)
    assert "| gsm8k | math | 12 | pass@1 |" in markdown
    assert "**overall**" in markdown and "**general average**" in markdown
    assert base["summary"]["math_benchmarks"] == ["gsm8k"]
    assert base["benchmarks"]["mmlu_stem"]["category"] == "general"


def test_comparison_of_two_runs(two_runs):
    root, base, better = two_runs
    comparison = compare_runs([root / "base", root / "better"], root / "cmp")
    assert comparison["labels"] == ["base", "better"]
    assert comparison["benchmarks"]["gsm8k"] == [base["benchmarks"]["gsm8k"]["score"], 1.0]
    assert comparison["summary"]["overall"][1] == 1.0
    for name in ("comparison.json", "comparison.md", "comparison.png"):
        assert (root / "cmp" / name).is_file()
    markdown = comparison_markdown(comparison)
    assert "Δ better vs base" in markdown
    delta = 100 * (1.0 - base["benchmarks"]["gsm8k"]["score"])
    assert f"+{delta:.1f}" in markdown


def test_comparison_averages_over_shared_benchmarks_and_needs_two_runs(two_runs):
    root, base, better = two_runs
    partial = {**better, "label": "partial", "benchmarks": {"gsm8k": better["benchmarks"]["gsm8k"]}}
    comparison = compare_runs([base, partial, better])
    assert comparison["shared"] == ["gsm8k"]
    assert comparison["benchmarks"]["mmlu_stem"][1] is None
    assert comparison["summary"]["general_average"] == [None, None, None]
    assert "–" in comparison_markdown(comparison)
    with pytest.raises(ValueError, match="at least two"):
        compare_runs([base])
    with pytest.raises(FileNotFoundError):
        load_report(root / "nowhere")


def test_comparison_runs_a_paired_test_on_the_items_both_runs_answered(two_runs):
    root, base, _ = two_runs
    comparison = compare_runs([root / "base", root / "better"])
    test = comparison["paired"]["gsm8k"][0]
    assert test["test"] == "mcnemar_exact" and test["n"] == 12
    # The oracle is right everywhere: every item the base got wrong is a discordant pair.
    wrong = round(12 * (1 - base["benchmarks"]["gsm8k"]["score"]))
    assert (test["b"], test["c"]) == (0, wrong)
    assert test["p_value"] == pytest.approx(min(1.0, 2 / 2**wrong))
    assert "mcnemar_exact on 12 items" in comparison_markdown(comparison)
    # Report dicts carry no per-item answers: no paired test, no error.
    assert compare_runs([base, base])["paired"]["gsm8k"] == [None]


def test_comparison_of_sampled_runs_uses_the_sign_flip_test(tmp_path):
    """With K samples per item the paired test compares per-item pass rates: a sign-flip
    p-value and a bootstrap interval of the mean difference, both in the Markdown."""
    data = tmp_path / "data"
    write_jsonl(data / "gsm8k.jsonl", addition_rows(40))
    config = EvalConfig(progress=False, samples=4, temperature=1.0)
    runs = []
    for label, q in (("weak", 0.2), ("strong", 0.8)):
        evaluate(
            NoisyReasoner(q=q, seed=3),
            ["gsm8k"],
            tmp_path / label,
            config=config,
            data_dirs=[data],
            label=label,
        )
        runs.append(tmp_path / label)
    comparison = compare_runs(runs)
    test = comparison["paired"]["gsm8k"][0]
    assert test["test"] == "sign_flip" and test["n"] == 40
    assert test["mean_difference"] > 0.3 and test["low"] > 0 and test["p_value"] < 1e-3
    assert "sign_flip on 40 items" in comparison_markdown(comparison)
    assert "bootstrap interval" in comparison_markdown(comparison)


class _FavouriteLetter(OracleReasoner):
    """Right on free form, and "B" to every multiple-choice question: a collapsed policy."""

    def act(self, observation, info):
        if info["task"]["task_type"] == "mcq":
            return "I will go with \\boxed{B}."
        return super().act(observation, info)


def _mixed_rows(golds):
    return [
        {
            "id": f"m{i}",
            "question": f"Which colour is number {i}?",
            "task_type": "mcq",
            "answer_type": "MCQ",
            "options": ["red", "green", "blue", "black"],
            "answer": gold,
        }
        for i, gold in enumerate(golds)
    ] + [
        {
            "id": f"f{i}",
            "question": f"What is {i} + {i}?",
            "task_type": "free_form",
            "answer_type": "Integer",
            "options": None,
            "answer": str(2 * i),
        }
        for i in range(6)
    ]


def test_reports_split_task_types_and_put_a_favourite_letter_beside_its_score(tmp_path):
    golds = "BABCBDAC"  # B is the gold of 3 of the 8 multiple-choice tasks
    write_jsonl(tmp_path / "tasks.jsonl", _mixed_rows(golds))
    config = EvalConfig(progress=False)
    sources = {"spice_tasks": tmp_path / "tasks.jsonl"}
    for label, policy in (("oracle", OracleReasoner()), ("collapsed", _FavouriteLetter())):
        evaluate(
            policy,
            ["spice_tasks"],
            tmp_path / label,
            config=config,
            sources=sources,
            label=label,
            plot=False,
        )
    result = load_report(tmp_path / "collapsed")["benchmarks"]["spice_tasks"]
    assert result["by_task_type"] == {
        "mcq": {"items": 8, "score": 3 / 8},
        "free_form": {"items": 6, "score": 1.0},
    }
    letters = result["mcq_letters"]
    assert (letters["letter"], letters["share"], letters["always_letter_score"]) == (
        "B",
        1.0,
        3 / 8,
    )
    assert letters["golds"] == {"A": 2, "B": 3, "C": 2, "D": 1}
    assert (
        "favourite letter B in 100.0% of multiple-choice answers (answering B to all: 37.5)"
        in (tmp_path / "collapsed" / "results.md").read_text()
    )

    comparison = compare_runs([tmp_path / "oracle", tmp_path / "collapsed"], plot=False)
    by_type = comparison["paired_by_task_type"]["spice_tasks"]
    assert (by_type["mcq"][0]["n"], by_type["mcq"][0]["b"], by_type["mcq"][0]["c"]) == (8, 5, 0)
    assert (by_type["free_form"][0]["b"], by_type["free_form"][0]["c"]) == (0, 0)
    markdown = comparison_markdown(comparison)
    assert "spice_tasks mcq, collapsed: mcnemar_exact on 8 items" in markdown
    assert (
        "- spice_tasks, collapsed: B in 100.0% of answers; answering B to all scores 37.5"
        in markdown
    )
    # An oracle's favourite letter is the gold's most frequent one, and it scores 100.
    assert "- spice_tasks, oracle: B in 37.5% of answers" in markdown


class _NumbersOnLetters(OracleReasoner):
    """Boxes a number to most multiple-choice questions (as a Reasoner trained on free form
    alone did), a letter to every fourth one."""

    def act(self, observation, info):
        if info["task"]["task_type"] == "mcq":
            index = int(info["task"]["question"].split()[-1].rstrip("?"))
            return "\\boxed{C}" if index % 4 == 0 else "\\boxed{140}"
        return super().act(observation, info)


def test_a_boxed_number_is_never_the_favourite_letter(tmp_path):
    write_jsonl(tmp_path / "tasks.jsonl", _mixed_rows("BABCBDAC"))
    evaluate(
        _NumbersOnLetters(),
        ["spice_tasks"],
        tmp_path / "numbers",
        config=EvalConfig(progress=False, verifier_config=VerifierConfig(mode="strict")),
        sources={"spice_tasks": tmp_path / "tasks.jsonl"},
        label="numbers",
        plot=False,
    )
    letters = load_report(tmp_path / "numbers")["benchmarks"]["spice_tasks"]["mcq_letters"]
    # 140 is the most frequent answer (6 of 8), but not a letter: C (2 of 8) is the favourite
    assert letters["answers"] == {"140": 6, "C": 2}
    assert (letters["letter"], letters["share"]) == ("C", 2 / 8)
    assert "favourite letter C in 25.0%" in (tmp_path / "numbers" / "results.md").read_text()


def test_rotated_options_score_a_favourite_letter_at_chance_whatever_the_golds(tmp_path):
    write_jsonl(tmp_path / "tasks.jsonl", _mixed_rows("BBBBBBAC"))  # B: 6 of 8 golds
    sources = {"spice_tasks": tmp_path / "tasks.jsonl"}
    scores = {}
    for rotations in (1, 4):
        for label, policy in (("oracle", OracleReasoner()), ("collapsed", _FavouriteLetter())):
            out = tmp_path / f"{label}{rotations}"
            config = EvalConfig(progress=False, mcq_rotations=rotations)
            evaluate(
                policy,
                ["spice_tasks"],
                out,
                config=config,
                sources=sources,
                label=label,
                plot=False,
            )
            scores[label, rotations] = load_report(out)["benchmarks"]["spice_tasks"]
    # As given, always-B scores the 75% that B's share of the golds gives it; rotated, 25%.
    assert scores["collapsed", 1]["by_task_type"]["mcq"]["score"] == 0.75
    rotated = scores["collapsed", 4]
    assert rotated["by_task_type"]["mcq"]["score"] == 0.25
    assert rotated["mcq_letters"]["always_letter_score"] == 0.25
    assert rotated["mcq_rotations"] == 4 and rotated["items"] == 14
    assert scores["oracle", 4]["by_task_type"]["mcq"]["score"] == 1.0
    assert (
        "asked once per rotation of their options"
        in (tmp_path / "collapsed4" / "results.md").read_text()
    )
    # Each item keeps one record with an answer per rotation, and a re-check agrees.
    records = [
        json.loads(line)
        for line in (tmp_path / "collapsed4" / "cache" / "spice_tasks.jsonl").open()
    ]
    first = next(r for r in records if r["id"] == "m0")
    assert first["golds"] == ["B", "A", "D", "C"] and first["correct"] == [
        True,
        False,
        False,
        False,
    ]
    config = EvalConfig(progress=False, mcq_rotations=4, rescore=True)
    again = evaluate(
        _FavouriteLetter(),
        ["spice_tasks"],
        tmp_path / "collapsed4",
        config=config,
        sources=sources,
        label="collapsed",
        plot=False,
    )
    assert again["benchmarks"]["spice_tasks"]["queried_items"] == 0
    assert again["benchmarks"]["spice_tasks"]["score"] == rotated["score"]
    # Per-item means over rotations: the paired comparison is the sign-flip test.
    comparison = compare_runs([tmp_path / "collapsed1", tmp_path / "collapsed4"], plot=False)
    assert comparison["paired"]["spice_tasks"][0]["test"] == "sign_flip"


def test_rotations_move_the_gold_letter_with_its_option():
    from spice_env.evaluation.benchmarks import EvalItem, rotations_of

    item = EvalItem("b", "q1", "Which?", "C", "MCQ", ("w", "x", "y", "z"))
    views = rotations_of(item, 4)
    assert [v.options for v in views][:2] == [("w", "x", "y", "z"), ("x", "y", "z", "w")]
    assert all(v.options["ABCD".index(v.gold)] == "y" for v in views)
    assert rotations_of(item, 1) == [item] and len(rotations_of(item, 9)) == 4
    free = EvalItem("b", "q2", "2 + 2?", "4", "Integer", None)
    assert rotations_of(free, 4) == [free]
    with pytest.raises(ValueError, match="at least 1"):
        EvalConfig(mcq_rotations=0)
    with pytest.raises(ValueError, match="greedy"):
        EvalConfig(mcq_rotations=4, samples=8)
