"""Content checks on parsed tasks: types, self-verification, leaks, grounding."""

from fractions import Fraction

import pytest

from spice_env.tasks import (
    InvalidReason,
    TaskVerdict,
    ValidityConfig,
    answer_matches_type,
    asked_result,
    grounding_score,
    is_answer_leaked,
    is_question,
    parse_task,
    validate_task,
    written_result,
)

DOCUMENT = (
    "The Euclidean algorithm finds the greatest common divisor of 1071 and 462. Dividing 1071 by "
    "462 leaves remainder 147; dividing 462 by 147 leaves 21; and 147 is divisible by 21, so the "
    "greatest common divisor is 21. Euclid described the method around 300 BC in the Elements."
)


@pytest.mark.parametrize(
    ("answer", "answer_type", "ok"),
    [
        ("42", "Integer", True),
        ("-7", "Integer", True),
        ("1,024", "Integer", True),
        ("\\boxed{12}", "Integer", True),
        ("$12$", "Integer", True),
        ("12.5", "Integer", False),
        ("twelve", "Integer", False),
        ("1,02", "Integer", False),
        ("Marie Curie", "String", True),
        ("the greatest common divisor", "String", False),
        ("x^2+1", "Expression", True),
        ("", "Expression", False),
        ("12", "Float", False),
    ],
)
def test_answer_matches_type(answer, answer_type, ok):
    assert answer_matches_type(answer, answer_type) is ok


def test_grounding_score_high_for_document_words_low_for_unrelated():
    assert grounding_score("What is the greatest common divisor of 1071 and 462?", DOCUMENT) == 1.0
    assert grounding_score("Which composer wrote the opera Carmen in Paris?", DOCUMENT) < 0.25
    assert grounding_score("!!!", DOCUMENT) == 0.0
    # fuzzy: an inflected form still counts
    assert grounding_score("divisors remainders", DOCUMENT) == 1.0


def _task(text, task_type="free_form"):
    return parse_task(text, task_type, default_answer_type="Integer")


def _always(correct):
    class Result:
        def __init__(self):
            self.correct, self.reason = correct, "stub"

    return lambda *a, **k: Result()


def test_valid_task_passes_all_checks_with_real_verifier():
    parsed = _task(
        '{"question": "What is the greatest common divisor of 1071 and 462?", "answer": "21", "answer_type": "Integer"}'
    )
    checked = validate_task(parsed, DOCUMENT)
    assert checked.valid, checked
    assert checked.grounding == 1.0


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (
            '{"question": "What is the gcd of 1071 and 462?", "answer": "21.5", "answer_type": "Integer"}',
            InvalidReason.ANSWER_TYPE_MISMATCH,
        ),
        (
            '{"question": "Who described the algorithm?", "answer": "Euclid of Alexandria the Great", "answer_type": "String"}',
            InvalidReason.ANSWER_TYPE_MISMATCH,
        ),
        (
            '{"question": "The gcd of 1071 and 462 is 147; what is the remainder 147?", "answer": "147", "answer_type": "Integer"}',
            InvalidReason.ANSWER_LEAKED,
        ),
        (
            '{"question": "Which composer wrote the opera Carmen in Paris?", "answer": "Bizet", "answer_type": "String"}',
            InvalidReason.NOT_GROUNDED,
        ),
        # A statement copied from the document, with an answer a Reasoner can guess: what a
        # self-play run of SmolLM2 converged to before this check existed.
        (
            '{"question": "Euclid described the method around 300 BC in the Elements.", "answer": "1", "answer_type": "Integer"}',
            InvalidReason.NOT_A_QUESTION,
        ),
    ],
)
def test_invalid_reasons(text, reason):
    assert validate_task(_task(text), DOCUMENT).reason is reason


def test_self_verification_failure_is_named():
    parsed = _task(
        '{"question": "What is the gcd of 1071 and 462?", "answer": "21", "answer_type": "Integer"}'
    )
    checked = validate_task(parsed, DOCUMENT, verify=_always(False))
    assert checked.reason is InvalidReason.GOLD_NOT_SELF_VERIFIABLE


def test_garbage_expression_gold_is_not_self_verifiable():
    parsed = _task(
        '{"question": "Simplify the gcd expression of 1071 and 462", "answer": "}{^^", "answer_type": "Expression"}'
    )
    assert validate_task(parsed, DOCUMENT).reason is InvalidReason.GOLD_NOT_SELF_VERIFIABLE


def test_parse_failures_pass_through_untouched():
    failed = TaskVerdict(None, InvalidReason.UNPARSABLE)
    assert validate_task(failed, DOCUMENT) is failed


def test_grounding_threshold_zero_disables_and_bad_threshold_raises():
    parsed = _task(
        '{"question": "Which composer wrote the opera Carmen?", "answer": "Bizet", "answer_type": "String"}'
    )
    assert validate_task(parsed, DOCUMENT, ValidityConfig(grounding_threshold=0.0)).valid
    with pytest.raises(ValueError, match="grounding_threshold"):
        ValidityConfig(grounding_threshold=1.5)


@pytest.mark.parametrize(
    ("text", "asks"),
    [
        ("What is the gcd of 1071 and 462?", True),
        ("What is the gcd of 1071 and 462", True),  # no question mark, a question word
        ("In which year did Euclid write the Elements.", True),
        ("Is 21 the greatest common divisor of 1071 and 462.", True),
        ("Fill in the blank with the missing number: 462 divided by 147 leaves ____.", True),
        ("Euclid wrote the Elements. Compute the gcd of 1071 and 462.", True),
        ("Choose the option that completes the sentence:", True),
        ("The gcd of 1071 and 462 is ___ .", True),
        # statements: copied sentences, a lone word, a sentence whose "where" is not a question
        ("The horse is a domesticated, one-toed, hoofed mammal.", False),
        ("Rules", False),
        ("The city where he was born is Paris.", False),
        ("Dividing 1071 by 462 leaves remainder 147", False),
        ("", False),
    ],
)
def test_is_question(text, asks):
    assert is_question(text) is asks


def test_is_question_is_bounded_on_huge_text():
    # a question mark past the searched prefix does not count, and the check stays fast
    assert is_question("word " * 100_000 + "?") is False


def test_a_generic_question_with_grounded_options_is_not_grounded():
    # Question and options together score well (the options are the document's numbers), but
    # the question asks nothing about the document: a real SmolLM2 output, once scored valid.
    options = '"options": {"A": "1071", "B": "462", "C": "147", "D": "21"}'
    generic = _task(
        '{"question": "What is the answer to the question?", ' + options + ', "answer": "D"}', "mcq"
    )
    verdict = validate_task(generic, DOCUMENT)
    assert (
        verdict.reason is InvalidReason.NOT_GROUNDED and "word(s) of the document" in verdict.detail
    )
    assert verdict.grounding >= ValidityConfig().grounding_threshold
    asked = _task(
        '{"question": "What is the greatest common divisor of 1071 and 462?", '
        + options
        + ', "answer": "D"}',
        "mcq",
    )
    assert validate_task(asked, DOCUMENT).valid
    assert validate_task(generic, DOCUMENT, ValidityConfig(min_question_document_words=0)).valid
    with pytest.raises(ValueError, match="min_question_document_words"):
        ValidityConfig(min_question_document_words=-1)


@pytest.mark.parametrize(
    ("question", "leaked"),
    [
        # A trained SmolLM2 Challenger's task, scored valid before (a 2-character answer).
        ("What is 42 x 48? 42 is 4 times 48, 42 is 12, the answer is 12. Decisionproof?", True),
        ("How many remainders are there? Answer: 12?", True),
        ("What is 1071 minus 1059, which equals 12?", True),
        # Unannounced, a short number still leaks when it is one of the question's numbers:
        # a self-play Reasoner learned to box the question's number for such tasks.
        ("In 12 steps, how many divisions does the algorithm make?", True),
        ("What is the answer for 12 apples?", True),
        ("What is the answer to this question, 12.0 double flips?", True),
        ("Tyler did 3 x 4 = ____ flips.", False),
        ("Is 120 or 212 or -12 the count?", False),
    ],
)
def test_a_short_answer_leaks_where_announced_or_where_the_question_writes_it(question, leaked):
    task = parse_task(
        f'{{"question": "{question}", "answer": "12", "answer_type": "Integer"}}', "free_form"
    ).task
    assert is_answer_leaked(task) is leaked


@pytest.mark.parametrize(
    ("question", "answer", "number_rule", "leaked"),
    [
        ("Is there a 19-sided polygon with 4 vertices?", "19", True, True),
        ("Is there a 19-sided polygon with 4 vertices?", "19", False, False),
        ("How many live in New York, 2/3 of 2,100,000?", "2,100,000", True, True),
        ("How many live in New York, 2/3 of 2,100,000?", "1400000", True, False),
        ("It fell from 73-63 degrees; by how much?", "63", True, True),
        ("It was -5 degrees at noon; how far below zero was it?", "5", True, False),
        ("It was -5 degrees at noon; what was it?", "-5", True, True),
        # A unit or suffix glued on: a self-play Challenger's task its Reasoner answered 16/16.
        ("Which piece of the rope is 75mm long?", "75", True, True),
        ("Which year did they marry, with their 4th anniversary due?", "4", True, True),
        ("At $2.50/kg, how much do 4kg of apples cost?", "10", True, False),
        ("How many grams of CO2 are left?", "2", True, False),
        # Spelled out: the same shortcut as digits; "nineteen" is not nine, "seventy" not seven.
        ("Is there a nineteen-sided polygon with four vertices?", "19", True, True),
        ("Is there a nineteen-sided polygon with four vertices?", "4", True, True),
        ("Is there a nineteen-sided polygon with four vertices?", "9", True, False),
        ("How many hours are in Twenty-Four days of seventy hours?", "24", True, True),
        ("How many hours are in twenty four days of seventy hours?", "7", True, False),
        ("How many hours are in twenty four days of seventy hours?", "24", False, False),
    ],
)
def test_a_number_of_the_question_leaks_unless_the_rule_is_off(
    question, answer, number_rule, leaked
):
    parsed = parse_task(
        f'{{"question": "{question}", "answer": "{answer}", "answer_type": "Integer"}}',
        "free_form",
    )
    assert is_answer_leaked(parsed.task, numbers=number_rule) is leaked
    verdict = validate_task(
        parsed,
        "Whatever document.",
        ValidityConfig(grounding_threshold=0, check_number_leak=number_rule),
    )
    assert (verdict.reason is InvalidReason.ANSWER_LEAKED) is leaked


@pytest.mark.parametrize(
    ("question", "value"),
    [
        # What a cloze writes right before its blank is read, exactly.
        ("Lisa had 20 - 5 = ____ marbles?", 15),
        ("The fruits cost $40 + $50 + $60 = $____ in all?", 150),
        ("Colby sold 1/2 x 40 = ____ kilograms?", 20),
        ("He bought 250*100=____ gems?", 25000),
        ("Which number fills the blank: (2 + 3) * 4 = ____?", 20),
        ("They paid 1,000 + 2,500 = ____ dollars?", 3500),
        ("The change: -5 + 3 = ____ degrees?", -2),
        ("Speed is 60/20=3 mph, so 3 x 2 = ____ miles?", 6),
        # No claim where the reader cannot take the whole computation.
        ("Lisa had ____ marbles?", None),
        ("He keeps 37% of 1000 = ____ dollars?", None),
        ("There are 60 students x 2/3 = ____ students?", None),
        ("He works M + 4 + 2 = ____ hours?", None),
        ("She gets 10% off, so .10*60 = ____ dollars?", None),
        ("It is 14, 400 / 80 = ____ pages?", None),
        ("It holds 12 x 1 and 1/4 = ____ cups?", None),
        ("The volume is 1/2 * 1/2 = ____/4 of it?", None),
        ("The scroll is 4080 / 2 = ____ + 2040 years old?", None),
        ("The relationship is 3x-5=____?", None),
        ("They left at 0900-0130 = ____ hours?", None),
        ("There are 3/ 1/4 = ____ quarter miles?", None),
        ("It costs 3/0 = ____ dollars?", None),
        ("A box 3 = ____?", None),
        ("(" * 100 + "1" + ")" * 100 + " + 1 = ____?", None),
        ("9" * 150 + " * 9 = ____?", None),
    ],
)
def test_written_result_reads_the_computation_before_the_blank(question, value):
    assert written_result(question) == value


@pytest.mark.parametrize(
    ("question", "answer", "contradicted"),
    [
        # A self-play Challenger wrote these clozes with these golds.
        ("Which number fills the blank: Lisa had 20 - 5 = ____ marbles?", "7", True),
        ("Which number fills the blank: He bought 250*100=____ gems?", "30000", True),
        ("Which number fills the blank: There are 1 + 3 =____ players?", "4", False),
        # Rounded to the gold's own decimals, or a whole count next to the quotient.
        ("Which number fills the blank: Each gets 10/3 = ____ pounds?", "3.33", False),
        ("Which number fills the blank: It takes 17/3 = ____ loads?", "6", False),
        ("Which number fills the blank: It takes 17/3 = ____ loads?", "8", True),
        # A percentage may be written as the fraction times 100.
        ("Which number fills the blank: It is 1/5 = ____% of them?", "20", False),
        ("Which number fills the blank: It is 100 - 40 = ____ percent of it?", "60", False),
        # No written computation: no claim.
        ("Which number fills the blank: Lisa had ____ marbles?", "7", False),
        # A question that is a computation and nothing else (a run-15 Challenger wrote the
        # first with gold 160000, and it passed every check).
        ("What is 160 + 40*40 + 180*100?", "160000", True),
        ("What is 160 + 40*40 + 180*100?", "19760", False),
        ("How much is $12 x 3?", "36", False),
        ("What does 7 * 8 equal?", "54", True),
    ],
)
def test_a_gold_the_questions_own_computation_contradicts_is_invalid(
    question, answer, contradicted
):
    kind = "Expression" if "." in answer else "Integer"
    parsed = parse_task(
        f'{{"question": "{question}", "answer": "{answer}", "answer_type": "{kind}"}}',
        "free_form",
    )
    config = ValidityConfig(grounding_threshold=0, check_number_leak=False)
    verdict = validate_task(parsed, "Whatever document.", config)
    assert (verdict.reason is InvalidReason.GOLD_CONTRADICTS_QUESTION) is contradicted
    if contradicted:
        assert f"the gold is {answer}" in verdict.detail
    off = ValidityConfig(
        grounding_threshold=0, check_number_leak=False, check_written_computation=False
    )
    assert validate_task(parsed, "Whatever document.", off).valid


def test_a_multiple_choice_gold_is_read_from_its_option():
    text = (
        '{"question": "Which number fills the blank: She had 50-8 = ____ bracelets left?", '
        '"options": {"A": "44", "B": "50", "C": "3", "D": "8"}, "answer": "A"}'
    )
    verdict = validate_task(
        parse_task(text, "mcq"), "Whatever document.", ValidityConfig(grounding_threshold=0)
    )
    assert verdict.reason is InvalidReason.GOLD_CONTRADICTS_QUESTION
    right = text.replace('"A": "44"', '"A": "42"')
    assert validate_task(
        parse_task(right, "mcq"), "Whatever document.", ValidityConfig(grounding_threshold=0)
    ).valid


@pytest.mark.parametrize(
    ("question", "value"),
    [
        ("What is 160 + 40*40 + 180*100?", 19760),
        ("How much is $12 x 3?", 36),
        ("What does 7 * 8 equal?", 56),
        ("what are 5 x 6?", 30),
        ("What is (3+4)*2 ?", 14),
        ("What is 1/2 + 1/4?", Fraction(3, 4)),
        # Words, a bare number, clock times, a second question: no claim.
        ("What is 20% of 50?", None),
        ("What is 3 apples + 2?", None),
        ("What is the total of 3 + 4?", None),
        ("What is 42?", None),
        ("What is 0900-0130?", None),
        ("What is 3 + 4? And 5?", None),
        ("What is " + "1 + " * 60 + "1?", None),  # longer than the reader takes
    ],
)
def test_asked_result_reads_a_question_that_is_only_a_computation(question, value):
    assert asked_result(question) == value
