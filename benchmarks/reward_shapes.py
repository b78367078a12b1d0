"""Which Challenger reward shape makes the best curriculum? A simulated SPICE curriculum.

Every registered Challenger reward shape (``spice``, ``absolute_zero``, ``threshold``,
``r_zero``, ``learnability`` and any a user registers) drives the same simulated self-play, side
by side in one run, from the same seeds:

- **Reasoner**: one skill number theta (logits, starts at 0). It answers a task of difficulty
  d correctly with probability ``sigmoid(theta - d)`` (a Rasch / 1PL item-response model).
- **Reasoner learning**: after each batch, theta grows by ``eta * mean over tasks of
  2 p_hat (1 - p_hat)``, where p_hat is the task's pass rate over its K answers. That is the
  mean absolute Dr. GRPO advantage ``|r_i - p_hat|`` of the group: a task all K answers get
  right (or all wrong) gives zero advantage and teaches nothing; a 50/50 task teaches most.
  This is the modelling assumption the results rest on.
- **Challenger**: chooses each task's difficulty from a grid of levels with an epsilon-greedy
  bandit (constant step size, so it can follow a moving Reasoner), paid by the shape under
  test evaluated on the K outcomes. It never sees theta: it only learns which difficulties
  pay, exactly the signal a Challenger gets from the reward.
- Invalid tasks are not modelled (every shape's invalid penalty is then irrelevant), nor is
  R-Zero's batch repetition penalty.

Two reference Challengers that are not reward shapes bracket the results: ``random_level``
(uniform difficulty, no feedback) and ``oracle_p50`` (always the level nearest theta, p = 0.5).

Measured, as mean ± std over seeds:
- ``final_skill``: theta after the last iteration (how fast skill grows), and its ratio to
  ``spice``;
- ``iters_to_skill``: iterations until theta first reaches ``--skill-target``;
- ``mean_abs_gap``: mean |d - theta| over all tasks (how closely difficulty tracks ability);
- ``mean_pass_rate``: mean true pass rate of the tasks posed (0.5 is the frontier);
- ``informative``: fraction of tasks whose K answers mix right and wrong (nonzero advantage).

Run:
    python benchmarks/reward_shapes.py                 # ~10 s; table, JSON and PNG
    python benchmarks/reward_shapes.py --seeds 4 --iterations 50 --no-plot   # quick

Writes ``benchmarks/results/reward_shapes.json`` and ``reward_shapes.png`` (``--out-dir``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from spice_env.rewards import list_challenger_rewards, make_challenger_reward

REFERENCES = ("random_level", "oracle_p50")
"""Reference Challengers that do not use a reward shape."""


@dataclass(frozen=True)
class SimConfig:
    """Settings of the simulated curriculum; every field is a command-line flag."""

    seeds: int = field(default=32, metadata={"help": "independent runs per shape"})
    iterations: int = field(default=400, metadata={"help": "training iterations"})
    batch: int = field(default=16, metadata={"help": "tasks per iteration"})
    attempts: int = field(default=8, metadata={"help": "K, Reasoner answers per task"})
    levels: int = field(default=61, metadata={"help": "difficulty levels on the grid"})
    max_difficulty: float = field(default=15.0, metadata={"help": "hardest level (logits)"})
    learning_rate: float = field(default=0.05, metadata={"help": "eta, skill gain per signal"})
    epsilon: float = field(default=0.1, metadata={"help": "Challenger exploration rate"})
    step_size: float = field(default=0.1, metadata={"help": "Challenger value step size"})
    skill_target: float = field(default=5.0, metadata={"help": "skill for iters_to_skill"})
    seed: int = field(default=0, metadata={"help": "base seed"})

    def __post_init__(self) -> None:
        if min(self.seeds, self.iterations, self.batch, self.attempts) < 1:
            raise ValueError("seeds, iterations, batch and attempts must all be at least 1")
        if self.levels < 2 or self.max_difficulty <= 0:
            raise ValueError("use at least 2 levels and a positive max_difficulty")
        if not 0.0 <= self.epsilon <= 1.0 or not 0.0 < self.step_size <= 1.0:
            raise ValueError("epsilon must be in [0, 1] and step_size in (0, 1]")


def reward_table(shape: Any, attempts: int) -> np.ndarray:
    """``shape`` evaluated at every success count 0..K (outcomes listed 1s first).

    Every registered shape depends on the outcomes only through their count, so the table
    is the whole shape for the simulation.
    """
    return np.array([float(shape([1.0] * c + [0.0] * (attempts - c))) for c in range(attempts + 1)])


def simulate(name: str, config: SimConfig) -> dict[str, Any]:
    """Run the simulated curriculum for one shape (or reference Challenger), all seeds at once.

    Args:
        name: A registered Challenger reward shape, or one of :data:`REFERENCES`.
        config: Simulation settings.

    Returns:
        Per-seed metrics and mean curves (skill and difficulty gap per iteration).
    """
    # The same seed for every shape: all shapes face the same random streams at the start.
    rng = np.random.default_rng(config.seed)
    seeds, batch, k = config.seeds, config.batch, config.attempts
    grid = np.linspace(0.0, config.max_difficulty, config.levels)
    table = None if name in REFERENCES else reward_table(make_challenger_reward(name), k)
    # Optimistic start (every shape's reward is at most 1): each level gets tried early.
    values = np.ones((seeds, config.levels))
    skill = np.zeros(seeds)
    rows = np.arange(seeds)[:, None]

    skill_curve = np.zeros((config.iterations, seeds))
    gap_curve = np.zeros((config.iterations, seeds))
    abs_gap_sum = pass_sum = informative_sum = np.zeros(seeds)
    reached = np.full(seeds, np.nan)

    for iteration in range(config.iterations):
        # -- the Challenger picks difficulty levels --
        if name == "random_level":
            chosen = rng.integers(config.levels, size=(seeds, batch))
        elif name == "oracle_p50":
            nearest = np.abs(grid[None, :] - skill[:, None]).argmin(axis=1)
            chosen = np.repeat(nearest[:, None], batch, axis=1)
        else:
            noisy = values[:, None, :] + 1e-9 * rng.random((seeds, batch, config.levels))
            greedy = noisy.argmax(axis=2)  # ties broken at random
            explore = rng.random((seeds, batch)) < config.epsilon
            chosen = np.where(explore, rng.integers(config.levels, size=(seeds, batch)), greedy)
        difficulty = grid[chosen]

        # -- the Reasoner answers each task K times --
        p_true = 1.0 / (1.0 + np.exp(-(skill[:, None] - difficulty)))
        successes = rng.binomial(k, p_true)
        p_hat = successes / k

        # -- the Challenger learns which levels pay --
        if table is not None:
            reward = table[successes]
            totals = np.zeros_like(values)
            counts = np.zeros_like(values)
            np.add.at(totals, (np.broadcast_to(rows, chosen.shape), chosen), reward)
            np.add.at(counts, (np.broadcast_to(rows, chosen.shape), chosen), 1.0)
            seen = counts > 0
            # n same-level tasks in a batch count as n constant-step-size updates.
            rate = 1.0 - (1.0 - config.step_size) ** counts
            values = np.where(
                seen, values + rate * (totals / np.maximum(counts, 1) - values), values
            )

        # -- metrics, then the Reasoner learns from the groups' advantages --
        abs_gap_sum = abs_gap_sum + np.abs(difficulty - skill[:, None]).mean(axis=1)
        pass_sum = pass_sum + p_true.mean(axis=1)
        informative_sum = informative_sum + ((successes > 0) & (successes < k)).mean(axis=1)
        gap_curve[iteration] = (difficulty - skill[:, None]).mean(axis=1)
        skill = skill + config.learning_rate * (2.0 * p_hat * (1.0 - p_hat)).mean(axis=1)
        skill_curve[iteration] = skill
        newly = np.isnan(reached) & (skill >= config.skill_target)
        reached[newly] = iteration + 1

    iterations = config.iterations
    return {
        "final_skill": skill.tolist(),
        "iters_to_skill": reached.tolist(),
        "mean_abs_gap": (abs_gap_sum / iterations).tolist(),
        "mean_pass_rate": (pass_sum / iterations).tolist(),
        "informative": (informative_sum / iterations).tolist(),
        "skill_curve": skill_curve.mean(axis=1).tolist(),
        "gap_curve": gap_curve.mean(axis=1).tolist(),
        "reward_table": table.tolist() if table is not None else None,
    }


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    array = np.asarray(values, dtype=float)
    if np.isnan(array).any():
        return (math.nan, math.nan)  # some seeds never reached the target
    return (float(array.mean()), float(array.std()))


def run_benchmark(
    shapes: Sequence[str] | None = None, config: SimConfig | None = None
) -> dict[str, Any]:
    """Simulate every shape (default: all registered) plus the reference Challengers.

    Args:
        shapes: Registered shape names; ``None`` for all.
        config: Simulation settings (``None``: defaults).

    Returns:
        ``{"config": ..., "results": {name: {...}}, "summary": {name: {...}}}``.
    """
    config = config or SimConfig()
    names = list(shapes) if shapes is not None else list_challenger_rewards()
    results: dict[str, Any] = {}
    for name in [*names, *REFERENCES]:
        started = time.perf_counter()
        results[name] = simulate(name, config)
        results[name]["seconds"] = time.perf_counter() - started
    baseline = "spice" if "spice" in results else names[0]
    base_skill = _mean_std(results[baseline]["final_skill"])[0]
    summary = {}
    for name, result in results.items():
        skill_mean, skill_std = _mean_std(result["final_skill"])
        summary[name] = {
            "final_skill": skill_mean,
            "final_skill_std": skill_std,
            f"skill_ratio_vs_{baseline}": skill_mean / base_skill if base_skill else math.nan,
            "iters_to_skill": _mean_std(result["iters_to_skill"])[0],
            "mean_abs_gap": _mean_std(result["mean_abs_gap"])[0],
            "mean_pass_rate": _mean_std(result["mean_pass_rate"])[0],
            "informative": _mean_std(result["informative"])[0],
            "reference": name in REFERENCES,
        }
    return {
        "config": dataclasses.asdict(config),
        "baseline": baseline,
        "results": results,
        "summary": summary,
    }


def format_table(report: dict[str, Any]) -> str:
    """The summary as a fixed-width text table, shapes ranked by final skill."""
    baseline = report["baseline"]
    summary = report["summary"]
    target = report["config"]["skill_target"]
    header = (
        f"{'shape':<16}{'final skill':>16}{'vs ' + baseline:>11}{f'iters to {target:g}':>14}"
        f"{'|d - skill|':>13}{'pass rate':>11}{'informative':>13}"
    )
    lines = [header, "-" * len(header)]
    ranked = sorted(summary, key=lambda n: (summary[n]["reference"], -summary[n]["final_skill"]))
    for name in ranked:
        row = summary[name]
        label = f"({name})" if row["reference"] else name
        iters = "never" if math.isnan(row["iters_to_skill"]) else f"{row['iters_to_skill']:.0f}"
        skill = f"{row['final_skill']:.2f} ± {row['final_skill_std']:.2f}"
        lines.append(
            f"{label:<16}{skill:>16}{row[f'skill_ratio_vs_{baseline}']:>11.2f}{iters:>14}"
            f"{row['mean_abs_gap']:>13.2f}{row['mean_pass_rate']:>11.2f}"
            f"{row['informative']:>13.2f}"
        )
    return "\n".join(lines)


def plot(report: dict[str, Any], path: str) -> None:
    """Skill and difficulty-minus-skill curves per shape, saved as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for name, result in report["results"].items():
        style = ":" if name in REFERENCES else "-"
        width = 2.4 if name == report["baseline"] else 1.4
        left.plot(result["skill_curve"], style, linewidth=width, label=name)
        right.plot(result["gap_curve"], style, linewidth=width, label=name)
    left.set(xlabel="iteration", ylabel="Reasoner skill (logits)", title="Skill growth")
    right.axhline(0.0, color="grey", linewidth=0.8)
    right.set(
        xlabel="iteration",
        ylabel="mean task difficulty - skill",
        title="Difficulty tracking (0 = pass rate 0.5)",
    )
    left.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Command-line entry point: run, print the table, write JSON (and a PNG)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for spec in dataclasses.fields(SimConfig):
        kind = float if spec.type == "float" else int
        parser.add_argument(
            "--" + spec.name.replace("_", "-"),
            type=kind,
            default=spec.default,
            help=spec.metadata["help"],
        )
    parser.add_argument("--shapes", nargs="*", help="shape names (default: all registered)")
    parser.add_argument(
        "--out-dir",
        default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"),
        help="folder for reward_shapes.json and reward_shapes.png",
    )
    parser.add_argument("--no-plot", action="store_true", help="skip the PNG")
    args = vars(parser.parse_args(argv))
    shapes, out_dir, no_plot = args.pop("shapes"), args.pop("out_dir"), args.pop("no_plot")
    config = SimConfig(**args)

    started = time.perf_counter()
    report = run_benchmark(shapes, config)
    elapsed = time.perf_counter() - started
    print(format_table(report))
    print(
        f"{config.seeds} seeds x {config.iterations} iterations x {config.batch} tasks x "
        f"K={config.attempts}; {elapsed:.1f} s"
    )
    os.makedirs(out_dir, exist_ok=True)
    json_path = os.path.join(out_dir, "reward_shapes.json")
    with open(json_path, "w", encoding="utf-8") as handle:
        json.dump(report, handle, indent=1)
    print(f"wrote {json_path}")
    if not no_plot:
        png_path = os.path.join(out_dir, "reward_shapes.png")
        plot(report, png_path)
        print(f"wrote {png_path}")
    return report


if __name__ == "__main__":
    main()
