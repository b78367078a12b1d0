"""Worker of the engine tests: the same global batch through one process, DDP, FSDP2 or ZeRO-2.

Every process generates the *whole* global batch with identical seeds and weights (a
one-process collector on the trainer's own generator), keeps an uneven share of it (rank 0 the
first 20 of 32 sequences, rank 1 the last 12: with minibatches of 2 and micro-batches of 6,
rank 0 runs two micro-batches per optimizer step and rank 1 one plus a padding row), then calls
the trainer's ``update`` and ``_sync_weights`` as ``train_iteration`` does. Run alone it is the
single-process reference; under ``accelerate launch`` the engine comes from the launch config.

The main process writes ``result.json`` (loss terms, gradient norms, learning rates, and the
engine's own step counters) and ``params.pt``; every process reports its generator's weights
against the trained ones.

    python tests/agents/engine_worker.py --out A
    accelerate launch --config_file agents/configs/fsdp.yaml --num_processes 2 \\
        --mixed_precision no tests/agents/engine_worker.py --out B

``--checks`` adds, in the same processes, a plain DeepSpeed engine with gradient accumulation 2
(ZeRO-2 launches) and R-Zero's repetition penalty over the gathered batch.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
from pathlib import Path
from typing import Any

import torch
from accelerate.utils import gather_object
from agent_helpers import learning_overrides, register_test_rewards, write_letter_tasks
from spice_agents.collector import SelfPlayCollector
from spice_agents.config import make_preset
from spice_agents.distributed import engine_name, full_named_tensors
from spice_agents.grpo import GRPOTrainer, assign_advantages

# A dense reward (so most groups have a gradient), two PPO epochs over two minibatches
# (stored old log-probabilities, clipping), a KL term (a stored reference), a warm-up (the
# scheduler), and micro-batches that do not divide the shares evenly: every part of the
# update crosses the process boundary.
SETTINGS = dict(
    batch_documents=8,
    num_answers=4,
    reasoner_max_new_tokens=6,
    learning_rate=1e-3,
    warmup_steps=6,
    kl_coef=0.05,
    updates_per_batch=2,
    minibatches=2,
    micro_batch_size=6,
    seed=3,
    reasoner_reward="mentions_e",
)

# (question, valid) per kept episode of 4 documents x 2 members: near-duplicates on different
# processes (documents 0 and 1, 2 and 3 go to different ranks) and an unparsable task.
REPETITION_BATCH = [
    ("What is the sum of the first ten positive odd integers in the list?", True),
    ("Which river flows through the old town described in the passage?", True),
    ("What is the sum of the first ten positive odd integers in this list?", True),
    ("", False),
    ("Which river flows through the old town described in the passage above?", True),
    ("How many moons does the planet in the second paragraph have?", True),
    ("What is the sum of the first ten positive odd integers in that list?", True),
    ("Name the metal that the author says conducts heat best.", False),
]


def share(samples: list[Any], rank: int, world: int) -> list[Any]:
    """This process's part of the batch: all of it alone, an uneven split over two.

    The cut is even, so minibatch ``i`` of the two shares (every second sequence from ``i``)
    together is exactly minibatch ``i`` of the whole batch.
    """
    if world == 1:
        return list(samples)
    if world != 2:
        raise ValueError("the engine tests use one or two processes")
    cut = 2 * ((5 * len(samples)) // 16)
    return samples[:cut] if rank == 0 else samples[cut:]


def expected_micro_steps(samples: list[Any], world: int, minibatches: int, micro: int) -> int:
    """Backward passes per process in one update: the most micro-batches of any process."""
    shares = [share(samples, rank, world) for rank in range(world)]
    return sum(
        max(math.ceil(len(part[i::minibatches]) / micro) for part in shares)
        for i in range(minibatches)
    )


def deepspeed_accumulation_check(rank: int, world: int) -> dict[str, float]:
    """A plain ZeRO-2 engine with gradient accumulation 2: 4 micro-steps must be 2 SGD steps."""
    import deepspeed

    torch.manual_seed(0)
    model = torch.nn.Linear(4, 2)
    reference = copy.deepcopy(model)
    settings = {
        "train_micro_batch_size_per_gpu": 1,
        "gradient_accumulation_steps": 2,
        "zero_optimization": {"stage": 2},
        "zero_allow_untested_optimizer": True,
        "gradient_clipping": 0.0,
    }
    engine, *_ = deepspeed.initialize(
        model=model, optimizer=torch.optim.SGD(model.parameters(), lr=0.1), config=settings
    )

    def batch(step: int, process: int) -> torch.Tensor:
        return torch.linspace(-1.0, 1.0, 4).unsqueeze(0) * (step + 1) + process

    for step in range(4):
        engine.backward(engine(batch(step, rank)).pow(2).sum())
        engine.step()
    # The same two updates by hand: each on the mean over processes and micro-batches.
    optimizer = torch.optim.SGD(reference.parameters(), lr=0.1)
    for boundary in range(2):
        optimizer.zero_grad()
        losses = [
            reference(batch(2 * boundary + m, p)).pow(2).sum() for p in range(world) for m in (0, 1)
        ]
        (sum(losses) / len(losses)).backward()
        optimizer.step()
    difference = max(
        float((a.detach() - b.detach()).abs().max())
        for a, b in zip(engine.module.parameters(), reference.parameters())
    )
    return {
        "micro_steps": engine.micro_steps,
        "global_steps": engine.global_steps,
        "max_param_diff": difference,
    }


def repetition_check(rank: int, world: int) -> list[dict[str, Any]]:
    """R-Zero's penalty applied on each process to its documents, over the gathered batch."""
    from spice_agents.collector import _apply_repetition_penalty

    from spice_env.rollout import Episode

    groups = {}
    for index in range(rank, len(REPETITION_BATCH) // 2, world):
        groups[index] = [
            Episode(
                key=index,
                valid=valid,
                task={"question": question} if question else None,
                challenger_reward=1.0 if valid else -0.1,
            )
            for question, valid in REPETITION_BATCH[2 * index : 2 * index + 2]
        ]
    _apply_repetition_penalty(groups, gather_object)
    return [
        {
            "index": index,
            "member": member,
            "penalty": (1.0 if episode.valid else -0.1) - episode.challenger_reward,
        }
        for index, group in groups.items()
        for member, episode in enumerate(group)
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--checks", action="store_true")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    register_test_rewards()

    tasks = write_letter_tasks(out / f"tasks_{_rank()}.jsonl")
    config = make_preset("cpu-tiny", **learning_overrides(tasks, out / "run", **SETTINGS))
    trainer = GRPOTrainer(config)
    acc = trainer.accelerator
    rank, world = acc.process_index, acc.num_processes
    generator = getattr(trainer.backend, "model", None)
    start = {k: v.detach().clone() for k, v in generator.state_dict().items()}
    whole_batch = SelfPlayCollector(config, trainer.backend)
    optim = config.optim
    results, micro_steps = [], 0
    for iteration in range(args.iterations):
        trainer.model.eval()
        rollout = whole_batch.collect(iteration)
        assign_advantages(rollout.samples)
        trainer.model.train()
        metrics = trainer.update(share(rollout.samples, rank, world))
        trainer._sync_weights()
        micro_steps += optim.updates_per_batch * expected_micro_steps(
            rollout.samples, world, optim.minibatches, optim.micro_batch_size
        )
        results.append(
            {
                "iteration": iteration + 1,
                "samples": len(rollout.samples),
                "loss": metrics["loss"],
                "kl_reference": metrics["kl"]["reference"],
                "clip_fraction": metrics["clip_fraction"],
                "grad_norm": metrics["grad_norm"],
                "learning_rate": metrics["learning_rate"],
                "optimizer_steps": metrics["optimizer_steps"],
                "reward": sum(s.reward for s in rollout.samples) / max(len(rollout.samples), 1),
            }
        )

    # Every process's generator against the trained weights (gathered in full on each).
    trained = {name: tensor.clone() for name, tensor in full_named_tensors(acc, trainer.model)}
    held = generator.state_dict()
    sync = {
        "rank": rank,
        "own_weights": trainer._generator_has_own_weights,
        "max_diff_to_trained": max(float((held[k] - v).abs().max()) for k, v in trained.items()),
        "max_change_from_start": max(float((held[k] - v).abs().max()) for k, v in start.items()),
    }
    result: dict[str, Any] = {
        "processes": world,
        "engine": engine_name(acc),
        "iterations": results,
        "expected_micro_steps": micro_steps,
        "generators": gather_object([sync]),
    }
    if trainer._deepspeed:
        result["deepspeed"] = {
            "micro_steps": trainer.model.micro_steps,
            "global_steps": trainer.model.global_steps,
        }
    if args.checks and trainer._deepspeed:
        result["deepspeed_accumulation"] = gather_object(
            [deepspeed_accumulation_check(rank, world)]
        )
    if args.checks:
        result["repetition"] = gather_object(repetition_check(rank, world))
    if acc.is_main_process:
        torch.save({k: v.detach().cpu() for k, v in trained.items()}, out / "params.pt")
        (out / "result.json").write_text(json.dumps(result, indent=2))
    acc.wait_for_everyone()


def _rank() -> int:
    import os

    return int(os.environ.get("RANK", os.environ.get("LOCAL_RANK", "0")))


if __name__ == "__main__":
    main()
