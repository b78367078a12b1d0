"""A tiny causal language model and a tokenizer trained on the fly, for the ``cpu-tiny`` preset.

Nothing is downloaded: the tokenizer is a byte-level BPE trained in well under a second on the
embedded corpus and the prompt templates (so prompts tokenize into few tokens), and the model
is a Qwen3-shaped transformer built from a config with random weights. Both are deterministic
for a given seed, so tests and resumed runs see the same vocabulary and the same start.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from typing import Any

__all__ = [
    "RANDOM_SHAPES",
    "TINY_CHAT_TEMPLATE",
    "build_random_model",
    "build_tiny_model",
    "build_tiny_tokenizer",
    "tiny_training_texts",
]

# Plain role tags rather than a copied vendor template: the tiny model starts from nothing, so
# any consistent format works, and short tags keep prompts short.
TINY_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|{{ message['role'] }}|>{{ message['content'] }}<|end|>"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
_SPECIAL_TOKENS = ["<|pad|>", "<|end|>", "<|system|>", "<|user|>", "<|assistant|>"]


def tiny_training_texts() -> Iterator[str]:
    """Texts the tiny tokenizer learns its merges from: the embedded corpus and every prompt.

    Yields:
        Document texts, then the rendered prompt templates of both roles.
    """
    import spice_env
    from spice_env.prompts import DEFAULT_PROMPTS

    corpus = spice_env.load_corpus(None)
    for document in corpus:
        yield document.text
    sample = "A short document about numbers 0 1 2 3 4 5 6 7 8 9."
    for messages in (
        DEFAULT_PROMPTS.type_selection_messages(sample),
        DEFAULT_PROMPTS.mcq_messages(sample),
        DEFAULT_PROMPTS.free_form_messages(sample, "Integer"),
        DEFAULT_PROMPTS.reasoner_messages("What is 2 + 3?", None),
        DEFAULT_PROMPTS.reasoner_messages("Pick one.", ("a", "b", "c", "d")),
    ):
        for message in messages:
            yield message["content"]
    # The answer formats the Reasoner is rewarded for, so each is a handful of tokens.
    yield " ".join(f"\\boxed{{{letter}}} answer is {letter}" for letter in "ABCD")


def _train_bpe(texts: Iterable[str], vocab_size: int) -> Any:
    """A byte-level BPE ``tokenizers.Tokenizer`` trained on ``texts``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=_SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return tokenizer


@functools.lru_cache(maxsize=4)
def _trained_tokenizer_json(vocab_size: int) -> str:
    return _train_bpe(tiny_training_texts(), vocab_size).to_str()


def build_tiny_tokenizer(vocab_size: int = 512, texts: Iterable[str] | None = None) -> Any:
    """A ``transformers`` fast tokenizer (byte-level BPE) with a chat template.

    Args:
        vocab_size: Target vocabulary size, special tokens included (at least 262: the 256
            byte symbols plus the special tokens).
        texts: Training texts; ``None`` uses :func:`tiny_training_texts` (and caches the
            result per ``vocab_size`` for the process).

    Returns:
        A ``PreTrainedTokenizerFast`` whose ``eos_token`` ends every chat turn.
    """
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    if vocab_size < 256 + len(_SPECIAL_TOKENS):
        raise ValueError(
            f"vocab_size={vocab_size} is below the byte alphabet; use at least "
            f"{256 + len(_SPECIAL_TOKENS)}"
        )
    if texts is None:
        backend = Tokenizer.from_str(_trained_tokenizer_json(vocab_size))
    else:
        backend = _train_bpe(texts, vocab_size)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        eos_token="<|end|>",
        pad_token="<|pad|>",
        padding_side="left",
    )
    tokenizer.chat_template = TINY_CHAT_TEMPLATE
    return tokenizer


def build_tiny_model(
    tokenizer: Any,
    *,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    intermediate_size: int = 128,
    max_positions: int = 4096,
    seed: int = 0,
) -> Any:
    """A randomly initialized Qwen3-shaped causal LM sized for unit tests on a CPU.

    Args:
        tokenizer: The tokenizer whose vocabulary and special tokens the model uses.
        hidden_size: Width of the residual stream.
        num_layers: Transformer blocks.
        num_heads: Attention heads (key/value heads are half as many, as in Qwen3).
        intermediate_size: Width of the MLP.
        max_positions: Longest sequence (prompt plus completion).
        seed: Seed of the weight initialization (the global torch RNG is left untouched).

    Returns:
        A ``Qwen3ForCausalLM`` in float32, in train mode.
    """
    from transformers import Qwen3Config

    config = Qwen3Config(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=intermediate_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=max(1, num_heads // 2),
        head_dim=hidden_size // num_heads,
        max_position_embeddings=max_positions,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
    )
    return _seeded_qwen3(config, tokenizer, seed)


RANDOM_SHAPES: dict[str, dict[str, Any]] = {
    "qwen3-0.6b": dict(
        hidden_size=1024,
        intermediate_size=3072,
        num_hidden_layers=28,
        num_attention_heads=16,
        num_key_value_heads=8,
        head_dim=128,
    ),
    "qwen3-4b": dict(
        hidden_size=2560,
        intermediate_size=9728,
        num_hidden_layers=36,
        num_attention_heads=32,
        num_key_value_heads=8,
        head_dim=128,
    ),
}
"""Published Qwen3 shapes (vocabulary 151,936, tied embeddings) for random-weight models."""


def build_random_model(shape: str, tokenizer: Any, *, seed: int = 0) -> Any:
    """A randomly initialized model with a real model's shape: GPU throughput tests without
    downloading weights (``model="random:qwen3-4b"``).

    The vocabulary keeps the real size, so the LM head costs what it really costs; ids beyond
    the tokenizer's vocabulary decode to nothing, which is fine for timing.

    Args:
        shape: A key of :data:`RANDOM_SHAPES`.
        tokenizer: The tokenizer to pair it with (the tiny one is enough).
        seed: Initialization seed.
    """
    from transformers import Qwen3Config

    if shape not in RANDOM_SHAPES:
        raise ValueError(f"unknown shape {shape!r}; choose one of {', '.join(RANDOM_SHAPES)}")
    config = Qwen3Config(
        vocab_size=151_936,
        max_position_embeddings=40_960,
        rope_theta=1_000_000.0,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
        **RANDOM_SHAPES[shape],
    )
    return _seeded_qwen3(config, tokenizer, seed)


def _seeded_qwen3(config: Any, tokenizer: Any, seed: int) -> Any:
    """Build a ``Qwen3ForCausalLM`` from ``config`` with seeded weights, generation config
    taken from the tokenizer."""
    import torch
    from transformers import Qwen3ForCausalLM

    # Fork the RNG so that building a model does not shift the caller's random stream.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Qwen3ForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    return model
