"""Register a new Challenger reward shape, play with it, and benchmark it against SPICE's.

A shape is a small picklable object: ``shape(outcomes) -> float`` for a valid task (the K
Reasoner outcomes in {0, 1}) and ``shape.invalid(reason) -> float`` for an invalid one. Once
registered, its name works everywhere a shape name does: ``gym.make(...,
challenger_reward=NAME)``, the trainer's ``--challenger-reward``, the TRL reward functions,
and the simulated curriculum of ``benchmarks/reward_shapes.py``.

The shape here, ``pass_rate_window``, is a Gaussian on the pass rate itself, centred on a
``target`` pass rate (default 0.3: it asks for tasks harder than SPICE's 50/50 frontier). The
example (1) registers it, (2) plays a few episodes with it, and (3) runs the simulated
curriculum with it, SPICE's shape and the others side by side.

Run:
    python examples/new_reward_shape.py
    python examples/new_reward_shape.py --target 0.5 --width 0.15
    python examples/new_reward_shape.py --episodes 2 --seeds 2 --iterations 20   # smoke test
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import gymnasium as gym

import spice_env
from spice_env.policies import NoisyReasoner, ScriptedChallenger
from spice_env.rewards import pass_rate, register_challenger_reward
from spice_env.rollout import play_episode

BENCHMARK = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), os.pardir, "benchmarks", "reward_shapes.py"
)


# -- 1. the shape: a frozen dataclass, so it pickles into vector-env worker processes --
@dataclass(frozen=True)
class PassRateWindow:
    """``exp(-(p - target)^2 / (2 width^2))`` on the pass rate p; 1.0 at p = target.

    Attributes:
        target: The pass rate the Challenger is paid most for.
        width: How fast the reward falls away from the target.
        invalid_penalty: Reward for an invalid task (SPICE's rho).
    """

    target: float = 0.3
    width: float = 0.2
    invalid_penalty: float = -0.1

    def __post_init__(self) -> None:
        if not 0.0 <= self.target <= 1.0 or self.width <= 0:
            raise ValueError("target must be in [0, 1] and width positive")

    def __call__(self, outcomes: Sequence[float]) -> float:
        return math.exp(-((pass_rate(outcomes) - self.target) ** 2) / (2 * self.width**2))

    def invalid(self, reason: Any = None) -> float:
        return self.invalid_penalty


def load_benchmark() -> ModuleType:
    """Import ``benchmarks/reward_shapes.py`` (a script folder, not a package) by path."""
    spec = importlib.util.spec_from_file_location("reward_shapes_benchmark", BENCHMARK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    return module


def main(argv: Sequence[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", type=float, default=0.3, help="target pass rate (0.3)")
    parser.add_argument("--width", type=float, default=0.2, help="width of the window (0.2)")
    parser.add_argument("--episodes", type=int, default=6, help="episodes to play (6)")
    parser.add_argument("--seeds", type=int, default=16, help="benchmark seeds (16)")
    parser.add_argument("--iterations", type=int, default=400, help="benchmark iterations")
    args = parser.parse_args(argv)

    # -- 1. register a configured shape object (registering the class instead would let
    #       gym.make build it from challenger_reward_kwargs) --
    shape = PassRateWindow(target=args.target, width=args.width)
    register_challenger_reward("pass_rate_window", shape, overwrite=True)

    # -- 2. play: the env pays the Challenger with the new shape --
    env = gym.make(
        spice_env.ENV_ID,
        num_reasoner_attempts=8,
        challenger_reward="pass_rate_window",
        privileged_info=True,  # the scripted noisy Reasoner reads the gold from it
    )
    challenger, reasoner = ScriptedChallenger(seed=0), NoisyReasoner(q=0.4, seed=0)
    for index in range(args.episodes):
        episode = play_episode(env, challenger, reasoner, seed=index)
        rate = "-" if episode.pass_rate is None else f"{episode.pass_rate:.3f}"
        print(f"episode {index}: pass rate {rate:>5}  r_C {episode.challenger_reward:+.3f}")
    env.close()

    # -- 3. benchmark: the simulated curriculum, the new shape beside every registered one --
    benchmark = load_benchmark()
    config = benchmark.SimConfig(seeds=args.seeds, iterations=args.iterations)
    report = benchmark.run_benchmark(None, config)
    print(benchmark.format_table(report))
    mine, spice = report["summary"]["pass_rate_window"], report["summary"]["spice"]
    print(
        f"pass_rate_window (target {args.target}) reaches skill {mine['final_skill']:.2f} vs "
        f"spice {spice['final_skill']:.2f} (ratio {mine['skill_ratio_vs_spice']:.2f}); "
        f"its tasks' mean pass rate is {mine['mean_pass_rate']:.2f}"
    )
    return report


if __name__ == "__main__":
    main()
