"""Table-driven tests of answer extraction, separate from comparison."""

from __future__ import annotations

import pytest

from spice_env.verifiers import AnswerType, extract_answer
from spice_env.verifiers.extraction import extract_boxed

MATH_ROWS = [
    ("42", "42"),
    ("\\boxed{42}", "42"),
    ("so $\\boxed{\\frac{1}{2}}$.", "\\frac{1}{2}"),
    ("\\boxed{\\frac{\\sqrt{3}}{2}}", "\\frac{\\sqrt{3}}{2}"),
    ("first \\boxed{1} then \\boxed{2}", "2"),
    ("\\fbox{7}", "7"),
    ("\\boxed 5", "5"),
    ("\\boxed{3} and a truncated \\boxed{4", "3"),
    ("The answer is 17.", "17"),
    ("The final answer is $x^2$.", "x^2"),
    ("Answer: 2.5", "2.5"),
    ("Janet makes 9 * 2 = 18 dollars.\n#### 18", "18"),
    ("We add 3 and 4 to get 7 apples in the basket", "7"),
    ("no answer here", None),
    ("", None),
    # regression: "$\$36$" must not stop at the escaped dollar
    ("The final answer is $\\$36$.", "\\$36"),
    # regression: several $...$ spans after "answer is" are one answer
    ("The final answer is $f(x)=-1$,$f(x)=x+1$.", "f(x)=-1$,$f(x)=x+1"),
    ("The answer is $5$ because 2 + 3 = 5 and nothing else.", "5"),
    # regression: a long bare answer (16 tuples) is the answer, not its last number
    (", ".join(["(2,3,4)"] * 16), ", ".join(["(2,3,4)"] * 16)),
    # regression: matrix environments are not prose
    ("\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}"),
]

MCQ_ROWS = [
    ("B", "B"),
    ("(c)", "C"),
    ("**D**", "D"),
    ("\\boxed{A}", "A"),
    ("The correct answer is (B) because ...", "B"),
    ("Answer: C. London", "C"),
    ("London", "B"),
    ("I choose the option London.", "B"),
    ("The best choice is clearly wrong", None),
]
OPTIONS = ["Paris", "London", "Rome", "Oslo"]


@pytest.mark.parametrize(("text", "expected"), MATH_ROWS)
def test_extract_math(text: str, expected: str | None) -> None:
    assert extract_answer(text, AnswerType.EXPRESSION) == expected


@pytest.mark.parametrize(("text", "expected"), MCQ_ROWS)
def test_extract_mcq(text: str, expected: str | None) -> None:
    assert extract_answer(text, "MCQ", options=OPTIONS) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("Marie Curie", "Marie Curie"), ("\\boxed{\\text{Paris}}", "\\text{Paris}")],
)
def test_extract_string(text: str, expected: str) -> None:
    assert extract_answer(text, AnswerType.STRING) == expected


def test_nested_braces() -> None:
    assert (
        extract_boxed("x \\boxed{\\frac{a^{2}}{\\sqrt{b_{1}}}} y") == "\\frac{a^{2}}{\\sqrt{b_{1}}}"
    )


def test_long_output_cost_is_bounded() -> None:
    import time

    text = "reasoning " * 200_000 + "\\boxed{" * 50_000 + "\\boxed{9}"
    start = time.perf_counter()
    assert extract_answer(text) == "9"
    assert time.perf_counter() - start < 0.5


@pytest.mark.parametrize("bad", [None, 42, b"\\boxed{1}"])
def test_extract_never_raises(bad: object) -> None:
    assert extract_answer(bad) is None  # type: ignore[arg-type]
