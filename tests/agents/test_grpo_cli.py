"""``spice train`` / ``spice plot`` end to end on cpu-tiny, metrics and plots, the tiny model."""

from __future__ import annotations

import json
import sys

import pytest
from spice_agents.metrics import MetricsLogger, histogram, read_metrics
from spice_agents.plotting import plot_run

from spice_env.cli import build_parser, main

EXPECTED_PNGS = {
    "rewards.png",
    "challenger.png",
    "losses.png",
    "policy.png",
    "lengths.png",
    "throughput.png",
    "time_per_phase.png",
    "pass_rate_histogram.png",
    "signal.png",
}


def test_cli_module_import_is_light():
    import subprocess

    code = (
        "import sys, spice_env.cli as c; c.build_parser(); "
        "print('torch' in sys.modules or 'transformers' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_train_help_lists_every_setting_with_its_docstring(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--help"])
    text = capsys.readouterr().out
    assert "--learning-rate" in text and "--kl-coef" in text and "--preset" in text
    assert "AdamW learning rate after warm-up" in text


def test_spice_train_cpu_tiny_writes_metrics_checkpoints_and_plots(tmp_path, capsys):
    run_dir = tmp_path / "run"
    code = main(
        [
            "train",
            "--preset",
            "cpu-tiny",
            "--iterations",
            "2",
            "--output-dir",
            str(run_dir),
            "--checkpoint-every",
            "1",
            "--progress",
            "false",
        ]
    )
    assert code == 0
    records = read_metrics(run_dir)
    assert [r["iteration"] for r in records] == [1, 2]
    record = records[-1]
    # rewards per role, valid rate and reasons, histogram, every loss term, KL, entropy,
    # lengths, tokens/s, time per phase
    assert set(record["reward"]) == {"challenger", "reasoner", "reasoner_all_answers"}
    assert {"valid_rate", "invalid_reasons", "attempts"} <= set(record["challenger"])
    assert set(record["pass_rate"]["histogram"]) == {"0/2", "1/2", "2/2"}
    assert set(record["loss"]) == {"total", "policy", "policy_challenger", "policy_reasoner", "kl"}
    assert {"reference", "sampler"} <= set(record["kl"]) and "entropy" in record
    assert "type_selection_mean" in record["length"]
    assert "generated_tokens_per_s" in record["throughput"]
    assert {"challenger_generation", "update", "iteration"} <= set(record["time"])
    assert {p.name for p in (run_dir / "plots").iterdir()} == EXPECTED_PNGS
    assert (run_dir / "final" / "config.json").is_file()
    assert json.loads((run_dir / "config.json").read_text())["preset"] == "cpu-tiny"
    assert "s/iteration" in capsys.readouterr().err

    # --resume PATH continues the same run (config reused) and --iterations extends it
    assert (
        main(["train", "--resume", str(run_dir), "--iterations", "3", "--progress", "false"]) == 0
    )
    assert [r["iteration"] for r in read_metrics(run_dir)] == [1, 2, 3]

    # spice plot redraws
    assert main(["plot", str(run_dir), "--out", str(tmp_path / "png")]) == 0
    assert {p.name for p in (tmp_path / "png").iterdir()} == EXPECTED_PNGS


def test_print_config_and_bad_settings(capsys, tmp_path):
    assert (
        main(["train", "--preset", "cpu-smollm2", "--learning-rate", "2e-6", "--print-config"]) == 0
    )
    config = json.loads(capsys.readouterr().out)
    assert config["optim"]["learning_rate"] == 2e-6 and config["model"]["model"] == "smollm2"
    assert main(["train", "--group-size", "8", "--max-attempts", "2", "--print-config"]) == 2
    assert "max_attempts" in capsys.readouterr().err
    assert main(["plot", str(tmp_path / "missing")]) == 2


def test_a_missing_or_unusable_corpus_exits_2_before_any_output(capsys, tmp_path):
    short = tmp_path / "short.jsonl"
    short.write_text(json.dumps({"id": "a", "text": "too short to read"}))
    for corpus, reason in ((tmp_path / "missing.jsonl", "does not exist"), (short, "no usable")):
        out = tmp_path / "run"
        argv = ["train", "--preset", "cpu-tiny", "--corpus", str(corpus), "--output-dir", str(out)]
        assert main(argv) == 2
        assert reason in capsys.readouterr().err
        assert not out.exists()


def test_metrics_logger_drops_records_after_the_resumed_checkpoint(tmp_path):
    logger = MetricsLogger(tmp_path)
    for iteration in (1, 2, 3):
        logger.log({"iteration": iteration, "loss": {"total": 0.1 * iteration}})
    MetricsLogger(tmp_path, resume_iteration=2)
    assert [r["iteration"] for r in read_metrics(tmp_path)] == [1, 2]
    assert histogram([0.0, 0.5, 0.5, 1.0], 2) == {"0/2": 1, "1/2": 2, "2/2": 1}


def test_plots_survive_missing_values(tmp_path):
    logger = MetricsLogger(tmp_path)
    logger.log({"iteration": 1, "reward": {"challenger": None, "reasoner": 0.2}})
    written = plot_run(tmp_path)
    assert {p.name for p in written} == EXPECTED_PNGS


def test_tiny_tokenizer_and_model(tiny_tokenizer):
    from spice_agents.tiny import build_tiny_model, build_tiny_tokenizer

    again = build_tiny_tokenizer(512)
    text = "Reason step by step, then give your final answer within \\boxed{}."
    assert again(text)["input_ids"] == tiny_tokenizer(text)["input_ids"]
    assert len(tiny_tokenizer(text)["input_ids"]) < 0.6 * len(text)  # merges learned from prompts
    rendered = tiny_tokenizer.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True
    )
    assert rendered == "<|user|>hi<|end|><|assistant|>"
    a, b = build_tiny_model(tiny_tokenizer, seed=0), build_tiny_model(tiny_tokenizer, seed=0)
    assert all((p == q).all() for p, q in zip(a.parameters(), b.parameters()))
    assert a.config.vocab_size == len(tiny_tokenizer)
    with pytest.raises(ValueError, match="byte alphabet"):
        build_tiny_tokenizer(100)


def test_tensorboard_is_optional(tmp_path):
    import importlib.util

    if importlib.util.find_spec("tensorboard") is None:
        with pytest.raises(ImportError, match="pip install tensorboard"):
            MetricsLogger(tmp_path, tensorboard=True)
    else:
        logger = MetricsLogger(tmp_path, tensorboard=True)
        logger.log({"iteration": 1, "loss": {"total": 0.5}})
        logger.close()
        assert (tmp_path / "tensorboard").is_dir()
