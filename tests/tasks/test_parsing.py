"""Parsing Challenger output: tolerant of fences, prose, LaTeX escapes; never raises."""

import json

import pytest

from spice_env.tasks import (
    InvalidReason,
    TaskType,
    extract_json_object,
    parse_task,
    parse_type_selection,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"question": "q", "answer": "1"}', {"question": "q", "answer": "1"}),
        (
            'Sure!\n```json\n{"question": "q", "answer": "1"}\n```\nHope it helps.',
            {"question": "q", "answer": "1"},
        ),
        ('{"question": "q", "answer": "1",}', {"question": "q", "answer": "1"}),
        ('{"question": "q", "answer": True}', {"question": "q", "answer": True}),
        (
            'first {"question": "a", "answer": "1"} then {"question": "b", "answer": "2"}',
            {"question": "b", "answer": "2"},
        ),
        ('{"question": "has } brace", "answer": "x"}', {"question": "has } brace", "answer": "x"}),
        (
            '{"question": "q", "answer": "\\frac{1}{2}"}',
            {"question": "q", "answer": "\\frac{1}{2}"},
        ),
        (
            '{"question": "2 \\times 3", "answer": "\\theta"}',
            {"question": "2 \\times 3", "answer": "\\theta"},
        ),
        (
            '{"question": "q", "answer": "\\\\frac{1}{2}"}',
            {"question": "q", "answer": "\\frac{1}{2}"},
        ),
        ('{"question": "q", "answer": "\\sqrt{2}"}', {"question": "q", "answer": "\\sqrt{2}"}),
    ],
)
def test_extract_json_object(text, expected):
    assert extract_json_object(text, ("question", "answer")) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "no json here",
        "{" * 10_000,
        "}{" * 1000,
        '{"question": "unterminated',
        None,
        42,
        '{"a": 1}',
        "[1, 2]",
    ],
)
def test_extract_json_object_rejects_without_raising(text):
    assert extract_json_object(text, ("question", "answer")) is None


def test_type_selection_parses_flags_and_type():
    sel = parse_type_selection(
        '```json\n{"suitable_for_mcq": true, "suitable_for_free_form": "yes", "best_answer_type": "integer", "reason": "r"}\n```'
    )
    assert sel.suitable_for_mcq and sel.suitable_for_free_form
    assert sel.best_answer_type == "Integer"


def test_type_selection_reasons():
    assert parse_type_selection("nope") is InvalidReason.UNPARSABLE
    assert (
        parse_type_selection('{"suitable_for_mcq": "maybe", "suitable_for_free_form": true}')
        is InvalidReason.UNPARSABLE
    )
    both_false = (
        '{"suitable_for_mcq": false, "suitable_for_free_form": false, "best_answer_type": null}'
    )
    assert parse_type_selection(both_false) is InvalidReason.NO_SUITABLE_TYPE


def _mcq(**overrides):
    obj = {"question": "Which?", "options": {"A": "1", "B": "2", "C": "3", "D": "4"}, "answer": "C"}
    obj.update(overrides)
    return json.dumps(obj)


@pytest.mark.parametrize("answer", ["C", "(C)", "C)", "c", "Option C", "C. 3", "3"])
def test_mcq_answer_forms_resolve_to_letter(answer):
    check = parse_task(_mcq(answer=answer), TaskType.MCQ, document_id="d")
    assert check.valid, check
    assert check.task.answer == "C"
    assert check.task.options == ("1", "2", "3", "4")
    assert check.task.document_id == "d"


def test_mcq_options_as_labelled_list():
    check = parse_task(_mcq(options=["A) 1", "B) 2", "C) 3", "D) 4"]), "mcq")
    assert check.task.options == ("1", "2", "3", "4")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (_mcq(options={"A": "1", "B": "2", "C": "3"}), InvalidReason.MCQ_BAD_OPTIONS),
        (_mcq(options={"A": "1", "B": "1", "C": "3", "D": "4"}), InvalidReason.MCQ_BAD_OPTIONS),
        (_mcq(options=["1", "2", "3", "4", "5"]), InvalidReason.MCQ_BAD_OPTIONS),
        (_mcq(options="A, B, C, D"), InvalidReason.MCQ_BAD_OPTIONS),
        (_mcq(answer="E"), InvalidReason.MCQ_BAD_LETTER),
        (_mcq(answer="A cat"), InvalidReason.MCQ_BAD_LETTER),
        (_mcq(question=""), InvalidReason.EMPTY_FIELDS),
        ("{}", InvalidReason.UNPARSABLE),
    ],
)
def test_mcq_invalid_reasons(text, reason):
    assert parse_task(text, TaskType.MCQ).reason is reason


def test_free_form_uses_default_answer_type_and_rejects_unknown():
    ok = parse_task('{"question": "q?", "answer": 12}', "free_form", default_answer_type="Integer")
    assert ok.valid and ok.task.answer == "12" and ok.task.answer_type == "Integer"
    bad = parse_task('{"question": "q?", "answer": "1", "answer_type": "Float"}', "free_form")
    assert bad.reason is InvalidReason.ANSWER_TYPE_MISMATCH
    empty = parse_task(
        '{"question": "", "answer": "", "answer_type": "", "solution": ""}', "free_form"
    )
    assert empty.reason is InvalidReason.EMPTY_FIELDS
