"""Shared helpers of the agent tests (imported by the tests and by the DDP worker script)."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

WORDS = "apple river stone cloud metal glass paper forest engine window".split()


def write_letter_tasks(path: Path, num_tasks: int = 32, gold: str = "B", seed: int = 0) -> Path:
    """Scripted multiple-choice tasks whose correct letter is always ``gold``.

    A randomly initialized tiny model answers each with one token, so the correct letter is a
    reward it can learn in a few dozen updates, and the questions still differ.
    """
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as handle:
        for index in range(num_tasks):
            options = rng.sample(WORDS, 4)
            task = {
                "question": f"Which word comes after {options[0]} in the list {', '.join(options)}?",
                "answer": gold,
                "answer_type": "MCQ",
                "task_type": "mcq",
                "options": options,
                "solution": "",
                "document_id": f"letter-{index}",
            }
            handle.write(json.dumps(task) + "\n")
    return path


def quiet_run(output_dir: Path, **extra: Any) -> dict[str, Any]:
    """Overrides of a test training run that writes only its metrics under ``output_dir``:
    no progress bar, plots, final model or checkpoints."""
    return dict(
        output_dir=str(output_dir),
        progress=False,
        plot=False,
        save_final_model=False,
        checkpoint_every=0,
        **extra,
    )


def learning_overrides(tasks_file: Path, output_dir: Path, **extra: Any) -> dict[str, Any]:
    """cpu-tiny overrides of the learning setup: Reasoner-only on the letter tasks.

    The env's per-attempt option shuffle is off here: it exists precisely to remove the
    letter prior these tasks teach (the correct letter is always the same one). One token
    cannot write "\\boxed{B}", so the letter is read in the verifier's lenient mode.
    """
    overrides: dict[str, Any] = dict(
        env_kwargs={"shuffle_options": False, "verifier_config": {"mode": "lenient"}},
        output_dir=str(output_dir),
        tasks_file=str(tasks_file),
        batch_documents=16,
        num_answers=8,
        reasoner_max_new_tokens=1,
        learning_rate=1e-2,
        micro_batch_size=64,
        checkpoint_every=0,
        save_final_model=False,
        progress=False,
        plot=False,
        log_samples=0,
    )
    overrides.update(extra)
    return overrides


def mentions_letter_e(result: Any, task: Any, answer: str) -> float:
    """A dense Reasoner reward for distributed checks: 1 when the answer contains an "e"."""
    return 1.0 if "e" in answer.lower() else 0.0


def register_test_rewards() -> None:
    """Register :func:`mentions_letter_e` as ``"mentions_e"`` (idempotent, per process)."""
    from spice_env.rewards import register_reasoner_reward

    register_reasoner_reward("mentions_e", mentions_letter_e, overwrite=True)


class ScriptedBackend:
    """A stand-in generation backend for collector tests: no model, scripted text.

    Challenger prompts are answered by the env's :class:`ScriptedChallenger` (with some
    deliberately invalid outputs), Reasoner prompts by a random letter or number in
    ``\\boxed{}``; the texts are tokenized with the given tokenizer, so they can be trained on.
    Every call is recorded in ``calls`` as ``(number of prompts, n, max_new_tokens)``, and its
    sampling temperature in ``temperatures``.
    """

    supports_logprobs = False
    supports_seed = True

    def __init__(self, tokenizer: Any, invalid_rate: float = 0.3) -> None:
        from spice_env.policies import ScriptedChallenger

        self.tokenizer = tokenizer
        self.invalid_rate = invalid_rate
        self.challenger_cls = ScriptedChallenger
        self.calls: list[tuple[int, int, int]] = []
        self.temperatures: list[float] = []

    def _encode(self, messages: Any) -> list[int]:
        text = self.tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=True
        )
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def generate(self, prompts: Sequence[Any], params: Any) -> list[list[Any]]:
        from spice_env.policies.sampling import Completion, derive_seed

        self.calls.append((len(prompts), params.n, params.max_new_tokens))
        self.temperatures.append(params.temperature)
        out = []
        for index, messages in enumerate(prompts):
            content = messages[-1]["content"]
            completions = []
            for sample in range(params.n):
                seed = derive_seed(params.seed, index, sample)
                text = self._text(content, seed)
                ids = list(self.tokenizer(text, add_special_tokens=False)["input_ids"])
                ids = ids[: params.max_new_tokens - 1] + [self.tokenizer.eos_token_id]
                completions.append(
                    Completion(
                        text=text,
                        token_ids=ids,
                        logprobs=None,
                        prompt_token_ids=self._encode(messages),
                        finish_reason="stop",
                    )
                )
            out.append(completions)
        return out

    def _text(self, content: str, seed: int) -> str:
        rng = random.Random(seed)
        match = re.search(r"<document>\n(.*?)\n</document>", content, re.S)
        if match is None:  # a Reasoner prompt
            if "letter of the correct option" in content:
                return f"\\boxed{{{rng.choice('ABCD')}}}"
            return f"\\boxed{{{rng.randint(0, 3)}}}"
        if "suitable_for_mcq" in content:
            stage, task_type, answer_type = "type_selection", None, None
        elif '"options"' in content:
            stage, task_type, answer_type = "generation", "mcq", "MCQ"
        else:
            stage, task_type = "generation", "free_form"
            answer_type = (
                "String" if "short phrase" in content.split("<document>")[0] else "Integer"
            )
        policy = self.challenger_cls(seed=seed, invalid_rate=self.invalid_rate)
        info = {
            "stage": stage,
            "task_type": task_type,
            "answer_type": answer_type,
            "document_id": str(seed),
        }
        return policy.act({"text": match.group(1)}, info)
