"""The HTTP backend's own logic (retries, errors, keys, concurrency) against in-process
handlers: ``httpx.MockTransport`` answers the requests, so nothing touches the network. The
same backend runs the contract tests against a real llama.cpp server (test_contract.py)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest

from spice_env.policies.sampling import BackendError, SamplingParams

httpx = pytest.importorskip("httpx", reason="needs httpx: pip install 'spice-env[openai]'")

from spice_env.policies.openai_http import OpenAIBackend, OpenAIHTTPError  # noqa: E402

CHAT = [{"role": "user", "content": "hi"}]


def chat_body(text: str = "hello", finish: str = "stop", logprobs: bool = True) -> dict:
    content = [{"token": w, "logprob": -0.5} for w in text.split()] if logprobs else None
    return {
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "logprobs": {"content": content} if content else None,
                "finish_reason": finish,
            }
        ],
        "usage": {"completion_tokens": len(text.split())},
    }


def backend_with(handler: Callable[[Any], Any], **kwargs: Any) -> OpenAIBackend:
    settings = {"model": "m", "backoff": 0.0, "max_retries": 3}
    settings.update(kwargs)
    return OpenAIBackend(
        "http://server.test/v1", transport=httpx.MockTransport(handler), **settings
    )


def test_chat_request_and_parsed_completion() -> None:
    seen: list[dict] = []

    def handler(request: Any) -> Any:
        assert request.url.path == "/v1/chat/completions"
        seen.append(json.loads(request.content))
        return httpx.Response(200, json=chat_body("four five six"))

    params = SamplingParams(n=2, temperature=0.7, top_p=0.9, max_new_tokens=5, stop="\n", seed=1)
    results = backend_with(handler).generate([CHAT], params)
    assert [c.text for c in results[0]] == ["four five six"] * 2
    completion = results[0][0]
    assert completion.logprobs == [-0.5] * 3 and completion.num_tokens == 3
    assert completion.token_ids == [] and completion.finish_reason == "stop"
    payload = seen[0]
    assert payload["messages"] == CHAT and payload["model"] == "m" and payload["n"] == 1
    assert (payload["max_tokens"], payload["temperature"], payload["top_p"]) == (5, 0.7, 0.9)
    assert payload["stop"] == ["\n"] and payload["logprobs"] is True
    # One seed per sample, so the n samples differ yet repeat.
    assert len({p["seed"] for p in seen}) == 2


def test_raw_prompt_uses_the_completions_endpoint() -> None:
    def handler(request: Any) -> Any:
        assert request.url.path == "/v1/completions"
        assert json.loads(request.content)["prompt"] == "Once"
        body = {
            "choices": [
                {
                    "text": " upon a time END more",
                    "logprobs": {"token_logprobs": [-1.0, -2.0, -0.1, -0.2, -0.3]},
                    "finish_reason": "length",
                }
            ]
        }
        return httpx.Response(200, json=body)

    params = SamplingParams(max_new_tokens=5, stop=("END",))
    completion = backend_with(handler).generate(["Once"], params)[0][0]
    # A server that does not cut at the stop string is cut client-side.
    assert completion.text == " upon a time " and completion.finish_reason == "stop"
    assert completion.num_tokens == 5  # no usage block: counted from the log-probs


def test_retries_rate_limits_and_server_errors_then_succeeds() -> None:
    statuses = iter([429, 503, 200])

    def handler(request: Any) -> Any:
        status = next(statuses)
        if status != 200:
            return httpx.Response(status, headers={"Retry-After": "0"}, json={"error": "busy"})
        return httpx.Response(200, json=chat_body())

    assert backend_with(handler).generate([CHAT], SamplingParams())[0][0].text == "hello"


def test_retries_dropped_connections() -> None:
    calls = {"n": 0}

    def handler(request: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(200, json=chat_body())

    assert backend_with(handler).generate([CHAT], SamplingParams())[0][0].text == "hello"
    assert calls["n"] == 2


def test_gives_up_after_max_retries_with_the_last_error() -> None:
    calls = {"n": 0}

    def handler(request: Any) -> Any:
        calls["n"] += 1
        return httpx.Response(500, json={"error": {"message": "model crashed"}})

    with pytest.raises(OpenAIHTTPError, match="model crashed") as raised:
        backend_with(handler, max_retries=2).generate([CHAT], SamplingParams())
    assert raised.value.status == 500 and calls["n"] == 3


def test_client_errors_are_not_retried_and_carry_the_message() -> None:
    calls = {"n": 0}

    def handler(request: Any) -> Any:
        calls["n"] += 1
        return httpx.Response(400, json={"error": {"message": "max_tokens is too large"}})

    with pytest.raises(OpenAIHTTPError, match=r"HTTP 400: max_tokens is too large"):
        backend_with(handler).generate([CHAT], SamplingParams())
    assert calls["n"] == 1


@pytest.mark.parametrize(
    "reply",
    [
        httpx.Response(200, text="<html>proxy error</html>"),
        httpx.Response(200, json={"choices": []}),
        httpx.Response(200, json={"choices": [{"message": None}]}),
        httpx.Response(200, json={"error": {"message": "quota exceeded"}}),
    ],
)
def test_bad_bodies_raise_a_clear_backend_error(reply: Any) -> None:
    with pytest.raises(BackendError, match=r"server\.test"):
        backend_with(lambda request: reply).generate([CHAT], SamplingParams())


def test_api_key_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_PROVIDER_KEY", "sk-test")
    headers: list[str | None] = []

    def handler(request: Any) -> Any:
        headers.append(request.headers.get("authorization"))
        return httpx.Response(200, json=chat_body())

    backend_with(handler, api_key_env="MY_PROVIDER_KEY").generate([CHAT], SamplingParams())
    assert headers == ["Bearer sk-test"]
    monkeypatch.delenv("MY_PROVIDER_KEY")
    with pytest.raises(ValueError, match="MY_PROVIDER_KEY is not set"):
        backend_with(handler, api_key_env="MY_PROVIDER_KEY")


def test_no_key_no_header(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    headers: list[str | None] = []

    def handler(request: Any) -> Any:
        headers.append(request.headers.get("authorization"))
        return httpx.Response(200, json=chat_body())

    backend_with(handler).generate([CHAT], SamplingParams())
    assert headers == [None]


def test_model_defaults_to_the_servers_first() -> None:
    def handler(request: Any) -> Any:
        if request.url.path == "/v1/models":
            return httpx.Response(200, json={"data": [{"id": "served-model"}]})
        assert json.loads(request.content)["model"] == "served-model"
        return httpx.Response(200, json=chat_body())

    backend = backend_with(handler, model=None)
    backend.generate([CHAT], SamplingParams())
    assert backend.model == "served-model"


def test_concurrency_limit_holds() -> None:
    state = {"in_flight": 0, "peak": 0}

    async def handler(request: Any) -> Any:
        state["in_flight"] += 1
        state["peak"] = max(state["peak"], state["in_flight"])
        await asyncio.sleep(0.01)
        state["in_flight"] -= 1
        return httpx.Response(200, json=chat_body())

    results = backend_with(handler, concurrency=3).generate([CHAT] * 4, SamplingParams(n=3))
    assert [len(r) for r in results] == [3, 3, 3, 3]
    assert state["peak"] == 3


def test_generate_works_inside_a_running_event_loop() -> None:
    backend = backend_with(lambda request: httpx.Response(200, json=chat_body()))

    async def caller() -> str:
        sync_result = backend.generate([CHAT], SamplingParams())  # e.g. from a notebook
        async_result = await backend.agenerate([CHAT], SamplingParams())
        return sync_result[0][0].text + async_result[0][0].text

    assert asyncio.run(caller()) == "hellohello"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"base_url": "127.0.0.1:8000"}, "http"),
        ({"concurrency": 0}, "concurrency"),
        ({"timeout": 0}, "timeout"),
    ],
)
def test_bad_settings(kwargs: dict, message: str) -> None:
    settings = {"base_url": "http://127.0.0.1:1/v1", **kwargs}
    with pytest.raises(ValueError, match=message):
        OpenAIBackend(**settings)
