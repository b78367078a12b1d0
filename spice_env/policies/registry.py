"""Policies by name, for the CLI and configs: ``"scripted"``, ``"noisy:0.7"``, ``"hf"``...

A factory is ``factory(arg, *, role, seed, **options) -> Policy`` where ``arg`` is the text
after the colon of ``"name:arg"`` (or ``None``) and ``options`` are backend settings such as a
model name or a base URL. Register your own with :func:`register_policy`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from spice_env.policies.base import Policy
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
register_policy("oracle", _oracle)
register_policy("random", _random)
register_policy("noisy", _noisy)
