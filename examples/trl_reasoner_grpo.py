"""Train a Reasoner with TRL's GRPOTrainer on tasks written through SpiceCorpus-v0.

The pieces, all from this project:

- the training set is ``reasoner_task_records``: tasks the scripted Challenger wrote through the
  env (the env checked their validity), with the env's Reasoner chat prompt in ``prompt`` and
  the gold answer in ``answer``;
- the reward is ``ReasonerCorrectnessReward`` (r_R: the project's verifier and Reasoner reward,
  exactly what the env pays for an answer);
- ``GroupChallengerReward("spice")`` rides along with weight 0, so TRL logs the SPICE r_C each
  task would earn from the current group of answers (a curriculum gauge, not trained on);
- the GRPO settings follow SPICE: Dr. GRPO loss, no standard-deviation scaling, no KL term,
  temperature 1.0.

The model is tiny and random (a Qwen3-shaped transformer from a config, with a byte-level BPE
tokenizer trained on the embedded corpus in about a second; nothing is downloaded). A random
model never writes a boxed answer, so every reward would be 0 and every GRPO advantage too.
A short *format* warm-up therefore first teaches it to reply ``\boxed{<random letter>}`` to
multiple-choice prompts: it learns the answer format, not the answers, so GRPO starts from a
25% guesser whose groups of answers mix right and wrong, and the advantages, loss and
gradients are real. This shows the plumbing on a CPU in about a minute; it is not a claim that
a 100k-parameter model learns to reason. Swap in a real checkpoint
(``AutoModelForCausalLM.from_pretrained(...)``) and drop the warm-up for a real run.

Run:
    python examples/trl_reasoner_grpo.py                 # 4 GRPO steps
    python examples/trl_reasoner_grpo.py --max-steps 1   # smoke test
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Args:
    """Configuration of the run; every field is a command-line flag."""

    num_tasks: int = field(default=32, metadata={"help": "training tasks written via the env"})
    max_steps: int = field(default=4, metadata={"help": "GRPO optimizer steps"})
    num_generations: int = field(default=4, metadata={"help": "answers per task (K, G)"})
    prompts_per_step: int = field(default=2, metadata={"help": "tasks per optimizer step"})
    max_completion_length: int = field(default=24, metadata={"help": "tokens per answer"})
    warmup_steps: int = field(
        default=40, metadata={"help": "format warm-up steps (0: start from random weights)"}
    )
    learning_rate: float = field(default=1e-4, metadata={"help": "AdamW learning rate"})
    seed: int = field(default=0, metadata={"help": "seed of tasks, model and sampling"})
    json_out: str | None = field(default=None, metadata={"help": "write the log history here"})

    def __post_init__(self) -> None:
        if self.num_generations < 2:
            raise ValueError("num_generations must be at least 2: GRPO compares answers")
        if self.num_tasks < self.prompts_per_step:
            raise ValueError("num_tasks must be at least prompts_per_step")


def parse_args() -> Args:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for spec in dataclasses.fields(Args):
        flag = "--" + spec.name.replace("_", "-")
        kind = float if spec.type == "float" else int if spec.type == "int" else str
        parser.add_argument(flag, type=kind, default=spec.default, help=spec.metadata["help"])
    return Args(**vars(parser.parse_args()))


def format_warmup(model: Any, tokenizer: Any, records: list[dict], steps: int, seed: int) -> float:
    """Teach the answer format ``\\boxed{X}`` with a random letter X per example.

    Supervised next-token loss on the completion only. The letters are random, so the model
    learns to answer in the verifiable format, not which answer is right.

    Returns:
        The loss of the last step.
    """
    import random

    import torch

    rng = random.Random(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    loss = torch.tensor(float("nan"))
    for _ in range(steps):
        rows = []
        for record in rng.sample(records, k=min(8, len(records))):
            prompt = tokenizer.apply_chat_template(
                record["prompt"], tokenize=False, add_generation_prompt=True
            )
            completion = f"\\boxed{{{rng.choice('ABCD')}}}{tokenizer.eos_token}"
            prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
            completion_ids = tokenizer(completion, add_special_tokens=False)["input_ids"]
            rows.append((prompt_ids + completion_ids, [-100] * len(prompt_ids) + completion_ids))
        width = max(len(ids) for ids, _ in rows)
        pad = tokenizer.pad_token_id
        input_ids = torch.tensor([ids + [pad] * (width - len(ids)) for ids, _ in rows])
        labels = torch.tensor([lab + [-100] * (width - len(lab)) for _, lab in rows])
        mask = torch.tensor([[1] * len(ids) + [0] * (width - len(ids)) for ids, _ in rows])
        loss = model(input_ids=input_ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    return loss.item()


def main(args: Args) -> list[dict]:
    import torch
    from datasets import Dataset
    from spice_agents.tiny import build_tiny_model, build_tiny_tokenizer
    from trl import GRPOConfig, GRPOTrainer

    from spice_env.integrations.trl_rewards import (
        GroupChallengerReward,
        ReasonerCorrectnessReward,
        reasoner_task_records,
    )

    torch.set_num_threads(1)  # a tiny model on a shared CPU: threads only contend
    started = time.perf_counter()

    # -- data: tasks written by the scripted Challenger through the env --
    # Multiple choice only, so that a format-trained guesser is right 25% of the time.
    records = reasoner_task_records(args.num_tasks, seed=args.seed, task_types=("mcq",))
    dataset = Dataset.from_list(records)

    # -- rewards: the project's functions, checked on known answers before training --
    reasoner_reward = ReasonerCorrectnessReward()
    challenger_gauge = GroupChallengerReward("spice")
    row = {key: [records[0][key]] * 2 for key in records[0] if key != "prompt"}
    gold_and_wrong = [f"\\boxed{{{records[0]['answer']}}}", "\\boxed{not the answer}"]
    print("reward check (gold, wrong):", reasoner_reward(gold_and_wrong, **row))

    # -- model: tiny and random, built locally --
    tokenizer = build_tiny_tokenizer()
    model = build_tiny_model(tokenizer, seed=args.seed)
    if args.warmup_steps:
        loss = format_warmup(model, tokenizer, records, args.warmup_steps, args.seed)
        print(f"format warm-up: {args.warmup_steps} steps, final loss {loss:.3f}")

    with tempfile.TemporaryDirectory() as output_dir:
        config = GRPOConfig(
            output_dir=output_dir,
            max_steps=args.max_steps,
            per_device_train_batch_size=args.prompts_per_step * args.num_generations,
            num_generations=args.num_generations,
            max_completion_length=args.max_completion_length,
            learning_rate=args.learning_rate,
            temperature=1.0,
            # SPICE: Dr. GRPO, advantages without std normalization, no KL penalty.
            loss_type="dr_grpo",
            scale_rewards="none",
            beta=0.0,
            # r_R is trained on; the SPICE r_C gauge is only logged.
            reward_weights=[1.0, 0.0],
            logging_steps=1,
            save_strategy="no",
            report_to="none",
            bf16=False,
            use_cpu=True,
            seed=args.seed,
            disable_tqdm=True,
        )
        trainer = GRPOTrainer(
            model=model,
            processing_class=tokenizer,
            reward_funcs=[reasoner_reward, challenger_gauge],
            args=config,
            train_dataset=dataset,
        )
        trainer.train()

    history = [entry for entry in trainer.state.log_history if "loss" in entry]
    reward_key = f"rewards/{reasoner_reward.__name__}/mean"
    gauge_key = f"rewards/{challenger_gauge.__name__}/mean"
    print(f"{'step':>4}{'loss':>12}{'r_R mean':>12}{'SPICE r_C':>12}{'completion len':>16}")
    for entry in history:
        print(
            f"{entry.get('step', 0):>4}{entry['loss']:>12.4f}{entry.get(reward_key, 0.0):>12.3f}"
            f"{entry.get(gauge_key, 0.0):>12.3f}"
            f"{entry.get('completions/mean_length', 0.0):>16.1f}"
        )
    print(
        f"{len(history)} GRPO steps on {len(records)} env-written tasks in "
        f"{time.perf_counter() - started:.0f} s"
    )
    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as handle:
            json.dump(history, handle, indent=2)
    return history


if __name__ == "__main__":
    main(parse_args())
