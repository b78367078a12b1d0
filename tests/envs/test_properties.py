"""Property tests: arbitrary, huge and malformed actions never raise and always get a reason."""

import json

import gymnasium as gym
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import spice_env  # noqa: F401
from spice_env.tasks import InvalidReason

ENV = gym.make("SpiceCorpus-v0", num_reasoner_attempts=2).unwrapped
REASONS = {r.value for r in InvalidReason}
SELECTION = json.dumps(
    {"suitable_for_mcq": True, "suitable_for_free_form": True, "best_answer_type": "Expression"}
)

json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=50),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["question", "answer", "options", "answer_type", "A", "B"]),
            children,
            max_size=5,
        )
    ),
    max_leaves=20,
)
malformed = st.one_of(
    st.text(max_size=2000),
    json_like.map(json.dumps),
    json_like.map(lambda v: json.dumps(v)[:-1]),  # truncated JSON
    st.builds(lambda n: "{" * n + "}" * (n // 2), st.integers(0, 5000)),
    st.builds(lambda s, n: s * n, st.text(min_size=1, max_size=5), st.integers(1, 200_000)),
)
config = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@config
@given(first=malformed, second=malformed, seed=st.integers(0, 10_000))
def test_challenger_actions_never_raise_and_invalid_has_reason(first, second, seed):
    ENV.reset(seed=seed)
    for action in (first, second):
        _, reward, terminated, _, info = ENV.step(action)
        if terminated:
            assert info["invalid_reason"] in REASONS and reward == -0.1
            return
        if info["stage"] == "answering":
            return  # a valid task: fine too


@config
@given(action=malformed)
def test_generation_stage_actions(action):
    ENV.reset(seed=0)
    ENV.step(SELECTION)
    _, _, terminated, _, info = ENV.step(action)
    assert info["stage"] == "answering" or (terminated and info["invalid_reason"] in REASONS)


@config
@given(answer=malformed)
def test_reasoner_actions_never_raise(answer):
    ENV.reset(
        options={
            "task": {
                "question": "What is 1/2 + 1/4?",
                "answer": "\\frac{3}{4}",
                "answer_type": "Expression",
                "task_type": "free_form",
            }
        }
    )
    _, reward, _, _, info = ENV.step(answer)
    assert reward in (0.0, 1.0) and isinstance(info["verification"]["reason"], str)
