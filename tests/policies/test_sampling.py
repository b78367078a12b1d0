"""Sampling settings, completions and the small helpers every backend shares."""

from __future__ import annotations

import subprocess
import sys

import pytest

from spice_env.policies.sampling import (
    Completion,
    SamplingParams,
    derive_seed,
    find_stop,
    is_chat,
    messages_to_text,
)


def test_defaults_are_valid() -> None:
    params = SamplingParams()
    assert (params.n, params.temperature, params.top_p) == (1, 1.0, 1.0)
    assert (params.max_new_tokens, params.stop, params.seed) == (512, (), None)
    assert not params.greedy


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"n": 0}, "n=0"),
        ({"n": 1.5}, "n=1.5"),
        ({"n": True}, "n=True"),
        ({"temperature": -0.1}, "temperature"),
        ({"temperature": float("nan")}, "temperature"),
        ({"top_p": 0.0}, "top_p"),
        ({"top_p": 1.5}, "top_p"),
        ({"max_new_tokens": 0}, "max_new_tokens"),
        ({"max_new_tokens": 2.0}, "max_new_tokens"),
        ({"stop": ("",)}, "stop"),
        ({"stop": (3,)}, "stop"),
        ({"seed": -1}, "seed"),
        ({"seed": "7"}, "seed"),
    ],
)
def test_bad_settings_raise_and_say_which(fields: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SamplingParams(**fields)


def test_stop_accepts_a_string_or_a_list() -> None:
    assert SamplingParams(stop="\n\n").stop == ("\n\n",)
    assert SamplingParams(stop=["a", "b"]).stop == ("a", "b")


def test_greedy_and_replace() -> None:
    params = SamplingParams(temperature=0.0)
    assert params.greedy
    changed = params.replace(n=4, seed=3)
    assert (changed.n, changed.seed, changed.temperature) == (4, 3, 0.0)
    with pytest.raises(ValueError):
        params.replace(n=0)
    with pytest.raises(AttributeError):
        params.n = 2  # type: ignore[misc]  (frozen)


def test_completion_counts_its_tokens() -> None:
    completion = Completion("hi", [1, 2, 3], [-0.1, -0.2, -0.3], [9], "stop")
    assert completion.num_tokens == 3
    remote = Completion("hi", [], None, None, "length", num_tokens=5)
    assert remote.num_tokens == 5


def test_derive_seed_is_stable_across_processes() -> None:
    here = derive_seed(7, "reasoner", 3)
    code = (
        "from spice_env.policies.sampling import derive_seed; print(derive_seed(7, 'reasoner', 3))"
    )
    there = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert str(here) == there
    assert 0 <= here < 2**63
    assert derive_seed(7, "reasoner", 4) != here


@pytest.mark.parametrize(
    ("text", "stops", "expected"),
    [
        ("abc</s>def", ("</s>",), 3),
        ("abc", ("x",), -1),
        ("a\n\nb END", ("END", "\n\n"), 1),
        ("", ("x",), -1),
        ("abc", (), -1),
    ],
)
def test_find_stop(text: str, stops: tuple[str, ...], expected: int) -> None:
    assert find_stop(text, stops) == expected


def test_prompt_kinds() -> None:
    assert is_chat([{"role": "user", "content": "hi"}])
    assert is_chat([])
    assert not is_chat("hi")
    with pytest.raises(TypeError, match="raw prompt"):
        is_chat([{"text": "hi"}])
    with pytest.raises(TypeError):
        is_chat(42)  # type: ignore[arg-type]


def test_messages_to_text() -> None:
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"}]
    assert messages_to_text(messages) == "Be brief.\n\n2+2?"
    assert messages_to_text(messages, assistant_prefix="Assistant:").endswith("\n\nAssistant:")
