"""Grammar-constrained decoding with llguidance: allowed-token masks, and their replay.

A JSON Schema is compiled once into an llguidance grammar (compact JSON: no whitespace between
tokens of the structure, ``,`` and ``:`` as separators, because small models that may write
free whitespace write a lot of it). At each decoding step a matcher per row gives the mask of
allowed tokens as a packed bitmask (int32 words, bit ``j`` of word ``i`` is token
``32 * i + j``, llguidance's layout), the backend masks the logits with :func:`apply_bitmask`,
samples, and the matcher consumes the sampled token.

A trainer rebuilds the same masks from stored token ids with :func:`replay_masks` and scores
the tokens under the masked distribution with :func:`masked_token_logprobs`, so its log-probs
are those of the policy that actually sampled.

Needs ``llguidance`` (``pip install 'spice-env[train]'``) and torch.
"""

from __future__ import annotations

import json
import threading
import weakref
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import torch

__all__ = [
    "COMPACT_JSON",
    "ConstrainedRows",
    "apply_bitmask",
    "bitmask_width",
    "compile_json_schema",
    "grammar_tokenizer",
    "masked_log_softmax",
    "masked_token_logprobs",
    "replay_masks",
    "unpack_bitmask",
]

COMPACT_JSON = {"whitespace_flexible": False, "item_separator": ",", "key_separator": ":"}
"""llguidance JSON options: no free whitespace, compact separators."""

_INSTALL_HINT = (
    "Grammar-constrained decoding in the transformers backend needs llguidance: "
    "pip install 'spice-env[train]' (or pip install llguidance)"
)


def _llguidance() -> Any:
    try:
        import llguidance
    except ImportError as error:  # pragma: no cover - depends on the install
        raise ImportError(_INSTALL_HINT) from error
    return llguidance


def bitmask_width(vocab_size: int) -> int:
    """int32 words per mask row for a vocabulary of ``vocab_size`` tokens."""
    return (vocab_size + 31) // 32


@lru_cache(maxsize=64)
def _compile(schema_json: str) -> str:
    llguidance = _llguidance()
    grammar = llguidance.LLMatcher.grammar_from_json_schema(schema_json, overrides=COMPACT_JSON)
    is_error, messages = llguidance.LLMatcher.validate_grammar_with_warnings(grammar)
    if is_error:
        raise ValueError(f"llguidance cannot compile this JSON Schema: {messages[0]}")
    return grammar


def compile_json_schema(schema: Mapping[str, Any]) -> str:
    """The llguidance grammar of a JSON Schema, with :data:`COMPACT_JSON` (cached).

    Args:
        schema: A JSON Schema.

    Returns:
        The serialized llguidance grammar.

    Raises:
        ValueError: llguidance cannot compile the schema (the message says why).
    """
    # Not sorted: llguidance writes properties in the schema's order, which the prompt follows.
    return _compile(json.dumps(schema, separators=(",", ":")))


_TOKENIZERS: weakref.WeakKeyDictionary[Any, dict[int, Any]] = weakref.WeakKeyDictionary()
_TOKENIZERS_LOCK = threading.Lock()


def grammar_tokenizer(tokenizer: Any, vocab_size: int | None = None) -> Any:
    """llguidance's view of a Hugging Face fast tokenizer (built once per tokenizer, ~1 s).

    Args:
        tokenizer: A ``PreTrainedTokenizerFast``.
        vocab_size: The model's vocabulary (logits) size, when the embedding is larger than
            the tokenizer; default: the tokenizer's own size.

    Returns:
        An ``llguidance.LLTokenizer`` whose end-of-sequence is ``tokenizer.eos_token_id``.
    """
    _llguidance()
    from llguidance.hf import from_tokenizer

    size = int(vocab_size) if vocab_size is not None else len(tokenizer)
    with _TOKENIZERS_LOCK:
        per_size = _TOKENIZERS.setdefault(tokenizer, {})
        if size not in per_size:
            per_size[size] = from_tokenizer(
                tokenizer, n_vocab=size, eos_token=tokenizer.eos_token_id
            )
        return per_size[size]


def unpack_bitmask(bitmask: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """Expand packed masks to booleans.

    Args:
        bitmask: int32 tensor ``[..., bitmask_width(V)]`` (llguidance's layout).
        vocab_size: V.

    Returns:
        A bool tensor ``[..., V]``, True where the token is allowed.
    """
    shifts = torch.arange(32, dtype=torch.int32, device=bitmask.device)
    bits = (bitmask.unsqueeze(-1) >> shifts) & 1
    return bits.reshape(*bitmask.shape[:-1], -1)[..., :vocab_size].bool()


def apply_bitmask(logits: torch.Tensor, bitmask: torch.Tensor) -> torch.Tensor:
    """Logits with the disallowed tokens set to ``-inf`` (a new tensor).

    Args:
        logits: ``[..., V]``; tokens beyond the mask's ``32 * width`` are disallowed.
        bitmask: int32 ``[..., width]`` on any device, one row per logits row.

    Returns:
        The masked logits, same shape and dtype.
    """
    vocab = logits.shape[-1]
    allowed = unpack_bitmask(bitmask.to(logits.device), vocab)
    if allowed.shape[-1] < vocab:
        pad = allowed.new_zeros((*allowed.shape[:-1], vocab - allowed.shape[-1]))
        allowed = torch.cat([allowed, pad], dim=-1)
    return logits.masked_fill(~allowed, float("-inf"))


def masked_log_softmax(logits: torch.Tensor, bitmask: torch.Tensor) -> torch.Tensor:
    """Log-softmax over the allowed tokens only (``-inf`` elsewhere), at temperature 1.

    Args:
        logits: ``[..., V]`` (computed in float32 for stability).
        bitmask: int32 ``[..., width]``.

    Returns:
        float32 log-probabilities ``[..., V]`` of the masked distribution.
    """
    return torch.log_softmax(apply_bitmask(logits.float(), bitmask), dim=-1)


def masked_token_logprobs(
    logits: torch.Tensor, bitmask: torch.Tensor, token_ids: torch.Tensor
) -> torch.Tensor:
    """Log-probabilities of ``token_ids`` under the masked distribution (differentiable).

    Args:
        logits: ``[T, V]``: the logits that predicted each token (position ``t`` predicts
            ``token_ids[t]``).
        bitmask: ``[T, width]`` from :func:`replay_masks`.
        token_ids: ``[T]`` long.

    Returns:
        float32 ``[T]``; what a constrained backend reports as the completion's log-probs.
    """
    logprobs = masked_log_softmax(logits, bitmask)
    return logprobs.gather(-1, token_ids.long().unsqueeze(-1)).squeeze(-1)


class ConstrainedRows:
    """One llguidance matcher per decoding row, all following one JSON Schema.

    Args:
        schema: The JSON Schema.
        tokenizer: The model's Hugging Face fast tokenizer.
        vocab_size: The model's logits size.
        rows: How many rows (samples) decode together.

    Attributes:
        vocab_size: V.
        eos_token_id: The end-of-sequence token the grammar allows once the JSON is complete.
    """

    def __init__(self, schema: Mapping[str, Any], tokenizer: Any, vocab_size: int, rows: int):
        llguidance = _llguidance()
        grammar = compile_json_schema(schema)
        ll_tokenizer = grammar_tokenizer(tokenizer, vocab_size)
        self.vocab_size = int(vocab_size)
        self.eos_token_id = int(tokenizer.eos_token_id)
        self._matchers = [llguidance.LLMatcher(ll_tokenizer, grammar) for _ in range(rows)]
        for matcher in self._matchers[:1]:
            if matcher.is_error():
                raise ValueError(f"llguidance rejected the grammar: {matcher.get_error()}")
        self._buffer = np.zeros((rows, bitmask_width(self.vocab_size)), dtype=np.int32)
        eos_only = np.zeros(bitmask_width(self.vocab_size), dtype=np.int32)
        eos_only[self.eos_token_id // 32] = np.int32(np.uint32(1 << (self.eos_token_id % 32)))
        self._eos_only = eos_only

    def masks(self, rows: Sequence[int]) -> torch.Tensor:
        """Packed allowed-token masks of some rows, in that order.

        A row whose matcher is in an error state (which a correct grammar never reaches) is
        given end-of-sequence only, so it ends instead of sampling from an empty set.

        Args:
            rows: Row indices.

        Returns:
            int32 tensor ``[len(rows), width]`` on the CPU.
        """
        out = self._buffer[: len(rows)]
        for position, row in enumerate(rows):
            matcher = self._matchers[row]
            target = out[position]
            matcher.unsafe_compute_mask_ptr(target.ctypes.data, target.nbytes)
            if matcher.is_error() or not target.any():
                target[:] = self._eos_only
        return torch.from_numpy(out.copy())

    def consume(self, row: int, token_id: int) -> bool:
        """Advance a row's matcher by its sampled token; ``False`` if the grammar refused it."""
        return bool(self._matchers[row].consume_token(int(token_id)))

    def error(self, row: int) -> str:
        """The matcher's error message ("" when none)."""
        return str(self._matchers[row].get_error())


def replay_masks(
    schema: Mapping[str, Any],
    tokenizer: Any,
    completion_ids: Sequence[int],
    vocab_size: int | None = None,
) -> torch.Tensor:
    """Rebuild the allowed-token masks a constrained backend used for a completion.

    The grammar is replayed over the completion's own tokens (the prompt plays no part), so
    row ``t`` is the set of tokens the sampler could choose from at step ``t``. Apply it to
    the trainer's logits with :func:`masked_token_logprobs` or :func:`apply_bitmask`.

    Args:
        schema: The JSON Schema the completion was sampled under (``Completion.json_schema``).
        tokenizer: The model's Hugging Face fast tokenizer.
        completion_ids: ``Completion.token_ids`` (end-of-sequence included when sampled).
        vocab_size: The model's logits size (default: the tokenizer's size).

    Returns:
        int32 tensor ``[len(completion_ids), bitmask_width(vocab_size)]`` on the CPU.

    Raises:
        ValueError: a token the grammar does not allow at its step (the completion was not
            sampled under this schema, or with another tokenizer).
    """
    size = int(vocab_size) if vocab_size is not None else len(tokenizer)
    rows = ConstrainedRows(schema, tokenizer, size, 1)
    width = bitmask_width(size)
    masks = torch.zeros((len(completion_ids), width), dtype=torch.int32)
    for step, token in enumerate(completion_ids):
        mask = rows.masks([0])[0]
        masks[step] = mask
        token = int(token)
        allowed = bool((int(mask[token // 32]) >> (token % 32)) & 1) if 0 <= token < size else False
        if not allowed:
            raise ValueError(
                f"token {token} at step {step} is not allowed by the grammar: this completion "
                "was not sampled under this schema (or with another tokenizer)"
            )
        if token == rows.eos_token_id and step == len(completion_ids) - 1:
            break
        if not rows.consume(0, token):
            raise ValueError(f"the grammar refused token {token} at step {step}: {rows.error(0)}")
    return masks
