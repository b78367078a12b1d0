"""``spice plot RUN_DIR``: PNG curves of a training run (rewards, losses, lengths, timing), and
``summary.json``: seconds per phase, learning signal per role, valid rate first vs last quarter
with a two-proportion test."""

from __future__ import annotations

import argparse
import sys

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``spice plot``."""
    parser.add_argument("run_dir", help="a `spice train` run folder (holds metrics.jsonl)")
    parser.add_argument("--out", default=None, help="where to write the PNGs (RUN_DIR/plots)")


def run(args: argparse.Namespace) -> int:
    """Run ``spice plot``."""
    from spice_agents.metrics import write_run_summary
    from spice_agents.plotting import plot_run

    try:
        written = plot_run(args.run_dir, args.out)
        written.append(write_run_summary(args.run_dir))
    except FileNotFoundError as error:
        print(f"spice plot: {error}", file=sys.stderr)
        return 2
    for path in written:
        print(path)
    return 0
