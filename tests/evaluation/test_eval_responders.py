"""Answerers: env policies and LLM backends see what the env's Reasoner turn shows them."""

from __future__ import annotations

import gymnasium as gym
import pytest

import spice_env  # noqa: F401  (registers the env)
from spice_env.evaluation import (
    BackendResponder,
    DecodingSettings,
    EvalConfig,
    EvalItem,
    PolicyResponder,
    as_responder,
    decoding_for,
    get_benchmark,
)
from spice_env.evaluation.responders import reasoner_turn
from spice_env.policies import OracleReasoner
from spice_env.policies.llm import LLMPolicy
from spice_env.policies.scripted_lm import ScriptedLM
from spice_env.tasks import Task, TaskType

MCQ = EvalItem("mmlu_stem", "0", "Which colour?", "B", "MCQ", ("red", "green", "blue", "black"))
FREE = EvalItem("gsm8k", "1", "What is 2 + 3?", "5", None)


class RecordingBackend(ScriptedLM):
    """ScriptedLM that keeps the prompts and sampling settings it was called with."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = []

    def generate(self, prompts, params):
        self.calls.append((list(prompts), params))
        return super().generate(prompts, params)


@pytest.mark.parametrize("item", [MCQ, FREE])
def test_the_turn_matches_the_envs_reasoner_turn(item):
    # Benchmarks keep their published option order: the env without its per-attempt shuffle.
    env = gym.make("SpiceCorpus-v0", shuffle_options=False, privileged_info=True).unwrapped
    task = Task(
        item.question,
        item.gold,
        item.answer_type or "Integer",
        TaskType.MCQ if item.is_mcq else TaskType.FREE_FORM,
        item.options,
    )
    env_observation, env_info = env.reset(options={"task": task})
    observation, info = reasoner_turn(item, privileged=True)
    assert observation == env_observation
    assert info["messages"] == env_info["messages"]
    for key in ("question", "options", "task_type"):
        assert info["task"][key] == env_info["task"][key]
    assert set(info["task"]) == set(env_info["task"])  # the public task: no gold in either
    assert "answer" not in info["task"]
    assert info["privileged"]["answer"] == env_info["privileged"]["answer"]
    assert {"role", "stage", "attempt", "task"} <= set(info) & set(env_info)
    assert "privileged" not in reasoner_turn(item)[1]


def test_as_responder_dispatch():
    backend = ScriptedLM()
    assert isinstance(as_responder(OracleReasoner()), PolicyResponder)
    assert isinstance(as_responder(backend), BackendResponder)
    wrapped = as_responder(LLMPolicy(backend))
    # An LLM policy is evaluated through its backend, so the harness sets the decoding.
    assert isinstance(wrapped, BackendResponder) and wrapped.backend is backend
    responder = PolicyResponder(OracleReasoner())
    assert as_responder(responder) is responder
    with pytest.raises(TypeError, match="cannot evaluate"):
        as_responder(object())


def test_backend_gets_greedy_or_sampled_params_and_chat_or_base_prompts():
    backend = RecordingBackend()
    responder = BackendResponder(backend)
    out = responder.respond([FREE, MCQ], DecodingSettings(1, 0.0, 1.0, 16, 0), seed=7)
    prompts, params = backend.calls[-1]
    assert len(out) == 2 and all(len(r) == 1 for r in out)
    assert params.greedy and params.n == 1 and params.max_new_tokens == 16 and params.seed == 7
    assert prompts[0][-1]["content"].startswith("What is 2 + 3?")
    assert "A. red" in prompts[1][-1]["content"]
    out = responder.respond([FREE], DecodingSettings(4, 0.6, 0.95, 8, 0), seed=3)
    _, params = backend.calls[-1]
    assert len(out[0]) == 4
    assert (params.n, params.temperature, params.top_p) == (4, 0.6, 0.95)
    assert out[0][0].finish_reason in ("stop", "length") and out[0][0].num_tokens is not None

    base = BackendResponder(backend, style="base")
    base.respond([FREE], DecodingSettings(), seed=0)
    prompts, _ = backend.calls[-1]
    assert isinstance(prompts[0], str) and "conversation between User and Assistant" in prompts[0]


def test_policy_responder_asks_k_samples_in_one_batch():
    class Counting(OracleReasoner):
        batches = []

        def act_batch(self, observations, infos):
            self.batches.append([info["attempt"] for info in infos])
            return super().act_batch(observations, infos)

    policy = Counting()
    out = PolicyResponder(policy).respond([FREE, MCQ], DecodingSettings(3, 0.6), seed=0)
    assert policy.batches == [[0, 1, 2, 0, 1, 2]]
    assert [r.text for r in out[1]] == [out[1][0].text] * 3 and "\\boxed{B}" in out[1][0].text


def test_more_than_four_options_are_refused():
    item = EvalItem("x", "0", "Q", "E", "MCQ", tuple("abcde"))
    with pytest.raises(ValueError, match="renders four"):
        PolicyResponder(OracleReasoner()).respond([item], DecodingSettings(), seed=0)


def test_decoding_follows_the_paper_unless_overridden():
    aime, gsm8k = get_benchmark("aime24"), get_benchmark("gsm8k")
    assert decoding_for(aime, EvalConfig()) == DecodingSettings(32, 0.6, 1.0, 1024, 0)
    assert decoding_for(gsm8k, EvalConfig()).temperature == 0.0
    assert decoding_for(aime, EvalConfig(samples=1)).samples == 1
    config = EvalConfig(samples=1, samples_by_benchmark={"aime24": 4}, temperature=0.8)
    assert decoding_for(aime, config) == DecodingSettings(4, 0.8, 1.0, 1024, 0)
    assert decoding_for(gsm8k, EvalConfig(samples=2)).temperature == 0.6
    with pytest.raises(ValueError, match="greedy decoding is what samples=1 means"):
        EvalConfig(temperature=0.0)
    with pytest.raises(ValueError):
        EvalConfig(batch_size=0)
