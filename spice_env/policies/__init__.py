"""Policies that play the roles: scripted ones, and language models behind backends.

Every policy follows :class:`Policy`: ``act(observation, info) -> str`` and a batched
``act_batch``. Build one by name with :func:`make_policy` (``"scripted"``, ``"hf"``,
``"openai"``, ``"vllm"``...), or wrap any :class:`LLMBackend` in an :class:`LLMPolicy`.

The backends that need torch, transformers or vLLM (:class:`HFBackend`, :class:`VLLMBackend`)
load on first access, so importing this package stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from spice_env.policies.base import BasePolicy, Policy
from spice_env.policies.llm import LLMPolicy
from spice_env.policies.registry import list_policies, make_policy, register_policy
from spice_env.policies.sampling import (
    AsyncLLMBackend,
    BackendError,
    Completion,
    LLMBackend,
    SamplingParams,
)
from spice_env.policies.scripted import (
    NoisyReasoner,
    OracleReasoner,
    RandomReasoner,
    ScriptedChallenger,
)
from spice_env.policies.scripted_lm import ScriptedLM
from spice_env.policies.smollm2 import load_smollm2, smollm2_gguf_path

if TYPE_CHECKING:  # pragma: no cover
    from spice_env.policies.hf import HFBackend
    from spice_env.policies.openai_http import OpenAIBackend, OpenAIHTTPError
    from spice_env.policies.vllm_backend import VLLMBackend

__all__ = [
    # protocol and registry
    "BasePolicy",
    "Policy",
    "list_policies",
    "make_policy",
    "register_policy",
    # scripted policies
    "NoisyReasoner",
    "OracleReasoner",
    "RandomReasoner",
    "ScriptedChallenger",
    # language models
    "AsyncLLMBackend",
    "BackendError",
    "Completion",
    "HFBackend",
    "LLMBackend",
    "LLMPolicy",
    "OpenAIBackend",
    "OpenAIHTTPError",
    "SamplingParams",
    "ScriptedLM",
    "VLLMBackend",
    "load_smollm2",
    "smollm2_gguf_path",
]

_LAZY = {
    "HFBackend": "spice_env.policies.hf",
    "OpenAIBackend": "spice_env.policies.openai_http",
    "OpenAIHTTPError": "spice_env.policies.openai_http",
    "VLLMBackend": "spice_env.policies.vllm_backend",
}


def __getattr__(name: str) -> Any:
    # Heavy backends import torch/transformers/vLLM at module level; load them on first use.
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
