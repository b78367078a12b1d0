"""Grammar-constrained decoding (llguidance) on the real SmolLM2 tokenizer and model.

- Random walks through each Challenger schema's grammar (no model: a uniformly random allowed
  token at every step) write JSON that jsonschema accepts and the task parser reads.
- The transformers backend under a schema writes valid JSON, and the log-probs it reports are
  those of the masked distribution: a teacher-forced forward pass with the replayed masks gives
  the same numbers, and the same pass without the masks does not.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from spice_env.policies.sampling import SamplingParams
from spice_env.tasks import (
    InvalidReason,
    challenger_schema,
    parse_task,
    parse_type_selection,
)

torch = pytest.importorskip("torch", reason="needs torch: pip install 'spice-env[train]'")
pytest.importorskip("llguidance", reason="needs llguidance: pip install 'spice-env[train]'")
jsonschema = pytest.importorskip(
    "jsonschema", reason="needs jsonschema: pip install 'spice-env[dev]'"
)

from spice_env.policies.grammar import (  # noqa: E402
    ConstrainedRows,
    apply_bitmask,
    bitmask_width,
    compile_json_schema,
    masked_token_logprobs,
    replay_masks,
    unpack_bitmask,
)

STAGES = [
    ("type_selection", None, None),
    ("generation", "mcq", None),
    ("generation", "free_form", "Integer"),
    ("generation", "free_form", "Expression"),
    ("generation", "free_form", "String"),
]


@pytest.fixture(scope="module")
def tokenizer(smollm2: tuple[Any, Any]) -> Any:
    return smollm2[1]


def _outside_strings(text: str) -> str:
    """The characters of a JSON text that are not inside a string."""
    out, in_string, escaped = [], False, False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        else:
            out.append(ch)
    return "".join(out)


def _random_walk(schema: dict[str, Any], tokenizer: Any, rng: random.Random) -> list[int]:
    """Token ids of one output chosen uniformly among the allowed tokens at every step."""
    vocab = len(tokenizer)
    rows = ConstrainedRows(schema, tokenizer, vocab, 1)
    ids: list[int] = []
    for _ in range(4000):
        allowed = unpack_bitmask(rows.masks([0]), vocab)[0].nonzero().flatten().tolist()
        token = rng.choice(allowed)
        ids.append(token)
        if token == tokenizer.eos_token_id:
            return ids
        assert rows.consume(0, token)
    raise AssertionError("the random walk did not end: a string bound is missing")


@pytest.mark.parametrize(("stage", "task_type", "answer_type"), STAGES)
def test_random_outputs_of_the_grammar_follow_the_schema_and_parse(
    tokenizer: Any, stage: str, task_type: str | None, answer_type: str | None
) -> None:
    schema = challenger_schema(stage, task_type, answer_type, max_tokens=384)
    rng = random.Random(f"{stage}{task_type}{answer_type}")
    for _ in range(3):
        ids = _random_walk(schema, tokenizer, rng)
        assert ids[-1] == tokenizer.eos_token_id
        text = tokenizer.decode(ids, skip_special_tokens=True)
        assert not any(ch.isspace() for ch in _outside_strings(text))  # compact JSON
        value = json.loads(text)
        jsonschema.validate(value, schema)
        if stage == "type_selection":
            assert not isinstance(parse_type_selection(text), InvalidReason) or not (
                value["suitable_for_mcq"] or value["suitable_for_free_form"]
            )
            continue
        check = parse_task(text, task_type)
        if check.valid:
            continue
        # What a schema cannot forbid: blank text, and (multiple choice) equal options.
        blank = not value["question"].strip() or not value["answer"].strip()
        if task_type == "mcq":
            options = [o.strip().lower() for o in value["options"].values()]
            blank = blank or not all(options) or len(set(options)) < 4
        assert blank and check.reason in (
            InvalidReason.EMPTY_FIELDS,
            InvalidReason.MCQ_BAD_OPTIONS,
        ), (check.reason, text)


def test_replay_rebuilds_the_masks_and_refuses_foreign_tokens(tokenizer: Any) -> None:
    schema = challenger_schema("generation", "mcq", max_tokens=256)
    text = (
        '{"question":"Which noble gas is most common in air?","options":{"A":"Oxygen","B":"Argon","C":"Neon","D":"Xenon"},'
        '"answer":"B","solution":"Argon."}'
    )
    ids = tokenizer(text, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    masks = replay_masks(schema, tokenizer, ids)
    assert masks.shape == (len(ids), bitmask_width(len(tokenizer))) and masks.dtype == torch.int32
    allowed = unpack_bitmask(masks, len(tokenizer))
    assert allowed[torch.arange(len(ids)), torch.tensor(ids)].all()
    # The first step allows only the opening of the object; the last only end-of-sequence.
    assert allowed[-1].nonzero().flatten().tolist() == [tokenizer.eos_token_id]
    first = [tokenizer.decode([t]) for t in allowed[0].nonzero().flatten().tolist()]
    assert first and all('{"question":"'.startswith(piece) for piece in first)
    with pytest.raises(ValueError, match="not allowed by the grammar"):
        replay_masks(schema, tokenizer, tokenizer(" {", add_special_tokens=False)["input_ids"])


def test_apply_bitmask_masks_exactly_the_disallowed_tokens() -> None:
    vocab = 70  # not a multiple of 32, and logits wider than the mask
    allowed = torch.zeros(2, vocab, dtype=torch.bool)
    allowed[0, [0, 31, 32, 63, 64]] = True
    allowed[1, [5, 69]] = True
    words = torch.zeros(2, bitmask_width(vocab), dtype=torch.int64)
    for row, token in allowed.nonzero().tolist():
        words[row, token // 32] |= 1 << (token % 32)
    bitmask = torch.tensor(
        [[w - 2**32 if w >= 2**31 else w for w in row] for row in words.tolist()],
        dtype=torch.int32,
    )
    assert torch.equal(unpack_bitmask(bitmask, vocab), allowed)
    logits = torch.randn(2, vocab + 3)
    masked = apply_bitmask(logits, bitmask)
    assert torch.equal(torch.isfinite(masked[:, :vocab]), allowed)
    assert torch.isinf(masked[:, vocab:]).all()
    assert torch.equal(masked[:, :vocab][allowed], logits[:, :vocab][allowed])


def test_a_schema_llguidance_cannot_compile_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="llguidance"):
        compile_json_schema({"type": "string", "pattern": "(unclosed"})


# -- the transformers backend under a schema (real SmolLM2) -------------------------------------
def _document() -> tuple[str, list[dict[str, str]]]:
    """A document of the embedded corpus and the env's type-selection messages for it."""
    import gymnasium as gym

    import spice_env  # noqa: F401

    env = gym.make("SpiceCorpus-v0")
    observation, info = env.reset(seed=5)
    return observation["text"], info["messages"]


@pytest.mark.slow
def test_constrained_generation_is_valid_and_its_logprobs_are_the_masked_ones(
    hf_backend: Any,
) -> None:
    """The agreement test: generator log-probs vs a teacher-forced forward with replayed masks.

    Goal: largest |gap| under 1e-4 (fp32, CPU). The same forward without the masks must
    disagree, or the test could not tell a masked log-prob from a raw one.
    """
    from spice_env.prompts import DEFAULT_PROMPTS

    document, messages = _document()
    cases = [
        (messages, 160, challenger_schema("type_selection", max_tokens=160)),
        (
            DEFAULT_PROMPTS.mcq_messages(document),
            256,
            challenger_schema("generation", "mcq", max_tokens=256),
        ),
        (
            DEFAULT_PROMPTS.free_form_messages(document, "String"),
            256,
            challenger_schema("generation", "free_form", "String", max_tokens=256),
        ),
    ]
    model, tokenizer = hf_backend.model, hf_backend.tokenizer
    vocab = model.config.vocab_size
    masked_gap, raw_gap = 0.0, 0.0
    for prompt, budget, schema in cases:
        params = SamplingParams(
            n=2, temperature=1.0, max_new_tokens=budget, seed=3, json_schema=schema
        )
        for completion in hf_backend.generate([prompt], params)[0]:
            assert completion.json_schema == schema and completion.logprobs_masked
            if completion.finish_reason == "stop":
                jsonschema.validate(json.loads(completion.text), schema)
            ids = torch.tensor([completion.prompt_token_ids + completion.token_ids])
            with torch.no_grad():
                logits = model(ids).logits[0].float()
            start = len(completion.prompt_token_ids)
            step_logits = logits[start - 1 : -1]
            targets = torch.tensor(completion.token_ids)
            masks = replay_masks(schema, tokenizer, completion.token_ids, vocab)
            trainer = masked_token_logprobs(step_logits, masks, targets)
            raw = torch.log_softmax(step_logits, -1).gather(-1, targets[:, None]).squeeze(-1)
            generator = torch.tensor(completion.logprobs)
            masked_gap = max(masked_gap, float((trainer - generator).abs().max()))
            raw_gap = max(raw_gap, float((raw - generator).abs().max()))
    print(f"largest |gap|: masked {masked_gap:.2e}, without masks {raw_gap:.2e}")
    assert masked_gap < 1e-4
    assert raw_gap > 1e-2


@pytest.mark.slow
def test_greedy_constrained_decoding_repeats_and_ends_with_eos(hf_backend: Any) -> None:
    schema = challenger_schema("type_selection", max_tokens=160)
    params = SamplingParams(temperature=0.0, max_new_tokens=160, json_schema=schema)
    _, messages = _document()
    first = hf_backend.generate([messages], params)[0][0]
    again = hf_backend.generate([messages], params)[0][0]
    assert first.token_ids == again.token_ids
    assert (
        first.finish_reason == "stop" and first.token_ids[-1] == hf_backend.tokenizer.eos_token_id
    )
    assert not isinstance(parse_type_selection(first.text), InvalidReason) or (
        json.loads(first.text)["suitable_for_mcq"] is False
    )
    # Unconstrained completions say so.
    free = hf_backend.generate([messages], SamplingParams(temperature=0.0, max_new_tokens=4))
    assert free[0][0].json_schema is None and not free[0][0].logprobs_masked
