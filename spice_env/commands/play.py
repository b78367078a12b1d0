"""``spice play``: run N episodes with chosen policies and corpus, summarize, write JSONL."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["add_arguments", "format_summary", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``spice play``."""
    parser.add_argument("--episodes", "-n", type=int, default=16, help="episodes to play (16)")
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the first reset and the policies (0)"
    )
    parser.add_argument(
        "--challenger",
        default="scripted",
        help="Challenger policy: scripted[:INVALID_RATE] (default scripted)",
    )
    parser.add_argument(
        "--reasoner",
        default="noisy:0.5",
        help="Reasoner policy: oracle, random, noisy:Q (default noisy:0.5)",
    )
    parser.add_argument(
        "--corpus",
        default=None,
        help="JSONL/Parquet/CSV file, folder of .txt/.md, or hf:NAME (default: embedded)",
    )
    parser.add_argument(
        "--text-field",
        default="text",
        help="corpus field with the text; comma-separate to join several",
    )
    parser.add_argument("--id-field", default=None, help="corpus field with document ids")
    parser.add_argument("--max-segment-tokens", type=int, default=5992, help="segment size (5992)")
    parser.add_argument(
        "--attempts", "-k", type=int, default=8, help="Reasoner answers per valid task, K (8)"
    )
    parser.add_argument(
        "--challenger-reward", default="spice", help="Challenger reward shape (spice)"
    )
    parser.add_argument(
        "--grounding-threshold", type=float, default=0.25, help="task grounding threshold (0.25)"
    )
    parser.add_argument(
        "--out", default="runs/play/episodes.jsonl", help="where to write the episodes"
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")


def format_summary(summary: dict[str, Any], seconds: float) -> str:
    """The summary as a short human-readable report with a text histogram."""
    lines = [
        f"episodes        {summary['episodes']}  ({seconds:.2f} s)",
        f"valid tasks     {summary['valid']}/{summary['episodes']}  ({summary['valid_rate']:.0%})",
    ]
    if summary["invalid_reasons"]:
        reasons = ", ".join(f"{k}={v}" for k, v in summary["invalid_reasons"].items())
        lines.append(f"invalid reasons {reasons}")
    mean_pass = summary["mean_pass_rate"]
    lines.append(
        f"mean pass rate  {mean_pass:.3f}" if mean_pass is not None else "mean pass rate  n/a"
    )
    rewards = summary["mean_reward"]
    for role in ("challenger", "reasoner"):
        value = rewards[role]
        lines.append(
            f"mean reward {role:<10} {value:+.3f}"
            if value is not None
            else f"mean reward {role:<10} n/a"
        )
    histogram = summary["pass_rate_histogram"]
    if histogram:
        lines.append("pass-rate histogram (valid tasks)")
        width = max(histogram.values()) or 1
        for label, count in histogram.items():
            lines.append(f"  {label:>5} {'#' * round(20 * count / width):<20} {count}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Run ``spice play``."""
    import gymnasium as gym

    import spice_env  # noqa: F401  (registers the env)
    from spice_env.policies import make_policy
    from spice_env.rollout import run_episodes, summarize, write_jsonl

    if args.episodes < 1:
        print("spice play: --episodes must be at least 1", file=sys.stderr)
        return 2
    text_field = args.text_field.split(",") if "," in args.text_field else args.text_field
    env = gym.make(
        "SpiceCorpus-v0",
        corpus=args.corpus,
        text_field=text_field,
        id_field=args.id_field,
        max_segment_tokens=args.max_segment_tokens,
        num_reasoner_attempts=args.attempts,
        challenger_reward=args.challenger_reward,
        grounding_threshold=args.grounding_threshold,
    )
    challenger = make_policy(
        args.challenger, role="challenger", seed=args.seed, **_policy_options(args, "challenger")
    )
    reasoner = make_policy(
        args.reasoner, role="reasoner", seed=args.seed, **_policy_options(args, "reasoner")
    )
    start = time.perf_counter()
    episodes = run_episodes(
        env, challenger, reasoner, args.episodes, seed=args.seed, progress=not args.no_progress
    )
    seconds = time.perf_counter() - start
    summary = summarize(episodes, args.attempts)
    summary["seconds"] = seconds
    out = Path(args.out)
    write_jsonl(episodes, out)
    out.with_name(out.stem + ".summary.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2) if args.json else format_summary(summary, seconds))
    print(f"wrote {len(episodes)} episodes to {out}", file=sys.stderr)
    env.close()
    return 0


def _policy_options(args: argparse.Namespace, role: str) -> dict[str, Any]:
    """Backend settings for one role; LLM backends read these (empty for scripted ones)."""
    return dict(getattr(args, f"{role}_options", None) or {})
