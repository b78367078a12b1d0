"""Adversarial inputs: no exception, no side effect, bounded time and memory, from 8 threads.

Every check runs in both modes: strict (training) reads only boxes, lenient (evaluation) runs
every extraction fallback, so both paths meet the hostile text.
"""

from __future__ import annotations

import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from spice_env.verifiers import (
    AnswerType,
    Reason,
    VerifierConfig,
    VerifyResult,
    check,
    verify_many,
)
from spice_env.verifiers.workers import default_pool

CHECK_LIMIT_S = 2.0
MODES = (VerifierConfig(mode="strict"), VerifierConfig(mode="lenient"))


def _injections(marker: Path) -> list[str]:
    """Strings that would create ``marker`` if any code path evaluated them."""
    command = f"touch {marker}"
    return [
        f"\\boxed{{__import__('os').system('{command}')}}",
        f'\\boxed{{__import__("os").system("{command}")}}',
        f"__import__('os').system('{command}')",
        f"eval(\"__import__('os').system('{command}')\")",
        f"exec('import os; os.system(\"{command}\")')",
        f"\\boxed{{open('{marker}', 'w')}}",
        f"\\boxed{{(lambda: __import__('os').system('{command}'))()}}",
        "\\boxed{().__class__.__bases__[0].__subclasses__()}",
        f"\\boxed{{Symbol('x').__class__.__init__.__globals__['os'].system('{command}')}}",
        f"\\boxed{{\\text{{__import__('os').system('{command}')}}}}",
        f"$ {command} $",
        f"\\boxed{{x}} \\input{{{marker}}} \\write18{{{command}}}",
    ]


def _random_text(seed: int, size: int) -> str:
    rng = random.Random(seed)
    return bytes(rng.randrange(256) for _ in range(size)).decode("latin-1")


ADVERSARIAL_PREDICTIONS = [
    # exponent towers
    "\\boxed{2^{2^{2^{2^{2^{100}}}}}}",
    "\\boxed{9^{9^{9^{9}}}}",
    "\\boxed{10^{10^{10^{10^{10}}}}}",
    "\\boxed{(x+1)^{10^{9}}}",
    "\\boxed{2**2**2**2**2**2**2}",
    "\\boxed{(x+2)^{900}}",
    # giant factorials and binomials
    "\\boxed{100000000!}",
    "\\boxed{(10^{100})!}",
    "\\boxed{\\binom{10^{12}}{5 \\cdot 10^{11}}}",
    "\\boxed{((100!)!)!}",
    # deep nesting
    "\\boxed{" + "(" * 5_000 + "1" + ")" * 5_000 + "}",
    "\\boxed{" + "\\frac{1}{" * 400 + "2" + "}" * 400 + "}",
    "\\boxed{" + "{" * 10_000 + "}" * 10_000 + "}",
    "\\boxed{" + "\\sqrt{" * 2_000 + "2" + "}" * 2_000 + "}",
    "\\boxed{" + "-" * 100_000 + "1}",
    "\\boxed{" + "x^" * 3_000 + "2}",
    # megabyte strings
    "1" * 1_000_000,
    "\\boxed{" + "9" * 1_000_000 + "}",
    "\\boxed{" * 200_000,
    "{" * 1_000_000,
    "The answer is " * 100_000,
    "a" * 2_000_000,
    "\\boxed{" + "x+" * 300_000 + "1}",
    # numerically nasty
    "\\boxed{\\sin(10^{100})}",
    "\\boxed{\\frac{1}{0}}",
    "\\boxed{0^{-1}}",
    "\\boxed{\\log 0}",
    "\\boxed{\\infty - \\infty}",
    "\\boxed{e^{e^{e^{e^{10}}}}}",
    "\\boxed{\\tan(\\pi/2)}",
    # random bytes
    _random_text(1, 10_000),
    _random_text(2, 100_000),
    "\\boxed{" + _random_text(3, 2_000) + "}",
    "\x00\x01\x02\\boxed{\x00}",
    "\ud800 lone surrogate \\boxed{\udfff}",
]
GOLDS = [
    ("42", AnswerType.INTEGER),
    ("\\frac{3}{4}x^2 + 1", AnswerType.EXPRESSION),
    ("2^{2^{2^{100}}}", None),
    ("(x+2)^{900}", AnswerType.EXPRESSION),
    ("Marie Curie", AnswerType.STRING),
    ("B", AnswerType.MCQ),
]


@pytest.fixture(scope="module", autouse=True)
def _warm_workers() -> None:
    # Start-up of the worker processes is paid once, not inside the timed checks.
    default_pool().warm_up(2)


def _timed_check(gold: str, prediction: str, answer_type: AnswerType | None) -> float:
    worst = 0.0
    for config in MODES:
        start = time.perf_counter()
        result = check(gold, prediction, answer_type, config=config)
        worst = max(worst, time.perf_counter() - start)
        assert isinstance(result, VerifyResult)
        assert isinstance(result.reason, Reason) and result.reason is not Reason.INTERNAL_ERROR
    return worst


def test_code_injection_has_no_side_effect(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    for injection in _injections(marker):
        for config in MODES:
            for gold, answer_type in GOLDS:
                result = check(gold, injection, answer_type, config=config)
                assert not result.correct, (gold, injection, result)
            # As the gold, too (a Challenger writes golds): never accepted as a task.
            result = check(injection, f"\\boxed{{{injection}}}", "Expression", config=config)
            assert not result.correct or "__" not in injection, result
    assert not marker.exists()


@pytest.mark.parametrize("index", range(len(ADVERSARIAL_PREDICTIONS)))
def test_adversarial_prediction_is_bounded(index: int) -> None:
    prediction = ADVERSARIAL_PREDICTIONS[index]
    for gold, answer_type in GOLDS:
        elapsed = _timed_check(gold, prediction, answer_type)
        assert elapsed < CHECK_LIMIT_S, (gold, prediction[:80], elapsed)


@pytest.mark.parametrize("index", range(0, len(ADVERSARIAL_PREDICTIONS), 3))
def test_adversarial_gold_is_bounded(index: int) -> None:
    gold = ADVERSARIAL_PREDICTIONS[index]
    for answer_type in (None, AnswerType.EXPRESSION, AnswerType.INTEGER):
        elapsed = _timed_check(gold, gold, answer_type)
        assert elapsed < CHECK_LIMIT_S, (gold[:80], elapsed)


def test_slow_symbolic_work_times_out_and_worker_recovers() -> None:
    # Floats overflow on both, so the pair goes to sympy (no in-process strategy decides).
    symbolic = check("e", "\\boxed{e^{1000} \\cdot e^{-999}}", AnswerType.EXPRESSION)
    assert symbolic.reason == "symbolic" and symbolic.correct
    # This one keeps sympy busy past the deadline: the worker is killed at it.
    start = time.perf_counter()
    result = check("(x+2)^{900}", "\\boxed{(x^2+4x+4)^{450} + 10^{-300}x}", "Expression")
    assert time.perf_counter() - start < CHECK_LIMIT_S
    assert (result.correct, result.reason) == (False, "timeout")
    # The pool replaced the killed worker: the next symbolic check is decided, and quickly.
    start = time.perf_counter()
    again = check("e", "\\boxed{e^{1000} \\cdot e^{-999}}", AnswerType.EXPRESSION)
    assert again.reason == "symbolic" and again.correct
    assert time.perf_counter() - start < 0.5


def _memory_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs /proc")
def test_eight_threads_at_once() -> None:
    cases = [
        (gold, prediction, answer_type)
        for prediction in ADVERSARIAL_PREDICTIONS[::2]
        for gold, answer_type in GOLDS[:3]
    ]
    before = _memory_mb()
    timings: list[float] = []
    lock = threading.Lock()

    def run(case: tuple[str, str, AnswerType | None]) -> None:
        elapsed = _timed_check(*case)
        with lock:
            timings.append(elapsed)

    with ThreadPoolExecutor(max_workers=8) as executor:
        list(executor.map(run, cases))
    assert len(timings) == len(cases)
    assert max(timings) < CHECK_LIMIT_S, max(timings)
    assert _memory_mb() - before < 300


def test_verify_many_with_adversarial_rows() -> None:
    predictions = ADVERSARIAL_PREDICTIONS[:10]
    for config in MODES:
        results = verify_many(
            ["42"] * len(predictions), predictions, AnswerType.INTEGER, config=config
        )
        assert [result.correct for result in results] == [False] * len(predictions)
