"""Configuration: presets, validation messages, overrides, documentation of every field."""

from __future__ import annotations

import dataclasses

import pytest
from spice_agents.config import (
    PRESETS,
    GenerationConfig,
    OptimConfig,
    SelfPlayConfig,
    TrainConfig,
    field_docs,
    iter_fields,
    make_preset,
)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_build_and_round_trip(name):
    config = make_preset(name)
    assert config.preset == name
    assert TrainConfig.from_dict(config.to_dict()) == config


def test_gpu_preset_has_the_paper_hyperparameters():
    config = make_preset("gpu-qwen3-4b")
    assert config.run.iterations == 640
    assert config.selfplay.batch_documents == 128
    assert config.selfplay.group_size == 8 and config.selfplay.num_answers == 8
    assert config.selfplay.max_attempts == 1024
    assert config.generation.temperature == 1.0
    assert config.optim.learning_rate == 1e-6 and config.optim.warmup_steps == 0
    assert config.optim.kl_coef == 0.0
    assert config.model.gradient_checkpointing and config.model.dtype == "bfloat16"
    assert config.selfplay.challenger_reward == "spice"


def test_every_field_is_documented_and_flat_names_are_unique():
    names = [name for _, name, _ in iter_fields()]
    assert len(names) == len(set(names))
    for section in (
        TrainConfig,
        *(
            f.default_factory
            for f in dataclasses.fields(TrainConfig)
            if f.default_factory is not dataclasses.MISSING
        ),
    ):
        docs = field_docs(section)
        for f in dataclasses.fields(section):
            assert docs.get(f.name), f"{section.__name__}.{f.name} has no docstring"


def test_string_overrides_are_converted():
    config = make_preset(
        "cpu-tiny",
        learning_rate="3e-4",
        iterations="7",
        kl_coef="0.1",
        task_types="mcq",
        corpus="none",
        tensorboard="false",
        env_kwargs='{"grounding_threshold": 0.1}',
    )
    assert config.optim.learning_rate == 3e-4
    assert config.run.iterations == 7
    assert config.selfplay.task_types == ("mcq",)
    assert config.selfplay.corpus is None
    assert config.run.tensorboard is False
    assert config.selfplay.env_kwargs == {"grounding_threshold": 0.1}


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: SelfPlayConfig(group_size=8, max_attempts=4), "at least group_size"),
        (lambda: SelfPlayConfig(num_answers=1), "K >= 2"),
        (lambda: SelfPlayConfig(anchor_documents=-1), "must be 0 or more"),
        (lambda: SelfPlayConfig(tasks_file="t.jsonl", anchor_documents=2), "anchor_documents=0"),
        (lambda: GenerationConfig(temperature=0.0), "must be positive"),
        (lambda: GenerationConfig(challenger_temperature=0.0), "must be positive"),
        (lambda: GenerationConfig(backend="tgi"), "use 'hf' or 'vllm'"),
        (lambda: OptimConfig(kl_coef=-1.0), "must be >= 0"),
        (lambda: OptimConfig(learning_rate=0.0), "must be positive"),
        (lambda: make_preset("cpu-tiny", backend="vllm"), "loads weights by name"),
        (lambda: make_preset("cpu-tiny", no_such_setting=1), "unknown setting"),
        (lambda: make_preset("cpu-huge"), "choose one of"),
        (lambda: make_preset("cpu-tiny", tensorboard="maybe"), "not a boolean"),
    ],
)
def test_bad_settings_say_how_to_fix_them(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_the_challenger_temperature_defaults_to_the_shared_one():
    config = make_preset("cpu-smollm2")
    assert config.generation.challenger_temperature is None
    assert [config.generation.temperature_of(r) for r in ("challenger", "reasoner")] == [1.0, 1.0]
    # From a command line: a string, converted; "none" restores the shared temperature.
    tempered = config.replace(challenger_temperature="0.7", temperature="0.9")
    assert tempered.generation.temperature_of("challenger") == 0.7
    assert tempered.generation.temperature_of("reasoner") == 0.9
    shared = tempered.replace(challenger_temperature="none")
    assert shared.generation.temperature_of("challenger") == 0.9


def test_from_dict_rejects_unknown_keys():
    data = make_preset("cpu-tiny").to_dict()
    data["optim"]["lr"] = 1.0
    with pytest.raises(ValueError, match="unknown optim settings"):
        TrainConfig.from_dict(data)
