"""spice_env.integrations: light to import, names resolve lazily."""

import subprocess
import sys

import pytest

import spice_env.integrations as integrations

HEAVY = ("pettingzoo", "stable_baselines3", "trl", "torch", "transformers")


def test_import_loads_no_heavy_library():
    code = (
        "import sys, spice_env.integrations; "
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_trl_rewards_and_sb3_wrapper_need_neither_trl_nor_sb3_nor_torch():
    code = (
        "import sys; import spice_env.integrations.trl_rewards, spice_env.integrations.sb3, "
        "spice_env.integrations.vector; "
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_every_public_name_resolves():
    for name in integrations.__all__:
        assert getattr(integrations, name) is not None, name
    assert set(integrations.__all__) <= set(dir(integrations))


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        integrations.nope  # noqa: B018
