"""Fixtures for the example smoke tests: a stub OpenAI-compatible server."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class _StubHandler(BaseHTTPRequestHandler):
    """Answers chat completions like a tiny model that always picks the first option.

    Multiple-choice prompts get ``\\boxed{A}``, others the first number in the prompt, so the
    verifier sees a mix of right and wrong answers.
    """

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/models"):
            self._send({"object": "list", "data": [{"id": "stub-model", "object": "model"}]})
        else:
            self._send({"error": {"message": "not found"}}, status=404)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        body = json.loads(self.rfile.read(length) or b"{}")
        self.server.requests.append(body)  # type: ignore[attr-defined]
        prompt = " ".join(m.get("content", "") for m in body.get("messages", []))
        if "\nA. " in prompt or "A) " in prompt:
            content = "Let me think. The answer is \\boxed{A}."
        else:
            numbers = re.findall(r"\d+", prompt)
            content = f"So the answer is \\boxed{{{numbers[0] if numbers else 0}}}."
        self._send(
            {
                "id": "stub",
                "object": "chat.completion",
                "model": body.get("model", "stub-model"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 10, "completion_tokens": 8, "total_tokens": 18},
            }
        )

    def _send(self, payload: dict, status: int = 200) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:  # keep pytest output clean
        pass


@pytest.fixture()
def stub_openai_server() -> Iterator[ThreadingHTTPServer]:
    """A local OpenAI-compatible server on a free port; ``server.url`` is its ``/v1`` root."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StubHandler)
    server.requests = []  # type: ignore[attr-defined]
    server.url = f"http://127.0.0.1:{server.server_address[1]}/v1"  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
