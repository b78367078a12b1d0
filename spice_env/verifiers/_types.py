"""Value types shared by extraction, comparison, the public API and ``spice_env.tasks``.

This is the lowest layer of the package: the answer-type enum, the two patterns every layer
agrees on (what an integer answer is, what an option label is), the verification modes, the
closed set of reasons, the result and the configuration.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

__all__ = [
    "FREE_FORM_ANSWER_TYPES",
    "INTEGER_PATTERN",
    "OPTION_LABEL_PATTERN",
    "AnswerType",
    "Reason",
    "VerificationMode",
    "VerifierConfig",
    "VerifyResult",
    "coerce_answer_type",
    "option_letter",
]


class AnswerType(str, enum.Enum):
    """The answer types a Challenger may declare (SPICE's task templates)."""

    INTEGER = "Integer"
    """A whole number, optionally signed, optionally with thousands separators."""
    EXPRESSION = "Expression"
    """Any math answer: a number, a formula, a set, an interval, an equation, a matrix."""
    STRING = "String"
    """A short free-text answer (SPEC: at most three words)."""
    MCQ = "MCQ"
    """A multiple-choice answer: one option letter (A-D by default)."""

    def __str__(self) -> str:
        return self.value


FREE_FORM_ANSWER_TYPES: tuple[str, ...] = tuple(
    t.value for t in AnswerType if t is not AnswerType.MCQ
)
"""Answer types a free-form task may declare, as the Challenger writes them."""

INTEGER_PATTERN = re.compile(r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)")
"""An integer answer (use ``fullmatch``): ``42``, ``-7``, ``1,024``."""

OPTION_LABEL_PATTERN = re.compile(
    r"\s*(?:(?:option|choice)\s+)?[(\[]?([A-Za-z])[)\]]?(?:\s*[.:)\-]\s*(.*))?\s*",
    re.IGNORECASE | re.DOTALL,
)
"""An option label (use ``fullmatch``): ``B``, ``(B)``, ``B)``, ``B.``, ``Option B``, ``B) text``.

Group 1 is the letter, group 2 the text after a closing mark, if any. ``A cat`` is not a label:
a letter followed by more text needs a mark (``.``, ``:``, ``)``, ``-``) in between."""

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


def option_letter(text: str, letters: str = "ABCD") -> str | None:
    """The option letter ``text`` names, if it is an option label (see ``OPTION_LABEL_PATTERN``).

    Args:
        text: A short text such as ``"(B)"``, ``"b"`` or ``"C) 42"``.
        letters: The letters that are options.

    Returns:
        The upper-case letter (either case is read), or ``None``.
    """
    match = OPTION_LABEL_PATTERN.fullmatch(text)
    if match is None or match.group(1).upper() not in letters.upper():
        return None
    return match.group(1).upper()


class VerificationMode(str, enum.Enum):
    """How much of a model output counts as its answer."""

    STRICT = "strict"
    """Training (the env's default): only the final ``\\boxed{}`` answer counts (SPEC). An
    output without a box, with boxes that disagree, with several answers where one is asked
    ("A or B", a list), with an empty box or longer than ``max_input_chars`` scores 0. A
    multiple-choice answer is one option letter in the box."""
    LENIENT = "lenient"
    """Evaluation: a missing box falls back to "the answer is ...", ``#### N``, the last math
    span, a bare answer or the last number; the last of several boxes is taken (or all of
    them, close together, when the gold is a list); an MCQ answer may be the option text."""

    def __str__(self) -> str:
        return self.value


class Reason(str, enum.Enum):
    """Why a check decided as it did: a closed set, one member per outcome.

    Members compare equal to their string values (``result.reason == "exact"``).
    """

    # -- correct ----------------------------------------------------------------------------
    EXACT = "exact"
    """The answer is the gold as text, after normalization (case, spacing, wrappers)."""
    STRUCTURAL = "structural"
    """Both parse to the same math tree."""
    NUMERIC = "numeric"
    """Both evaluate to the same exact number (decimals: within the rounding tolerance)."""
    NUMERIC_EVAL = "numeric_eval"
    """Both take the same values at seeded random points (an identity test)."""
    SYMBOLIC = "symbolic"
    """sympy shows the difference is zero (in a worker process, under the time limit)."""
    ORDERED_MATCH = "ordered_match"
    """Tuples, intervals or matrices whose items match in order."""
    SET_MATCH = "set_match"
    """Collections whose items match in some order."""
    EQUIVALENT_RELATION = "equivalent_relation"
    """Equations or inequalities equal after moving terms, scaling or flipping sides."""
    MCQ_LETTER = "mcq_letter"
    """The option letter matches the gold letter."""
    MCQ_OPTION_TEXT = "mcq_option_text"
    """(Lenient only.) The answer states the gold option's text instead of its letter."""
    # -- not correct ------------------------------------------------------------------------
    MISMATCH = "mismatch"
    """An answer was found and it differs from the gold."""
    NO_ANSWER = "no_answer_found"
    """Nothing answer-like in the output (or an empty box, or not a string at all)."""
    NOT_BOXED = "not_boxed"
    """(Strict only.) The output has no complete ``\\boxed{}`` answer."""
    HEDGED = "hedged"
    """(Strict only.) Several different final answers: boxes that disagree, "A or B", several
    option letters, or a list where one value is asked."""
    PRED_UNPARSABLE = "pred_unparsable"
    """The extracted math answer is not something the parser understands."""
    GOLD_UNPARSABLE = "gold_unparsable"
    """The gold answer is empty, of the wrong type or not understood (invalid task)."""
    TOO_LARGE = "too_large"
    """An input, a number or a value is past a size bound (too long, too many digits, an
    exponent tower): refused before any work that size would cost."""
    TIMEOUT = "timeout"
    """The per-call deadline (``timeout_s``) passed before a decision."""
    INCONCLUSIVE = "inconclusive"
    """No strategy could decide (without the worker, or sympy could not tell)."""
    INTERNAL_ERROR = "internal_error"
    """A bug in the verifier, caught so that training goes on (logged at debug level with the
    traceback). Never expected; please report it with the pair."""

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of one check.

    Attributes:
        correct: Whether the prediction is equivalent to the gold answer.
        reason: How the decision was reached (a :class:`Reason`; compares equal to its
            string value, e.g. ``"exact"``, ``"hedged"``).
        extracted: The answer extracted from the prediction, or ``None`` when none was found.
    """

    correct: bool
    reason: Reason
    extracted: str | None = None

    def __bool__(self) -> bool:
        return self.correct


@dataclass(frozen=True)
class VerifierConfig:
    """Knobs of the verifier; the defaults are the ones training uses.

    Attributes:
        mode: ``"strict"`` (training, the default: only the final ``\\boxed{}`` answer
            counts and hedges score 0) or ``"lenient"`` (evaluation: extraction fallbacks).
            See :class:`VerificationMode`.
        timeout_s: Wall-clock deadline of one whole check, the in-process part included;
            symbolic work runs in a worker process that is killed at the deadline.
        rel_tol: Relative tolerance for comparing irrational or floating-point values.
        float_rounding: Decimal places a decimal answer is allowed to be rounded to
            (``0.333333`` matches ``1/3``), as math-verify does.
        max_input_chars: Strict mode refuses longer outputs (``too_large``: cutting them
            could drop an earlier, different answer); lenient mode reads only their last
            ``max_input_chars`` characters. Golds longer than this are ``too_large``.
        max_answer_chars: Extracted answers longer than this are not parsed as math.
        max_parse_depth: Deepest nesting the math parser accepts.
        max_exact_bits: Largest exact integer (in bits) built while evaluating an answer;
            larger values (``2^{2^{100}}``, ``10000!``) are compared symbolically or refused.
        max_literal_digits: Most digits a number may be written with, counting the zeros an
            exponent adds (``2e999999999`` has a billion); longer numbers are compared as
            written, never built.
        numeric_points: Random points at which expressions with free symbols are evaluated.
        use_worker: Send inconclusive cases to the sympy worker process. Without it those
            cases are answered ``"inconclusive"`` (not correct).
        worker_memory_mb: Address-space head-room given to each worker process.
        mcq_letters: Letters that count as MCQ options.
    """

    mode: VerificationMode | str = VerificationMode.STRICT
    timeout_s: float = 1.0
    rel_tol: float = 1e-9
    float_rounding: int = 6
    max_input_chars: int = 32_768
    max_answer_chars: int = 1_000
    max_parse_depth: int = 60
    max_exact_bits: int = 20_000
    max_literal_digits: int = 4_000
    numeric_points: int = 4
    use_worker: bool = True
    worker_memory_mb: int = 1_024
    mcq_letters: str = "ABCD"

    def __post_init__(self) -> None:
        try:
            mode = VerificationMode(str(self.mode).lower())
        except ValueError:
            raise ValueError(f"mode={self.mode!r}; use 'strict' (training) or 'lenient'") from None
        object.__setattr__(self, "mode", mode)
        if not self.timeout_s > 0:
            raise ValueError(f"timeout_s must be > 0, got {self.timeout_s}; try 1.0")
        if self.max_input_chars < 16 or self.max_answer_chars < 16:
            raise ValueError("max_input_chars and max_answer_chars must be at least 16")
        if not 16 <= self.max_literal_digits <= 4_000:
            raise ValueError(
                f"max_literal_digits={self.max_literal_digits} must be in [16, 4000] "
                "(Python refuses to convert longer digit strings)"
            )
        if self.numeric_points < 1:
            raise ValueError("numeric_points must be at least 1")
        if not self.mcq_letters or not self.mcq_letters.isalpha():
            raise ValueError(
                f"mcq_letters must be letters such as 'ABCD', got {self.mcq_letters!r}"
            )

    @property
    def strict(self) -> bool:
        """True in strict (training) mode."""
        return self.mode is VerificationMode.STRICT
