"""Policies by name, for the CLI and configs: ``"scripted"``, ``"noisy:0.7"``, ``"hf"``...

A factory is ``factory(arg, *, role, seed, **options) -> Policy`` where ``arg`` is the text
after the colon of ``"name:arg"`` (or ``None``) and ``options`` are backend settings such as a
model name or a base URL. Register your own with :func:`register_policy`.

Language-model policies (``"hf"``, ``"openai"``, ``"vllm"``) import their backend only when
built, so ``import spice_env`` never pulls in torch, transformers, httpx or vLLM. They read
these options (all optional): ``model`` (or the ``:arg``), ``temperature``, ``top_p``,
``max_new_tokens``, ``stop``, ``use_chat``, ``constrain`` (``"on"``, the default: follow
the env's ``info["response_format"]`` at Challenger turns; ``"off"``: free text, the paper's
setting); ``hf``: ``device``, ``dtype``, ``batch_size``;
``openai``: ``base_url``, ``api_key_env``, ``concurrency``, ``timeout``, ``max_retries``,
``extra_body``, ``logprobs``, ``structured_output``; ``vllm``: ``dtype``, ``gpu_memory_utilization``,
``max_model_len``. When the Challenger and the Reasoner name the same model they share one
backend (one set of weights), as in SPICE.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from spice_env.policies.base import Policy
from spice_env.policies.sampling import SamplingParams, derive_seed
from spice_env.policies.scripted import (
    NoisyReasoner,
    OracleReasoner,
    RandomReasoner,
    ScriptedChallenger,
)
from spice_env.rewards.registry import Registry

__all__ = ["list_policies", "make_policy", "register_policy"]

PolicyFactory = Callable[..., Policy]
_POLICIES: Registry[Policy] = Registry("policy")


def register_policy(name: str, factory: PolicyFactory, *, overwrite: bool = False) -> None:
    """Register ``factory(arg, *, role, seed, **options)`` under ``name``."""
    _POLICIES.register(name, factory, overwrite=overwrite)


def make_policy(spec: str, *, role: str, seed: int = 0, **options: Any) -> Policy:
    """Build a policy from ``"name"`` or ``"name:arg"``.

    Args:
        spec: Registered name, optionally followed by ``:arg`` (``"noisy:0.7"``).
        role: ``"challenger"`` or ``"reasoner"``; some policies play only one.
        seed: Seed for the policy's own randomness.
        **options: Backend settings (model, base URL, sampling...).
    """
    name, _, arg = spec.partition(":")
    return _POLICIES.make(name, arg=arg or None, role=role, seed=seed, **options)


def list_policies() -> list[str]:
    """Registered policy names."""
    return _POLICIES.names()


def _only(role_needed: str, name: str, role: str) -> None:
    if role != role_needed:
        raise ValueError(f"policy {name!r} plays the {role_needed} only, not the {role}")


def _scripted(arg: str | None, *, role: str, seed: int, **_: Any) -> Policy:
    _only("challenger", "scripted", role)
    return ScriptedChallenger(seed=seed, invalid_rate=float(arg) if arg else 0.0)


def _scripted_computed(arg: str | None, *, role: str, seed: int, **_: Any) -> Policy:
    _only("challenger", "scripted-computed", role)
    return ScriptedChallenger(
        seed=seed, invalid_rate=float(arg) if arg else 0.0, computed_only=True
    )


def _oracle(arg: str | None, *, role: str, seed: int, **_: Any) -> Policy:
    _only("reasoner", "oracle", role)
    return OracleReasoner()


def _random(arg: str | None, *, role: str, seed: int, **_: Any) -> Policy:
    _only("reasoner", "random", role)
    return RandomReasoner(seed=seed)


def _noisy(arg: str | None, *, role: str, seed: int, **_: Any) -> Policy:
    _only("reasoner", "noisy", role)
    return NoisyReasoner(q=float(arg) if arg else 0.5, seed=seed)


register_policy("scripted", _scripted)
register_policy("scripted-computed", _scripted_computed)
register_policy("oracle", _oracle)
register_policy("random", _random)
register_policy("noisy", _noisy)


# -- language-model policies ------------------------------------------------------------------
_SAMPLING_OPTIONS = ("temperature", "top_p", "max_new_tokens", "stop")


def _llm_policy(backend: Any, role: str, seed: int, options: dict[str, Any]) -> Policy:
    from spice_env.policies.llm import LLMPolicy

    sampling = {k: options[k] for k in _SAMPLING_OPTIONS if options.get(k) is not None}
    if isinstance(sampling.get("stop"), list):
        sampling["stop"] = tuple(sampling["stop"])
    # Mixing the role into the seed keeps the two roles' sampling streams apart.
    return LLMPolicy(
        backend,
        SamplingParams(**sampling),
        use_chat=bool(options.get("use_chat", True)),
        seed=derive_seed(seed, role),
        constrain=_constrain_flag(options.get("constrain", True)),
    )


def _constrain_flag(value: Any) -> bool:
    """``constrain`` as a bool: ``True``/``"on"`` or ``False``/``"off"``."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("on", "off"):
        return value.lower() == "on"
    raise ValueError(f"constrain={value!r}; use 'on' (follow the env's JSON Schema) or 'off'")


def _hf(
    arg: str | None,
    *,
    role: str,
    seed: int,
    model: str | None = None,
    device: str | None = None,
    dtype: str | None = None,
    batch_size: int | None = None,
    **options: Any,
) -> Policy:
    from spice_env.policies.hf import HFBackend
    from spice_env.policies.llm import shared_backend

    name = arg or model or "smollm2"
    size = batch_size or 8
    backend = shared_backend(
        ("hf", name, device, dtype, size),
        lambda: HFBackend.from_pretrained(name, device=device, dtype=dtype, batch_size=size),
    )
    return _llm_policy(backend, role, seed, options)


def _openai(
    arg: str | None,
    *,
    role: str,
    seed: int,
    model: str | None = None,
    base_url: str | None = None,
    api_key_env: str | None = None,
    concurrency: int | None = None,
    timeout: float | None = None,
    max_retries: int | None = None,
    extra_body: dict[str, Any] | None = None,
    logprobs: bool | None = None,
    structured_output: str | None = None,
    **options: Any,
) -> Policy:
    import os

    from spice_env.policies.llm import shared_backend
    from spice_env.policies.openai_http import OpenAIBackend

    url = base_url or os.environ.get("OPENAI_BASE_URL")
    if not url:
        raise ValueError(
            "the openai policy needs a server: pass base_url (CLI: --base-url "
            "http://127.0.0.1:8000/v1) or set OPENAI_BASE_URL"
        )
    settings: dict[str, Any] = {
        "api_key_env": api_key_env or "OPENAI_API_KEY",
        "concurrency": concurrency or 8,
        "timeout": timeout or 120.0,
        "max_retries": 4 if max_retries is None else max_retries,
        "extra_body": extra_body,
        "logprobs": True if logprobs is None else bool(logprobs),
        "structured_output": structured_output or "auto",
    }
    name = arg or model
    backend = shared_backend(
        ("openai", url, name, repr(sorted(settings.items()))),
        lambda: OpenAIBackend(url, name, **settings),
    )
    return _llm_policy(backend, role, seed, options)


def _vllm(
    arg: str | None,
    *,
    role: str,
    seed: int,
    model: str | None = None,
    dtype: str | None = None,
    gpu_memory_utilization: float | None = None,
    max_model_len: int | None = None,
    **options: Any,
) -> Policy:
    from spice_env.policies.llm import shared_backend
    from spice_env.policies.vllm_backend import VLLMBackend

    name = arg or model
    if not name:
        raise ValueError("the vllm policy needs a model: vllm:NAME or --model NAME")
    engine: dict[str, Any] = {"dtype": dtype or "auto", "seed": seed}
    if gpu_memory_utilization is not None:
        engine["gpu_memory_utilization"] = gpu_memory_utilization
    if max_model_len is not None:
        engine["max_model_len"] = max_model_len
    backend = shared_backend(
        ("vllm", name, repr(sorted(engine.items()))), lambda: VLLMBackend(name, **engine)
    )
    return _llm_policy(backend, role, seed, options)


register_policy("hf", _hf)
register_policy("openai", _openai)
register_policy("vllm", _vllm)
