"""Playing episodes with two policies, and summarizing them.

These helpers use only the environment's public API, so they double as a worked example of
driving ``SpiceCorpus-v0`` from your own code.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from spice_env.policies.base import Policy

__all__ = ["play_episode", "run_episodes", "summarize", "write_jsonl"]


def play_episode(
    env: Any,
    challenger: Policy,
    reasoner: Policy,
    *,
    seed: int | None = None,
    options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Play one episode and return its ``info["episode"]`` summary.

    The K Reasoner turns see the same question, so they are generated with one
    ``reasoner.act_batch`` call (one batched LLM request) and then stepped in order.

    Args:
        env: A ``SpiceCorpus-v0`` environment (wrapped or not).
        challenger: Policy for the Challenger turns.
        reasoner: Policy for the Reasoner turns.
        seed: Passed to ``env.reset``.
        options: Passed to ``env.reset`` (``document_id``, ``task``).
    """
    observation, info = env.reset(seed=seed, options=options)
    while True:
        if info["role"] == "challenger":
            action = challenger.act(observation, info)
            observation, _, terminated, truncated, info = env.step(action)
        else:
            remaining = env.unwrapped.num_reasoner_attempts - info["attempt"]
            answers = reasoner.act_batch([observation] * remaining, [info] * remaining)
            for answer in answers:
                observation, _, terminated, truncated, info = env.step(answer)
                if terminated or truncated:
                    break
        if terminated or truncated:
            return info["episode"]


def run_episodes(
    env: Any,
    challenger: Policy,
    reasoner: Policy,
    num_episodes: int,
    *,
    seed: int | None = 0,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Play ``num_episodes`` episodes; the first reset is seeded, the rest continue its RNG."""
    from tqdm.auto import tqdm

    episodes: list[dict[str, Any]] = []
    bar = tqdm(range(num_episodes), desc="episodes", unit="ep", disable=not progress)
    for index in bar:
        episode = play_episode(env, challenger, reasoner, seed=seed if index == 0 else None)
        episodes.append(episode)
        valid = sum(e["valid"] for e in episodes)
        bar.set_postfix(valid=f"{valid}/{len(episodes)}")
    return episodes


def summarize(
    episodes: Sequence[dict[str, Any]], num_attempts: int | None = None
) -> dict[str, Any]:
    """Valid rate, invalid reasons, pass-rate histogram and mean rewards of some episodes.

    Args:
        episodes: ``info["episode"]`` dicts.
        num_attempts: K, for the histogram bins (inferred from the episodes when ``None``).
    """
    total = len(episodes)
    valid = [e for e in episodes if e["valid"]]
    reasons = Counter(e["invalid_reason"] for e in episodes if not e["valid"])
    k = num_attempts or max((len(e["outcomes"]) for e in valid), default=0)
    histogram = Counter(round(e["pass_rate"] * k) for e in valid if "pass_rate" in e)
    reasoner_rewards = [r for e in valid for r in e["rewards"]["reasoner"]]
    return {
        "episodes": total,
        "valid": len(valid),
        "valid_rate": len(valid) / total if total else 0.0,
        "invalid_reasons": dict(reasons.most_common()),
        "pass_rate_histogram": {f"{i}/{k}": histogram.get(i, 0) for i in range(k + 1)},
        "mean_pass_rate": float(np.mean([e["pass_rate"] for e in valid])) if valid else None,
        "mean_reward": {
            "challenger": float(np.mean([e["rewards"]["challenger"] for e in episodes]))
            if total
            else None,
            "reasoner": float(np.mean(reasoner_rewards)) if reasoner_rewards else None,
        },
    }


def write_jsonl(records: Iterable[dict[str, Any]], path: str | os.PathLike[str]) -> None:
    """Write records as JSON Lines (parent folders are created)."""
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
