"""``spice train``: train one model in both SPICE roles with Dr. GRPO (the reference agent).

Every setting of :class:`spice_agents.config.TrainConfig` is a flag (``--learning-rate 1e-5``)
whose help is the field's docstring; a preset gives the starting values::

    spice train --preset cpu-smollm2 --iterations 3
    spice train --resume runs/cpu-smollm2          # continue exactly where it stopped
    accelerate launch --num_processes 2 --cpu -m spice_env train --preset cpu-tiny

Torch and transformers are imported in :func:`run` only, so ``spice --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_arguments", "build_config", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``spice train``: preset, resume, and one flag per config field."""
    from spice_agents.config import PRESETS, field_docs, iter_fields

    parser.add_argument(
        "--preset",
        default="cpu-tiny",
        choices=sorted(PRESETS),
        help="starting configuration (default cpu-tiny)",
    )
    parser.add_argument(
        "--config",
        default=None,
        help="a JSON config (e.g. a run's config.json) instead of a preset",
    )
    parser.add_argument(
        "--resume",
        nargs="?",
        const=True,
        default=None,
        metavar="PATH",
        help="continue from the latest checkpoint of --output-dir, or of the "
        "run folder / checkpoint PATH (its config.json is reused)",
    )
    parser.add_argument(
        "--print-config",
        action="store_true",
        help="print the resolved configuration as JSON and exit",
    )
    # One argument group per config section, so --help reads like the config file.
    groups: dict[str, Any] = {}
    for section, name, _field in iter_fields():
        if section not in groups:
            groups[section] = parser.add_argument_group(f"{section} settings")
        doc = field_docs(_section_class(section)).get(name, "")
        groups[section].add_argument(
            f"--{name.replace('_', '-')}",
            dest=f"set_{name}",
            default=None,
            metavar="VALUE",
            help=doc.replace("%", "%%"),
        )


def _section_class(section: str) -> type:
    from spice_agents.config import SECTION_TYPES

    return SECTION_TYPES[section]


def _resume_source(resume: Any) -> tuple[Path | None, Path | None]:
    """(run folder holding config.json, checkpoint) named by ``--resume PATH``."""
    if resume is None or resume is True:
        return None, None
    path = Path(resume)
    if (path / "DONE").is_file():  # a checkpoint folder: RUN/checkpoints/iter_N
        return path.parent.parent, path
    return path, None


def build_config(args: argparse.Namespace) -> Any:
    """The :class:`TrainConfig` the arguments describe (preset or file, then overrides)."""
    from spice_agents.config import TrainConfig, make_preset

    overrides = {
        key[4:]: value
        for key, value in vars(args).items()
        if key.startswith("set_") and value is not None
    }
    run_dir, _ = _resume_source(args.resume)
    if args.config is not None:
        config = TrainConfig.from_dict(json.loads(Path(args.config).read_text()))
    elif run_dir is not None and (run_dir / "config.json").is_file():
        config = TrainConfig.from_dict(json.loads((run_dir / "config.json").read_text()))
        overrides.setdefault("output_dir", str(run_dir))
    else:
        config = make_preset(args.preset)
    return config.replace(**overrides) if overrides else config


def run(args: argparse.Namespace) -> int:
    """Run ``spice train``."""
    try:
        config = build_config(args)
    except (ValueError, OSError) as error:
        print(f"spice train: {error}", file=sys.stderr)
        return 2
    if args.print_config:
        print(config.to_json())
        return 0

    from spice_agents.grpo import GRPOTrainer

    from spice_env.corpus import CorpusError

    _, checkpoint = _resume_source(args.resume)
    resume: Any = checkpoint if checkpoint is not None else (True if args.resume else None)
    try:
        trainer = GRPOTrainer(config)
    except (CorpusError, FileNotFoundError) as error:  # the user's corpus or model path
        print(f"spice train: {error}", file=sys.stderr)
        return 2
    try:
        records = trainer.train(resume=resume)
    except FileNotFoundError as error:
        print(f"spice train: {error}", file=sys.stderr)
        return 2
    if trainer.accelerator.is_main_process:
        print(_summary(records, config), file=sys.stderr)
    if trainer.stopped:
        return 130
    return 0


def _summary(records: list[dict[str, Any]], config: Any) -> str:
    lines = [f"run folder: {config.run.output_dir}"]
    if not records:
        return "\n".join(
            [*lines, "no iterations run (--iterations 0, or the run had already finished)"]
        )
    last = records[-1]
    seconds = [r["time"]["iteration"] for r in records]
    lines.append(
        f"iterations this call: {len(records)} (now at {last['iteration']}), "
        f"mean {sum(seconds) / len(seconds):.2f} s/iteration"
    )
    phases: dict[str, float] = {}
    for record in records:
        for phase, value in record["time"].items():
            phases[phase] = phases.get(phase, 0.0) + value / len(records)
    lines.append(
        "mean seconds per phase: "
        + ", ".join(
            f"{phase}={value:.2f}" for phase, value in phases.items() if phase != "iteration"
        )
    )
    rewards = last["reward"]
    lines.append(
        "last iteration: "
        + ", ".join(
            f"reward_{role}={value:.3f}" for role, value in rewards.items() if value is not None
        )
        + f", valid_rate={last['challenger']['valid_rate']}, "
        f"loss={last['loss']['total']:.5f}"
    )
    return "\n".join(lines)
