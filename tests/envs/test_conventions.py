"""The env among Gymnasium's wrappers, what a policy may read, and the option shuffle."""

import json
import math

import gymnasium as gym
import pytest
from gymnasium.wrappers import RecordEpisodeStatistics

import spice_env
from spice_env.policies import ScriptedChallenger

GOLD = "Quillfeather"
SOLUTION = "The bird is named in the second paragraph: Quillfeather."
STRING_TASK = {
    "question": "What is the name of the owl in the story?",
    "answer": GOLD,
    "answer_type": "String",
    "task_type": "free_form",
    "solution": SOLUTION,
}
MCQ_TASK = {
    "question": "Which metal is liquid at room temperature?",
    "answer": "A",
    "answer_type": "MCQ",
    "task_type": "mcq",
    "options": ["mercury", "iron", "copper", "zinc"],
    "solution": "Mercury melts at about -39 degrees Celsius.",
}


def _play_to_the_end(env, seed=0):
    obs, info = env.reset(seed=seed)
    challenger = ScriptedChallenger(seed=seed, invalid_rate=0.0)
    while True:
        action = challenger.act(obs, info) if info["role"] == "challenger" else "\\boxed{A}"
        obs, _, terminated, truncated, info = env.step(action)
        if terminated or truncated:
            return info


def test_record_episode_statistics_keeps_the_env_summary():
    env = RecordEpisodeStatistics(gym.make(spice_env.ENV_ID, num_reasoner_attempts=2))
    info = _play_to_the_end(env)
    assert set(info["episode"]) >= {"r", "l", "t"}  # the wrapper's statistics
    assert info["episode_summary"]["valid"] in (True, False)  # and the env's own summary
    assert "rewards" in info["episode_summary"]


def test_sb3_monitor_keeps_the_env_summary(tmp_path):
    monitor = pytest.importorskip("stable_baselines3.common.monitor")
    env = monitor.Monitor(gym.make(spice_env.ENV_ID, num_reasoner_attempts=2))
    info = _play_to_the_end(env)
    assert set(info["episode"]) >= {"r", "l", "t"}
    assert "rewards" in info["episode_summary"]


def _strings(value):
    return json.dumps(value, default=str)


@pytest.mark.parametrize("style", ["chat", "base"])
def test_a_policy_reading_info_at_the_reasoner_turn_finds_no_gold(style):
    env = gym.make(spice_env.ENV_ID, num_reasoner_attempts=3, reasoner_prompt_style=style)
    obs, info = env.reset(seed=0, options={"task": STRING_TASK})
    seen = [(obs, info), *env.unwrapped.reasoner_turns()]
    for _ in range(2):
        obs, _, _, _, info = env.step("I think it is \\boxed{Hedwig}.")
        seen.append((obs, info))
    for observation, turn_info in seen:
        text = _strings(observation) + _strings(turn_info)
        assert GOLD not in text and SOLUTION not in text
        assert "privileged" not in turn_info
    # The one channel, when asked for, carries the gold.
    privileged = gym.make(spice_env.ENV_ID, num_reasoner_attempts=3, privileged_info=True)
    _, info = privileged.reset(seed=0, options={"task": STRING_TASK})
    assert info["privileged"]["answer"] == GOLD
    assert info["privileged"]["task"]["solution"] == SOLUTION


def test_a_multiple_choice_gold_letter_is_nowhere_in_the_public_info():
    env = gym.make(spice_env.ENV_ID, num_reasoner_attempts=8)
    _, info = env.reset(seed=0, options={"task": MCQ_TASK})
    assert "answer" not in info["task"] and "solution" not in info["task"]
    assert MCQ_TASK["solution"] not in _strings(info)


def test_options_are_shuffled_per_attempt_and_the_gold_follows():
    env = gym.make(spice_env.ENV_ID, num_reasoner_attempts=8, privileged_info=True)
    _, info = env.reset(seed=3, options={"task": MCQ_TASK})
    turns = env.unwrapped.reasoner_turns()
    assert len(turns) == 8
    orders = set()
    for observation, turn_info in turns:
        options = turn_info["task"]["options"]
        assert sorted(options) == sorted(MCQ_TASK["options"])
        # The gold letter of the attempt points at the Challenger's correct option.
        assert options["ABCD".index(turn_info["privileged"]["answer"])] == "mercury"
        assert f"{turn_info['privileged']['answer']}. mercury" in observation["text"]
        orders.add(tuple(options))
    assert len(orders) > 1
    # Answering with the option the attempt shows as mercury is right every time.
    for _, turn_info in turns:
        _, _, terminated, _, info = env.step(f"\\boxed{{{turn_info['privileged']['answer']}}}")
    assert terminated and info["pass_rate"] == 1.0
    assert info["episode_summary"]["gold_letters_shown"] == [
        t["privileged"]["answer"] for _, t in turns
    ]
    # Seeded: the same seed shows the same orders.
    again = gym.make(spice_env.ENV_ID, num_reasoner_attempts=8, privileged_info=True)
    again.reset(seed=3, options={"task": MCQ_TASK})
    assert [t["task"]["options"] for _, t in again.unwrapped.reasoner_turns()] == [
        t["task"]["options"] for _, t in turns
    ]


def _one_letter_pass_rate(shuffle, episodes=60, k=8):
    env = gym.make(spice_env.ENV_ID, num_reasoner_attempts=k, shuffle_options=shuffle)
    outcomes = []
    for seed in range(episodes):
        env.reset(seed=seed, options={"task": MCQ_TASK})  # the Challenger always marks A
        for _ in range(k):
            _, _, terminated, _, info = env.step("\\boxed{A}")
        outcomes += info["episode_summary"]["outcomes"]
    return sum(outcomes) / len(outcomes), len(outcomes)


def test_a_one_letter_reasoner_scores_chance_when_the_challenger_favours_that_letter():
    rate, n = _one_letter_pass_rate(shuffle=True)
    sigma = math.sqrt(0.25 * 0.75 / n)
    assert abs(rate - 0.25) < 4 * sigma, (rate, n)
    # Without the shuffle the letter prior pays in full: what the shuffle exists to stop.
    assert _one_letter_pass_rate(shuffle=False)[0] == 1.0


def test_the_episode_summary_names_the_answer_read_from_each_attempt():
    from spice_env.rollout import answer_letters

    env = gym.make(spice_env.ENV_ID, num_reasoner_attempts=4)
    env.reset(seed=5, options={"task": MCQ_TASK})
    for action in ("\\boxed{B}", "I think \\boxed{B}.", "no idea", "\\boxed{C}"):
        _, _, terminated, _, info = env.step(action)
    summary = info["episode_summary"]
    assert terminated and summary["extracted"] == ["B", "B", None, "C"]
    assert answer_letters([summary]) == {"B": 2, "none": 1, "C": 1}
    # Free-form tasks have no letters to count.
    assert answer_letters([{**summary, "task": {"task_type": "free_form"}}]) == {}
