"""Command-line flags several ``spice`` commands share, defined once."""

from __future__ import annotations

import argparse
from typing import Any

from spice_env.tasks import TaskType

__all__ = [
    "add_corpus_arguments",
    "add_part_argument",
    "add_task_types_argument",
    "corpus_config",
]


def add_corpus_arguments(parser: argparse.ArgumentParser) -> None:
    """``--corpus``, ``--text-field``, ``--id-field``, ``--max-segment-tokens`` and
    ``--holdout-fraction``: where documents come from and how they are read."""
    group = parser.add_argument_group("corpus")
    group.add_argument(
        "--corpus",
        default=None,
        help="JSONL/Parquet/CSV file, folder of .txt/.md, or hf:NAME (default: embedded)",
    )
    group.add_argument(
        "--text-field",
        default="text",
        help="corpus field with the text; comma-separate to join several (text)",
    )
    group.add_argument(
        "--id-field",
        default=None,
        help="corpus field with document ids; the held-out split hashes them (default: row number)",
    )
    group.add_argument(
        "--max-segment-tokens", type=int, default=5992, help="segment size in tokens (5992)"
    )
    group.add_argument(
        "--holdout-fraction",
        type=float,
        default=0.0,
        help="share of source documents held out of training, by a hash of their id (0: none)",
    )


def add_part_argument(parser: argparse.ArgumentParser, default: str, purpose: str) -> None:
    """``--part``: with ``--holdout-fraction``, the side of the split the documents come from.

    Args:
        parser: The command's parser.
        default: ``"holdout"`` or ``"train"``.
        purpose: Why a user picks one side or the other, for the help text.
    """
    parser.add_argument(
        "--part",
        choices=("holdout", "train"),
        default=default,
        help=f"with --holdout-fraction: which side of the split the documents come from "
        f"({default}); {purpose}",
    )


def corpus_config(args: argparse.Namespace, part: str = "train") -> dict[str, Any]:
    """The ``CorpusConfig`` fields the corpus flags give; ``part`` picks the side of a split."""
    text_field = args.text_field.split(",") if "," in args.text_field else args.text_field
    config: dict[str, Any] = {
        "text_field": text_field,
        "max_segment_tokens": args.max_segment_tokens,
    }
    if getattr(args, "id_field", None):
        config["id_field"] = args.id_field
    if getattr(args, "holdout_fraction", 0.0):
        config.update(holdout_fraction=args.holdout_fraction, part=part)
    if getattr(args, "no_progress", False):
        config["progress"] = False  # --no-progress hides the corpus build's bar too
    return config


def _task_types(text: str) -> tuple[str, ...]:
    """Parse ``mcq,free_form`` into task type names, refusing unknown ones."""
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    known = [t.value for t in TaskType]
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give one or more of {', '.join(known)}, comma-separated"
        )
    return names


def add_task_types_argument(parser: argparse.ArgumentParser) -> None:
    """``--task-types``: the task types the Challenger may write, spelled as ``spice train``
    spells them, so a run trained on one type is played and probed on that type."""
    parser.add_argument(
        "--task-types",
        type=_task_types,
        default=tuple(t.value for t in TaskType),
        metavar="TYPES",
        help="task types the Challenger may write, comma-separated (mcq,free_form); "
        "match the run's --task-types",
    )
