"""Stable-Baselines3 PPO answers the scripted Challenger's multiple-choice tasks above chance.

The Reasoner turn of a multiple-choice task becomes a ``Discrete(4)`` action over numeric
features of the question and its options (``spice_env.integrations.sb3.MCQChoiceEnv``). PPO
trains on tasks from 80% of the corpus documents and is evaluated on tasks from the other 20%,
which it never saw. What it can learn are the structural cues of how the scripted Challenger
builds questions and distractors (the blanked answer is not repeated in its sentence,
distractors cluster around the answer, the words around the blank constrain it), not facts:
see the module docstring of ``spice_env.integrations.sb3``.

Run:
    python examples/sb3_mcq_ppo.py                       # default budget, about a minute
    python examples/sb3_mcq_ppo.py --total-timesteps 512 --eval-tasks 100   # smoke test

Prints held-out accuracy against chance (25%) and a uniformly random agent, with 95% Wilson
intervals, and optionally writes them as JSON (``--json-out``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import time
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Args:
    """Configuration of the run; every field is a command-line flag."""

    total_timesteps: int = field(
        default=8_192, metadata={"help": "PPO environment steps (one step = one question)"}
    )
    num_envs: int = field(default=8, metadata={"help": "parallel environments (DummyVecEnv)"})
    pool_size: int = field(
        default=2_000, metadata={"help": "training tasks written by the scripted Challenger"}
    )
    eval_tasks: int = field(default=1_000, metadata={"help": "held-out tasks to evaluate on"})
    test_fraction: float = field(
        default=0.2, metadata={"help": "fraction of documents held out for evaluation"}
    )
    learning_rate: float = field(default=3e-3, metadata={"help": "PPO learning rate"})
    n_steps: int = field(default=64, metadata={"help": "rollout length per env per update"})
    seed: int = field(default=0, metadata={"help": "seed of the split, tasks, PPO and eval"})
    json_out: str | None = field(default=None, metadata={"help": "write the results here"})

    def __post_init__(self) -> None:
        if not 0.0 < self.test_fraction < 1.0:
            raise ValueError(f"test_fraction={self.test_fraction}; use a value in (0, 1)")
        if self.total_timesteps < self.num_envs * self.n_steps:
            raise ValueError(
                f"total_timesteps={self.total_timesteps} is below one PPO rollout "
                f"(num_envs * n_steps = {self.num_envs * self.n_steps}); raise it"
            )


def parse_args() -> Args:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for spec in dataclasses.fields(Args):
        flag = "--" + spec.name.replace("_", "-")
        kind = float if spec.type == "float" else int if spec.type == "int" else str
        parser.add_argument(flag, type=kind, default=spec.default, help=spec.metadata["help"])
    return Args(**vars(parser.parse_args()))


def wilson(successes: int, total: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a proportion."""
    if total == 0:
        return (0.0, 1.0)
    p = successes / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return (centre - half, centre + half)


def main(args: Args) -> dict:
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    import spice_env
    from spice_env.integrations.sb3 import MCQChoiceEnv, generate_mcq_tasks

    # Small MLPs run faster on one thread than on several contended ones.
    torch.set_num_threads(1)
    started = time.perf_counter()

    # -- documents split, so evaluation tasks come from documents PPO never trained on --
    document_ids = sorted(document.id for document in spice_env.load_corpus(None))
    np.random.default_rng(args.seed).shuffle(document_ids)
    num_test = max(1, round(args.test_fraction * len(document_ids)))
    test_ids, train_ids = document_ids[:num_test], document_ids[num_test:]
    train_tasks = generate_mcq_tasks(args.pool_size, document_ids=train_ids, seed=args.seed)
    test_tasks = generate_mcq_tasks(args.eval_tasks, document_ids=test_ids, seed=args.seed + 1)

    # -- PPO: one-step episodes, so no discounting and no bootstrapping --
    envs = make_vec_env(
        lambda: MCQChoiceEnv(tasks=train_tasks), n_envs=args.num_envs, seed=args.seed
    )
    model = PPO(
        "MlpPolicy",
        envs,
        learning_rate=args.learning_rate,
        n_steps=args.n_steps,
        batch_size=min(128, args.n_steps * args.num_envs),
        n_epochs=10,
        gamma=0.0,
        gae_lambda=1.0,
        policy_kwargs={"net_arch": [32]},
        seed=args.seed,
        verbose=0,
    )
    model.learn(total_timesteps=args.total_timesteps)
    train_seconds = time.perf_counter() - started

    # -- held-out evaluation: the trained policy (greedy) against chance and a random agent --
    evaluator = MCQChoiceEnv(tasks=test_tasks)
    rng = np.random.default_rng(args.seed)
    ppo_correct = random_correct = 0
    for task in test_tasks:
        action, _ = model.predict(evaluator.task_features(task), deterministic=True)
        ppo_correct += "ABCD"[int(action)] == task["answer"]
        random_correct += "ABCD"[int(rng.integers(4))] == task["answer"]
    total = len(test_tasks)
    accuracy = ppo_correct / total
    results = {
        "total_timesteps": args.total_timesteps,
        "train_documents": len(train_ids),
        "test_documents": len(test_ids),
        "eval_tasks": total,
        "ppo_accuracy": accuracy,
        "ppo_accuracy_ci95": wilson(ppo_correct, total),
        "random_agent_accuracy": random_correct / total,
        "chance": 0.25,
        "margin_over_chance_points": 100 * (accuracy - 0.25),
        "beats_chance": wilson(ppo_correct, total)[0] > 0.25,
        "train_seconds": train_seconds,
    }

    low, high = results["ppo_accuracy_ci95"]
    print(f"{'agent':<22}{'held-out accuracy':>20}{'95% CI':>18}")
    print(f"{'chance':<22}{0.25:>20.3f}")
    print(f"{'uniform random agent':<22}{results['random_agent_accuracy']:>20.3f}")
    print(f"{'PPO':<22}{accuracy:>20.3f}{f'[{low:.3f}, {high:.3f}]':>18}")
    print(
        f"PPO beats chance by {results['margin_over_chance_points']:+.1f} points on {total} tasks "
        f"from {len(test_ids)} held-out documents after {args.total_timesteps} steps "
        f"({train_seconds:.0f} s); CI above chance: {results['beats_chance']}"
    )
    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=2)
    return results


if __name__ == "__main__":
    main(parse_args())
