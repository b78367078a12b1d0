"""Our own rows for every class of answer the verifier once got wrong (issue 11), written in
the forms models produce. Each row: ``(gold, output, lenient, strict)`` with the expected
verdict in each mode; strict mode (training) reads only an unhedged ``\\boxed{}`` answer, so
an unboxed form is expected to fail there.
"""

from __future__ import annotations

import pytest

from spice_env.verifiers import VerifierConfig, check

LENIENT = VerifierConfig(mode="lenient")
STRICT = VerifierConfig(mode="strict")

CLASSES: dict[str, list[tuple[str, str, bool, bool]]] = {
    # A final answer right after "Answer", in each kind of math delimiter.
    "answer_delimiters": [
        ("9", "Adding the two counts gives the total.\nAnswer $ 9 $", True, False),
        ("9", "So we are done.\n\nAnswer: \\[ 9 \\]", True, False),
        ("9", "Answer \\( 9 \\)", True, False),
        ("9", "Final answer $$ 9 $$", True, False),
        ("9", "Answer:\n\\[\n9\n\\]", True, False),
        ("\\frac{3}{4}", "Answer: $\\frac34$", True, False),
        ("9", "Answer: $\\boxed{9}$", True, True),
        ("9", "Answer $ 8 $", False, False),
    ],
    # The gold and the answer are the same text: a clock time, a ratio, "x \in \boxed{}".
    "same_string": [
        ("12:00", "The meeting starts at \\boxed{12:00}.", True, True),
        ("12:00", "It starts at \\boxed{1:00}.", False, False),
        ("7:3", "so the ratio of boys to girls is \\boxed{7:3}", True, True),
        ("7:3", "so the ratio of boys to girls is \\boxed{3:7}", False, False),
        ("x \\in \\boxed{[2, 5)}", "Hence $x \\in \\boxed{[2, 5)}$.", True, True),
        ("\\boxed{(-\\infty, 1]}", "so x \\in \\boxed{(-\\infty, 1]}.", True, True),
    ],
    # Inequalities in every spelling, flipped sides, negated and scaled.
    "inequalities": [
        ("x \\ge 5", "Therefore \\boxed{x >= 5}.", True, True),
        ("x >= 5", "Therefore $x \\geq 5$ is the solution set.", True, False),
        ("x < 3", "\\boxed{x \\lt 3}", True, True),
        ("x > 3", "\\boxed{x \\gt 3}", True, True),
        ("x \\neq 3", "\\boxed{x != 3}", True, True),
        ("x < 1", "Multiplying by -1 flips it: \\boxed{-x > -1}", True, True),
        ("x \\le 4", "\\boxed{4 \\geq x}", True, True),
        ("x < 3", "\\boxed{2x < 6}", True, True),
        ("x < 1", "\\boxed{x > -1}", False, False),
        ("x \\le 5", "\\boxed{x < 5}", False, False),
        ("x < 3", "\\boxed{2x > 6}", False, False),
    ],
    # Chains of equalities: the last value counts (an approximation after it does not).
    "chains": [
        ("x = 11", "Adding up, \\boxed{x = 5 + 5 + 1 = 11}.", True, True),
        ("11", "\\boxed{x = 5+5+1 = 11}", True, True),
        ("z = 2", "\\boxed{z = 1 + 1 = 2}", True, True),
        ("\\frac{1}{3}", "\\boxed{p = \\frac{1}{3} \\approx 0.33}", True, True),
        ("12", "\\boxed{x = 3 \\cdot 4 = 13}", False, False),
    ],
    # The gold names the unknowns; the answer gives only the values (or the reverse).
    "named_values": [
        ("(p,q)=(3,2)", "The only pair is \\boxed{(3,2)}.", True, True),
        ("(p, q) = (3, 2)", "\\boxed{(2, 3)}", False, False),
        ("(a, b, c) = (1, 2, 3)", "\\boxed{(a,b,c)=(1,2,3)}", True, True),
        ("AB = 4, CD = 5", "\\boxed{4, 5}", True, True),
        ("f(x) = 2x + 1", "\\boxed{2x+1}", True, True),
        ("|AB| = 7", "So the length is \\boxed{7}.", True, True),
        ("7", "\\boxed{|AB| = 7}", True, True),
    ],
    # Equations equal after moving terms or multiplying both sides.
    "equations": [
        ("2x + 4y - 3 = 0", "\\boxed{y = -\\frac{1}{2}x + \\frac{3}{4}}", True, True),
        ("\\frac{x^2}{4} + \\frac{y^2}{3} = 1", "\\boxed{3x^2 + 4y^2 = 12}", True, True),
        ("x - 2y + z = 1", "\\boxed{-x + 2y - z + 1 = 0}", True, True),
        ("y = 2x + 1", "\\boxed{2x - y + 1 = 0}", True, True),
        ("y = 2x + 1", "\\boxed{y = 2x + 2}", False, False),
        ("x + y = 1", "\\boxed{x + y = 2}", False, False),
    ],
    # Matrices in every environment, and sums and products of them.
    "matrices": [
        (
            "\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}",
            "\\boxed{\\begin{bmatrix} 1 & 2 \\\\ 3 & 4 \\end{bmatrix}}",
            True,
            True,
        ),
        (
            "\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}",
            "$\\boxed{\\left[\\begin{array}{cc} 1 & 2 \\\\ 3 & 4 \\end{array}\\right]}$",
            True,
            True,
        ),
        (
            "\\begin{bmatrix} 0.5 \\\\ 2 \\end{bmatrix}",
            "\\boxed{\\begin{pmatrix} \\frac{1}{2} \\\\ 2 \\end{pmatrix}}",
            True,
            True,
        ),
        (
            "\\begin{pmatrix} 6 & 8 \\\\ 10 & 12 \\end{pmatrix}",
            "\\boxed{\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}"
            " + \\begin{pmatrix} 5 & 6 \\\\ 7 & 8 \\end{pmatrix}}",
            True,
            True,
        ),
        (
            "\\begin{pmatrix} 2 & 0 \\\\ 0 & 2 \\end{pmatrix}",
            "\\boxed{2 \\begin{pmatrix} 1 & 0 \\\\ 0 & 1 \\end{pmatrix}}",
            True,
            True,
        ),
        (
            "\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}",
            "\\boxed{\\begin{pmatrix} 1 & 2 \\\\ 3 & 5 \\end{pmatrix}}",
            False,
            False,
        ),
    ],
    # Several boxes close together against one list gold.
    "several_boxes": [
        ("1, 2, 3", "The solutions are \\boxed{1}, \\boxed{2} and \\boxed{3}.", True, True),
        ("(2,2),(6,2)", "\\boxed{(2, 2)} \\quad \\text{and} \\quad \\boxed{(6, 2)}", True, True),
        ("-2, 1", "so $x = \\boxed{-2}$ or $x = \\boxed{1}$", True, True),
        ("1, 2", "\\boxed{1}\\boxed{2}", True, True),
        ("1, 2", "\\boxed{1}. Then, after checking every case carefully, \\boxed{2}", False, False),
        ("1, 2, 3", "\\boxed{1}, \\boxed{2}, \\boxed{3}, \\boxed{4}", False, False),
    ],
    # "1 and 2 and 3", "6 \text{ and } 8": a conjunction lists the items of a set.
    "and_lists": [
        ("1 and 2 and 3", "\\boxed{\\{1, 2, 3\\}}", True, True),
        ("\\{1, 2, 3\\}", "\\boxed{1 \\text{ and } 2 \\text{ and } 3}", True, True),
        ("6 \\text{ and } 8", "\\boxed{8, 6}", True, True),
        ("(11, 7) or (7, 11)", "\\boxed{(7, 11), (11, 7)}", True, True),
        ("19, 46, and 82", "\\boxed{19, 46, \\text{ and } 82}", True, True),
        ("12 and 13", "\\boxed{12, 14}", False, False),
    ],
    # A comma as the decimal mark.
    "decimal_commas": [
        ("2.5", "\\boxed{2,5}", True, True),
        ("1000.99", "The price is \\boxed{1000,99} euros.", True, True),
        ("0.75", "Il reste \\boxed{0,75} litre.", True, True),
        ("3,14", "\\boxed{3.14}", True, True),
        ("0,111", "\\boxed{0.111}", True, True),
        ("2, 5", "\\boxed{2,5}", True, True),  # a list gold keeps the list reading
        ("2.5", "\\boxed{2,6}", False, False),
    ],
    # Units in \textnormal{} and friends after the number.
    "units": [
        ("125", "The distance is $\\boxed{125\\textnormal{ miles}}$.", True, True),
        ("4.5", "\\boxed{4.5 \\textnormal{kg}}", True, True),
        ("30", "\\boxed{30\\,\\textnormal{m/s}}", True, True),
        ("18", "\\boxed{18 \\textbf{ dollars}}", True, True),
        ("30", "\\boxed{31 \\textnormal{ m}}", False, False),
    ],
    # Thousands separators: "11,\! 111", "1{,}000", thin spaces.
    "thousands": [
        ("11111111100", "is $\\boxed{11,\\! 111,\\! 111,\\! 100}$", True, True),
        ("32349", "\\boxed{32,\\!349}", True, True),
        ("1000000", "\\boxed{1{,}000{,}000}", True, True),
        ("1234567", "\\boxed{1\\,234\\,567}", True, True),
        ("14916", "The final answer is $14 {, }916$.", True, False),
        ("32349", "\\boxed{32, 349}", False, False),  # a comma and a space: two numbers
    ],
    # A multiple-choice letter in a text wrapper.
    "mcq_wrapped_letter": [
        ("C", "\\(\\boxed{\\text{(C)}}\\).", True, True),
        ("C", "$\\boxed{\\textbf{C}}$", True, True),
        ("C", "\\boxed{\\text{C}}", True, True),
        ("C", "the answer is \\boxed{(C)}", True, True),
        ("C", "\\boxed{\\mathrm{C}}", True, True),
        ("C", "\\boxed{\\text{(D)}}", False, False),
    ],
    # "Final Answer:" followed by a sentence that states the value.
    "final_answer_sentence": [
        ("34", "Final Answer: The largest $n$ is 34.", True, False),
        ("7", "Final answer: the smallest such value is $7$.", True, False),
        ("5", "Final Answer: The final answer is $5$. I hope it is correct.", True, False),
        ("34", "Final Answer: The largest $n$ is 35.", False, False),
    ],
}
ROWS = [(name, *row) for name, rows in CLASSES.items() for row in rows]


@pytest.mark.parametrize(
    ("name", "gold", "output", "lenient", "strict"),
    ROWS,
    ids=[f"{row[0]}-{i}" for i, row in enumerate(ROWS)],
)
def test_real_world_form(name: str, gold: str, output: str, lenient: bool, strict: bool) -> None:
    answer_type = "MCQ" if name == "mcq_wrapped_letter" else None
    got_lenient = check(gold, output, answer_type, config=LENIENT)
    got_strict = check(gold, output, answer_type, config=STRICT)
    assert got_lenient.correct is lenient, got_lenient
    assert got_strict.correct is strict, got_strict


def test_every_class_has_right_and_wrong_rows() -> None:
    for name, rows in CLASSES.items():
        verdicts = {lenient for _, _, lenient, _ in rows}
        assert verdicts == {True, False}, name
