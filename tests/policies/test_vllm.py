"""The vLLM backend, where vLLM and a CUDA GPU are present (skipped elsewhere).

The engine serves the converted SmolLM2 checkpoint from the local cache, so nothing is
downloaded; the same contract as the other backends is checked, plus the weight push and
structured outputs. Only the choice between vLLM's two structured-output APIs runs without
vLLM, on stand-ins of its parameter classes.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pytest

from spice_env.policies.sampling import SamplingParams

CHAT = [{"role": "user", "content": "Write a long story about a dragon who loves numbers."}]
RAW = "Once upon a time, in a small village by the sea,"


@pytest.fixture(scope="module")
def vllm_backend(smollm2: Any) -> Iterator[Any]:
    from spice_env.policies.vllm_backend import VLLMBackend, vllm_available

    if not vllm_available():
        pytest.skip("vLLM is not importable here: pip install 'spice-env[vllm]' on a CUDA machine")
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("vLLM needs a CUDA GPU")
    from spice_env.policies.smollm2 import smollm2_cache_dir

    backend = VLLMBackend(
        str(smollm2_cache_dir()), dtype="float32", gpu_memory_utilization=0.3, max_model_len=2048
    )
    yield backend


@pytest.mark.slow
@pytest.mark.gpu
def test_shapes_n_and_length(vllm_backend: Any) -> None:
    params = SamplingParams(n=3, temperature=1.0, max_new_tokens=6, seed=0)
    results = vllm_backend.generate([CHAT, RAW], params)
    assert [len(r) for r in results] == [3, 3]
    for completion in results[0] + results[1]:
        assert len(completion.token_ids) <= 6 and completion.finish_reason in ("stop", "length")
        assert completion.logprobs is not None
        assert len(completion.logprobs) == len(completion.token_ids)
        assert all(math.isfinite(v) and v <= 1e-4 for v in completion.logprobs)


@pytest.mark.slow
@pytest.mark.gpu
def test_seed_repeats_and_stop_cuts(vllm_backend: Any) -> None:
    params = SamplingParams(n=2, temperature=1.0, max_new_tokens=8, seed=4)
    first = [c.text for c in vllm_backend.generate([CHAT], params)[0]]
    assert first == [c.text for c in vllm_backend.generate([CHAT], params)[0]]
    free = vllm_backend.generate([RAW], SamplingParams(temperature=0.0, max_new_tokens=16))[0][0]
    stop = free.text.split()[2]
    stopped = vllm_backend.generate(
        [RAW], SamplingParams(temperature=0.0, max_new_tokens=16, stop=(stop,))
    )[0][0]
    assert stopped.text == free.text[: free.text.index(stop)]


@pytest.mark.slow
@pytest.mark.gpu
def test_same_prompt_tokens_as_the_transformers_backend(vllm_backend: Any, hf_backend: Any) -> None:
    assert vllm_backend.encode_prompt(CHAT) == hf_backend.encode_prompt(CHAT)


@pytest.mark.slow
@pytest.mark.gpu
def test_load_weights_changes_and_restores_the_outputs(vllm_backend: Any, smollm2: Any) -> None:
    torch = pytest.importorskip("torch")
    model, _ = smollm2
    greedy = SamplingParams(temperature=0.0, max_new_tokens=8)
    before = vllm_backend.generate([RAW], greedy)[0][0].token_ids
    scrambled = {k: v + 0.05 * torch.randn_like(v) for k, v in model.state_dict().items()}
    vllm_backend.load_weights(scrambled)
    assert vllm_backend.generate([RAW], greedy)[0][0].token_ids != before
    vllm_backend.load_weights(model)
    assert vllm_backend.generate([RAW], greedy)[0][0].token_ids == before


@pytest.mark.slow
@pytest.mark.gpu
def test_constrained_completions_follow_the_schema_with_masked_logprobs(vllm_backend: Any) -> None:
    import json

    jsonschema = pytest.importorskip("jsonschema")
    from spice_env.tasks import challenger_schema

    schema = challenger_schema("type_selection", max_tokens=160)
    params = SamplingParams(n=2, temperature=1.0, max_new_tokens=160, seed=0, json_schema=schema)
    for completion in vllm_backend.generate([CHAT], params)[0]:
        assert completion.json_schema == schema and completion.logprobs_masked
        if completion.finish_reason == "stop":
            jsonschema.validate(json.loads(completion.text), schema)


def test_structured_output_arguments_follow_the_installed_api() -> None:
    """The version switch, on stand-ins of the two vLLM parameter classes (no vLLM here)."""
    import dataclasses
    import types

    from spice_env.policies.vllm_backend import structured_output_kwargs

    @dataclasses.dataclass
    class StructuredOutputsParams:
        json: Any = None
        disable_any_whitespace: bool = False

    @dataclasses.dataclass
    class GuidedDecodingParams:
        json: Any = None

    schema = {"type": "object"}
    new = types.SimpleNamespace(StructuredOutputsParams=StructuredOutputsParams)
    kwargs = structured_output_kwargs(new, schema)
    assert kwargs == {"structured_outputs": StructuredOutputsParams(schema, True)}
    old = types.SimpleNamespace(GuidedDecodingParams=GuidedDecodingParams)
    assert structured_output_kwargs(old, schema) == {
        "guided_decoding": GuidedDecodingParams(schema)
    }
    with pytest.raises(RuntimeError, match="constrain off"):
        structured_output_kwargs(types.SimpleNamespace(), schema)
