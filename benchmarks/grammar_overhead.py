"""What grammar-constrained decoding costs in the transformers backend (llguidance + SmolLM2).

The same Challenger prompts (documents of the embedded corpus) are generated with and without
each stage's JSON Schema, alternating the two sides from round to round. Reported per side:
tokens/s; the decode forward passes per generated token; for the constrained side the grammar
engine's time (mask computation, masking the logits, advancing the matchers) per generated
token and its share of all generation time (prefill included). Also timed: replaying the
grammar over the stored completions (:func:`spice_env.policies.grammar.replay_masks`), what a
trainer pays to rebuild the masks.

torch runs on one thread (``--threads``). Prints a table and writes
``benchmarks/results/grammar_overhead.json``.

    python benchmarks/grammar_overhead.py
    python benchmarks/grammar_overhead.py --rounds 2 --documents 2
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import gymnasium as gym
import torch

import spice_env  # noqa: F401
from spice_env.policies.grammar import replay_masks
from spice_env.policies.hf import HFBackend
from spice_env.policies.sampling import SamplingParams
from spice_env.policies.smollm2 import load_smollm2
from spice_env.prompts import DEFAULT_PROMPTS
from spice_env.tasks import challenger_schema

STAGES = {
    "type_selection": ("type_selection", None, None),
    "mcq": ("generation", "mcq", None),
    "free_form_integer": ("generation", "free_form", "Integer"),
}


def prompts_for(stage: str, documents: list[str]) -> list[list[dict[str, str]]]:
    """The Challenger's chat messages of one stage for each document."""
    if stage == "type_selection":
        return [DEFAULT_PROMPTS.type_selection_messages(d) for d in documents]
    if stage == "mcq":
        return [DEFAULT_PROMPTS.mcq_messages(d) for d in documents]
    return [DEFAULT_PROMPTS.free_form_messages(d, "Integer") for d in documents]


def run_side(
    backend: HFBackend, prompts: list[Any], params: SamplingParams
) -> tuple[dict[str, float], list[Any]]:
    """Generate once; return the timings and the completions."""
    before = dict(backend.stats)
    start = time.perf_counter()
    results = backend.generate(prompts, params)
    seconds = time.perf_counter() - start
    completions = [c for per_prompt in results for c in per_prompt]
    tokens = sum(len(c.token_ids) for c in completions)
    grammar = backend.stats["grammar_seconds"] - before["grammar_seconds"]
    decode = backend.stats["decode_seconds"] - before["decode_seconds"]
    return {
        "seconds": seconds,
        "tokens": tokens,
        "tokens_per_second": tokens / seconds,
        "grammar_seconds": grammar,
        "grammar_ms_per_token": 1000 * grammar / max(tokens, 1),
        # The decode forward passes per generated token (a step decodes every active row).
        "forward_ms_per_token": 1000 * decode / max(tokens, 1),
        "prefill_seconds": backend.stats["prefill_seconds"] - before["prefill_seconds"],
        "grammar_share": grammar / seconds,
    }, completions


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds per stage (3)")
    parser.add_argument("--documents", type=int, default=4, help="prompts per round (4)")
    parser.add_argument("--samples", type=int, default=2, help="samples per prompt (2)")
    parser.add_argument("--max-new-tokens", type=int, default=256, help="budget (256)")
    parser.add_argument("--batch-size", type=int, default=8, help="rows decoded together (8)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1)")
    parser.add_argument(
        "--out", default=str(Path(__file__).parent / "results" / "grammar_overhead.json")
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    model, tokenizer = load_smollm2()
    backend = HFBackend(model, tokenizer, batch_size=args.batch_size)
    env = gym.make("SpiceCorpus-v0")
    documents = []
    for seed in range(args.documents):
        observation, _ = env.reset(seed=seed)
        documents.append(observation["text"])

    report: dict[str, Any] = {
        "settings": vars(args),
        "machine": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "cpus": os.cpu_count(),
            "load_average": os.getloadavg(),
        },
        "stages": {},
    }
    print(
        f"{'stage':<18} {'side':<12} {'tok/s':>7} {'grammar ms/tok':>15} "
        f"{'forward ms/tok':>15} {'share':>7} {'replay ms/tok':>14}"
    )
    for name, (stage, task_type, answer_type) in STAGES.items():
        schema = challenger_schema(stage, task_type, answer_type, max_tokens=args.max_new_tokens)
        prompts = prompts_for(name, documents)
        runs: dict[str, list[dict[str, float]]] = {"constrained": [], "free": []}
        replay: list[float] = []
        for round_index in range(args.rounds):
            params = SamplingParams(
                n=args.samples,
                temperature=1.0,
                max_new_tokens=args.max_new_tokens,
                seed=round_index,
            )
            sides = ["constrained", "free"] if round_index % 2 == 0 else ["free", "constrained"]
            for side in sides:
                side_params = (
                    params.replace(json_schema=schema) if side == "constrained" else params
                )
                timings, completions = run_side(backend, prompts, side_params)
                runs[side].append(timings)
                if side == "constrained":
                    start = time.perf_counter()
                    for completion in completions:
                        replay_masks(
                            schema, tokenizer, completion.token_ids, model.config.vocab_size
                        )
                    replay.append(1000 * (time.perf_counter() - start) / max(timings["tokens"], 1))
        summary: dict[str, Any] = {}
        for side, values in runs.items():
            summary[side] = {key: statistics.median(v[key] for v in values) for key in values[0]}
        summary["constrained"]["replay_ms_per_token"] = statistics.median(replay)
        summary["speed_ratio_constrained_over_free"] = (
            summary["constrained"]["tokens_per_second"] / summary["free"]["tokens_per_second"]
        )
        report["stages"][name] = {"median": summary, "runs": runs, "replay_ms_per_token": replay}
        for side in ("constrained", "free"):
            row = summary[side]
            grammar = f"{row['grammar_ms_per_token']:.3f}" if side == "constrained" else "-"
            share = f"{row['grammar_share']:.2%}" if side == "constrained" else "-"
            replay_text = f"{row['replay_ms_per_token']:.3f}" if side == "constrained" else "-"
            print(
                f"{name:<18} {side:<12} {row['tokens_per_second']:>7.1f} {grammar:>15} "
                f"{row['forward_ms_per_token']:>15.1f} {share:>7} {replay_text:>14}"
            )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"load average {os.getloadavg()}; wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
