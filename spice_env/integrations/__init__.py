"""Bridges from ``SpiceCorpus-v0`` to the RL ecosystem: PettingZoo, vector envs, SB3, TRL.

Each bridge lives in its own module and imports its third-party library only when that module
is loaded, so ``import spice_env.integrations`` stays as light as ``import spice_env``:

- :mod:`spice_env.integrations.pettingzoo_env`: the two roles as a PettingZoo AEC environment
  (``env()``, ``raw_env``) and its turn-based parallel form (``parallel_env()``).
- :mod:`spice_env.integrations.vector`: ``gym.make_vec`` settings that make sync and async
  vector envs work (:func:`make_vector_env`) and a batched rollout that makes one
  ``act_batch`` call per role per step (:func:`rollout_vector`).
- :mod:`spice_env.integrations.sb3`: multiple-choice Reasoner turns as a ``Discrete(4)``
  environment over numeric option features, for Stable-Baselines3 and other array-based agents.
- :mod:`spice_env.integrations.trl_rewards`: the SPICE rewards as TRL reward functions
  ``(completions, **columns) -> list[float | None]`` and Reasoner task datasets.

The names below resolve lazily on first access, e.g.
``from spice_env.integrations import rollout_vector``.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    # PettingZoo
    "AGENTS": "pettingzoo_env",
    "AGENT_ROLES": "pettingzoo_env",
    "SpiceAECEnv": "pettingzoo_env",
    "env": "pettingzoo_env",
    "parallel_env": "pettingzoo_env",
    "raw_env": "pettingzoo_env",
    # vector envs
    "VectorRollout": "vector",
    "make_vector_env": "vector",
    "rollout_vector": "vector",
    "unbatch": "vector",
    # Stable-Baselines3 (the wrapper itself needs only gymnasium and numpy)
    "FEATURE_NAMES": "sb3",
    "MCQChoiceEnv": "sb3",
    "generate_mcq_tasks": "sb3",
    "option_features": "sb3",
    # TRL
    "ChallengerTaskReward": "trl_rewards",
    "GroupChallengerReward": "trl_rewards",
    "ReasonerCorrectnessReward": "trl_rewards",
    "challenger_prompt_records": "trl_rewards",
    "completion_text": "trl_rewards",
    "reasoner_task_records": "trl_rewards",
}

__all__ = [
    # PettingZoo
    "AGENTS",
    "AGENT_ROLES",
    "SpiceAECEnv",
    "env",
    "parallel_env",
    "raw_env",
    # vector envs
    "VectorRollout",
    "make_vector_env",
    "rollout_vector",
    "unbatch",
    # Stable-Baselines3
    "FEATURE_NAMES",
    "MCQChoiceEnv",
    "generate_mcq_tasks",
    "option_features",
    # TRL
    "ChallengerTaskReward",
    "GroupChallengerReward",
    "ReasonerCorrectnessReward",
    "challenger_prompt_records",
    "completion_text",
    "reasoner_task_records",
]


def __getattr__(name: str) -> Any:
    # PEP 562: load the bridge module (and its third-party library) only when a name is used.
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
