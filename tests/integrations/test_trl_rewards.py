"""The SPICE rewards as TRL reward functions: same numbers as the environment."""

import pytest

from spice_env.integrations.trl_rewards import (
    ChallengerTaskReward,
    GroupChallengerReward,
    ReasonerCorrectnessReward,
    challenger_prompt_records,
    completion_text,
    reasoner_task_records,
)
from spice_env.policies import NoisyReasoner, OracleReasoner, ScriptedChallenger
from spice_env.rewards import make_challenger_reward

MCQ = {
    "question": "Which gas is most abundant in air?",
    "options": ["Oxygen", "Nitrogen", "Argon", "Carbon dioxide"],
    "answer": "B",
    "answer_type": "MCQ",
    "task_type": "mcq",
}
FREE = {"question": "6 times 7?", "options": None, "answer": "42", "answer_type": "Integer"}
# What TRL passes besides the dataset columns.
TRL_EXTRAS = {"completion_ids": None, "trainer_state": None, "log_extra": None, "log_metric": None}


def columns(*rows, repeat=1):
    keys = sorted({key for row in rows for key in row})
    return {key: [row.get(key) for row in rows for _ in range(repeat)] for key in keys}


@pytest.mark.parametrize(
    ("completion", "expected"),
    [
        ("abc", "abc"),
        ([{"role": "assistant", "content": "xyz"}], "xyz"),
        ({"role": "assistant", "content": "m"}, "m"),
        ([], ""),
        (None, ""),
    ],
)
def test_completion_text_reads_both_trl_formats(completion, expected):
    assert completion_text(completion) == expected


def test_reasoner_reward_uses_the_verifier_on_both_formats():
    reward = ReasonerCorrectnessReward()
    completions = [
        "The answer is \\boxed{B}.",
        [{"role": "assistant", "content": "\\boxed{A}"}],
        "The answer is Nitrogen, \\boxed{B}",
        "so \\boxed{42}",
        [{"role": "assistant", "content": "\\boxed{41}"}],
    ]
    cols = columns(MCQ, MCQ, MCQ, FREE, FREE)
    assert reward(completions, prompts=["p"] * 5, **cols, **TRL_EXTRAS) == [1, 0, 1, 1, 0]
    assert reward.__name__ == "spice_reasoner_reward"


def test_rows_without_gold_get_none_and_format_aware_penalizes_no_answer():
    cols = columns(FREE, {"question": "q", "answer": None}, FREE)
    assert ReasonerCorrectnessReward()(["\\boxed{42}"] * 3, **cols) == [1.0, None, 1.0]
    format_aware = ReasonerCorrectnessReward("format_aware")
    assert format_aware(["I don't know", "\\boxed{41}"], **columns(FREE, FREE)) == [-0.1, 0.0]


def test_column_length_mismatch_is_explained():
    with pytest.raises(ValueError, match="one value per completion"):
        ReasonerCorrectnessReward()(["a", "b"], answer=["1"])


@pytest.mark.parametrize("shape", ["spice", "r_zero", "absolute_zero", "threshold"])
def test_group_challenger_reward_is_the_shape_of_each_groups_outcomes(shape):
    # Two tasks, K = 4 answers each: 3/4 and 0/4 correct.
    rows = [dict(MCQ, task_id="t0")] * 4 + [dict(FREE, task_id="t1")] * 4
    completions = ["\\boxed{B}"] * 3 + ["\\boxed{C}"] + ["\\boxed{0}"] * 4
    rewards = GroupChallengerReward(shape)(completions, **columns(*rows), **TRL_EXTRAS)
    expected = make_challenger_reward(shape)
    assert rewards[:4] == [pytest.approx(expected([1, 1, 1, 0]))] * 4
    assert rewards[4:] == [pytest.approx(expected([0, 0, 0, 0]))] * 4


def test_group_challenger_reward_groups_by_prompt_without_task_ids():
    prompts = [[{"role": "user", "content": "q1"}]] * 2 + [[{"role": "user", "content": "q2"}]] * 2
    rewards = GroupChallengerReward("spice")(
        ["\\boxed{B}", "\\boxed{A}", "\\boxed{42}", "\\boxed{42}"],
        prompts=prompts,
        **columns(MCQ, MCQ, FREE, FREE),
    )
    assert rewards[:2] == [1.0, 1.0]  # p = 1/2
    assert rewards[2:] == [pytest.approx(0.0439, abs=1e-4)] * 2  # p = 1


def test_challenger_task_reward_equals_the_env_reward():
    records = challenger_prompt_records(3, seed=0, task_types=("free_form",))
    assert {"prompt", "document", "document_id", "task_type", "answer_type"} <= set(records[0])
    writer = ScriptedChallenger(seed=0)
    completions = [
        writer.act(
            {"text": r["document"]},
            {
                "stage": "generation",
                "task_type": r["task_type"],
                "answer_type": r["answer_type"],
                "document_id": r["document_id"],
            },
        )
        for r in records
    ]
    completions[1] = "not a task"
    cols = {key: [r[key] for r in records] for key in records[0] if key != "prompt"}

    oracle = ChallengerTaskReward(OracleReasoner(), num_attempts=8)
    rewards = oracle(completions, **cols, **TRL_EXTRAS)
    assert rewards[1] == -0.1 and oracle.last_tasks[1] is None
    assert rewards[0] == pytest.approx(0.0439, abs=1e-4)  # always right: p = 1, too easy
    strict = ChallengerTaskReward(NoisyReasoner(0.5, seed=0), shape="absolute_zero")
    assert strict(completions, **cols)[1] == -1.0  # unparsable: Absolute Zero's -1


def test_reasoner_task_records_are_valid_env_tasks():
    records = reasoner_task_records(4, seed=0, task_types=("mcq",))
    assert len(records) == 4 and len({r["task_id"] for r in records}) == 4
    for record in records:
        assert record["task_type"] == "mcq" and len(record["options"]) == 4
        assert record["prompt"][-1]["role"] == "user"
        assert record["question"] in record["prompt"][-1]["content"]
    base = reasoner_task_records(1, seed=0, reasoner_prompt_style="base")
    assert isinstance(base[0]["prompt"], str)
    # The gold answer scores 1 with the reward function: the rows and the reward agree.
    reward = ReasonerCorrectnessReward()
    cols = {key: [r[key] for r in records] for key in records[0] if key != "prompt"}
    assert reward([f"\\boxed{{{r['answer']}}}" for r in records], **cols) == [1.0] * 4
