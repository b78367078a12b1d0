"""Must-show 4 worker: the same global batch through one process or through ``accelerate launch``.

Every process generates the *whole* global batch with identical seeds and weights (a
one-process collector), then keeps its share ``samples[rank::world]`` and calls the trainer's
``update``, so the gradient all-reduce is done by accelerate/DDP exactly as in training. Run
alone it is the single-process reference. The main process writes ``result.json`` (loss terms
and gradient norms per iteration) and ``params.pt``.

    python tests/agents/ddp_worker.py --out A
    accelerate launch --multi_gpu --num_processes 2 tests/agents/ddp_worker.py --out B

(On a machine without CUDA, ``--multi_gpu`` makes accelerate start two gloo CPU processes;
``--cpu --num_processes 2`` starts one process unless an MPI hostfile is given.)
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from agent_helpers import learning_overrides, register_test_rewards, write_letter_tasks
from spice_agents.collector import SelfPlayCollector
from spice_agents.config import make_preset
from spice_agents.grpo import GRPOTrainer, assign_advantages

# A dense reward (so most groups have a gradient), two PPO epochs (clipping, and a policy loss
# that is not zero by symmetry), a KL term, and micro-batches: every term of the loss and the
# gradient accumulation cross the process boundary.
SETTINGS = dict(
    batch_documents=8,
    num_answers=4,
    reasoner_max_new_tokens=6,
    learning_rate=1e-3,
    kl_coef=0.05,
    updates_per_batch=2,
    micro_batch_size=4,
    seed=3,
    reasoner_reward="mentions_e",
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--iterations", type=int, default=3)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    register_test_rewards()

    tasks = write_letter_tasks(out / f"tasks_{_rank()}.jsonl")
    config = make_preset("cpu-tiny", **learning_overrides(tasks, out / "run", **SETTINGS))
    trainer = GRPOTrainer(config)
    accelerator = trainer.accelerator
    whole_batch = SelfPlayCollector(config, trainer.backend)
    results = []
    for iteration in range(args.iterations):
        trainer.model.eval()
        rollout = whole_batch.collect(iteration)
        assign_advantages(rollout.samples)
        trainer.model.train()
        shard = rollout.samples[accelerator.process_index :: accelerator.num_processes]
        metrics = trainer.update(shard)
        results.append(
            {
                "iteration": iteration + 1,
                "samples": len(rollout.samples),
                "loss": metrics["loss"],
                "kl_reference": metrics["kl"]["reference"],
                "clip_fraction": metrics["clip_fraction"],
                "grad_norm": metrics["grad_norm"],
                "reward": sum(s.reward for s in rollout.samples) / max(len(rollout.samples), 1),
            }
        )
    if accelerator.is_main_process:
        model = accelerator.unwrap_model(trainer.model)
        torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, out / "params.pt")
        (out / "result.json").write_text(
            json.dumps({"processes": accelerator.num_processes, "iterations": results}, indent=2)
        )
    accelerator.wait_for_everyone()


def _rank() -> int:
    import os

    return int(os.environ.get("RANK", os.environ.get("LOCAL_RANK", "0")))


if __name__ == "__main__":
    main()
