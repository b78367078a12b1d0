"""The safe math parser: accepted shapes, rejected garbage, and the batch API."""

from __future__ import annotations

from fractions import Fraction

import pytest

from spice_env.verifiers import AnswerType, verify_many
from spice_env.verifiers.mathparse import ParseError, free_symbols, parse_math

ONE, TWO = ("n", Fraction(1), False), ("n", Fraction(2), False)

PARSE_ROWS = [
    ("\\frac12", ("/", ONE, TWO)),
    ("1/2", ("/", ONE, TWO)),
    ("(1, 2)", ("tuple", (ONE, TWO))),
    ("[1, 2)", ("interval", True, ONE, TWO, False)),
    ("\\{1, 2\\}", ("set", (ONE, TWO))),
    ("1, 2", ("list", (ONE, TWO))),
    ("x = 1", ("rel", "=", ("s", "x"), ONE)),
    ("1 \\pm 2", ("pm", ONE, TWO)),
    ("2^{1}", ("^", TWO, ONE)),
    ("x**2", ("^", ("s", "x"), TWO)),
    ("\\sqrt{2}", ("f", "sqrt", (TWO,))),
    ("sqrt(2)", ("f", "sqrt", (TWO,))),
    ("a_{1}", ("s", "a_1")),
    ("\\begin{pmatrix} 1 & 2 \\end{pmatrix}", ("matrix", ((ONE, TWO),))),
]


@pytest.mark.parametrize(("text", "tree"), PARSE_ROWS)
def test_parse(text: str, tree: tuple) -> None:
    assert parse_math(text) == tree


@pytest.mark.parametrize(
    "text",
    ["", "}{", "x^^", "((1)", "\\frac{1}{", "__import__('os')", "1 +", "a @ b", "\\begin{cases}"],
)
def test_parse_rejects(text: str) -> None:
    with pytest.raises(ParseError):
        parse_math(text)


def test_depth_and_size_bounds() -> None:
    with pytest.raises(ParseError):
        parse_math("(" * 100 + "1" + ")" * 100, max_depth=60)
    with pytest.raises(ParseError):
        parse_math("+".join(["1"] * 5_000), max_tokens=2_000)


def test_free_symbols() -> None:
    assert free_symbols(parse_math("x^2 + y_{1} \\cdot \\pi")) == {"x", "y_1"}


def test_verify_many_matches_check_in_process_and_in_workers() -> None:
    golds = ["42", "\\frac{1}{2}", "Marie Curie", "B"] * 20
    predictions = ["\\boxed{42}", "\\boxed{0.5}", "\\boxed{marie curie}", "\\boxed{(C)}"] * 20
    types = [AnswerType.INTEGER, None, "string", "mcq"] * 20
    expected = [True, True, True, False] * 20
    assert [r.correct for r in verify_many(golds, predictions, types)] == expected
    assert [r.correct for r in verify_many(golds, predictions, types, workers=2)] == expected


def test_verify_many_rejects_mismatched_lengths() -> None:
    with pytest.raises(ValueError, match="one per gold"):
        verify_many(["1", "2"], ["1"])
