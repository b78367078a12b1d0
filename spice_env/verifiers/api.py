"""The public entry points: ``check``, ``verify`` and ``verify_many``.

A check is: pick the answer type (given, or detected from the gold), extract the answer from
the prediction, then compare by type. Fast paths (exact text, exact numbers, float evaluation)
run in-process on size-bounded input; only undecided math goes to a sympy worker process that
is killed on timeout. No path evaluates model text as code.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from rapidfuzz import fuzz

from ._pool import default_pool
from ._types import AnswerType, VerifierConfig, VerifyResult, coerce_answer_type
from .compare import SymbolicCheck, compare_math
from .evaluate import NotEvaluable, exact_value
from .extraction import (
    _letter_form,
    _option_text_letter,
    extract_math_answer,
    extract_mcq_with_reason,
    extract_string_answer,
)
from .extraction import extract_answer as _extract_answer
from .mathparse import ParseError, parse_math
from .normalize import clean_math, normalize_text, strip_text_wrappers

__all__ = ["check", "detect_answer_type", "extract_answer", "verify", "verify_many"]

DEFAULT_CONFIG = VerifierConfig()
_WORDS = re.compile(r"[A-Za-z][A-Za-z '\-.,&]*")
_LONG_WORD = re.compile(r"[A-Za-z]{3,}")
_MATH_NAMES = frozenset(["sin", "cos", "tan", "log", "exp", "sqrt", "frac", "pi", "inf", "infty"])
_WHITESPACE = re.compile(r"\s+")
_PARALLEL_MIN_BATCH = 64


# --- answer types ------------------------------------------------------------------------------


def detect_answer_type(gold: str, letters: str = "ABCD") -> AnswerType:
    """Guess the answer type from a gold answer.

    Args:
        gold: The gold answer text.
        letters: Letters that mark a multiple-choice gold.

    Returns:
        ``MCQ`` for a lone option letter, ``INTEGER`` for an integer (thousands separators
        allowed), ``STRING`` for words, else ``EXPRESSION``.
    """
    text = strip_text_wrappers(clean_math(gold)).strip()
    if re.fullmatch(rf"\(?[{letters}]\)?", text):
        return AnswerType.MCQ
    if re.fullmatch(r"[+-]?\d+", text):
        return AnswerType.INTEGER
    if _WORDS.fullmatch(text) and any(
        word.lower() not in _MATH_NAMES for word in _LONG_WORD.findall(text)
    ):
        return AnswerType.STRING
    return AnswerType.EXPRESSION


# --- parsing with a cache (gold answers repeat across the K answers to one task) -------------


@functools.lru_cache(maxsize=16_384)
def _parse_cached(text: str, max_depth: int) -> tuple | None:
    try:
        return parse_math(text, max_depth=max_depth)
    except ParseError:
        return None


def _canonical(text: str) -> str:
    return _WHITESPACE.sub("", strip_text_wrappers(clean_math(text)))


def _symbolic(config: VerifierConfig) -> SymbolicCheck | None:
    if not config.use_worker:
        return None
    return default_pool(config.worker_memory_mb).run


# --- comparison by type ------------------------------------------------------------------------


def _check_mcq(
    gold: str, prediction: str, options: Sequence[str] | None, config: VerifierConfig
) -> VerifyResult:
    letters = config.mcq_letters
    gold_letter = _letter_form(strip_text_wrappers(gold), "ABCDEFGHIJ")
    if gold_letter is None and options:
        gold_letter = _option_text_letter(gold, options, letters)
    if gold_letter is None:
        return VerifyResult(False, "gold_unparsable", None)
    if gold_letter not in letters:
        letters += gold_letter
    letter, how = extract_mcq_with_reason(prediction[-config.max_input_chars :], letters, options)
    if letter is None:
        return VerifyResult(False, "no_answer_found", None)
    return VerifyResult(letter == gold_letter, how if letter == gold_letter else "mismatch", letter)


def _compare_strings(gold: str, extracted: str, config: VerifierConfig) -> VerifyResult:
    gold_words = normalize_text(gold)
    if not gold_words:
        return VerifyResult(False, "gold_unparsable", extracted)
    pred_words = normalize_text(extracted)
    if pred_words == gold_words:
        return VerifyResult(True, "exact", extracted)
    if pred_words and fuzz.ratio(gold_words, pred_words) >= config.string_threshold:
        return VerifyResult(True, "string_fuzzy", extracted)
    return VerifyResult(False, "mismatch", extracted)


def _check_string(gold: str, prediction: str, config: VerifierConfig) -> VerifyResult:
    extracted = extract_string_answer(prediction[-config.max_input_chars :])
    if extracted is None:
        if not normalize_text(gold):
            return VerifyResult(False, "gold_unparsable", None)
        return VerifyResult(False, "no_answer_found", None)
    return _compare_strings(gold, extracted, config)


def _check_math(
    gold: str,
    prediction: str,
    answer_type: AnswerType,
    detected: bool,
    config: VerifierConfig,
) -> VerifyResult:
    gold_clean = clean_math(gold)
    gold_tree = _parse_cached(gold_clean, config.max_parse_depth) if gold_clean else None
    if gold_tree is None:
        if detected and "\\begin" in gold_clean:
            # Matrices and other environments are compared as canonical text.
            extracted = extract_math_answer(prediction[-config.max_input_chars :])
            same = extracted is not None and _canonical(extracted) == _canonical(gold)
            return VerifyResult(same, "exact" if same else "mismatch", extracted)
        return VerifyResult(False, "gold_unparsable", None)
    if answer_type is AnswerType.INTEGER and not detected:
        try:
            exact_value(gold_tree, config.max_exact_bits)
        except NotEvaluable:
            return VerifyResult(False, "gold_unparsable", None)
    extracted = extract_math_answer(prediction[-config.max_input_chars :])
    if extracted is None:
        return VerifyResult(False, "no_answer_found", None)
    if len(extracted) > config.max_answer_chars:
        return VerifyResult(False, "too_large", extracted[:80])
    if _canonical(extracted) == _canonical(gold):
        return VerifyResult(True, "exact", extracted)
    pred_clean = clean_math(extracted)
    pred_tree = _parse_cached(pred_clean, config.max_parse_depth) if pred_clean else None
    if pred_tree is None:
        return VerifyResult(False, "pred_unparsable", extracted)
    deadline = time.monotonic() + config.timeout_s
    decision, reason = compare_math(gold_tree, pred_tree, config, _symbolic(config), deadline)
    if decision is None:
        return VerifyResult(False, reason, extracted)
    return VerifyResult(decision, reason if decision else "mismatch", extracted)


def _as_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return None


def _check(
    gold: Any,
    prediction: Any,
    answer_type: AnswerType | str | None,
    options: Sequence[str] | None,
    config: VerifierConfig,
) -> VerifyResult:
    gold_text = _as_text(gold)
    if gold_text is None or not gold_text.strip():
        return VerifyResult(False, "gold_unparsable", None)
    if len(gold_text) > config.max_input_chars:
        return VerifyResult(False, "too_large", None)
    resolved = coerce_answer_type(answer_type)
    detected = resolved is None
    if resolved is None:
        resolved = detect_answer_type(gold_text, config.mcq_letters)
    # Predictions are model text: anything but a string (None, bytes, numbers) is no answer.
    prediction_text = prediction if isinstance(prediction, str) else None
    if prediction_text is None or not prediction_text.strip():
        return VerifyResult(False, "no_answer_found", None)
    if resolved is AnswerType.MCQ:
        return _check_mcq(gold_text, prediction_text, options, config)
    if resolved is AnswerType.STRING:
        return _check_string(gold_text, prediction_text, config)
    return _check_math(gold_text, prediction_text, resolved, detected, config)


# --- public API --------------------------------------------------------------------------------


def extract_answer(
    text: str,
    answer_type: AnswerType | str | None = None,
    options: Sequence[str] | None = None,
) -> str | None:
    """Extract the final answer from a model output, without comparing it to anything.

    Args:
        text: Raw model output (a bare answer or a reasoning text ending in ``\\boxed{}``).
        answer_type: ``AnswerType``, its name (case-insensitive) or ``None`` for math-style.
        options: MCQ option texts in A-D order, to map a stated option text to its letter.

    Returns:
        The extracted answer (a letter for MCQ), or ``None`` when none was found.
    """
    try:
        return _extract_answer(
            text, coerce_answer_type(answer_type), options, max_input_chars=20_000
        )
    except Exception:
        return None


def check(
    gold: str,
    prediction: str,
    answer_type: AnswerType | str | None = None,
    *,
    options: Sequence[str] | None = None,
    config: VerifierConfig | None = None,
) -> VerifyResult:
    """Check a raw model output against a gold answer. Never raises.

    Args:
        gold: The gold answer (trusted to be short; over-long golds give ``too_large``).
        prediction: Raw model output; non-strings give ``no_answer_found``.
        answer_type: ``AnswerType``, its name (case-insensitive) or ``None`` to detect it
            from the gold.
        options: The four MCQ option texts in A-D order, so that an answer stating the option
            text instead of its letter can be matched.
        config: Tolerances and bounds; ``None`` uses the defaults.

    Returns:
        A ``VerifyResult``: ``correct``, a short ``reason`` and the ``extracted`` answer.
        ``check(gold, gold, type)`` is correct exactly when the gold is a well-formed answer.
    """
    config = config or DEFAULT_CONFIG
    try:
        return _check(gold, prediction, answer_type, options, config)
    except RecursionError:
        return VerifyResult(False, "too_large", None)
    except Exception as exc:  # model text must never crash a training step
        return VerifyResult(False, f"internal_error:{type(exc).__name__}", None)


def verify(
    gold: str,
    prediction: str,
    answer_type: AnswerType | str | None = None,
    *,
    options: Sequence[str] | None = None,
    config: VerifierConfig | None = None,
) -> bool:
    """``check(...).correct``: whether the prediction is equivalent to the gold answer.

    Args:
        gold: The gold answer.
        prediction: Raw model output.
        answer_type: ``AnswerType``, its name or ``None`` (detect).
        options: MCQ option texts in A-D order.
        config: Tolerances and bounds.

    Returns:
        True when the prediction verifies.
    """
    return check(gold, prediction, answer_type, options=options, config=config).correct


def _check_chunk(
    rows: list[tuple[Any, Any, Any, Any]], config: VerifierConfig
) -> list[VerifyResult]:
    return [check(g, p, t, options=o, config=config) for g, p, t, o in rows]


def verify_many(
    golds: Sequence[str],
    predictions: Sequence[str],
    answer_types: Sequence[AnswerType | str | None] | AnswerType | str | None = None,
    *,
    options: Sequence[Sequence[str] | None] | None = None,
    config: VerifierConfig | None = None,
    workers: int | None = None,
) -> list[VerifyResult]:
    """Check many (gold, prediction) pairs; the batch entry used by the env and evaluation.

    Args:
        golds: Gold answers.
        predictions: Raw model outputs, one per gold.
        answer_types: One type for all pairs, or one per pair (``None`` entries detect).
        options: Per-pair MCQ option lists (``None`` entries for non-MCQ pairs).
        config: Tolerances and bounds.
        workers: Processes to spread a large batch over (``None`` or 1: in this process).
            Worth it from a few hundred pairs; small batches always run in-process.

    Returns:
        One ``VerifyResult`` per pair, in order.

    Raises:
        ValueError: When the sequences have different lengths (a caller bug, not model text).
    """
    config = config or DEFAULT_CONFIG
    count = len(golds)
    if len(predictions) != count:
        raise ValueError(f"{count} golds but {len(predictions)} predictions; pass one per gold")
    if answer_types is None or isinstance(answer_types, (str, AnswerType)):
        types: Sequence[Any] = [answer_types] * count
    else:
        types = list(answer_types)
        if len(types) != count:
            raise ValueError(f"{count} golds but {len(types)} answer types; pass one per gold")
    option_lists: Sequence[Any] = [None] * count if options is None else list(options)
    if len(option_lists) != count:
        raise ValueError(f"{count} golds but {len(option_lists)} option lists; pass one per gold")
    rows = list(zip(golds, predictions, types, option_lists))
    if not workers or workers <= 1 or count < _PARALLEL_MIN_BATCH:
        return _check_chunk(rows, config)
    from ._pool import _context

    chunk = max(16, count // (workers * 4))
    chunks = [rows[start : start + chunk] for start in range(0, count, chunk)]
    with ProcessPoolExecutor(max_workers=workers, mp_context=_context()) as executor:
        parts = executor.map(_check_chunk, chunks, [config] * len(chunks))
        return [result for part in parts for result in part]
