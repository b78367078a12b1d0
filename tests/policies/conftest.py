"""Fixtures for the policy tests: the real SmolLM2 model (the server is in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import _have, _skip_without_smollm2


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


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread() -> Iterator[None]:
    """Run torch on one thread in these tests, then restore the setting.

    SmolLM2's matrices are small, so a second thread gains little, and on a shared 2-core
    runner intra-op threads that wait on each other slowed the model tests several times over.
    """
    if not _have("torch"):
        yield
        return
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
