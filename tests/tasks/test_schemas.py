"""The Challenger's JSON Schemas: valid schemas, inside their budgets, accepted by the parser,
met by the scripted Challenger, and exposed by the env at Challenger turns only."""

from __future__ import annotations

import json
import re
from typing import Any

import gymnasium as gym
import pytest

import spice_env  # noqa: F401  (registers the env)
from spice_env.policies import ScriptedChallenger
from spice_env.tasks import (
    SCHEMA_NAMES,
    InvalidReason,
    TaskType,
    challenger_response_format,
    challenger_schema,
    extract_json_object,
    free_form_schema,
    mcq_schema,
    parse_task,
    parse_type_selection,
    refit_response_format,
    response_format,
    schema_from_response_format,
    type_selection_schema,
)
from spice_env.tasks.schemas import CHARS_PER_TOKEN, QUESTION_OPENERS, schema_name

jsonschema = pytest.importorskip(
    "jsonschema", reason="needs jsonschema: pip install 'spice-env[dev]'"
)

STAGES = [
    ("type_selection", None, None),
    ("generation", "mcq", None),
    ("generation", "free_form", "Integer"),
    ("generation", "free_form", "Expression"),
    ("generation", "free_form", "String"),
]
BUDGETS = [160, 256, 384, 512, 1024, 4096]


def _question_body(pattern: str | None) -> int | None:
    """The longest text between opener and "?" of a question pattern; None for other patterns."""
    if pattern is None or not pattern.startswith("^(What"):
        return None
    return int(re.search(r"\{1,(\d+)\}", pattern).group(1))


def _longest(schema: dict[str, Any]) -> Any:
    """The longest instance a schema allows (strings at maxLength, patterns at their longest)."""
    if "properties" in schema:
        return {key: _longest(sub) for key, sub in schema["properties"].items()}
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return max(schema["enum"], key=lambda v: len(json.dumps(v)))
    if schema.get("type") == "boolean":
        return False
    pattern = schema.get("pattern")
    body = _question_body(pattern)
    if body is not None:  # a question: opener, text, "?"
        return max(QUESTION_OPENERS, key=len) + " " + "x" * body + "?"
    if pattern == "^-?[0-9]{1,15}$":
        return "-" + "9" * 15
    if pattern is not None and pattern.startswith("^[^"):  # the String answer: 3 words of 30
        return " ".join(["w" * 30] * 3)
    assert pattern is None, f"add the longest match of {pattern!r} to this test"
    return "x" * schema["maxLength"]


@pytest.mark.parametrize(("stage", "task_type", "answer_type"), STAGES)
@pytest.mark.parametrize("budget", BUDGETS)
def test_every_schema_is_valid_and_its_longest_output_fits_the_budget(
    stage: str, task_type: str | None, answer_type: str | None, budget: int
) -> None:
    schema = challenger_schema(stage, task_type, answer_type, max_tokens=budget)
    jsonschema.Draft202012Validator.check_schema(schema)
    longest = _longest(schema)
    jsonschema.validate(longest, schema)
    # The whole compact object, at the assumed characters per token, in budget - 1 tokens
    # (one is end-of-sequence).
    text = json.dumps(longest, separators=(",", ":"), ensure_ascii=False)
    assert len(text) <= (budget - 1) * CHARS_PER_TOKEN
    # Larger budgets never shrink a bound.
    bigger = challenger_schema(stage, task_type, answer_type, max_tokens=budget * 2)
    assert len(json.dumps(_longest(bigger))) >= len(json.dumps(longest))


def test_bounds_scale_with_the_budget_and_the_characters_per_token() -> None:
    small = mcq_schema(384)["properties"]
    large = mcq_schema(1024)["properties"]
    assert small["question"]["maxLength"] < large["question"]["maxLength"]
    assert small["options"]["properties"]["A"]["maxLength"] <= 100
    strict = mcq_schema(384, chars_per_token=1.0)["properties"]
    assert strict["question"]["maxLength"] < small["question"]["maxLength"]
    assert type_selection_schema(160)["properties"]["reason"]["maxLength"] <= 120


@pytest.mark.parametrize(
    "build",
    [
        lambda: type_selection_schema(40),
        lambda: mcq_schema(60),
        lambda: free_form_schema("String", 50),
        lambda: mcq_schema(0),
    ],
)
def test_a_budget_too_small_says_how_much_is_needed(build: Any) -> None:
    with pytest.raises(ValueError, match="at least"):
        build()


def test_bad_arguments_name_the_fix() -> None:
    with pytest.raises(ValueError, match="Integer, Expression, String"):
        free_form_schema("Float")
    with pytest.raises(ValueError, match="Challenger stages"):
        challenger_schema("answering")
    with pytest.raises(ValueError, match="task_type"):
        challenger_schema("generation")


def test_names_and_response_formats() -> None:
    names = [schema_name(*stage) for stage in STAGES]
    assert tuple(names) == SCHEMA_NAMES
    assert schema_name("generation", TaskType.FREE_FORM) == "spice_free_form_integer"
    value = challenger_response_format("generation", "mcq", max_tokens=512)
    assert value["type"] == "json_schema" and value["json_schema"]["strict"] is True
    assert value["json_schema"]["name"] == "spice_mcq"
    assert value["json_schema"]["schema"] == mcq_schema(512)


def test_refit_rebuilds_our_schemas_and_leaves_others_alone() -> None:
    ours = challenger_response_format("generation", "free_form", "String")
    refit = refit_response_format(ours, 384)
    assert refit["json_schema"]["name"] == "spice_free_form_string"
    assert refit["json_schema"]["schema"] == free_form_schema("String", 384)
    user = response_format({"type": "object", "properties": {"x": {"type": "string"}}}, "mine")
    assert refit_response_format(user, 384) is user
    assert refit_response_format(None, 384) is None


def test_schema_from_every_response_format_spelling() -> None:
    schema = mcq_schema(512)
    assert schema_from_response_format(response_format(schema, "spice_mcq")) == schema
    assert schema_from_response_format({"type": "json_object", "schema": schema}) == schema
    assert schema_from_response_format(schema) == schema
    for nothing in (None, "json", {"type": "text"}, {"type": "json_object"}, 3):
        assert schema_from_response_format(nothing) is None


# -- what the schemas allow, the parser reads ---------------------------------------------------
def _fill(schema: dict[str, Any], text: str) -> Any:
    """An instance with every free string set to ``text`` cut to its bounds."""
    if "properties" in schema:
        return {key: _fill(sub, text) for key, sub in schema["properties"].items()}
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][-1]
    if schema.get("type") == "boolean":
        return True
    body = _question_body(schema.get("pattern"))
    if body is not None:  # a question: no quote or backslash
        plain = re.sub(r'["\\\x00-\x1f]', "", text).strip() or "x"
        question = f"What {plain[:body].strip() or 'x'}?"
        return question if len(question) >= schema["minLength"] else f"What is {'y' * 12}?"
    if "pattern" in schema:
        return "-12" if "0-9" in schema["pattern"] else "Black Sea"
    return text[: schema["maxLength"]].ljust(schema.get("minLength", 0), "y")


@pytest.mark.parametrize(
    "text",
    [
        "A",
        'He said "yes" \\ then {left} a } brace',
        "\\frac{1}{2} of \\times \\theta and \\\\newline",
        "Ünïcödé 数学 ∑ 🙂",
        "x" * 5000,
    ],
)
@pytest.mark.parametrize("budget", [160, 512, 4096])
def test_instances_valid_under_the_schema_parse(text: str, budget: int) -> None:
    selection_schema = type_selection_schema(budget)
    selection = _fill(selection_schema, text)
    jsonschema.validate(selection, selection_schema)
    parsed = parse_type_selection(json.dumps(selection, separators=(",", ":")))
    assert not isinstance(parsed, InvalidReason)
    assert parsed.suitable_for_mcq and parsed.best_answer_type is None

    letters = "ABCD"
    schema = mcq_schema(budget)
    task = _fill(schema, text)
    # Distinct options, as the checks demand (a schema cannot say "distinct").
    limit = schema["properties"]["options"]["properties"]["A"]["maxLength"]
    task["options"] = {k: f"{k} {text}"[:limit] for k in letters}
    jsonschema.validate(task, schema)
    check = parse_task(json.dumps(task, separators=(",", ":")), "mcq")
    assert check.valid, check.detail
    assert check.task.answer in letters and check.task.question == task["question"].strip()

    for answer_type in ("Integer", "Expression", "String"):
        schema = free_form_schema(answer_type, budget)
        task = _fill(schema, text)
        jsonschema.validate(task, schema)
        check = parse_task(json.dumps(task, separators=(",", ":")), "free_form")
        assert check.valid, check.detail
        assert check.task.answer_type == answer_type


def test_the_schemas_reject_what_the_parser_would_reject() -> None:
    mcq = mcq_schema(512)
    good = {
        "question": "What is the largest moon?",
        "options": dict.fromkeys("ABCD", "o"),
        "answer": "A",
        "solution": "",
    }
    jsonschema.validate(good, mcq)
    for bad in (
        {**good, "answer": "E"},
        {**good, "options": {"A": "a", "B": "b", "C": "c"}},
        {**good, "question": ""},
        # Not a question: a copied statement, a yes/no coin flip, no question mark, a quote.
        {**good, "question": "The largest moon of Jupiter is Ganymede."},
        {**good, "question": "Is Ganymede the largest moon of Jupiter?"},
        {**good, "question": "What is the largest moon of Jupiter"},
        {**good, "question": 'What is "the" largest moon?'},
        {**good, "extra": 1},
        {k: v for k, v in good.items() if k != "solution"},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, mcq)
    integer = free_form_schema("Integer", 512)
    string = free_form_schema("String", 512)
    base = {
        "question": "How many moons are there?",
        "answer": "12",
        "answer_type": "Integer",
        "solution": "",
    }
    jsonschema.validate(base, integer)
    for answer in ("1.5", "twelve", "", "1 2"):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({**base, "answer": answer}, integer)
    base = {**base, "answer_type": "String", "answer": "Black Sea"}
    jsonschema.validate(base, string)
    for answer in ("one two three four", "", " lead", 'a "quoted" word', "two  spaces"):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({**base, "answer": answer}, string)


# -- the scripted Challenger meets them; the env exposes them -----------------------------------
@pytest.mark.parametrize(
    "env_kwargs", [{}, {"task_types": ("mcq",)}, {"task_types": ("free_form",)}]
)
def test_scripted_challenger_outputs_validate_against_the_env_schemas(
    env_kwargs: dict[str, Any],
) -> None:
    env = gym.make("SpiceCorpus-v0", **env_kwargs)
    challenger = ScriptedChallenger(seed=1)
    stages = set()
    for seed in range(60):
        observation, info = env.reset(seed=seed)
        while info["role"] == "challenger" and "response_format" in info:
            action = challenger.act(observation, info)
            name = info["response_format"]["json_schema"]["name"]
            schema = schema_from_response_format(info["response_format"])
            jsonschema.validate(extract_json_object(action), schema)
            stages.add(name)
            observation, _, terminated, _, info = env.step(action)
            if terminated:
                break
    assert "spice_type_selection" in stages and len(stages) >= 2


def test_env_exposes_the_acting_challenger_stage_schema_only() -> None:
    env = gym.make("SpiceCorpus-v0", num_reasoner_attempts=2)
    challenger = ScriptedChallenger(seed=0)
    observation, info = env.reset(seed=3)
    assert info["response_format"]["json_schema"]["name"] == "spice_type_selection"
    observation, _, _, _, info = env.step(challenger.act(observation, info))
    expected = schema_name("generation", info["task_type"], info["answer_type"])
    assert info["response_format"] == challenger_response_format(
        "generation", info["task_type"], info["answer_type"]
    )
    assert info["response_format"]["json_schema"]["name"] == expected
    observation, _, terminated, _, info = env.step(challenger.act(observation, info))
    assert not terminated and info["role"] == "reasoner"
    assert "response_format" not in info
    observation, _, _, _, info = env.step("\\boxed{1}")
    assert "response_format" not in info
    _, _, terminated, _, info = env.step("\\boxed{2}")
    assert terminated and "response_format" not in info
