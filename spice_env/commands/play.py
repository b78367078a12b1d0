"""``spice play``: run N episodes with chosen policies and corpus, summarize, write JSONL."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from spice_env.commands._common import (
    add_corpus_arguments,
    add_part_argument,
    add_task_types_argument,
    corpus_config,
)

__all__ = ["CHALLENGER_TEMPERATURE", "add_arguments", "format_summary", "run"]

CHALLENGER_TEMPERATURE = 0.7
"""Default sampling temperature of a language-model Challenger: SmolLM2-135M writes valid
tasks more often below the paper's 1.0 (see the README's "Structured output")."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``spice play``."""
    parser.add_argument("--episodes", "-n", type=int, default=16, help="episodes to play (16)")
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the first reset and the policies (0)"
    )
    parser.add_argument(
        "--challenger",
        default="scripted",
        help="Challenger policy: scripted[:INVALID_RATE], scripted-computed, hf[:MODEL], "
        "openai[:MODEL], vllm[:MODEL] (default scripted)",
    )
    parser.add_argument(
        "--reasoner",
        default="noisy:0.5",
        help="Reasoner policy: oracle, random, noisy:Q, hf[:MODEL], openai[:MODEL], vllm[:MODEL] "
        "(default noisy:0.5)",
    )
    add_corpus_arguments(parser)
    add_part_argument(
        parser,
        "train",
        "train plays the documents a run with the same fraction trains on, holdout the "
        "ones it never draws",
    )
    add_task_types_argument(parser)
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
    parser.add_argument(
        "--batch-episodes",
        type=int,
        default=8,
        help="episodes played together: one batched policy call per stage for all of them (8)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument(
        "--prompts",
        default=None,
        help='JSON file of PromptTemplates fields to override, e.g. {"reasoner_system": ""}; '
        "paper: the paper's prompt layout (PAPER_PROMPTS)",
    )
    parser.add_argument(
        "--reasoner-prompt-style",
        choices=("chat", "base"),
        default="chat",
        help="Reasoner prompt: chat messages, or plain text for base models (chat)",
    )
    llm = parser.add_argument_group("language-model policies (hf, openai, vllm)")
    llm.add_argument(
        "--model",
        default=None,
        help="model for both roles: hub id, local path or smollm2 (hf default: the embedded "
        "SmolLM2-135M-Instruct; openai default: the server's first model)",
    )
    llm.add_argument("--challenger-model", default=None, help="Challenger model (over --model)")
    llm.add_argument("--reasoner-model", default=None, help="Reasoner model (over --model)")
    llm.add_argument(
        "--constrain",
        choices=("on", "off"),
        default="on",
        help="on: the Challenger follows each stage's JSON Schema (grammar-constrained "
        "decoding); off: free text, the paper's setting (on)",
    )
    llm.add_argument(
        "--temperature",
        type=float,
        default=None,
        help="sampling temperature of both roles, 0 = greedy (Challenger "
        f"{CHALLENGER_TEMPERATURE}, Reasoner 1.0; --temperature 1.0 --constrain off is the "
        "paper's setting)",
    )
    llm.add_argument(
        "--challenger-temperature", type=float, default=None, help="over --temperature"
    )
    llm.add_argument("--reasoner-temperature", type=float, default=None, help="over --temperature")
    llm.add_argument("--top-p", type=float, default=None, help="nucleus sampling threshold (1.0)")
    llm.add_argument(
        "--max-new-tokens",
        type=int,
        default=None,
        help="most new tokens per turn, both roles (512)",
    )
    llm.add_argument(
        "--challenger-max-new-tokens", type=int, default=None, help="over --max-new-tokens"
    )
    llm.add_argument(
        "--reasoner-max-new-tokens", type=int, default=None, help="over --max-new-tokens"
    )
    llm.add_argument("--device", default=None, help="hf: cuda, cpu, mps (default: cuda if any)")
    llm.add_argument(
        "--dtype",
        default=None,
        help="hf/vllm: bfloat16, float16 or float32 (default: bf16 on GPU, fp32 on CPU)",
    )
    llm.add_argument("--batch-size", type=int, default=None, help="hf: rows decoded together (8)")
    llm.add_argument(
        "--torch-threads",
        type=int,
        default=None,
        help="hf on CPU: torch threads (default: torch's choice; 1 is often fastest for small "
        "models on a busy machine)",
    )
    llm.add_argument(
        "--base-url",
        default=None,
        help="openai: API root, e.g. http://127.0.0.1:8000/v1 (default: $OPENAI_BASE_URL)",
    )
    llm.add_argument(
        "--api-key-env", default=None, help="openai: variable holding the key (OPENAI_API_KEY)"
    )
    llm.add_argument("--concurrency", type=int, default=None, help="openai: requests in flight (8)")
    llm.add_argument(
        "--extra-body",
        default=None,
        help="openai: JSON object merged into each request, e.g. '{\"top_k\": 0}'",
    )
    llm.add_argument(
        "--structured-output",
        choices=("auto", "vllm", "openai", "llama.cpp"),
        default=None,
        help="openai: how the server spells a JSON Schema (auto: ask GET /models)",
    )
    llm.add_argument(
        "--no-logprobs",
        action="store_true",
        help="openai: do not ask for log-probs (they slow llama-cpp-python servers ~5x)",
    )
    llm.add_argument(
        "--gpu-memory-utilization", type=float, default=None, help="vllm: GPU memory share (0.9)"
    )


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
    letters = summary.get("gold_letters_shown")
    if letters:
        shown = ", ".join(f"{letter}={count}" for letter, count in letters.items())
        lines.append(f"gold letters    {shown}  (as the Reasoner saw them)")
    chosen = summary.get("reasoner_letters")
    if chosen:
        picked = ", ".join(f"{letter}={count}" for letter, count in chosen.items())
        lines.append(f"letters chosen  {picked}  (the Reasoner's answers)")
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

    import spice_env
    from spice_env.corpus import CorpusError
    from spice_env.policies import make_policy
    from spice_env.rollout import run_episodes, summarize_episodes, write_jsonl

    if args.episodes < 1 or args.batch_episodes < 1:
        print("spice play: --episodes and --batch-episodes must be at least 1", file=sys.stderr)
        return 2
    try:
        prompts = _load_prompts(getattr(args, "prompts", None))
        for role in ("challenger", "reasoner"):
            # Options a caller set on the namespace win over the flags.
            given = getattr(args, f"{role}_options", None) or {}
            setattr(args, f"{role}_options", {**_llm_options(args, role), **given})
    except (OSError, ValueError, TypeError) as error:
        print(f"spice play: {error}", file=sys.stderr)
        return 2
    if getattr(args, "torch_threads", None):
        import torch

        torch.set_num_threads(args.torch_threads)
    env_kwargs = dict(
        corpus=args.corpus,
        corpus_config=corpus_config(args, part=getattr(args, "part", "train")),
        num_reasoner_attempts=args.attempts,
        task_types=args.task_types,
        challenger_reward=args.challenger_reward,
        validity={"grounding_threshold": args.grounding_threshold},
        prompts=prompts,
        reasoner_prompt_style=getattr(args, "reasoner_prompt_style", "chat"),
        # The driver reads the gold here and keeps it from every policy but the scripted
        # oracle and noisy Reasoners, which ask for it.
        privileged_info=True,
    )
    # Build the corpus once; every env of the batch shares it.
    try:
        made = [gym.make(spice_env.ENV_ID, **env_kwargs)]
    except (CorpusError, FileNotFoundError) as error:  # the user's corpus, as in `spice train`
        print(f"spice play: {error}", file=sys.stderr)
        return 2
    env_kwargs["corpus"] = made[0].unwrapped.corpus

    def make_env() -> Any:
        return made.pop() if made else gym.make(spice_env.ENV_ID, **env_kwargs)

    challenger = make_policy(
        args.challenger, role="challenger", seed=args.seed, **_policy_options(args, "challenger")
    )
    reasoner = make_policy(
        args.reasoner, role="reasoner", seed=args.seed, **_policy_options(args, "reasoner")
    )
    start = time.perf_counter()
    episodes = run_episodes(
        make_env,
        challenger,
        reasoner,
        args.episodes,
        seed=args.seed,
        batch_size=args.batch_episodes,
        progress=not args.no_progress,
    )
    seconds = time.perf_counter() - start
    summary = summarize_episodes(episodes, args.attempts)
    summary["seconds"] = seconds
    generation = _generation_stats({"challenger": challenger, "reasoner": reasoner})
    if generation:
        summary["generation"] = generation
    out = Path(args.out)
    write_jsonl((e.summary() for e in episodes), out)
    out.with_name(out.stem + ".summary.json").write_text(json.dumps(summary, indent=2))
    report = format_summary(summary, seconds)
    for role, stats in generation.items():
        report += (
            f"\ntokens/s {role:<11} {stats['tokens_per_second']:.1f}  "
            f"({stats['generated_tokens']} tokens in {stats['seconds']:.1f} s, "
            f"{stats['completions']} completions)"
        )
        if stats["constrained_completions"]:
            report += (
                f"\ngrammar {role:<12} {stats['grammar_seconds']:.2f} s, "
                f"{stats['grammar_share']:.2%} of generation time "
                f"({stats['constrained_completions']} constrained completions)"
            )
    print(json.dumps(summary, indent=2) if args.json else report)
    print(f"wrote {len(episodes)} episodes to {out}", file=sys.stderr)
    return 0


def _policy_options(args: argparse.Namespace, role: str) -> dict[str, Any]:
    """Backend settings for one role; LLM backends read these (empty for scripted ones)."""
    return dict(getattr(args, f"{role}_options", None) or {})


def _llm_options(args: argparse.Namespace, role: str) -> dict[str, Any]:
    """Language-model settings of one role from the flags; unset flags are left out."""

    def flag(name: str) -> Any:
        return getattr(args, name, None)

    extra_body = flag("extra_body")
    if extra_body:
        extra_body = json.loads(extra_body)
        if not isinstance(extra_body, dict):
            raise ValueError("--extra-body must be a JSON object")
    temperature = flag(f"{role}_temperature")
    if temperature is None:
        temperature = flag("temperature")
    if temperature is None and role == "challenger":
        temperature = CHALLENGER_TEMPERATURE
    options: dict[str, Any] = {
        "model": flag(f"{role}_model") or flag("model"),
        "temperature": temperature,
        "constrain": flag("constrain"),
        "top_p": flag("top_p"),
        "max_new_tokens": flag(f"{role}_max_new_tokens") or flag("max_new_tokens"),
        "device": flag("device"),
        "dtype": flag("dtype"),
        "batch_size": flag("batch_size"),
        "base_url": flag("base_url"),
        "api_key_env": flag("api_key_env"),
        "concurrency": flag("concurrency"),
        "extra_body": extra_body or None,
        "gpu_memory_utilization": flag("gpu_memory_utilization"),
        "logprobs": False if flag("no_logprobs") else None,
        "structured_output": flag("structured_output"),
    }
    if role == "reasoner" and flag("reasoner_prompt_style") == "base":
        options["use_chat"] = False
    return {key: value for key, value in options.items() if value is not None}


def _load_prompts(path: str | None) -> Any:
    """``PromptTemplates`` with the overrides of a JSON file, ``PAPER_PROMPTS`` for ``paper``,
    or ``None`` for the defaults."""
    if not path:
        return None
    from spice_env.prompts import DEFAULT_PROMPTS, PAPER_PROMPTS

    if path == "paper":
        return PAPER_PROMPTS

    overrides = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(overrides, dict):
        raise ValueError(f"--prompts {path} must hold a JSON object of template fields")
    return DEFAULT_PROMPTS.with_overrides(**overrides)


def _generation_stats(policies: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Tokens generated and tokens/s per role, for the policies that count them (LLM ones)."""
    stats: dict[str, dict[str, Any]] = {}
    for role, policy in policies.items():
        counts = getattr(policy, "stats", None)
        if not isinstance(counts, dict) or not counts.get("seconds"):
            continue
        stats[role] = {
            "generated_tokens": int(counts["generated_tokens"]),
            "completions": int(counts["completions"]),
            "calls": int(counts["calls"]),
            "seconds": float(counts["seconds"]),
            "tokens_per_second": counts["generated_tokens"] / counts["seconds"],
            "constrained_completions": int(counts.get("constrained_completions", 0)),
            "grammar_seconds": float(counts.get("grammar_seconds", 0.0)),
            "grammar_share": float(counts.get("grammar_seconds", 0.0)) / counts["seconds"],
        }
    return stats
