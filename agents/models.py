"""The model both roles share, its precision, and the backend that samples from it."""

from __future__ import annotations

from typing import Any

from spice_agents.config import TrainConfig

__all__ = ["build_model", "make_backend", "mixed_precision"]


def build_model(config: TrainConfig) -> tuple[Any, Any]:
    """Build or load the model both roles share, and its tokenizer, from ``config.model``.

    Returns:
        ``(model, tokenizer)``; the model is in float32 (mixed precision is applied by
        ``accelerate``, so the optimizer keeps float32 master weights even at a 1e-6 rate).
    """
    import torch

    spec = config.model
    if spec.model == "tiny":
        from spice_agents.tiny import build_tiny_model, build_tiny_tokenizer

        tokenizer = build_tiny_tokenizer(spec.tiny_vocab_size)
        model = build_tiny_model(
            tokenizer,
            hidden_size=spec.tiny_hidden_size,
            num_layers=spec.tiny_layers,
            num_heads=spec.tiny_heads,
            intermediate_size=2 * spec.tiny_hidden_size,
            seed=config.run.seed,
        )
    elif spec.model.startswith("random:"):
        from spice_agents.tiny import build_random_model, build_tiny_tokenizer

        tokenizer = build_tiny_tokenizer(spec.tiny_vocab_size)
        model = build_random_model(spec.model.split(":", 1)[1], tokenizer, seed=config.run.seed)
    elif spec.model in ("smollm2", "smollm2-135m-instruct"):
        from spice_env.policies.smollm2 import load_smollm2

        model, tokenizer = load_smollm2(dtype=torch.float32)
    else:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        kwargs: dict[str, Any] = {"dtype": torch.float32}
        if spec.attn_implementation:
            kwargs["attn_implementation"] = spec.attn_implementation
        model = AutoModelForCausalLM.from_pretrained(spec.model, **kwargs)
        tokenizer = AutoTokenizer.from_pretrained(spec.model)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    if spec.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.train()
    return model, tokenizer


def mixed_precision(config: TrainConfig) -> str:
    """accelerate's ``mixed_precision`` for ``config.model.dtype`` (``"auto"``: bf16 on CUDA)."""
    import torch

    dtype = config.model.dtype
    if dtype == "auto":
        use_bf16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
        return "bf16" if use_bf16 else "no"
    return {"float32": "no", "bfloat16": "bf16", "float16": "fp16"}[dtype]


def make_backend(config: TrainConfig, model: Any, tokenizer: Any, device: Any) -> Any:
    """The generation backend: vLLM with its own copy of the weights, or the trained model."""
    if config.generation.backend == "vllm":
        from spice_env.policies.vllm_backend import VLLMBackend  # GPU only

        # Its own copy of the weights: the trainer pushes new ones after every update.
        return VLLMBackend(
            config.model.model,
            seed=config.run.seed,
            gpu_memory_utilization=config.generation.vllm_gpu_memory_utilization,
        )
    from spice_env.policies.hf import HFBackend

    # The backend generates with the very model object being trained: no weight copies.
    return HFBackend(
        model, tokenizer, device=device, batch_size=config.generation.generation_batch_size
    )
