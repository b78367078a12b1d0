"""Answer verification for SPICE: extraction, comparison by answer type, safe and bounded.

The Reasoner's reward, the validity of every Challenger task and every evaluation number pass
through :func:`check`. It never raises on model text, never evaluates it as code, and bounds
every check in time (a per-call deadline; sympy runs in worker processes that are killed at
it) and size (no number is built before its size is known).

Two modes (:class:`VerificationMode`, set with ``VerifierConfig(mode=...)``): ``"strict"``,
the default and what training uses, pays only an unhedged final ``\\boxed{}`` answer;
``"lenient"``, for evaluation, also reads answers that are not boxed.

Example:
    >>> from spice_env.verifiers import VerifierConfig, check
    >>> check("\\\\frac{1}{2}", "so the answer is \\\\boxed{0.5}").correct
    True
    >>> check("51", "\\\\boxed{40} or \\\\boxed{51}").reason
    <Reason.HEDGED: 'hedged'>
    >>> check("51", "The answer is 51.", config=VerifierConfig(mode="lenient")).correct
    True
"""

from ._types import (
    FREE_FORM_ANSWER_TYPES,
    INTEGER_PATTERN,
    OPTION_LABEL_PATTERN,
    AnswerType,
    Reason,
    VerificationMode,
    VerifierConfig,
    VerifyResult,
    coerce_answer_type,
    option_letter,
)
from .api import check, clear_caches, detect_answer_type, extract_answer, verify, verify_many

__all__ = [
    # types
    "AnswerType",
    "FREE_FORM_ANSWER_TYPES",
    "Reason",
    "VerificationMode",
    "VerifierConfig",
    "VerifyResult",
    "coerce_answer_type",
    # shared patterns
    "INTEGER_PATTERN",
    "OPTION_LABEL_PATTERN",
    "option_letter",
    # extraction
    "detect_answer_type",
    "extract_answer",
    # comparison
    "check",
    "clear_caches",
    "verify",
    "verify_many",
]
