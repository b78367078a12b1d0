"""Agreement with Math-Verify on Math-Verify's own regression tables, read from its checkout.

The peer's tests are ``(gold, prediction, expected)`` tables passed to ``pytest.mark.parametrize``.
This script reads them from a checkout of the peer's repository (nothing of it is copied into
this project): it parses each ``tests/test_*.py`` file with :mod:`ast`, takes the literal rows of
every parametrized test that has a gold and a prediction, and reads the settings the test
passes to the peer (extraction targets, precision, strictness) from the test's body. Then it
runs, on every row:

- the peer itself, with the settings its test uses (``math_verify.parse`` and ``verify``);
- ``spice_env.verifiers.check`` in strict mode (training) and in lenient mode (evaluation).

It reports per test (a "class" of cases) how often each side gets the expected answer, the
agreement of each of our modes with the peer overall and where the peer is right, and writes
every row on which any side differs from the expected answer or from the peer to JSON.

Usage:
    python benchmarks/peer_suite.py PATH/TO/Math-Verify [--out benchmarks/results/peer_suite.json]

A gold that is a whole worked solution (longer than 100 characters, no ``\\boxed{}``) is read
through our lenient extractor first, as the peer parses its golds with its full extractor.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import hashlib
import json
import sys
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from spice_env.verifiers import VerifierConfig, check, extract_answer  # noqa: E402

# Rows whose expected answer we judge wrong (see the README, "Verification"), named by the
# first 12 hex digits of sha1("CLASS\nGOLD\nPRED\nEXPECTED") so that no row of the peer is copied here.
JUDGED_WRONG = {
    "f19578a85e1e": "1 - 1/e and 1 + 1/e are different numbers; the row expects them equal",
    "aaed70e41b6a": "the output does answer 9; the row tests the peer's rule that inline math "
    "may not span lines, not whether the answer is right",
    "43991b114ea0": "x in [-2, 7] and -2 <= x <= 7 are the same answer; 0 is expected only "
    "because the test turns the peer's set-relation comparison off",
    "77c9c9d91c42": "expects f(x) = f(y) under the peer's non-default strict=False; with its "
    "defaults the peer, like us, tells them apart",
}
STRICT = VerifierConfig(mode="strict")
LENIENT = VerifierConfig(mode="lenient")
_GOLD_NAMES = ("gold",)
_PRED_NAMES = ("pred", "prediction")
_EXPECTED_NAMES = ("expected", "result")


@dataclass
class Row:
    """One row of the peer's tables, with the settings its test gives the peer."""

    test: str
    gold: str
    pred: str
    expected: bool
    settings: dict[str, Any] = field(default_factory=dict)


# --- reading the peer's tables ---------------------------------------------------------------


def _call_settings(function: ast.FunctionDef) -> tuple[str, dict[str, Any]]:
    """How the test body calls the peer: ``("compare_strings", {kwargs})`` or ``("verify", {})``.

    Keyword values that name a parameter of the test are kept as ``("param", name)``.
    """
    for node in ast.walk(function):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "compare_strings"
        ):
            settings: dict[str, Any] = {}
            for keyword in node.keywords:
                if isinstance(keyword.value, ast.Name):
                    settings[keyword.arg] = ("param", keyword.value.id)
                else:
                    with contextlib.suppress(ValueError):
                        settings[keyword.arg] = ast.literal_eval(keyword.value)
            return "compare_strings", settings
    return "verify", {}


def _parametrize(function: ast.FunctionDef) -> tuple[list[str], list[ast.expr]] | None:
    for decorator in function.decorator_list:
        if (
            isinstance(decorator, ast.Call)
            and isinstance(decorator.func, ast.Attribute)
            and decorator.func.attr == "parametrize"
            and len(decorator.args) >= 2
            and isinstance(decorator.args[1], (ast.List, ast.Tuple))
        ):
            try:
                names = ast.literal_eval(decorator.args[0])
            except ValueError:
                return None
            if isinstance(names, str):
                names = [name.strip() for name in names.split(",")]
            return list(names), list(decorator.args[1].elts)
    return None


def read_rows(checkout: Path) -> tuple[list[Row], dict[str, int]]:
    """All ``(gold, pred, expected)`` rows of the peer's test files, and the skipped counts."""
    rows: list[Row] = []
    skipped: dict[str, int] = defaultdict(int)
    for path in sorted((checkout / "tests").glob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef):
                continue
            found = _parametrize(function)
            if found is None:
                continue
            names, elements = found
            gold_name = next((n for n in names if n in _GOLD_NAMES), None)
            pred_name = next((n for n in names if n in _PRED_NAMES), None)
            expected_name = next((n for n in names if n in _EXPECTED_NAMES), None)
            test = f"{path.stem}::{function.name}"
            if gold_name is None or pred_name is None or expected_name is None:
                skipped[f"{test} (no gold/pred/expected columns)"] += len(elements)
                continue
            how, settings = _call_settings(function)
            for element in elements:
                try:
                    values = ast.literal_eval(element)
                except ValueError:  # f-strings and other computed rows
                    skipped[f"{test} (computed row)"] += 1
                    continue
                row = dict(zip(names, values))
                resolved = {"call": how}
                for key, value in settings.items():
                    resolved[key] = row[value[1]] if isinstance(value, tuple) else value
                rows.append(
                    Row(test, row[gold_name], row[pred_name], bool(row[expected_name]), resolved)
                )
    return rows, dict(skipped)


# --- the three sides -------------------------------------------------------------------------


def row_id(row: Row) -> str:
    """A short name for a row that does not copy it."""
    text = f"{row.test}\n{row.gold}\n{row.pred}\n{int(row.expected)}"
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def peer_default_verdict(row: Row) -> bool:
    """The peer with its defaults (``verify(parse(gold), parse(pred))``)."""
    from math_verify import parse, verify

    try:
        return bool(verify(parse(row.gold), parse(row.pred)))
    except Exception:
        return False


def peer_verdict(row: Row) -> bool:
    """The peer on a row, with the settings its own test uses."""
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify

    try:
        if row.settings.get("call") == "verify":
            return bool(verify(parse(row.gold), parse(row.pred)))
        targets = []
        for kind in row.settings.get("match_types", ["latex", "expr"]):
            if kind == "latex":
                targets.append(LatexExtractionConfig(boxed_match_priority=0))
            elif kind == "expr":
                targets.append(ExprExtractionConfig())
        gold = parse(row.gold, targets)
        pred = parse(row.pred, targets)
        return bool(
            verify(
                gold,
                pred,
                float_rounding=row.settings.get("precision", 6),
                strict=row.settings.get("strict", True),
                allow_set_relation_comp=row.settings.get("allow_set_relation_comp", False),
            )
        )
    except Exception:
        return False


def our_gold(gold: str) -> str:
    """A gold that is a whole worked solution is read as its final answer first."""
    if len(gold) > 100 and "box" not in gold:
        return extract_answer(gold, mode="lenient") or gold
    return gold


def ours(row: Row, config: VerifierConfig) -> tuple[bool, str]:
    """Our check on a row; the test's precision (decimal places) becomes ``float_rounding``."""
    if "precision" in row.settings:
        config = replace(config, float_rounding=int(row.settings["precision"]))
    result = check(our_gold(row.gold), row.pred, config=config)
    return result.correct, str(result.reason)


# --- report ----------------------------------------------------------------------------------


def _rate(hits: int, total: int) -> str:
    return f"{hits}/{total} ({100 * hits / total:.1f}%)" if total else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkout", type=Path, help="a checkout of the Math-Verify repository")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/peer_suite.json")
    args = parser.parse_args()
    if not (args.checkout / "tests").is_dir():
        sys.exit(f"{args.checkout} has no tests/ folder: pass a checkout of Math-Verify")

    rows, skipped = read_rows(args.checkout)
    records = []
    for row in rows:
        peer = peer_verdict(row)
        identifier = row_id(row)
        strict, strict_reason = ours(row, STRICT)
        lenient, lenient_reason = ours(row, LENIENT)
        records.append(
            {
                "class": row.test,
                "id": identifier,
                "judged_wrong": JUDGED_WRONG.get(identifier),
                "gold": row.gold,
                "pred": row.pred,
                "expected": row.expected,
                "settings": row.settings,
                "peer": peer,
                "peer_defaults": peer_default_verdict(row),
                "strict": strict,
                "strict_reason": strict_reason,
                "lenient": lenient,
                "lenient_reason": lenient_reason,
            }
        )

    def summary(subset: list[dict[str, Any]]) -> dict[str, Any]:
        # "Where the peer is right": it gives the expected answer and we do not judge that
        # expected answer wrong.
        peer_right = [r for r in subset if r["peer"] == r["expected"] and not r["judged_wrong"]]
        return {
            "rows": len(subset),
            "judged_wrong": sum(bool(r["judged_wrong"]) for r in subset),
            "peer_correct": sum(r["peer"] == r["expected"] for r in subset),
            "peer_defaults_correct": sum(r["peer_defaults"] == r["expected"] for r in subset),
            "strict_correct": sum(r["strict"] == r["expected"] for r in subset),
            "lenient_correct": sum(r["lenient"] == r["expected"] for r in subset),
            "strict_agrees_with_peer": sum(r["strict"] == r["peer"] for r in subset),
            "lenient_agrees_with_peer": sum(r["lenient"] == r["peer"] for r in subset),
            "peer_right": len(peer_right),
            "lenient_agrees_where_peer_right": sum(r["lenient"] == r["peer"] for r in peer_right),
            "strict_agrees_where_peer_right": sum(r["strict"] == r["peer"] for r in peer_right),
        }

    classes = sorted({r["class"] for r in records})
    per_class = {name: summary([r for r in records if r["class"] == name]) for name in classes}
    total = summary(records)
    # Strict mode pays only boxed answers: on rows whose prediction has no box it is expected
    # to differ, so its agreement is also shown on the rows with a boxed prediction.
    boxed = [r for r in records if "boxed" in r["pred"] or "fbox" in r["pred"]]
    total_boxed = summary(boxed)
    disagreements = [
        r
        for r in records
        if len({r["peer"], r["peer_defaults"], r["strict"], r["lenient"], r["expected"]}) > 1
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "total": total,
                "boxed_predictions": total_boxed,
                "per_class": per_class,
                "skipped": skipped,
                "disagreements": disagreements,
            },
            indent=1,
        )
    )

    print(f"{'class':<58}{'rows':>5}{'peer':>6}{'strict':>7}{'lenient':>8}{'len=peer':>9}")
    for name, s in per_class.items():
        print(
            f"{name:<58}{s['rows']:>5}{s['peer_correct']:>6}{s['strict_correct']:>7}"
            f"{s['lenient_correct']:>8}{s['lenient_agrees_with_peer']:>9}"
        )
    print()
    print(f"rows read: {total['rows']} (skipped: {sum(skipped.values())})")
    print(f"peer (its tests' settings) expected:  {_rate(total['peer_correct'], total['rows'])}")
    print(
        f"peer (its defaults) expected:         "
        f"{_rate(total['peer_defaults_correct'], total['rows'])}"
    )
    print(f"rows whose expected answer we judge wrong: {total['judged_wrong']}")
    print(f"ours strict gets the expected answer: {_rate(total['strict_correct'], total['rows'])}")
    print(f"ours lenient gets the expected answer:{_rate(total['lenient_correct'], total['rows'])}")
    print(
        "lenient agrees with the peer where the peer is right: "
        f"{_rate(total['lenient_agrees_where_peer_right'], total['peer_right'])}"
    )
    print(
        "strict agrees with the peer where the peer is right: "
        f"{_rate(total['strict_agrees_where_peer_right'], total['peer_right'])}; on rows with a "
        f"boxed prediction: {_rate(total_boxed['strict_agrees_where_peer_right'], total_boxed['peer_right'])}"
    )
    print(f"{len(disagreements)} rows with any disagreement written to {args.out}")


if __name__ == "__main__":
    main()
