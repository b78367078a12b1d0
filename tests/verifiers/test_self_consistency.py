"""Gold answers of real evaluation sets verify against themselves and reformatted variants.

Lenient mode reads every variant; strict mode (training) reads the boxed ones, each variant
written inside ``\\boxed{}`` as a Reasoner would.
"""

from __future__ import annotations

import pytest

from spice_env.verifiers import VerifierConfig, check
from tests.verifiers._eval_data import EVAL_FILES, eval_dir, load_golds, reformatted_variants

pytestmark = pytest.mark.skipif(
    not eval_dir().is_dir(), reason="../shared/data/eval is not present"
)
REQUIRED_RATE = 0.99
LENIENT = VerifierConfig(mode="lenient")
STRICT = VerifierConfig(mode="strict")


def _boxed(kind: str, prediction: str) -> str:
    return prediction if "\\boxed" in prediction else f"So the answer is \\boxed{{{prediction}}}."


@pytest.mark.parametrize("mode", ["lenient", "strict"])
@pytest.mark.parametrize("name", EVAL_FILES)
def test_golds_verify_against_themselves_and_variants(name: str, mode: str) -> None:
    failures = []
    total = 0
    for gold in load_golds(name):
        for kind, prediction in reformatted_variants(gold).items():
            if mode == "strict":
                if kind in ("answer_is", "units_words"):
                    continue  # prose around the answer: strict reads only the box
                prediction = _boxed(kind, prediction)
            total += 1
            result = check(gold, prediction, config=LENIENT if mode == "lenient" else STRICT)
            if not result.correct:
                failures.append((kind, gold, str(result.reason), result.extracted))
    rate = 1 - len(failures) / total
    print(f"{name} ({mode}): {total - len(failures)}/{total} = {rate:.2%}")
    assert rate >= REQUIRED_RATE, failures[:20]
