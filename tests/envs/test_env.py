"""SpiceCorpus-v0: Gymnasium conformance, the episode state machine, determinism, vector envs."""

import json
import warnings

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env

import spice_env
from spice_env import CorpusSelfPlayEnv
from spice_env.policies import NoisyReasoner, OracleReasoner, RandomReasoner, ScriptedChallenger
from spice_env.rollout import play_episode, summarize_episodes

SELECTION = json.dumps(
    {
        "suitable_for_mcq": True,
        "suitable_for_free_form": True,
        "best_answer_type": "Integer",
        "reason": "r",
    }
)


def make(**kwargs):
    return gym.make("SpiceCorpus-v0", **kwargs)


def test_check_env_passes_without_warnings():
    env = make().unwrapped
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env)


def test_every_constructor_argument_is_a_make_keyword(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text(
        "".join(
            json.dumps({"body": "word " * 40 + str(i), "key": f"k{i}"}) + "\n" for i in range(3)
        )
    )
    env = make(
        corpus=str(path),
        corpus_config={
            "text_field": "body",
            "id_field": "key",
            "max_segment_tokens": 100,
            "min_words": 5,
            "cache_dir": str(tmp_path / "cache"),
            "progress": False,
        },
        num_reasoner_attempts=3,
        challenger_reward="threshold",
        challenger_reward_kwargs={"invalid_penalty": -0.5},
        reasoner_reward="format_aware",
        task_types=("free_form",),
        type_selection=False,
        validity={
            "grounding_threshold": 0.1,
            "fuzzy_word_cutoff": 80.0,
            "max_string_words": 2,
            "min_leak_chars": 4,
            "check_self_verification": False,
        },
        shuffle_options=False,
        privileged_info=True,
        reasoner_prompt_style="base",
        reward_role="challenger",
        max_action_chars=1000,
        max_observation_chars=5000,
        render_mode="ansi",
    )
    obs, info = env.reset(seed=0)
    assert info["document_id"] in {"k0", "k1", "k2"} and info["stage"] == "generation"
    assert info["task_type"] == "free_form"
    _, reward, terminated, _, info = env.step("garbage")
    assert terminated and reward == -0.5 and info["invalid_reason"] == "unparsable"
    assert env.unwrapped.validity.fuzzy_word_cutoff == 80.0
    assert env.unwrapped.validity.max_string_words == 2
    assert env.unwrapped.validity.min_leak_chars == 4


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_reasoner_attempts": 0}, "num_reasoner_attempts"),
        ({"task_types": ()}, "task_types"),
        ({"task_types": ("essay",)}, "essay"),
        ({"reward_role": "both"}, "reward_role"),
        ({"reasoner_prompt_style": "raw"}, "reasoner_prompt_style"),
        ({"challenger_reward": "nope"}, "unknown Challenger reward shape"),
        ({"validity": {"grounding_threshold": 2.0}}, "grounding_threshold"),
        ({"validity": {"grounding": 0.3}}, "unknown validity settings"),
        ({"corpus_config": {"textfield": "x"}}, "unknown corpus settings"),
        ({"render_mode": "rgb_array"}, "render_mode"),
    ],
)
def test_bad_configuration_fails_with_a_clear_message(kwargs, message):
    with pytest.raises(ValueError, match=message):
        CorpusSelfPlayEnv(**kwargs)


def test_full_episode_roles_rewards_and_info():
    env = make(num_reasoner_attempts=4, privileged_info=True)
    challenger, reasoner = ScriptedChallenger(seed=1), OracleReasoner()
    obs, info = env.reset(seed=5)
    assert obs["role"] == 0 and obs["stage"] == 0 and info["role"] == "challenger"
    assert info["messages"][-1]["role"] == "user" and obs["text"] in info["messages"][-1]["content"]
    obs, reward, terminated, _, info = env.step(challenger.act(obs, info))
    assert (obs["stage"], reward, terminated) == (1, 0.0, False)
    assert info["task_type"] in ("mcq", "free_form")
    obs, reward, terminated, _, info = env.step(challenger.act(obs, info))
    assert info["valid"] is True and "invalid_reason" not in info
    assert obs["role"] == 1 and obs["stage"] == 2 and info["role"] == "reasoner"
    assert obs["text"].startswith(info["task"]["question"])
    assert set(info["task"]) == {"question", "options", "task_type", "answer_type", "document_id"}
    assert (
        "\\boxed{}" in info["messages"][-1]["content"]
        and info["messages"][0]["content"] == "You are a helpful assistant."
    )
    for attempt in range(4):
        obs, reward, terminated, _, info = env.step(reasoner.act(obs, info))
        assert reward == 1.0 and info["rewards"]["reasoner"] == 1.0
        assert terminated is (attempt == 3)
    assert info["pass_rate"] == 1.0
    assert info["rewards"]["challenger"] == pytest.approx(0.0439, abs=1e-4)  # too easy: p = 1
    episode = info["episode_summary"]
    assert episode["outcomes"] == [1.0] * 4 and episode["valid"] and len(episode["answers"]) == 4
    assert episode["task"]["answer"]  # the gold is in the summary once the episode is over
    with pytest.raises(RuntimeError, match="reset"):
        env.step("again")


def test_challenger_reward_peaks_at_half_pass_rate():
    env = make(num_reasoner_attempts=8, privileged_info=True)
    obs, info = env.reset(seed=0)
    obs, *_, info = env.step(SELECTION)
    obs, *_, info = env.step(ScriptedChallenger().act(obs, info))
    for i in range(8):
        gold = info["privileged"]["answer"]  # the gold as this attempt shows it
        wrong = "Z" if info["task"]["task_type"] == "mcq" else "no answer"
        obs, reward, terminated, _, info = env.step(f"\\boxed{{{gold if i % 2 else wrong}}}")
    assert terminated and info["pass_rate"] == 0.5 and info["rewards"]["challenger"] == 1.0


@pytest.mark.parametrize(
    ("first", "second", "reason"),
    [
        ("not json", None, "unparsable"),
        ('{"suitable_for_mcq": false, "suitable_for_free_form": false}', None, "no_suitable_type"),
        (SELECTION, '{"question": "", "answer": ""}', "empty_fields"),
        (SELECTION, "I refuse.", "unparsable"),
    ],
)
def test_invalid_outputs_end_with_penalty_and_named_reason(first, second, reason):
    env = make()
    env.reset(seed=0)
    obs, reward, terminated, _, info = env.step(first)
    if second is not None:
        assert not terminated
        obs, reward, terminated, _, info = env.step(second)
    assert terminated and reward == -0.1 and info["invalid_reason"] == reason
    assert info["rewards"] == {"challenger": -0.1, "reasoner": 0.0}
    assert (
        info["episode_summary"]["valid"] is False
        and info["episode_summary"]["invalid_reason"] == reason
    )


def test_pinned_document_shared_by_g_trajectories():
    env = make()
    _, info = env.reset(seed=0)
    doc = info["document_id"]
    ids = {env.reset(options={"document_id": doc})[1]["document_id"] for _ in range(8)}
    assert ids == {doc}
    with pytest.raises(KeyError):
        env.reset(options={"document_id": "no-such-doc"})
    with pytest.raises(ValueError, match="unknown reset options"):
        env.reset(options={"doc": doc})


def test_task_option_starts_at_reasoner_turn():
    env = make(num_reasoner_attempts=2)
    task = {
        "question": "What is 6 times 7?",
        "answer": "42",
        "answer_type": "Integer",
        "task_type": "free_form",
    }
    obs, info = env.reset(options={"task": task})
    assert obs["role"] == 1 and obs["text"] == "What is 6 times 7?"
    _, r1, _, _, _ = env.step("\\boxed{42}")
    _, r2, terminated, _, info = env.step("It is 41.")
    assert (r1, r2, terminated) == (1.0, 0.0, True) and info["pass_rate"] == 0.5


def test_reward_roles_and_base_prompt():
    env = make(num_reasoner_attempts=2, reward_role="challenger", reasoner_prompt_style="base")
    task = {"question": "2+2?", "answer": "4", "answer_type": "Integer", "task_type": "free_form"}
    _, info = env.reset(options={"task": task})
    assert info["prompt"].startswith("A conversation between User and Assistant")
    _, r1, *_ = env.step("\\boxed{4}")
    _, r2, *_ = env.step("\\boxed{5}")
    assert (r1, r2) == (0.0, 1.0)  # challenger reward 1.0 arrives at the last step


def test_random_text_actions_never_crash():
    env = make()
    env.action_space.seed(0)
    for episode in range(20):
        env.reset(seed=episode)
        terminated = False
        while not terminated:
            _, reward, terminated, truncated, info = env.step(env.action_space.sample())
            assert isinstance(reward, float) and not truncated
        assert (
            info["episode_summary"]["invalid_reason"] is not None
            or info["episode_summary"]["valid"]
        )


def _trajectory(seed):
    env = make(num_reasoner_attempts=4, privileged_info=True)
    challenger, reasoner = ScriptedChallenger(seed=3), NoisyReasoner(q=0.5, seed=3)
    records = []
    for i in range(6):
        episode = play_episode(env, challenger, reasoner, seed=seed + i)
        records.append(episode.summary())
    return records


def test_same_seed_same_trajectories_different_seed_differs():
    assert _trajectory(11) == _trajectory(11)
    assert _trajectory(11) != _trajectory(12)


def test_infos_leave_out_unknown_values():
    env = make()
    _, info = env.reset(seed=0)
    assert not {"task", "valid", "pass_rate", "invalid_reason"} & set(info)
    assert all(value is not None for value in info.values())


def test_make_vec_runs_sync_with_batched_infos():
    envs = gym.make_vec(spice_env.ENV_ID, num_envs=4, num_reasoner_attempts=2)
    obs, infos = envs.reset(seed=0)
    assert len(obs["text"]) == 4 and list(obs["role"]) == [0, 0, 0, 0]
    challenger = ScriptedChallenger()
    steps = 0
    for step in range(8):
        actions = [
            challenger.act(
                {"text": obs["text"][i]},
                {
                    k: infos[k][i]
                    for k in ("stage", "task_type", "answer_type", "document_id")
                    if k in infos and infos["_" + k][i]  # absent keys are masked out
                },
            )
            if obs["role"][i] == 0 and not (i == 0 and step == 1)
            else "\\boxed{A}"  # env 0 writes garbage once: the envs fall out of step
            for i in range(4)
        ]
        obs, rewards, terminated, truncated, infos = envs.step(actions)
        assert rewards.shape == (4,)
        if step == 1:
            assert terminated[0] and not terminated[1:].any()
            assert (
                infos["episode_summary"]["invalid_reason"][0] == "unparsable"
                and infos["_episode_summary"][0]
            )
        steps += 1
    envs.close()
    assert steps == 8


def test_render_modes():
    env = make(render_mode="ansi")
    env.reset(seed=0)
    text = env.render()
    assert text.startswith("[challenger | type_selection]")
    plain = make()
    plain.reset(seed=0)
    with pytest.warns(UserWarning, match="render_mode"):
        assert plain.render() is None


def test_summary_of_scripted_play_matches_policy_skill():
    env = make(num_reasoner_attempts=8, privileged_info=True)
    oracle = [play_episode(env, ScriptedChallenger(), OracleReasoner(), seed=i) for i in range(5)]
    guess = [
        play_episode(env, ScriptedChallenger(), RandomReasoner(seed=0), seed=i) for i in range(5)
    ]
    assert summarize_episodes(oracle)["mean_pass_rate"] == 1.0
    assert summarize_episodes(guess)["mean_pass_rate"] < 0.6
    assert summarize_episodes(oracle)["valid_rate"] == 1.0
    # The oracle's letters are the golds it was shown; a random guesser's spread over ABCD.
    summary = summarize_episodes(oracle)
    assert summary["gold_letters_shown"] and (
        summary["reasoner_letters"] == summary["gold_letters_shown"]
    )
    guessed = summarize_episodes(guess)["reasoner_letters"]
    assert sum(guessed.values()) == sum(summarize_episodes(guess)["gold_letters_shown"].values())
    assert set(guessed) <= set("ABCD")


def test_import_is_light():
    import subprocess
    import sys

    code = "import sys, spice_env; print(sorted(m for m in ('torch', 'transformers', 'datasets', 'vllm') if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
    assert spice_env.ENV_ID in gym.registry


def test_cli_names_the_extra_when_an_optional_dependency_is_missing(monkeypatch, capsys):
    from spice_env import cli
    from spice_env.commands import play

    def needs_torch(args):
        raise ModuleNotFoundError("No module named 'torch'", name="torch")

    monkeypatch.setattr(play, "run", needs_torch)
    assert cli.main(["play"]) == 1
    assert "spice-env[train]" in capsys.readouterr().err


def test_computed_only_clozes_can_be_answered_from_the_question():
    from spice_env.rollout import EpisodeStart, RolloutDriver, policy_act

    document = (
        "Natalia sold clips to 48 of her friends in April, and then she sold half as many "
        "clips in May. How many clips did Natalia sell altogether?\n"
        "Natalia sold 48/2 = 24 clips to her friends in May.\n"
        "Natalia sold 48+24 = 72 clips altogether in April and May.\nThe answer is 72."
    )
    plain = "Natalia sold clips to 48 of her friends in April and to 24 of them in May, she said."
    driver = RolloutDriver(lambda: make(task_types=("free_form",)))

    def play(text, seed):
        start = EpisodeStart(seed=seed, document=text)
        challenger = ScriptedChallenger(seed=seed, computed_only=True)
        return driver.play([start], policy_act(challenger), policy_act(OracleReasoner()))[0]

    golds = set()
    for seed in range(6):
        episode = play(document, seed)
        assert episode.valid, episode.invalid_reason
        golds.add(episode.task["answer"])
        # the blank is the result of the computation the question writes out
        assert "= ____" in episode.task["question"]
    assert golds == {"24", "72"}
    # a document that computes nothing gets no task from it
    assert not play(plain, 0).valid
    policy = spice_env.policies.make_policy("scripted-computed", role="challenger")
    assert policy.computed_only
