"""Harness checks that can fail: oracle 100%, random letters ~25% on MCQ, wrong format 0%.

Run on the real evaluation files (skipped when ../shared/data/eval is absent) and on small
synthetic files of every format (always run).
"""

from __future__ import annotations

import math

import pytest

from spice_env.evaluation import EvalConfig, evaluate
from spice_env.evaluation.baselines import WRONG_FORMAT_ANSWERS, WrongFormatReasoner
from spice_env.policies import OracleReasoner, RandomReasoner, make_policy
from tests.evaluation._helpers import EVAL_FILES, eval_dir, have_eval_data, write_jsonl

needs_data = pytest.mark.skipif(not have_eval_data(), reason="../shared/data/eval is not present")

FAST = EvalConfig(batch_size=512, progress=False, samples=1)


def _run(policy, names, tmp_path, label, **kwargs):
    return evaluate(policy, names, tmp_path / label, config=FAST, label=label, plot=False, **kwargs)


@needs_data
def test_oracle_scores_100_percent_on_every_real_file(tmp_path):
    report = _run(OracleReasoner(), EVAL_FILES, tmp_path, "oracle", data_dirs=[eval_dir()])
    scores = {name: result["score"] for name, result in report["benchmarks"].items()}
    assert scores == dict.fromkeys(EVAL_FILES, 1.0)
    assert report["summary"]["overall"] == 1.0
    assert report["benchmarks"]["gsm8k"]["items"] == 1319


@needs_data
def test_random_letters_score_near_25_percent_on_mmlu_stem(tmp_path):
    report = _run(RandomReasoner(seed=0), ["mmlu_stem"], tmp_path, "random", data_dirs=[eval_dir()])
    result = report["benchmarks"]["mmlu_stem"]
    items, score = result["items"], result["score"]
    sigma = math.sqrt(0.25 * 0.75 / items)
    # Four standard errors: a seeded run is stable, and a harness that maps letters wrongly
    # (or accepts any letter) lands far outside.
    assert abs(score - 0.25) < 4 * sigma, score
    assert result["no_answer_rate"] == 0.0


@needs_data
def test_wrong_format_scores_zero_everywhere(tmp_path):
    report = _run(WrongFormatReasoner(), EVAL_FILES, tmp_path, "wrong", data_dirs=[eval_dir()])
    assert {n: r["score"] for n, r in report["benchmarks"].items()} == dict.fromkeys(
        EVAL_FILES, 0.0
    )


def _synthetic_files(tmp_path):
    rows = {
        "math500": [
            {"problem": f"P{i}", "answer": a, "unique_id": f"u{i}"}
            for i, a in enumerate(
                [
                    "\\frac{1}{2}",
                    "\\left( 3, \\frac{\\pi}{2} \\right)",
                    "\\text{Evelyn}",
                    "10\\sqrt{2}",
                ]
            )
        ],
        "gsm8k": [
            {"question": f"Q{i}", "answer": f"w\n#### {v}"}
            for i, v in enumerate(["18", "1,200", "-3"])
        ],
        "aime24": [{"id": i, "problem": f"P{i}", "answer": v} for i, v in enumerate(["204", "25"])],
        "amc23": [{"id": i, "question": f"Q{i}", "answer": v} for i, v in enumerate([27.0, 3.5])],
        "minerva_math": [
            {"problem": f"P{i}", "solution": s, "idx": i}
            for i, s in enumerate(
                ["so $\\boxed{1.6}$", "thus \\boxed{\\frac{a}{b}}", "\\boxed{np.arcsin(10/13)}"]
            )
        ],
        "olympiadbench": [
            {"id": i, "question": f"Q{i}", "final_answer": v, "context": None}
            for i, v in enumerate([["$2n$"], ["$69$", "$84$"], ["$(2,4)$"]])
        ],
        "mmlu_stem": [
            {"question": f"Q{i}", "choices": ["red", "green", "blue", "black"], "answer": a}
            for i, a in enumerate([0, 1, 2, 3, "B"])
        ],
    }
    for name, file_rows in rows.items():
        write_jsonl(tmp_path / "data" / f"{name}.jsonl", file_rows)
    return [tmp_path / "data"]


def test_checks_on_synthetic_files_of_every_format(tmp_path):
    dirs = _synthetic_files(tmp_path)
    oracle = _run(make_policy("oracle", role="reasoner"), EVAL_FILES, tmp_path, "o", data_dirs=dirs)
    assert {n: r["score"] for n, r in oracle["benchmarks"].items()} == dict.fromkeys(
        EVAL_FILES, 1.0
    )
    wrong = _run(
        make_policy("wrong_format", role="reasoner"), EVAL_FILES, tmp_path, "w", data_dirs=dirs
    )
    assert {n: r["score"] for n, r in wrong["benchmarks"].items()} == dict.fromkeys(EVAL_FILES, 0.0)


class _MisalignedOracle(OracleReasoner):
    """Gold answers handed back in reverse order: what a batching bug would do."""

    def act_batch(self, observations, infos):
        return list(reversed(super().act_batch(observations, infos)))


def test_the_checks_fail_when_the_harness_is_broken(tmp_path, monkeypatch):
    dirs = _synthetic_files(tmp_path)
    # Answers out of step with their problems: the oracle check catches it.
    misaligned = _run(
        _MisalignedOracle(), ["gsm8k", "mmlu_stem"], tmp_path, "misaligned", data_dirs=dirs
    )
    assert all(r["score"] < 1.0 for r in misaligned["benchmarks"].values())
    # A verifier that credits everything: the wrong-format check catches it.
    import spice_env.verifiers as verifiers
    from spice_env.verifiers import VerifyResult

    def credit_everything(golds, predictions, *args, **kwargs):
        return [VerifyResult(True, "exact", p) for p in predictions]

    monkeypatch.setattr(verifiers, "verify_many", credit_everything)
    credulous = _run(WrongFormatReasoner(), ["gsm8k"], tmp_path, "credulous", data_dirs=dirs)
    assert credulous["benchmarks"]["gsm8k"]["score"] == 1.0


def test_wrong_format_answers_hold_no_answer():
    from spice_env.verifiers import extract_answer

    for text in WRONG_FORMAT_ANSWERS:
        assert extract_answer(text, "MCQ", ["red", "green", "blue", "black"]) is None
    assert sum(extract_answer(t) is None for t in WRONG_FORMAT_ANSWERS) == 3
