"""Shared helpers of the evaluation tests: the shared eval folder, synthetic files, fake models."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from spice_env.policies.sampling import Completion, SamplingParams, derive_seed

EVAL_FILES = (
    "math500",
    "gsm8k",
    "aime24",
    "amc23",
    "minerva_math",
    "olympiadbench",
    "mmlu_stem",
)


def eval_dir() -> Path:
    """``../shared/data/eval`` next to the project root, or ``$SPICE_EVAL_DATA``."""
    override = os.environ.get("SPICE_EVAL_DATA")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2].parent / "shared" / "data" / "eval"


def have_eval_data() -> bool:
    """Whether every shared evaluation file is present."""
    return all((eval_dir() / f"{name}.jsonl").is_file() for name in EVAL_FILES)


def write_jsonl(path: Path, rows: Sequence[dict[str, Any]]) -> Path:
    """Write rows as JSON Lines and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def addition_rows(count: int, start: int = 0) -> list[dict[str, Any]]:
    """GSM8K-format rows: ``What is a + b?`` with a worked answer ending in ``#### a+b``."""
    return [
        {"question": f"What is {i} + {2 * i + 1}?", "answer": f"Add them.\n#### {3 * i + 1}"}
        for i in range(start, start + count)
    ]


_NUMBERS = re.compile(r"What is (\d+) \+ (\d+)\?")


class AdditionBackend:
    """A fake LLM backend for the addition rows, counting every call and every prompt.

    Greedy: right when the first number is even. Sampled: right or wrong by a coin drawn from
    ``(seed, prompt index, sample index)``, so it behaves like a seeded real backend.

    Args:
        fail_after_calls: Raise ``KeyboardInterrupt`` on this call (1-based), as if killed.
    """

    supports_logprobs = False
    supports_seed = True

    def __init__(self, fail_after_calls: int | None = None) -> None:
        self.fail_after_calls = fail_after_calls
        self.calls = 0
        self.questions: list[str] = []

    def generate(self, prompts: Sequence[Any], params: SamplingParams) -> list[list[Completion]]:
        self.calls += 1
        if self.fail_after_calls is not None and self.calls >= self.fail_after_calls:
            raise KeyboardInterrupt
        out = []
        for index, prompt in enumerate(prompts):
            text = prompt if isinstance(prompt, str) else prompt[-1]["content"]
            match = _NUMBERS.search(text)
            assert match is not None, text
            self.questions.append(match.group(0))
            a, b = int(match.group(1)), int(match.group(2))
            samples = []
            for j in range(params.n):
                coin = derive_seed(params.seed, index, j) % 2 == 0
                right = a % 2 == 0 if params.greedy else coin
                answer = a + b if right else a + b + 1
                samples.append(
                    Completion(
                        text=f"Adding, I get \\boxed{{{answer}}}.",
                        token_ids=[1, 2, 3],
                        logprobs=None,
                        prompt_token_ids=None,
                        finish_reason="stop",
                    )
                )
            out.append(samples)
        return out
