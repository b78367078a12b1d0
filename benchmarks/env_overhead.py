"""Environment overhead: steps per second of SpiceCorpus-v0 with instant scripted policies.

The policies (scripted Challenger, oracle or noisy Reasoner) cost microseconds, so the
numbers are the environment's own cost: sampling a document, building prompts, parsing and
validating the task (JSON, self-verification, grounding), verifying each answer, computing
rewards. As a point of reference the same loop runs Gymnasium's CartPole-v1, the cheapest
env most RL code has seen, alternating the two sides; the ratio says how many CartPole steps
one SPICE step costs. Single thread; medians of alternating rounds.

    python benchmarks/env_overhead.py

Prints a table and writes ``benchmarks/results/env_overhead.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import gymnasium as gym

import spice_env
from spice_env.policies import NoisyReasoner, OracleReasoner, ScriptedChallenger


def spice_round(env: gym.Env, steps: int, reasoner_kind: str, seed: int) -> dict[str, float]:
    """Play whole episodes until ``steps`` steps; time each phase."""
    challenger = ScriptedChallenger(seed=seed)
    reasoner = OracleReasoner() if reasoner_kind == "oracle" else NoisyReasoner(0.5, seed=seed)
    phase = {"reset": 0.0, "challenger": 0.0, "reasoner": 0.0}
    counts = {"reset": 0, "challenger": 0, "reasoner": 0}
    done_steps = 0
    obs, info = env.reset(seed=seed)
    start = time.perf_counter()
    while done_steps < steps:
        role = info["role"]
        action = (challenger if role == "challenger" else reasoner).act(obs, info)
        tick = time.perf_counter()
        obs, _, terminated, truncated, info = env.step(action)
        phase[role] += time.perf_counter() - tick
        counts[role] += 1
        done_steps += 1
        if terminated or truncated:
            tick = time.perf_counter()
            obs, info = env.reset()
            phase["reset"] += time.perf_counter() - tick
            counts["reset"] += 1
    total = time.perf_counter() - start
    return {
        "steps_per_s": done_steps / total,
        **{f"{k}_us": phase[k] / max(counts[k], 1) * 1e6 for k in phase},
    }


def cartpole_round(env: gym.Env, steps: int, seed: int) -> dict[str, float]:
    env.reset(seed=seed)
    env.action_space.seed(seed)
    start = time.perf_counter()
    for _ in range(steps):
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            env.reset()
    return {"steps_per_s": steps / (time.perf_counter() - start)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000, help="steps per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--out", default=str(Path(__file__).parent / "results" / "env_overhead.json")
    )
    args = parser.parse_args()

    spice = gym.make(spice_env.ENV_ID, privileged_info=True)  # the scripted Reasoners read the gold
    cartpole = gym.make("CartPole-v1")
    spice_round(spice, 200, "oracle", 0)  # warm caches (embedded corpus, verifier worker)
    runs: dict[str, list[dict[str, float]]] = {
        "spice_oracle": [],
        "spice_noisy": [],
        "cartpole": [],
    }
    for index in range(args.rounds):
        sides = ["spice_oracle", "spice_noisy", "cartpole"]
        if index % 2:
            sides.reverse()
        for side in sides:
            if side == "cartpole":
                runs[side].append(cartpole_round(cartpole, args.steps * 10, index))
            else:
                runs[side].append(spice_round(spice, args.steps, side.split("_")[1], index))

    def med(side: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[side])

    print(
        f"\n{'env':>14} {'steps/s':>10} {'reset us':>9} {'challenger us':>14} {'reasoner us':>12} {'x CartPole':>11}"
    )
    rows = []
    for side in ("spice_oracle", "spice_noisy", "cartpole"):
        row = {"env": side, "steps_per_s": med(side, "steps_per_s")}
        if side != "cartpole":
            row.update({k: med(side, k) for k in ("reset_us", "challenger_us", "reasoner_us")})
        row["cost_vs_cartpole"] = med("cartpole", "steps_per_s") / row["steps_per_s"]
        rows.append(row)
        extra = (
            f"{row['reset_us']:>9.0f} {row['challenger_us']:>14.0f} {row['reasoner_us']:>12.0f}"
            if side != "cartpole"
            else f"{'':>9} {'':>14} {'':>12}"
        )
        print(f"{side:>14} {row['steps_per_s']:>10,.0f} {extra} {row['cost_vs_cartpole']:>11.1f}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {"rows": rows, "runs": runs, "rounds": args.rounds, "steps": args.steps}, indent=2
        )
    )
    print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
