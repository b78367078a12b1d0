"""Text normalization for string answers and light LaTeX clean-up before math parsing.

All functions are pure and run regexes without nested quantifiers over size-capped input.
"""

from __future__ import annotations

import re
import string
import unicodedata

__all__ = [
    "MATH_WORDS",
    "brace_pairs",
    "clean_math",
    "normalize_text",
    "strip_math_delimiters",
    "strip_text_wrappers",
]

MATH_WORDS = frozenset(
    "pi e i sin cos tan cot sec csc log ln exp sqrt abs frac inf infty oo deg degree degrees".split()
)
"""Words that are math, not prose or units: function names, constants, degree marks."""


def brace_pairs(text: str) -> dict[int, int]:
    """Every matched ``{`` of ``text`` mapped to its ``}``, in one pass (unclosed ones absent).

    Escaped braces (``\\{``, ``\\}``) are skipped. The one brace matcher of the package:
    box extraction and the parser's raw ``\\text{...}`` arguments both use it.

    Args:
        text: The text.

    Returns:
        Opening index -> closing index.
    """
    pairs: dict[int, int] = {}
    stack: list[int] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "{":
            stack.append(i)
        elif ch == "}" and stack:
            pairs[stack.pop()] = i
        i += 1
    return pairs


_TEXT_WRAPPER = re.compile(
    r"\\(?:text|textbf|textit|textrm|texttt|textsf|textnormal|mathrm|mathbf|mathit|mathsf|mathtt"
    r"|mbox|operatorname|boldsymbol|bm|emph)\s*\{([^{}]*)\}"
)
_ARTICLES = re.compile(r"\b(?:a|an|the)\b")
_PUNCT_TABLE = str.maketrans({ch: " " for ch in string.punctuation})
_SPACES = re.compile(r"\s+")


def strip_text_wrappers(text: str) -> str:
    """Replace ``\\text{x}``, ``\\mathrm{x}``, ``\\textbf{x}`` ... by their content (innermost first)."""
    for _ in range(8):  # nesting such as \textbf{\text{x}} is shallow in practice
        new = _TEXT_WRAPPER.sub(r"\1", text)
        if new == text:
            break
        text = new
    return text


def normalize_text(text: str) -> str:
    """Normalize a free-text answer: LaTeX text wrappers, case, accents, articles, punctuation.

    Args:
        text: A short answer such as ``"\\text{Marie Curie.}"``.

    Returns:
        The canonical form, e.g. ``"marie curie"``.
    """
    text = strip_text_wrappers(text)
    text = text.replace("$", " ").replace("\\", " ")
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.lower().translate(_PUNCT_TABLE)
    text = _ARTICLES.sub(" ", text)
    return _SPACES.sub(" ", text).strip()


# --- math clean-up ---------------------------------------------------------------------------

_SIMPLE_REPLACEMENTS = (
    ("\\dfrac", "\\frac"),
    ("\\tfrac", "\\frac"),
    ("\\cfrac", "\\frac"),
    ("\\dbinom", "\\binom"),
    ("\\tbinom", "\\binom"),
    ("\\displaystyle", " "),
    ("\\textstyle", " "),
    ("\\left.", " "),
    ("\\right.", " "),
    ("\\left", " "),
    ("\\right", " "),
    ("\\bigl", " "),
    ("\\bigr", " "),
    ("\\Bigl", " "),
    ("\\Bigr", " "),
    ("\\big", " "),
    ("\\Big", " "),
    ("\\!", ""),
    ("\\,", " "),
    ("\\;", " "),
    ("\\:", " "),
    ("\\ ", " "),
    ("\\quad", " "),
    ("\\qquad", " "),
    ("{,}", ""),
    ("\\$", " "),
    ("\u2212", "-"),
    ("\u00d7", "\\times "),
    ("\u00b7", "\\cdot "),
    ("\u221a", "\\sqrt "),
    ("\u03c0", "\\pi "),
    ("\u221e", "\\infty "),
    ("\u2264", "\\le "),
    ("\u2265", "\\ge "),
    ("\u00b1", "\\pm "),
    ("\u2248", "\\approx "),
)
# Thousands written "11,\! 111" or "14{, }916": the separator goes before "\!" is dropped.
_THIN_THOUSANDS = re.compile(r"(\d)\s*(?:,\\!\s*|\{,\s*\})(?=\d{3}(?!\d))")
# "\\frac", "\\le" (a JSON-escaped or doubled backslash before a command) is one backslash.
_DOUBLED_BACKSLASH = re.compile(r"\\\\(?=[A-Za-z])")
_SPACE_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(?: \d{3})+(?:\.\d+)?$")
# "6 \text{ and } 8", "(11,7) or (7,11)", "1 and 2": a conjunction between answers is a comma.
_TEXT_CONJUNCTION = re.compile(r"\\(?:text|textnormal|mbox|mathrm)\s*\{\s*(?:or|and|,)\s*\}")
_CONJUNCTION = re.compile(
    r"(?<=[\d)\]},])\s*(?:or|and)\s*(?=[-+\d(\[\\])|(?<=[\d)\]},])\s+(?:or|and)\s+(?=\S)"
)
_REPEATED_COMMAS = re.compile(r",(?:\s*,)+")
_DEGREES = re.compile(r"\^\s*\{?\s*\\circ\s*\}?|\\degree|\u00b0|\^\s*\{\s*o\s*\}")
_THOUSANDS = re.compile(r"^[+-]?[1-9]\d{0,2}(?:,\d{3})+(?:\.\d+)?$")
_TRAILING_TEXT = re.compile(
    r"^(.*?[\d}).])\s*\\(?:text|textnormal|textbf|textit|mbox|mathrm)\s*\{[^{}]*\}\s*$"
)
# One-letter tails are kept: "2x" is an expression, not 2 with a unit.
_UNIT_WORDS = re.compile(r"^([+-]?[\d.,/]*\d)\s*([A-Za-z]{2,}[A-Za-z .]*)$")


def strip_math_delimiters(text: str) -> str:
    """Remove ``$...$``, ``$$...$$``, ``\\(...\\)`` or ``\\[...\\]`` around a whole answer.

    Args:
        text: An answer such as ``"$\\frac{1}{2}$"``.

    Returns:
        The stripped inside (``"\\frac{1}{2}"``), or the stripped text when not delimited.
    """
    text = text.strip()
    for left, right in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
        if text.startswith(left) and text.endswith(right) and len(text) > len(left) + 1:
            text = text[len(left) : -len(right)].strip()
    return text


def clean_math(text: str) -> str:
    """Light LaTeX clean-up before parsing: delimiters, spacing macros, degrees, units.

    Args:
        text: An extracted answer such as ``"$\\dfrac{1}{2}\\text{ cm}$."``.

    Returns:
        A cleaned string such as ``"\\frac{1}{2}"``; the parser does the rest.
    """
    text = strip_math_delimiters(text).replace("$", " ")
    if "\\begin" not in text:  # in a matrix, "\\" before a letter can be a row break
        text = _DOUBLED_BACKSLASH.sub(lambda _: "\\", text)
    text = _THIN_THOUSANDS.sub(r"\1", text)
    # Matrix row breaks (a double backslash) must survive the spacing-macro replacements.
    text = text.replace("\\\\", "\x00")
    for old, new in _SIMPLE_REPLACEMENTS:
        if old in text:
            text = text.replace(old, new)
    text = text.replace("\x00", " \\\\ ")
    text = _DEGREES.sub(" ", text)
    text = _TEXT_CONJUNCTION.sub(",", text)
    text = _CONJUNCTION.sub(",", text)
    text = _REPEATED_COMMAS.sub(",", text)
    text = text.strip().rstrip(".;,").strip()
    if _SPACE_THOUSANDS.match(text):
        text = text.replace(" ", "")
    if _THOUSANDS.match(text):
        text = text.replace(",", "")
    # Units and currency after a number: "5\text{ cm}", "18 dollars", "\$18".
    for _ in range(3):
        match = _TRAILING_TEXT.match(text)
        if match is None:
            break
        text = match.group(1).strip()
    if _THOUSANDS.match(text):
        text = text.replace(",", "")
    match = _UNIT_WORDS.match(text)
    if match and match.group(2).strip().lower() not in MATH_WORDS:
        text = match.group(1)
        if _THOUSANDS.match(text):
            text = text.replace(",", "")
    return text.strip()
