"""Model references: save_pretrained folders, trainer checkpoints, run folders."""

from __future__ import annotations

import pytest

from spice_env.evaluation.models import (
    describe_model,
    load_backend,
    load_model_and_tokenizer,
    run_generation_budgets,
    set_threads,
)

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def trainer_run(tmp_path_factory):
    """A run folder shaped like the reference trainer's: config.json + checkpoints/iter_N."""
    from safetensors.torch import save_file
    from spice_agents.config import make_preset
    from spice_agents.models import build_model as build

    run = tmp_path_factory.mktemp("run")
    config = make_preset("cpu-tiny", tiny_hidden_size=32, tiny_layers=1, tiny_heads=2)
    (run / "config.json").write_text(config.to_json())
    states = {}
    for iteration in (2, 4):
        model, _ = build(config)
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.add_(0.01 * iteration)
        state = {
            k: v.contiguous() for k, v in model.state_dict().items() if k != "lm_head.weight"
        }  # tied weights are saved once, as accelerate does
        folder = run / "checkpoints" / f"iter_{iteration:06d}"
        folder.mkdir(parents=True)
        save_file(state, str(folder / "model.safetensors"))
        (folder / "DONE").write_text(f"{iteration}\n")
        states[iteration] = state
    # An interrupted save (no DONE) must be ignored.
    (run / "checkpoints" / "iter_000006").mkdir()
    return run, states


def test_trainer_checkpoint_loads_its_weights(trainer_run):
    run, states = trainer_run
    model, tokenizer = load_model_and_tokenizer(run / "checkpoints" / "iter_000002")
    loaded = model.state_dict()
    for key, value in states[2].items():
        assert torch.equal(loaded[key], value), key
    assert torch.equal(loaded["lm_head.weight"], loaded["model.embed_tokens.weight"])
    assert not model.training
    assert tokenizer.chat_template


def test_run_folder_means_latest_complete_checkpoint(trainer_run):
    run, states = trainer_run
    model, _ = load_model_and_tokenizer(run)
    key = next(iter(states[4]))
    assert torch.equal(model.state_dict()[key], states[4][key])
    assert describe_model(str(run / "checkpoints" / "iter_000004")) == f"{run.name}/iter_000004"
    assert describe_model("smollm2") == "smollm2"
    assert describe_model("http://127.0.0.1:8000/v1") == "http://127.0.0.1:8000/v1"


def test_save_pretrained_folder_and_backend(trainer_run, tmp_path):
    run, _ = trainer_run
    model, tokenizer = load_model_and_tokenizer(run / "checkpoints" / "iter_000002")
    model.save_pretrained(tmp_path / "final")
    tokenizer.save_pretrained(tmp_path / "final")
    backend = load_backend(str(tmp_path / "final"), batch_size=4)
    from spice_env.policies.sampling import SamplingParams

    (completions,) = backend.generate(["hello"], SamplingParams(n=2, max_new_tokens=3, seed=0))
    assert len(completions) == 2
    assert describe_model(str(tmp_path / "final")) == f"{tmp_path.name}/final"
    # A run folder with final/ stands for its final model.
    reloaded, _ = load_model_and_tokenizer(tmp_path)
    assert reloaded.config.hidden_size == model.config.hidden_size


def test_spice_play_reads_a_checkpoint_as_an_hf_policy(trainer_run):
    # `spice play --challenger hf:RUN/checkpoints/iter_N`: the checkpoint has no tokenizer of
    # its own; the backend rebuilds the run's model as `spice eval` does.
    from spice_env.policies import make_policy

    run, states = trainer_run
    checkpoint = str(run / "checkpoints" / "iter_000002")
    policy = make_policy(f"hf:{checkpoint}", role="reasoner", seed=0, device="cpu")
    model = policy.backend.model
    key = next(iter(states[2]))
    assert torch.equal(model.state_dict()[key].cpu(), states[2][key])
    # A run folder stands for its newest checkpoint, as in `spice eval`.
    latest = make_policy(f"hf:{run}", role="reasoner", seed=0, device="cpu", batch_size=4)
    assert torch.equal(latest.backend.model.state_dict()[key].cpu(), states[4][key])


def test_a_run_and_its_models_lead_to_the_run_budgets(trainer_run, tmp_path):
    import json

    run, _ = trainer_run
    generation = json.loads((run / "config.json").read_text())["generation"]
    expected = {
        "type_selection_max_new_tokens": generation["type_selection_max_new_tokens"],
        "challenger_max_new_tokens": generation["challenger_max_new_tokens"],
        "reasoner_max_new_tokens": generation["reasoner_max_new_tokens"],
    }
    assert run_generation_budgets(run) == expected
    assert run_generation_budgets(str(run / "checkpoints" / "iter_000002")) == expected
    # final/ holds the model's own config.json (no generation section); its run has one.
    model, tokenizer = load_model_and_tokenizer(run / "checkpoints" / "iter_000002")
    model.save_pretrained(tmp_path / "run" / "final")
    tokenizer.save_pretrained(tmp_path / "run" / "final")
    assert run_generation_budgets(tmp_path / "run" / "final") is None  # no run config yet
    (tmp_path / "run" / "config.json").write_text((run / "config.json").read_text())
    assert run_generation_budgets(tmp_path / "run" / "final") == expected
    # A model folder of its own, a name, a URL, an unreadable run config: no run budgets.
    model.save_pretrained(tmp_path / "exported")
    assert run_generation_budgets(tmp_path / "exported") is None
    assert run_generation_budgets("smollm2") is None
    assert run_generation_budgets("http://127.0.0.1:8000/v1") is None
    (tmp_path / "run" / "config.json").write_text("{not json")
    assert run_generation_budgets(tmp_path / "run" / "final") is None


def test_bad_folders_say_what_is_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="holds no model"):
        load_model_and_tokenizer(tmp_path)
    checkpoint = tmp_path / "lonely" / "checkpoints" / "iter_000001"
    checkpoint.mkdir(parents=True)
    (checkpoint / "DONE").write_text("1\n")
    (checkpoint / "model.safetensors").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match=r"config\.json is missing"):
        load_model_and_tokenizer(checkpoint)
    with pytest.raises(ValueError):
        set_threads(0)
