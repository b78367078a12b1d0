"""The reference GRPO agent for SPICE self-play, installed as ``spice_agents``.

One model plays both roles and is trained with Dr. GRPO (role-specific advantages, no std
normalization), driving ``SpiceCorpus-v0`` only through its public API::

    from spice_agents import make_preset, train

    trainer = train(make_preset("cpu-tiny", iterations=2))

Modules: :mod:`spice_agents.grpo` (the algorithm, one file), :mod:`spice_agents.config`
(dataclasses and presets), :mod:`spice_agents.checkpoint`, :mod:`spice_agents.metrics`,
:mod:`spice_agents.plotting`, :mod:`spice_agents.tiny`. Importing the package is light: torch
and transformers load only when training starts.
"""

from __future__ import annotations

from typing import Any

from spice_agents.config import PRESETS, TrainConfig, make_preset

__all__ = ["PRESETS", "GRPOTrainer", "TrainConfig", "make_preset", "train"]


def __getattr__(name: str) -> Any:
    # The trainer pulls in numpy, gymnasium and (when built) torch; load it on first use.
    if name in ("GRPOTrainer", "train"):
        from spice_agents import grpo

        return getattr(grpo, name)
    raise AttributeError(f"module 'spice_agents' has no attribute {name!r}")
