"""JSON Schemas of the Challenger's outputs, one per stage, sized to a token budget.

A grammar engine that follows one of these schemas can only write text that
:func:`~spice_env.tasks.parsing.parse_type_selection` or :func:`~spice_env.tasks.parsing.parse_task`
reads, and its string bounds keep the whole object inside the stage's token budget, so a
constrained output is never cut off mid-string. The schemas describe the *format* only: the
parser and the validity checks still judge every output (a server may ignore a schema, and no
schema can say "four different options" or "grounded in the document").

Stages and names (the ``name`` of the OpenAI-style ``response_format``):

| stage | task type | answer type | name |
| --- | --- | --- | --- |
| ``type_selection`` | | | ``spice_type_selection`` |
| ``generation`` | ``mcq`` | | ``spice_mcq`` |
| ``generation`` | ``free_form`` | ``Integer`` | ``spice_free_form_integer`` |
| ``generation`` | ``free_form`` | ``Expression`` | ``spice_free_form_expression`` |
| ``generation`` | ``free_form`` | ``String`` | ``spice_free_form_string`` |

Budgets: a schema built for ``max_tokens`` tokens caps the characters of the whole object
(keys, punctuation and strings) at ``(max_tokens - 1) * chars_per_token`` (one token is left
for end-of-sequence), with a tenth kept back for JSON escapes. SmolLM2's tokenizer averages
about 4 characters per token on English prose; the default ``chars_per_token`` of 2 leaves
room for digits and symbols. No value is a strict guarantee for every output (a run of
digits is one character per token, and a byte-level tokenizer may spend several tokens on one
non-ASCII character); ``chars_per_token=1`` holds for any ASCII text.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Mapping
from typing import Any

from spice_env.tasks.task import FREE_FORM_ANSWER_TYPES, TaskType

__all__ = [
    "CHARS_PER_TOKEN",
    "DEFAULT_SCHEMA_MAX_TOKENS",
    "QUESTION_OPENERS",
    "SCHEMA_NAMES",
    "challenger_response_format",
    "challenger_schema",
    "free_form_schema",
    "mcq_schema",
    "refit_response_format",
    "response_format",
    "schema_from_response_format",
    "schema_name",
    "type_selection_schema",
]

CHARS_PER_TOKEN = 2.0
"""Characters assumed per generated token when sizing string bounds (see the module doc)."""

DEFAULT_SCHEMA_MAX_TOKENS = {"type_selection": 256, "generation": 1024}
"""Token budgets the environment sizes its ``info["response_format"]`` for. A policy with a
different budget rebuilds the schema with :func:`refit_response_format`."""

_ESCAPE_MARGIN = 0.9  # share of the character budget left to string contents after escapes
_OPTION_LETTERS = ("A", "B", "C", "D")

# Upper caps, whatever the budget: a small model that rambles is cut at a closing quote, and
# no question, option or solution of a good task needs more.
_MAX_REASON = 120
_MAX_QUESTION = 600
_MAX_OPTION = 100
_MAX_SOLUTION = 600
_MAX_EXPRESSION = 120
_MAX_INTEGER_DIGITS = 15
_MAX_WORD = 30

# Text that JSON and every grammar engine can carry in an answer: no space inside a word, no
# quote, backslash or control character (which would need escapes), at most three words.
_WORD_CHARS = r'[^\s"\\\x00-\x1f]'
_STRING_ANSWER = rf"^{_WORD_CHARS}{{1,{_MAX_WORD}}}( {_WORD_CHARS}{{1,{_MAX_WORD}}}){{0,2}}$"
_INTEGER_ANSWER = rf"^-?[0-9]{{1,{_MAX_INTEGER_DIGITS}}}$"

QUESTION_OPENERS = (
    "What",
    "Which",
    "Who",
    "Whom",
    "Whose",
    "When",
    "Where",
    "Why",
    "How",
    "In what",
    "In which",
    "At what",
    "On what",
    "By what",
    "For what",
    "From which",
    "To what",
)
"""Words a constrained question must open with. A question must also end with ``?``: the
135M model, free to write any string, copied document sentences or the prompt's own rules as
its "question" in 12 of 32 tasks (``not_a_question``). Yes/no openers (``Is``, ``Does``...) are
left out on purpose: a coin-flip question sits at the 50% pass rate that the Challenger's
reward peaks at, whatever the document says."""
_MIN_QUESTION = 20

SCHEMA_NAMES = (
    "spice_type_selection",
    "spice_mcq",
    "spice_free_form_integer",
    "spice_free_form_expression",
    "spice_free_form_string",
)
"""Names of the schemas this module builds (the ``json_schema.name`` of a response format)."""


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _text_budget(max_tokens: int, chars_per_token: float, skeleton: Mapping[str, Any]) -> int:
    """Characters left for the strings once the fixed JSON text of ``skeleton`` is written."""
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 2:
        raise ValueError(f"max_tokens={max_tokens!r} must be an integer of at least 2")
    if not math.isfinite(chars_per_token) or chars_per_token <= 0:
        raise ValueError(f"chars_per_token={chars_per_token!r} must be a positive number")
    total = int((max_tokens - 1) * chars_per_token)
    return int((total - len(_compact(skeleton))) * _ESCAPE_MARGIN)


def _string(max_length: int, min_length: int = 1) -> dict[str, Any]:
    return {"type": "string", "minLength": min_length, "maxLength": max_length}


def _question(max_length: int) -> dict[str, Any]:
    """A question: an opener of :data:`QUESTION_OPENERS`, text, and a final question mark.

    No quote, backslash or control character inside (they would need JSON escapes, which some
    servers' grammar converters do not write): fractions are written 3/4, not LaTeX.
    """
    longest = max(len(opener) for opener in QUESTION_OPENERS)
    body = max(1, max_length - longest - 2)
    openers = "|".join(QUESTION_OPENERS)
    pattern = rf'^({openers}) [^"\\\x00-\x1f]{{1,{body}}}\?$'
    return {
        "type": "string",
        "pattern": pattern,
        "minLength": min(_MIN_QUESTION, max_length),
        "maxLength": max_length,
    }


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def _too_small(what: str, max_tokens: int, needed: int, chars_per_token: float) -> ValueError:
    return ValueError(
        f"max_tokens={max_tokens} is too small for the {what} schema at {chars_per_token} "
        f"characters per token; give the Challenger at least {needed} tokens"
    )


def _min_tokens(skeleton: Mapping[str, Any], text_chars: int, chars_per_token: float) -> int:
    chars = len(_compact(skeleton)) + text_chars / _ESCAPE_MARGIN
    return math.ceil(chars / chars_per_token) + 2


# -- the schemas ----------------------------------------------------------------------------------
def type_selection_schema(
    max_tokens: int = DEFAULT_SCHEMA_MAX_TOKENS["type_selection"],
    *,
    chars_per_token: float = CHARS_PER_TOKEN,
) -> dict[str, Any]:
    """Schema of stage 1: which task types the document supports.

    Args:
        max_tokens: The stage's token budget.
        chars_per_token: Characters assumed per token (see the module doc).

    Returns:
        A JSON Schema (draft 2020-12 subset) with ``suitable_for_mcq``,
        ``suitable_for_free_form``, ``best_answer_type`` (an answer type or ``null``) and
        ``reason`` (1 to at most 120 characters, fewer when the budget is small).

    Raises:
        ValueError: the budget cannot hold a reason of at least 8 characters.
    """
    skeleton = {
        "suitable_for_mcq": False,
        "suitable_for_free_form": False,
        "best_answer_type": max(FREE_FORM_ANSWER_TYPES, key=len),
        "reason": "",
    }
    room = _text_budget(max_tokens, chars_per_token, skeleton)
    if room < 8:
        raise _too_small(
            "type selection", max_tokens, _min_tokens(skeleton, 8, chars_per_token), chars_per_token
        )
    return _object(
        {
            "suitable_for_mcq": {"type": "boolean"},
            "suitable_for_free_form": {"type": "boolean"},
            "best_answer_type": {"enum": [*FREE_FORM_ANSWER_TYPES, None]},
            "reason": _string(min(_MAX_REASON, room)),
        }
    )


def mcq_schema(
    max_tokens: int = DEFAULT_SCHEMA_MAX_TOKENS["generation"],
    *,
    chars_per_token: float = CHARS_PER_TOKEN,
) -> dict[str, Any]:
    """Schema of a multiple-choice task: question, options A-D, a letter, a solution.

    The budget left after the fixed JSON text goes 40% to the question, 6% to each option and
    36% to the solution (each also capped: 600, 100 and 600 characters).

    Args:
        max_tokens: The stage's token budget.
        chars_per_token: Characters assumed per token (see the module doc).

    Returns:
        A JSON Schema whose ``options`` is an object keyed ``A``-``D`` and whose ``answer`` is
        one of those letters.

    Raises:
        ValueError: the budget cannot hold a 20-character question and 4-character options.
    """
    skeleton = {
        "question": "",
        "options": dict.fromkeys(_OPTION_LETTERS, ""),
        "answer": "A",
        "solution": "",
    }
    room = _text_budget(max_tokens, chars_per_token, skeleton)
    question, option, solution = int(0.40 * room), int(0.06 * room), int(0.36 * room)
    if question < 20 or option < 4:
        raise _too_small(
            "multiple-choice",
            max_tokens,
            _min_tokens(skeleton, 67, chars_per_token),
            chars_per_token,
        )
    return _object(
        {
            "question": _question(min(_MAX_QUESTION, question)),
            "options": _object(
                {letter: _string(min(_MAX_OPTION, option)) for letter in _OPTION_LETTERS}
            ),
            "answer": {"enum": list(_OPTION_LETTERS)},
            "solution": _string(min(_MAX_SOLUTION, solution), min_length=0),
        }
    )


def _answer_schema(answer_type: str, room: int) -> dict[str, Any]:
    if answer_type == "Integer":
        return {"type": "string", "pattern": _INTEGER_ANSWER}
    if answer_type == "String":
        return {"type": "string", "pattern": _STRING_ANSWER}
    return _string(min(_MAX_EXPRESSION, max(8, int(0.10 * room))))


def _answer_chars(answer_type: str, room: int) -> int:
    if answer_type == "Integer":
        return _MAX_INTEGER_DIGITS + 1
    if answer_type == "String":
        return 3 * _MAX_WORD + 2
    return min(_MAX_EXPRESSION, max(8, int(0.10 * room)))


def free_form_schema(
    answer_type: str = "Integer",
    max_tokens: int = DEFAULT_SCHEMA_MAX_TOKENS["generation"],
    *,
    chars_per_token: float = CHARS_PER_TOKEN,
) -> dict[str, Any]:
    """Schema of a free-form task whose answer has the given type.

    The answer is constrained by type: ``Integer`` an optional minus and 1-15 digits,
    ``String`` one to three words without quotes or backslashes, ``Expression`` a bounded
    string (the verifier judges it). ``answer_type`` must be that type. Of the budget left
    after the fixed JSON text and the answer, 55% goes to the question and 45% to the solution
    (both capped at 600 characters).

    Args:
        answer_type: ``"Integer"``, ``"Expression"`` or ``"String"``.
        max_tokens: The stage's token budget.
        chars_per_token: Characters assumed per token (see the module doc).

    Returns:
        A JSON Schema with ``question``, ``answer``, ``answer_type`` and ``solution``.

    Raises:
        ValueError: an unknown answer type, or a budget that cannot hold a 20-character question.
    """
    if answer_type not in FREE_FORM_ANSWER_TYPES:
        raise ValueError(
            f"answer_type={answer_type!r}; use one of {', '.join(FREE_FORM_ANSWER_TYPES)}"
        )
    skeleton = {"question": "", "answer": "", "answer_type": answer_type, "solution": ""}
    room = _text_budget(max_tokens, chars_per_token, skeleton)
    left = room - _answer_chars(answer_type, room)
    question, solution = int(0.55 * left), int(0.45 * left)
    if question < 20:
        needed = _min_tokens(skeleton, 40 + _answer_chars(answer_type, 0), chars_per_token)
        raise _too_small(f"free-form {answer_type}", max_tokens, needed, chars_per_token)
    return _object(
        {
            "question": _question(min(_MAX_QUESTION, question)),
            "answer": _answer_schema(answer_type, room),
            "answer_type": {"const": answer_type},
            "solution": _string(min(_MAX_SOLUTION, solution), min_length=0),
        }
    )


# -- by stage, and as a response format --------------------------------------------------------
def schema_name(
    stage: str, task_type: TaskType | str | None = None, answer_type: str | None = None
) -> str:
    """The name of the schema of a Challenger stage (see the table in the module doc).

    Args:
        stage: ``"type_selection"`` or ``"generation"``.
        task_type: For ``generation``: ``"mcq"`` or ``"free_form"``.
        answer_type: For a free-form task: ``"Integer"``, ``"Expression"`` or ``"String"``
            (default ``"Integer"``, as in the environment).

    Returns:
        One of :data:`SCHEMA_NAMES`.

    Raises:
        ValueError: an unknown stage, task type or answer type.
    """
    if stage == "type_selection":
        return "spice_type_selection"
    if stage != "generation":
        raise ValueError(
            f"stage={stage!r} has no schema; Challenger stages are 'type_selection' and "
            "'generation' (the Reasoner writes free text)"
        )
    if task_type is None:
        raise ValueError("the generation stage needs a task_type ('mcq' or 'free_form')")
    if TaskType(task_type) is TaskType.MCQ:
        return "spice_mcq"
    answer_type = answer_type or "Integer"
    if answer_type not in FREE_FORM_ANSWER_TYPES:
        raise ValueError(
            f"answer_type={answer_type!r}; use one of {', '.join(FREE_FORM_ANSWER_TYPES)}"
        )
    return f"spice_free_form_{answer_type.lower()}"


def _build(name: str, max_tokens: int | None, chars_per_token: float) -> dict[str, Any]:
    if name == "spice_type_selection":
        budget = max_tokens or DEFAULT_SCHEMA_MAX_TOKENS["type_selection"]
        return type_selection_schema(budget, chars_per_token=chars_per_token)
    budget = max_tokens or DEFAULT_SCHEMA_MAX_TOKENS["generation"]
    if name == "spice_mcq":
        return mcq_schema(budget, chars_per_token=chars_per_token)
    answer_type = name.removeprefix("spice_free_form_").capitalize()
    return free_form_schema(answer_type, budget, chars_per_token=chars_per_token)


def challenger_schema(
    stage: str,
    task_type: TaskType | str | None = None,
    answer_type: str | None = None,
    max_tokens: int | None = None,
    *,
    chars_per_token: float = CHARS_PER_TOKEN,
) -> dict[str, Any]:
    """The schema of one Challenger stage.

    Args:
        stage: ``"type_selection"`` or ``"generation"``.
        task_type: For ``generation``: ``"mcq"`` or ``"free_form"``.
        answer_type: For a free-form task: ``"Integer"`` (default), ``"Expression"``,
            ``"String"``.
        max_tokens: The stage's token budget (default :data:`DEFAULT_SCHEMA_MAX_TOKENS`).
        chars_per_token: Characters assumed per token (see the module doc).

    Returns:
        A fresh JSON Schema dict (safe to modify).
    """
    return _build(schema_name(stage, task_type, answer_type), max_tokens, chars_per_token)


def response_format(schema: Mapping[str, Any], name: str) -> dict[str, Any]:
    """Wrap a schema in the OpenAI ``response_format`` form.

    Args:
        schema: A JSON Schema.
        name: Its name (letters, digits, ``_`` and ``-``).

    Returns:
        ``{"type": "json_schema", "json_schema": {"name": name, "schema": schema,
        "strict": True}}``.
    """
    return {
        "type": "json_schema",
        "json_schema": {"name": name, "schema": copy.deepcopy(dict(schema)), "strict": True},
    }


def challenger_response_format(
    stage: str,
    task_type: TaskType | str | None = None,
    answer_type: str | None = None,
    max_tokens: int | None = None,
    *,
    chars_per_token: float = CHARS_PER_TOKEN,
) -> dict[str, Any]:
    """The response format of one Challenger stage: what the env puts in ``info``.

    Same arguments as :func:`challenger_schema`.

    Returns:
        The OpenAI-style ``response_format`` dict (see :func:`response_format`).
    """
    name = schema_name(stage, task_type, answer_type)
    return response_format(_build(name, max_tokens, chars_per_token), name)


def schema_from_response_format(value: Any) -> dict[str, Any] | None:
    """The JSON Schema inside a response format, or ``None`` when there is none.

    Accepts the OpenAI form (``{"type": "json_schema", "json_schema": {"schema": ...}}``),
    the llama.cpp form (``{"type": "json_object", "schema": ...}``) and a bare schema.

    Args:
        value: A response format, a schema, or anything else (``None`` for it).

    Returns:
        The schema dict, or ``None``.
    """
    if not isinstance(value, Mapping):
        return None
    if value.get("type") == "json_schema" and isinstance(value.get("json_schema"), Mapping):
        schema = value["json_schema"].get("schema")
        return dict(schema) if isinstance(schema, Mapping) else None
    if value.get("type") == "json_object":
        schema = value.get("schema")
        return dict(schema) if isinstance(schema, Mapping) else None
    if "properties" in value or value.get("type") in ("object", "array", "string"):
        return dict(value)
    return None


def refit_response_format(
    value: Any, max_tokens: int, *, chars_per_token: float = CHARS_PER_TOKEN
) -> Any:
    """Resize one of this module's response formats to another token budget.

    The environment does not know a policy's budget, so it sizes its schemas for
    :data:`DEFAULT_SCHEMA_MAX_TOKENS`; a policy that generates ``max_tokens`` tokens calls this
    to get bounds that fit. Any other response format (a user's own) is returned unchanged.

    Args:
        value: A response format (OpenAI form), or anything.
        max_tokens: The policy's token budget for the stage.
        chars_per_token: Characters assumed per token (see the module doc).

    Returns:
        A new response format with the same name, sized for ``max_tokens``; or ``value``.
    """
    if not isinstance(value, Mapping) or value.get("type") != "json_schema":
        return value
    spec = value.get("json_schema")
    name = spec.get("name") if isinstance(spec, Mapping) else None
    if name not in SCHEMA_NAMES:
        return value
    return response_format(_build(name, max_tokens, chars_per_token), name)
