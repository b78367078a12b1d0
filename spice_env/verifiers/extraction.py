"""Find the final answer inside a raw model output.

Extraction is kept apart from comparison (as in Math-Verify): :func:`extract` returns an
:class:`Extraction` and the comparison reads only that. Two modes:

- strict (training): only ``\\boxed{}`` answers count. Every top-level box of the output is
  read; boxes close together ("\\boxed{1} and \\boxed{2}") form one group, and every group must
  state the same thing, else the output hedges.
- lenient (evaluation): the last box (or the last group of boxes), else "the answer is ...",
  ``#### N``, a bare answer, the last math span or the last number.

Every scan here is linear in the (size-capped) text: regexes are anchored or have no nested
quantifiers, and brace matching walks each box once.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ._types import AnswerType, Reason, VerificationMode, option_letter
from .normalize import (
    MATH_WORDS,
    brace_pairs,
    normalize_text,
    strip_math_delimiters,
    strip_text_wrappers,
)

__all__ = [
    "Extraction",
    "extract",
    "extract_boxed",
    "find_box_groups",
    "mcq_letter_of",
    "option_text_letter",
]

_BOXED_START = re.compile(r"\\(?:boxed|fbox)\s*")
_MAX_BOXES = 256
"""Boxes read per output; strict mode calls more than this many a hedge."""
_MAX_SEPARATOR_WORDS = 4
"""Boxes separated by at most this many words ("and", "for part (a) and") form one group."""
# "The final answer is ...", "Answer: ...", "the answer is: ..." (last one wins).
_ANSWER_PHRASE = re.compile(
    r"\b(?:final\s+answer|the\s+answer|answer)"
    r"(?:\s*(?:is|:|=|would\s+be|should\s+be)\s*:?|\s*(?=\$|\\\[|\\\())\s*",
    re.IGNORECASE,
)
_FINAL_PHRASE = re.compile(r"final\s+answer", re.IGNORECASE)
_MATHY = re.compile(r"[\d\\$^=]")
_GSM8K_HASHES = re.compile(r"####\s*([^\n]+)")
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:\s*/\s*\d+)?|-?\.\d+")
_COMMAND = re.compile(r"\\(?:begin|end)\s*\{[A-Za-z]+\*?\}|\\[A-Za-z]+")
_WORD = re.compile(r"[A-Za-z]{3,}")
_SEPARATOR_WORD = re.compile(r"[A-Za-z]+")
_SEPARATOR_NOISE = re.compile(
    r"\\(?:quad|qquad|text|textnormal|mbox|mathrm|,|;|!| )|[$(){}\[\],;.:\\]"
)
_LABEL = re.compile(r"[A-Za-z]{3,}\s*:\s")  # "Total: 5" is a label and a value, not math
_SHORT_ANSWER_CHARS = 120
_BARE_MATH_CHARS = 1_000
_MATH_SPAN = re.compile(
    r"\$\$(?P<dd>.+?)\$\$|\\\[(?P<br>.+?)\\\]|\\\((?P<pa>[^\n]+?)\\\)|(?<![\\$])\$(?P<d>[^$\n]+?)(?<!\\)\$",
    re.DOTALL,
)
_MAX_MATH_SPANS = 2_000


@dataclass(frozen=True)
class Extraction:
    """What a model output states as its final answer.

    Attributes:
        answer: The final answer text (for MCQ: the letter), or ``None`` when none was found.
        answers: The answers stated together at the end, in order: the items of the last
            group of boxes ("\\boxed{1} and \\boxed{2}" gives ``("1", "2")``), else
            ``(answer,)``; empty when ``answer`` is ``None``.
        how: Where the answer was found: ``"boxed"``, ``"answer_phrase"``, ``"hashes"``,
            ``"bare"``, ``"math_span"``, ``"last_number"``, ``"mcq_letter"``,
            ``"mcq_option_text"`` or ``"none"``.
        problem: Why no acceptable answer was found (``NO_ANSWER``, ``NOT_BOXED``,
            ``HEDGED``, ``TOO_LARGE``), else ``None``.
        alternatives: (Lenient only.) Other readings of the output, most likely first, for a
            comparison to fall back on when ``answer`` is not a well-formed answer.
    """

    answer: str | None
    answers: tuple[str, ...] = ()
    how: str = "none"
    problem: Reason | None = None
    alternatives: tuple[str, ...] = ()

    @property
    def found(self) -> bool:
        """Whether an answer was found."""
        return self.answer is not None


def _none(problem: Reason) -> Extraction:
    return Extraction(None, (), "none", problem)


# --- boxes -------------------------------------------------------------------------------------


def _boxes(text: str) -> list[tuple[int, int, str]]:
    """Top-level boxes as (start, end, content); nested boxes are part of their parent."""
    found: list[tuple[int, int, str]] = []
    position = 0
    pairs: dict[int, int] | None = None
    while len(found) <= _MAX_BOXES:
        match = _BOXED_START.search(text, position)
        if match is None:
            break
        start = match.end()
        if start < len(text) and text[start] == "{":
            if pairs is None:
                pairs = brace_pairs(text)  # one pass, however many boxes are unclosed
            end = pairs.get(start)
            if end is None:  # unclosed (a truncated output): not an answer
                position = start
                continue
            found.append((match.start(), end + 1, text[start + 1 : end].strip()))
            position = end + 1
        else:
            token = re.match(r"[^\s$]+", text[start : start + 200])
            if token:
                found.append((match.start(), start + token.end(), token.group(0).strip()))
                position = start + token.end()
            else:
                position = start
    return found


def _close_together(separator: str) -> bool:
    words = _SEPARATOR_WORD.findall(_SEPARATOR_NOISE.sub(" ", separator))
    return len(separator) <= 200 and len(words) <= _MAX_SEPARATOR_WORDS


def find_box_groups(text: str) -> list[tuple[str, ...]]:
    """The ``\\boxed{}`` / ``\\fbox{}`` answers of an output, grouped by closeness.

    Boxes separated by at most a few words or punctuation (``\\boxed{1}, \\boxed{2}``,
    ``\\boxed{3} and \\boxed{4}``) form one group. ``\\boxed 5`` (no braces) reads the next
    token. Unclosed boxes (a truncated output) are skipped; nested boxes belong to their parent.

    Args:
        text: The model output.

    Returns:
        The groups in order, each a tuple of stripped box contents. More than the box limit
        (256) gives one extra group, so that callers can tell.
    """
    return [group for _, group in _box_groups(text)]


def _box_groups(text: str) -> list[tuple[int, tuple[str, ...]]]:
    """Groups of boxes with the end position of each group's last box."""
    if "box" not in text:
        return []
    groups: list[tuple[int, list[str]]] = []
    previous_end = None
    for start, end, content in _boxes(text):
        if previous_end is not None and _close_together(text[previous_end:start]):
            groups[-1] = (end, [*groups[-1][1], content])
        else:
            groups.append((end, [content]))
        previous_end = end
    return [(end, tuple(group)) for end, group in groups]


def extract_boxed(text: str) -> str | None:
    """Return the content of the last complete ``\\boxed{...}`` or ``\\fbox{...}``.

    Args:
        text: The model output.

    Returns:
        The box content, stripped, or ``None`` when there is no complete box.
    """
    if "box" not in text:
        return None
    boxes = _boxes(text)
    return boxes[-1][2] if boxes else None


# --- lenient fallbacks -------------------------------------------------------------------------

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


def _leading_delimited(rest: str) -> str | None:
    r"""Math in ``\[ \]``, ``\( \)`` or ``$$ $$`` right after an answer phrase (may span lines
    for display math, not for inline ``\( \)``)."""
    for left, right, multiline in (("\\[", "\\]", True), ("$$", "$$", True), ("\\(", "\\)", False)):
        if rest.startswith(left):
            close = rest.find(right, len(left))
            if close < 0:
                return None
            inner = rest[len(left) : close]
            if not multiline and "\n" in inner:
                return None
            return inner.strip() or None
    return None


def _after_answer_phrase(text: str, math: bool = True) -> str | None:
    """Text after the last "answer is"/"Answer:" up to the end of that line or sentence."""
    found = _answer_phrase(text, math)
    return found[1] if found else None


def _answer_phrase(text: str, math: bool = True) -> tuple[int, str] | None:
    """(where the last answer phrase starts, what it states)."""
    last = None
    for last in _ANSWER_PHRASE.finditer(text):  # noqa: B007 - we want the last match
        pass
    if last is None:
        return None
    stated = _phrase_answer(text[last.end() :], math)
    return (last.start(), stated) if stated else None


def _phrase_answer(rest: str, math: bool) -> str | None:
    delimited = _leading_delimited(rest)
    if delimited is not None:
        return delimited
    line = rest.split("\n", 1)[0].strip()
    if not line:
        return None
    inner = extract_boxed(line)
    if inner is not None:
        return inner
    if line.startswith("$"):
        if line.startswith("$") and not line.startswith("$$") and line.count("$") == 1:
            return None  # an inline span that does not close on this line
        return _leading_math(line)
    # A sentence ends at ". " or a final "."; decimals such as 2.5 are kept.
    line = re.split(r"\.\s|\.$", line, maxsplit=1)[0]
    line = line.strip().strip("*").strip()
    if math and line and not _looks_like_bare_answer(line):
        # "The largest $n$ is 34": prose around the answer; its last number or math is it.
        return _last_math_or_number(line)
    return line or None


def _looks_like_bare_answer(text: str) -> bool:
    if len(text) > _BARE_MATH_CHARS or text.count("\n") > 8 or _LABEL.search(text):
        return False
    # Prose has several real words; an answer has at most one (a unit: "18 dollars").
    words = [w for w in _WORD.findall(_COMMAND.sub(" ", text)) if w.lower() not in MATH_WORDS]
    return len(words) <= 1


def _last_number(text: str) -> tuple[int, str] | None:
    offset = max(0, len(text) - 2_000)
    last = None
    for last in _NUMBER.finditer(text, offset):  # noqa: B007 - we want the last match
        pass
    if last is None:
        return None
    return last.start(), last.group(0).rstrip(",").strip()


def _last_math_span(text: str) -> tuple[int, str] | None:
    last = None
    for count, last in enumerate(_MATH_SPAN.finditer(text[-20_000:])):  # noqa: B007
        if count > _MAX_MATH_SPANS:
            break
    if last is None:
        return None
    inner = next(group for group in last.groups() if group is not None).strip()
    if not inner or len(inner) > _BARE_MATH_CHARS:
        return None
    return len(text) - min(len(text), 20_000) + last.end(), inner


def _last_math_or_number(text: str) -> str | None:
    """The last math span when it ends after the last number starts, else the last number."""
    span = _last_math_span(text)
    number = _last_number(text)
    if span is not None and (number is None or span[0] > number[0]):
        return span[1]
    return number[1] if number is not None else None


def _lenient_math(text: str) -> list[tuple[str, str]]:
    """Every reading of an output without boxes, most likely first: (answer, how)."""
    readings = []
    phrase = _after_answer_phrase(text)
    if phrase:
        readings.append((strip_math_delimiters(phrase), "answer_phrase"))
    hashes = None
    for hashes in _GSM8K_HASHES.finditer(text):  # noqa: B007 - we want the last match
        pass
    if hashes is not None:
        readings.append((strip_math_delimiters(hashes.group(1)), "hashes"))
    stripped = strip_math_delimiters(text)
    if stripped and _looks_like_bare_answer(stripped):
        readings.append((stripped, "bare"))
    span = _last_math_span(text)
    number = _last_number(text)
    if span is not None and (number is None or span[0] > number[0]):
        readings.append((span[1], "math_span"))
    if number is not None:
        readings.append((number[1], "last_number"))
    if span is not None and number is not None and span[0] <= number[0]:
        readings.append((span[1], "math_span"))
    return [(answer, how) for answer, how in readings if answer]


def _lenient_string(text: str) -> tuple[str | None, str]:
    phrase = _after_answer_phrase(text, math=False)
    if phrase:
        return strip_math_delimiters(phrase), "answer_phrase"
    stripped = text.strip()
    if stripped and len(stripped) <= _SHORT_ANSWER_CHARS and "\n" not in stripped:
        return strip_math_delimiters(stripped), "bare"
    return None, "none"


# --- multiple choice ---------------------------------------------------------------------------


def mcq_letter_of(candidate: str, letters: str = "ABCD") -> str | None:
    """The letter if ``candidate`` is an option label: B, (B), B), **B**, \\text{B}, B. text.

    Args:
        candidate: A short text, e.g. a box's content.
        letters: The option letters.

    Returns:
        The upper-case letter, or ``None``.
    """
    cleaned = strip_text_wrappers(strip_math_delimiters(candidate))
    cleaned = cleaned.strip().strip("*$`'\" ").strip()
    return option_letter(cleaned, letters)


def option_text_letter(candidate: str, options: Sequence[str], letters: str = "ABCD") -> str | None:
    """The letter whose option text equals ``candidate`` after normalization (if unique).

    Args:
        candidate: A short text, e.g. ``"London"``.
        options: Option texts in letter order.
        letters: The option letters.

    Returns:
        The letter, or ``None`` when no option or several options match.
    """
    target = normalize_text(candidate)
    if not target:
        return None
    hits = [
        letters[i]
        for i, option in enumerate(options[: len(letters)])
        if isinstance(option, str) and normalize_text(option) == target
    ]
    return hits[0] if len(hits) == 1 else None


def _strict_letter(content: str, options: Sequence[str] | None, letters: str) -> str | None:
    """A box's letter in strict mode: a label alone, or a label followed by that option's text."""
    letter = mcq_letter_of(content, letters)
    if letter is None:
        return None
    cleaned = strip_text_wrappers(content).strip().strip("*$`'\" ")
    match = re.fullmatch(r"\W*[A-Za-z]\W*?[.:)\-]\s*(.+)", cleaned, flags=re.DOTALL)
    if match and match.group(1).strip():
        if not options:
            return letter
        index = letters.upper().index(letter)
        option = options[index] if index < len(options) else None
        if not isinstance(option, str) or normalize_text(option) != normalize_text(match.group(1)):
            return None
    return letter


def _lenient_mcq(text: str, letters: str, options: Sequence[str] | None) -> Extraction:
    candidates = []
    groups = find_box_groups(text)
    if groups:
        candidates.append(groups[-1][-1])
    phrase = _after_answer_phrase(text)
    if phrase is not None:
        candidates.append(phrase)
    candidates.append(text)
    for candidate in candidates:
        letter = mcq_letter_of(candidate, letters)
        if letter is not None:
            return Extraction(letter, (letter,), "mcq_letter")
        if options:
            letter = option_text_letter(candidate, options, letters)
            if letter is not None:
                return Extraction(letter, (letter,), "mcq_option_text")
    # The last clearly marked label in running text: "(B)", "**B**", "B)".
    tail = text[-4_000:]
    marked = re.findall(rf"\(([{letters}])\)|\*\*([{letters}])\*\*|\b([{letters}])\)", tail)
    if marked:
        letter = next(group for group in marked[-1] if group)
        return Extraction(letter, (letter,), "mcq_letter")
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
            return Extraction(hits[0], (hits[0],), "mcq_option_text")
    return _none(Reason.NO_ANSWER)


# --- the entry point ---------------------------------------------------------------------------


def _strict(text: str, answer_type: AnswerType | None, options, letters: str) -> Extraction:
    groups = find_box_groups(text)
    if not groups:
        return _none(Reason.NOT_BOXED)
    if len(groups) > _MAX_BOXES or sum(map(len, groups)) > _MAX_BOXES:
        return _none(Reason.HEDGED)
    if answer_type is AnswerType.MCQ:
        items = [item for group in groups for item in group]
        letters_read = [_strict_letter(item, options, letters) for item in items]
        distinct = {letter for letter in letters_read if letter is not None}
        if len(distinct) > 1 or (distinct and None in letters_read):
            return _none(Reason.HEDGED)  # several letters, or a letter beside other text
        if distinct:
            letter = distinct.pop()
            return Extraction(letter, (letter,), "mcq_letter")
        # No box holds one option letter: the last box's text is the (wrong) answer.
        final = strip_math_delimiters(items[-1])
        if not final:
            return _none(Reason.NO_ANSWER)
        return Extraction(final, (final,), "boxed")
    canonical = [tuple(_squash(item) for item in group) for group in groups]
    final_group = tuple(strip_math_delimiters(item) for item in groups[-1])
    final_set = set(canonical[-1])
    if any(set(group) != final_set for group in canonical):
        return _none(Reason.HEDGED)  # earlier boxes state something else
    if not any(final_group):
        return _none(Reason.NO_ANSWER)  # only empty boxes
    if "" in final_set:
        return _none(Reason.HEDGED)  # an empty box next to real ones
    ordered = tuple(dict.fromkeys(final_group))
    return Extraction(ordered[-1], ordered, "boxed")


def _squash(content: str) -> str:
    return re.sub(r"\s+", "", content)


def extract(
    text: str,
    answer_type: AnswerType | None = None,
    options: Sequence[str] | None = None,
    *,
    mode: VerificationMode | str = VerificationMode.STRICT,
    max_input_chars: int = 32_768,
    letters: str = "ABCD",
) -> Extraction:
    """Extract the final answer of a model output (no comparison).

    Args:
        text: Raw model output: a bare answer ("42", "B") or a long reasoning text.
        answer_type: The expected answer type; ``None`` extracts a math-style answer.
        options: MCQ option texts in letter order (used for ``AnswerType.MCQ``).
        mode: ``"strict"`` (only boxes, hedges refused) or ``"lenient"`` (fallbacks).
        max_input_chars: Strict mode refuses longer outputs (``TOO_LARGE``); lenient mode
            reads only their last this-many characters (the answer is at the end).
        letters: The MCQ option letters.

    Returns:
        An :class:`Extraction`. For ``MCQ`` the answer is the upper-case letter; in strict
        mode a box that is no letter is returned as the answer (it will not match).
    """
    if not isinstance(text, str) or not text.strip():
        return _none(Reason.NO_ANSWER)
    mode = VerificationMode(str(mode).lower())
    if mode is VerificationMode.STRICT:
        if len(text) > max_input_chars:
            return _none(Reason.TOO_LARGE)
        return _strict(text, answer_type, options, letters)
    text = text[-max_input_chars:]
    if answer_type is AnswerType.MCQ:
        return _lenient_mcq(text, letters, options)
    groups = _box_groups(text)
    if answer_type is AnswerType.STRING:
        if groups:
            final = tuple(strip_math_delimiters(item) for item in dict.fromkeys(groups[-1][1]))
            if not final[-1]:
                return _none(Reason.NO_ANSWER)
            return Extraction(final[-1], final, "boxed")
        answer, how = _lenient_string(text)
        return Extraction(answer, (answer,), how) if answer else _none(Reason.NO_ANSWER)
    if groups:
        end, group = groups[-1]
        final = tuple(strip_math_delimiters(item) for item in dict.fromkeys(group))
        if not final[-1]:
            return _none(Reason.NO_ANSWER)
        # "\boxed{255} ... Final Answer: The final answer is $10,455$": a final statement
        # after the last box is the answer; the box stays as a fallback.
        phrase = _answer_phrase(text[end:])
        if phrase is not None and _FINAL_PHRASE.search(text, end) and _MATHY.search(phrase[1]):
            stated = strip_math_delimiters(phrase[1])
            return Extraction(stated, (stated,), "answer_phrase", None, (final[-1],))
        return Extraction(final[-1], final, "boxed")
    readings = _lenient_math(text)
    if not readings:
        return _none(Reason.NO_ANSWER)
    answer, how = readings[0]
    others = tuple(dict.fromkeys(other for other, _ in readings[1:] if other != answer))
    return Extraction(answer, (answer,), how, None, others)
