"""What the trainer relies on in the transformers backend, on the real SmolLM2 model."""

from __future__ import annotations

from typing import Any

import pytest

from spice_env.policies.sampling import SamplingParams

torch = pytest.importorskip("torch", reason="needs torch: pip install 'spice-env[train]'")

pytestmark = pytest.mark.slow

CHAT = [{"role": "user", "content": "Name three prime numbers."}]
LONG_CHAT = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Explain in two sentences why the sky looks blue at noon."},
]
RAW = "The three primary colours are"


def test_logprobs_match_a_teacher_forced_forward_pass(hf_backend: Any) -> None:
    params = SamplingParams(n=2, temperature=1.0, top_p=0.9, max_new_tokens=6, seed=1)
    for completion in hf_backend.generate([CHAT], params)[0]:
        ids = torch.tensor([completion.prompt_token_ids + completion.token_ids])
        with torch.no_grad():
            logits = hf_backend.model(ids).logits[0].float()
        start = len(completion.prompt_token_ids)
        reference = torch.log_softmax(logits[start - 1 : -1], dim=-1)
        expected = reference.gather(-1, torch.tensor(completion.token_ids)[:, None]).squeeze(-1)
        assert completion.logprobs == pytest.approx(expected.tolist(), abs=1e-3)


def test_batch_size_and_neighbours_do_not_change_samples(hf_backend: Any) -> None:
    from spice_env.policies.hf import HFBackend

    one_at_a_time = HFBackend(hf_backend.model, hf_backend.tokenizer, batch_size=1)
    for params in (
        SamplingParams(temperature=0.0, max_new_tokens=4),
        SamplingParams(n=2, temperature=1.0, max_new_tokens=4, seed=9),
    ):
        batched = hf_backend.generate([LONG_CHAT, RAW, CHAT], params)
        single = one_at_a_time.generate([LONG_CHAT, RAW, CHAT], params)
        assert [[c.token_ids for c in p] for p in batched] == [
            [c.token_ids for c in p] for p in single
        ]


def test_chat_template_is_applied_and_eos_ends_the_text(hf_backend: Any) -> None:
    params = SamplingParams(temperature=0.0, max_new_tokens=48)
    completion = hf_backend.generate([CHAT], params)[0][0]
    prompt = hf_backend.tokenizer.decode(completion.prompt_token_ids)
    assert prompt.rstrip().endswith("assistant")  # the template's generation cue
    if completion.finish_reason == "stop":
        assert completion.token_ids[-1] in hf_backend.eos_token_ids
        assert "<|im_end|>" not in completion.text


def test_model_is_shared_and_left_trainable(hf_backend: Any) -> None:
    model = hf_backend.model
    model.train()
    try:
        hf_backend.generate([RAW], SamplingParams(max_new_tokens=2, seed=0))
        assert model.training  # restored for the trainer
        assert hf_backend.tokenizer.padding_side == "left"
        # Generation leaves nothing behind that would break the trainer's backward pass.
        ids = torch.tensor([hf_backend.encode_prompt(RAW)])
        loss = model(ids, labels=ids).loss
        loss.backward()
        assert model.lm_head.weight.grad is not None
    finally:
        model.zero_grad(set_to_none=True)
        model.eval()


def test_defaults_fp32_on_cpu() -> None:
    from spice_env.policies.hf import default_dtype

    assert default_dtype("cpu") is torch.float32
    if torch.cuda.is_available():
        assert default_dtype("cuda") in (torch.bfloat16, torch.float16)


def test_from_pretrained_smollm2_uses_the_cached_checkpoint(
    smollm2: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from spice_env.policies import smollm2 as smollm2_module
    from spice_env.policies.hf import HFBackend

    def no_conversion(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the cached checkpoint should have been reused")

    monkeypatch.setattr(smollm2_module, "_convert", no_conversion)
    backend = HFBackend.from_pretrained("smollm2", device="cpu")
    assert next(backend.model.parameters()).dtype is torch.float32
    assert backend.device.type == "cpu"
    assert not backend.model.training


def test_no_chat_template_falls_back_to_plain_text(hf_backend: Any) -> None:
    tokenizer = hf_backend.tokenizer
    template = tokenizer.chat_template
    tokenizer.chat_template = None
    try:
        ids = hf_backend.encode_prompt(LONG_CHAT)
    finally:
        tokenizer.chat_template = template
    text = tokenizer.decode(ids)
    assert "You are a helpful assistant." in text and text.rstrip().endswith("Assistant:")
    assert "<|im_start|>" not in text
