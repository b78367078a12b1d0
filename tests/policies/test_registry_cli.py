"""Language-model policies by name, the ``spice play`` flags, and a light ``import spice_env``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from spice_env.cli import build_parser
from spice_env.commands.play import _llm_options
from spice_env.policies import LLMPolicy, list_policies, make_policy


def test_language_model_policies_are_registered() -> None:
    assert {"hf", "openai", "vllm"} <= set(list_policies())


def test_import_stays_light() -> None:
    code = (
        "import sys, spice_env, spice_env.policies as p; "
        "p.list_policies(); p.SamplingParams(); p.LLMPolicy; "
        "print(sorted(m for m in ('torch', 'transformers', 'httpx', 'vllm') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_play_flags_fill_both_roles_options() -> None:
    args = build_parser().parse_args(
        [
            "play",
            "--challenger", "hf",
            "--reasoner", "openai",
            "--model", "shared",
            "--reasoner-model", "small",
            "--temperature", "0.6",
            "--max-new-tokens", "64",
            "--reasoner-max-new-tokens", "32",
            "--base-url", "http://127.0.0.1:9/v1",
            "--concurrency", "4",
            "--extra-body", '{"top_k": 0}',
            "--reasoner-prompt-style", "base",
        ]
    )  # fmt: skip
    challenger = _llm_options(args, "challenger")
    reasoner = _llm_options(args, "reasoner")
    assert challenger["model"] == "shared" and reasoner["model"] == "small"
    assert challenger["max_new_tokens"] == 64 and reasoner["max_new_tokens"] == 32
    assert challenger["temperature"] == reasoner["temperature"] == 0.6
    assert reasoner["extra_body"] == {"top_k": 0} and reasoner["concurrency"] == 4
    assert reasoner["use_chat"] is False and "use_chat" not in challenger
    assert "top_p" not in challenger  # unset flags keep the backend defaults


def test_play_constraint_and_temperature_defaults() -> None:
    from spice_env.commands.play import CHALLENGER_TEMPERATURE

    parse = build_parser().parse_args
    args = parse(["play", "--challenger", "hf", "--reasoner", "hf"])
    challenger, reasoner = _llm_options(args, "challenger"), _llm_options(args, "reasoner")
    assert challenger["constrain"] == "on" and challenger["temperature"] == CHALLENGER_TEMPERATURE
    assert "temperature" not in reasoner  # the Reasoner keeps the backend default, 1.0
    # The paper's setting is one flag pair away; role flags win over the shared one.
    paper = _llm_options(
        parse(["play", "--constrain", "off", "--temperature", "1.0"]), "challenger"
    )
    assert (paper["constrain"], paper["temperature"]) == ("off", 1.0)
    split = parse(["play", "--temperature", "0.3", "--reasoner-temperature", "0.0"])
    assert _llm_options(split, "challenger")["temperature"] == 0.3
    assert _llm_options(split, "reasoner")["temperature"] == 0.0
    with pytest.raises(ValueError, match="'on'"):
        make_policy("openai", role="challenger", base_url="http://127.0.0.1:9/v1", constrain="no")


@pytest.mark.parametrize("types", ["free_form", "mcq"])
def test_play_task_types_limit_what_the_challenger_writes(tmp_path: Path, types: str) -> None:
    from spice_env.cli import main

    out = tmp_path / "episodes.jsonl"
    argv = ["play", "--episodes", "12", "--task-types", types, "--out", str(out), "--no-progress"]
    assert main(argv) == 0
    episodes = [json.loads(line) for line in out.read_text().splitlines()]
    written = [e["task"]["task_type"] for e in episodes if e["valid"]]
    assert len(episodes) == 12 and written and set(written) == {types}


@pytest.mark.parametrize("part", ["train", "holdout"])
def test_play_with_a_holdout_fraction_plays_one_side_of_the_split(
    tmp_path: Path, part: str
) -> None:
    # `spice play` reads the corpus flags `spice train`, `spice tasks` and `spice probe` read.
    from spice_env.cli import main
    from spice_env.corpus import load_corpus

    out = tmp_path / "episodes.jsonl"
    argv = ["play", "--episodes", "24", "--holdout-fraction", "0.3", "--part", part]
    assert main([*argv, "--out", str(out), "--no-progress"]) == 0
    played = {json.loads(line)["document_id"] for line in out.read_text().splitlines()}
    side = {d.id for d in load_corpus(None, holdout_fraction=0.3, part=part)}
    other = {d.id for d in load_corpus(None, holdout_fraction=0.3, part="train")} - side
    assert played and played <= side and not played & other


@pytest.mark.parametrize("quiet", [False, True])
def test_play_no_progress_hides_the_corpus_build_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], quiet: bool
) -> None:
    from spice_env.cli import main

    corpus = tmp_path / "notes.jsonl"
    line = "Note {i}: the pump at the north well moved {n} litres of water into the tank over the night, and the gauge on the tank read full by six in the morning."
    rows = [{"id": f"n{i}", "text": line.format(i=i, n=10 + i)} for i in range(30)]  # fmt: skip
    corpus.write_text("\n".join(json.dumps(row) for row in rows))
    monkeypatch.setenv("SPICE_ENV_CACHE", str(tmp_path / "cache"))  # a fresh build, not a cache hit
    argv = ["play", "--episodes", "2", "--corpus", str(corpus), "--out", str(tmp_path / "e.jsonl")]
    assert main([*argv, "--no-progress"] if quiet else argv) == 0
    assert ("building notes.jsonl" in capsys.readouterr().err) is not quiet


def test_play_with_an_unusable_corpus_exits_2_with_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from spice_env.cli import main

    corpus = tmp_path / "short.jsonl"
    corpus.write_text(json.dumps({"id": "a", "text": "too short"}))
    missing = tmp_path / "missing.jsonl"
    for path in (corpus, missing):
        assert main(["play", "--corpus", str(path), "--out", str(tmp_path / "e.jsonl")]) == 2
        assert "spice play: " in capsys.readouterr().err
    assert not (tmp_path / "e.jsonl").exists()


def test_openai_policy_needs_a_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ValueError, match="--base-url"):
        make_policy("openai", role="reasoner")


def test_openai_policy_shares_one_backend_between_roles() -> None:
    pytest.importorskip("httpx")
    options = {"base_url": "http://127.0.0.1:9/v1", "model": "m", "max_new_tokens": 16}
    challenger = make_policy("openai", role="challenger", seed=0, **options)
    reasoner = make_policy("openai", role="reasoner", seed=0, **options)
    assert isinstance(challenger, LLMPolicy) and isinstance(reasoner, LLMPolicy)
    assert challenger.backend is reasoner.backend
    assert challenger.params.max_new_tokens == 16
    assert challenger.seed != reasoner.seed  # the roles draw from different streams


def test_vllm_policy_without_vllm_names_the_extra() -> None:
    from spice_env.policies.vllm_backend import vllm_available

    if vllm_available():
        pytest.skip("vLLM is installed here")
    with pytest.raises(ImportError, match=r"spice-env\[vllm\]"):
        make_policy("vllm", role="reasoner", model="some/model")


@pytest.mark.slow
def test_hf_policy_shares_the_embedded_model_between_roles(smollm2: Any) -> None:
    challenger = make_policy("hf", role="challenger", seed=0, max_new_tokens=8)
    reasoner = make_policy("hf:smollm2", role="reasoner", seed=0, device="cpu")
    assert challenger.backend is not None
    # Same model name, same settings: one set of weights for both roles, as in SPICE.
    assert make_policy("hf", role="reasoner").backend is challenger.backend
    assert reasoner.backend.model.config.model_type == "llama"


def _play(tmp_path: Path, *flags: str) -> dict[str, Any]:
    out = tmp_path / "episodes.jsonl"
    command = [sys.executable, "-m", "spice_env", "play", "--no-progress", "--json"]
    command += ["--out", str(out), *flags]
    # One torch thread, as in the in-process tests (see conftest._one_torch_thread).
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(out.read_text().splitlines()) == int(flags[flags.index("-n") + 1])
    return json.loads(result.stdout)


@pytest.mark.slow
def test_spice_play_with_smollm2_in_both_roles(tmp_path: Path, smollm2: Any) -> None:
    summary = _play(
        tmp_path, "--challenger", "hf", "--reasoner", "hf", "-n", "1", "-k", "2",
        "--max-new-tokens", "8", "--max-segment-tokens", "96", "--torch-threads", "1",
    )  # fmt: skip
    assert summary["episodes"] == 1
    generation = summary["generation"]["challenger"]
    assert 1 <= generation["generated_tokens"] <= 16 and generation["tokens_per_second"] > 0


@pytest.mark.slow
@pytest.mark.server
def test_spice_play_against_the_llama_cpp_server(tmp_path: Path, llama_server: str) -> None:
    summary = _play(
        tmp_path, "--challenger", "openai", "--reasoner", "openai", "-n", "1", "-k", "2",
        "--base-url", llama_server, "--max-new-tokens", "8", "--concurrency", "2",
        "--max-segment-tokens", "96",
    )  # fmt: skip
    assert summary["episodes"] == 1 and summary["generation"]["challenger"]["calls"] >= 1
