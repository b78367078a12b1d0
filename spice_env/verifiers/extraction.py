"""Find the final answer inside a raw model output.

Extraction is kept apart from comparison (as in Math-Verify) so that each can be tested alone.
Every scan here is linear in the (already size-capped) text: regexes are anchored or have no
nested quantifiers, and brace matching walks the string once per candidate, with a cap on the
number of candidates tried.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ._types import AnswerType
from .normalize import normalize_text

__all__ = [
    "extract_answer",
    "extract_boxed",
    "extract_mcq_letter",
    "extract_mcq_with_reason",
    "extract_math_answer",
    "extract_string_answer",
]

_BOXED_START = re.compile(r"\\(?:boxed|fbox)\s*")
_MAX_BOXED_TRIES = 8
# "The final answer is ...", "Answer: ...", "the answer is: ..." (last one wins).
_ANSWER_PHRASE = re.compile(
    r"(?:final\s+answer|the\s+answer|answer)\s*(?:is|:|=|would\s+be|should\s+be)\s*:?\s*",
    re.IGNORECASE,
)
_GSM8K_HASHES = re.compile(r"####\s*([^\n]+)")
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:\s*/\s*\d+)?|-?\.\d+")
_COMMAND = re.compile(r"\\(?:begin|end)\s*\{[A-Za-z]+\*?\}|\\[A-Za-z]+")
_WORD = re.compile(r"[A-Za-z]{3,}")
_MATH_WORDS = frozenset(
    [
        "sqrt",
        "sin",
        "cos",
        "tan",
        "cot",
        "sec",
        "csc",
        "log",
        "exp",
        "abs",
        "pi",
        "inf",
        "infty",
        "oo",
    ]
)
_SHORT_ANSWER_CHARS = 120
_BARE_MATH_CHARS = 1_000


def _match_braces(text: str, open_index: int) -> int | None:
    """Return the index of the brace closing the one at ``open_index`` (or None if unclosed)."""
    depth = 0
    i = open_index
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "\\":
            i += 2  # skip escaped characters such as \{ and \}
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return None


def extract_boxed(text: str) -> str | None:
    """Return the content of the last ``\\boxed{...}`` or ``\\fbox{...}`` (nested braces ok).

    ``\\boxed 5`` (no braces) is read as the next token. An unclosed last box (a truncated
    output) is skipped in favour of the previous complete one.

    Args:
        text: The model output.

    Returns:
        The box content, stripped, or ``None`` when there is no complete box.
    """
    if "box" not in text:
        return None
    starts = [m.end() for m in _BOXED_START.finditer(text)]
    for start in reversed(starts[-_MAX_BOXED_TRIES:]):
        if start < len(text) and text[start] == "{":
            end = _match_braces(text, start)
            if end is not None:
                return text[start + 1 : end].strip()
        else:
            token = re.match(r"[^\s$]+", text[start:])
            if token:
                return token.group(0).strip()
    return None


def _strip_math_delimiters(answer: str) -> str:
    answer = answer.strip()
    for left, right in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
        if answer.startswith(left) and answer.endswith(right) and len(answer) > len(left) + 1:
            answer = answer[len(left) : -len(right)].strip()
    return answer


_UNESCAPED_DOLLAR = re.compile(r"(?<!\\)\$")


def _leading_math(line: str) -> str:
    """The math at the start of ``line``: all of ``$a$, $b$.`` when only punctuation follows
    the last ``$``, else the first ``$...$`` span (``$5$ because ...``)."""
    dollars = [m.start() for m in _UNESCAPED_DOLLAR.finditer(line)]
    if len(dollars) >= 2 and not re.search(r"\w", line[dollars[-1] + 1 :]):
        return line[: dollars[-1] + 1].strip("$ ").strip()
    if line.startswith("$$"):
        close = line.find("$$", 2)
        return line[2:close].strip() if close > 0 else line.strip("$ ")
    if len(dollars) >= 2:
        return line[1 : dollars[1]].strip()
    return line.strip("$ .").strip()


def _after_answer_phrase(text: str) -> str | None:
    """Text after the last "answer is"/"Answer:" up to the end of that line or sentence."""
    last = None
    for last in _ANSWER_PHRASE.finditer(text):  # noqa: B007 - we want the last match
        pass
    if last is None:
        return None
    rest = text[last.end() :]
    line = rest.split("\n", 1)[0].strip()
    if not line:
        return None
    inner = extract_boxed(line)
    if inner is not None:
        return inner
    if line.startswith("$"):
        return _leading_math(line)
    # A sentence ends at ". " or a final "."; decimals such as 2.5 are kept.
    line = re.split(r"\.\s|\.$", line, maxsplit=1)[0]
    return line.strip().strip("*").strip() or None


def _looks_like_bare_answer(text: str) -> bool:
    if len(text) > _BARE_MATH_CHARS or text.count("\n") > 8:
        return False
    # Prose has several real words; an answer has at most one (a unit: "18 dollars").
    words = [w for w in _WORD.findall(_COMMAND.sub(" ", text)) if w.lower() not in _MATH_WORDS]
    return len(words) <= 1


def _last_number(text: str) -> str | None:
    tail = text[-2_000:]
    last = None
    for last in _NUMBER.finditer(tail):  # noqa: B007 - we want the last match
        pass
    if last is None:
        return None
    return last.group(0).rstrip(",").strip()


def extract_math_answer(text: str) -> str | None:
    """Extract a numeric or symbolic answer: box, answer phrase, ``#### N``, bare, last number.

    Args:
        text: The model output (already size-capped).

    Returns:
        The answer text with ``$`` delimiters removed, or ``None``.
    """
    for finder in (extract_boxed, _after_answer_phrase):
        found = finder(text)
        if found:
            return _strip_math_delimiters(found)
    hashes = None
    for hashes in _GSM8K_HASHES.finditer(text):  # noqa: B007 - we want the last match
        pass
    if hashes is not None:
        return _strip_math_delimiters(hashes.group(1))
    stripped = _strip_math_delimiters(text)
    if stripped and _looks_like_bare_answer(stripped):
        return stripped
    return _last_number(text)


def extract_string_answer(text: str) -> str | None:
    """Extract a short free-text answer: box, answer phrase, or the whole short output.

    Args:
        text: The model output (already size-capped).

    Returns:
        The answer text, or ``None``.
    """
    for finder in (extract_boxed, _after_answer_phrase):
        found = finder(text)
        if found:
            return _strip_math_delimiters(found)
    stripped = text.strip()
    if stripped and len(stripped) <= _SHORT_ANSWER_CHARS and "\n" not in stripped:
        return _strip_math_delimiters(stripped)
    return None


def _letter_form(candidate: str, letters: str) -> str | None:
    """The letter if ``candidate`` is just an option label: B, (B), B), **B**, \\text{B}, B. ..."""
    cleaned = candidate.strip()
    cleaned = re.sub(r"\\(?:text|textbf|mathrm|mathbf)\s*\{([^{}]*)\}", r"\1", cleaned)
    cleaned = cleaned.strip().strip("*$`'\" ").strip()
    cleaned = re.sub(r"^(?:option|choice)\s+", "", cleaned, flags=re.IGNORECASE)
    match = re.fullmatch(
        rf"[(\[]?([{letters}])[)\]]?(?:[.:)]\s*.*)?", cleaned, flags=re.DOTALL | re.IGNORECASE
    )
    if match is None:
        return None
    letter = match.group(1)
    # A lower-case letter alone is accepted ("b"), but "a cat" is prose, not option a.
    if letter.islower() and len(cleaned) > 3:
        return None
    return letter.upper()


def _option_text_letter(candidate: str, options: Sequence[str], letters: str) -> str | None:
    """The letter whose option text equals ``candidate`` after normalization (if unique)."""
    target = normalize_text(candidate)
    if not target:
        return None
    hits = [
        letters[i]
        for i, option in enumerate(options[: len(letters)])
        if isinstance(option, str) and normalize_text(option) == target
    ]
    return hits[0] if len(hits) == 1 else None


def extract_mcq_with_reason(
    text: str, letters: str = "ABCD", options: Sequence[str] | None = None
) -> tuple[str | None, str]:
    """Like :func:`extract_mcq_letter`, also saying how the letter was found.

    Returns:
        ``(letter, how)`` with ``how`` in ``"mcq_letter"`` and ``"mcq_option_text"``, or
        ``(None, "no_answer_found")``.
    """
    candidates = []
    boxed = extract_boxed(text)
    if boxed is not None:
        candidates.append(boxed)
    phrase = _after_answer_phrase(text)
    if phrase is not None:
        candidates.append(phrase)
    candidates.append(text)
    for candidate in candidates:
        letter = _letter_form(_strip_math_delimiters(candidate), letters)
        if letter is not None:
            return letter, "mcq_letter"
        if options:
            letter = _option_text_letter(candidate, options, letters)
            if letter is not None:
                return letter, "mcq_option_text"
    # The last clearly marked label in running text: "(B)", "**B**", "B)".
    tail = text[-4_000:]
    marked = re.findall(rf"\(([{letters}])\)|\*\*([{letters}])\*\*|\b([{letters}])\)", tail)
    if marked:
        return next(group for group in marked[-1] if group), "mcq_letter"
    if options:
        # The output names exactly one option's text near its end.
        lowered = normalize_text(tail[-1_000:])
        hits = [
            letters[i]
            for i, option in enumerate(options[: len(letters)])
            if isinstance(option, str)
            and len(normalize_text(option)) >= 3
            and re.search(rf"\b{re.escape(normalize_text(option))}\b", lowered)
        ]
        if len(hits) == 1:
            return hits[0], "mcq_option_text"
    return None, "no_answer_found"


def extract_mcq_letter(
    text: str, letters: str = "ABCD", options: Sequence[str] | None = None
) -> str | None:
    """Extract a multiple-choice letter from a model output.

    Understands ``\\boxed{B}``, "answer is (B)", "Answer: B", "**B**", "(B)", "B)", a bare
    letter, and the text of an option instead of its letter.

    Args:
        text: The model output (already size-capped).
        letters: The option letters, e.g. ``"ABCD"``.
        options: Option texts in letter order, used to map a stated option text to its letter.

    Returns:
        The upper-case letter, or ``None``.
    """
    return extract_mcq_with_reason(text, letters, options)[0]


def extract_answer(
    text: str,
    answer_type: AnswerType | None = None,
    options: Sequence[str] | None = None,
    *,
    max_input_chars: int = 20_000,
    letters: str = "ABCD",
) -> str | None:
    """Extract the final answer from a model output (no comparison).

    Args:
        text: Raw model output: a bare answer ("42", "B") or a long reasoning text.
        answer_type: The expected answer type; ``None`` extracts a math-style answer.
        options: MCQ option texts in letter order (only used for ``AnswerType.MCQ``).
        max_input_chars: Only the last this-many characters are scanned; the answer is at the
            end and this keeps the cost bounded on megabyte outputs.
        letters: The MCQ option letters.

    Returns:
        The extracted answer text, or ``None`` when nothing answer-like was found.
    """
    if not isinstance(text, str) or not text.strip():
        return None
    text = text[-max_input_chars:]
    if answer_type is AnswerType.MCQ:
        return extract_mcq_letter(text, letters, options)
    if answer_type is AnswerType.STRING:
        return extract_string_answer(text)
    return extract_math_answer(text)
