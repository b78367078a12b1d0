"""Content checks on a parsed task: typed answers, self-verification, written computations,
leaks, grounding.

All functions are pure and bounded by the size of their inputs; none raises on model text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from fractions import Fraction
from functools import lru_cache
from typing import Any

from rapidfuzz import fuzz, process

from spice_env.tasks.task import InvalidReason, Task, TaskVerdict
from spice_env.verifiers import INTEGER_PATTERN

__all__ = [
    "ValidityConfig",
    "answer_matches_type",
    "asked_result",
    "grounding_score",
    "is_answer_leaked",
    "is_question",
    "validate_task",
    "written_result",
]

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_STOPWORDS = frozenset(
    [
        "the",
        "and",
        "for",
        "are",
        "but",
        "not",
        "you",
        "all",
        "any",
        "can",
        "had",
        "her",
        "was",
        "one",
        "our",
        "out",
        "has",
        "his",
        "how",
        "its",
        "may",
        "new",
        "now",
        "old",
        "see",
        "two",
        "way",
        "who",
        "did",
        "get",
        "let",
        "put",
        "say",
        "she",
        "too",
        "use",
        "that",
        "with",
        "have",
        "this",
        "will",
        "your",
        "from",
        "they",
        "been",
        "more",
        "when",
        "what",
        "which",
        "their",
        "there",
        "than",
        "then",
        "them",
        "these",
        "some",
        "would",
        "into",
        "about",
        "each",
        "many",
        "most",
        "other",
        "such",
        "only",
        "also",
        "very",
        "just",
        "over",
        "both",
        "same",
        "were",
        "does",
        "find",
        "given",
        "value",
        "following",
        "answer",
        "question",
        "what",
        "whose",
        "where",
        "while",
        "being",
        "after",
        "before",
        "between",
    ]
)
_BLANK = re.compile(r"_{3,}")
_SENTENCE_START = re.compile(r"(?:^|[.!?;:\n]\s*)([^\W\d_]+)(?:\s+([^\W\d_]+))?", re.UNICODE)
_QUESTION_WORDS = frozenset(
    "what which who whom whose when where why how".split()
    # yes/no questions open with an auxiliary verb
    + "is are was were do does did can could will would should has have".split()
)
_INSTRUCTIONS = frozenset(
    """fill complete name give find compute calculate determine evaluate simplify solve
    identify state choose select pick list estimate express write convert count explain""".split()
)
_PREPOSITIONS = frozenset("in on at by for from to of with into after before during".split())
MAX_QUESTION_CHARS = 4000
"""Only the first characters of a question are searched for a question or an instruction."""
MAX_GROUNDING_WORDS = 200
"""Only the first words of a question are scored, so the check stays cheap on huge text."""


@dataclass(frozen=True)
class ValidityConfig:
    """Thresholds of the task checks.

    Attributes:
        grounding_threshold: Minimum :func:`grounding_score` of question (and options) against
            the document; 0 disables the check.
        fuzzy_word_cutoff: rapidfuzz ``ratio`` (0-100) at which a question word counts as
            present in the document (tolerates inflections and typos).
        max_string_words: A ``String`` answer may have at most this many words (SPEC: 3).
        min_leak_chars: Answers shorter than this leak only where the question announces them
            ("the answer is 12"): a short word or letter appears in questions for innocent
            reasons.
        check_number_leak: A numeric answer leaks when its value is any number the question
            writes (see :func:`is_answer_leaked`); False restores the announced-only rule for
            short numbers.
        check_written_computation: A cloze that writes out the computation of its blank
            ("Lisa had 20 - 5 = ____ marbles"), or a question that is a computation and nothing
            else ("What is 160 + 40*40?"), must have that computation's value as its gold
            (see :func:`written_result` and :func:`asked_result`).
        check_self_verification: Require that the verifier accepts the gold against itself.
        min_question_document_words: The question itself (options aside) must hold at least
            this many content words of the document. Grounding is scored over question and
            options together, so without this a generic question ("What is the answer to the
            question?") with four options copied from the document passed; 0 disables it,
            and so does a ``grounding_threshold`` of 0.
    """

    grounding_threshold: float = 0.25
    fuzzy_word_cutoff: float = 85.0
    max_string_words: int = 3
    min_leak_chars: int = 3
    check_number_leak: bool = True
    check_written_computation: bool = True
    check_self_verification: bool = True
    min_question_document_words: int = 2

    def __post_init__(self) -> None:
        if not 0.0 <= self.grounding_threshold <= 1.0:
            raise ValueError(
                f"grounding_threshold={self.grounding_threshold} must be in [0, 1]; "
                "use 0 to turn the grounding check off"
            )
        if self.max_string_words < 1:
            raise ValueError(f"max_string_words={self.max_string_words} must be at least 1")
        if not 0.0 <= self.fuzzy_word_cutoff <= 100.0:
            raise ValueError(f"fuzzy_word_cutoff={self.fuzzy_word_cutoff} must be in [0, 100]")
        if self.min_leak_chars < 0:
            raise ValueError(f"min_leak_chars={self.min_leak_chars} must be >= 0")
        if self.min_question_document_words < 0:
            raise ValueError(
                f"min_question_document_words={self.min_question_document_words} must be >= 0"
            )

    @classmethod
    def coerce(cls, value: ValidityConfig | Mapping[str, Any] | None) -> ValidityConfig:
        """A ``ValidityConfig`` from one, a dict of its fields, or ``None`` (the defaults).

        Raises:
            ValueError: a dict key that is not a field (the message lists the fields).
        """
        if value is None:
            return cls()
        if isinstance(value, ValidityConfig):
            return value
        if isinstance(value, Mapping):
            known = {f.name for f in fields(cls)}
            unknown = set(value) - known
            if unknown:
                raise ValueError(
                    f"unknown validity settings {sorted(unknown)}; known: {sorted(known)}"
                )
            return cls(**value)
        raise TypeError(
            f"validity must be a ValidityConfig, a dict or None, not {type(value).__name__}"
        )


def _strip_wrappers(answer: str) -> str:
    answer = answer.strip()
    match = re.fullmatch(r"\\boxed\{(.*)\}", answer, flags=re.DOTALL)
    if match:
        answer = match.group(1).strip()
    return answer.strip("$ ").strip()


def answer_matches_type(answer: str, answer_type: str, max_string_words: int = 3) -> bool:
    """True when ``answer`` has the form its declared type demands.

    Integer: optional sign, digits, optional thousands commas. String: 1 to
    ``max_string_words`` words. Expression: non-empty (the verifier judges the rest).
    """
    answer = _strip_wrappers(answer)
    if not answer:
        return False
    if answer_type == "Integer":
        return bool(INTEGER_PATTERN.fullmatch(answer))
    if answer_type == "String":
        return len(answer.split()) <= max_string_words
    return answer_type == "Expression"


def _normalize(text: str) -> str:
    return " ".join(_WORD.findall(text.lower()))


# Words that announce an answer, after normalization ("answer:" and "answer =" read "answer").
_ANSWER_CUES = ("answer", "answer is", "answer would be", "answer will be", "equals", "is equal to")


# A number as a question writes it: "12", "1,400,000", "1.2", "$40" (the "$" is not part of it),
# also where a unit or suffix is glued to it ("75mm", "4th", "2x"): a self-play Challenger wrote
# "Which piece of the rope is 75mm long?" (gold 75) and its Reasoner boxed 75 in 16 of 16
# answers. A letter before the digits keeps them inside a word ("CO2", "A4").
# A "-" counts as a sign only where no digit or letter comes before it ("-5 degrees", not "73-63").
_NUMBER = re.compile(r"(?<![\w.])(?:(?<![\w.,])-)?\d[\d,]*(?:\.\d+)?")
_PLAIN_NUMBER = re.compile(r"[+-]?\d[\d,]*(?:\.\d+)?")


def _number_value(text: str) -> float:
    """The value of a text both number patterns accept (digits, commas, one decimal part)."""
    return float(text.replace(",", "").lstrip("+"))


# A number a question spells out, up to ninety-nine ("nineteen-sided", "twenty four"): copying
# one is the same shortcut as copying digits. "one" counts too, pronoun or not.
_UNIT_WORDS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS_WORDS = "twenty thirty forty fifty sixty seventy eighty ninety".split()
_NUMBER_WORD = re.compile(
    rf"\b(?:({'|'.join(_TENS_WORDS)})(?:[- ]({'|'.join(_UNIT_WORDS[1:10])}))?"
    rf"|({'|'.join(_UNIT_WORDS)}))\b",
    re.IGNORECASE,
)


def _word_value(match: re.Match[str]) -> float:
    tens, unit, small = match.groups()
    if small:
        return float(_UNIT_WORDS.index(small.lower()))
    value = 20 + 10 * _TENS_WORDS.index(tens.lower())
    return float(value + (_UNIT_WORDS.index(unit.lower()) if unit else 0))


def _question_numbers(question: str) -> set[float]:
    question = question[:MAX_QUESTION_CHARS]
    written = {_number_value(m) for m in _NUMBER.findall(question)}
    return written | {_word_value(m) for m in _NUMBER_WORD.finditer(question)}


def _gold_text(task: Task) -> str:
    """The gold's text: the correct option's for multiple choice (empty for a letter outside
    A-D), else the answer; without ``\\boxed{}`` or ``$``."""
    answer = task.answer
    if task.is_mcq and task.options:
        answer = task.options["ABCD".index(task.answer)] if task.answer in "ABCD" else ""
    return _strip_wrappers(answer)


def is_answer_leaked(task: Task, min_chars: int = 3, numbers: bool = True) -> bool:
    """True when the gold answer (the correct option's text for MCQ) appears in the question.

    Matching is on whole words after lower-casing and dropping punctuation. An answer shorter
    than ``min_chars`` leaks only where the question announces it ("... the answer is 12",
    "answer: 12", "... equals 12"): a trained SmolLM2 Challenger wrote "What is 42 x 48? ...
    The answer is 12." and it was scored valid.

    With ``numbers`` (the default) a numeric gold also leaks when its value is one of the
    numbers the question writes, however short and however announced ("Is there a 19-sided
    polygon with 4 vertices?", gold 19). Copying a number of the question is a strategy a
    Reasoner learns: in a free-form self-play run the Challenger learned to write such tasks
    and the Reasoner to box the question's number (their reward 0.19-0.66 against 0.00-0.02 on
    the other tasks), which paid both roles for no reasoning. The cost: a task whose answer
    happens to equal a given number is rejected too (99 of GSM8K's 1,319 test questions, 49 of
    MATH-500's 311 integer answers would be; 15 and 3 of them only through a number spelled
    out, such as "two" or "sixteen", 6 of MATH-500's through a coefficient such as "3m").
    """
    stripped = _gold_text(task)
    if (
        numbers
        and _PLAIN_NUMBER.fullmatch(stripped)
        and _number_value(stripped) in _question_numbers(task.question)
    ):
        return True
    needle = _normalize(stripped)
    if not needle:
        return False
    question = f" {_normalize(task.question)} "
    if len(needle.replace(" ", "")) >= min_chars:
        return f" {needle} " in question
    return any(f" {cue} {needle} " in question for cue in _ANSWER_CUES)


# Tokens of a written computation: a number (thousands commas allowed), an operator, a
# parenthesis, a currency sign, spaces; anything else is one character that ends it.
_ARITHMETIC_TOKEN = re.compile(
    r"(?P<number>\d+(?:,\d{3})*(?:\.\d+)?)|(?P<operator>(?<=[\d\s)])[xX×](?=\s*[\d(])|[-+*/÷()])"
    r"|(?P<skip>[$€£]|\s+)|(?P<other>.)",
    re.DOTALL,
)
# Words that carry a computation on to the left of what the reader takes ("1 and 1/4",
# "half of 3 x 4"): a computation after one of them is not read.
_ARITHMETIC_WORDS = frozenset(
    "and plus minus times of by over divided multiplied less more than per".split()
)
# After the blank: a percentage or cents may restate the value times 100 ("1/5 = ____%").
_HUNDREDTHS = re.compile(r"\s*(?:%|percent\b|cents?\b)", re.IGNORECASE)
_TIMES = frozenset("*x×X")
_MAX_COMPUTATION_CHARS = 160
# A question that is a computation and nothing else: "What is 3 + 4?", "How much is $12 x 3?",
# "What does 7 * 8 equal?".
_ASKED = re.compile(
    r"\s*(?:what|how\s+much)\s+(?:is|are|does|do|would\s+be|will\s+be)\s+"
    rf"(?P<computation>[^?]{{1,{_MAX_COMPUTATION_CHARS}}}?)\s*(?:equals?\s*)?\?\s*$",
    re.IGNORECASE,
)
_MAX_RESULT_DIGITS = 40
_EXACT_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:/\d+)?")


def _arithmetic_value(tokens: list[str]) -> Fraction | None:
    """The exact value of ``tokens`` (numbers, + - * x / and parentheses), or ``None``.

    A recursive descent over a bounded token list: no ``eval``, no exponent, so the value of
    a 160-character expression has at most a few hundred digits.
    """
    position = 0

    def peek() -> str | None:
        return tokens[position] if position < len(tokens) else None

    def take() -> str:
        nonlocal position
        position += 1
        return tokens[position - 1]

    def factor(depth: int) -> Fraction:
        token = peek()
        if token is None or depth > 20:
            raise ValueError("incomplete")
        if token == "-":
            take()
            return -factor(depth + 1)
        if token == "(":
            take()
            value = expression(depth + 1)
            if peek() != ")":
                raise ValueError("unbalanced")
            take()
            return value
        if token[0].isdigit():
            return Fraction(take().replace(",", ""))
        raise ValueError(f"unexpected {token!r}")

    def term(depth: int) -> Fraction:
        value = factor(depth)
        while peek() is not None and (peek() in _TIMES or peek() in "/÷"):
            operator = take()
            right = factor(depth)
            value = value * right if operator in _TIMES else value / right
        return value

    def expression(depth: int) -> Fraction:
        value = term(depth)
        while peek() in ("+", "-"):
            value = value + term(depth) if take() == "+" else value - term(depth)
        return value

    try:
        value = expression(0)
    except (ValueError, ArithmeticError):  # ZeroDivisionError is an ArithmeticError
        return None
    return value if position == len(tokens) else None


def written_result(question: str) -> Fraction | None:
    """The value of the computation a cloze writes right before its blank, if it writes one.

    "Lisa had 20 - 5 = ____ marbles" gives 15; "$40 + $50 + $60 = $____" gives 150;
    "1/2 x 40 = ____" gives 20. Only numbers, ``+ - * x × / ÷`` and parentheses are read (at
    most 160 characters before the ``=``) and at least one operator is needed. Whatever the
    reader cannot take whole gives ``None``, so no claim is made: no computation ("Lisa had
    ____ marbles", "37% of 1000 = ____"), one that reaches into words or other numbers ("60
    students x 2/3 = ____", "M + 4 = ____", ".10*60 = ____"), or a blank that is itself inside
    a computation ("1/2 * 1/2 = ____/4", "4080 / 2 = ____ + 2040").
    """
    question = question[:MAX_QUESTION_CHARS]
    blank = _BLANK.search(question)
    if blank is None:
        return None
    after = question[blank.end() :]
    if after[:1].isalnum() or after.lstrip()[:1] in tuple("+-–−*/x×÷=^(0123456789"):
        return None
    before = question[: blank.start()].rstrip().rstrip("$€£").rstrip()
    if not before.endswith("="):
        return None
    window = before[:-1]
    tokens = list(_ARITHMETIC_TOKEN.finditer(window[-_MAX_COMPUTATION_CHARS:]))
    taken: list[re.Match[str]] = []
    stop = None  # the token that ends the computation on its left
    for match in reversed(tokens):
        if match.lastgroup == "skip":
            continue
        if match.lastgroup == "other":
            stop = match
            break
        taken.append(match)
    if stop is None and len(window) > _MAX_COMPUTATION_CHARS:
        return None  # the window may have cut a number in half
    taken.reverse()
    kept = [match.group() for match in taken]
    if not kept or not (kept[0][0].isdigit() or kept[0] in "(-"):
        return None  # it opens with an operator: the computation goes on in words
    if stop is not None:
        left = stop.group()
        if kept[0] == "-" and (left.isalnum() or left == ")"):
            return None  # "M - 4": a subtraction from what the reader cannot take
        if stop.end() == taken[0].start() and (left in ".," or left.isalnum()):
            return None  # ".10*60", "A4 + 1": the number goes on, glued to the left
        if left in ".," and window[: stop.start()][-1:].isdigit():
            return None  # "14, 400 / 80": a number written with a spaced comma
        word = re.search(r"[^\W\d_]+$", window[: stop.end()][-40:])
        if word is not None and word.group().lower() in _ARITHMETIC_WORDS:
            return None  # "12 x 1 and 1/4 = ____"
    return _computation_value(kept)


def asked_result(question: str) -> Fraction | None:
    """The value of the computation a question asks for, when the question is nothing else.

    "What is 160 + 40*40 + 180*100?" gives 19760; "How much is $12 x 3?" and "What does 7 * 8
    equal?" are read too. The same reader as :func:`written_result`: only numbers,
    ``+ - * x × / ÷``, parentheses and currency signs between the opening words and the
    ``?``, at least one operator, at most 160 characters. A question with any word in its
    computation ("What is 20% of 50?", "What is 3 apples + 2?") gives ``None``.
    """
    match = _ASKED.match(question[:MAX_QUESTION_CHARS])
    if match is None:
        return None
    tokens = list(_ARITHMETIC_TOKEN.finditer(match.group("computation")))
    if any(token.lastgroup == "other" for token in tokens):
        return None
    kept = [token.group() for token in tokens if token.lastgroup != "skip"]
    if not kept or not (kept[0][0].isdigit() or kept[0] in "(-"):
        return None
    return _computation_value(kept)


def _computation_value(kept: list[str]) -> Fraction | None:
    """The value of the arithmetic tokens a reader took, or ``None`` where it makes no claim."""
    if any(token[:1] == "0" and token[1:2].isdigit() for token in kept):
        return None  # "0900-0130": clock times, not numbers
    if any(a == "/" and b == "/" for a, b in zip(kept, kept[2:])):
        return None  # "25 / 1/3": which division comes first is not written
    operators = sum(1 for token in kept[1:] if not token[0].isdigit() and token not in "()")
    if operators == 0:
        return None
    value = _arithmetic_value(kept)
    if value is None or len(str(abs(value.numerator))) > _MAX_RESULT_DIGITS:
        return None
    return value


def _contradicts(written: Fraction, gold: Fraction, gold_text: str) -> bool:
    """True when ``gold`` is not ``written``, even rounded to the gold's own decimals ("10/3 =
    ____" with gold 3.33 agrees); an integer gold may be either integer next to it (whole
    boxes, trips: "17/3 = ____ loads" with 5 or 6)."""
    if gold == written:
        return False
    if gold.denominator == 1 and "." not in gold_text:
        return not math.floor(written) <= gold <= math.ceil(written)
    decimals = len(gold_text.partition(".")[2]) if "/" not in gold_text else 0
    return abs(written - gold) * 2 > Fraction(1, 10**decimals)


def _contradicts_question(task: Task, written: Fraction, gold: tuple[Fraction, str]) -> bool:
    """Whether the gold is neither the written value nor, before "%" or "cents", 100 times it."""
    if not _contradicts(written, *gold):
        return False
    blank = _BLANK.search(task.question[:MAX_QUESTION_CHARS])
    hundredths = blank is not None and _HUNDREDTHS.match(task.question, blank.end())
    return not hundredths or _contradicts(written * 100, *gold)


def _gold_value(task: Task) -> tuple[Fraction, str] | None:
    """The gold as an exact number with its text (the correct option's for MCQ), or ``None``."""
    text = _gold_text(task).strip().lstrip("$€£").replace(",", "")
    # Digits, a decimal part, a fraction bar: never an exponent ("1e999999999" is no number
    # to build).
    if len(text) > _MAX_RESULT_DIGITS or not _EXACT_NUMBER.fullmatch(text):
        return None
    try:
        return Fraction(text), text
    except (ValueError, ZeroDivisionError):
        return None


def _show(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else f"{float(value):g}"


def is_question(text: str) -> bool:
    """True when ``text`` asks something: it has a question mark, a blank (``___``) to fill,
    or a sentence that opens with a question word (``What``, ``In which``, ``Is``...) or an
    instruction (``Fill``, ``Compute``, ``Choose``...).

    A statement copied from the document with an answer attached (``"The horse is a
    one-toed mammal."`` with the Integer answer ``1``) asks nothing: a self-play run found
    such tasks, and a Reasoner that learned to box ``1`` for them.
    """
    text = text[:MAX_QUESTION_CHARS]
    if "?" in text or "\uff1f" in text or _BLANK.search(text):
        return True
    for match in _SENTENCE_START.finditer(text):
        first = match.group(1).lower()
        second = (match.group(2) or "").lower()
        if first in _QUESTION_WORDS or first in _INSTRUCTIONS:
            return True
        if first in _PREPOSITIONS and second in _QUESTION_WORDS:
            return True
    return False


@lru_cache(maxsize=64)
def _document_vocabulary(document: str) -> tuple[frozenset[str], tuple[str, ...]]:
    words = frozenset(_WORD.findall(document.lower()))
    return words, tuple(sorted(words))


def _content_words(text: str) -> list[str]:
    words = _WORD.findall(text.lower())[:MAX_GROUNDING_WORDS]
    return [w for w in words if (len(w) >= 3 or w.isdigit()) and w not in _STOPWORDS]


def grounding_score(text: str, document: str, fuzzy_word_cutoff: float = 85.0) -> float:
    """Fraction of the content words of ``text`` found in ``document`` (fuzzily, by rapidfuzz).

    Content words are words of three or more letters that are not stopwords, and numbers. A
    word counts as found when it is in the document or within ``fuzzy_word_cutoff`` rapidfuzz
    ratio of a document word (so "electrons" matches "electron").

    Returns:
        A score in [0, 1]; 0 when ``text`` has no content words.
    """
    return _share(_words_found(text, document, fuzzy_word_cutoff))


def _share(found: list[bool]) -> float:
    return sum(found) / len(found) if found else 0.0


def _words_found(text: str, document: str, fuzzy_word_cutoff: float) -> list[bool]:
    """For each content word of ``text``, in order, whether the document holds it."""
    vocabulary, ordered = _document_vocabulary(document)
    return [
        word in vocabulary
        or bool(
            not word.isdigit()
            and process.extractOne(word, ordered, scorer=fuzz.ratio, score_cutoff=fuzzy_word_cutoff)
        )
        for word in _content_words(text)
    ]


Verifier = Callable[..., object]


def validate_task(
    parsed: TaskVerdict,
    document: str,
    config: ValidityConfig | None = None,
    verify: Verifier | None = None,
) -> TaskVerdict:
    """Run the content checks on a parsed task, in order, and return the first failure.

    Order: (parse failures pass through) a question at all, answer type, self-verification,
    the computation a cloze writes out, leak, grounding.

    Args:
        parsed: Output of :func:`spice_env.tasks.parsing.parse_task`.
        document: The document the Challenger read.
        config: Thresholds; defaults to :class:`ValidityConfig()`.
        verify: ``check(gold, prediction, answer_type, options=...)`` returning an object
            with a ``correct`` attribute; defaults to :func:`spice_env.verifiers.check`.

    Returns:
        ``parsed`` itself when it already failed, else a :class:`TaskVerdict` with the grounding
        score filled in and ``reason`` set on failure.
    """
    if not parsed.valid:
        return parsed
    config = config or ValidityConfig()
    task = parsed.task
    assert task is not None  # valid implies a task

    if not is_question(task.question):
        return replace(
            parsed,
            reason=InvalidReason.NOT_A_QUESTION,
            detail="no question mark, blank, question word or instruction",
        )

    if not task.is_mcq and not answer_matches_type(
        task.answer, task.answer_type, config.max_string_words
    ):
        return replace(
            parsed,
            reason=InvalidReason.ANSWER_TYPE_MISMATCH,
            detail=f"answer {task.answer[:30]!r} is not a valid {task.answer_type}",
        )

    if config.check_self_verification:
        if verify is None:
            from spice_env.verifiers import check as verify
        # The gold is written as a Reasoner would box it, so that the check holds in the
        # strict (training) mode, where only a boxed answer counts.
        boxed = task.answer if "\\boxed" in task.answer else f"\\boxed{{{task.answer}}}"
        result = verify(task.answer, boxed, task.answer_type, options=task.options)
        if not getattr(result, "correct", False):
            why = getattr(result, "reason", "")
            return replace(
                parsed,
                reason=InvalidReason.GOLD_NOT_SELF_VERIFIABLE,
                detail=f"gold {task.answer[:30]!r} does not verify against itself ({why})",
            )

    if config.check_written_computation:
        written = written_result(task.question)
        if written is None:
            written = asked_result(task.question)
        gold = _gold_value(task) if written is not None else None
        if written is not None and gold is not None and _contradicts_question(task, written, gold):
            return replace(
                parsed,
                reason=InvalidReason.GOLD_CONTRADICTS_QUESTION,
                detail=f"the question computes {_show(written)}, the gold is {gold[1]}",
            )

    if is_answer_leaked(task, config.min_leak_chars, config.check_number_leak):
        return replace(
            parsed, reason=InvalidReason.ANSWER_LEAKED, detail="answer appears in the question"
        )

    grounding = 1.0
    if config.grounding_threshold > 0:
        scored = task.question + " " + " ".join(task.options or ())
        found = _words_found(scored, document, config.fuzzy_word_cutoff)
        grounding = _share(found)
        if grounding < config.grounding_threshold:
            return replace(
                parsed,
                reason=InvalidReason.NOT_GROUNDED,
                detail=f"grounding {grounding:.2f} < {config.grounding_threshold}",
                grounding=grounding,
            )
        # The question's content words come first in ``scored``: its flags, not a second scan.
        in_question = sum(found[: len(_content_words(task.question))])
        if in_question < config.min_question_document_words:
            return replace(
                parsed,
                reason=InvalidReason.NOT_GROUNDED,
                detail=(
                    f"the question holds {in_question} word(s) of the document "
                    f"(< {config.min_question_document_words})"
                ),
                grounding=grounding,
            )
    return replace(parsed, grounding=grounding)
