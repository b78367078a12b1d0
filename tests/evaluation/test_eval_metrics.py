"""Scores: pass@k (unbiased estimator), majority vote, benchmark aggregation."""

from __future__ import annotations

import math

import pytest

from spice_env.evaluation import aggregate, majority_correct, pass_at_k
from spice_env.evaluation.metrics import primary_metric


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [
        (1, 1, 1, 1.0),
        (1, 0, 1, 0.0),
        (4, 1, 1, 0.25),
        (4, 2, 1, 0.5),
        (4, 1, 4, 1.0),
        (4, 0, 4, 0.0),
        (4, 1, 2, 0.5),  # 1 - C(3,2)/C(4,2) = 1 - 3/6
        (32, 3, 8, 1 - math.comb(29, 8) / math.comb(32, 8)),
        (10, 9, 2, 1.0),
    ],
)
def test_pass_at_k(n, c, k, expected):
    assert pass_at_k(n, c, k) == pytest.approx(expected)


def test_pass_at_k_rejects_k_out_of_range():
    with pytest.raises(ValueError):
        pass_at_k(4, 1, 5)
    with pytest.raises(ValueError):
        pass_at_k(4, 1, 0)


@pytest.mark.parametrize(
    ("extracted", "correct", "expected"),
    [
        (["7", "7", "8"], [True, True, False], True),
        (["8", "7", "8"], [False, True, False], False),
        (["7", "8"], [True, False], True),  # a tie goes to the answer seen first
        (["8", "7"], [False, True], False),
        ([None, None, "7"], [False, False, True], True),  # no answer, no vote
        ([None, None], [False, False], False),
        (["x + 1", "x+1", "2"], [True, True, False], True),  # spacing does not split votes
    ],
)
def test_majority_correct(extracted, correct, expected):
    assert majority_correct(extracted, correct) is expected


def test_aggregate_greedy_and_sampled():
    greedy = [
        {
            "correct": [True],
            "extracted": ["1"],
            "finish_reasons": ["stop"],
            "num_tokens": [10],
            "seconds": 1.0,
        },
        {
            "correct": [False],
            "extracted": [None],
            "finish_reasons": ["length"],
            "num_tokens": [30],
            "seconds": 2.0,
        },
    ]
    result = aggregate(greedy, 1)
    assert result["primary"] == "pass@1"
    assert result["pass@1"] == 0.5
    assert result["no_answer_rate"] == 0.5
    assert result["truncated_rate"] == 0.5
    assert result["mean_tokens"] == 20
    assert result["seconds"] == 3.0

    sampled = [
        {"correct": [True, False, False, False], "extracted": ["1", "2", "2", "3"]},
        {"correct": [True, True, True, False], "extracted": ["5", "5", "5", "6"]},
    ]
    result = aggregate(sampled, 4)
    assert result["primary"] == "avg@4" == primary_metric(4)
    assert result["avg@4"] == pytest.approx(0.5)
    assert result["pass@4"] == 1.0
    assert result["maj@4"] == 0.5
    assert result["truncated_rate"] is None


def test_aggregate_of_nothing():
    assert aggregate([], 1) == {"items": 0, "samples": 1, "primary": "pass@1"}
