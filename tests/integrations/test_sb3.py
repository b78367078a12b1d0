"""MCQChoiceEnv: a Gymnasium-conformant Discrete(4) bridge with a learnable signal."""

import warnings

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from spice_env.integrations.sb3 import (
    FEATURE_NAMES,
    MCQChoiceEnv,
    generate_mcq_tasks,
    option_features,
)

F = len(FEATURE_NAMES)


def test_gymnasium_checker_passes_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(MCQChoiceEnv(), skip_render_check=True)  # it has no render modes


def test_stable_baselines3_checker_passes():
    sb3_checker = pytest.importorskip("stable_baselines3.common.env_checker")
    sb3_checker.check_env(MCQChoiceEnv(), warn=True)


def test_spaces_and_one_step_episodes_scored_by_the_core_env():
    env = MCQChoiceEnv()
    observation, info = env.reset(seed=0)
    assert env.action_space.n == 4 and observation.shape == (4 * F,)
    assert observation.dtype == np.float32 and env.observation_space.contains(observation)
    assert "answer" not in info["task"]  # the agent's info holds no gold
    gold = "ABCD".index(env.task["answer"])
    _, reward, terminated, truncated, step_info = env.step(gold)
    assert step_info["gold"] == "ABCD"[gold] and step_info["task"]["answer"] == step_info["gold"]
    assert (reward, terminated, truncated, step_info["correct"]) == (1.0, True, False, True)
    env.reset(seed=0)
    _, reward, _, _, step_info = env.step((gold + 1) % 4)
    assert reward == 0.0 and not step_info["correct"]
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)


def test_same_seed_same_task_and_document_split():
    first = MCQChoiceEnv().reset(seed=4)[1]["task"]
    again = MCQChoiceEnv().reset(seed=4)[1]["task"]
    assert first == again
    env = MCQChoiceEnv(document_ids=["math-arithmetic-series"])
    for seed in range(3):
        assert env.reset(seed=seed)[1]["task"]["document_id"] == "math-arithmetic-series"


def test_task_pool_mode_samples_the_given_tasks():
    pool = generate_mcq_tasks(5, seed=0)
    assert len(pool) == 5 and all(task["task_type"] == "mcq" for task in pool)
    env = MCQChoiceEnv(tasks=pool)
    questions = {task["question"] for task in pool}
    for seed in range(5):
        observation, info = env.reset(seed=seed)
        assert info["task"]["question"] in questions
        expected = option_features(info["task"]["question"], info["task"]["options"])
        assert np.array_equal(observation, expected.reshape(-1))


def test_option_features_read_the_question():
    question = "Fill in the blank with the missing number: It was founded in ____ by 12 people."
    features = option_features(question, ["1995", "12", "1996", "2005"])
    column = dict(zip(FEATURE_NAMES, features.T))
    assert features.shape == (4, F) and features.min() >= 0.0 and features.max() <= 1.0
    assert column["appears_in_question"].tolist() == [0.0, 1.0, 0.0, 0.0]
    assert column["year_like_after_year_cue"].tolist() == [1.0, 0.0, 1.0, 1.0]
    assert column["is_smallest"].tolist() == [0.0, 1.0, 0.0, 0.0]
    words = option_features("The ____ orbits the Sun.", ["Moon", "Sun", "Mars", "Venus"])
    assert dict(zip(FEATURE_NAMES, words.T))["appears_in_question"].tolist() == [0, 1, 0, 0]


def test_a_learnable_signal_exists():
    # A two-line rule on the features (never pick an option repeated in the question, prefer
    # a number with a close neighbour above) beats 25% on the scripted Challenger's tasks:
    # there is something for an agent to learn, without any knowledge of the documents.
    tasks = generate_mcq_tasks(300, seed=1)
    index = {name: i for i, name in enumerate(FEATURE_NAMES)}
    hits = 0
    for task in tasks:
        features = option_features(task["question"], task["options"])
        score = (
            -2.0 * features[:, index["appears_in_question"]]
            + features[:, index["option_within_10_above"]]
            + features[:, index["year_like_after_year_cue"]]
        )
        hits += "ABCD"[int(np.argmax(score))] == task["answer"]
    assert hits / len(tasks) > 0.30


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_reasoner_attempts": 2}, "fixes"),
        ({"max_task_attempts": 0}, "max_task_attempts"),
        ({"document_ids": []}, "document_ids"),
        ({"tasks": []}, "tasks is empty"),
    ],
)
def test_bad_arguments_fail_clearly(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MCQChoiceEnv(**kwargs)
