"""``spice probe``: the paper's curriculum probe, Challenger checkpoints x Reasoner checkpoints.

Example (two checkpoints of a ``cpu-tiny`` run against each other)::

    spice train --preset cpu-tiny --output-dir runs/cpu-tiny
    spice probe --challengers runs/cpu-tiny/checkpoints/iter_000002 \\
                              runs/cpu-tiny/checkpoints/iter_000004 \\
                --reasoners   runs/cpu-tiny/checkpoints/iter_000002 \\
                              runs/cpu-tiny/checkpoints/iter_000004 \\
                --documents 16 --attempts 4 --answers 8 --out runs/probe

A player is ``[LABEL=]REF``: REF is a model reference (checkpoint, folder, hub id, ``smollm2``,
server URL) or a registered env policy (``scripted``, ``noisy:0.3``...). With
``--holdout-fraction`` the documents come from the held-out part of the corpus (the part a
training run with the same fraction never draws).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from typing import Any

from spice_env.commands._common import (
    add_corpus_arguments,
    add_task_types_argument,
    corpus_config,
)

__all__ = ["add_arguments", "make_player", "run"]


def _budget(text: str) -> int:
    """A token budget: a positive integer."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give a positive number of tokens")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``spice probe``."""
    parser.add_argument(
        "--challengers",
        nargs="+",
        required=True,
        metavar="[LABEL=]REF",
        help="Challenger checkpoints (matrix rows) or env policies",
    )
    parser.add_argument(
        "--reasoners",
        nargs="+",
        required=True,
        metavar="[LABEL=]REF",
        help="Reasoner checkpoints (matrix columns) or env policies",
    )
    add_corpus_arguments(parser)
    add_task_types_argument(parser)
    parser.add_argument(
        "--documents", type=int, default=16, help="documents in the fixed set (16; paper 128)"
    )
    parser.add_argument(
        "--attempts", type=int, default=4, help="Challenger attempts per document (4; paper 128)"
    )
    parser.add_argument(
        "--answers", type=int, default=8, help="Reasoner answers per valid task, K (8)"
    )
    parser.add_argument(
        "--temperature",
        type=float,
        default=1.0,
        help="sampling temperature of both roles (1.0, as in training)",
    )
    # The fallback is spice_env.evaluation.probe.DEFAULT_BUDGETS, spelled out here (a test
    # holds the two together): importing the evaluation package would slow every `spice` call.
    budgets = parser.add_argument_group(
        "token budgets",
        "default: the budgets of the checkpoint's training run (its config.json), else "
        "type_selection_max_new_tokens 128, challenger_max_new_tokens 512, "
        "reasoner_max_new_tokens 512",
    )
    budgets.add_argument(
        "--type-selection-max-new-tokens",
        type=_budget,
        default=None,
        help="budget of the Challenger's type selection",
    )
    budgets.add_argument(
        "--challenger-max-new-tokens",
        type=_budget,
        default=None,
        help="budget of the Challenger's task",
    )
    budgets.add_argument(
        "--reasoner-max-new-tokens",
        type=_budget,
        default=None,
        help="budget of each Reasoner answer",
    )
    parser.add_argument("--batch-size", type=int, default=32, help="episodes played together (32)")
    parser.add_argument(
        "--backend-batch-size",
        type=int,
        default=8,
        help="rows decoded together by the transformers backend (8)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch CPU threads (default: torch's choice); 1 is much faster "
        "when other processes share the cores",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of documents and sampling (0)")
    parser.add_argument("--out", default="runs/probe", help="output folder (runs/probe)")
    parser.add_argument(
        "--import",
        dest="imports",
        action="append",
        default=[],
        metavar="MODULE",
        help="import MODULE first (to register policies)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    parser.add_argument("--no-plot", action="store_true", help="do not write the heatmap")


def make_player(spec: str, args: argparse.Namespace) -> Any:
    """A :class:`~spice_env.evaluation.ProbePlayer` from ``[LABEL=]REF``.

    A REF whose name (before any ``:``) is a registered env policy is that policy; anything
    else is a model reference.
    """
    from spice_env.evaluation import ProbePlayer
    from spice_env.evaluation.probe import model_player
    from spice_env.policies import list_policies, make_policy

    label, sep, reference = spec.partition("=")
    if not sep:
        label, reference = "", spec
    if reference.partition(":")[0] in list_policies() and not Path(reference).exists():

        def load(role: str) -> Any:
            return make_policy(reference, role=role, seed=args.seed)

        return ProbePlayer(label or reference, load)
    return model_player(
        reference,
        label=label or None,
        temperature=args.temperature,
        type_selection_max_new_tokens=getattr(args, "type_selection_max_new_tokens", None),
        challenger_max_new_tokens=getattr(args, "challenger_max_new_tokens", None),
        reasoner_max_new_tokens=getattr(args, "reasoner_max_new_tokens", None),
        batch_size=args.backend_batch_size,
        seed=args.seed,
    )


def run(args: argparse.Namespace) -> int:
    """Run ``spice probe``."""
    for module in args.imports:
        importlib.import_module(module)
    from spice_env.evaluation import ProbeConfig, run_probe
    from spice_env.evaluation.models import set_threads
    from spice_env.evaluation.probe import probe_markdown

    set_threads(args.threads)
    try:
        config = ProbeConfig(
            num_documents=args.documents,
            attempts_per_document=args.attempts,
            answers_per_task=args.answers,
            seed=args.seed,
            batch_size=args.batch_size,
            progress=not args.no_progress,
            env_kwargs={
                "corpus_config": corpus_config(args, part="holdout"),
                "task_types": args.task_types,
            },
        )
        challengers = [make_player(spec, args) for spec in args.challengers]
        reasoners = [make_player(spec, args) for spec in args.reasoners]
        result = run_probe(
            challengers,
            reasoners,
            args.out,
            corpus=args.corpus,
            config=config,
            plot=not args.no_plot,
        )
    except (ValueError, FileNotFoundError) as error:
        print(f"spice probe: {error}", file=sys.stderr)
        return 2
    for role, by_label in result["budgets"].items():
        for label, budgets in by_label.items():
            spelled = ", ".join(f"{name} {value}" for name, value in budgets.items())
            print(f"{role[:-1]} {label}: {spelled}", file=sys.stderr)
    print(probe_markdown(result))
    print(f"wrote {args.out}/probe.{{json,md,png}} in {result['seconds']:.1f} s", file=sys.stderr)
    return 0
