"""Reading the Challenger's JSON out of free model text.

Models wrap JSON in code fences, put prose around it, write LaTeX with single backslashes
(``"\\frac{1}{2}"`` is not valid JSON, and ``"\\times"`` silently becomes a tab), add trailing
commas or Python literals. These functions accept all of that, never raise on any text, and
cost time linear in the input length.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from spice_env.tasks.task import FREE_FORM_ANSWER_TYPES, InvalidReason, Task, TaskType, TaskVerdict
from spice_env.verifiers import OPTION_LABEL_PATTERN, option_letter

__all__ = [
    "TypeSelection",
    "extract_json_object",
    "parse_task",
    "parse_type_selection",
]

MAX_CANDIDATES = 16
"""JSON candidates tried per output (the last ones, where models put their final answer)."""
MAX_CANDIDATE_CHARS = 65_536
"""A candidate object longer than this is not tried: no sane task needs that much JSON."""
MAX_NESTING = 32
"""Objects nested deeper than this are skipped (guards ``json.loads`` recursion)."""

# LaTeX commands whose first letter is also a JSON escape (\b \f \n \r \t): a model writing
# "\frac" inside a JSON string means the command, not a form feed followed by "rac".
_LATEX_NAMES = (
    "frac|tfrac|binom|beta|bar|boxed|big|bigg|bmod|bot|text|textbf|times|theta|tau|tan|tanh"
    "|to|top|triangle|therefore|tilde|nu|neq|ne|not|nabla|neg|nmid|right|rho|rangle|rceil"
    "|rfloor|forall|flat|frown|underline|upsilon|uparrow|cup"
)
# One pass over every backslash: keep real JSON escapes (including an escaped backslash, so
# "\\frac" stays as written), double the ones before a LaTeX name or that JSON would reject.
_ESCAPE_RE = re.compile(
    rf'\\(?:(?P<latex>(?:{_LATEX_NAMES})(?![a-zA-Z]))|(?P<ok>u[0-9a-fA-F]{{4}}|["\\/bfnrt]))?'
)
_TRAILING_COMMA = re.compile(r",(\s*[}\]])")
_PY_LITERALS = {"True": "true", "False": "false", "None": "null"}
_PY_LITERAL_RE = re.compile(r"\b(True|False|None)\b")


def _balanced_objects(text: str) -> list[tuple[int, int]]:
    """Spans of top-level ``{...}`` objects, found in one pass that respects JSON strings."""
    spans: list[tuple[int, int]] = []
    depth = 0
    start = -1
    in_string = False
    escaped = False
    too_deep = False
    for i, ch in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
            continue
        if ch == '"' and depth > 0:
            in_string = True
        elif ch == "{":
            if depth == 0:
                start, too_deep = i, False
            depth += 1
            too_deep = too_deep or depth > MAX_NESTING
        elif ch == "}" and depth > 0:
            depth -= 1
            if depth == 0 and not too_deep and i + 1 - start <= MAX_CANDIDATE_CHARS:
                spans.append((start, i + 1))
    return spans


def _repair_escapes(candidate: str) -> str:
    """Double the backslashes that JSON would reject or misread inside strings."""

    def fix(match: re.Match[str]) -> str:
        if match.group("latex"):
            return "\\\\" + match.group("latex")
        return match.group(0) if match.group("ok") else "\\\\"

    return _ESCAPE_RE.sub(fix, candidate)


def _loads(candidate: str) -> Any:
    try:
        return json.loads(candidate)
    except (ValueError, RecursionError):
        return None


def _decode_variants(candidate: str) -> Iterator[Any]:
    """Decodings of one candidate, from the most faithful to the most repaired."""
    repaired = _repair_escapes(candidate)
    yield _loads(repaired)
    relaxed = _TRAILING_COMMA.sub(r"\1", repaired)
    relaxed = _PY_LITERAL_RE.sub(lambda m: _PY_LITERALS[m.group(1)], relaxed)
    if relaxed != repaired:
        yield _loads(relaxed)


def extract_json_object(text: Any, required_keys: tuple[str, ...] = ()) -> dict[str, Any] | None:
    """Return the last JSON object in ``text`` that has all ``required_keys``.

    Args:
        text: Model output; anything that is not a string gives ``None``.
        required_keys: Keys the object must contain (case-sensitive).

    Returns:
        The decoded object, or ``None`` if no candidate decodes to a dict with those keys.
    """
    if not isinstance(text, str) or "{" not in text:
        return None
    spans = _balanced_objects(text)
    for start, end in reversed(spans[-MAX_CANDIDATES:]):
        for obj in _decode_variants(text[start:end]):
            if isinstance(obj, dict) and all(key in obj for key in required_keys):
                return obj
    return None


# -- Stage 1: task-type selection ---------------------------------------------------------------
@dataclass(frozen=True)
class TypeSelection:
    """The Challenger's stage-1 verdict on a document."""

    suitable_for_mcq: bool
    suitable_for_free_form: bool
    best_answer_type: str | None
    reason: str = ""


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "yes", "y", "1"):
            return True
        if lowered in ("false", "no", "n", "0", ""):
            return False
    return None


def _as_answer_type(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    for answer_type in FREE_FORM_ANSWER_TYPES:
        if value.strip().lower() == answer_type.lower():
            return answer_type
    return None


def parse_type_selection(text: Any) -> TypeSelection | InvalidReason:
    """Parse the stage-1 JSON (``suitable_for_mcq``, ``suitable_for_free_form``...).

    Returns:
        A :class:`TypeSelection`, or :attr:`InvalidReason.UNPARSABLE` when no such JSON is
        found, or :attr:`InvalidReason.NO_SUITABLE_TYPE` when both flags are false.
    """
    obj = extract_json_object(text, ("suitable_for_mcq", "suitable_for_free_form"))
    if obj is None:
        return InvalidReason.UNPARSABLE
    mcq = _as_bool(obj.get("suitable_for_mcq"))
    free_form = _as_bool(obj.get("suitable_for_free_form"))
    if mcq is None or free_form is None:
        return InvalidReason.UNPARSABLE
    if not (mcq or free_form):
        return InvalidReason.NO_SUITABLE_TYPE
    reason = obj.get("reason")
    return TypeSelection(
        suitable_for_mcq=mcq,
        suitable_for_free_form=free_form,
        best_answer_type=_as_answer_type(obj.get("best_answer_type")),
        reason=reason if isinstance(reason, str) else "",
    )


# -- Stage 2: the task itself -------------------------------------------------------------------
# Option labels ("B", "(B)", "B)", "B.", "Option B") are read by the verifiers' one definition
# (``option_letter``), so that an answer such as "A cat" is not the letter A anywhere.


def _text(value: Any) -> str:
    """A field as stripped text; numbers become their JSON spelling, anything else empty."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, (int, float)):
        return json.dumps(value)
    return ""


def _options(value: Any) -> list[str] | None:
    """Option texts in A-D order from a dict keyed by letter or a list; ``None`` if neither."""
    if isinstance(value, Mapping):
        by_letter: dict[str, str] = {}
        for key, text in value.items():
            letter = option_letter(str(key))
            if letter:
                by_letter[letter] = _text(text)
        return [by_letter.get(letter, "") for letter in "ABCD"] if by_letter else []
    if isinstance(value, list):
        texts = [_text(item) for item in value]
        # ["A) foo", "B) bar", ...]: drop labels only when every option carries one.
        labelled = [OPTION_LABEL_PATTERN.fullmatch(t) for t in texts]
        if texts and all(m and m.group(2) and m.group(1).upper() in "ABCD" for m in labelled):
            texts = [m.group(2).strip() for m in labelled]  # type: ignore[union-attr]
        return texts
    return None


def _answer_letter(answer: str, options: list[str]) -> str | None:
    letter = option_letter(answer)
    if letter:
        return letter
    lowered = answer.strip().lower()
    for letter, option in zip("ABCD", options):
        if option and option.lower() == lowered:
            return letter
    return None


def parse_task(
    text: Any,
    task_type: TaskType | str,
    *,
    document_id: str | None = None,
    default_answer_type: str | None = None,
) -> TaskVerdict:
    """Parse a stage-2 Challenger output into a :class:`Task` (format checks only).

    Content checks that need the document or the verifier live in
    :func:`spice_env.tasks.validity.validate_task`.

    Args:
        text: The raw model output.
        task_type: Which template the Challenger was given.
        document_id: Recorded on the task.
        default_answer_type: Free-form answer type to assume if the JSON omits one (the
            stage-1 ``best_answer_type``).

    Returns:
        A :class:`TaskVerdict`; ``task`` is set whenever a task-shaped object was found.
    """
    task_type = TaskType(task_type)
    obj = extract_json_object(text, ("question", "answer"))
    if obj is None:
        return TaskVerdict(
            None, InvalidReason.UNPARSABLE, "no JSON object with question and answer"
        )
    question = _text(obj.get("question"))
    answer = _text(obj.get("answer"))
    solution = _text(obj.get("solution"))

    if task_type is TaskType.MCQ:
        options = _options(obj.get("options"))
        task = Task(
            question=question,
            answer=answer,
            answer_type="MCQ",
            task_type=task_type,
            options=tuple(options) if options else None,
            solution=solution,
            document_id=document_id,
        )
        if not question or not answer:
            return TaskVerdict(task, InvalidReason.EMPTY_FIELDS, "question or answer is empty")
        if options is None or len(options) != 4 or not all(options):
            return TaskVerdict(
                task, InvalidReason.MCQ_BAD_OPTIONS, "need exactly four non-empty options"
            )
        if len({o.strip().lower() for o in options}) != 4:
            return TaskVerdict(task, InvalidReason.MCQ_BAD_OPTIONS, "options are not distinct")
        letter = _answer_letter(answer, options)
        if letter is None:
            return TaskVerdict(
                task, InvalidReason.MCQ_BAD_LETTER, f"answer {answer[:20]!r} is not A-D"
            )
        return TaskVerdict(
            Task(question, letter, "MCQ", task_type, tuple(options), solution, document_id)
        )

    declared = obj.get("answer_type")
    answer_type = _as_answer_type(declared) if declared not in (None, "") else default_answer_type
    task = Task(
        question=question,
        answer=answer,
        answer_type=answer_type or _text(declared),
        task_type=task_type,
        solution=solution,
        document_id=document_id,
    )
    if not question or not answer:
        return TaskVerdict(task, InvalidReason.EMPTY_FIELDS, "question or answer is empty")
    if answer_type is None:
        return TaskVerdict(
            task,
            InvalidReason.ANSWER_TYPE_MISMATCH,
            f"unknown answer_type {_text(declared)[:20]!r}",
        )
    return TaskVerdict(task)
