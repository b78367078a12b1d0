"""R-Zero's batch repetition penalty: BLEU distances, average-linkage clusters, cluster shares.

R-Zero (Huang et al., 2025) discourages a Challenger from writing the same question many times
in one batch. Every pair of questions in the batch gets the distance ``1 - BLEU``; the questions
are clustered bottom-up with average linkage, never merging two clusters whose mean distance
is 0.5 or more; a question's penalty is the size of its cluster divided by the batch size.

Everything here is a pure function over the batch, written from the definitions:

- :func:`sentence_bleu`: BLEU-4 of one hypothesis against one reference (Papineni et al.,
  2002): clipped n-gram precisions for n = 1..4, uniform weights, brevity penalty, with
  epsilon smoothing of zero precisions (0.1 matches, Chen and Cherry's method 1). Questions are
  split on whitespace. A pair with no word in common scores 0.
- :func:`bleu_distances`: the matrix ``1 - BLEU(earlier question, later question)`` (the
  earlier one is the hypothesis, as in R-Zero), symmetric, zero on the diagonal.
- :func:`average_linkage_clusters`: agglomerative clustering (UPGMA) cut at a distance.
- :func:`repetition_penalties`: the three together.

The penalty depends on the order of the batch only through which question of a pair is the
hypothesis, so a trainer that splits the batch over processes must gather every process's
questions and order them the same way everywhere (the GRPO agent orders them by document).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence

import numpy as np

__all__ = [
    "average_linkage_clusters",
    "bleu_distances",
    "repetition_penalties",
    "sentence_bleu",
]

MAX_ORDER = 4
"""BLEU-4: n-grams up to four words."""
SMOOTHING_EPSILON = 0.1
"""The match count given to an n-gram order without any match (smoothing method 1)."""


def _ngram_counts(words: Sequence[str]) -> list[Counter[tuple[str, ...]]]:
    return [
        Counter(tuple(words[i : i + n]) for i in range(len(words) - n + 1))
        for n in range(1, MAX_ORDER + 1)
    ]


def _bleu(
    hypothesis: list[Counter[tuple[str, ...]]],
    hypothesis_length: int,
    reference: list[Counter[tuple[str, ...]]],
    reference_length: int,
) -> float:
    """BLEU-4 from precomputed n-gram counts (see :func:`sentence_bleu`)."""
    if hypothesis_length == 0:
        return 0.0
    log_precision = 0.0
    for order, (hyp, ref) in enumerate(zip(hypothesis, reference), start=1):
        matches = sum(min(count, ref[gram]) for gram, count in hyp.items() if gram in ref)
        if order == 1 and matches == 0:
            return 0.0  # no word in common: no higher-order match either
        # An order the hypothesis is too short for still counts one (empty) n-gram slot.
        total = max(1, hypothesis_length - order + 1)
        log_precision += math.log((matches or SMOOTHING_EPSILON) / total) / MAX_ORDER
    if hypothesis_length > reference_length:
        brevity = 1.0
    else:
        brevity = math.exp(1.0 - reference_length / hypothesis_length)
    return brevity * math.exp(log_precision)


def sentence_bleu(hypothesis: str, reference: str) -> float:
    """BLEU-4 of ``hypothesis`` against one ``reference``, both split on whitespace.

    Args:
        hypothesis: The sentence being scored.
        reference: The sentence it is compared with.

    Returns:
        A score in [0, 1]: 1 for identical sentences of four words or more, 0 when no word is
        shared. Zero-match n-gram orders count 0.1 matches, so a sentence shorter than four
        words scores below 1 even against itself (0.1^0.75 ~= 0.18 for one word).
    """
    hyp, ref = hypothesis.split(), reference.split()
    return _bleu(_ngram_counts(hyp), len(hyp), _ngram_counts(ref), len(ref))


def bleu_distances(questions: Sequence[str]) -> np.ndarray:
    """Pairwise ``1 - BLEU`` of a batch of questions.

    Clipped n-gram matches are symmetric in the two sentences, so they are counted once per
    n-gram over the questions that contain it (an inverted index) instead of once per pair;
    only the precision denominators and the brevity penalty depend on which one is the
    hypothesis.

    Args:
        questions: The batch, in a fixed order.

    Returns:
        An ``[n, n]`` float array: entry ``(i, j)`` and ``(j, i)`` for ``i < j`` is
        ``1 - sentence_bleu(questions[i], questions[j])``; the diagonal is 0.
    """
    words = [question.split() for question in questions]
    size = len(words)
    lengths = np.array([len(w) for w in words], dtype=np.float64)
    log_precision = np.zeros((size, size))
    shares_a_word = np.zeros((size, size), dtype=bool)
    for order in range(1, MAX_ORDER + 1):
        matches = _clipped_matches(words, order)
        if order == 1:
            shares_a_word = matches > 0
        # Row i is the hypothesis: its n-gram count is the precision's denominator.
        totals = np.maximum(1.0, lengths - order + 1)[:, None]
        log_precision += np.log(np.where(matches > 0, matches, SMOOTHING_EPSILON) / totals)
    hyp, ref = lengths[:, None], lengths[None, :]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        brevity = np.where(hyp > ref, 1.0, np.exp(1.0 - ref / hyp))
        scores = np.where(
            shares_a_word & (hyp > 0), brevity * np.exp(log_precision / MAX_ORDER), 0.0
        )
    upper = np.triu(1.0 - scores, k=1)  # the earlier question is the hypothesis
    return upper + upper.T


def _clipped_matches(words: list[list[str]], order: int) -> np.ndarray:
    """``[n, n]`` sums over n-grams of ``min(count in i, count in j)`` (diagonal unused)."""
    postings: dict[tuple[str, ...], list[tuple[int, int]]] = defaultdict(list)
    for index, sentence in enumerate(words):
        grams = Counter(tuple(sentence[i : i + order]) for i in range(len(sentence) - order + 1))
        for gram, count in grams.items():
            postings[gram].append((index, count))
    matches = np.zeros((len(words), len(words)))
    for entries in postings.values():
        if len(entries) < 2:
            continue
        rows = np.array([index for index, _ in entries])
        counts = np.array([count for _, count in entries], dtype=np.float64)
        matches[np.ix_(rows, rows)] += np.minimum.outer(counts, counts)
    return matches


def average_linkage_clusters(distances: np.ndarray, threshold: float) -> list[int]:
    """Agglomerative clustering with average linkage, stopped at a distance.

    The two clusters with the smallest mean pairwise distance are merged while that distance
    is below ``threshold`` (ties: the pair that comes first in row order).

    Args:
        distances: A symmetric ``[n, n]`` distance matrix.
        threshold: Clusters at a mean distance of ``threshold`` or more stay apart.

    Returns:
        A cluster label per item, numbered in order of each cluster's first item.
    """
    matrix = np.array(distances, dtype=np.float64)
    size = matrix.shape[0]
    if size == 0:
        return []
    np.fill_diagonal(matrix, np.inf)
    counts = np.ones(size)
    root = list(range(size))  # the active row standing for each item's cluster
    while True:
        flat = int(np.argmin(matrix))
        i, j = divmod(flat, size)
        if not matrix[i, j] < threshold:
            break
        # Lance-Williams update for average linkage: the merged cluster's mean distance to
        # any other cluster is the size-weighted mean of its two parts' distances.
        merged = (counts[i] * matrix[i] + counts[j] * matrix[j]) / (counts[i] + counts[j])
        matrix[i, :] = matrix[:, i] = merged
        matrix[i, i] = np.inf
        matrix[j, :] = matrix[:, j] = np.inf
        counts[i] += counts[j]
        root = [i if r == j else r for r in root]
    labels: dict[int, int] = {}
    return [labels.setdefault(r, len(labels)) for r in root]


def repetition_penalties(questions: Sequence[str], distance_threshold: float = 0.5) -> list[float]:
    """R-Zero's repetition penalty of every question of a batch.

    Args:
        questions: The whole batch of questions (an unparsable task counts as ``""``), in an
            order that does not depend on how the batch was generated.
        distance_threshold: BLEU distance at which clusters stay apart (R-Zero: 0.5).

    Returns:
        Per question, the size of its cluster divided by the batch size (empty for an empty
        batch). Subtract it from the question's Challenger reward.
    """
    if not questions:
        return []
    labels = average_linkage_clusters(bleu_distances(questions), distance_threshold)
    sizes = Counter(labels)
    return [sizes[label] / len(questions) for label in labels]
