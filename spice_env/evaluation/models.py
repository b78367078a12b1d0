"""Turn a model reference into an LLM backend: a hub name, a folder, a training checkpoint, a URL.

Accepted references:

- ``"smollm2"``: the embedded SmolLM2-135M-Instruct (offline);
- a hub id or a folder written by ``save_pretrained`` (``config.json`` + weights), such as a
  training run's ``final/``;
- a checkpoint of the reference trainer (``RUN/checkpoints/iter_000012``, marked by ``DONE``):
  the run's ``config.json`` says how to build the model (the ``tiny`` model and its tokenizer
  are rebuilt deterministically), then the checkpoint's ``model.safetensors`` is loaded;
- a training run folder: its ``final/`` model when present, else its latest checkpoint;
- ``http://...`` or ``https://...``: an OpenAI-compatible server (e.g. llama.cpp, vLLM).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = [
    "describe_model",
    "is_training_output",
    "load_backend",
    "load_model_and_tokenizer",
    "run_generation_budgets",
    "set_threads",
]

BUDGET_FIELDS = (
    "type_selection_max_new_tokens",
    "challenger_max_new_tokens",
    "reasoner_max_new_tokens",
)
"""The token budgets of a training run's ``generation`` config, by stage."""


def set_threads(threads: int | None) -> None:
    """Set torch's intra-op CPU threads (``None``: leave torch's default).

    On a machine whose cores are shared with other busy processes, OpenMP threads spin while
    waiting for each other and a 2-thread decode step can be ten times slower than a
    1-thread one; ``--threads 1`` avoids that.

    Args:
        threads: Threads to use, at least 1, or ``None``.
    """
    if threads is None:
        return
    if threads < 1:
        raise ValueError(f"threads={threads} must be at least 1")
    import torch

    torch.set_num_threads(threads)


def _is_hf_folder(path: Path) -> bool:
    return (path / "config.json").is_file() and any(
        next(path.glob(pattern), None) is not None
        for pattern in ("*.safetensors", "*.bin", "*.safetensors.index.json")
    )


def _is_trainer_checkpoint(path: Path) -> bool:
    return (path / "DONE").is_file() and (path / "model.safetensors").is_file()


def is_training_output(reference: str | os.PathLike[str]) -> bool:
    """Whether ``reference`` is a local folder ``spice train`` wrote (a checkpoint or a run),
    which only :func:`load_model_and_tokenizer` can load: it keeps weights, not a tokenizer."""
    path = Path(reference)
    if not path.is_dir() or _is_hf_folder(path):
        return False
    return (path / "DONE").is_file() or (path / "checkpoints").is_dir() or (path / "final").is_dir()


def _resolve_run_folder(path: Path) -> Path:
    """A run folder stands for its final model, else its newest complete checkpoint."""
    if _is_hf_folder(path / "final"):
        return path / "final"
    checkpoints = sorted(
        p for p in (path / "checkpoints").glob("iter_*") if _is_trainer_checkpoint(p)
    )
    if checkpoints:
        return checkpoints[-1]
    raise FileNotFoundError(
        f"{path} holds no model: expected config.json + weights, a trainer checkpoint "
        "(DONE + model.safetensors) or a run folder with final/ or checkpoints/"
    )


def run_generation_budgets(reference: str | os.PathLike[str]) -> dict[str, int] | None:
    """The token budgets the run behind a model reference trained with, if it is one.

    A run folder, its ``final/`` model and its ``checkpoints/iter_N`` all lead to the run's
    ``config.json`` (the trainer's, with a ``generation`` section; a ``save_pretrained``
    folder's own ``config.json`` is the model's and has none).

    Args:
        reference: Anything :func:`load_backend` accepts.

    Returns:
        ``{"type_selection_max_new_tokens": ..., "challenger_max_new_tokens": ...,
        "reasoner_max_new_tokens": ...}``, or ``None`` for a reference that is no training
        output (a hub id, ``smollm2``, a URL, a folder of its own) or whose config cannot be read.
    """
    path = Path(reference)
    if not path.is_dir():
        return None
    candidates = [path]
    if path.name == "final":
        candidates.append(path.parent)
    if path.parent.name == "checkpoints":
        candidates.append(path.parent.parent)
    for folder in candidates:
        try:
            config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        generation = config.get("generation") if isinstance(config, dict) else None
        if isinstance(generation, dict) and all(
            isinstance(generation.get(field), int) for field in BUDGET_FIELDS
        ):
            return {field: generation[field] for field in BUDGET_FIELDS}
    return None


def describe_model(reference: str) -> str:
    """A short label for a model reference: the folder name (with its run), or the name.

    Args:
        reference: Anything :func:`load_backend` accepts.

    Returns:
        ``"cpu-tiny/iter_000002"`` for a checkpoint, the last path parts for a folder, else
        the reference itself.
    """
    path = Path(reference)
    if reference.startswith(("http://", "https://")) or not path.exists():
        return reference
    path = path.resolve()
    if path.parent.name == "checkpoints":
        return f"{path.parent.parent.name}/{path.name}"
    if path.name == "final":
        return f"{path.parent.name}/final"
    return path.name


def load_model_and_tokenizer(
    reference: str | os.PathLike[str], dtype: Any = None
) -> tuple[Any, Any]:
    """Load a local model (folder, checkpoint or run) or a hub model with its tokenizer.

    Args:
        reference: ``"smollm2"``, a hub id, or a local folder (see the module docstring).
        dtype: torch dtype (default float32).

    Returns:
        ``(model, tokenizer)`` with the model in eval mode on the CPU.

    Raises:
        FileNotFoundError: A local folder that holds no model.
        ValueError: A checkpoint whose weights do not fit the model its run describes.
    """
    import torch

    dtype = dtype or torch.float32
    text = os.fspath(reference)
    path = Path(text)
    if text.lower() in ("smollm2", "smollm2-135m-instruct"):
        from spice_env.policies.smollm2 import load_smollm2

        return load_smollm2(dtype=dtype)
    if path.is_dir() and not _is_hf_folder(path) and not _is_trainer_checkpoint(path):
        path = _resolve_run_folder(path)
    if path.is_dir() and _is_trainer_checkpoint(path) and not _is_hf_folder(path):
        return _load_trainer_checkpoint(path, dtype)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source = str(path) if path.is_dir() else text
    tokenizer = AutoTokenizer.from_pretrained(source)
    model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype)
    model.eval()
    return model, tokenizer


def _load_trainer_checkpoint(path: Path, dtype: Any) -> tuple[Any, Any]:
    """Rebuild the run's model from its config.json, then load the checkpoint's weights."""
    from safetensors.torch import load_file

    run_dir = path.parent.parent
    config_file = run_dir / "config.json"
    if not config_file.is_file():
        raise FileNotFoundError(
            f"{path} is a trainer checkpoint but {config_file} is missing; the run's "
            "config.json says which model the weights belong to"
        )
    try:
        from spice_agents.config import TrainConfig
        from spice_agents.models import build_model as build_from_config
    except ImportError as error:  # pragma: no cover - the agent ships with the package
        raise ImportError(
            "loading a training checkpoint needs the reference agent (spice_agents) and "
            "torch/transformers: pip install 'spice-env[train]'"
        ) from error
    config = TrainConfig.from_dict(json.loads(config_file.read_text(encoding="utf-8")))
    model, tokenizer = build_from_config(config)
    state = load_file(str(path / "model.safetensors"))
    missing, unexpected = model.load_state_dict(state, strict=False)
    # Tied output embeddings are saved once; everything else must be present.
    tied = set(getattr(model, "_tied_weights_keys", None) or ()) | {"lm_head.weight"}
    untied_missing = [k for k in missing if k not in tied]
    if untied_missing or unexpected:
        raise ValueError(
            f"{path}: weights do not match the model in {config_file} "
            f"(missing {untied_missing[:5]}, unexpected {list(unexpected)[:5]})"
        )
    if getattr(model.config, "tie_word_embeddings", False):
        model.tie_weights()
    model.to(dtype=dtype)
    model.eval()
    return model, tokenizer


def load_backend(
    reference: str,
    *,
    batch_size: int = 8,
    served_model: str | None = None,
    dtype: Any = None,
) -> Any:
    """An LLM backend for a model reference.

    Args:
        reference: A model reference (see the module docstring).
        batch_size: Rows decoded together by the transformers backend.
        served_model: Model name sent to an OpenAI-compatible server.
        dtype: torch dtype of a local model (default float32).

    Returns:
        An ``HFBackend`` (local and hub models) or an ``OpenAIBackend`` (URLs).
    """
    if reference.startswith(("http://", "https://")):
        from spice_env.policies.openai_http import OpenAIBackend

        return OpenAIBackend(reference, model=served_model)
    from spice_env.policies.hf import HFBackend

    model, tokenizer = load_model_and_tokenizer(reference, dtype=dtype)
    return HFBackend(model, tokenizer, batch_size=batch_size)
