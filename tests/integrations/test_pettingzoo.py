"""The PettingZoo AEC shell and its turn-based parallel form."""

import warnings

import gymnasium as gym
import pytest

pytest.importorskip("pettingzoo")
from pettingzoo.test import api_test, parallel_api_test

import spice_env
from spice_env.integrations.pettingzoo_env import (
    AGENT_ROLES,
    AGENTS,
    SpiceAECEnv,
    env,
    parallel_env,
)
from spice_env.policies import NoisyReasoner, OracleReasoner, ScriptedChallenger

TASK = {
    "question": "What is 6 times 7?",
    "answer": "42",
    "answer_type": "Integer",
    "task_type": "free_form",
}


class _StartsAtReasoner(SpiceAECEnv):
    # api_test resets without options and samples random text, which never forms a valid
    # task; starting every episode at the Reasoner's turn makes it exercise Reasoner turns.
    def reset(self, seed=None, options=None):
        super().reset(seed=seed, options={"task": TASK})


def _play(aec, policies, seed=0, options=None):
    """Play one episode; return per-agent reward sums, observations seen and final infos."""
    aec.reset(seed=seed, options=options)
    totals = dict.fromkeys(aec.possible_agents, 0.0)
    seen = {agent: [] for agent in aec.possible_agents}
    final_infos = {}
    for agent in aec.agent_iter():
        observation, reward, terminated, truncated, info = aec.last()
        totals[agent] += reward
        seen[agent].append(observation)
        if terminated or truncated:
            final_infos[agent] = info
            action = None
        else:
            action = policies[AGENT_ROLES[agent]].act(observation, info)
        aec.step(action)
    return totals, seen, final_infos


def _gym_loop(gym_env, policies, seed):
    """The plain single-env Gymnasium loop; returns the final info."""
    observation, info = gym_env.reset(seed=seed)
    while True:
        action = policies[info["role"]].act(observation, info)
        observation, _, terminated, truncated, info = gym_env.step(action)
        if terminated or truncated:
            return info


def test_api_test_passes():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PettingZoo's advice on Box spaces and names
        api_test(env(max_action_chars=256, num_reasoner_attempts=3), num_cycles=200)


def test_api_test_passes_through_reasoner_turns():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        api_test(_StartsAtReasoner(max_action_chars=256, num_reasoner_attempts=3), num_cycles=200)


def test_parallel_api_test_passes():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parallel_api_test(parallel_env(max_action_chars=256, num_reasoner_attempts=3), 200)


def test_agents_follow_pettingzoo_naming_and_map_to_roles():
    aec = env()
    assert aec.possible_agents == ["challenger_0", "reasoner_0"] == list(AGENTS)
    assert AGENT_ROLES == {"challenger_0": "challenger", "reasoner_0": "reasoner"}
    assert aec.action_space("challenger_0") is not aec.action_space("reasoner_0")
    assert aec.observation_space("reasoner_0") is aec.observation_space("reasoner_0")


def test_scripted_episode_matches_the_gymnasium_env():
    policies = {"challenger": ScriptedChallenger(seed=2), "reasoner": NoisyReasoner(0.5, seed=2)}
    totals, _, infos = _play(env(num_reasoner_attempts=8, privileged_info=True), policies, seed=7)
    episode = infos["challenger_0"]["episode_summary"]

    reference = _gym_loop(
        gym.make(spice_env.ENV_ID, num_reasoner_attempts=8, privileged_info=True),
        {"challenger": ScriptedChallenger(seed=2), "reasoner": NoisyReasoner(0.5, seed=2)},
        seed=7,
    )["episode_summary"]
    assert episode == reference and episode["valid"]
    assert totals["challenger_0"] == pytest.approx(reference["rewards"]["challenger"])
    assert totals["reasoner_0"] == pytest.approx(sum(reference["rewards"]["reasoner"]))
    assert infos["reasoner_0"]["episode_summary"] == episode


def test_reasoner_never_observes_the_document():
    policies = {"challenger": ScriptedChallenger(seed=0), "reasoner": OracleReasoner()}
    aec = env(num_reasoner_attempts=2, privileged_info=True)
    _, seen, _ = _play(aec, policies, seed=3)
    document = aec.unwrapped.core.document.text
    assert all(obs["text"] != document and obs["role"] == 1 for obs in seen["reasoner_0"])
    assert seen["challenger_0"][0]["text"] == document
    question = aec.unwrapped.core.task.question
    assert seen["reasoner_0"][0]["text"].startswith(question)


def test_waiting_agent_gets_no_prompt():
    aec = env()
    aec.reset(seed=0)
    assert aec.agent_selection == "challenger_0"
    assert aec.infos["challenger_0"]["messages"] and aec.infos["challenger_0"]["acting"]
    waiting = aec.infos["reasoner_0"]
    assert "messages" not in waiting and waiting["acting"] is False
    assert waiting["role"] == "reasoner" and aec.observe("reasoner_0")["text"] == ""


def test_invalid_task_ends_with_the_challenger_penalty():
    aec = env()
    aec.reset(seed=0)
    aec.step("this is not a task")
    assert all(aec.terminations.values())
    assert aec.agent_selection == "challenger_0"
    _, reward, terminated, _, info = aec.last()
    assert terminated and reward == pytest.approx(-0.1)
    assert info["episode_summary"]["invalid_reason"] == "unparsable"
    aec.step(None)
    assert aec.agent_selection == "reasoner_0" and aec.last()[1] == 0.0
    aec.step(None)
    assert aec.agents == []


def test_task_option_starts_at_reasoner_and_unknown_options_warn():
    aec = env(num_reasoner_attempts=2)
    aec.reset(options={"task": TASK})
    assert aec.agent_selection == "reasoner_0"
    aec.step("\\boxed{42}")
    assert aec.rewards == {"challenger_0": 0.0, "reasoner_0": 1.0}
    aec.step("\\boxed{41}")
    assert aec.rewards["challenger_0"] == pytest.approx(1.0)  # p = 1/2
    with pytest.warns(UserWarning, match="unknown reset options"):
        aec.reset(options={"colour": "blue"})


def test_same_seed_same_episode():
    def run(seed):
        policies = {
            "challenger": ScriptedChallenger(seed=1),
            "reasoner": NoisyReasoner(0.5, seed=1),
        }
        aec = env(num_reasoner_attempts=4, privileged_info=True)
        return _play(aec, policies, seed=seed)[2]["challenger_0"]

    assert run(5) == run(5)
    assert run(5) != run(6)


def test_parallel_form_uses_only_the_acting_agents_action():
    par = parallel_env(num_reasoner_attempts=2)
    observations, infos = par.reset(seed=0, options={"task": TASK})
    assert infos["reasoner_0"]["acting"] and not infos["challenger_0"]["acting"]
    actions = {"challenger_0": "ignored", "reasoner_0": "\\boxed{42}"}
    _, rewards, terminations, _, infos = par.step(actions)
    assert rewards["reasoner_0"] == 1.0 and infos["reasoner_0"]["active_agent"] == "reasoner_0"
    _, rewards, terminations, _, _ = par.step({"challenger_0": "", "reasoner_0": "no"})
    assert all(terminations.values()) and rewards["challenger_0"] == pytest.approx(1.0)
    assert par.agents == []
