"""Gold answers of the shared evaluation sets, read in place (never copied into the repo)."""

from __future__ import annotations

import json
import os
import re
from fractions import Fraction
from pathlib import Path

EVAL_FILES = ("math500", "gsm8k", "aime24", "amc23", "olympiadbench")


def eval_dir() -> Path:
    """``../shared/data/eval`` next to the project root, or ``$SPICE_EVAL_DATA``."""
    override = os.environ.get("SPICE_EVAL_DATA")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2].parent / "shared" / "data" / "eval"


def _number_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def load_golds(name: str, directory: Path | None = None) -> list[str]:
    """The gold answers of one evaluation file, as strings."""
    path = (directory or eval_dir()) / f"{name}.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    if name == "gsm8k":
        return [row["answer"].split("####")[-1].strip() for row in rows]
    if name == "olympiadbench":
        return [
            ", ".join(part.strip().strip("$").strip() for part in row["final_answer"])
            for row in rows
        ]
    return [_number_text(row["answer"]) for row in rows]


_SIMPLE_FRACTION = re.compile(r"^(-?)\\[dt]?frac\{(\d+)\}\{(\d+)\}$|^(-?)(\d+)/(\d+)$")
_PLAIN_NUMBER = re.compile(r"-?[\d,]*\d(?:\.\d+)?")


def _as_decimal(gold: str) -> str | None:
    match = _SIMPLE_FRACTION.match(gold.strip())
    if match is None:
        return None
    sign = match.group(1) or match.group(4) or ""
    value = Fraction(int(match.group(2) or match.group(5)), int(match.group(3) or match.group(6)))
    denominator = value.denominator
    while denominator % 2 == 0:
        denominator //= 2
    while denominator % 5 == 0:
        denominator //= 5
    # Terminating decimals are exact; others are written to 8 places, as a model would.
    return sign + (f"{float(value):.12g}" if denominator == 1 else f"{float(value):.8f}")


def reformatted_variants(gold: str) -> dict[str, str]:
    """The gold and the reformatted variants a correct model output may take."""
    variants = {
        "self": gold,
        "boxed": f"Working step by step.\nSo the final result is $\\boxed{{{gold}}}$.",
        "answer_is": f"The answer is {gold}",
    }
    decimal = _as_decimal(gold)
    if decimal is not None:
        variants["decimal"] = decimal
    if "\\frac" in gold:
        variants["dfrac"] = gold.replace("\\frac", "\\dfrac")
    if _PLAIN_NUMBER.fullmatch(gold.strip()):
        variants["units_text"] = f"\\boxed{{{gold} \\text{{ cm}}}}"
        variants["units_words"] = f"{gold} dollars"
    return variants
