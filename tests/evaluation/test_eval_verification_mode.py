"""Every evaluation report says which verification mode it used, and a cache never mixes modes."""

from __future__ import annotations

import json
from typing import Any

from spice_env.evaluation import EvalConfig, evaluate
from spice_env.policies import BasePolicy
from spice_env.verifiers import VerifierConfig
from tests.evaluation._helpers import addition_rows, write_jsonl


class UnboxedOracle(BasePolicy):
    """Right, but never boxes: lenient mode pays it, strict (training) mode does not."""

    uses_privileged_info = True  # it reads the gold

    def __init__(self) -> None:
        self.calls = 0

    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
        self.calls += 1
        return f"Adding the two numbers, the answer is {info['privileged']['answer']}."


def _records(folder) -> list[dict[str, Any]]:
    path = folder / "cache" / "gsm8k.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_reports_and_records_state_the_mode_and_a_mode_change_reverifies(tmp_path) -> None:
    write_jsonl(tmp_path / "data" / "gsm8k.jsonl", addition_rows(6))
    policy = UnboxedOracle()
    common = dict(data_dirs=[tmp_path / "data"], label="unboxed", plot=False)
    out = tmp_path / "run"

    lenient = evaluate(policy, ["gsm8k"], out, config=EvalConfig(progress=False), **common)
    assert lenient["verification_mode"] == "lenient"  # evaluation's default
    assert lenient["config"]["verifier_config"]["mode"] == "lenient"
    assert lenient["benchmarks"]["gsm8k"]["score"] == 1.0
    assert "Verification mode: lenient" in (out / "results.md").read_text(encoding="utf-8")
    assert {r["verification_mode"] for r in _records(out)} == {"lenient"}
    calls = policy.calls

    strict = EvalConfig(progress=False, verifier_config=VerifierConfig(mode="strict"))
    again = evaluate(policy, ["gsm8k"], out, config=strict, **common)
    assert policy.calls == calls  # cached answers are re-verified, not asked again
    assert again["verification_mode"] == "strict"
    assert again["benchmarks"]["gsm8k"]["score"] == 0.0  # nothing was boxed
    assert {r["verification_mode"] for r in _records(out)} == {"strict"}
    assert {reason for r in _records(out) for reason in r["reasons"]} == {"not_boxed"}
    assert "Verification mode: strict" in (out / "results.md").read_text(encoding="utf-8")


def test_spice_eval_chooses_the_mode(tmp_path, capsys) -> None:
    from spice_env.cli import main

    write_jsonl(tmp_path / "gsm8k.jsonl", addition_rows(3))
    for mode in ("lenient", "strict"):
        out = tmp_path / mode
        code = main(
            [
                "eval",
                "--policy",
                "oracle",
                "--benchmarks",
                "gsm8k",
                "--data-dir",
                str(tmp_path),
                "--verifier-mode",
                mode,
                "--no-progress",
                "--no-plot",
                "--out",
                str(out),
            ]
        )
        assert code == 0
        report = json.loads((out / "results.json").read_text(encoding="utf-8"))
        assert report["verification_mode"] == mode
        assert report["benchmarks"]["gsm8k"]["score"] == 1.0  # the oracle boxes its answers
