"""A supervised warm start before self-play: the scripted Challenger's tasks as examples.

A small model may never write the one format a reward reads: SmolLM2-135M boxed 0 to 3 of 28
sampled answers to scripted tasks (``\\boxed{}`` is all the training verifier reads), so every
Reasoner group has equal rewards and self-play has nothing to learn from. Many RL recipes
start with a short supervised "cold start" for this. Here the scripted Challenger writes
tasks from *training* documents (never held-out ones), through the env; with
``warm_start_challenger="scripted-computed"`` it blanks only computed results ("48/2 =
____"), so both roles start from tasks the question alone answers:

- Reasoner examples: each task's prompt as one attempt sees it (options in that attempt's
  order) -> the words around the blank, filled in, then ``The answer is \\boxed{GOLD}.``
  with the gold as shown (for a multiple-choice task the option's text comes before its
  letter). The filled-in words are the Reasoner's working: they are read from the question,
  never from the document, and they put a sum such as ``2 + 1 =`` right before the number
  to write, where a bare ``\\boxed{3}`` would be a blind guess. A first version taught the
  bare answer; the model then answered every multiple-choice question of the held-out set
  with the same letter, and self-play could only reshuffle its guesses (README);
- Challenger examples (optional): the type-selection and task prompts -> the scripted
  Challenger's JSON, written compactly in the order of the stage's JSON Schema, so that the
  constrained policy can follow it token for token.

The model is fine-tuned on the completion tokens (mean cross-entropy per token) with its own
AdamW, which is then discarded; self-play starts from the result.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from spice_env.policies.scripted import CLOZE_BLANK
from spice_env.rollout import EpisodeStart, episode_seed

__all__ = ["WarmStartExample", "build_examples", "reasoner_target", "run_warm_start"]


@dataclass
class WarmStartExample:
    """One supervised example: a prompt's token ids and the completion to learn."""

    role: str
    prompt_ids: list[int]
    completion_ids: list[int]


def _compact_json(text: str, schema: dict[str, Any] | None) -> str | None:
    """The JSON object of a scripted output, compact, keys in the schema's order."""
    from spice_env.tasks import extract_json_object

    value = extract_json_object(text)
    if value is None:
        return None
    if schema is not None:
        order = list(schema.get("properties", {}))
        value = {key: value[key] for key in order if key in value}
        options = schema.get("properties", {}).get("options", {}).get("properties")
        if options and isinstance(value.get("options"), dict):
            value["options"] = {k: value["options"][k] for k in options if k in value["options"]}
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def reasoner_target(
    question: str,
    options: list[str] | tuple[str, ...] | None,
    answer: str,
    *,
    words_before: int = 8,
    words_after: int = 6,
) -> str:
    r"""The Reasoner's warm-start completion for a task as one attempt shows it.

    For a fill-in-the-blank question: up to ``words_before`` words before the blank and
    ``words_after`` after it, with the answer (a multiple-choice task: the text of the gold
    option) written in, then the boxed answer. Any other question gets the boxed answer alone.

    >>> print(reasoner_target("Which number fills the blank in this sentence: So he paid "
    ...                       "2 + 1 = $____ in all?", None, "3"))
    So he paid 2 + 1 = $3 in all. The answer is \boxed{3}.
    >>> print(reasoner_target("Which number fills the blank in this sentence: She bought "
    ...                       "____ pens?", ["4", "7"], "B"))
    She bought 7 pens. 7 is option B. The answer is \boxed{B}.
    """
    from spice_env.prompts import OPTION_LETTERS

    boxed = f"The answer is \\boxed{{{answer}}}."
    if CLOZE_BLANK not in question:
        return boxed
    text = answer
    if options:
        if answer not in OPTION_LETTERS[: len(options)]:
            return boxed
        text = str(options[OPTION_LETTERS.index(answer)])
    head, tail = question.split(CLOZE_BLANK, 1)
    head = head.split(": ", 1)[-1]  # the sentence, after the scripted "...this sentence: "
    tail = tail.rstrip().removesuffix("?")
    before, after = head.split(), tail.split()
    left = " ".join(before[-words_before:]) if words_before else ""
    right = " ".join(after[:words_after]) if words_after else ""
    # Keep what touches the blank touching it ("$____", "____-foot", "____*3").
    left += " " if left and head[-1:].isspace() else ""
    right = (" " if right and tail[:1].isspace() else "") + right
    filled = ("... " if len(before) > words_before else "") + left + text + right
    filled = filled.rstrip(" .,;:") + "."
    if options:
        return f"{filled} {text} is option {answer}. {boxed}"
    return f"{filled} {boxed}"


def build_examples(trainer: Any) -> list[WarmStartExample]:
    """Examples from the scripted Challenger's valid tasks on the collector's documents.

    Raises:
        ValueError: when rounds of scripted episodes find no valid task at all.
    """
    from spice_env.policies import make_policy

    config = trainer.config
    warm = config.warmstart
    collector, tokenizer = trainer.collector, trainer.tokenizer
    encode = trainer.backend.encode_prompt
    eos = [int(tokenizer.eos_token_id)]

    def completion(text: str) -> list[int]:
        return list(tokenizer(text, add_special_tokens=False)["input_ids"]) + eos

    wanted = {
        "reasoner": warm.warm_start_reasoner_examples,
        "challenger": warm.warm_start_challenger_examples,
    }
    found: dict[str, list[WarmStartExample]] = {"reasoner": [], "challenger": []}
    recorder = _Recorder(
        make_policy(warm.warm_start_challenger, role="challenger", seed=config.run.seed)
    )
    batch = max(8, max(wanted.values()) // 2)
    for round_index in range(50):
        if all(len(found[role]) >= wanted[role] for role in wanted):
            break
        starts = [
            EpisodeStart(key=i, seed=episode_seed(config.run.seed, "warm-start", round_index, i))
            for i in range(batch)
        ]
        recorder.turns.clear()
        episodes = collector.driver.challenger_phase(starts, recorder)
        for turn, text in recorder.turns:
            target = _compact_json(text, collector.policies[turn.stage].schema_for(turn.info))
            if episodes[turn.episode].valid and target is not None:
                prompt = collector.policies[turn.stage].prompt_for(turn.info)
                found["challenger"].append(
                    WarmStartExample("challenger", encode(prompt), completion(target))
                )
        env = collector.driver.env(0)
        for episode in episodes:
            if not episode.valid:
                continue
            seed = episode_seed(config.run.seed, "warm-start-answer", round_index, episode.key)
            env.reset(seed=seed, options={"task": episode.task})
            _, info = env.unwrapped.reasoner_turns()[0]
            answer = info["privileged"]["answer"]  # the gold as this attempt shows it
            public = {key: value for key, value in info.items() if key != "privileged"}
            prompt = collector.policies["answering"].prompt_for(public)
            shown = info["task"]
            target = reasoner_target(shown["question"], shown.get("options"), answer)
            found["reasoner"].append(
                WarmStartExample("reasoner", encode(prompt), completion(target))
            )
    examples = [e for role in wanted for e in found[role][: wanted[role]]]
    if not examples:
        raise ValueError(
            "the warm start found no valid scripted task in the corpus; check the corpus or "
            "turn the warm start off"
        )
    return examples


class _Recorder:
    """An act function: the scripted Challenger, keeping every (turn, output) it wrote."""

    def __init__(self, policy: Any) -> None:
        self.policy = policy
        self.turns: list[tuple[Any, str]] = []

    def __call__(self, turns: list[Any]) -> list[str]:
        texts = self.policy.act_batch([t.observation for t in turns], [t.info for t in turns])
        self.turns += list(zip(turns, texts))
        return texts


def run_warm_start(trainer: Any) -> dict[str, Any]:
    """Fine-tune the trainer's model on :func:`build_examples`; return what it did.

    Returns:
        ``examples`` per role, ``steps``, the mean loss of the first and the last epoch
        (the same number with one epoch), the loss of the first and the last step, and
        ``seconds``.
    """
    import torch
    from spice_agents.grpo import sequence_logprobs
    from tqdm.auto import tqdm

    warm = trainer.config.warmstart
    acc = trainer.accelerator
    if acc.num_processes > 1:
        raise ValueError(
            "the warm start runs on one process; run it once, then launch the distributed "
            "training from its checkpoint (--resume)"
        )
    tic = time.perf_counter()
    examples = build_examples(trainer)
    optimizer = torch.optim.AdamW(
        [p for p in trainer.model.parameters() if p.requires_grad],
        lr=warm.warm_start_learning_rate,
    )
    rng = torch.Generator().manual_seed(trainer.config.run.seed)
    epoch_losses: list[float] = []
    step_losses: list[float] = []
    steps = 0
    per_epoch = -(-len(examples) // warm.warm_start_batch_size)
    bar = tqdm(
        total=per_epoch * warm.warm_start_epochs,
        unit="step",
        desc="warm start",
        disable=not (trainer.config.run.progress and acc.is_main_process),
        dynamic_ncols=True,
    )
    trainer.model.train()
    for _epoch in range(warm.warm_start_epochs):
        order = torch.randperm(len(examples), generator=rng).tolist()
        losses = []
        for start in range(0, len(order), warm.warm_start_batch_size):
            batch = [examples[i] for i in order[start : start + warm.warm_start_batch_size]]
            logprobs, mask, _ = sequence_logprobs(
                trainer.model,
                batch,  # sequence_logprobs reads prompt_ids and completion_ids
                pad_token_id=trainer.tokenizer.pad_token_id,
                device=acc.device,
            )
            loss = -(logprobs * mask).sum() / mask.sum()
            acc.backward(loss)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(float(loss.detach()))
            steps += 1
            bar.update(1)
            bar.set_postfix(loss=f"{losses[-1]:.3f}", refresh=False)
        epoch_losses.append(sum(losses) / max(len(losses), 1))
        step_losses += losses
    bar.close()
    del optimizer
    counts: dict[str, int] = {}
    for example in examples:
        counts[example.role] = counts.get(example.role, 0) + 1
    return {
        "examples": counts,
        "steps": steps,
        "loss_first_epoch": epoch_losses[0] if epoch_losses else None,
        "loss_last_epoch": epoch_losses[-1] if epoch_losses else None,
        "loss_first_step": step_losses[0] if step_losses else None,
        "loss_last_step": step_losses[-1] if step_losses else None,
        "seconds": time.perf_counter() - tic,
    }
