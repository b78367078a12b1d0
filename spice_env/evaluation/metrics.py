"""Scores of one problem's samples, and of a whole benchmark.

- ``pass@1``: the share of correct samples (with one greedy sample: plain accuracy);
- ``avg@k``: the same mean over ``k`` samples, the paper's number for AIME (avg@32);
- ``pass@k``: at least one of ``k`` samples correct (the unbiased estimator of Chen et al.
  2021 when more samples than ``k`` were drawn);
- ``maj@k``: the most frequent extracted answer is correct (majority vote, ties go to the
  answer seen first).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "TASK_TYPES",
    "aggregate",
    "favourite_letter",
    "letter_concentration",
    "majority_correct",
    "pass_at_k",
    "primary_metric",
]

TASK_TYPES = ("mcq", "free_form")
"""The task types a record's ``task_type`` names (the env's ``Task.task_type`` values)."""


def pass_at_k(num_samples: int, num_correct: int, k: int) -> float:
    """Unbiased pass@k from ``num_samples`` samples of which ``num_correct`` are correct.

    Args:
        num_samples: Samples drawn for the problem (n).
        num_correct: Correct samples among them (c).
        k: Samples allowed (k <= n).

    Returns:
        ``1 - C(n - c, k) / C(n, k)``: the chance that ``k`` samples drawn without
        replacement contain a correct one.

    Raises:
        ValueError: When ``k`` is not in ``[1, num_samples]``.
    """
    if not 1 <= k <= num_samples:
        raise ValueError(f"k={k} must be between 1 and the number of samples ({num_samples})")
    if num_samples - num_correct < k:
        return 1.0
    # The product form avoids huge binomials for n = 32 and beyond.
    return 1.0 - math.prod(
        1.0 - k / i for i in range(num_samples - num_correct + 1, num_samples + 1)
    )


def majority_correct(extracted: Sequence[str | None], correct: Sequence[bool]) -> bool:
    """Whether the majority answer among the samples is correct.

    Answers are grouped by their extracted text with spaces removed; samples with no
    extracted answer do not vote.

    Args:
        extracted: The extracted answer of each sample (``None`` when none was found).
        correct: Whether each sample was verified correct.

    Returns:
        True when the most frequent answer (first seen wins a tie) was verified correct.
    """
    votes: Counter[str] = Counter()
    verdict: dict[str, bool] = {}
    for answer, ok in zip(extracted, correct):
        if answer is None:
            continue
        key = "".join(answer.split())
        votes[key] += 1
        # Equal text means an equal verdict; keep the first in case the verifier timed out.
        verdict.setdefault(key, bool(ok))
    if not votes:
        return False
    best = max(votes.values())
    winner = next(key for key in votes if votes[key] == best)
    return verdict[winner]


def primary_metric(samples: int) -> str:
    """The headline metric of a protocol: ``pass@1`` (greedy) or ``avg@k`` (sampled)."""
    return "pass@1" if samples == 1 else f"avg@{samples}"


def aggregate(records: Sequence[Mapping[str, Any]], samples: int) -> dict[str, Any]:
    """Benchmark-level scores from per-item records.

    Args:
        records: Per-item records with ``correct`` (one bool per sample), ``extracted``
            (one answer or ``None`` per sample) and optionally ``finish_reasons``,
            ``num_tokens`` and ``seconds``.
        samples: Samples per item (k).

    Returns:
        ``items``, ``samples``, ``primary`` (the headline metric's name), the metrics (as
        fractions in [0, 1]), ``no_answer_rate``, ``truncated_rate`` (share of samples that hit
        the token budget, when the backend reported it), ``mean_tokens`` and ``seconds``.
        When every record names its ``task_type``: ``by_task_type`` (items and score of the
        multiple-choice and free-form items) and, with multiple-choice items,
        ``mcq_letters`` (see :func:`letter_concentration`).
    """
    count = len(records)
    result: dict[str, Any] = {
        "items": count,
        "samples": samples,
        "primary": primary_metric(samples),
    }
    if count == 0:
        return result
    per_item = [sum(map(bool, r["correct"])) / max(len(r["correct"]), 1) for r in records]
    mean_correct = sum(per_item) / count
    if samples == 1:
        result["pass@1"] = mean_correct
    else:
        result[f"avg@{samples}"] = mean_correct
        result["pass@1"] = mean_correct
        result[f"pass@{samples}"] = sum(any(r["correct"]) for r in records) / count
        result[f"maj@{samples}"] = (
            sum(majority_correct(r["extracted"], r["correct"]) for r in records) / count
        )
    all_extracted = [e for r in records for e in r["extracted"]]
    result["no_answer_rate"] = sum(e is None for e in all_extracted) / max(len(all_extracted), 1)
    reasons = [f for r in records for f in (r.get("finish_reasons") or []) if f]
    result["truncated_rate"] = (
        sum(f == "length" for f in reasons) / len(reasons) if reasons else None
    )
    tokens = [t for r in records for t in (r.get("num_tokens") or []) if t is not None]
    result["mean_tokens"] = sum(tokens) / len(tokens) if tokens else None
    result["seconds"] = sum(float(r.get("seconds") or 0.0) for r in records)
    if all(r.get("task_type") in TASK_TYPES for r in records):
        result["by_task_type"] = _by_task_type(records)
        letters = letter_concentration([r for r in records if r["task_type"] == "mcq"])
        if letters is not None:
            result["mcq_letters"] = letters
    return result


def _by_task_type(records: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Items and mean pass rate of each task type present (multiple choice, free form)."""
    out: dict[str, dict[str, Any]] = {}
    for kind in TASK_TYPES:
        chosen = [r for r in records if r["task_type"] == kind]
        if chosen:
            rates = [sum(map(bool, r["correct"])) / max(len(r["correct"]), 1) for r in chosen]
            out[kind] = {"items": len(chosen), "score": sum(rates) / len(rates)}
    return out


def favourite_letter(counts: Mapping[str, int]) -> dict[str, Any] | None:
    """The option letter chosen most often (ties: the first in sorted order) and its share of
    all answers. An answer that is not one capital letter (``"none"``, which the verifier could
    not read, or a number boxed instead of a letter) counts in the total but is never the
    favourite.

    Returns:
        ``None`` without a letter among the answers, else ``letter``, ``share`` and
        ``answers`` (the total).
    """
    total = sum(counts.values())
    letters = {k: v for k, v in counts.items() if len(k) == 1 and "A" <= k <= "Z"}
    if not total or not letters:
        return None
    letter = max(sorted(letters), key=letters.__getitem__)
    return {"letter": letter, "share": letters[letter] / total, "answers": total}


def letter_concentration(records: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """How much of a model's multiple-choice score one favourite letter explains.

    A policy trained on guessed answers can collapse onto one letter; its score then moves
    with how often that letter is the gold, not with what it knows. This puts the score next
    to the score of answering the favourite letter to every item.

    Args:
        records: Per-item records of multiple-choice items (``gold`` a letter, ``extracted``
            one answer or ``None`` per sample).

    Returns:
        ``None`` without items, else ``letter`` (the most frequent extracted answer), ``share``
        (its fraction of all samples, unanswered ones included), ``always_letter_score`` (the
        score of answering that letter everywhere: per item, the share of its views whose
        gold is that letter, averaged), ``answers`` (count per extracted letter) and
        ``golds`` (count per gold letter over all views).
    """
    if not records:
        return None
    chosen = Counter("none" if e is None else e for r in records for e in r["extracted"])
    # An item asked in several rotations has a gold letter per rotation (``golds``).
    shown = [(r.get("golds") or [r["gold"]] * len(r["extracted"])) for r in records]
    golds = Counter(str(g) for views in shown for g in views)
    answers = {k: v for k, v in chosen.most_common() if k != "none"}
    favourite = favourite_letter(chosen)
    if favourite is None:
        return {
            "letter": None,
            "share": 0.0,
            "always_letter_score": None,
            "answers": answers,
            "golds": dict(sorted(golds.items())),
        }
    letter = favourite["letter"]
    always = [sum(str(g) == letter for g in views) / len(views) for views in shown if views]
    return {
        "letter": letter,
        "share": favourite["share"],
        "always_letter_score": sum(always) / len(always) if always else None,
        "answers": answers,
        "golds": dict(sorted(golds.items())),
    }
