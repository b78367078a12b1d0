"""Significance tests against values worked out by hand or published in textbooks."""

import pytest

from spice_env.evaluation.stats import (
    mcnemar_exact,
    paired_bootstrap,
    sign_flip_test,
    two_proportion_test,
)


def test_mcnemar_exact_counts_discordant_pairs_and_matches_the_binomial_tail():
    # b = 1, c = 6: p = 2 * P(X <= 1 | n = 7, 1/2) = 2 * 8 / 128 = 0.125
    before = [True] * 5 + [True] + [False] * 6 + [False] * 4
    after = [True] * 5 + [False] + [True] * 6 + [False] * 4
    result = mcnemar_exact(before, after)
    assert (result["b"], result["c"], result["n"]) == (1, 6, 16)
    assert result["p_value"] == pytest.approx(0.125)
    # b = 0, c = 10: p = 2 / 1024
    assert mcnemar_exact([False] * 10, [True] * 10)["p_value"] == pytest.approx(2 / 1024)
    # No discordant pair: nothing to test.
    assert mcnemar_exact([True, False], [True, False])["p_value"] == 1.0
    with pytest.raises(ValueError, match="pair"):
        mcnemar_exact([True], [True, False])


def test_two_proportion_test_on_a_textbook_example():
    # 45/100 vs 60/100: pooled 0.525, z = 0.15 / sqrt(0.525 * 0.475 * 0.02) = 2.1240
    result = two_proportion_test(45, 100, 60, 100)
    assert result["z"] == pytest.approx(2.1240, abs=1e-3)
    assert result["p_value"] == pytest.approx(0.03367, abs=2e-4)
    assert two_proportion_test(5, 10, 5, 10)["p_value"] == pytest.approx(1.0)


def test_paired_bootstrap_interval_brackets_the_difference():
    before = [0.0, 0.25, 0.5, 0.25, 0.0, 0.5] * 10
    after = [x + 0.25 for x in before]
    result = paired_bootstrap(before, after, iterations=2000)
    assert result["mean_difference"] == pytest.approx(0.25)
    assert result["low"] == pytest.approx(0.25) and result["high"] == pytest.approx(0.25)
    noisy = paired_bootstrap([0, 1, 0, 1] * 5, [1, 0, 0, 1] * 5, iterations=2000)
    assert noisy["low"] < 0 < noisy["high"] and noisy["p_value"] > 0.5


def test_sign_flip_test_matches_the_exact_binomial_on_equal_differences():
    # One-sample sign test: with every informative difference of the same size, the
    # randomization distribution is the binomial one, so the p-value is McNemar's.
    before = [True] * 5 + [True] + [False] * 6 + [False] * 4
    after = [True] * 5 + [False] + [True] * 6 + [False] * 4
    flip = sign_flip_test([float(x) for x in before], [float(x) for x in after])
    assert flip["informative"] == 7 and flip["n"] == 16
    assert flip["p_value"] == pytest.approx(mcnemar_exact(before, after)["p_value"], abs=0.005)
    assert sign_flip_test([0.0] * 10, [1.0] * 10)["p_value"] == pytest.approx(2 / 1024, abs=5e-4)


def test_sign_flip_test_on_pass_rates():
    # Per-item pass rates over K samples: a consistent small lift is significant, a lift of
    # one item in a sea of ties is not, and no difference at all gives p = 1.
    before = [0.0, 0.125, 0.25, 0.5] * 25
    assert sign_flip_test(before, [x + 0.125 for x in before])["p_value"] < 1e-3
    one = sign_flip_test(before, [before[0] + 0.5, *before[1:]])
    assert one["informative"] == 1 and one["p_value"] > 0.5
    assert sign_flip_test(before, before)["p_value"] == 1.0
    with pytest.raises(ValueError, match="pair"):
        sign_flip_test([0.0], [0.0, 1.0])
