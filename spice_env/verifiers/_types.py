"""Value types shared by extraction, comparison and the public API."""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["AnswerType", "VerifierConfig", "VerifyResult", "coerce_answer_type"]


class AnswerType(str, enum.Enum):
    """The answer types a Challenger may declare (SPICE's task templates).

    ``MCQ`` means the gold answer is a letter A-D.
    """

    INTEGER = "Integer"
    EXPRESSION = "Expression"
    STRING = "String"
    MCQ = "MCQ"


_TYPE_BY_NAME = {member.value.lower(): member for member in AnswerType}
_TYPE_BY_NAME.update(
    {
        "int": AnswerType.INTEGER,
        "number": AnswerType.INTEGER,
        "numeric": AnswerType.INTEGER,
        "expr": AnswerType.EXPRESSION,
        "math": AnswerType.EXPRESSION,
        "str": AnswerType.STRING,
        "text": AnswerType.STRING,
        "multiple_choice": AnswerType.MCQ,
        "multiple-choice": AnswerType.MCQ,
        "choice": AnswerType.MCQ,
    }
)


def coerce_answer_type(answer_type: AnswerType | str | None) -> AnswerType | None:
    """Turn an enum member, a case-insensitive name or ``None`` into an ``AnswerType``.

    Args:
        answer_type: ``AnswerType``, a string such as ``"integer"`` or ``"MCQ"``, or ``None``.

    Returns:
        The matching member, or ``None`` (auto-detect) for ``None``, empty or unknown names.
        Unknown names fall back to auto-detection rather than raising, because the type often
        comes from model-written JSON.
    """
    if answer_type is None:
        return None
    if isinstance(answer_type, AnswerType):
        return answer_type
    if not isinstance(answer_type, str):
        return None
    return _TYPE_BY_NAME.get(answer_type.strip().lower())


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of one check.

    Attributes:
        correct: Whether the prediction is equivalent to the gold answer.
        reason: A short machine-friendly tag saying how the decision was reached, e.g.
            ``"exact"``, ``"numeric"``, ``"symbolic"``, ``"mismatch"``, ``"timeout"``.
        extracted: The answer extracted from the prediction, or ``None`` when none was found.
    """

    correct: bool
    reason: str
    extracted: str | None = None

    def __bool__(self) -> bool:
        return self.correct


@dataclass(frozen=True)
class VerifierConfig:
    """Knobs of the verifier; the defaults are the ones training and evaluation use.

    Attributes:
        timeout_s: Wall-clock bound for the symbolic part of one check (runs in a worker
            process that is killed on timeout). Fast paths run in-process and are bounded by
            input size instead.
        rel_tol: Relative tolerance for comparing irrational or floating-point values.
        float_rounding: Decimal places a decimal answer is allowed to be rounded to
            (``0.333333`` matches ``1/3``), as math-verify does.
        string_threshold: rapidfuzz ``ratio`` (0-100) at or above which two normalized
            strings count as the same answer.
        max_input_chars: Predictions longer than this are cut to their last ``max_input_chars``
            characters before extraction (the answer is at the end); golds longer than this
            are rejected as ``too_large``.
        max_answer_chars: Extracted answers longer than this are not parsed as math.
        max_parse_depth: Deepest nesting the math parser accepts.
        max_exact_bits: Largest exact integer (in bits) built while evaluating an answer;
            larger values (``2^{2^{100}}``, ``10000!``) are compared symbolically or refused.
        numeric_points: Random points at which expressions with free symbols are evaluated.
        use_worker: Send inconclusive cases to the sympy worker process. Without it those
            cases are answered ``"inconclusive"`` (not correct).
        worker_memory_mb: Address-space head-room given to each worker process.
        mcq_letters: Letters that count as MCQ options.
    """

    timeout_s: float = 1.0
    rel_tol: float = 1e-9
    float_rounding: int = 6
    string_threshold: float = 90.0
    max_input_chars: int = 20_000
    max_answer_chars: int = 1_000
    max_parse_depth: int = 60
    max_exact_bits: int = 20_000
    numeric_points: int = 4
    use_worker: bool = True
    worker_memory_mb: int = 1_024
    mcq_letters: str = "ABCD"

    def __post_init__(self) -> None:
        if not self.timeout_s > 0:
            raise ValueError(f"timeout_s must be > 0, got {self.timeout_s}; try 1.0")
        if not 0 <= self.string_threshold <= 100:
            raise ValueError(
                f"string_threshold is a rapidfuzz score in [0, 100], got {self.string_threshold}"
            )
        if self.max_input_chars < 16 or self.max_answer_chars < 16:
            raise ValueError("max_input_chars and max_answer_chars must be at least 16")
        if self.numeric_points < 1:
            raise ValueError("numeric_points must be at least 1")
        if not self.mcq_letters or not self.mcq_letters.isalpha():
            raise ValueError(
                f"mcq_letters must be letters such as 'ABCD', got {self.mcq_letters!r}"
            )
