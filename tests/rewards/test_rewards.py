"""Every registered reward shape, pinned at the pass rates of K = 8."""

import math

import pytest

from spice_env.rewards import (
    list_challenger_rewards,
    make_challenger_reward,
    make_reasoner_reward,
    register_challenger_reward,
    register_reasoner_reward,
    repetition_penalties,
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


def test_repetition_penalties_group_similar_questions():
    qs = ["What is 2+2?", "What is 2 + 2?", "Name the capital of France."]
    penalties = repetition_penalties(qs)
    assert penalties[0] == penalties[1] == pytest.approx(2 / 3)
    assert penalties[2] == pytest.approx(1 / 3)
    assert repetition_penalties([]) == []
