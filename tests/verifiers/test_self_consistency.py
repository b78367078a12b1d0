"""Gold answers of real evaluation sets verify against themselves and reformatted variants."""

from __future__ import annotations

import pytest

from spice_env.verifiers import check
from tests.verifiers._eval_data import EVAL_FILES, eval_dir, load_golds, reformatted_variants

pytestmark = pytest.mark.skipif(
    not eval_dir().is_dir(), reason="../shared/data/eval is not present"
)
REQUIRED_RATE = 0.99


@pytest.mark.parametrize("name", EVAL_FILES)
def test_golds_verify_against_themselves_and_variants(name: str) -> None:
    failures = []
    total = 0
    for gold in load_golds(name):
        for kind, prediction in reformatted_variants(gold).items():
            total += 1
            result = check(gold, prediction)
            if not result.correct:
                failures.append((kind, gold, result.reason, result.extracted))
    rate = 1 - len(failures) / total
    print(f"{name}: {total - len(failures)}/{total} = {rate:.2%}; failures: {failures}")
    assert rate >= REQUIRED_RATE, failures[:20]
