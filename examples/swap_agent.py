"""Swap in an agent: a model behind an OpenAI-compatible server plays the Reasoner.

Any server that speaks ``POST /v1/chat/completions`` works: vLLM (``vllm serve MODEL``),
SGLang, llama.cpp (``python -m llama_cpp.server --model model.gguf``), or a hosted API (set
``OPENAI_API_KEY``). The Reasoner is ``LLMPolicy(OpenAIBackend(...))``; the Challenger stays
scripted, so the run measures the served model on tasks grounded in the corpus documents.
Nothing else changes: the env hands the policy its chat ``messages`` in ``info`` and scores
the reply with its verifier. The K answers to a task are requested in one batched call.

Run:
    vllm serve Qwen/Qwen3-4B-Base --port 8000 &
    python examples/swap_agent.py --base-url http://127.0.0.1:8000/v1 \
        --model Qwen/Qwen3-4B-Base --episodes 16

    # play both roles with the served model (SPICE's shared weights):
    python examples/swap_agent.py --base-url ... --model ... --challenger served
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

import gymnasium as gym

import spice_env
from spice_env.policies import LLMPolicy, OpenAIBackend, SamplingParams, ScriptedChallenger
from spice_env.rollout import run_episodes, summarize_episodes


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--base-url",
        default=os.environ.get("OPENAI_BASE_URL", "http://127.0.0.1:8000/v1"),
        help="API root including /v1 (default: $OPENAI_BASE_URL or http://127.0.0.1:8000/v1)",
    )
    parser.add_argument("--model", default=None, help="model name (default: the server's first)")
    parser.add_argument(
        "--challenger",
        choices=("scripted", "served"),
        default="scripted",
        help="who writes the tasks: the scripted Challenger or the served model",
    )
    parser.add_argument("--episodes", type=int, default=8, help="episodes to play (8)")
    parser.add_argument("--attempts", type=int, default=8, help="K, answers per task (8)")
    parser.add_argument("--temperature", type=float, default=1.0, help="sampling temperature")
    parser.add_argument("--max-new-tokens", type=int, default=1024, help="tokens per reply")
    parser.add_argument("--seed", type=int, default=0, help="seed of env and sampling (0)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict:
    args = parse_args(argv)
    backend = OpenAIBackend(args.base_url, args.model)
    params = SamplingParams(temperature=args.temperature, max_new_tokens=args.max_new_tokens)
    reasoner = LLMPolicy(backend, params, seed=args.seed)
    challenger = (
        LLMPolicy(backend, params, seed=args.seed + 1)
        if args.challenger == "served"
        else ScriptedChallenger(seed=args.seed)
    )

    # All episodes in one batch: one request per stage for every episode (the server batches
    # them). The env keeps the gold in info["privileged"]; the driver never shows it to a model.
    episodes = run_episodes(
        lambda: gym.make(
            spice_env.ENV_ID, num_reasoner_attempts=args.attempts, privileged_info=True
        ),
        challenger,
        reasoner,
        args.episodes,
        seed=args.seed,
        batch_size=args.episodes,
        progress=False,
    )
    for index, episode in enumerate(episodes):
        if episode.valid:
            answers = [t.text[-60:].replace("\n", " ") for t in episode.reasoner_turns[:1]]
            print(
                f"episode {index}: pass rate {episode.pass_rate:.2f} "
                f"gold {(episode.task or {})['answer']!r}, first answer ...{answers[0]!r}"
            )
        else:
            print(f"episode {index}: invalid task ({episode.invalid_reason})")

    summary = summarize_episodes(episodes, args.attempts)
    accuracy = summary["mean_reward"]["reasoner"]
    print(
        f"{summary['valid']}/{summary['episodes']} valid tasks; Reasoner accuracy "
        f"{'-' if accuracy is None else f'{accuracy:.3f}'}; pass-rate histogram "
        f"{summary['pass_rate_histogram']}; {reasoner.stats['completions']:.0f} completions "
        f"in {reasoner.stats['calls']:.0f} batched calls"
    )
    return summary


if __name__ == "__main__":
    main()
