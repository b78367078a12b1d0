"""``spice probe``: Challengers write tasks through the env, Reasoners answer them."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from spice_env.cli import main
from spice_env.evaluation import ProbeConfig, ProbePlayer, run_probe
from spice_env.evaluation.probe import StagedPolicy, probe_markdown, select_documents
from spice_env.policies import make_policy

FAST = ProbeConfig(num_documents=6, attempts_per_document=3, answers_per_task=8, progress=False)


def _policy_player(spec):
    return ProbePlayer(spec, lambda role: make_policy(spec, role=role, seed=0))


def test_matrix_of_scripted_challengers_and_noisy_reasoners(tmp_path):
    result = run_probe(
        [_policy_player("scripted"), _policy_player("scripted:0.6")],
        [_policy_player("noisy:0.1"), _policy_player("noisy:0.9")],
        tmp_path,
        config=FAST,
    )
    matrix = result["pass_rate"]
    assert len(matrix) == 2 and all(len(row) == 2 for row in matrix)
    for row in matrix:
        assert row[0] < 0.35 < 0.7 < row[1]
    valid = [s["valid"] for s in result["challenger_stats"]]
    assert valid[0] == 18 and valid[1] < valid[0]  # invalid tasks do not count
    assert sum(result["challenger_stats"][1]["invalid_reasons"].values()) == 18 - valid[1]
    for name in ("probe.json", "probe.md", "probe.png"):
        assert (tmp_path / name).is_file()
    tasks = (tmp_path / "tasks" / "scripted.jsonl").read_text().splitlines()
    assert len(tasks) == 18 and {"question", "answer", "document_id"} <= set(json.loads(tasks[0]))
    assert json.loads((tmp_path / "probe.json").read_text())["pass_rate"] == matrix
    # Every cell carries its count: the valid tasks of the row times K answers.
    assert result["answers"] == [[v * 8, v * 8] for v in valid]
    markdown = (tmp_path / "probe.md").read_text()
    assert f"({valid[0] * 8})" in markdown


def test_same_seed_same_documents_and_matrix():
    first = run_probe([_policy_player("scripted")], [_policy_player("noisy:0.5")], config=FAST)
    second = run_probe([_policy_player("scripted")], [_policy_player("noisy:0.5")], config=FAST)
    assert first["documents"] == second["documents"]
    assert first["pass_rate"] == second["pass_rate"]


def test_a_challenger_without_valid_tasks_gives_na(tmp_path):
    result = run_probe(
        [_policy_player("scripted:1.0")], [_policy_player("noisy:0.5")], tmp_path, config=FAST
    )
    assert result["pass_rate"] == [[None]]
    assert "| scripted:1.0 | 0/18 | n/a |" in probe_markdown(result)
    assert (tmp_path / "probe.png").is_file()


def test_players_load_one_at_a_time():
    loaded = []

    def player(spec):
        def load(role):
            loaded.append((spec, role))
            return make_policy(spec, role=role, seed=0)

        return ProbePlayer(spec, load)

    run_probe(
        [player("scripted"), player("scripted:0.2")],
        [player("noisy:0.3"), player("oracle")],
        config=FAST,
    )
    assert loaded == [
        ("scripted", "challenger"),
        ("scripted:0.2", "challenger"),
        ("noisy:0.3", "reasoner"),
        ("oracle", "reasoner"),
    ]


def test_select_documents_is_distinct_and_seeded():
    from spice_env.corpus import load_corpus

    corpus = load_corpus(None)
    ids = select_documents(corpus, 10, seed=3)
    assert len(set(ids)) == 10 and ids == select_documents(corpus, 10, seed=3)
    assert len(select_documents(corpus, 10**6, seed=0)) == len(corpus)


def test_staged_policy_routes_by_stage():
    class Echo:
        def __init__(self, tag):
            self.tag = tag

        def act_batch(self, observations, infos):
            return [f"{self.tag}:{i['stage']}" for i in infos]

    policy = StagedPolicy({"type_selection": Echo("a")}, default=Echo("b"))
    infos = [{"stage": "generation"}, {"stage": "type_selection"}, {"stage": "generation"}]
    assert policy.act_batch([{}] * 3, infos) == ["b:generation", "a:type_selection", "b:generation"]


@pytest.mark.parametrize(
    "bad",
    [{"num_documents": 0}, {"answers_per_task": 0}, {"env_kwargs": {"num_reasoner_attempts": 2}}],
)
def test_probe_config_is_checked(bad):
    with pytest.raises(ValueError):
        ProbeConfig(**bad)


@pytest.fixture(scope="module")
def tiny_checkpoints(tmp_path_factory):
    """Two tiny models saved with save_pretrained (different seeds), as a run would."""
    pytest.importorskip("torch")
    from spice_agents.tiny import build_tiny_model, build_tiny_tokenizer

    root = tmp_path_factory.mktemp("tiny")
    tokenizer = build_tiny_tokenizer(512)
    paths = []
    for seed in (0, 1):
        model = build_tiny_model(tokenizer, hidden_size=32, num_layers=1, num_heads=2, seed=seed)
        path = root / f"step_{seed}"
        model.save_pretrained(path)
        tokenizer.save_pretrained(path)
        paths.append(path)
    return paths


def test_cli_probe_on_two_model_checkpoints(tiny_checkpoints, tmp_path, capsys):
    first, second = (str(p) for p in tiny_checkpoints)
    code = main(
        [
            "probe",
            "--challengers",
            f"early={first}",
            f"late={second}",
            "--reasoners",
            f"early={first}",
            "scripted_reasoner_check=noisy:0.5",
            "--documents",
            "2",
            "--attempts",
            "2",
            "--answers",
            "2",
            "--type-selection-max-new-tokens",
            "4",
            "--challenger-max-new-tokens",
            "4",
            "--reasoner-max-new-tokens",
            "4",
            "--threads",
            "1",
            "--out",
            str(tmp_path),
            "--no-progress",
        ]
    )
    assert code == 0
    result = json.loads((tmp_path / "probe.json").read_text())
    assert result["challengers"] == ["early", "late"]
    assert result["reasoners"] == ["early", "scripted_reasoner_check"]
    assert [s["attempts"] for s in result["challenger_stats"]] == [4, 4]
    assert (tmp_path / "probe.png").is_file()
    assert "Curriculum probe" in capsys.readouterr().out


def test_mixed_probe_scripted_challenger_model_reasoner(tiny_checkpoints, tmp_path):
    from spice_env.evaluation.probe import model_player

    reasoner = model_player(str(tiny_checkpoints[0]), reasoner_max_new_tokens=4)
    assert reasoner.label == "step_0"
    config = ProbeConfig(
        num_documents=2, attempts_per_document=1, answers_per_task=2, progress=False
    )
    result = run_probe([_policy_player("scripted")], [reasoner], tmp_path, config=config)
    (rate,) = result["pass_rate"][0]
    assert result["challenger_stats"][0]["valid"] == 2
    assert rate is not None and 0.0 <= rate <= 1.0


def test_a_run_is_probed_with_the_budgets_it_trained_with(tiny_checkpoints, tmp_path, capsys):
    # Probing with longer answers than the run trained with measures another player (and a
    # repeating model spends the whole budget); the run's config.json gives the defaults.
    from spice_agents.config import make_preset

    from spice_env.evaluation.probe import DEFAULT_BUDGETS, model_player

    run = tmp_path / "run"
    config = make_preset("cpu-tiny", tiny_hidden_size=32, tiny_layers=1, tiny_heads=2)
    config.generation.type_selection_max_new_tokens = 5
    config.generation.challenger_max_new_tokens = 7
    config.generation.reasoner_max_new_tokens = 3
    run.mkdir()
    (run / "config.json").write_text(config.to_json())
    (run / "final").symlink_to(tiny_checkpoints[0], target_is_directory=True)

    player = model_player(str(run / "final"))
    assert player.budgets == {
        "type_selection_max_new_tokens": 5,
        "challenger_max_new_tokens": 7,
        "reasoner_max_new_tokens": 3,
    }
    assert player.load("reasoner").params.max_new_tokens == 3
    challenger = player.load("challenger")
    assert challenger.by_stage["type_selection"].params.max_new_tokens == 5
    assert challenger.default.params.max_new_tokens == 7
    # A flag wins over the run; a model folder of its own gets the probe's defaults.
    assert model_player(str(run), reasoner_max_new_tokens=9).budgets["reasoner_max_new_tokens"] == 9
    assert model_player(str(tiny_checkpoints[1])).budgets == dict(DEFAULT_BUDGETS)

    code = main(
        [
            "probe",
            "--challengers",
            "scripted",
            "--reasoners",
            f"late={run}",
            "--documents",
            "2",
            "--attempts",
            "1",
            "--answers",
            "2",
            "--out",
            str(tmp_path / "probe"),
            "--no-progress",
            "--no-plot",
        ]
    )
    assert code == 0
    result = json.loads((tmp_path / "probe" / "probe.json").read_text())
    assert result["budgets"] == {"challengers": {}, "reasoners": {"late": player.budgets}}
    assert "reasoner late: type_selection_max_new_tokens 5" in capsys.readouterr().err


def test_the_help_names_the_default_budgets_without_loading_the_evaluation_package():
    from spice_env.evaluation.probe import DEFAULT_BUDGETS

    code = (
        "import contextlib, io, sys; from spice_env.cli import main\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):\n"
        "    main(['probe', '--help'])\n"
        "assert 'spice_env.evaluation' not in sys.modules\n"
        "print(' '.join(out.getvalue().split()))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert ", ".join(f"{name} {value}" for name, value in DEFAULT_BUDGETS.items()) in done.stdout


def test_budget_flags_refuse_what_is_no_token_count(capsys):
    with pytest.raises(SystemExit) as error:
        main(
            [
                "probe",
                "--challengers",
                "scripted",
                "--reasoners",
                "noisy",
                "--reasoner-max-new-tokens",
                "0",
            ]
        )
    assert error.value.code == 2
    assert "give a positive number of tokens" in capsys.readouterr().err


def test_cli_probe_with_a_holdout_fraction_reads_only_held_out_documents(tmp_path):
    from spice_env.corpus import load_corpus

    code = main(
        [
            "probe",
            "--challengers",
            "scripted",
            "--reasoners",
            "noisy:0.5",
            "--documents",
            "6",
            "--attempts",
            "1",
            "--answers",
            "2",
            "--holdout-fraction",
            "0.3",
            "--out",
            str(tmp_path),
            "--no-progress",
            "--no-plot",
        ]
    )
    assert code == 0
    documents = json.loads((tmp_path / "probe.json").read_text())["documents"]
    held_out = {d.id for d in load_corpus(None, holdout_fraction=0.3, part="holdout")}
    assert len(documents) == 6 and set(documents) <= held_out


@pytest.mark.parametrize("types", ["free_form", "mcq"])
def test_cli_probe_task_types_limit_what_the_challenger_writes(tmp_path, types):
    # A run trained with `--task-types free_form` is probed on free-form tasks only.
    argv = ["probe", "--challengers", "scripted", "--reasoners", "noisy:0.5"]
    argv += ["--documents", "4", "--attempts", "3", "--answers", "2", "--task-types", types]
    assert main([*argv, "--out", str(tmp_path), "--no-progress", "--no-plot"]) == 0
    stats = json.loads((tmp_path / "probe.json").read_text())["challenger_stats"][0]
    assert stats["valid"] > 0 and stats["task_types"] == {types: stats["valid"]}


def test_cli_probe_rejects_an_unknown_task_type(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(
            ["probe", "--challengers", "scripted", "--reasoners", "oracle"]
            + ["--task-types", "essay", "--out", str(tmp_path)]
        )
    assert exit_info.value.code == 2
    assert "'essay': give one or more of mcq, free_form" in capsys.readouterr().err
    assert not (tmp_path / "probe.json").exists()
