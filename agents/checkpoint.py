"""Checkpoints that lose nothing: weights, optimizer, scheduler, every RNG, the loop position.

A checkpoint is a folder ``RUN_DIR/checkpoints/iter_000012/`` holding

- what ``accelerate`` saves with ``save_state`` (model, optimizer, scheduler, and the Python,
  NumPy, torch and CUDA RNG states of every process), so DDP, FSDP and DeepSpeed checkpoints
  all go through the engine that knows how to shard and gather them;
- ``trainer_state_<rank>.pkl``: the loop's own state on each process (iteration, the trainer's
  NumPy generator, the document sampler's position, a fixed Challenger policy's state);
- ``DONE``: written last. A folder without it is an interrupted save and is ignored, so a
  crash while saving never leaves a checkpoint that looks complete.

Only the newest ``keep_resumable`` checkpoints keep the optimizer state a resume needs. An
older kept checkpoint is thinned to what ``spice eval`` and ``spice probe`` read (the model's
weights, ``DONE``, the loop state) and marked ``WEIGHTS_ONLY``: with AdamW in fp32 the optimizer
is twice the model, so each thinned checkpoint takes a third of the room.
"""

from __future__ import annotations

import os
import pickle
import re
import shutil
from pathlib import Path
from typing import Any

__all__ = [
    "checkpoint_dir",
    "latest_checkpoint",
    "list_checkpoints",
    "load_checkpoint",
    "save_checkpoint",
    "thin_checkpoint",
]

_NAME = re.compile(r"^iter_(\d+)$")
WEIGHTS_ONLY = "WEIGHTS_ONLY"
"""Marker of a checkpoint whose optimizer state was removed: it can be evaluated, not resumed."""


def checkpoint_dir(run_dir: str | os.PathLike[str], iteration: int) -> Path:
    """Folder of the checkpoint taken after ``iteration`` iterations."""
    return Path(run_dir) / "checkpoints" / f"iter_{iteration:06d}"


def list_checkpoints(run_dir: str | os.PathLike[str]) -> list[Path]:
    """Complete checkpoints of a run, oldest first."""
    root = Path(run_dir) / "checkpoints"
    if not root.is_dir():
        return []
    found = [
        (int(match.group(1)), path)
        for path in root.iterdir()
        if (match := _NAME.match(path.name)) and (path / "DONE").is_file()
    ]
    return [path for _, path in sorted(found)]


def latest_checkpoint(run_dir: str | os.PathLike[str]) -> Path | None:
    """The newest complete checkpoint of a run, or ``None``."""
    checkpoints = list_checkpoints(run_dir)
    return checkpoints[-1] if checkpoints else None


def save_checkpoint(
    accelerator: Any,
    run_dir: str | os.PathLike[str],
    iteration: int,
    trainer_state: dict[str, Any],
    *,
    keep: int = 2,
    keep_resumable: int | None = None,
) -> Path:
    """Save a checkpoint on every process (a collective call: all ranks must enter it).

    Args:
        accelerator: The run's ``accelerate.Accelerator`` (model, optimizer and scheduler
            were passed through its ``prepare``).
        run_dir: The run folder.
        iteration: Iterations completed.
        trainer_state: This process's loop state (picklable).
        keep: Complete checkpoints to keep; older ones are removed.
        keep_resumable: Of those, the newest this many keep their optimizer state; the
            others are thinned with :func:`thin_checkpoint`. ``None``: all of them.

    Returns:
        The checkpoint folder.
    """
    path = checkpoint_dir(run_dir, iteration)
    if accelerator.is_main_process and path.exists():
        shutil.rmtree(path)  # a stale, possibly incomplete save of the same iteration
    accelerator.wait_for_everyone()
    accelerator.save_state(str(path), safe_serialization=True)
    with (path / f"trainer_state_{accelerator.process_index}.pkl").open("wb") as handle:
        pickle.dump(trainer_state, handle)
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        (path / "DONE").write_text(f"{iteration}\n")
        kept = list_checkpoints(run_dir)
        for old in kept[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
        if keep_resumable is not None:
            for old in kept[-keep:][: -max(keep_resumable, 1)]:
                thin_checkpoint(old)
    accelerator.wait_for_everyone()
    return path


def thin_checkpoint(path: str | os.PathLike[str]) -> None:
    """Remove a checkpoint's optimizer state, keeping what evaluation reads.

    Removes the top-level entries whose names start with ``optimizer`` (accelerate writes
    ``optimizer.bin``, or ``optimizer_0/`` for a sharded FSDP state) and writes the
    ``WEIGHTS_ONLY`` marker first, so an interrupted thinning is never mistaken for a
    resumable checkpoint. A checkpoint with no such entry (DeepSpeed keeps its optimizer
    inside its own folder) is left as it is.
    """
    path = Path(path)
    found = [entry for entry in path.iterdir() if entry.name.startswith("optimizer")]
    if not found:
        return
    (path / WEIGHTS_ONLY).write_text("optimizer state removed; evaluate, do not resume\n")
    for entry in found:
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def load_checkpoint(accelerator: Any, path: str | os.PathLike[str]) -> dict[str, Any]:
    """Restore model, optimizer, scheduler and RNGs in place; return this process's loop state.

    Raises:
        FileNotFoundError: The folder is not a complete checkpoint.
        ValueError: The checkpoint was thinned to its weights (``WEIGHTS_ONLY``).
        ValueError: The checkpoint was written by a different number of processes.
    """
    path = Path(path)
    if not (path / "DONE").is_file():
        raise FileNotFoundError(f"{path} is not a complete checkpoint (no DONE marker)")
    if (path / WEIGHTS_ONLY).is_file():
        newest = latest_checkpoint(path.parent.parent)
        raise ValueError(
            f"{path} keeps model weights only (its optimizer state was removed, run option "
            f"keep_resumable): evaluate it with `spice eval --model {path}`, or resume from "
            f"the newest checkpoint{f' {newest}' if newest is not None else ''}"
        )
    state_file = path / f"trainer_state_{accelerator.process_index}.pkl"
    if not state_file.is_file():
        raise ValueError(
            f"{path} has no state for process {accelerator.process_index}: resume with the same "
            "number of processes that wrote it"
        )
    accelerator.load_state(str(path))
    with state_file.open("rb") as handle:
        return pickle.load(handle)
