"""OpenAI-compatible HTTP backend: vLLM, SGLang, llama.cpp servers and hosted APIs.

Chat prompts go to ``POST {base_url}/chat/completions``, raw prompts to
``POST {base_url}/completions``. Each sample is its own request (``n=1``) with its own seed
derived from ``params.seed``, because many servers ignore ``n`` or ``seed`` with ``n > 1``; the
requests run concurrently up to ``concurrency``. Failures that may pass (429, 5xx, timeouts,
dropped connections) are retried with exponential backoff and jitter, honoring
``Retry-After``; other errors raise :class:`OpenAIHTTPError` with the server's message.

The core is async (:meth:`OpenAIBackend.agenerate`); :meth:`OpenAIBackend.generate` runs it
to completion, in a worker thread when called from inside a running event loop.

A JSON Schema (``SamplingParams.json_schema``) is sent the way the server understands it
(``structured_output``):

| style | servers | chat endpoint | completions endpoint | log-probs reported |
| --- | --- | --- | --- | --- |
| ``"vllm"`` | vLLM | ``response_format`` ``json_schema`` | the same | masked |
| ``"openai"`` | OpenAI, SGLang, others | ``response_format`` ``json_schema`` | the same | raw (unknown) |
| ``"llama.cpp"`` | llama-cpp-python, llama-server | ``response_format`` ``json_object`` + ``schema`` | ``grammar`` (GBNF) | raw |

``"auto"`` (the default) asks ``GET /models`` once: ``owned_by`` ``"vllm"`` means vLLM,
``"me"`` (llama-cpp-python) or ``"llamacpp"`` (llama-server) mean llama.cpp, anything else
the OpenAI spelling. vLLM's V1 engine applies the grammar's bitmask to the logits before it
computes the log-probs it returns (its default ``logprobs_mode``, ``raw_logprobs``), so they
are those of the masked distribution at temperature 1; llama.cpp reports the model's raw
log-probs. ``Completion.logprobs_masked`` says which a trainer got.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import secrets
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from spice_env.policies.sampling import (
    BackendError,
    Completion,
    Prompt,
    SamplingParams,
    derive_seed,
    find_stop,
    is_chat,
)

__all__ = ["RETRY_STATUSES", "STRUCTURED_OUTPUT_STYLES", "OpenAIBackend", "OpenAIHTTPError"]

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
"""HTTP statuses worth retrying: timeouts, rate limits and server-side failures."""

STRUCTURED_OUTPUT_STYLES = ("auto", "vllm", "openai", "llama.cpp")
"""How a JSON Schema is spelled in the request (see the module doc)."""

_OWNED_BY_STYLE = {"vllm": "vllm", "me": "llama.cpp", "llamacpp": "llama.cpp"}
_SCHEMA_NAME = "challenger_output"


class OpenAIHTTPError(BackendError):
    """The server answered with an error status (after retries, for retryable ones).

    Attributes:
        status: The HTTP status code.
        body: The start of the response body.
    """

    def __init__(self, message: str, status: int, body: str) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


def _import_httpx() -> Any:
    try:
        import httpx
    except ImportError as error:  # pragma: no cover - depends on the install
        raise ImportError(
            "The OpenAI-compatible backend needs httpx: pip install 'spice-env[openai]' "
            "(or pip install httpx)"
        ) from error
    return httpx


def _error_message(body: Any) -> str:
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            return str(error.get("message") or error)
        return str(error)
    return str(body)


class OpenAIBackend:
    """Samples completions from an OpenAI-compatible server.

    Args:
        base_url: API root including the version, e.g. ``http://127.0.0.1:8000/v1``.
        model: Model name sent with each request; ``None`` asks the server (``GET /models``)
            and uses the first model it lists.
        api_key: API key; default: the ``api_key_env`` environment variable, if set.
        api_key_env: Environment variable holding the key (``OPENAI_API_KEY``). When a name
            other than the default is given, it must be set.
        concurrency: Most requests in flight at once.
        timeout: Seconds allowed per request (connect, read, write).
        max_retries: Retries per request after the first attempt, for retryable failures.
        backoff: First retry delay in seconds; doubles at each retry (with jitter).
        max_backoff: Longest delay between retries, ``Retry-After`` included.
        logprobs: Ask the server for the sampled tokens' log-probabilities.
        extra_body: More fields merged into every request (e.g. ``{"top_k": 20}`` for vLLM).
        structured_output: How to send ``SamplingParams.json_schema``: ``"auto"`` (detect
            from ``GET /models``), ``"vllm"``, ``"openai"`` or ``"llama.cpp"`` (see the
            module doc).
        transport: An ``httpx.AsyncBaseTransport`` to use instead of the network (tests).

    Attributes:
        supports_logprobs: ``True`` (if the server reports them).
        supports_seed: ``True`` (vLLM, SGLang and llama.cpp honor per-request seeds; hosted
            APIs may only try).
        supports_json_schema: ``True``: the schema is sent in the server's spelling. A server
            may still ignore it, so the output must be validated.
        structured_output_style: The resolved style (``None`` until ``"auto"`` has asked).
    """

    supports_logprobs = True
    supports_seed = True
    supports_json_schema = True

    def __init__(
        self,
        base_url: str,
        model: str | None = None,
        api_key: str | None = None,
        *,
        api_key_env: str = "OPENAI_API_KEY",
        concurrency: int = 8,
        timeout: float = 120.0,
        max_retries: int = 4,
        backoff: float = 0.5,
        max_backoff: float = 16.0,
        logprobs: bool = True,
        extra_body: dict[str, Any] | None = None,
        structured_output: str = "auto",
        transport: Any = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url={base_url!r} must start with http:// or https://")
        if concurrency < 1:
            raise ValueError(f"concurrency={concurrency} must be at least 1")
        if max_retries < 0 or backoff < 0 or timeout <= 0:
            raise ValueError("max_retries and backoff must be >= 0 and timeout > 0")
        if structured_output not in STRUCTURED_OUTPUT_STYLES:
            raise ValueError(
                f"structured_output={structured_output!r}; use one of "
                f"{', '.join(STRUCTURED_OUTPUT_STYLES)}"
            )
        if api_key is None:
            api_key = os.environ.get(api_key_env) or None
            if api_key is None and api_key_env != "OPENAI_API_KEY":
                raise ValueError(
                    f"environment variable {api_key_env} is not set: export it with the API key "
                    "or pass api_key=... (servers without keys need neither)"
                )
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.concurrency = concurrency
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.logprobs = logprobs
        self.extra_body = dict(extra_body or {})
        self.structured_output = structured_output
        self.structured_output_style: str | None = (
            None if structured_output == "auto" else structured_output
        )
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._transport = transport

    def __repr__(self) -> str:
        return f"OpenAIBackend({self.base_url!r}, model={self.model!r})"

    # -- public API -----------------------------------------------------------------------------
    def generate(self, prompts: Sequence[Prompt], params: SamplingParams) -> list[list[Completion]]:
        """Sample ``params.n`` completions per prompt (blocking).

        Args:
            prompts: Chat messages (chat endpoint) or raw strings (completions endpoint).
            params: Sampling settings.

        Returns:
            One list of ``params.n`` completions per prompt, in order.
        """
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.agenerate(prompts, params))
        # Called from async code (a notebook, an async trainer): asyncio.run cannot nest, so
        # run the requests on a private loop in a worker thread.
        with ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(asyncio.run, self.agenerate(prompts, params)).result()

    async def agenerate(
        self, prompts: Sequence[Prompt], params: SamplingParams
    ) -> list[list[Completion]]:
        """Async :meth:`generate`: all requests run concurrently, up to ``concurrency``."""
        httpx = _import_httpx()
        base_seed = params.seed if params.seed is not None else secrets.randbits(63)
        limits = httpx.Limits(
            max_connections=self.concurrency, max_keepalive_connections=self.concurrency
        )
        async with httpx.AsyncClient(
            timeout=self.timeout, limits=limits, headers=self._headers, transport=self._transport
        ) as client:
            if self.model is None:
                self.model = await self._first_model(client)
            if params.json_schema is not None and self.structured_output_style is None:
                self.structured_output_style = await self._detect_style(client)
            gate = asyncio.Semaphore(self.concurrency)

            async def one(index: int, sample: int) -> Completion:
                async with gate:
                    # Seeds stay below 2**31: llama.cpp and others store them as 32-bit ints.
                    seed = derive_seed(base_seed, index, sample) % (2**31)
                    return await self._complete(client, prompts[index], params, seed)

            tasks = [
                asyncio.ensure_future(one(i, j))
                for i in range(len(prompts))
                for j in range(params.n)
            ]
            try:
                done = await asyncio.gather(*tasks)
            except BaseException:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                raise
        return [list(done[i * params.n : (i + 1) * params.n]) for i in range(len(prompts))]

    # -- requests -------------------------------------------------------------------------------
    async def _first_model(self, client: Any) -> str:
        body = await self._request(client, "GET", "/models", None)
        try:
            return str(body["data"][0]["id"])
        except (KeyError, IndexError, TypeError) as error:
            raise BackendError(
                f"{self.base_url}/models listed no model ({str(body)[:200]}); pass model=..."
            ) from error

    async def _detect_style(self, client: Any) -> str:
        """The structured-output spelling of this server, from ``owned_by`` in ``/models``."""
        try:
            body = await self._request(client, "GET", "/models", None)
            owned_by = str(body["data"][0].get("owned_by", "")).lower()
        except (BackendError, KeyError, IndexError, TypeError, AttributeError):
            return "openai"
        return _OWNED_BY_STYLE.get(owned_by, "openai")

    def _schema_fields(self, schema: dict[str, Any], chat: bool) -> dict[str, Any]:
        """Request fields that constrain the output to ``schema``, in the server's spelling."""
        style = self.structured_output_style or "openai"
        if style != "llama.cpp":
            return {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": _SCHEMA_NAME, "schema": schema, "strict": True},
                }
            }
        if chat:
            return {"response_format": {"type": "json_object", "schema": schema}}
        return {"grammar": _gbnf(schema)}

    async def _complete(
        self, client: Any, prompt: Prompt, params: SamplingParams, seed: int
    ) -> Completion:
        chat = is_chat(prompt)
        payload: dict[str, Any] = {
            "model": self.model,
            "max_tokens": params.max_new_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "n": 1,
        }
        if params.stop:
            payload["stop"] = list(params.stop)
        if params.seed is not None:
            payload["seed"] = seed
        if chat:
            payload["messages"] = [dict(m) for m in prompt]
            if self.logprobs:
                # llama.cpp only reports chat log-probs when asked for at least one alternative.
                payload["logprobs"] = True
                payload["top_logprobs"] = 1
        else:
            payload["prompt"] = prompt
            if self.logprobs:
                # The legacy endpoint takes how many alternatives to list; 1 is the smallest
                # value every server accepts, and the sampled token's log-prob comes with it.
                payload["logprobs"] = 1
        if params.json_schema is not None:
            payload.update(self._schema_fields(dict(params.json_schema), chat))
        payload.update(self.extra_body)
        body = await self._request(
            client, "POST", "/chat/completions" if chat else "/completions", payload
        )
        return self._parse(body, chat, params)

    def _parse(self, body: Any, chat: bool, params: SamplingParams) -> Completion:
        try:
            choice = body["choices"][0]
            if chat:
                text = choice["message"].get("content") or ""
                logprobs_block = (choice.get("logprobs") or {}).get("content")
                logprobs = [float(t["logprob"]) for t in logprobs_block] if logprobs_block else None
            else:
                text = choice["text"] or ""
                logprobs_block = (choice.get("logprobs") or {}).get("token_logprobs")
                logprobs = (
                    [float(v) for v in logprobs_block if v is not None] if logprobs_block else None
                )
            reported_finish = choice.get("finish_reason")
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as error:
            raise BackendError(
                f"{self.base_url} returned an unexpected body (no choices[0] "
                f"{'message.content' if chat else 'text'}): {str(body)[:300]}"
            ) from error
        # The spec cuts before a stop string, but not every server does.
        cut = find_stop(text, params.stop)
        finish = "length" if reported_finish == "length" else "stop"
        if cut >= 0:
            text, finish = text[:cut], "stop"
        usage = body.get("usage") or {}
        num_tokens = usage.get("completion_tokens")
        if not isinstance(num_tokens, int):
            num_tokens = len(logprobs) if logprobs is not None else 0
        return Completion(
            text=text,
            token_ids=[],
            logprobs=logprobs,
            prompt_token_ids=None,
            finish_reason=finish,
            num_tokens=num_tokens,
            json_schema=params.json_schema,
            # Only vLLM masks before computing log-probs; llama.cpp (and, as far as is known,
            # other servers) report the raw model log-probs of the sampled tokens.
            logprobs_masked=(
                params.json_schema is not None
                and logprobs is not None
                and self.structured_output_style == "vllm"
            ),
        )

    async def _request(self, client: Any, method: str, path: str, payload: Any) -> Any:
        httpx = _import_httpx()
        url = self.base_url + path
        last_error = "no attempt made"
        for attempt in range(self.max_retries + 1):
            retry_after: float | None = None
            try:
                response = await client.request(method, url, json=payload)
            except (httpx.TimeoutException, httpx.TransportError) as error:
                last_error = f"{type(error).__name__}: {error}"
            else:
                if response.status_code < 400:
                    try:
                        body = response.json()
                    except ValueError as error:
                        raise BackendError(
                            f"{method} {url} returned non-JSON: {response.text[:300]!r}"
                        ) from error
                    if isinstance(body, dict) and body.get("error"):
                        raise OpenAIHTTPError(
                            f"{method} {url}: {_error_message(body)}",
                            response.status_code,
                            response.text[:1000],
                        )
                    return body
                message = self._response_message(response)
                if response.status_code not in RETRY_STATUSES:
                    raise OpenAIHTTPError(
                        f"{method} {url} failed with HTTP {response.status_code}: {message}",
                        response.status_code,
                        response.text[:1000],
                    )
                last_error = f"HTTP {response.status_code}: {message}"
                retry_after = _retry_after(response.headers.get("retry-after"))
                if attempt == self.max_retries:
                    raise OpenAIHTTPError(
                        f"{method} {url} still failing after {self.max_retries} retries: "
                        f"{last_error}",
                        response.status_code,
                        response.text[:1000],
                    )
            if attempt < self.max_retries:
                await asyncio.sleep(self._delay(attempt, retry_after))
        raise BackendError(f"{method} {url} failed after {self.max_retries} retries: {last_error}")

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(self.max_backoff, retry_after)
        # Full jitter keeps many clients that failed together from retrying together.
        return min(self.max_backoff, self.backoff * 2**attempt) * (0.5 + random.random() / 2)

    @staticmethod
    def _response_message(response: Any) -> str:
        try:
            return _error_message(response.json())[:500]
        except ValueError:
            return response.text[:500] or response.reason_phrase


def _gbnf(schema: dict[str, Any]) -> str:
    """A GBNF grammar for ``schema``, for llama.cpp's completions endpoint."""
    try:
        from llama_cpp.llama_grammar import json_schema_to_gbnf
    except ImportError as error:
        raise BackendError(
            "a JSON Schema on llama.cpp's completions endpoint (raw prompts) is sent as a GBNF "
            "grammar, converted here by llama-cpp-python: pip install llama-cpp-python, or use "
            "chat prompts"
        ) from error
    return str(json_schema_to_gbnf(json.dumps(schema)))


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff
