"""The backend contract, run on every backend: the scripted LM, transformers (real SmolLM2)
and an OpenAI-compatible server (a real llama.cpp server on 127.0.0.1).

Each test states one promise of :class:`LLMBackend`; a new backend joins by adding a param.
Generations are kept to a few tokens so the real models run quickly on a CPU.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from spice_env.policies.sampling import Completion, LLMBackend, SamplingParams
from spice_env.policies.scripted_lm import ScriptedLM

CHAT = [{"role": "user", "content": "Write a long story about a dragon who loves numbers."}]
CHAT_WITH_SYSTEM = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "List five colours of the rainbow."},
]
RAW = "Once upon a time, in a small village by the sea,"


@pytest.fixture(
    params=[
        "scripted",
        pytest.param("hf", marks=pytest.mark.slow),
        pytest.param("openai", marks=[pytest.mark.slow, pytest.mark.server]),
    ]
)
def backend(request: pytest.FixtureRequest) -> Any:
    if request.param == "scripted":
        return ScriptedLM()
    if request.param == "hf":
        return request.getfixturevalue("hf_backend")
    return request.getfixturevalue("openai_backend")


def _texts(results: list[list[Completion]]) -> list[list[str]]:
    return [[c.text for c in per_prompt] for per_prompt in results]


def test_follows_the_protocol(backend: Any) -> None:
    assert isinstance(backend, LLMBackend)
    assert isinstance(backend.supports_logprobs, bool)
    assert isinstance(backend.supports_seed, bool)


def test_one_list_of_n_completions_per_prompt_chat_and_raw(backend: Any) -> None:
    prompts = [CHAT_WITH_SYSTEM, RAW]
    results = backend.generate(prompts, SamplingParams(n=2, max_new_tokens=6, seed=0))
    assert len(results) == len(prompts)
    for per_prompt in results:
        assert len(per_prompt) == 2
        for completion in per_prompt:
            assert isinstance(completion, Completion)
            assert isinstance(completion.text, str)
            assert completion.finish_reason in ("stop", "length")
            assert 0 <= completion.num_tokens <= 6
            assert all(isinstance(t, int) for t in completion.token_ids)


def test_empty_batch_gives_empty_list(backend: Any) -> None:
    assert backend.generate([], SamplingParams(max_new_tokens=4)) == []


def test_max_new_tokens_is_respected(backend: Any) -> None:
    params = SamplingParams(n=2, temperature=0.0, max_new_tokens=4)
    for completion in backend.generate([CHAT, RAW], params)[0]:
        assert completion.num_tokens <= 4
        assert len(completion.token_ids) <= 4
        # A story about a dragon does not end in four tokens.
        assert completion.finish_reason == "length"


def test_greedy_decoding_repeats(backend: Any) -> None:
    params = SamplingParams(temperature=0.0, max_new_tokens=8)
    assert _texts(backend.generate([CHAT], params)) == _texts(backend.generate([CHAT], params))


def test_stop_string_cuts_the_text(backend: Any) -> None:
    free = backend.generate([RAW], SamplingParams(temperature=0.0, max_new_tokens=16))[0][0]
    words = free.text.split()
    assert len(words) >= 3, f"too short to pick a stop string from: {free.text!r}"
    stop = words[2]
    expected = free.text[: free.text.index(stop)]
    params = SamplingParams(temperature=0.0, max_new_tokens=16, stop=(stop, "never-seen-stop"))
    stopped = backend.generate([RAW], params)[0][0]
    assert stopped.text == expected
    assert stop not in stopped.text
    assert stopped.finish_reason == "stop"


def test_same_seed_repeats_other_seed_differs(backend: Any) -> None:
    if not backend.supports_seed:
        pytest.skip(f"{type(backend).__name__} does not support seeds")
    params = SamplingParams(temperature=1.0, max_new_tokens=8, seed=11)
    # One warm-up call: a llama.cpp server reuses the KV cache of the previous request, and
    # the first request after a different prompt is evaluated in other batches (other
    # rounding), so seeds repeat from the second call on.
    backend.generate([CHAT], params)
    first = _texts(backend.generate([CHAT], params))
    again = _texts(backend.generate([CHAT], params))
    other = _texts(backend.generate([CHAT], params.replace(seed=12)))
    assert first == again
    assert first != other


def test_n_samples_differ_when_sampling(backend: Any) -> None:
    params = SamplingParams(n=4, temperature=1.0, max_new_tokens=8, seed=3)
    texts = _texts(backend.generate([CHAT], params))[0]
    assert len(set(texts)) >= 2, texts


def test_logprobs_where_supported(backend: Any) -> None:
    params = SamplingParams(temperature=1.0, max_new_tokens=6, seed=5)
    for per_prompt in backend.generate([CHAT, RAW], params):
        for completion in per_prompt:
            if not backend.supports_logprobs:
                assert completion.logprobs is None
                continue
            assert completion.logprobs is not None
            assert 1 <= len(completion.logprobs) <= 6
            if completion.token_ids:
                assert len(completion.logprobs) == len(completion.token_ids)
            assert all(math.isfinite(v) and v <= 1e-4 for v in completion.logprobs)


def test_greedy_tokens_are_likely(backend: Any) -> None:
    if not backend.supports_logprobs:
        pytest.skip("no log-probabilities")
    completion = backend.generate([RAW], SamplingParams(temperature=0.0, max_new_tokens=6))[0][0]
    assert completion.logprobs
    # A greedy token is the mode, so its probability is at least 1/vocab; the first tokens
    # after a plain story opening are far likelier than that.
    assert max(completion.logprobs) > math.log(0.05)
