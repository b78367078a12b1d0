"""HFBackend.load_weights: a generator with its own copy of the weights, refreshed by name."""

from __future__ import annotations

import pytest

from spice_env.policies.sampling import SamplingParams

torch = pytest.importorskip("torch", reason="needs torch: pip install 'spice-env[train]'")
pytest.importorskip("transformers", reason="needs transformers: pip install 'spice-env[train]'")

CHAT = [{"role": "user", "content": "What is 2 + 3?"}]


@pytest.fixture(scope="module")
def tiny():
    from spice_agents.tiny import build_tiny_model, build_tiny_tokenizer

    tokenizer = build_tiny_tokenizer(512)
    return tokenizer, build_tiny_model(tokenizer, seed=1), build_tiny_model(tokenizer, seed=2)


def test_loaded_weights_make_the_copy_sample_like_the_original(tiny):
    import copy

    from spice_env.policies.hf import HFBackend

    tokenizer, trained, stale = tiny
    torch.set_num_threads(1)
    original = HFBackend(trained, tokenizer)
    generator = HFBackend(copy.deepcopy(stale), tokenizer)  # its own copy of other weights
    params = SamplingParams(n=3, temperature=1.0, max_new_tokens=8, seed=7)
    assert generator.generate([CHAT], params) != original.generate([CHAT], params)

    loaded = generator.load_weights(trained.state_dict().items())
    assert loaded == len(trained.state_dict())
    assert generator.model is not trained
    assert generator.generate([CHAT], params) == original.generate([CHAT], params)

    # a generator in another precision gets each tensor cast to its own dtype
    half = HFBackend(copy.deepcopy(stale), tokenizer, dtype=torch.bfloat16)
    half.load_weights(trained.state_dict())
    for name, tensor in trained.state_dict().items():
        held = half.model.state_dict()[name]
        assert held.dtype == torch.bfloat16 and torch.equal(held, tensor.to(torch.bfloat16))


def test_load_weights_rejects_unknown_names_and_shapes(tiny):
    from spice_env.policies.hf import HFBackend

    tokenizer, _, stale = tiny
    backend = HFBackend(stale, tokenizer)
    name, tensor = next(iter(stale.state_dict().items()))
    with pytest.raises(KeyError, match="no weight named"):
        backend.load_weights({"model.not_a_layer.weight": tensor})
    with pytest.raises(ValueError, match="does not match"):
        backend.load_weights([(name, tensor[:1])])
    assert backend.load_weights({}) == 0
