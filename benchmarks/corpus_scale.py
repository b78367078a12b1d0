"""Reset latency and resident memory of SpiceCorpus-v0 with 10,000 vs 1,000,000 documents.

The script writes two JSONL corpora to a work folder, builds each once (the memory-mapped
Arrow cache), then measures in fresh subprocesses, alternating the two sizes, the median
latency of ``env.reset()`` and the resident memory of a process holding the env. Targets:
latency ratio (1M / 10k) at most 1.5, memory growth under 200 MB.

    python benchmarks/corpus_scale.py                 # 10k vs 1M, ~3-5 minutes
    python benchmarks/corpus_scale.py --large 200000  # quicker

Prints a table and writes ``benchmarks/results/corpus_scale.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

WORDS = (
    "prime factor angle vector energy mass charge cell gene river empire treaty orbit planet "
    "molecule acid base reaction theorem proof integral series matrix force wave field photon "
    "enzyme protein glacier delta canyon dynasty battle harbor census ratio triangle circle"
).split()


def write_corpus(path: Path, count: int, words_per_doc: int = 40) -> None:
    """Write ``count`` synthetic documents (deterministic) as JSONL."""
    import random

    rng = random.Random(count)
    with path.open("w") as handle:
        for index in range(count):
            body = " ".join(rng.choice(WORDS) for _ in range(words_per_doc))
            handle.write(
                json.dumps({"id": f"doc-{index}", "text": f"Document {index} says {body}."}) + "\n"
            )


def rss_mb() -> float:
    """Resident set size of this process in MB (Linux /proc, else peak RSS)."""
    try:
        with open("/proc/self/statm") as handle:
            pages = int(handle.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(corpus: str, cache: str, resets: int) -> dict[str, float]:
    """Run in a subprocess: open the env on a built corpus, time resets, read memory."""
    import gymnasium as gym

    import spice_env

    base = rss_mb()
    start = time.perf_counter()
    env = gym.make(
        spice_env.ENV_ID,
        corpus=corpus,
        corpus_config={"id_field": "id", "cache_dir": cache, "progress": False},
    )
    open_s = time.perf_counter() - start
    env.reset(seed=0)
    latencies = []
    for _ in range(resets):
        tick = time.perf_counter()
        env.reset()
        latencies.append(time.perf_counter() - tick)
    return {
        "documents": len(env.unwrapped.corpus),
        "open_s": open_s,
        "reset_median_us": statistics.median(latencies) * 1e6,
        "reset_p90_us": sorted(latencies)[int(0.9 * len(latencies))] * 1e6,
        "rss_mb": rss_mb(),
        "rss_over_interpreter_mb": rss_mb() - base,
    }


def run_child(corpus: Path, cache: Path, resets: int) -> dict[str, float]:
    here = str(Path(__file__).parent)
    code = (
        f"import json, sys; sys.path.insert(0, {here!r}); import corpus_scale as b; "
        f"print(json.dumps(b.measure({str(corpus)!r}, {str(cache)!r}, {resets})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3, help="alternating measurement rounds")
    parser.add_argument("--resets", type=int, default=2000, help="timed resets per measurement")
    parser.add_argument(
        "--workdir", default=None, help="where corpora and caches go (default: a temp dir)"
    )
    parser.add_argument(
        "--out", default=str(Path(__file__).parent / "results" / "corpus_scale.json")
    )
    args = parser.parse_args()

    work = Path(args.workdir or tempfile.mkdtemp(prefix="spice_corpus_scale_"))
    work.mkdir(parents=True, exist_ok=True)
    cache = work / "cache"
    sizes = {"small": args.small, "large": args.large}
    files = {}
    builds = {}
    for label, count in sizes.items():
        path = work / f"corpus_{count}.jsonl"
        if not path.exists():
            print(f"writing {count:,} documents to {path}", file=sys.stderr)
            write_corpus(path, count)
        files[label] = path
        print(f"building the {label} corpus cache (once)", file=sys.stderr)
        start = time.perf_counter()
        run_child(path, cache, 1)  # builds and caches; later opens are memory-mapped
        builds[label] = time.perf_counter() - start

    results: dict[str, list[dict[str, float]]] = {"small": [], "large": []}
    for round_index in range(args.rounds):
        order = ("small", "large") if round_index % 2 == 0 else ("large", "small")
        for label in order:
            results[label].append(run_child(files[label], cache, args.resets))

    def med(label: str, key: str) -> float:
        return statistics.median(r[key] for r in results[label])

    latency_ratio = med("large", "reset_median_us") / med("small", "reset_median_us")
    memory_growth = med("large", "rss_mb") - med("small", "rss_mb")
    rows = []
    print(
        f"\n{'corpus':>12} {'docs':>10} {'build s':>8} {'open s':>7} {'reset med us':>13} {'reset p90 us':>13} {'RSS MB':>8}"
    )
    for label in ("small", "large"):
        row = {
            "corpus": label,
            "documents": int(results[label][0]["documents"]),
            "build_s": builds[label],
            "open_s": med(label, "open_s"),
            "reset_median_us": med(label, "reset_median_us"),
            "reset_p90_us": med(label, "reset_p90_us"),
            "rss_mb": med(label, "rss_mb"),
        }
        rows.append(row)
        print(
            f"{label:>12} {row['documents']:>10,} {row['build_s']:>8.1f} {row['open_s']:>7.2f} "
            f"{row['reset_median_us']:>13.1f} {row['reset_p90_us']:>13.1f} {row['rss_mb']:>8.1f}"
        )
    verdict = {
        "latency_ratio": latency_ratio,
        "latency_target": 1.5,
        "latency_ok": latency_ratio <= 1.5,
        "memory_growth_mb": memory_growth,
        "memory_target_mb": 200,
        "memory_ok": memory_growth < 200,
    }
    print(
        f"\nreset latency ratio large/small: {latency_ratio:.2f} (target <= 1.5) "
        f"{'OK' if verdict['latency_ok'] else 'MISSED'}"
    )
    print(
        f"resident memory growth: {memory_growth:+.1f} MB (target < 200 MB) "
        f"{'OK' if verdict['memory_ok'] else 'MISSED'}"
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps({"rows": rows, "runs": results, **verdict, "rounds": args.rounds}, indent=2)
    )
    print(f"wrote {out}", file=sys.stderr)
    return 0 if verdict["latency_ok"] and verdict["memory_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
