"""Table-driven tests of ``check``, one table per answer type: ``(gold, prediction, expected)``.

Rows under "regression" come from bugs found in real or realistic model outputs.
"""

from __future__ import annotations

import pytest

from spice_env.verifiers import AnswerType, VerifierConfig, VerifyResult, check, verify

INTEGER_ROWS = [
    ("42", "42", True),
    ("42", "\\boxed{42}", True),
    ("42", "The answer is 42.", True),
    ("42", "Answer: 42", True),
    ("42", "She makes 6 * 7 = 42 dollars.\n#### 42", True),
    ("1,024", "1024", True),
    ("1024", "1,024", True),
    ("1024", "\\boxed{1{,}024}", True),
    ("18", "\\$18", True),
    ("18", "18 dollars", True),
    ("18", "\\boxed{18\\text{ dollars}}", True),
    ("025", "25", True),
    ("42", "42.0", True),
    ("42", "43", False),
    ("42", "\\boxed{-42}", False),
    ("3986729", "3986730", False),
    ("42", "no idea", False),
    ("-7", "\\boxed{-7}", True),
    # regression: the last number of a long reasoning text, no box
    ("12", "First 3 + 4 = 7, then 7 + 5 = 12", True),
    # regression: thousands separators followed by a unit (found in the self-consistency run)
    ("58,500", "\\boxed{58,500 \\text{ cm}}", True),
]

EXPRESSION_ROWS = [
    ("\\frac{1}{2}", "0.5", True),
    ("\\frac{1}{2}", "1/2", True),
    ("\\frac{1}{2}", "\\frac12", True),
    ("\\frac{1}{2}", "\\dfrac{1}{2}", True),
    ("0.5", "\\tfrac{1}{2}", True),
    ("\\frac{1}{3}", "0.333333", True),
    ("\\frac{1}{3}", "0.33", False),
    ("50\\%", "50", True),
    ("50\\%", "0.5", True),
    ("1.5e-3", "0.0015", True),
    ("3\\times 10^{5}", "300000", True),
    ("3\\sqrt{2}", "\\sqrt{18}", True),
    ("3\\sqrt{2}", "3\\sqrt{3}", False),
    ("\\frac{\\sqrt{3}}{2}", "\\frac{1}{2}\\sqrt{3}", True),
    ("\\frac{3}{4}x^2 + 1", "0.75x^2+1", True),
    ("\\frac{3}{4}x^2 + 1", "(3x^2+4)/4", True),
    ("\\frac{3}{4}x^2 + 1", "\\frac{3}{4}x^2 - 1", False),
    ("2x+2", "2(x+1)", True),
    ("x^2-1", "(x-1)(x+1)", True),
    ("x^2-1", "(x-1)^2", False),
    ("\\sin^2 x + \\cos^2 x", "1", True),
    ("p - q", "-(q-p)", True),
    ("p - q", "q - p", False),
    ("\\pi", "3.14159265358979", True),
    ("2\\pi", "\\pi \\cdot 2", True),
    ("90^\\circ", "90", True),
    ("90^\\circ", "90^{\\circ}", True),
    ("(2, 3)", "(2,3)", True),
    ("(2, 3)", "(3, 2)", False),
    ("\\left( 3, \\frac{\\pi}{2} \\right)", "(3, \\pi/2)", True),
    ("1,-2", "-2, 1", True),
    ("3, 5, 7", "\\{7, 5, 3\\}", True),
    ("3, 5, 7", "3, 5", False),
    ("[1, 2)", "[1,2)", True),
    ("[1, 2)", "(1, 2]", False),
    ("(-\\infty, 2) \\cup (3, \\infty)", "(3,\\infty)\\cup(-\\infty,2)", True),
    ("x=5", "5", True),
    ("5", "x = 5", True),
    ("y = 2x + 1", "2x + 1 = y", True),
    ("y = 2x + 1", "y = 2x - 1", False),
    ("x < 3", "3 > x", True),
    ("1 \\pm \\sqrt{2}", "1+\\sqrt2, 1-\\sqrt2", True),
    ("6 - 5i", "6-5i", True),
    ("6 - 5i", "-5i + 6", True),
    ("\\text{Evelyn}", "Evelyn", True),
    ("\\text{(C)}", "C", True),
    ("52_8", "52_8", True),
    ("52_8", "52", False),
    ("\\binom{6}{2}", "15", True),
    ("5!", "120", True),
    ("\\frac{100!}{2^{50}}", "\\frac{100!}{2^{50}}", True),
    ("2^{1009}", "2\\cdot 2^{1008}", True),
    ("\\sqrt[3]{-8}", "-2", True),
    ("\\log_2 8", "3", True),
    ("e^{i\\pi} + 1", "0", True),
    ("\\frac{1}{2n+2}", "\\frac{1}{2(n+1)}", True),
    ("\\frac{1}{2n+2}", "\\frac{1}{2n+1}", False),
    ("f(x)=2 x", "2x", True),
    ("k=1", "1", True),
    # regression: \left and \right around a fraction in a tuple
    ("\\left(\\frac{1}{2}, 1\\right)", "(0.5, 1)", True),
    # regression: a one-letter tail is a variable, not a unit ("2x" once became "2")
    ("2x", "2", False),
    # regression: infinity in interval unions was sent to sympy and slow
    ("(-\\infty, 2] \\cup [3, \\infty)", "[3, \\infty) \\cup (-\\infty, 2]", True),
    ("(-\\infty, 2]", "(\\infty, 2]", False),
    # regression: matrices in MATH-500 golds, and a column vector written as a tuple
    (
        "\\begin{pmatrix} -1/3 \\\\ 2/3 \\end{pmatrix}",
        "\\begin{pmatrix} -1/3 \\\\ 2/3 \\end{pmatrix}",
        True,
    ),
    ("\\begin{pmatrix} -1/3 \\\\ 2/3 \\end{pmatrix}", "(-\\frac13, \\frac23)", True),
    (
        "\\begin{pmatrix} 1 & 0 \\\\ 0 & 1 \\end{pmatrix}",
        "\\begin{pmatrix} 1 & 0 \\\\ 1 & 0 \\end{pmatrix}",
        False,
    ),
    # regression: "$\\$36$" after "The final answer is" (benchmark disagreement)
    ("\\$36", "The final answer is $\\$36$.", True),
    # trailing period and dollar signs around the boxed content
    ("\\frac{14}{3}", "so the result is $\\boxed{\\frac{14}{3}}$.", True),
]

STRING_ROWS = [
    ("Marie Curie", "Marie Curie", True),
    ("Marie Curie", "marie curie.", True),
    ("Marie Curie", "\\boxed{\\text{Marie Curie}}", True),
    ("Marie Curie", "The answer is Marie Curie.", True),
    ("Marie Curie", "Mari Curie", True),
    ("Marie Curie", "Pierre Curie", False),
    ("the Nile", "Nile", True),
    ("photosynthesis", "Photosynthesis!", True),
    ("photosynthesis", "respiration", False),
]

MCQ_ROWS = [
    ("B", "B", True),
    ("B", "(B)", True),
    ("B", "B)", True),
    ("B", "**B**", True),
    ("B", "\\boxed{B}", True),
    ("B", "\\boxed{\\text{B}}", True),
    ("B", "The answer is (B).", True),
    ("B", "Answer: B", True),
    ("B", "b", True),
    ("B", "After comparing the options, the correct one is (B) London.", True),
    ("B", "London", True),  # option text instead of its letter
    ("B", "\\boxed{London}", True),
    ("B", "\\boxed{C}", False),
    ("B", "Paris", False),
    ("B", "I am not sure.", False),
]
OPTIONS = ["Paris", "London", "Rome", "Oslo"]


@pytest.mark.parametrize(("gold", "prediction", "expected"), INTEGER_ROWS)
def test_integer(gold: str, prediction: str, expected: bool) -> None:
    result = check(gold, prediction, AnswerType.INTEGER)
    assert result.correct is expected, result


@pytest.mark.parametrize(("gold", "prediction", "expected"), EXPRESSION_ROWS)
def test_expression(gold: str, prediction: str, expected: bool) -> None:
    result = check(gold, prediction, None)  # auto-detect, as evaluation sets have no type
    assert result.correct is expected, result


@pytest.mark.parametrize(("gold", "prediction", "expected"), STRING_ROWS)
def test_string(gold: str, prediction: str, expected: bool) -> None:
    result = check(gold, prediction, "string")
    assert result.correct is expected, result


@pytest.mark.parametrize(("gold", "prediction", "expected"), MCQ_ROWS)
def test_mcq(gold: str, prediction: str, expected: bool) -> None:
    result = check(gold, prediction, "MCQ", options=OPTIONS)
    assert result.correct is expected, result


@pytest.mark.parametrize(
    ("gold", "answer_type"),
    [
        ("\\frac{3}{4}x^2 + 1", AnswerType.EXPRESSION),
        ("(2, 3)", AnswerType.EXPRESSION),
        ("3\\sqrt{2}", AnswerType.EXPRESSION),
        ("1,024", AnswerType.INTEGER),
        ("Marie Curie", AnswerType.STRING),
        ("C", AnswerType.MCQ),
        ("x^2 + y^2 = 1", "expression"),
        ("42", "Integer"),
    ],
)
def test_gold_verifies_against_itself(gold: str, answer_type: AnswerType | str) -> None:
    assert check(gold, gold, answer_type).correct


@pytest.mark.parametrize("gold", ["}{", "x^^", "", "   ", "\\frac{1}{", "((", "x +", "?!"])
@pytest.mark.parametrize("answer_type", [AnswerType.EXPRESSION, AnswerType.INTEGER, None])
def test_garbage_gold_is_unparsable(gold: str, answer_type: AnswerType | None) -> None:
    result = check(gold, gold, answer_type)
    assert not result.correct
    assert result.reason == "gold_unparsable", result


def test_integer_gold_must_be_a_number() -> None:
    assert check("x + 1", "x + 1", AnswerType.INTEGER).reason == "gold_unparsable"


def test_mcq_gold_must_be_a_letter() -> None:
    assert check("maybe", "A", AnswerType.MCQ).reason == "gold_unparsable"


@pytest.mark.parametrize(
    ("answer_type", "expected"),
    [
        (AnswerType.MCQ, AnswerType.MCQ),
        ("mcq", AnswerType.MCQ),
        ("Integer", AnswerType.INTEGER),
        ("EXPRESSION", AnswerType.EXPRESSION),
        ("string", AnswerType.STRING),
    ],
)
def test_answer_type_names_are_case_insensitive(answer_type: object, expected: AnswerType) -> None:
    from spice_env.verifiers._types import coerce_answer_type

    assert coerce_answer_type(answer_type) is expected  # type: ignore[arg-type]


@pytest.mark.parametrize("prediction", [None, 42, b"42", [], object()])
def test_non_string_prediction_is_not_correct(prediction: object) -> None:
    result = check("42", prediction)  # type: ignore[arg-type]
    assert not result.correct
    assert result.reason == "no_answer_found"


def test_result_shape() -> None:
    result = check("\\frac{1}{2}", "\\boxed{0.5}")
    assert isinstance(result, VerifyResult)
    assert result == VerifyResult(True, "numeric", "0.5")
    assert verify("\\frac{1}{2}", "\\boxed{0.5}") is True
    with pytest.raises(AttributeError):
        result.correct = False  # type: ignore[misc]


def test_config_validation_says_what_to_change() -> None:
    with pytest.raises(ValueError, match="timeout_s"):
        VerifierConfig(timeout_s=0)
    with pytest.raises(ValueError, match="string_threshold"):
        VerifierConfig(string_threshold=150)


def test_string_threshold_is_configurable() -> None:
    loose = VerifierConfig(string_threshold=50)
    assert not check("Marie Curie", "Maria Curia", "String").correct
    assert check("Marie Curie", "Maria Curia", "String", config=loose).correct
