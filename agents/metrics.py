"""Per-iteration metrics: one JSON line per iteration, optionally mirrored to TensorBoard.

Records are nested dicts (``{"reward": {"challenger": 0.4}}``); TensorBoard gets them
flattened with ``/`` (``reward/challenger``). The JSONL file is the source of truth that
``spice plot`` reads.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "MetricsLogger",
    "flatten",
    "histogram",
    "mean",
    "pooled_letters",
    "read_metrics",
    "summarize_run",
    "write_run_summary",
]


def mean(values: Sequence[float]) -> float | None:
    """Arithmetic mean, ``None`` for an empty sequence (JSON ``null``, skipped by plots)."""
    return float(sum(values)) / len(values) if values else None


def histogram(pass_rates: Sequence[float], num_answers: int) -> dict[str, int]:
    """Counts of pass rates in the K + 1 bins ``"0/K" ... "K/K"``."""
    counts = {f"{i}/{num_answers}": 0 for i in range(num_answers + 1)}
    for rate in pass_rates:
        counts[f"{round(rate * num_answers)}/{num_answers}"] += 1
    return counts


def flatten(record: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, float]]:
    """Yield ``("a/b", value)`` for every finite number in a nested record."""
    for key, value in record.items():
        name = f"{prefix}/{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            yield from flatten(value, name)
        elif isinstance(value, bool) or (isinstance(value, (int, float)) and math.isfinite(value)):
            yield name, float(value)


def read_metrics(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Read a ``metrics.jsonl`` file (a run folder is also accepted)."""
    path = Path(path)
    if path.is_dir():
        path = path / "metrics.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"no metrics at {path}; is this a `spice train` run folder?")
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


class MetricsLogger:
    """Appends one JSON record per iteration to ``metrics.jsonl`` (and TensorBoard).

    Args:
        run_dir: The run folder.
        enabled: False on non-main processes: they compute metrics but write nothing.
        tensorboard: Mirror scalars to TensorBoard under ``run_dir/tensorboard``.
        resume_iteration: On resume, records after this iteration (written after the last
            checkpoint by the interrupted run) are dropped so the file has no duplicates.
    """

    def __init__(
        self,
        run_dir: str | os.PathLike[str],
        *,
        enabled: bool = True,
        tensorboard: bool = False,
        resume_iteration: int | None = None,
    ) -> None:
        self.path = Path(run_dir) / "metrics.jsonl"
        self.enabled = enabled
        self._writer: Any = None
        if not enabled:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if resume_iteration is not None and self.path.exists():
            kept = [r for r in read_metrics(self.path) if r.get("iteration", 0) <= resume_iteration]
            self.path.write_text("".join(json.dumps(r) + "\n" for r in kept), encoding="utf-8")
        elif resume_iteration is None and self.path.exists():
            self.path.unlink()
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError as error:  # tensorboard is an optional extra
                raise ImportError(
                    "tensorboard=True needs the tensorboard package: pip install tensorboard"
                ) from error
            self._writer = SummaryWriter(log_dir=str(Path(run_dir) / "tensorboard"))

    def log(self, record: Mapping[str, Any]) -> None:
        """Write one record; it must hold an ``iteration`` key."""
        if not self.enabled:
            return
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, default=_jsonable) + "\n")
        if self._writer is not None:
            step = int(record["iteration"])
            for name, value in flatten(record):
                if name != "iteration":
                    self._writer.add_scalar(name, value, step)
            self._writer.flush()

    def close(self) -> None:
        """Flush and close TensorBoard."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def _quarters(records: Sequence[Mapping[str, Any]]) -> tuple[list[Any], list[Any]]:
    size = max(1, len(records) // 4)
    return list(records[:size]), list(records[-size:])


def _valid_counts(records: Sequence[Mapping[str, Any]]) -> tuple[int, int]:
    valid = sum(int(r["challenger"].get("valid", 0)) for r in records)
    return valid, sum(int(r["challenger"]["attempts"]) for r in records)


def summarize_run(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """What a run's metrics say about learning: the numbers a training report needs.

    - seconds per iteration and per phase (means over the iterations);
    - the learning signal per role: the share of advantage groups that were not all zero;
    - the Challenger's valid rate in the first vs the last quarter of the iterations, with a
      pooled two-proportion z-test, and the invalid reasons of both quarters;
    - each role's mean reward in the first vs the last quarter (and the Reasoner's on anchor
      tasks, ``reasoner_anchor``, in a run that had them).
    - the Reasoner's favourite multiple-choice letter and its share of the answers in the
      first vs the last quarter (``reasoner_letters``): a share far above one in four is a
      Reasoner guessing a letter.

    Args:
        records: The run's ``metrics.jsonl`` records, in order.

    Returns:
        A JSON-ready dict (empty sections when there are no records).
    """
    from spice_env.evaluation.metrics import favourite_letter
    from spice_env.evaluation.stats import two_proportion_test

    if not records:
        return {"iterations": 0}
    first, last = _quarters(records)
    phases: dict[str, list[float]] = {}
    for record in records:
        for phase, value in record.get("time", {}).items():
            phases.setdefault(phase, []).append(float(value))
    summary: dict[str, Any] = {
        "iterations": len(records),
        "quarter_iterations": len(first),
        "seconds": {phase: mean(values) for phase, values in phases.items()},
        "signal": {
            role: {
                "mean": mean(
                    [
                        r["signal"][role]
                        for r in records
                        if r.get("signal", {}).get(role) is not None
                    ]
                ),
                "first_quarter": mean(
                    [r["signal"][role] for r in first if r.get("signal", {}).get(role) is not None]
                ),
                "last_quarter": mean(
                    [r["signal"][role] for r in last if r.get("signal", {}).get(role) is not None]
                ),
            }
            for role in ("challenger", "reasoner")
        },
        "reward": {
            role: {
                "first_quarter": mean(
                    [r["reward"][role] for r in first if r["reward"].get(role) is not None]
                ),
                "last_quarter": mean(
                    [r["reward"][role] for r in last if r["reward"].get(role) is not None]
                ),
            }
            for role in ("challenger", "reasoner")
        },
    }
    if any(r.get("anchor", {}).get("documents") for r in records):

        def anchor_reward(part: Sequence[Mapping[str, Any]]) -> float | None:
            return mean(
                [
                    r["anchor"]["reasoner_reward"]
                    for r in part
                    if r.get("anchor", {}).get("reasoner_reward") is not None
                ]
            )

        summary["reward"]["reasoner_anchor"] = {
            "first_quarter": anchor_reward(first),
            "last_quarter": anchor_reward(last),
        }
    if any(r.get("reasoner_letters") for r in records):
        summary["reasoner_letters"] = {
            "first_quarter": favourite_letter(pooled_letters(first)),
            "last_quarter": favourite_letter(pooled_letters(last)),
        }
    (valid_a, trials_a), (valid_b, trials_b) = _valid_counts(first), _valid_counts(last)
    if trials_a and trials_b:
        summary["valid_rate"] = {
            "first_quarter": {"valid": valid_a, "attempts": trials_a},
            "last_quarter": {"valid": valid_b, "attempts": trials_b},
            **two_proportion_test(valid_a, trials_a, valid_b, trials_b),
        }
        for name, part in (("first_quarter", first), ("last_quarter", last)):
            reasons: dict[str, int] = {}
            for record in part:
                for reason, count in record["challenger"].get("invalid_reasons", {}).items():
                    reasons[reason] = reasons.get(reason, 0) + int(count)
            summary["valid_rate"][name]["invalid_reasons"] = reasons
    return summary


def pooled_letters(records: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """The Reasoner's multiple-choice letters (``reasoner_letters``) summed over iterations."""
    pooled: dict[str, int] = {}
    for record in records:
        for letter, count in (record.get("reasoner_letters") or {}).items():
            pooled[letter] = pooled.get(letter, 0) + int(count)
    return pooled


def write_run_summary(run_dir: str | os.PathLike[str]) -> Path:
    """Write :func:`summarize_run` of a run folder to ``RUN_DIR/summary.json``."""
    root = Path(run_dir)
    root = root.parent if root.is_file() else root
    target = root / "summary.json"
    target.write_text(json.dumps(summarize_run(read_metrics(root)), indent=2), encoding="utf-8")
    return target


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, (set, tuple)):
        return list(value)
    return str(value)
