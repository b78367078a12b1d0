"""Table-driven tests of ``check``, one table per answer type: ``(gold, prediction, expected)``.

The first tables run in lenient mode (evaluation: unboxed answers are read too); the strict
tables (training) follow. Rows under "regression" come from bugs found in real or realistic
model outputs.
"""

from __future__ import annotations

import pytest

from spice_env.verifiers import AnswerType, Reason, VerifierConfig, VerifyResult, check, verify

LENIENT = VerifierConfig(mode="lenient")
STRICT = VerifierConfig(mode="strict")

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
    # regression: a repeated item in the gold is counted (benchmark disagreement)
    ("16,3,1,1", "16,3,1,3", False),
    ("16,3,1,1", "1, 16, 1, 3", True),
    ("1, 2", "1, 2, 2", True),
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
    # no fuzzy ratio: a different spelling is a different answer
    ("Marie Curie", "Mari Curie", False),
    ("Paris", "\\boxed{Parish}", False),
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
    result = check(gold, prediction, AnswerType.INTEGER, config=LENIENT)
    assert result.correct is expected, result


@pytest.mark.parametrize(("gold", "prediction", "expected"), EXPRESSION_ROWS)
def test_expression(gold: str, prediction: str, expected: bool) -> None:
    result = check(
        gold, prediction, None, config=LENIENT
    )  # auto-detect, as evaluation sets have no type
    assert result.correct is expected, result


@pytest.mark.parametrize(("gold", "prediction", "expected"), STRING_ROWS)
def test_string(gold: str, prediction: str, expected: bool) -> None:
    result = check(gold, prediction, "string", config=LENIENT)
    assert result.correct is expected, result


@pytest.mark.parametrize(("gold", "prediction", "expected"), MCQ_ROWS)
def test_mcq(gold: str, prediction: str, expected: bool) -> None:
    result = check(gold, prediction, "MCQ", options=OPTIONS, config=LENIENT)
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
    assert check(gold, gold, answer_type, config=LENIENT).correct
    assert check(gold, f"\\boxed{{{gold}}}", answer_type, config=STRICT).correct
    # Strict mode pays only boxed answers, the gold itself included.
    assert check(gold, gold, answer_type, config=STRICT).reason == "not_boxed"


@pytest.mark.parametrize("gold", ["}{", "x^^", "", "   ", "\\frac{1}{", "((", "x +", "?!"])
@pytest.mark.parametrize("answer_type", [AnswerType.EXPRESSION, AnswerType.INTEGER, None])
@pytest.mark.parametrize("config", [LENIENT, STRICT], ids=["lenient", "strict"])
def test_garbage_gold_is_unparsable(
    gold: str, answer_type: AnswerType | None, config: VerifierConfig
) -> None:
    result = check(gold, f"\\boxed{{{gold}}}", answer_type, config=config)
    assert not result.correct
    # "\\boxed{\\frac{1}{}" never closes: then there is no answer to read at all.
    assert result.reason in ("gold_unparsable", "no_answer_found", "not_boxed"), result


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
    with pytest.raises(ValueError, match="'strict'"):
        VerifierConfig(mode="loose")
    with pytest.raises(ValueError, match="max_literal_digits"):
        VerifierConfig(max_literal_digits=10**6)


def test_mode_is_strict_by_default_and_named_by_string_or_enum() -> None:
    from spice_env.verifiers import VerificationMode

    assert VerifierConfig().mode is VerificationMode.STRICT
    assert VerifierConfig(mode="LENIENT").mode is VerificationMode.LENIENT
    assert VerifierConfig(mode=VerificationMode.LENIENT) == LENIENT
    assert check("51", "The answer is 51.").reason == "not_boxed"  # the default is strict
    assert check("51", "The answer is 51.", config=LENIENT).correct


# --- strict mode (training) ----------------------------------------------------------------
# Only the final \boxed{} answer counts; several different answers are a hedge and score 0.
STRICT_ROWS = [
    # (gold, prediction, answer type, expected, reason)
    ("51", "So the total is \\boxed{51}.", None, True, "exact"),
    ("51", "We get $\\boxed{51}$ in the end.", "Integer", True, "exact"),
    ("51", "First \\boxed{51}, and checking again: \\boxed{51}.", None, True, "exact"),
    ("51", "The answer is 51.", None, False, "not_boxed"),
    ("51", "51", None, False, "not_boxed"),
    ("51", "#### 51", None, False, "not_boxed"),
    ("51", "\\boxed{40} or \\boxed{51}", None, False, "hedged"),
    ("51", "Maybe \\boxed{40}. Actually the answer is \\boxed{51}.", None, False, "hedged"),
    ("51", "\\boxed{40 \\text{ or } 51}", None, False, "hedged"),
    ("51", "\\boxed{40, 51}", None, False, "hedged"),
    ("51", "\\boxed{\\{40, 51\\}}", None, False, "hedged"),
    ("51", "\\boxed{}", None, False, "no_answer_found"),
    ("51", "\\boxed{} \\boxed{51}", None, False, "hedged"),
    ("51", "\\boxed{51", None, False, "not_boxed"),  # truncated: no complete box
    ("\\frac{1}{2}", "\\boxed{0.5}", None, True, "numeric"),
    ("x = 5", "\\boxed{5}", None, True, "structural"),
    # a list gold: several boxes close together are one answer, not a hedge
    ("1, -2", "The roots are \\boxed{1} and \\boxed{-2}.", None, True, "exact"),
    ("1, -2", "The roots are \\boxed{-2} and \\boxed{1}.", None, True, "set_match"),
    ("1, -2", "\\boxed{1, -2}", None, True, "exact"),
    ("1, -2", "\\boxed{-2, 1}", None, True, "set_match"),
    ("1, -2", "\\boxed{1, -2, 3}", None, False, "mismatch"),
    ("1, -2", "\\boxed{1} and later, after more work, we find \\boxed{3}", None, False, "hedged"),
    # multiple choice: one letter in the box
    ("B", "\\boxed{B}", "MCQ", True, "mcq_letter"),
    ("B", "\\boxed{(B)}", "MCQ", True, "mcq_letter"),
    ("B", "\\boxed{\\text{(B)}}", "MCQ", True, "mcq_letter"),
    ("B", "\\boxed{B) London}", "MCQ", True, "mcq_letter"),
    ("B", "\\boxed{B) Paris}", "MCQ", False, "mismatch"),  # the letter with another option
    ("B", "\\boxed{A} \\boxed{B}", "MCQ", False, "hedged"),
    ("B", "\\boxed{A or B}", "MCQ", False, "mismatch"),
    ("B", "\\boxed{London}", "MCQ", False, "mismatch"),  # option text is not a letter
    ("B", "The answer is (B).", "MCQ", False, "not_boxed"),
    ("B", "B", "MCQ", False, "not_boxed"),
    # strings: normalized equality (case, articles, punctuation, spacing), no fuzzy ratio
    ("Paris", "\\boxed{Paris}", "String", True, "exact"),
    ("Paris", "\\boxed{\\text{paris.}}", "String", True, "exact"),
    ("the Nile", "\\boxed{Nile}", "String", True, "exact"),
    ("Marie  Curie", "\\boxed{marie curie}", "String", True, "exact"),
    ("Paris", "\\boxed{Parish}", "String", False, "mismatch"),
    ("Paris", "\\boxed{Paris or London}", "String", False, "mismatch"),
    ("Paris", "\\boxed{Paris} \\boxed{London}", "String", False, "hedged"),
    ("Paris", "Paris", "String", False, "not_boxed"),
]


@pytest.mark.parametrize(("gold", "prediction", "answer_type", "expected", "reason"), STRICT_ROWS)
def test_strict(
    gold: str, prediction: str, answer_type: str | None, expected: bool, reason: str
) -> None:
    result = check(gold, prediction, answer_type, options=OPTIONS, config=STRICT)
    assert (result.correct, result.reason) == (expected, reason), result
    assert isinstance(result.reason, Reason)


def test_strict_refuses_an_output_too_long_to_read_whole() -> None:
    long = "Thinking. " * 4_000 + "\\boxed{51}"
    assert check("51", long, config=STRICT).reason == "too_large"
    assert check("51", long, config=LENIENT).correct  # lenient reads the end
