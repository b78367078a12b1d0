"""``spice eval``: arguments, custom adapters, comparison, errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from spice_env.cli import main
from spice_env.commands.eval import parse_adapter, parse_benchmarks, parse_samples
from tests.evaluation._helpers import addition_rows, write_jsonl


def test_parsers():
    assert parse_benchmarks("gsm8k, quiz=q.jsonl,x=hf:a/b:c@test") == (
        ["gsm8k", "quiz", "x"],
        {"quiz": "q.jsonl", "x": "hf:a/b:c@test"},
    )
    assert parse_samples(None) == (None, {})
    assert parse_samples("4") == (4, {})
    assert parse_samples("aime24=8,gsm8k=1") == (None, {"aime24": 8, "gsm8k": 1})
    adapter = parse_adapter("quiz:question=prompt|q,answer=target,type=Integer,category=general")
    assert adapter.question == ("prompt", "q")
    assert (adapter.answer, adapter.answer_type, adapter.category) == (
        "target",
        "Integer",
        "general",
    )
    with pytest.raises(ValueError, match="unknown or empty key"):
        parse_adapter("quiz:prompt=x")
    with pytest.raises(ValueError, match="NAME:question"):
        parse_adapter("quiz")


def test_eval_oracle_with_a_custom_adapter_then_compare(tmp_path, capsys):
    data = write_jsonl(
        tmp_path / "quiz.jsonl", [{"prompt": f"{i}+1?", "target": i + 1} for i in range(5)]
    )
    write_jsonl(tmp_path / "gsm8k.jsonl", addition_rows(4))
    common = [
        "--benchmarks",
        f"quiz={data},gsm8k",
        "--data-dir",
        str(tmp_path),
        "--adapter",
        "quiz:question=prompt,answer=target,type=Integer",
        "--no-progress",
    ]
    assert main(["eval", "--policy", "oracle", "--out", str(tmp_path / "a"), *common]) == 0
    out = capsys.readouterr().out
    assert "| quiz | math | 5 | pass@1 | 100.0 |" in out
    assert main(["eval", "--policy", "noisy:0.0", "--out", str(tmp_path / "b"), *common]) == 0
    report = json.loads((tmp_path / "b" / "results.json").read_text())
    assert report["label"] == "noisy:0.0"
    assert report["summary"]["overall"] == 0.0
    capsys.readouterr()
    assert (
        main(
            [
                "eval",
                "--compare",
                str(tmp_path / "a"),
                str(tmp_path / "b"),
                "--out",
                str(tmp_path / "cmp"),
            ]
        )
        == 0
    )
    assert "Δ noisy:0.0 vs oracle" in capsys.readouterr().out
    assert (tmp_path / "cmp" / "comparison.png").is_file()


def test_eval_errors_are_short_messages(tmp_path, capsys):
    assert main(["eval", "--out", str(tmp_path / "x")]) == 2
    assert "--model MODEL or --policy" in capsys.readouterr().err
    assert (
        main(
            [
                "eval",
                "--policy",
                "oracle",
                "--benchmarks",
                "gsm8k",
                "--data-dir",
                str(tmp_path),
                "--out",
                str(tmp_path / "x"),
            ]
        )
        == 2
    )
    assert "no file for benchmark 'gsm8k'" in capsys.readouterr().err
    assert main(["eval", "--policy", "oracle", "--model", "smollm2"]) == 2
    assert main(["eval", "--policy", "oracle", "--benchmarks", "nope"]) == 2
    assert "unknown benchmark" in capsys.readouterr().err


def test_eval_list_and_help_stay_light():
    code = (
        "import sys; from spice_env.cli import main; main(['eval', '--list']);"
        "heavy = [m for m in ('torch', 'transformers', 'matplotlib') if m in sys.modules];"
        "assert not heavy, heavy"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "mmlu_stem" in done.stdout and "gsm8k" in done.stdout
