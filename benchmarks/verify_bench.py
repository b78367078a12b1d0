"""Benchmark ``spice_env.verifiers`` against Math-Verify, side by side in one run, uncached.

Builds (gold, model-style output) pairs from the shared evaluation sets (correct answers in
several written forms, and deliberately wrong ones), runs both verifiers on every pair, and
reports agreement, every disagreement (judged against the known label of the pair) and
throughput. Every timed call does uncached work: the result caches of both sides (our parse
cache, Math-Verify's parse caches) are emptied before each call, outside the timed region,
so a repeat never measures a cache. The two sides alternate from pair to pair, torch (if
installed) runs on one thread, and times are medians with the ratio Math-Verify / ours.

Ours runs in lenient mode (evaluation: like Math-Verify it reads answers without a box); the
strict (training) mode is timed and scored on the pairs whose output is boxed.

Usage:
    python benchmarks/verify_bench.py [--per-file 400] [--repeats 3] [--out PATH]

Writes JSON to ``benchmarks/results/verify_bench.json`` (git-ignored) and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import statistics
import sys
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from spice_env.verifiers import VerifierConfig, check, clear_caches  # noqa: E402
from spice_env.verifiers.workers import default_pool  # noqa: E402

LENIENT = VerifierConfig(mode="lenient")
STRICT = VerifierConfig(mode="strict")
EVAL_DIR = ROOT.parent / "shared" / "data" / "eval"
FILES = ("math500", "gsm8k", "aime24", "amc23", "olympiadbench")
NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
SIMPLE_FRACTION = re.compile(r"^(-?)\\[dt]?frac\{(\d+)\}\{(\d+)\}$")


@dataclass(frozen=True)
class Pair:
    """One benchmark row: the gold, a model-style output and whether it should verify."""

    source: str
    form: str
    gold: str
    prediction: str
    expected: bool


# --- data ------------------------------------------------------------------------------------


def load_golds(name: str) -> list[str]:
    rows = [json.loads(line) for line in (EVAL_DIR / f"{name}.jsonl").open(encoding="utf-8")]
    if name == "gsm8k":
        return [row["answer"].split("####")[-1].strip() for row in rows]
    if name == "olympiadbench":
        return [
            ", ".join(a.strip().strip("$").strip() for a in row["final_answer"]) for row in rows
        ]
    golds = []
    for row in rows:
        value = row["answer"]
        golds.append(
            str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
        )
    return golds


def wrong_answer(gold: str, pool: list[str], rng: random.Random) -> str:
    """A deliberately wrong answer: the gold with one number changed, else another gold."""
    numbers = list(NUMBER.finditer(gold))
    if numbers:
        target = rng.choice(numbers)
        value = Fraction(target.group(0)) + rng.choice((1, 2, 3, 7))
        replacement = str(value.numerator) if value.denominator == 1 else str(float(value))
        return gold[: target.start()] + replacement + gold[target.end() :]
    others = [other for other in pool if other.replace(" ", "") != gold.replace(" ", "")]
    return rng.choice(others)


def decimal_form(gold: str) -> str | None:
    match = SIMPLE_FRACTION.match(gold.strip())
    if match is None:
        return None
    value = Fraction(int(match.group(2)), int(match.group(3)))
    return (match.group(1) or "") + f"{float(value):.6f}"


def model_outputs(gold: str) -> list[tuple[str, str]]:
    """Correct answers in the forms models write (form name, output)."""
    outputs = [
        (
            "boxed",
            f"Let's solve this step by step.\nCombining the steps gives $\\boxed{{{gold}}}$.",
        ),
        ("final_answer_is", f"We simplify and check.\nThe final answer is ${gold}$."),
        ("answer_colon", f"Reasoning omitted.\nAnswer: {gold}"),
        ("bare", gold),
    ]
    decimal = decimal_form(gold)
    if decimal is not None:
        outputs.append(("decimal", f"So the value is \\boxed{{{decimal}}}."))
    if "\\frac" in gold:
        outputs.append(
            ("dfrac", f"Thus \\boxed{{{gold.replace(chr(92) + 'frac', chr(92) + 'dfrac')}}}")
        )
    if re.fullmatch(r"-?[\d,]*\d", gold):
        outputs.append(("units", f"In total that is \\boxed{{{gold} \\text{{ dollars}}}}."))
    return outputs


def build_pairs(per_file: int, seed: int) -> list[Pair]:
    rng = random.Random(seed)
    pairs: list[Pair] = []
    for name in FILES:
        golds = load_golds(name)
        chosen = golds if len(golds) <= per_file else rng.sample(golds, per_file)
        for gold in chosen:
            forms = model_outputs(gold)
            for form, output in rng.sample(forms, min(2, len(forms))):
                pairs.append(Pair(name, form, gold, output, True))
            wrong = wrong_answer(gold, golds, rng)
            pairs.append(Pair(name, "wrong_boxed", gold, f"Hence $\\boxed{{{wrong}}}$.", False))
            pairs.append(Pair(name, "wrong_bare", gold, wrong, False))
    return pairs


# --- the two sides ---------------------------------------------------------------------------


def ours(pair: Pair) -> bool:
    return check(pair.gold, pair.prediction, config=LENIENT).correct


def ours_strict(pair: Pair) -> bool:
    return check(pair.gold, pair.prediction, config=STRICT).correct


def math_verify_side():
    from math_verify import parse, verify

    def run(pair: Pair) -> bool:
        try:
            gold = parse(f"${pair.gold}$")
            prediction = parse(pair.prediction)
            return bool(verify(gold, prediction))
        except Exception:
            return False

    return run


def clear_all_caches() -> None:
    """Empty the result caches of both sides (compiled-regex caches are kept: they are
    compile-once costs, not results)."""
    clear_caches()
    try:
        from math_verify import parser as mv_parser

        mv_parser.parse_latex_cached.cache_clear()
        mv_parser.parse_expr_cached.cache_clear()
    except (ImportError, AttributeError):
        pass


def pin_torch_threads() -> None:
    import importlib.util

    if importlib.util.find_spec("torch") is not None:
        import torch

        torch.set_num_threads(1)


# --- measurement -----------------------------------------------------------------------------


def _timed(function, pair: Pair) -> tuple[bool, float]:
    clear_all_caches()
    start = time.perf_counter()
    decision = function(pair)
    return decision, time.perf_counter() - start


def per_pair_times(pairs: list[Pair], sides: dict) -> tuple[dict, dict]:
    """Each pair once per side, uncached, the side order alternating from pair to pair."""
    decisions = {name: [] for name in sides}
    times = {name: [] for name in sides}
    names = list(sides)
    for index, pair in enumerate(pairs):
        order = names if index % 2 == 0 else list(reversed(names))
        for name in order:
            decision, elapsed = _timed(sides[name], pair)
            decisions[name].append(decision)
            times[name].append(elapsed)
    return decisions, times


def batch_times(pairs: list[Pair], sides: dict, repeats: int) -> dict[str, list[float]]:
    """Whole-batch time per side and repeat: disjoint folds of the pairs (one per repeat), each
    pair uncached, the side order alternating from repeat to repeat."""
    folds = [pairs[i::repeats] for i in range(repeats)]
    runs = {name: [] for name in sides}
    names = list(sides)
    for repeat, fold in enumerate(folds):
        order = names if repeat % 2 == 0 else list(reversed(names))
        for name in order:
            total = 0.0
            for pair in fold:
                total += _timed(sides[name], pair)[1]
            runs[name].append(total * repeats)  # scaled to the whole batch
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-file", type=int, default=400, help="golds sampled per eval file")
    parser.add_argument("--repeats", type=int, default=3, help="whole-batch repetitions per side")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/verify_bench.json")
    args = parser.parse_args()
    if not EVAL_DIR.is_dir():
        sys.exit(f"{EVAL_DIR} not found: the benchmark reads the shared evaluation sets")

    pin_torch_threads()
    pairs = build_pairs(args.per_file, args.seed)
    mv = math_verify_side()
    default_pool().warm_up(2)  # worker start-up is a one-off cost, not per-pair work
    for pair in pairs[:20]:  # import-time and first-call costs on both sides
        ours(pair)
        mv(pair)

    sides = {"ours": ours, "mv": mv}
    decisions, times = per_pair_times(pairs, sides)
    ours_decisions, mv_decisions = decisions["ours"], decisions["mv"]
    ours_times, mv_times = times["ours"], times["mv"]
    batches = batch_times(pairs, sides, args.repeats)
    ours_batches, mv_batches = batches["ours"], batches["mv"]
    boxed = [pair for pair in pairs if "\\boxed" in pair.prediction]
    strict_decisions, strict_times = per_pair_times(boxed, {"strict": ours_strict, "mv": mv})

    expected = [pair.expected for pair in pairs]
    agree = sum(o == m for o, m in zip(ours_decisions, mv_decisions))
    mv_right = [i for i, pair in enumerate(pairs) if mv_decisions[i] == pair.expected]
    agree_where_mv_right = sum(ours_decisions[i] == mv_decisions[i] for i in mv_right)
    boxed_mv_right = [i for i, p in enumerate(boxed) if strict_decisions["mv"][i] == p.expected]
    strict_agree_where_mv_right = sum(
        strict_decisions["strict"][i] == strict_decisions["mv"][i] for i in boxed_mv_right
    )
    disagreements = []
    for i, pair in enumerate(pairs):
        if ours_decisions[i] != mv_decisions[i]:
            disagreements.append(
                {
                    "source": pair.source,
                    "form": pair.form,
                    "gold": pair.gold,
                    "prediction": pair.prediction[-300:],
                    "expected": pair.expected,
                    "ours": ours_decisions[i],
                    "math_verify": mv_decisions[i],
                    "reason_ours": str(check(pair.gold, pair.prediction, config=LENIENT).reason),
                    "judgement": "ours right"
                    if ours_decisions[i] == pair.expected
                    else "math-verify right",
                }
            )
    median_ours, median_mv = statistics.median(ours_times), statistics.median(mv_times)
    batch_ours, batch_mv = statistics.median(ours_batches), statistics.median(mv_batches)
    median_strict = statistics.median(strict_times["strict"])
    median_mv_boxed = statistics.median(strict_times["mv"])
    summary = {
        "pairs": len(pairs),
        "positives": sum(expected),
        "uncached": "result caches of both sides emptied before every timed call",
        "accuracy_ours": sum(o == e for o, e in zip(ours_decisions, expected)) / len(pairs),
        "accuracy_math_verify": sum(m == e for m, e in zip(mv_decisions, expected)) / len(pairs),
        "agreement": agree / len(pairs),
        "agreement_where_math_verify_right": agree_where_mv_right / max(1, len(mv_right)),
        "disagreements": len(disagreements),
        "disagreements_ours_right": sum(d["judgement"] == "ours right" for d in disagreements),
        "median_pair_s_ours": median_ours,
        "median_pair_s_math_verify": median_mv,
        "median_pair_ratio": median_mv / median_ours,
        "mean_pair_ratio": statistics.fmean(mv_times) / statistics.fmean(ours_times),
        "batch_s_ours": batch_ours,
        "batch_s_math_verify": batch_mv,
        "batch_ratio": batch_mv / batch_ours,
        "batch_runs_ours": ours_batches,
        "batch_runs_math_verify": mv_batches,
        "max_pair_s_ours": max(ours_times),
        "max_pair_s_math_verify": max(mv_times),
        "strict_boxed_pairs": len(boxed),
        "strict_accuracy": sum(d == p.expected for d, p in zip(strict_decisions["strict"], boxed))
        / max(1, len(boxed)),
        "strict_agreement_where_math_verify_right": strict_agree_where_mv_right
        / max(1, len(boxed_mv_right)),
        "strict_median_pair_s": median_strict,
        "strict_median_pair_ratio": median_mv_boxed / median_strict,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }
    # Per written form: correct pairs mostly take the exact-text fast path, wrong and
    # reformatted ones do the real comparison work, so the ratio is shown for each.
    by_form = {}
    for form in sorted({pair.form for pair in pairs}):
        rows = [i for i, pair in enumerate(pairs) if pair.form == form]
        form_ours = statistics.median(ours_times[i] for i in rows)
        form_mv = statistics.median(mv_times[i] for i in rows)
        by_form[form] = {
            "pairs": len(rows),
            "ours_ms": form_ours * 1e3,
            "mv_ms": form_mv * 1e3,
            "ratio": form_mv / form_ours,
        }
    summary["median_pair_by_form"] = by_form
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"summary": summary, "disagreements": disagreements}, indent=1))

    print(f"{'metric':<40}{'spice_env':>14}{'math-verify':>14}{'ratio':>10}")
    print(
        f"{'accuracy vs known label':<40}{summary['accuracy_ours']:>14.4f}"
        f"{summary['accuracy_math_verify']:>14.4f}"
    )
    print(
        f"{'median per pair (ms)':<40}{median_ours * 1e3:>14.4f}{median_mv * 1e3:>14.4f}"
        f"{summary['median_pair_ratio']:>9.1f}x"
    )
    print(
        f"{'whole batch (s, median of runs)':<40}{batch_ours:>14.3f}{batch_mv:>14.3f}"
        f"{summary['batch_ratio']:>9.1f}x"
    )
    print(
        f"pairs {len(pairs)}; agreement {summary['agreement']:.4f}; agreement where math-verify"
        f" is right {summary['agreement_where_math_verify_right']:.4f}; disagreements"
        f" {len(disagreements)} (ours right in {summary['disagreements_ours_right']})"
    )
    for form, row in by_form.items():
        print(
            f"  {form:<20}{row['pairs']:>6} pairs {row['ours_ms']:>9.4f} ms {row['mv_ms']:>9.4f} ms"
            f" {row['ratio']:>7.1f}x"
        )
    print(
        f"strict mode on the {len(boxed)} boxed pairs: accuracy {summary['strict_accuracy']:.4f},"
        " agreement where math-verify is right"
        f" {summary['strict_agreement_where_math_verify_right']:.4f}, median"
        f" {median_strict * 1e3:.4f} ms ({summary['strict_median_pair_ratio']:.1f}x)"
    )
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
