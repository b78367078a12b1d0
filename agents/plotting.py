"""PNG curves of a training run, drawn from its ``metrics.jsonl`` with matplotlib (Agg).

``spice plot RUN_DIR`` calls :func:`plot_run`; the trainer calls it at the end of a run.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from spice_agents.metrics import read_metrics

__all__ = ["PANELS", "plot_run"]

PANELS: dict[str, list[tuple[str, str]]] = {
    "rewards": [
        ("reward/challenger", "Challenger reward (kept trajectories)"),
        ("reward/reasoner", "Reasoner reward (trained groups)"),
        ("reward/reasoner_all_answers", "Reasoner reward (all answers)"),
        ("anchor/reasoner_reward", "Reasoner reward (anchor tasks)"),
    ],
    "challenger": [
        ("challenger/valid_rate", "valid-task rate"),
        ("pass_rate/mean", "mean pass rate of valid tasks"),
    ],
    "signal": [
        ("signal/challenger", "Challenger groups with a non-zero advantage"),
        ("signal/reasoner", "Reasoner groups with a non-zero advantage"),
    ],
    "losses": [
        ("loss/total", "total"),
        ("loss/policy", "policy gradient"),
        ("loss/policy_challenger", "policy gradient, Challenger"),
        ("loss/policy_reasoner", "policy gradient, Reasoner"),
        ("loss/kl", "KL term"),
    ],
    "policy": [
        ("entropy/challenger", "entropy, Challenger"),
        ("entropy/reasoner", "entropy, Reasoner"),
        ("kl/reference", "KL to reference"),
        ("kl/sampler", "KL sampler vs trainer"),
        ("clip_fraction", "clipped-token fraction"),
        ("grad_norm", "gradient norm"),
    ],
    "lengths": [
        ("length/type_selection_mean", "type selection"),
        ("length/generation_mean", "task generation"),
        ("length/answering_mean", "Reasoner answer"),
    ],
    "throughput": [
        ("throughput/generated_tokens_per_s", "generated tokens/s"),
        ("throughput/train_tokens_per_s", "trained tokens/s"),
    ],
}
"""Figure name -> (metric path, legend label) of each curve."""

_PHASES = (
    "challenger_generation",
    "challenger_env",
    "reasoner_generation",
    "reasoner_env",
    "update",
    "weight_sync",
)


def _value(record: dict[str, Any], path: str) -> float | None:
    node: Any = record
    for key in path.split("/"):
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return float(node) if isinstance(node, (int, float)) and not isinstance(node, bool) else None


def _series(records: Sequence[dict[str, Any]], path: str) -> tuple[list[int], list[float]]:
    xs, ys = [], []
    for record in records:
        value = _value(record, path)
        if value is not None:
            xs.append(int(record["iteration"]))
            ys.append(value)
    return xs, ys


def plot_run(
    run_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str] | None = None
) -> list[Path]:
    """Write one PNG per figure of :data:`PANELS`, plus time per phase and the pass-rate
    histogram over iterations.

    Args:
        run_dir: A ``spice train`` run folder (or its ``metrics.jsonl``).
        out_dir: Where to write; default ``RUN_DIR/plots``.

    Returns:
        The paths written.
    """
    import matplotlib

    matplotlib.use("Agg")  # files only: works on servers without a display
    import matplotlib.pyplot as plt

    records = read_metrics(run_dir)
    root = Path(run_dir)
    root = root.parent if root.is_file() else root
    out = Path(out_dir) if out_dir is not None else root / "plots"
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    for name, curves in PANELS.items():
        figure, axis = plt.subplots(figsize=(7, 4))
        drawn = 0
        for path, label in curves:
            xs, ys = _series(records, path)
            if xs:
                axis.plot(xs, ys, marker="o" if len(xs) < 30 else None, markersize=3, label=label)
                drawn += 1
        axis.set_title(name)
        axis.set_xlabel("iteration")
        axis.grid(alpha=0.3)
        if drawn:
            axis.legend(fontsize=8)
        else:
            axis.text(0.5, 0.5, "no data yet", ha="center", va="center", transform=axis.transAxes)
        figure.tight_layout()
        target = out / f"{name}.png"
        figure.savefig(target, dpi=100)
        plt.close(figure)
        written.append(target)

    # Time per phase, stacked: where each iteration's seconds go.
    figure, axis = plt.subplots(figsize=(7, 4))
    iterations = [int(r["iteration"]) for r in records]
    bottom = [0.0] * len(records)
    for phase in _PHASES:
        heights = [_value(r, f"time/{phase}") or 0.0 for r in records]
        if any(heights):
            axis.bar(iterations, heights, bottom=bottom, label=phase)
            bottom = [b + h for b, h in zip(bottom, heights)]
    axis.set_title("time per phase (s)")
    axis.set_xlabel("iteration")
    if any(bottom):
        axis.legend(fontsize=8)
    figure.tight_layout()
    target = out / "time_per_phase.png"
    figure.savefig(target, dpi=100)
    plt.close(figure)
    written.append(target)

    # Pass-rate histogram per iteration as a heat map (rows: k/K correct).
    histograms = [r.get("pass_rate", {}).get("histogram") or {} for r in records]
    bins = list(histograms[-1]) if histograms and histograms[-1] else []
    figure, axis = plt.subplots(figsize=(7, 4))
    if bins and iterations:
        grid = [[h.get(b, 0) for h in histograms] for b in bins]
        image = axis.imshow(
            grid,
            aspect="auto",
            origin="lower",
            cmap="viridis",
            extent=(iterations[0] - 0.5, iterations[-1] + 0.5, -0.5, len(bins) - 0.5),
        )
        axis.set_yticks(range(len(bins)), bins)
        figure.colorbar(image, ax=axis, label="valid tasks")
    axis.set_title("pass-rate histogram of valid tasks")
    axis.set_xlabel("iteration")
    figure.tight_layout()
    target = out / "pass_rate_histogram.png"
    figure.savefig(target, dpi=100)
    plt.close(figure)
    written.append(target)
    return written
