"""Write GSM8K worked solutions as a JSONL corpus of math documents for self-play.

The paper trains on math-heavy corpora (Nemotron-CC-Math, NaturalReasoning): tasks written from
them can be worked out from what the question states, so a Reasoner that never sees the
document can still learn to solve them. GSM8K's training problems with their worked solutions
are a small corpus of that kind. This script reads a GSM8K JSONL (fields ``question`` and
``answer``, as in ``../shared/data/corpus/gsm8k_train.jsonl``) and writes one document per
problem, ``{"id": "gsm8k-N", "text": problem + solution}``, with the calculator annotations
(``<<48/2=24>>``) dropped and the final ``#### 72`` written as a sentence:

    python examples/gsm8k_corpus.py --source ../shared/data/corpus/gsm8k_train.jsonl \\
        --out runs/corpus/gsm8k.jsonl

Rows that are not JSON objects with two text fields are skipped and counted.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ANNOTATION = re.compile(r"<<[^<>]*>>")
FINAL = re.compile(r"^\s*####\s*(.+?)\s*$", re.MULTILINE)


def document(question: str, solution: str) -> str:
    """One corpus document: the problem, then its solution without calculator annotations."""
    solution = ANNOTATION.sub("", solution)
    solution = FINAL.sub(lambda m: f"The answer is {m.group(1)}.", solution)
    return f"{question.strip()}\n{solution.strip()}"


parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument(
    "--source",
    default="../shared/data/corpus/gsm8k_train.jsonl",
    help="GSM8K JSONL with question and answer fields",
)
parser.add_argument("--out", default="runs/corpus/gsm8k.jsonl", help="the JSONL to write")
args = parser.parse_args()

source = Path(args.source)
if not source.is_file():
    raise SystemExit(f"{source} does not exist: pass --source PATH to a GSM8K JSONL file")
out = Path(args.out)
out.parent.mkdir(parents=True, exist_ok=True)
written = skipped = 0
with (
    source.open(encoding="utf-8", errors="replace") as rows,
    out.open("w", encoding="utf-8") as handle,
):
    for number, line in enumerate(rows):
        try:
            row = json.loads(line)
            question, solution = row["question"], row["answer"]
        except (ValueError, KeyError, TypeError):
            skipped += 1
            continue
        if not (isinstance(question, str) and isinstance(solution, str) and question.strip()):
            skipped += 1
            continue
        text = document(question, solution)
        handle.write(json.dumps({"id": f"gsm8k-{number}", "text": text}, ensure_ascii=False) + "\n")
        written += 1
print(f"wrote {written} documents to {out} ({skipped} rows skipped)", file=sys.stderr)
