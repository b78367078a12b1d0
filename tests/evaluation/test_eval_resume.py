"""Resume: an interrupted evaluation continues without re-querying finished problems."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from spice_env.evaluation import Benchmark, EvalConfig, evaluate
from tests.evaluation._helpers import AdditionBackend, addition_rows, write_jsonl

ROOT = Path(__file__).resolve().parents[2]
COUNT = 20


def _table(report):
    """The scores of a report, without timings."""
    keep = ("items", "samples", "primary", "score", "pass@1")
    return {
        name: {k: v for k, v in result.items() if k in keep or k.startswith(("avg@", "maj@"))}
        for name, result in report["benchmarks"].items()
    } | {"summary": report["summary"]}


@pytest.fixture
def data(tmp_path):
    write_jsonl(tmp_path / "data" / "gsm8k.jsonl", addition_rows(COUNT))
    sampled = Benchmark(
        "addition_sampled",
        question="question",
        answer="answer",
        gold_reader="after_hashes",
        samples=4,
        temperature=0.6,
    )
    write_jsonl(tmp_path / "data" / "addition_sampled.jsonl", addition_rows(COUNT, start=100))
    return tmp_path / "data", sampled


@pytest.mark.parametrize("interrupt_on_call", [2, 4, 6])
def test_killed_run_resumes_to_the_same_table_without_requerying(data, tmp_path, interrupt_on_call):
    data_dir, sampled = data
    config = EvalConfig(batch_size=3, progress=False)
    benchmarks = ["gsm8k", sampled]

    clean_backend = AdditionBackend()
    clean = evaluate(
        clean_backend,
        benchmarks,
        tmp_path / "clean",
        config=config,
        data_dirs=[data_dir],
        label="fake",
        plot=False,
    )
    batches = 2 * -(-COUNT // 3)
    assert clean_backend.calls == batches

    first = AdditionBackend(fail_after_calls=interrupt_on_call)
    with pytest.raises(KeyboardInterrupt):
        evaluate(
            first,
            benchmarks,
            tmp_path / "resumed",
            config=config,
            data_dirs=[data_dir],
            label="fake",
            plot=False,
        )
    answered_before = list(first.questions)
    assert answered_before

    second = AdditionBackend()
    resumed = evaluate(
        second,
        benchmarks,
        tmp_path / "resumed",
        config=config,
        data_dirs=[data_dir],
        label="fake",
        plot=False,
    )
    assert _table(resumed) == _table(clean)
    # Finished problems were never sent again; together the two runs asked each problem once.
    assert not set(answered_before) & set(second.questions)
    assert len(answered_before) + len(second.questions) == 2 * COUNT
    assert first.calls - 1 + second.calls == batches

    # A third run is all cache: no model call at all.
    third = AdditionBackend()
    again = evaluate(
        third,
        benchmarks,
        tmp_path / "resumed",
        config=config,
        data_dirs=[data_dir],
        label="fake",
        plot=False,
    )
    assert third.calls == 0
    assert _table(again) == _table(clean)


def test_a_torn_last_line_is_ignored_and_rerun(data, tmp_path):
    data_dir, _ = data
    config = EvalConfig(batch_size=5, progress=False)
    evaluate(
        AdditionBackend(),
        ["gsm8k"],
        tmp_path / "run",
        config=config,
        data_dirs=[data_dir],
        label="fake",
        plot=False,
    )
    cache = tmp_path / "run" / "cache" / "gsm8k.jsonl"
    lines = cache.read_text().splitlines()
    cache.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][: len(lines[-1]) // 2])
    backend = AdditionBackend()
    report = evaluate(
        backend,
        ["gsm8k"],
        tmp_path / "run",
        config=config,
        data_dirs=[data_dir],
        label="fake",
        plot=False,
    )
    assert backend.calls == 1 and len(backend.questions) == 1
    assert report["benchmarks"]["gsm8k"]["items"] == COUNT
    assert report["benchmarks"]["gsm8k"]["score"] == 0.5


def test_changed_settings_do_not_reuse_stale_answers(data, tmp_path):
    data_dir, _ = data
    out = tmp_path / "run"
    evaluate(
        AdditionBackend(),
        ["gsm8k"],
        out,
        config=EvalConfig(progress=False, limit=4),
        data_dirs=[data_dir],
        label="fake",
        plot=False,
    )
    backend = AdditionBackend()
    evaluate(
        backend,
        ["gsm8k"],
        out,
        config=EvalConfig(progress=False, limit=6),
        data_dirs=[data_dir],
        label="fake",
        plot=False,
    )
    assert len(backend.questions) == 2  # only the two new problems
    backend = AdditionBackend()
    evaluate(
        backend,
        ["gsm8k"],
        out,
        config=EvalConfig(progress=False, limit=6, max_new_tokens=99),
        data_dirs=[data_dir],
        label="fake",
        plot=False,
    )
    assert len(backend.questions) == 6  # a new budget is a new protocol


def test_a_folder_of_another_policy_is_refused_unless_overwritten(data, tmp_path):
    data_dir, _ = data
    out = tmp_path / "run"
    config = EvalConfig(progress=False, limit=3)
    evaluate(
        AdditionBackend(),
        ["gsm8k"],
        out,
        config=config,
        data_dirs=[data_dir],
        label="model-a",
        plot=False,
    )
    with pytest.raises(ValueError, match="holds an evaluation of 'model-a'"):
        evaluate(
            AdditionBackend(),
            ["gsm8k"],
            out,
            config=config,
            data_dirs=[data_dir],
            label="model-b",
            plot=False,
        )
    backend = AdditionBackend()
    overwrite = EvalConfig(progress=False, limit=3, overwrite=True)
    evaluate(
        backend, ["gsm8k"], out, config=overwrite, data_dirs=[data_dir], label="model-b", plot=False
    )
    assert backend.calls == 1


def test_rescore_reverifies_cached_answers_without_model_calls(data, tmp_path):
    data_dir, _ = data
    out = tmp_path / "run"
    config = EvalConfig(progress=False, limit=6)
    evaluate(
        AdditionBackend(),
        ["gsm8k"],
        out,
        config=config,
        data_dirs=[data_dir],
        label="fake",
        plot=False,
    )
    cache = out / "cache" / "gsm8k.jsonl"
    records = [json.loads(line) for line in cache.read_text().splitlines()]
    for record in records:
        record["correct"] = [True]  # a stale verdict, as from an older verifier
    cache.write_text("".join(json.dumps(r) + "\n" for r in records))
    backend = AdditionBackend()
    stale = evaluate(
        backend, ["gsm8k"], out, config=config, data_dirs=[data_dir], label="fake", plot=False
    )
    assert stale["benchmarks"]["gsm8k"]["score"] == 1.0
    rescored = evaluate(
        backend,
        ["gsm8k"],
        out,
        config=EvalConfig(progress=False, limit=4, rescore=True),
        data_dirs=[data_dir],
        label="fake",
        plot=False,
    )
    assert rescored["benchmarks"]["gsm8k"]["score"] == 0.5
    # Items outside this run's --limit keep their records (and their stale verdicts).
    wider = evaluate(
        backend, ["gsm8k"], out, config=config, data_dirs=[data_dir], label="fake", plot=False
    )
    assert wider["benchmarks"]["gsm8k"]["score"] == pytest.approx(4 / 6)
    assert backend.calls == 0


_SLOW_POLICY_MODULE = """
import time
from spice_env.policies import BasePolicy, register_policy

class SlowOracle(BasePolicy):
    uses_privileged_info = True

    def act(self, observation, info):
        time.sleep({delay})
        with open({log!r}, "a") as handle:
            handle.write(info["task"]["question"] + "\\n")
        return "\\\\boxed{{" + info["privileged"]["answer"] + "}}"

register_policy("slow_oracle", lambda arg, *, role, seed, **_: SlowOracle(), overwrite=True)
"""


def test_sigkill_midway_then_rerun_resumes_from_the_cli(data, tmp_path):
    data_dir, _ = data
    log = tmp_path / "asked.log"
    module = tmp_path / "plugins" / "slow_policy_plugin.py"
    module.parent.mkdir()
    module.write_text(textwrap.dedent(_SLOW_POLICY_MODULE.format(delay=0.05, log=str(log))))
    env = {**os.environ, "PYTHONPATH": f"{module.parent}{os.pathsep}{ROOT}"}
    command = [
        sys.executable,
        "-m",
        "spice_env",
        "eval",
        "--import",
        "slow_policy_plugin",
        "--policy",
        "slow_oracle",
        "--benchmarks",
        "gsm8k",
        "--data-dir",
        str(data_dir),
        "--batch-size",
        "2",
        "--out",
        str(tmp_path / "run"),
        "--no-progress",
        "--no-plot",
    ]
    process = subprocess.Popen(
        command, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    cache = tmp_path / "run" / "cache" / "gsm8k.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if cache.is_file() and len(cache.read_text().splitlines()) >= 4:
            break
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    finished = {
        json.loads(line)["id"]
        for line in cache.read_text().splitlines()
        if line.strip().endswith("}")
    }
    assert 4 <= len(finished) < COUNT, "the run must be killed midway"
    asked_first = log.read_text().splitlines()

    done = subprocess.run(
        command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    asked_second = log.read_text().splitlines()[len(asked_first) :]
    questions = [row["question"] for row in addition_rows(COUNT)]
    finished_questions = {questions[int(i)] for i in finished}
    assert not finished_questions & set(asked_second)
    assert set(asked_first) | set(asked_second) == set(questions)
    report = json.loads((tmp_path / "run" / "results.json").read_text())
    assert report["benchmarks"]["gsm8k"]["items"] == COUNT
    assert report["benchmarks"]["gsm8k"]["score"] == 1.0
