"""Fixtures of the agent tests: the tiny tokenizer and the letter tasks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")


@pytest.fixture(scope="session")
def tiny_tokenizer() -> Any:
    from spice_agents.tiny import build_tiny_tokenizer

    return build_tiny_tokenizer(512)


@pytest.fixture(scope="session")
def letter_tasks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from agent_helpers import write_letter_tasks

    return write_letter_tasks(tmp_path_factory.mktemp("tasks") / "letters.jsonl")


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Any:
    # Tiny matmuls are fastest on one thread, and the test machine's cores are shared.
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
