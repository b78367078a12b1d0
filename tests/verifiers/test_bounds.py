"""Property tests: numbers in every notation the extractor reads, with huge exponents and
lengths, are checked in at most 2 s per call from 8 threads at once, through ``verify`` and
through ``env.step`` on a real ``SpiceCorpus-v0`` env; every reason is a :class:`Reason`.

The worst time per call seen in a run is printed (``pytest -s``).
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import gymnasium as gym
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import spice_env  # noqa: F401  (registers SpiceCorpus-v0)
from spice_env.verifiers import Reason, VerifierConfig, check, verify
from spice_env.verifiers.workers import default_pool

LIMIT_S = 2.0
THREADS = 8
WORST: dict[str, float] = {}
_WORST_LOCK = threading.Lock()
MODES = (VerifierConfig(mode="strict"), VerifierConfig(mode="lenient"))

# --- numbers in every notation ---------------------------------------------------------------

_DIGIT_RUN = st.builds(
    lambda lead, body, length: (str(lead) + body * (length // max(1, len(body)) + 1))[:length],
    st.integers(1, 9),
    st.text("0123456789", min_size=1, max_size=6),
    st.one_of(st.integers(1, 30), st.integers(30, 5_000), st.sampled_from([4_300, 40_000])),
)
_EXPONENT = st.one_of(
    st.integers(-400, 400),
    st.integers(-(10**12), 10**12),
    st.sampled_from([999_999_999, -999_999_999, 10**18, 2**64]),
    _DIGIT_RUN,  # an exponent with thousands of digits
)


def _exponent_text(value: int | str) -> str:
    return str(value)


_NOTATIONS = (
    "{m}",
    "{m}.{f}",
    "-{m}",
    "{m}e{e}",
    "{m}.{f}E{e}",
    "{m}e+{e}",
    "{m} \\times 10^{{{e}}}",
    "{m}\\cdot10^{e}",
    "10^{{{e}}}",
    "10^{{10^{{{e}}}}}",
    "\\num{{{m}e{e}}}",
    "\\num{{{m}.{f}}}",
    "\\SI{{{m}e{e}}}{{\\metre}}",
    "{m}\\%",
    "{m}e{e}\\%",
    "{m} \\text{{ cm}}",
    "{m}e{e} meters",
    "\\${m},000",
    "{m}!",
    "2^{{{e}}}",
    "\\frac{{{m}}}{{{f}}}",
    "({m}e{e}, {m})",
)
_WRAPPERS = (
    "I think \\boxed{{{x}}}",
    "{x}",
    "The answer is {x}.",
    "So the final answer is ${x}$.",
    "\\boxed{{{x}}} or \\boxed{{{x}1}}",
    "Answer: \\[ {x} \\]",
)
NUMBER_OUTPUT = st.builds(
    lambda notation, wrapper, m, f, e: wrapper.format(
        x=notation.format(m=m, f=f, e=_exponent_text(e))
    ),
    st.sampled_from(_NOTATIONS),
    st.sampled_from(_WRAPPERS),
    _DIGIT_RUN,
    _DIGIT_RUN,
    _EXPONENT,
)
GOLDS = st.sampled_from(
    [
        ("42", "Integer"),
        ("2e999999999", "Expression"),
        ("3 \\times 10^{8}", "Expression"),
        ("\\frac{1}{2}", None),
        ("50\\%", "Expression"),
        ("10^{100}", "Expression"),
    ]
)


def _note(key: str, seconds: float) -> None:
    with _WORST_LOCK:
        WORST[key] = max(WORST.get(key, 0.0), seconds)


@pytest.fixture(scope="module", autouse=True)
def _warm_and_report():
    default_pool().warm_up(2)  # worker start-up is paid once, not inside timed calls
    yield
    for key, seconds in sorted(WORST.items()):
        print(f"worst time per call, {key}: {seconds:.3f} s")


_SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@_SETTINGS
@given(st.lists(st.tuples(GOLDS, NUMBER_OUTPUT), min_size=THREADS, max_size=THREADS))
def test_verify_is_bounded_from_eight_threads(cases) -> None:
    def run(case):
        (gold, answer_type), output = case
        worst = 0.0
        for config in MODES:
            start = time.perf_counter()
            result = check(gold, output, answer_type, config=config)
            correct = verify(gold, output, answer_type, config=config)
            worst = max(worst, time.perf_counter() - start)
            assert isinstance(result.reason, Reason) and result.reason is not Reason.INTERNAL_ERROR
            assert correct is result.correct or result.reason is Reason.TIMEOUT
        return worst

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        times = list(pool.map(run, cases))
    _note("verify (8 threads, check + verify, both modes)", max(times) / 2)
    assert max(times) < 2 * LIMIT_S, times  # two calls per mode, each under the limit


TASK = {
    "question": "How many metres does the probe travel?",
    "answer": "42",
    "answer_type": "Integer",
    "task_type": "free_form",
}


@_SETTINGS
@given(st.lists(NUMBER_OUTPUT, min_size=THREADS, max_size=THREADS))
def test_env_step_is_bounded_from_eight_threads(outputs) -> None:
    envs = _ENVS.setdefault("envs", [gym.make("SpiceCorpus-v0") for _ in range(THREADS)])

    def run(job):
        env, output = job
        env.reset(options={"task": TASK})
        start = time.perf_counter()
        _, reward, _, _, info = env.step(output)
        elapsed = time.perf_counter() - start
        assert reward in (0.0, 1.0)
        return elapsed

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        times = list(pool.map(run, zip(envs, outputs)))
    _note("env.step (8 threads, 8 envs)", max(times))
    assert max(times) < LIMIT_S, times


_ENVS: dict[str, list] = {}


def test_the_hanging_answer_returns_in_time_through_env_step() -> None:
    env = gym.make("SpiceCorpus-v0")
    env.reset(options={"task": TASK})
    start = time.perf_counter()
    _, reward, _, _, info = env.step("I think \\boxed{2e999999999}")
    elapsed = time.perf_counter() - start
    _note("env.step('I think \\boxed{2e999999999}')", elapsed)
    assert elapsed < LIMIT_S
    assert reward == 0.0
    assert info["verification"]["reason"] == "too_large"


@pytest.mark.parametrize(
    ("gold", "prediction", "expected"),
    [
        # The same value written differently is still compared without building it.
        ("2e999999999", "\\boxed{2e999999999}", True),
        ("2e999999999", "\\boxed{20e999999998}", True),
        ("2e999999999", "\\boxed{2e999999998}", False),
        ("1e-999999999", "\\boxed{0}", False),
    ],
)
def test_huge_numbers_compare_by_their_written_value(
    gold: str, prediction: str, expected: bool
) -> None:
    start = time.perf_counter()
    result = check(gold, prediction, "Expression")
    assert time.perf_counter() - start < LIMIT_S
    assert result.correct is expected, result


def test_reasons_are_a_closed_documented_set() -> None:
    import ast
    import inspect

    from spice_env.verifiers import _types

    tree = ast.parse(inspect.getsource(_types))
    body = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Reason").body
    documented = {
        statement.targets[0].id
        for statement, following in zip(body, body[1:])
        if isinstance(statement, ast.Assign)
        and isinstance(following, ast.Expr)
        and isinstance(following.value, ast.Constant)
        and isinstance(following.value.value, str)
    }
    assert documented == {member.name for member in Reason}  # a docstring under each member
    for member in Reason:
        assert str(member) == member.value and ":" not in member.value
    # Members compare equal to their strings, so callers that compare strings keep working.
    assert Reason.EXACT == "exact"
