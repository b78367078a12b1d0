"""spice_env: SPICE (Self-Play In Corpus Environments) as a Gymnasium environment.

A Challenger reads a corpus document and writes a verifiable task; a Reasoner answers it
without the document. ``import spice_env`` registers ``SpiceCorpus-v0``::

    import gymnasium as gym
    import spice_env

    env = gym.make("SpiceCorpus-v0")

Importing this package stays light: torch, transformers and datasets load only when a
feature that needs them is used.
"""

from __future__ import annotations

import gymnasium as _gym

from spice_env.corpus import Corpus, Document, load_corpus
from spice_env.envs import ROLES, STAGES, CorpusSelfPlayEnv
from spice_env.prompts import DEFAULT_PROMPTS, PromptTemplates
from spice_env.rewards import (
    list_challenger_rewards,
    list_reasoner_rewards,
    make_challenger_reward,
    make_reasoner_reward,
    register_challenger_reward,
    register_reasoner_reward,
)
from spice_env.tasks import InvalidReason, Task, TaskType
from spice_env.verifiers import VerifyResult, check, extract_answer, verify, verify_many

__version__ = "0.1.0"

ENV_ID = "SpiceCorpus-v0"
"""The registered Gymnasium id."""

if ENV_ID not in _gym.registry:
    _gym.register(id=ENV_ID, entry_point="spice_env.envs.corpus_self_play:CorpusSelfPlayEnv")

__all__ = [
    # environment
    "ENV_ID",
    "ROLES",
    "STAGES",
    "CorpusSelfPlayEnv",
    # corpus
    "Corpus",
    "Document",
    "load_corpus",
    # tasks and prompts
    "DEFAULT_PROMPTS",
    "InvalidReason",
    "PromptTemplates",
    "Task",
    "TaskType",
    # rewards
    "list_challenger_rewards",
    "list_reasoner_rewards",
    "make_challenger_reward",
    "make_reasoner_reward",
    "register_challenger_reward",
    "register_reasoner_reward",
    # verification
    "VerifyResult",
    "check",
    "extract_answer",
    "verify",
    "verify_many",
    "__version__",
]
