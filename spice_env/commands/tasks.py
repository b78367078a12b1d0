"""``spice tasks``: write a fixed task set through the env, e.g. a held-out evaluation set.

Each Challenger (a registered env policy such as ``scripted``, or a model reference such as
``smollm2``) writes tasks from a fixed set of documents through the env's own protocol, so
only tasks that pass every check are kept. With ``--holdout-fraction`` the documents come
from the held-out part of the corpus, which training with the same fraction never draws::

    spice tasks --corpus ../shared/data/corpus/gsm8k_train.jsonl --text-field question,answer \\
        --holdout-fraction 0.1 --challengers scripted smollm2 --documents 64 --out heldout.jsonl
    spice eval --model runs/cpu-smollm2/final --benchmarks spice_tasks=heldout.jsonl

``--part train`` writes a development set from the training side of the same split instead,
to tune a recipe on without ever looking at the held-out set.

Multiple-choice options are written in a new seeded order (the gold letter follows), so the
set carries no letter prior of its Challengers. A task asked twice (the same question, options
and gold, by any Challenger from any document: a deterministic Challenger writes the same task
on every attempt at a document) is kept once, so no task weighs double in a pass rate;
``--keep-duplicates`` keeps them, as sets built before this rule were. Each row is
``Task.to_dict()`` plus ``id`` and ``writer`` (the Challenger's label); a ``.summary.json``
beside it holds every Challenger's valid rate, invalid reasons and duplicates.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from spice_env.commands._common import add_corpus_arguments, add_part_argument, corpus_config

__all__ = ["add_arguments", "run", "shuffle_options", "task_key"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``spice tasks``."""
    parser.add_argument(
        "--challengers",
        nargs="+",
        default=["scripted"],
        metavar="[LABEL=]REF",
        help="who writes the tasks: env policies (scripted) or model references (smollm2)",
    )
    add_corpus_arguments(parser)
    parser.add_argument("--documents", type=int, default=32, help="documents in the set (32)")
    parser.add_argument(
        "--attempts", type=int, default=2, help="Challenger attempts per document (2)"
    )
    parser.add_argument(
        "--max-tasks", type=int, default=None, help="keep at most this many tasks per Challenger"
    )
    parser.add_argument("--temperature", type=float, default=1.0, help="model sampling (1.0)")
    parser.add_argument(
        "--type-selection-max-new-tokens", type=int, default=128, help="budget of stage 1 (128)"
    )
    parser.add_argument(
        "--challenger-max-new-tokens", type=int, default=512, help="budget of the task (512)"
    )
    parser.add_argument("--batch-size", type=int, default=16, help="episodes played together (16)")
    parser.add_argument(
        "--backend-batch-size", type=int, default=8, help="rows decoded together (8)"
    )
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--seed", type=int, default=0, help="seed of documents and sampling (0)")
    add_part_argument(
        parser,
        "holdout",
        "holdout for the evaluation set, train for a development set to tune on, so the "
        "held-out set is never looked at while tuning",
    )
    parser.add_argument(
        "--keep-duplicates",
        action="store_true",
        help="keep a task asked twice (same question, options and gold) as often as it was "
        "written; by default it is kept once",
    )
    parser.add_argument("--out", default="runs/tasks/tasks.jsonl", help="the JSONL to write")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")


def shuffle_options(task: dict[str, Any], seed: int) -> dict[str, Any]:
    """A multiple-choice task with its options in a seeded order, the gold letter mapped along
    (other tasks are returned unchanged)."""
    import numpy as np

    options = task.get("options")
    if not options or task.get("answer") not in ("A", "B", "C", "D"):
        return dict(task)
    order = np.random.default_rng(seed).permutation(len(options)).tolist()
    gold = "ABCD".index(task["answer"])
    return {
        **task,
        "options": [options[i] for i in order],
        "answer": "ABCD"[order.index(gold)],
    }


def task_key(task: dict[str, Any]) -> tuple[Any, ...]:
    """What makes two tasks the same task to a Reasoner, who sees neither the document nor the
    option order: the type, the question (case and spacing aside), the set of options and the
    gold (for multiple choice, the text of the gold option)."""

    def norm(text: Any) -> str:
        return " ".join(str(text).split()).casefold()

    options = task.get("options")
    gold = task.get("answer")
    if options and gold in ("A", "B", "C", "D") and "ABCD".index(gold) < len(options):
        gold = options["ABCD".index(gold)]
    return (
        str(task.get("task_type")),
        norm(task.get("question", "")),
        frozenset(norm(option) for option in options) if options else None,
        norm(gold),
    )


def run(args: argparse.Namespace) -> int:
    """Run ``spice tasks``."""
    from spice_env.commands.probe import make_player
    from spice_env.corpus import load_corpus
    from spice_env.evaluation import ProbeConfig
    from spice_env.evaluation.models import set_threads
    from spice_env.evaluation.probe import generate_tasks, select_documents
    from spice_env.rollout import episode_seed, write_jsonl

    if args.documents < 1 or args.attempts < 1:
        print("spice tasks: --documents and --attempts must be at least 1", file=sys.stderr)
        return 2
    set_threads(args.threads)
    # With --holdout-fraction the tasks come from the held-out part of the corpus (or, with
    # --part train, from the documents training draws: a development set).
    config_of_corpus = corpus_config(args, part=args.part)
    try:
        corpus = load_corpus(args.corpus, config_of_corpus)
        documents = select_documents(corpus, args.documents, args.seed)
        config = ProbeConfig(
            num_documents=len(documents),
            attempts_per_document=args.attempts,
            seed=args.seed,
            batch_size=args.batch_size,
            progress=not args.no_progress,
            env_kwargs={"corpus_config": config_of_corpus},
        )
        players = [make_player(spec, args) for spec in args.challengers]
    except (ValueError, FileNotFoundError, KeyError) as error:
        print(f"spice tasks: {error}", file=sys.stderr)
        return 2

    rows: list[dict[str, Any]] = []
    seen: set[tuple[Any, ...]] = set()
    summary: dict[str, Any] = {"documents": documents, "challengers": {}}
    for player in players:
        policy = player.load("challenger")
        tasks, stats = generate_tasks(policy, corpus, documents, config, label=player.label)
        del policy
        unique = []
        for task in tasks:
            key = task_key(task)
            if key not in seen:
                seen.add(key)
                unique.append(task)
        stats["duplicates"] = len(tasks) - len(unique)
        if not args.keep_duplicates:
            tasks = unique
        if args.max_tasks is not None:
            tasks = tasks[: args.max_tasks]
        for index, task in enumerate(tasks):
            shuffled = shuffle_options(task, episode_seed(args.seed, player.label, index))
            rows.append({**shuffled, "id": f"{player.label}-{index}", "writer": player.label})
        summary["challengers"][player.label] = {**stats, "kept": len(tasks)}
        print(
            f"{player.label}: {stats['valid']}/{stats['attempts']} valid "
            f"({stats['valid_rate']:.0%}); invalid {stats['invalid_reasons']}; "
            f"{stats['duplicates']} duplicates "
            f"{'kept' if args.keep_duplicates else 'dropped'}",
            file=sys.stderr,
        )
    out = Path(args.out)
    write_jsonl(rows, out)
    out.with_suffix(".summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    print(f"wrote {len(rows)} tasks to {out}", file=sys.stderr)
    return 0
