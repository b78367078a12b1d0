"""Fixtures for the policy tests: the real SmolLM2 model (the server is in tests/conftest.py)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import _skip_without_smollm2


@pytest.fixture(scope="session")
def smollm2() -> tuple[Any, Any]:
    """``(model, tokenizer)`` of the embedded SmolLM2-135M-Instruct (converted once, cached)."""
    _skip_without_smollm2()
    pytest.importorskip("torch", reason="needs torch: pip install 'spice-env[train]'")
    pytest.importorskip("transformers", reason="needs transformers: pip install 'spice-env[train]'")
    from spice_env.policies.smollm2 import load_smollm2

    return load_smollm2()


@pytest.fixture(scope="session")
def hf_backend(smollm2: tuple[Any, Any]) -> Any:
    """An :class:`HFBackend` over the session's SmolLM2 (CPU, float32)."""
    from spice_env.policies.hf import HFBackend

    model, tokenizer = smollm2
    return HFBackend(model, tokenizer, batch_size=8)


@pytest.fixture(scope="session")
def openai_backend(llama_server: str) -> Any:
    """An :class:`OpenAIBackend` talking to the session's llama.cpp server."""
    from spice_env.policies.openai_http import OpenAIBackend

    # llama.cpp samples with top-k 40, min-p 0.05 and a repeat penalty unless told otherwise;
    # switch them off so temperature and top-p mean what they mean on the other backends.
    return OpenAIBackend(
        llama_server,
        concurrency=2,
        timeout=120.0,
        max_retries=1,
        extra_body={"top_k": 0, "min_p": 0.0, "repeat_penalty": 1.0},
    )
