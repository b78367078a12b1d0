"""Rule-based policies: a Challenger that writes real, valid cloze tasks from any document,
and Reasoners with known skill (oracle, random guesser, right with probability q).

They need no model and run in microseconds, for tests, benchmarks and as baselines.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from typing import Any

from spice_env.policies.base import BasePolicy

__all__ = ["NoisyReasoner", "OracleReasoner", "RandomReasoner", "ScriptedChallenger"]

# A sentence ends at . ! or ? followed by whitespace, so "6.93 m/s" stays inside one sentence.
_SENTENCE = re.compile(r"(?:[^.!?\n]|[.!?](?=[^\s]))+[.!?](?=\s|$)")
_NUMBER = re.compile(r"(?<![\w.,/])(\d{1,3}(?:,\d{3})+|\d+)(?![\w]|[.,/]\d)")
_TERM = re.compile(r"(?<=[a-z,;] )([A-Z][a-z]{2,}(?: [A-Z][a-z]{2,}){0,2})\b")
# The result of a computation written out in a sentence: "48/2 = 24", "$12 x 5 = $60".
_COMPUTED = re.compile(
    r"\d\s*[-+*/x\u00d7]\s*\$?\d[\d.,]*\s*=\s*\$?(\d{1,3}(?:,\d{3})+|\d+)(?![\w]|[.,/]\d)"
)
CLOZE_BLANK = "____"
"""What stands for the hidden number or term in a cloze question (the warm start reads it)."""


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.findall(text) if 6 <= len(s.split()) <= 60]


@dataclass
class _Cloze:
    sentence: str
    answer: str
    kind: str  # "number" or "term"

    @property
    def question(self) -> str:
        blanked = self.sentence.replace(self.answer, CLOZE_BLANK, 1)
        # Written to the env's question schema (an opener, a final "?", no quote or backslash),
        # so that these tasks, used as warm-start targets, are outputs the grammar allows.
        blanked = " ".join(blanked.replace('"', "'").replace("\\", "").split()).rstrip(".!?;:")
        what = "number" if self.kind == "number" else "name or term (at most three words)"
        return f"Which {what} fills the blank in this sentence: {blanked}?"


def _clozes(text: str, computed_only: bool = False) -> list[_Cloze]:
    found: list[_Cloze] = []
    for sentence in _sentences(text):
        if computed_only:
            for match in _COMPUTED.finditer(sentence):
                if sentence.count(match.group(1)) == 1:
                    found.append(_Cloze(sentence, match.group(1), "number"))
            continue
        for match in _NUMBER.finditer(sentence):
            if sentence.count(match.group(1)) == 1:
                found.append(_Cloze(sentence, match.group(1), "number"))
        for match in _TERM.finditer(sentence):
            if sentence.count(match.group(1)) == 1:
                found.append(_Cloze(sentence, match.group(1), "term"))
    return found


def _number_distractors(answer: str, document: str, rng: random.Random) -> list[str]:
    value = int(answer.replace(",", ""))
    pool = {m.replace(",", "") for m in _NUMBER.findall(document)} - {str(value)}
    choices = sorted(pool, key=lambda n: abs(int(n) - value))[:6]
    rng.shuffle(choices)
    for delta in (1, 2, 10, -1, 5, value or 3):
        choices.append(str(value + delta))
    out: list[str] = []
    for c in choices:
        if c not in out and c != str(value):
            out.append(c)
    return out[:3]


def _term_distractors(answer: str, document: str, rng: random.Random) -> list[str]:
    pool = sorted({m for m in _TERM.findall(document)} - {answer})
    rng.shuffle(pool)
    fallback = ["Aristotle", "Mercury", "Nitrogen", "Pacific Ocean", "Euler", "Mitochondria"]
    out = [p for p in pool if p.lower() != answer.lower()][:3]
    out += [f for f in fallback if f != answer and f not in out]
    return out[:3]


class ScriptedChallenger(BasePolicy):
    """Writes fill-in-the-blank tasks from sentences of the document.

    Free form: a number or a capitalized term (at most three words) is blanked out of a
    sentence; the answer type is Integer for numbers and String for terms. Multiple choice:
    the same cloze with three distractors taken from the document (nearby numbers, other
    terms). The tasks are valid, grounded and not leaked by construction.

    Args:
        seed: Base seed; each call is seeded from (seed, document, call count), so runs repeat.
        invalid_rate: Probability of writing deliberately malformed output, to exercise the
            invalid-task path.
        computed_only: Blank only the result of a computation the sentence writes out
            ("Natalia sold 48/2 = ____ clips in May."), so that the question alone gives the
            answer; most other clozes ask to recall the document, which a Reasoner never sees.
            A document without such a sentence gets no task (an invalid one).
    """

    def __init__(
        self, seed: int = 0, invalid_rate: float = 0.0, computed_only: bool = False
    ) -> None:
        if not 0.0 <= invalid_rate <= 1.0:
            raise ValueError(f"invalid_rate={invalid_rate} must be in [0, 1]")
        self.seed = seed
        self.invalid_rate = invalid_rate
        self.computed_only = computed_only
        self._calls = 0

    def _rng(self, info: dict[str, Any]) -> random.Random:
        self._calls += 1
        return random.Random(f"{self.seed}:{info.get('document_id')}:{self._calls}")

    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
        rng = self._rng(info)
        document = observation["text"]
        if rng.random() < self.invalid_rate:
            return rng.choice(
                ['{"question": ', "I cannot write a task.", '{"question": "", "answer": ""}']
            )
        clozes = _clozes(document, self.computed_only)
        numbers = [c for c in clozes if c.kind == "number"]
        if info.get("stage") == "type_selection":
            return json.dumps(
                {
                    "suitable_for_mcq": bool(clozes),
                    "suitable_for_free_form": bool(clozes),
                    "best_answer_type": "Integer" if numbers else "String",
                    "reason": f"{len(numbers)} numeric and {len(clozes) - len(numbers)} term facts",
                }
            )
        if info.get("task_type") == "mcq":
            return self._mcq(clozes, document, rng)
        return self._free_form(clozes, info.get("answer_type"), rng)

    def _pick(self, clozes: list[_Cloze], kind: str | None, rng: random.Random) -> _Cloze | None:
        preferred = [c for c in clozes if c.kind == kind] if kind else []
        pool = preferred or clozes
        return rng.choice(pool) if pool else None

    def _free_form(self, clozes: list[_Cloze], answer_type: str | None, rng: random.Random) -> str:
        cloze = self._pick(clozes, "term" if answer_type == "String" else "number", rng)
        if cloze is None:
            return json.dumps({"question": "", "answer": "", "answer_type": "", "solution": ""})
        if cloze.kind == "number":
            answer, kind = (
                cloze.answer.replace(",", ""),
                answer_type if answer_type in ("Integer", "Expression") else "Integer",
            )
        else:
            answer, kind = cloze.answer, "String"
        return json.dumps(
            {
                "question": cloze.question,
                "answer": answer,
                "answer_type": kind,
                "solution": f"The sentence states: {cloze.sentence}",
            }
        )

    def _mcq(self, clozes: list[_Cloze], document: str, rng: random.Random) -> str:
        cloze = self._pick(clozes, None, rng)
        if cloze is None:
            return json.dumps({"question": "", "options": {}, "answer": ""})
        if cloze.kind == "number":
            correct = cloze.answer.replace(",", "")
            wrong = _number_distractors(cloze.answer, document, rng)
        else:
            correct = cloze.answer
            wrong = _term_distractors(cloze.answer, document, rng)
        options = [correct, *wrong]
        rng.shuffle(options)
        letter = "ABCD"[options.index(correct)]
        return (
            "Here is the task.\n```json\n"
            + json.dumps(
                {
                    "question": cloze.question,
                    "options": dict(zip("ABCD", options)),
                    "answer": letter,
                    "solution": f"The sentence states: {cloze.sentence}",
                }
            )
            + "\n```"
        )


def _gold(info: dict[str, Any]) -> str:
    privileged = info.get("privileged")
    if not privileged:
        raise ValueError(
            "this scripted Reasoner reads the gold answer from info['privileged']: make the env "
            "with privileged_info=True (the rollout driver and `spice play` do)"
        )
    return str(privileged["answer"])


class OracleReasoner(BasePolicy):
    """Always right: reads the gold answer from ``info["privileged"]`` (for tests and as an
    upper bound; needs an env made with ``privileged_info=True``). An honest policy never
    reads that field."""

    uses_privileged_info = True

    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
        return f"Working from what I know, the answer is \\boxed{{{_gold(info)}}}."


class RandomReasoner(BasePolicy):
    """A random letter for multiple choice, a random integer in [0, 100] otherwise."""

    def __init__(self, seed: int = 0) -> None:
        self._rng = random.Random(seed)

    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
        if (info.get("task") or {}).get("task_type") == "mcq":
            return f"\\boxed{{{self._rng.choice('ABCD')}}}"
        return f"\\boxed{{{self._rng.randint(0, 100)}}}"


def _wrong_answer(gold: str, task_type: str | None, rng: random.Random) -> str:
    if task_type == "mcq":
        return rng.choice([letter for letter in "ABCD" if letter != gold.strip().upper()])
    digits = gold.replace(",", "").strip()
    if re.fullmatch(r"[+-]?\d+", digits):
        return str(int(digits) + rng.choice([-2, -1, 1, 2, 10]))
    return "no answer"


class NoisyReasoner(BasePolicy):
    """Right with probability ``q``, otherwise a definitely wrong answer.

    Reads the gold from ``info["privileged"]``, like :class:`OracleReasoner`.

    Args:
        q: Probability of answering correctly.
        seed: Seed of its own RNG.
    """

    uses_privileged_info = True

    def __init__(self, q: float = 0.5, seed: int = 0) -> None:
        if not 0.0 <= q <= 1.0:
            raise ValueError(f"q={q} must be in [0, 1]")
        self.q = q
        self._rng = random.Random(seed)

    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
        gold = _gold(info)
        if self._rng.random() < self.q:
            return f"So the final answer is \\boxed{{{gold}}}."
        task_type = (info.get("task") or {}).get("task_type")
        return f"So the final answer is \\boxed{{{_wrong_answer(gold, task_type, self._rng)}}}."
