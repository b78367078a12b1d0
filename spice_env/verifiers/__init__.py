"""Answer verification for SPICE: extraction, comparison by answer type, safe and bounded.

The Reasoner's reward, the validity of every Challenger task and every evaluation number pass
through :func:`check`. It never raises on model text, never evaluates it as code, and bounds
every check in time (worker processes, not ``signal.alarm``) and size.

Example:
    >>> from spice_env.verifiers import check
    >>> check("\\\\frac{1}{2}", "so the answer is \\\\boxed{0.5}").correct
    True
"""

from ._types import AnswerType, VerifierConfig, VerifyResult
from .api import check, detect_answer_type, extract_answer, verify, verify_many

__all__ = [
    # types
    "AnswerType",
    "VerifierConfig",
    "VerifyResult",
    # extraction
    "detect_answer_type",
    "extract_answer",
    # comparison
    "check",
    "verify",
    "verify_many",
]
