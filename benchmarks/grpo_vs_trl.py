"""Dr. GRPO step time: this project's agent vs. TRL's ``GRPOTrainer``, side by side.

Both sides train the same tiny model (cpu-tiny's Qwen3-shaped model, identical initial
weights every round) on the same prompts (the env's Reasoner chat prompts of scripted
multiple-choice tasks), with the same batch (B prompts x G completions), the same completion
budget, temperature 1, the same learning rate, no KL, one optimizer step per batch, and the
same reward on both sides: every answer is checked by the env's verifier, and the reward is 1
when it contains the letter "e". A random tiny model almost never answers correctly, and an
all-zero reward would leave nothing to train on; this dense reward gives most groups a
non-zero advantage, so both sides do the full loss and backward. Ours also trains the
zero-advantage sequences here (``skip_zero_advantage=False``), as TRL does. One step =
generation + reward + loss + backward + AdamW.

Rounds alternate which side runs first; each round starts both from the initial weights and
runs ``--steps`` optimizer steps, the first of which is a warm-up and not timed. torch uses
one thread. Reported: the median seconds per optimizer step and samples (completions) per
second of each side, and the ratio TRL / ours (above 1: ours is faster).

    python benchmarks/grpo_vs_trl.py                      # B 8, G 8, 32 tokens, ~2-4 min
    python benchmarks/grpo_vs_trl.py --rounds 5 --steps 6

Prints a table and writes ``benchmarks/results/grpo_vs_trl.json``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import argparse
import copy
import json
import platform
import random
import shutil
import statistics
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

WORDS = "apple river stone cloud metal glass paper forest engine window".split()
RESULTS = Path(__file__).resolve().parent / "results"


def dense_reward(answer: str) -> float:
    """The benchmark's reward: 1 when the answer contains an "e" (after verification)."""
    return 1.0 if "e" in answer.lower() else 0.0


def make_tasks(count: int, seed: int = 0) -> list[dict[str, Any]]:
    """Scripted multiple-choice tasks (``Task.to_dict`` rows)."""
    rng = random.Random(seed)
    tasks = []
    for index in range(count):
        options = rng.sample(WORDS, 4)
        gold = "ABCD"[rng.randrange(4)]
        tasks.append(
            {
                "question": f"Which word is option {gold} in the list {', '.join(options)}?",
                "answer": gold,
                "answer_type": "MCQ",
                "task_type": "mcq",
                "options": options,
                "solution": "",
                "document_id": f"bench-{index}",
            }
        )
    return tasks


# ------------------------------------------------------------------------------ our agent
def run_ours(
    model: Any, tokenizer: Any, tasks_file: Path, args: argparse.Namespace, out_dir: Path
) -> list[float]:
    """Seconds per optimizer step of the SPICE agent (Reasoner-only on the task file)."""
    from spice_agents.config import make_preset
    from spice_agents.grpo import GRPOTrainer

    from spice_env.rewards import register_reasoner_reward

    # The env verifies every answer before calling the reward, as TRL's reward below does.
    register_reasoner_reward(
        "bench_dense", lambda result, task, answer: dense_reward(answer), overwrite=True
    )
    config = make_preset(
        "cpu-tiny",
        tasks_file=str(tasks_file),
        batch_documents=args.batch,
        num_answers=args.group,
        reasoner_max_new_tokens=args.max_tokens,
        learning_rate=args.lr,
        kl_coef=0.0,
        reasoner_reward="bench_dense",
        micro_batch_size=args.batch * args.group,
        generation_batch_size=args.batch * args.group,
        skip_zero_advantage=False,
        output_dir=str(out_dir),
        progress=False,
        plot=False,
        log_samples=0,
        checkpoint_every=0,
        save_final_model=False,
        torch_threads=1,
    )
    trainer = GRPOTrainer(config, model=model, tokenizer=tokenizer)
    times = []
    for _ in range(args.steps):
        start = time.perf_counter()
        trainer.train_iteration()
        times.append(time.perf_counter() - start)
    return times[1:]


# ------------------------------------------------------------------------------------ TRL
def run_trl(
    model: Any, tokenizer: Any, tasks: list[dict[str, Any]], args: argparse.Namespace, out_dir: Path
) -> list[float]:
    """Seconds per optimizer step of TRL's GRPOTrainer with the matching settings."""
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    from spice_env.prompts import DEFAULT_PROMPTS
    from spice_env.verifiers import check

    rows = [
        {
            "prompt": DEFAULT_PROMPTS.reasoner_messages(t["question"], t["options"]),
            "answer": t["answer"],
            "options": t["options"],
        }
        for t in tasks
    ]
    dataset = Dataset.from_list(rows)

    def reward(
        completions: list[Any], answer: list[str], options: list[list[str]], **_: Any
    ) -> list[float]:
        texts = [c[-1]["content"] if isinstance(c, list) else c for c in completions]
        for text, gold, opts in zip(texts, answer, options):
            check(gold, text, "MCQ", options=opts)  # the same verification work as the env
        return [dense_reward(text) for text in texts]

    class StepTimer(TrainerCallback):
        def __init__(self) -> None:
            self.marks: list[float] = []

        def on_train_begin(self, *_: Any, **__: Any) -> None:
            self.marks.append(time.perf_counter())

        def on_step_end(self, *_: Any, **__: Any) -> None:
            self.marks.append(time.perf_counter())

    config = GRPOConfig(
        output_dir=str(out_dir),
        loss_type="dr_grpo",  # Dr. GRPO: constant normalizer...
        scale_rewards="none",  # ...and no std normalization, like ours
        beta=0.0,
        num_generations=args.group,
        per_device_train_batch_size=args.batch * args.group,  # completions per step
        gradient_accumulation_steps=1,
        num_iterations=1,
        max_completion_length=args.max_tokens,
        temperature=1.0,
        top_p=1.0,
        learning_rate=args.lr,
        lr_scheduler_type="constant",
        max_grad_norm=1.0,
        max_steps=args.steps,
        gradient_checkpointing=False,
        use_cpu=True,
        bf16=False,
        report_to="none",
        save_strategy="no",
        logging_steps=10_000,
        disable_tqdm=True,
        seed=0,
        dataloader_num_workers=0,
    )
    timer = StepTimer()
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=reward,
        args=config,
        train_dataset=dataset,
        processing_class=tokenizer,
        callbacks=[timer],
    )
    trainer.train()
    steps = [b - a for a, b in zip(timer.marks, timer.marks[1:])]
    return steps[1:]


# ------------------------------------------------------------------------------------ main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8, help="prompts per step, B (8)")
    parser.add_argument("--group", type=int, default=8, help="completions per prompt, G (8)")
    parser.add_argument("--max-tokens", type=int, default=32, help="completion budget (32)")
    parser.add_argument("--lr", type=float, default=1e-5, help="learning rate (1e-5)")
    parser.add_argument("--steps", type=int, default=4, help="steps per round, first untimed (4)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, alternating order (3)")
    parser.add_argument("--out", default=str(RESULTS / "grpo_vs_trl.json"))
    args = parser.parse_args()

    import torch
    import transformers
    import trl
    from spice_agents.tiny import build_tiny_model, build_tiny_tokenizer

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    transformers.logging.set_verbosity_error()
    tokenizer = build_tiny_tokenizer(512)
    initial = build_tiny_model(tokenizer, seed=0)
    tasks = make_tasks(max(64, args.batch * args.steps * 2))
    work = Path(tempfile.mkdtemp(prefix="grpo_vs_trl-"))
    tasks_file = work / "tasks.jsonl"
    tasks_file.write_text("".join(json.dumps(t) + "\n" for t in tasks))

    timings: dict[str, list[float]] = {"ours": [], "trl": []}
    for round_index in range(args.rounds):
        order = ["ours", "trl"] if round_index % 2 == 0 else ["trl", "ours"]
        for side in order:
            model = copy.deepcopy(initial).train()
            out = work / f"{side}-{round_index}"
            if side == "ours":
                steps = run_ours(model, tokenizer, tasks_file, args, out)
            else:
                steps = run_trl(model, tokenizer, tasks, args, out)
            timings[side].extend(steps)
            print(
                f"round {round_index + 1}/{args.rounds} {side:>4}: "
                f"{', '.join(f'{s:.2f}' for s in steps)} s/step",
                flush=True,
            )

    samples = args.batch * args.group
    summary: dict[str, Any] = {}
    for side, values in timings.items():
        median = statistics.median(values)
        summary[side] = {
            "median_s_per_step": median,
            "samples_per_s": samples / median,
            "steps_timed": len(values),
            "all_s_per_step": values,
        }
    ratio = summary["trl"]["median_s_per_step"] / summary["ours"]["median_s_per_step"]
    print()
    print(
        f"B={args.batch} prompts x G={args.group} completions, {args.max_tokens} tokens, "
        f"1 torch thread, {args.rounds} rounds x {args.steps - 1} timed steps per side"
    )
    print(f"{'side':<6} {'median s/step':>14} {'samples/s':>10}")
    for side in ("ours", "trl"):
        print(
            f"{side:<6} {summary[side]['median_s_per_step']:>14.3f} "
            f"{summary[side]['samples_per_s']:>10.1f}"
        )
    print(
        f"ratio TRL/ours (step time): {ratio:.2f}x  ({'ours faster' if ratio > 1 else 'TRL faster'})"
    )

    result = {
        "benchmark": "grpo_vs_trl",
        "settings": vars(args) | {"samples_per_step": samples},
        "versions": {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "trl": trl.__version__,
            "python": platform.python_version(),
        },
        "machine": {
            "cpus": os.cpu_count(),
            "load_average": os.getloadavg(),
            "platform": platform.platform(),
        },
        "ours": summary["ours"],
        "trl": summary["trl"],
        "ratio_trl_over_ours": ratio,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    shutil.rmtree(work, ignore_errors=True)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
