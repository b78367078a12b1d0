"""Policies that play the roles: scripted ones here, language-model backends beside them.

Every policy follows :class:`Policy`: ``act(observation, info) -> str`` and a batched
``act_batch``. Build one by name with :func:`make_policy`.
"""

from spice_env.policies.base import BasePolicy, Policy
from spice_env.policies.registry import list_policies, make_policy, register_policy
from spice_env.policies.scripted import NoisyReasoner, OracleReasoner, RandomReasoner, ScriptedChallenger

__all__ = [
    "BasePolicy",
    "NoisyReasoner",
    "OracleReasoner",
    "Policy",
    "RandomReasoner",
    "ScriptedChallenger",
    "list_policies",
    "make_policy",
    "register_policy",
]
