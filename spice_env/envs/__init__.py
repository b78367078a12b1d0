"""The environment: :class:`CorpusSelfPlayEnv`, registered as ``SpiceCorpus-v0``."""

from spice_env.envs.corpus_self_play import ROLES, STAGES, CorpusSelfPlayEnv
from spice_env.envs.spaces import UnicodeText

__all__ = ["ROLES", "STAGES", "CorpusSelfPlayEnv", "UnicodeText"]
