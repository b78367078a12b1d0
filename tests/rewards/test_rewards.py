"""Every registered reward shape, pinned at the pass rates of K = 8."""

import math

import numpy as np
import pytest

from spice_env.rewards import (
    average_linkage_clusters,
    bleu_distances,
    list_challenger_rewards,
    make_challenger_reward,
    make_reasoner_reward,
    register_challenger_reward,
    register_reasoner_reward,
    repetition_penalties,
    sentence_bleu,
)
from spice_env.tasks import InvalidReason


def outcomes(correct, k=8):
    return [1.0] * correct + [0.0] * (k - correct)


# value at p = 0/8 ... 8/8, then invalid penalty (unparsable, formatted-but-invalid)
PINNED = {
    "spice": ([0.044, 0.372, 0.823, 0.988, 1.0, 0.988, 0.823, 0.372, 0.044], -0.1, -0.1),
    "absolute_zero": ([0.0, 0.875, 0.75, 0.625, 0.5, 0.375, 0.25, 0.125, 0.0], -1.0, -0.5),
    "threshold": ([0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0], -0.1, -0.1),
    "r_zero": ([0.0, 0.25, 0.5, 0.75, 1.0, 0.75, 0.5, 0.25, 0.0], -1.0, -1.0),
    "learnability": ([0.0, 0.4375, 0.75, 0.9375, 1.0, 0.9375, 0.75, 0.4375, 0.0], -0.1, -0.1),
}


@pytest.mark.parametrize("name", sorted(PINNED))
def test_pinned_values(name):
    shape = make_challenger_reward(name)
    values, unparsable, formatted = PINNED[name]
    assert [round(shape(outcomes(i)), 4 if name != "spice" else 3) for i in range(9)] == values
    assert shape.invalid(InvalidReason.UNPARSABLE) == unparsable
    assert shape.invalid(InvalidReason.NOT_GROUNDED) == formatted


def test_spice_matches_the_formula_and_paper_numbers():
    shape = make_challenger_reward("spice")
    for i in range(9):
        p = i / 8
        assert shape(outcomes(i)) == pytest.approx(math.exp(-((p * (1 - p) - 0.25) ** 2) / 0.02))
    assert [round(shape(outcomes(i)), 3) for i in (0, 1, 2, 3, 4)] == [
        0.044,
        0.372,
        0.823,
        0.988,
        1.0,
    ]
    assert shape.invalid() == -0.1


def test_every_registered_shape_is_pinned():
    assert set(PINNED) <= set(list_challenger_rewards())


def test_shape_parameters_and_validation():
    wide = make_challenger_reward("spice", tau=0.1)
    assert wide(outcomes(0)) > make_challenger_reward("spice")(outcomes(0))
    with pytest.raises(ValueError, match="tau"):
        make_challenger_reward("spice", tau=0)
    with pytest.raises(ValueError, match="unknown Challenger reward shape 'nope'"):
        make_challenger_reward("nope")
    with pytest.raises(ValueError, match="at least one"):
        make_challenger_reward("spice")([])


def test_plain_callable_and_registration():
    shape = make_challenger_reward(lambda o: sum(o) / len(o))
    assert shape(outcomes(2)) == 0.25 and shape.invalid() == -0.1
    register_challenger_reward("test_hardness", lambda o: 1 - sum(o) / len(o), overwrite=True)
    assert make_challenger_reward("test_hardness")(outcomes(6)) == 0.25
    with pytest.raises(ValueError, match="already registered"):
        register_challenger_reward("spice", lambda o: 0.0)


def test_reasoner_rewards():
    class R:
        def __init__(self, correct, extracted):
            self.correct, self.extracted = correct, extracted

    correctness = make_reasoner_reward("correctness")
    assert (
        correctness(R(True, "1"), None, "") == 1.0 and correctness(R(False, "2"), None, "") == 0.0
    )
    fmt = make_reasoner_reward("format_aware")
    assert fmt(R(False, None), None, "") == -0.1 and fmt(R(False, "x"), None, "") == 0.0
    register_reasoner_reward("test_len", lambda result, task, answer: -len(answer), overwrite=True)
    assert make_reasoner_reward("test_len")(R(True, "1"), None, "abc") == -3


# -- R-Zero's repetition penalty: BLEU distances, average-linkage clusters, cluster shares -----
def test_sentence_bleu_follows_the_definition():
    # clipped n-gram precisions 5/6, 3/5, 1/4 and 0/3 (smoothed to 0.1/3), equal lengths
    expected = (5 / 6 * 3 / 5 * 1 / 4 * 0.1 / 3) ** 0.25
    assert sentence_bleu("the cat sat on the mat", "the cat is on the mat") == pytest.approx(
        expected
    )
    # a shorter hypothesis with every n-gram matched pays the brevity penalty exp(1 - r / c)
    assert sentence_bleu("the cat sat on", "the cat sat on the mat") == pytest.approx(
        math.exp(1 - 6 / 4)
    )
    assert sentence_bleu("a b c d e", "a b c d e") == pytest.approx(1.0)
    # no shared word, or nothing to score: 0
    assert sentence_bleu("alpha beta gamma delta", "one two three four") == 0.0
    assert sentence_bleu("", "one two") == 0.0 and sentence_bleu("one two", "") == 0.0
    # one word against itself: three empty orders at 0.1 each
    assert sentence_bleu("hello", "hello") == pytest.approx(0.1**0.75)


def test_bleu_distances_are_one_minus_bleu_of_the_earlier_question():
    questions = [
        "What is the sum of the first ten positive odd integers?",
        "What is the sum of the first ten odd integers?",
        "Which river flows past Lyon?",
        "",
        "What is the sum of the first ten positive odd integers?",
    ]
    distances = bleu_distances(questions)
    assert distances.shape == (5, 5)
    assert np.array_equal(distances, distances.T) and not distances.diagonal().any()
    for i in range(5):
        for j in range(i + 1, 5):
            assert distances[i, j] == pytest.approx(1 - sentence_bleu(questions[i], questions[j]))
    assert distances[0, 4] == pytest.approx(0.0)  # a repeat
    assert distances[0, 2] == distances[2, 3] == 1.0  # nothing in common


def test_average_linkage_stops_at_the_threshold():
    # A-B and B-C are close, A-C is far: average linkage merges A and B (0.4), then the pair's
    # mean distance to C is (0.8 + 0.4) / 2 = 0.6 >= 0.5, so C stays alone (single linkage,
    # or a greedy walk from C, would chain all three).
    distances = np.array([[0.0, 0.4, 0.8], [0.4, 0.0, 0.4], [0.8, 0.4, 0.0]])
    assert average_linkage_clusters(distances, 0.5) == [0, 0, 1]
    assert average_linkage_clusters(distances, 0.61) == [0, 0, 0]
    # exactly at the threshold: apart
    assert average_linkage_clusters(np.array([[0.0, 0.5], [0.5, 0.0]]), 0.5) == [0, 1]
    assert average_linkage_clusters(np.zeros((0, 0)), 0.5) == []


def test_repetition_penalties_are_cluster_shares_of_the_whole_batch():
    batch = [
        "What is the sum of the first ten positive odd integers in the list?",
        "Which river flows through the old town described in the passage?",
        "What is the sum of the first ten positive odd integers in this list?",
        "",
        "Which river flows through the old town described in the passage above?",
        "What is the sum of the first ten positive odd integers in that list?",
        # a regression row: token-set ratio 75.7 grouped these two; their BLEU is 0.22
        "What is the value of x?",
        "What is the capital of France?",
    ]
    penalties = repetition_penalties(batch)
    assert penalties == pytest.approx([3 / 8, 2 / 8, 3 / 8, 1 / 8, 2 / 8, 3 / 8, 1 / 8, 1 / 8])
    assert repetition_penalties([]) == []
    # the same batch in another order gives each question the same penalty here
    order = [5, 3, 0, 7, 1, 6, 4, 2]
    shuffled = repetition_penalties([batch[i] for i in order])
    assert shuffled == pytest.approx([penalties[i] for i in order])
