"""Significance tests for "did it learn?": paired (McNemar, bootstrap) and two-proportion.

Small, dependency-free implementations of textbook tests, so a training report can say
whether a lift is larger than chance:

- :func:`mcnemar_exact`: the same items judged before and after (a checkpoint's pass/fail on
  a fixed held-out task set); exact two-sided binomial test on the discordant pairs.
- :func:`paired_bootstrap`: a percentile interval for the mean paired difference (pass rates
  of the same tasks under two checkpoints, when each task has K samples).
- :func:`sign_flip_test`: the p-value for that mean paired difference: a randomization test
  that flips the sign of each item's difference (exact under "the two checkpoints are
  exchangeable on every item").
- :func:`two_proportion_test`: two independent samples of successes (the Challenger's valid
  rate in the first and the last quarter of a run); pooled two-sided z-test.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["mcnemar_exact", "paired_bootstrap", "sign_flip_test", "two_proportion_test"]


def mcnemar_exact(before: Sequence[bool], after: Sequence[bool]) -> dict[str, Any]:
    """Exact McNemar test on paired binary outcomes.

    Args:
        before: Outcome per item under the first condition.
        after: Outcome per item under the second condition (same items, same order).

    Returns:
        ``n``, ``before_rate``, ``after_rate``, ``b`` (right before, wrong after), ``c``
        (wrong before, right after) and the two-sided ``p_value``.

    Raises:
        ValueError: when the two sequences differ in length.
    """
    if len(before) != len(after):
        raise ValueError(f"{len(before)} outcomes before but {len(after)} after; pair them")
    b = sum(1 for x, y in zip(before, after) if x and not y)
    c = sum(1 for x, y in zip(before, after) if y and not x)
    discordant = b + c
    if discordant == 0:
        p_value = 1.0
    else:
        tail = sum(math.comb(discordant, i) for i in range(min(b, c) + 1))
        p_value = min(1.0, 2.0 * tail / 2.0**discordant)
    n = len(before)
    return {
        "n": n,
        "before_rate": sum(map(bool, before)) / n if n else None,
        "after_rate": sum(map(bool, after)) / n if n else None,
        "b": b,
        "c": c,
        "p_value": p_value,
    }


def paired_bootstrap(
    before: Sequence[float],
    after: Sequence[float],
    *,
    iterations: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, Any]:
    """Percentile bootstrap interval of ``mean(after - before)`` over paired items.

    Returns:
        ``n``, ``mean_difference``, ``low``, ``high`` and ``p_value`` (twice the share of
        resampled means on the far side of 0, a rough two-sided p).
    """
    if len(before) != len(after):
        raise ValueError(f"{len(before)} values before but {len(after)} after; pair them")
    differences = np.asarray(after, dtype=float) - np.asarray(before, dtype=float)
    if differences.size == 0:
        return {"n": 0, "mean_difference": None, "low": None, "high": None, "p_value": None}
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, differences.size, size=(iterations, differences.size))
    means = differences[picks].mean(axis=1)
    alpha = (1.0 - confidence) / 2.0
    observed = float(differences.mean())
    far_side = float(np.mean(means <= 0.0)) if observed > 0 else float(np.mean(means >= 0.0))
    return {
        "n": int(differences.size),
        "mean_difference": observed,
        "low": float(np.quantile(means, alpha)),
        "high": float(np.quantile(means, 1.0 - alpha)),
        "p_value": min(1.0, 2.0 * far_side),
    }


def sign_flip_test(
    before: Sequence[float],
    after: Sequence[float],
    *,
    iterations: int = 100_000,
    seed: int = 0,
) -> dict[str, Any]:
    """Two-sided paired randomization test of ``mean(after - before) = 0``.

    Under the null hypothesis the two conditions are exchangeable on every item, so each
    item's difference is as likely to have either sign. The p-value is the share of random
    sign assignments (the observed one included) whose mean is at least as far from 0 as the
    observed mean. Items with no difference carry no information and are left out.

    Args:
        before: Score per item under the first condition (e.g. a pass rate over K samples).
        after: Score per item under the second condition (same items, same order).
        iterations: Random sign assignments drawn.
        seed: Seed of the draws.

    Returns:
        ``n`` (items), ``informative`` (items whose scores differ), ``mean_difference`` and
        ``p_value``.

    Raises:
        ValueError: when the two sequences differ in length.
    """
    if len(before) != len(after):
        raise ValueError(f"{len(before)} values before but {len(after)} after; pair them")
    differences = np.asarray(after, dtype=float) - np.asarray(before, dtype=float)
    n = int(differences.size)
    informative = differences[differences != 0.0]
    if informative.size == 0:
        return {"n": n, "informative": 0, "mean_difference": 0.0 if n else None, "p_value": 1.0}
    observed = abs(float(informative.sum()))
    rng = np.random.default_rng(seed)
    extreme = 0
    chunk = max(1, min(iterations, 2_000_000 // informative.size))
    done = 0
    while done < iterations:
        size = min(chunk, iterations - done)
        signs = rng.integers(0, 2, size=(size, informative.size)) * 2 - 1
        sums = np.abs(signs @ informative)
        extreme += int(np.count_nonzero(sums >= observed - 1e-12))
        done += size
    return {
        "n": n,
        "informative": int(informative.size),
        "mean_difference": float(differences.mean()),
        "p_value": (extreme + 1) / (iterations + 1),
    }


def two_proportion_test(
    successes_a: int, trials_a: int, successes_b: int, trials_b: int
) -> dict[str, Any]:
    """Pooled two-sided z-test that two independent proportions are equal.

    Returns:
        ``rate_a``, ``rate_b``, ``difference`` (b - a), ``z`` and ``p_value``.
    """
    if trials_a <= 0 or trials_b <= 0:
        raise ValueError("both samples need at least one trial")
    rate_a, rate_b = successes_a / trials_a, successes_b / trials_b
    pooled = (successes_a + successes_b) / (trials_a + trials_b)
    spread = math.sqrt(pooled * (1.0 - pooled) * (1.0 / trials_a + 1.0 / trials_b))
    if spread == 0.0:
        z, p_value = 0.0, 1.0
    else:
        z = (rate_b - rate_a) / spread
        p_value = math.erfc(abs(z) / math.sqrt(2.0))
    return {
        "rate_a": rate_a,
        "rate_b": rate_b,
        "difference": rate_b - rate_a,
        "z": z,
        "p_value": p_value,
    }
