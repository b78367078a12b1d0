"""The public entry points: ``check``, ``verify``, ``verify_many`` and ``extract_answer``.

A check is: pick the answer type (given, or detected from the gold), extract the answer from
the prediction (:func:`.extraction.extract`, in the configured mode), then compare by type.
Extraction and comparison meet only through the :class:`~.extraction.Extraction` result.
Fast paths (exact text, exact numbers, float evaluation) run in-process on size-bounded input
under the per-call deadline; only undecided math goes to a sympy worker process that is
killed at that deadline. No path evaluates model text as code.
"""

from __future__ import annotations

import functools
import logging
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

from ._types import (
    INTEGER_PATTERN,
    AnswerType,
    Reason,
    VerificationMode,
    VerifierConfig,
    VerifyResult,
    coerce_answer_type,
)
from .compare import SymbolicCheck, compare_math, is_collection
from .evaluate import NotEvaluable, exact_value
from .extraction import Extraction, extract, find_box_groups, mcq_letter_of, option_text_letter
from .mathparse import ParseError, TooLargeToParse, parse_math
from .normalize import MATH_WORDS, clean_math, normalize_text, strip_text_wrappers
from .workers import default_pool

__all__ = [
    "check",
    "check_rows",
    "clear_caches",
    "detect_answer_type",
    "extract_answer",
    "verify",
    "verify_many",
]

DEFAULT_CONFIG = VerifierConfig()
_LOG = logging.getLogger(__name__)
_WORDS = re.compile(r"[A-Za-z][A-Za-z '\-.,&]*")
_LONG_WORD = re.compile(r"[A-Za-z]{3,}")
_WHITESPACE = re.compile(r"\s+")
_DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d+")
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
    if INTEGER_PATTERN.fullmatch(text):
        return AnswerType.INTEGER
    if _WORDS.fullmatch(text) and any(
        word.lower() not in MATH_WORDS for word in _LONG_WORD.findall(text)
    ):
        return AnswerType.STRING
    return AnswerType.EXPRESSION


def _gold_answer(gold: str) -> str:
    """The answer part of a gold: the content of its boxes when it has any."""
    if "box" in gold:
        groups = find_box_groups(gold)
        if groups:
            return ", ".join(item for item in dict.fromkeys(groups[-1]) if item)
    return gold.strip()


# --- parsing with a cache (gold answers repeat across the K answers to one task) -------------


@functools.lru_cache(maxsize=16_384)
def _parse_cached(text: str, max_depth: int, max_digits: int) -> tuple | Reason:
    try:
        return parse_math(text, max_depth=max_depth, max_digits=max_digits)
    except TooLargeToParse:
        return Reason.TOO_LARGE
    except ParseError:
        return Reason.PRED_UNPARSABLE


def _parse(text: str, config: VerifierConfig) -> tuple | Reason:
    if not text:
        return Reason.PRED_UNPARSABLE
    return _parse_cached(text, config.max_parse_depth, config.max_literal_digits)


def clear_caches() -> None:
    """Empty the parse cache of this process (benchmarks time uncached work with it)."""
    _parse_cached.cache_clear()


def _canonical(text: str) -> str:
    return _WHITESPACE.sub("", strip_text_wrappers(clean_math(text)))


def _symbolic(config: VerifierConfig) -> SymbolicCheck | None:
    if not config.use_worker:
        return None
    return default_pool(config.worker_memory_mb).run


def _config(config: VerifierConfig | Mapping[str, Any] | None) -> VerifierConfig:
    """The configuration to use: the defaults, a ``VerifierConfig``, or its fields as a dict
    (as a JSON training config stores it: ``{"mode": "lenient"}``)."""
    if config is None:
        return DEFAULT_CONFIG
    if isinstance(config, VerifierConfig):
        return config
    if isinstance(config, Mapping):
        return VerifierConfig(**config)
    raise TypeError(f"config must be a VerifierConfig or a dict of its fields, not {config!r}")


def _result(correct: bool, reason: Reason, extracted: str | None = None) -> VerifyResult:
    return VerifyResult(correct, reason, extracted)


def _missing(extraction: Extraction) -> VerifyResult:
    return _result(False, extraction.problem or Reason.NO_ANSWER, None)


# --- comparison by type ------------------------------------------------------------------------


def _check_mcq(
    gold: str, prediction: str, options: Sequence[str] | None, config: VerifierConfig
) -> VerifyResult:
    letters = config.mcq_letters
    gold_letter = mcq_letter_of(gold, "ABCDEFGHIJ")
    if gold_letter is None and options:
        gold_letter = option_text_letter(gold, options, letters)
    if gold_letter is None:
        return _result(False, Reason.GOLD_UNPARSABLE)
    if gold_letter not in letters:
        letters += gold_letter
    found = extract(
        prediction,
        AnswerType.MCQ,
        options,
        mode=config.mode,
        max_input_chars=config.max_input_chars,
        letters=letters,
    )
    if found.answer is None:
        return _missing(found)
    if found.how not in ("mcq_letter", "mcq_option_text"):
        return _result(False, Reason.MISMATCH, found.answer)  # a box that is no letter
    if found.answer != gold_letter:
        return _result(False, Reason.MISMATCH, found.answer)
    return _result(True, Reason(found.how), found.answer)


def _check_string(gold: str, prediction: str, config: VerifierConfig) -> VerifyResult:
    gold_words = normalize_text(gold)
    if not gold_words:
        return _result(False, Reason.GOLD_UNPARSABLE)
    found = extract(
        prediction, AnswerType.STRING, mode=config.mode, max_input_chars=config.max_input_chars
    )
    if found.answer is None:
        return _missing(found)
    if config.strict and len({normalize_text(answer) for answer in found.answers}) > 1:
        return _result(False, Reason.HEDGED)
    if normalize_text(found.answer) == gold_words:
        return _result(True, Reason.EXACT, found.answer)
    return _result(False, Reason.MISMATCH, found.answer)


def _decimal_comma(text: str) -> str | None:
    """``"1000,99"`` read as ``1000.99`` (a comma before other than three digits)."""
    if _DECIMAL_COMMA.fullmatch(text) and not re.fullmatch(r"[+-]?[1-9]\d{0,2}(?:,\d{3})+", text):
        return text.replace(",", ".")
    return None


def _check_math(
    gold: str,
    prediction: str,
    answer_type: AnswerType,
    detected: bool,
    config: VerifierConfig,
    deadline: float,
) -> VerifyResult:
    gold_clean = clean_math(gold)
    gold_tree = _parse(gold_clean, config)
    if answer_type is AnswerType.INTEGER and not detected:
        try:
            if isinstance(gold_tree, Reason):
                raise NotEvaluable("unparsable")
            exact_value(gold_tree, config.max_exact_bits)
        except NotEvaluable:
            return _result(False, Reason.GOLD_UNPARSABLE)
    found = extract(
        prediction, answer_type, mode=config.mode, max_input_chars=config.max_input_chars
    )
    if found.answer is None:
        return _missing(found)
    answer = found.answer
    gold_is_collection = not isinstance(gold_tree, Reason) and is_collection(gold_tree)
    if len(found.answers) > 1:
        # Several boxes close together: one list answer when the gold is a list; otherwise
        # a hedge (strict) or the last one (lenient).
        if gold_is_collection:
            answer = ", ".join(found.answers)
        elif config.strict:
            return _result(False, Reason.HEDGED)
    if isinstance(gold_tree, Reason):
        # A gold the parser cannot read is not a task (self-verification must fail on it),
        # except environments it does not know, which are compared as text.
        if "\\begin" in gold_clean and _canonical(answer) == _canonical(gold):
            return _result(True, Reason.EXACT, answer)
        if gold_tree is Reason.TOO_LARGE:
            return _result(False, Reason.TOO_LARGE)
        return _result(False, Reason.GOLD_UNPARSABLE)
    # Lenient mode falls back on the output's other readings when one is not well formed.
    candidates = [answer, *found.alternatives] if not config.strict else [answer]
    pred_tree: tuple | Reason = Reason.PRED_UNPARSABLE
    for candidate in candidates:
        if len(candidate) > config.max_answer_chars:
            pred_tree = Reason.TOO_LARGE
            continue
        if _canonical(candidate) == _canonical(gold):
            return _result(True, Reason.EXACT, candidate)
        pred_clean = clean_math(candidate)
        if not gold_is_collection:
            pred_clean = _decimal_comma(pred_clean) or pred_clean
        pred_tree = _parse(pred_clean, config)
        if not isinstance(pred_tree, Reason):
            answer = candidate
            break
    if isinstance(pred_tree, Reason):
        return _result(False, pred_tree, answer[:80])
    if isinstance(gold_tree, Reason):
        return _result(False, Reason.GOLD_UNPARSABLE)
    gold_decimal = _decimal_comma(gold_clean)
    if gold_decimal is not None and not is_collection(pred_tree):
        decimal_tree = _parse(gold_decimal, config)  # "1,22" against a single value is 1.22
        if not isinstance(decimal_tree, Reason):
            gold_tree, gold_is_collection = decimal_tree, False
    if config.strict and not gold_is_collection and is_collection(pred_tree):
        return _result(False, Reason.HEDGED)  # a list where one value is asked
    decision, reason = compare_math(gold_tree, pred_tree, config, _symbolic(config), deadline)
    if decision is None:
        return _result(False, reason, answer)
    return _result(decision, reason if decision else Reason.MISMATCH, answer)


def _as_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return str(value) if abs(value) < 10**1000 else None
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
    deadline = time.monotonic() + config.timeout_s
    gold_text = _as_text(gold)
    if gold_text is None or not gold_text.strip():
        return _result(False, Reason.GOLD_UNPARSABLE)
    if len(gold_text) > config.max_input_chars:
        return _result(False, Reason.TOO_LARGE)
    gold_text = _gold_answer(gold_text)
    if not gold_text:
        return _result(False, Reason.GOLD_UNPARSABLE)
    resolved = coerce_answer_type(answer_type)
    detected = resolved is None
    if resolved is None:
        resolved = detect_answer_type(gold_text, config.mcq_letters)
    # Predictions are model text: anything but a string (None, bytes, numbers) is no answer.
    prediction_text = prediction if isinstance(prediction, str) else None
    if prediction_text is None or not prediction_text.strip():
        return _result(False, Reason.NO_ANSWER)
    if resolved is AnswerType.MCQ:
        return _check_mcq(gold_text, prediction_text, options, config)
    if resolved is AnswerType.STRING:
        return _check_string(gold_text, prediction_text, config)
    return _check_math(gold_text, prediction_text, resolved, detected, config, deadline)


# --- public API --------------------------------------------------------------------------------


def extract_answer(
    text: str,
    answer_type: AnswerType | str | None = None,
    options: Sequence[str] | None = None,
    *,
    mode: VerificationMode | str = VerificationMode.LENIENT,
) -> str | None:
    """Extract the final answer from a model output, without comparing it to anything.

    Args:
        text: Raw model output (a bare answer or a reasoning text ending in ``\\boxed{}``).
        answer_type: ``AnswerType``, its name (case-insensitive) or ``None`` for math-style.
        options: MCQ option texts in A-D order, to map a stated option text to its letter.
        mode: ``"lenient"`` (the default here: every fallback, for reading and logging) or
            ``"strict"`` (only an unhedged ``\\boxed{}`` answer).

    Returns:
        The extracted answer (a letter for MCQ), or ``None`` when none was found.
    """
    try:
        return extract(text, coerce_answer_type(answer_type), options, mode=mode).answer
    except Exception:  # model text must never crash a caller
        _LOG.debug("extract_answer failed", exc_info=True)
        return None


def check(
    gold: str,
    prediction: str,
    answer_type: AnswerType | str | None = None,
    *,
    options: Sequence[str] | None = None,
    config: VerifierConfig | Mapping[str, Any] | None = None,
) -> VerifyResult:
    """Check a raw model output against a gold answer. Never raises.

    Args:
        gold: The gold answer (trusted to be short; over-long golds give ``too_large``). A
            gold written with ``$...$`` or ``\\boxed{}`` is read as its content.
        prediction: Raw model output; non-strings give ``no_answer_found``.
        answer_type: ``AnswerType``, its name (case-insensitive) or ``None`` to detect it
            from the gold.
        options: The four MCQ option texts in A-D order (lenient mode matches an answer
            that states the option text; strict mode uses them to check ``\\boxed{B) text}``).
        config: Mode, tolerances and bounds (a ``VerifierConfig`` or a dict of its fields);
            ``None`` uses the defaults (strict mode).

    Returns:
        A ``VerifyResult``: ``correct``, a :class:`~spice_env.verifiers.Reason` and the
        ``extracted`` answer. ``check(gold, "\\boxed{" + gold + "}", type)`` is correct
        exactly when the gold is a well-formed answer.

    Raises:
        TypeError, ValueError: Only for a malformed ``config`` (a caller bug, not model text).
    """
    config = _config(config)
    try:
        return _check(gold, prediction, answer_type, options, config)
    except RecursionError:
        return _result(False, Reason.TOO_LARGE)
    except Exception:  # model text must never crash a training step
        _LOG.debug("check failed on gold=%.80r prediction=%.80r", gold, prediction, exc_info=True)
        return _result(False, Reason.INTERNAL_ERROR)


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
        config: Mode, tolerances and bounds.

    Returns:
        True when the prediction verifies.
    """
    return check(gold, prediction, answer_type, options=options, config=config).correct


def check_rows(
    rows: Sequence[tuple[Any, Any, Any, Any]], config: VerifierConfig
) -> list[VerifyResult]:
    """``check`` over ``(gold, prediction, answer_type, options)`` rows, in this process.

    Args:
        rows: The rows.
        config: Mode, tolerances and bounds.

    Returns:
        One result per row.
    """
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
        config: Mode, tolerances and bounds.
        workers: Worker processes to spread a large batch over (``None`` or 1: in this
            process). Worth it from a few hundred pairs; small batches always run in-process.

    Returns:
        One ``VerifyResult`` per pair, in order.

    Raises:
        ValueError: When the sequences have different lengths (a caller bug, not model text).
    """
    config = _config(config)
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
        return check_rows(rows, config)
    size = max(16, -(-count // workers))
    chunks = [rows[start : start + size] for start in range(0, count, size)]
    parts = default_pool(config.worker_memory_mb).map_rows(chunks, config)
    if parts is None:  # no worker processes here: check in this process
        return check_rows(rows, config)
    return [result for part in parts for result in part]
