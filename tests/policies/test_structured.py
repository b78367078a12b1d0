"""Structured output across backends: how each spells a JSON Schema, what its log-probs mean,
and how ``LLMPolicy`` passes the env's ``info["response_format"]`` on.

The HTTP spellings are checked against in-process handlers (``httpx.MockTransport``), then for
real against the llama.cpp server the tests start; the vLLM spelling against the installed
vLLM where there is one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import pytest

import spice_env  # noqa: F401
from spice_env.policies import LLMPolicy, ScriptedLM
from spice_env.policies.sampling import Completion, Prompt, SamplingParams
from spice_env.rollout import play_episode
from spice_env.tasks import (
    InvalidReason,
    challenger_response_format,
    challenger_schema,
    parse_task,
    parse_type_selection,
    response_format,
)

httpx = pytest.importorskip("httpx", reason="needs httpx: pip install 'spice-env[openai]'")
jsonschema = pytest.importorskip(
    "jsonschema", reason="needs jsonschema: pip install 'spice-env[dev]'"
)

from spice_env.policies.openai_http import OpenAIBackend  # noqa: E402

CHAT = [{"role": "user", "content": "Is the sky blue? Reply in JSON."}]
SELECTION = challenger_schema("type_selection", max_tokens=160)
SELECTION_TEXT = (
    '{"suitable_for_mcq":true,"suitable_for_free_form":false,"best_answer_type":null,"reason":"r"}'
)


def _server(owned_by: str, seen: list[dict[str, Any]]) -> Any:
    def handler(request: Any) -> Any:
        if request.url.path.endswith("/models"):
            return httpx.Response(200, json={"data": [{"id": "m", "owned_by": owned_by}]})
        seen.append(json.loads(request.content))
        choice: dict[str, Any] = {"finish_reason": "stop"}
        if request.url.path.endswith("/chat/completions"):
            choice["message"] = {"content": SELECTION_TEXT}
            choice["logprobs"] = {"content": [{"token": "x", "logprob": -0.25}]}
        else:
            choice["text"] = SELECTION_TEXT
            choice["logprobs"] = {"token_logprobs": [-0.25]}
        return httpx.Response(200, json={"choices": [choice]})

    return httpx.MockTransport(handler)


@pytest.mark.parametrize(
    ("owned_by", "style", "masked"),
    [("vllm", "vllm", True), ("me", "llama.cpp", False), ("llamacpp", "llama.cpp", False)],
)
def test_auto_reads_the_server_kind_and_spells_the_schema_its_way(
    owned_by: str, style: str, masked: bool
) -> None:
    seen: list[dict[str, Any]] = []
    backend = OpenAIBackend("http://server.test/v1", transport=_server(owned_by, seen), backoff=0.0)
    params = SamplingParams(max_new_tokens=160, json_schema=SELECTION, seed=0)
    completion = backend.generate([CHAT], params)[0][0]
    assert backend.structured_output_style == style
    assert completion.json_schema == SELECTION and completion.logprobs_masked is masked
    if style == "vllm":
        assert seen[0]["response_format"] == {
            "type": "json_schema",
            "json_schema": {"name": "challenger_output", "schema": SELECTION, "strict": True},
        }
    else:
        assert seen[0]["response_format"] == {"type": "json_object", "schema": SELECTION}
    assert "grammar" not in seen[0]


def test_unknown_servers_get_the_openai_spelling_and_raw_logprobs() -> None:
    seen: list[dict[str, Any]] = []
    backend = OpenAIBackend("http://server.test/v1", transport=_server("openai", seen))
    completion = backend.generate([CHAT, "raw"], SamplingParams(json_schema=SELECTION))
    assert backend.structured_output_style == "openai"
    assert all(p["response_format"]["type"] == "json_schema" for p in seen)
    assert not completion[0][0].logprobs_masked and not completion[1][0].logprobs_masked


def test_no_schema_no_structured_fields_and_no_detection() -> None:
    seen: list[dict[str, Any]] = []
    backend = OpenAIBackend("http://server.test/v1", "m", transport=_server("vllm", seen))
    completion = backend.generate([CHAT], SamplingParams())[0][0]
    assert "response_format" not in seen[0] and "grammar" not in seen[0]
    assert backend.structured_output_style is None
    assert completion.json_schema is None and not completion.logprobs_masked


def test_llama_cpp_raw_prompts_get_a_gbnf_grammar() -> None:
    pytest.importorskip("llama_cpp", reason="the GBNF conversion uses llama-cpp-python")
    seen: list[dict[str, Any]] = []
    backend = OpenAIBackend(
        "http://server.test/v1", "m", structured_output="llama.cpp", transport=_server("x", seen)
    )
    backend.generate(["Reply in JSON:"], SamplingParams(json_schema=SELECTION))
    grammar = seen[0]["grammar"]
    assert "root ::=" in grammar and "suitable_for_mcq" in grammar
    assert "response_format" not in seen[0]


def test_structured_output_setting_is_checked() -> None:
    with pytest.raises(ValueError, match=r"llama\.cpp"):
        OpenAIBackend("http://server.test/v1", structured_output="sglang")


# -- the real llama.cpp server ------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.server
def test_llama_cpp_server_follows_the_schema_on_both_endpoints(llama_server: str) -> None:
    # Log-probs slow llama-cpp-python several times over; a shared CI machine needs the room.
    backend = OpenAIBackend(
        llama_server,
        concurrency=2,
        timeout=600.0,
        max_retries=0,
        extra_body={"top_k": 0, "min_p": 0.0, "repeat_penalty": 1.0},
    )
    # A schema for 160 tokens at 2 characters each, in a 256-token budget: room for any
    # tokenization of an ASCII reply, so every reply must finish.
    schema = challenger_schema("type_selection", max_tokens=160)
    params = SamplingParams(n=2, temperature=1.0, max_new_tokens=256, seed=1, json_schema=schema)
    prompts: list[Prompt] = [
        CHAT,
        "Decide whether a passage about tides supports a quiz. Answer in JSON:\n",
    ]
    results = backend.generate(prompts, params)
    assert backend.structured_output_style == "llama.cpp"  # read from GET /models
    for completion in results[0] + results[1]:
        assert completion.finish_reason == "stop", completion.text
        value = json.loads(completion.text)
        jsonschema.validate(value, schema)
        assert not isinstance(parse_type_selection(completion.text), InvalidReason) or not (
            value["suitable_for_mcq"] or value["suitable_for_free_form"]
        )
        # llama.cpp reports the raw model log-probs, not those of the masked distribution.
        assert completion.json_schema == schema and completion.logprobs_masked is False
        assert completion.logprobs is not None
    # Free text from the same server, for contrast: no JSON object at all.
    free = backend.generate([CHAT], SamplingParams(temperature=0.0, max_new_tokens=24))[0][0]
    assert free.json_schema is None


@pytest.mark.slow
@pytest.mark.server
def test_llama_cpp_challenger_tasks_parse(llama_server: str) -> None:
    backend = OpenAIBackend(
        llama_server, concurrency=2, timeout=600.0, max_retries=0, logprobs=False
    )
    env = gym.make("SpiceCorpus-v0", task_types=("mcq",), type_selection=False)
    _, info = env.reset(seed=2)
    policy = LLMPolicy(backend, SamplingParams(temperature=0.7, max_new_tokens=384), seed=0)
    texts = policy.act_batch([{}, {}], [info, info])
    finished = 0
    for text, completion in zip(texts, policy.last_completions):
        assert completion.json_schema is not None
        if completion.finish_reason != "stop":
            continue  # a run of one-character tokens can outgrow the 2-characters-per-token bound
        finished += 1
        jsonschema.validate(json.loads(text), completion.json_schema)
        check = parse_task(text, "mcq")
        # What no schema forbids: blank text and equal options.
        assert check.task is not None
        assert check.reason in (None, InvalidReason.MCQ_BAD_OPTIONS, InvalidReason.EMPTY_FIELDS)
    assert finished >= 1


# -- LLMPolicy: the switch, the refit and one call per schema -----------------------------------
class SchemaRecorder:
    """A backend that follows nothing but records what it was asked (for LLMPolicy's logic)."""

    supports_logprobs = True
    supports_seed = True
    supports_json_schema = True

    def __init__(self) -> None:
        self.calls: list[tuple[list[Prompt], SamplingParams]] = []
        self.inner = ScriptedLM()

    def generate(self, prompts: Sequence[Prompt], params: SamplingParams) -> list[list[Completion]]:
        self.calls.append((list(prompts), params))
        return self.inner.generate(prompts, params)


def _infos() -> list[dict[str, Any]]:
    mcq = challenger_response_format("generation", "mcq")
    string = challenger_response_format("generation", "free_form", "String")
    return [
        {"messages": [{"role": "user", "content": "one"}], "response_format": mcq},
        {"messages": [{"role": "user", "content": "two"}], "response_format": string},
        {"messages": [{"role": "user", "content": "three"}], "response_format": mcq},
        {"messages": [{"role": "user", "content": "four"}]},
    ]


def test_one_backend_call_per_schema_with_the_schema_refit_to_the_budget() -> None:
    backend = SchemaRecorder()
    policy = LLMPolicy(backend, SamplingParams(max_new_tokens=384), seed=0)
    actions = policy.act_batch([{}] * 4, _infos())
    assert len(actions) == 4 and len(backend.calls) == 3
    by_schema = {json.dumps(p.json_schema, sort_keys=True): prompts for prompts, p in backend.calls}
    mcq = challenger_schema("generation", "mcq", max_tokens=384)  # refit from the env's 1024
    assert by_schema[json.dumps(mcq, sort_keys=True)] == [
        _infos()[0]["messages"],
        _infos()[2]["messages"],
    ]
    assert by_schema["null"] == [_infos()[3]["messages"]]
    assert policy.stats["calls"] == 1 and policy.stats["completions"] == 4
    assert len({p.seed for _, p in backend.calls}) == 3  # each group its own stream


def test_constrain_off_sends_no_schema_and_user_schemas_pass_unchanged() -> None:
    backend = SchemaRecorder()
    LLMPolicy(backend, constrain=False).act_batch([{}] * 4, _infos())
    assert [p.json_schema for _, p in backend.calls] == [None]
    mine = {"type": "object", "properties": {"x": {"type": "string", "maxLength": 3}}}
    info = {"messages": CHAT, "response_format": response_format(mine, "mine")}
    LLMPolicy(backend, SamplingParams(max_new_tokens=16)).act({}, info)
    assert backend.calls[-1][1].json_schema == mine


def test_a_backend_without_schemas_writes_free_text_and_says_so_once() -> None:
    policy = LLMPolicy(ScriptedLM(), SamplingParams(max_new_tokens=4))
    with pytest.warns(UserWarning, match="cannot follow a JSON Schema"):
        policy.act_batch([{}] * 4, _infos())
    assert all(c.json_schema is None for c in policy.last_completions)


def test_a_budget_too_small_keeps_the_env_schema_with_a_warning() -> None:
    backend = SchemaRecorder()
    policy = LLMPolicy(backend, SamplingParams(max_new_tokens=8))
    with pytest.warns(UserWarning, match="too small"):
        policy.act({}, _infos()[0])
    assert backend.calls[0][1].json_schema == challenger_schema("generation", "mcq")


@pytest.mark.slow
def test_smollm2_challenger_episode_under_the_schemas(hf_backend: Any) -> None:
    env = gym.make("SpiceCorpus-v0", num_reasoner_attempts=2)
    challenger = LLMPolicy(hf_backend, SamplingParams(temperature=0.7, max_new_tokens=256), seed=4)
    reasoner = LLMPolicy(hf_backend, SamplingParams(max_new_tokens=8), seed=5)
    episode = play_episode(env, challenger, reasoner, seed=11).summary()
    # Every Challenger output is JSON of its stage's schema: never unparsable.
    assert episode.get("invalid_reason") != "unparsable"
    for text in episode["challenger_outputs"]:
        json.loads(text)
    assert challenger.stats["constrained_completions"] == len(episode["challenger_outputs"])
    assert 0 < challenger.stats["grammar_seconds"] < challenger.stats["seconds"]
    assert reasoner.stats["constrained_completions"] == 0
