"""``LLMPolicy`` in the environment: one backend call per batch, prompts taken from ``info``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import pytest

import spice_env  # noqa: F401  (registers SpiceCorpus-v0)
from spice_env.policies import LLMPolicy, Policy, SamplingParams, ScriptedLM
from spice_env.policies.sampling import Completion, Prompt
from spice_env.rollout import RolloutDriver, play_episode, policy_act

TASK = {
    "question": "A train travels 60 km in 1.5 hours. What is its average speed in km/h?",
    "answer": "40",
    "answer_type": "Integer",
    "task_type": "free_form",
    "options": None,
    "solution": "60 / 1.5 = 40",
    "document_id": None,
}


class Recording:
    """Wraps a backend and records each call (the prompts and the sampling settings)."""

    supports_logprobs = True
    supports_seed = True

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: list[tuple[list[Prompt], SamplingParams]] = []

    def generate(self, prompts: Sequence[Prompt], params: SamplingParams) -> list[list[Completion]]:
        self.calls.append((list(prompts), params))
        return self.inner.generate(prompts, params)


@pytest.fixture
def env() -> Any:
    environment = gym.make("SpiceCorpus-v0", num_reasoner_attempts=8)
    yield environment
    environment.close()


def test_is_a_policy() -> None:
    assert isinstance(LLMPolicy(ScriptedLM()), Policy)


def test_k_answers_to_one_question_are_one_call_with_n_samples(env: Any) -> None:
    backend = Recording(ScriptedLM())
    reasoner = LLMPolicy(backend, SamplingParams(max_new_tokens=12), seed=0)
    driver = RolloutDriver(envs=[env])
    episode = driver.answer_tasks([TASK], policy_act(reasoner), seeds=[0])[0].summary()
    assert len(backend.calls) == 1
    prompts, params = backend.calls[0]
    assert len(prompts) == 1 and params.n == 8
    assert prompts[0][-1]["role"] == "user" and TASK["question"] in prompts[0][-1]["content"]
    assert len(episode["answers"]) == 8
    assert len(reasoner.last_completions) == 8
    assert reasoner.stats["calls"] == 1 and reasoner.stats["completions"] == 8
    assert reasoner.stats["generated_tokens"] == sum(
        c.num_tokens for c in reasoner.last_completions
    )


def test_uneven_batches_are_still_one_call() -> None:
    backend = Recording(ScriptedLM())
    policy = LLMPolicy(backend, SamplingParams(max_new_tokens=4))
    infos = [
        {"messages": [{"role": "user", "content": "first question"}]},
        {"messages": [{"role": "user", "content": "first question"}]},
        {"messages": [{"role": "user", "content": "second question"}]},
    ]
    actions = policy.act_batch([{}] * 3, infos)
    assert len(actions) == 3 and all(isinstance(a, str) for a in actions)
    assert len(backend.calls) == 1
    prompts, params = backend.calls[0]
    assert len(prompts) == 3 and params.n == 1


def test_equal_groups_are_deduplicated_in_order() -> None:
    backend = Recording(ScriptedLM())
    policy = LLMPolicy(backend, SamplingParams(max_new_tokens=4))
    first = [{"role": "user", "content": "alpha beta gamma"}]
    second = [{"role": "user", "content": "delta epsilon zeta"}]
    infos = [{"messages": m} for m in (first, second, first, second)]
    actions = policy.act_batch([{}] * 4, infos)
    prompts, params = backend.calls[0]
    assert len(prompts) == 2 and params.n == 2
    # Each action answers its own prompt: the scripted LM only writes words of its prompt.
    for action, info in zip(actions, infos):
        assert set(action.split()) <= set(info["messages"][0]["content"].split())


def test_whole_episode_with_the_challenger_too(env: Any) -> None:
    backend = Recording(ScriptedLM())
    challenger = LLMPolicy(backend, SamplingParams(max_new_tokens=16), seed=1)
    episode = play_episode(env, challenger, LLMPolicy(ScriptedLM()), seed=3)
    # Words drawn from the prompt are not a valid task: the env says so and ends the episode.
    assert not episode.valid
    assert episode.invalid_reason
    assert backend.calls[0][0][0][-1]["content"].count("<document>") == 1


def test_seeded_policy_repeats_its_run() -> None:
    info = {"messages": [{"role": "user", "content": "one two three four five six"}]}

    def run() -> list[str]:
        policy = LLMPolicy(ScriptedLM(), SamplingParams(max_new_tokens=6), seed=42)
        return [policy.act({}, info) for _ in range(3)]

    first = run()
    assert first == run()
    assert len(set(first)) > 1  # each call draws fresh samples


def test_base_prompt_style_sends_raw_text() -> None:
    environment = gym.make("SpiceCorpus-v0", num_reasoner_attempts=2, reasoner_prompt_style="base")
    backend = Recording(ScriptedLM())
    reasoner = LLMPolicy(backend, SamplingParams(max_new_tokens=8), use_chat=False)
    RolloutDriver(envs=[environment]).answer_tasks([TASK], policy_act(reasoner))
    prompt = backend.calls[0][0][0]
    assert isinstance(prompt, str) and TASK["question"] in prompt and "Assistant:" in prompt
    environment.close()


def test_base_mode_without_a_prompt_joins_the_messages() -> None:
    backend = Recording(ScriptedLM())
    policy = LLMPolicy(backend, use_chat=False)
    policy.act({}, {"messages": [{"role": "user", "content": "Say hi."}]})
    assert backend.calls[0][0] == ["Say hi.\n\n"]


def test_missing_messages_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="messages"):
        LLMPolicy(ScriptedLM()).act({}, {"messages": []})


def test_params_n_is_forced_to_one_per_turn() -> None:
    policy = LLMPolicy(ScriptedLM(), SamplingParams(n=5, max_new_tokens=3))
    assert policy.params.n == 1
    assert len(policy.act_batch([{}], [{"messages": [{"role": "user", "content": "x y"}]}])) == 1
