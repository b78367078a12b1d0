"""Vector envs (sync and async) and the batched rollout helper."""

import gymnasium as gym
import numpy as np
import pytest

import spice_env
from spice_env.integrations.vector import (
    make_vector_env,
    rollout_vector,
    unbatch,
)
from spice_env.policies import BasePolicy, NoisyReasoner, ScriptedChallenger


class CountingPolicy(BasePolicy):
    """Wraps a policy and records the size of every act_batch call."""

    def __init__(self, inner):
        self.inner = inner
        self.batches = []
        self.uses_privileged_info = getattr(inner, "uses_privileged_info", False)

    def act(self, observation, info):
        return self.inner.act(observation, info)

    def act_batch(self, observations, infos):
        self.batches.append(len(observations))
        return self.inner.act_batch(observations, infos)


def _policies(seed=1):
    return ScriptedChallenger(seed=seed, invalid_rate=0.25), NoisyReasoner(0.5, seed=seed)


def _trace(mode, steps=40, num_envs=3, seed=11):
    """Step a vector env with scripted policies; record everything it returns."""
    envs = make_vector_env(num_envs, mode, num_reasoner_attempts=3, privileged_info=True)
    challenger, reasoner = _policies()
    observations, infos = envs.reset(seed=seed)
    trace = [(unbatch(observations, num_envs), unbatch(infos, num_envs))]
    for _ in range(steps):
        obs_list, info_list = trace[-1][0], trace[-1][1]
        actions = [
            (challenger if info["role"] == "challenger" else reasoner).act(obs, info)
            for obs, info in zip(obs_list, info_list)
        ]
        observations, rewards, terminated, truncated, infos = envs.step(actions)
        trace.append(
            (
                unbatch(observations, num_envs),
                unbatch(infos, num_envs),
                rewards.tolist(),
                terminated.tolist(),
                truncated.tolist(),
            )
        )
    envs.close()
    return trace


def test_sync_and_async_give_the_same_trajectories():
    sync, asynchronous = _trace("sync"), _trace("async")
    assert sync == asynchronous
    # The run covers episodes ending (valid and invalid) and sub-envs out of step.
    ended = [
        episode for step in sync[1:] for info in step[1] if (episode := info.get("episode_summary"))
    ]
    assert any(e["valid"] for e in ended) and any(not e["valid"] for e in ended)


def test_async_text_observations_are_not_padded():
    envs = make_vector_env(2, "async")
    observations, infos = envs.reset(seed=0)
    documents = spice_env.load_corpus(None)
    for text, document_id in zip(observations["text"], infos["document_id"]):
        assert text == documents.get(document_id).text
    envs.close()


@pytest.mark.parametrize("autoreset_mode", ["NextStep", "SameStep", "Disabled"])
def test_rollout_is_identical_across_modes(autoreset_mode):
    results = []
    for mode in ("sync", "async"):
        envs = make_vector_env(
            3,
            mode,
            vector_kwargs={"autoreset_mode": autoreset_mode},
            num_reasoner_attempts=4,
            privileged_info=True,
        )
        results.append(rollout_vector(envs, *_policies(), 8, seed=3))
        envs.close()
    sync, asynchronous = results
    assert sync.episodes == asynchronous.episodes and sync.env_indices == asynchronous.env_indices
    assert len(sync.episodes) == 8


def test_rollout_of_one_env_equals_the_single_env_loop():
    # The plain Gymnasium loop: reset once with the seed, then reset() continues its RNG.
    env = gym.make(spice_env.ENV_ID, num_reasoner_attempts=4, privileged_info=True)
    challenger, reasoner = _policies()
    single = []
    observation, info = env.reset(seed=3)
    while len(single) < 6:
        policy = challenger if info["role"] == "challenger" else reasoner
        observation, _, terminated, _, info = env.step(policy.act(observation, info))
        if terminated:
            single.append(info["episode_summary"])
            observation, info = env.reset()
    envs = make_vector_env(1, num_reasoner_attempts=4, privileged_info=True)
    vectorized = rollout_vector(envs, *_policies(), 6, seed=3)
    envs.close()
    assert vectorized.episodes == single


def test_one_batched_call_per_role_per_step():
    challenger = CountingPolicy(ScriptedChallenger(seed=0))
    reasoner = CountingPolicy(NoisyReasoner(0.5, seed=0))
    envs = make_vector_env(4, num_reasoner_attempts=4, privileged_info=True)
    result = rollout_vector(envs, challenger, reasoner, 8, seed=0)
    envs.close()
    assert result.policy_calls["challenger"] == len(challenger.batches) <= result.steps
    assert result.policy_calls["reasoner"] == len(reasoner.batches) <= result.steps
    assert max(challenger.batches) > 1  # several sub-envs served by one call
    # Prefetching: each task's K answers come in one call, so every batch is a multiple of K.
    assert all(size % 4 == 0 for size in reasoner.batches)


def test_without_prefetch_each_answer_is_its_own_turn():
    reasoner = CountingPolicy(NoisyReasoner(0.5, seed=0))
    envs = make_vector_env(2, num_reasoner_attempts=3, privileged_info=True)
    result = rollout_vector(envs, ScriptedChallenger(), reasoner, 4, seed=0, prefetch_answers=False)
    envs.close()
    assert max(reasoner.batches) <= 2 and result.actions_generated["reasoner"] >= 3 * 3


def test_next_step_autoreset_ignores_the_action_after_an_episode_ends():
    envs = make_vector_env(2, num_reasoner_attempts=1)
    envs.reset(seed=0)
    _, rewards, terminated, _, infos = envs.step(["not a task", "not a task either"])
    assert terminated.all() and rewards.tolist() == [-0.1, -0.1]
    assert all("episode_summary" in info for info in unbatch(infos, 2))
    observations, rewards, terminated, _, infos = envs.step(["ignored", "ignored"])
    assert rewards.tolist() == [0.0, 0.0] and not terminated.any()
    assert list(observations["stage"]) == [0, 0]  # new episodes at type selection
    envs.close()


def _step_out_of_phase(envs):
    # Sub-env 0 writes an invalid task (info["task"] None) while sub-env 1 gets a task (a dict).
    observations, infos = envs.reset(seed=0)
    info_list = unbatch(infos, 2)
    good = ScriptedChallenger(seed=0).act({"text": observations["text"][1]}, info_list[1])
    return envs.step(["garbage", good])


def test_plain_make_vec_batches_sub_envs_out_of_step():
    envs = gym.make_vec(spice_env.ENV_ID, num_envs=2, type_selection=False)
    _, _, terminated, _, infos = _step_out_of_phase(envs)
    info_list = unbatch(infos, 2)
    assert terminated.tolist() == [True, False]
    assert "task" not in info_list[0] and info_list[1]["task"]["question"]
    assert "answer" not in info_list[1]["task"]  # the public task, batched with a mask
    envs.close()


def test_unbatch_respects_masks_and_nesting():
    batched = {
        "a": np.array([1, 2]),
        "_a": np.array([True, False]),
        "nested": {"x": np.array([0.5, np.nan]), "_x": np.array([True, True])},
        "_nested": np.array([True, True]),
    }
    assert unbatch(batched, 2) == [
        {"a": 1, "nested": {"x": 0.5}},
        {"nested": {"x": None}},
    ]
    assert isinstance(unbatch(batched, 2)[0]["a"], int)


def test_rollout_checks_its_arguments():
    class Broken(BasePolicy):
        def act_batch(self, observations, infos):
            return []

    envs = make_vector_env(1)
    with pytest.raises(ValueError, match="num_episodes"):
        rollout_vector(envs, ScriptedChallenger(), Broken(), 0)
    with pytest.raises(ValueError, match="one action per turn"):
        rollout_vector(envs, Broken(), Broken(), 1, seed=0)
    envs.close()
