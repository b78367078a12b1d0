"""Hugging Face transformers backend: any causal LM and tokenizer, sampled in batches.

The decoding loop is our own rather than ``model.generate`` for three reasons:

- log-probabilities of the sampled tokens are gathered step by step, instead of keeping every
  step's full-vocabulary logits (32 rows x 512 steps x 49k vocab would be 3 GB in float32);
- each row draws from its own seeded stream, so a seed gives the same samples whatever the
  batch size or the other prompts in the batch;
- a prompt is prefilled once and its KV cache copied for its ``n`` samples, and finished rows
  leave the batch, which matters when the K Reasoner answers share one question;
- a JSON Schema (``SamplingParams.json_schema``) is enforced row by row with llguidance
  (:mod:`spice_env.policies.grammar`): the logits are masked to the allowed tokens before
  sampling, and the reported log-probs are those of that masked distribution.

The model object is used as is (``backend.model``), so a trainer can keep optimizing it between
calls; generation switches it to eval mode and back, and runs under ``torch.no_grad`` (not
``inference_mode``, whose tensors could leak into lazily built buffers and break a later
backward pass).
"""

from __future__ import annotations

import inspect
import secrets
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from spice_env.policies.grammar import apply_bitmask
from spice_env.policies.sampling import (
    Completion,
    Prompt,
    SamplingParams,
    derive_seed,
    encode_prompt,
    find_stop,
)

__all__ = ["HFBackend", "default_device", "default_dtype"]


def default_device() -> torch.device:
    """CUDA when available, then Apple MPS, else CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def default_dtype(device: torch.device | str) -> torch.dtype:
    """bfloat16 on GPUs that support it, float32 elsewhere (CPU bf16 matmuls are slow)."""
    device = torch.device(device)
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    if device.type == "cuda":
        return torch.float16
    return torch.float32


def _eos_ids(model: Any, tokenizer: Any) -> set[int]:
    ids: set[int] = set()
    config_eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    for value in (config_eos, tokenizer.eos_token_id):
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, (list, tuple)):
            ids.update(int(v) for v in value)
    return ids


def _cache_of(output: Any) -> Any:
    return output["cache"] if "cache" in output else output["past_key_values"]


class HFBackend:
    """Samples completions from a transformers causal LM.

    Args:
        model: A ``PreTrainedModel`` with a causal-LM head (kept as ``self.model``).
        tokenizer: Its tokenizer (kept as ``self.tokenizer``; padding side set to left).
        device: Where to run; default: where the model already is. Given, the model is moved.
        dtype: Cast the model to this dtype; default: leave it as it is.
        batch_size: Most rows (prompt x sample) decoded together.

    Attributes:
        supports_logprobs: ``True``: every completion carries per-token log-probabilities.
        supports_seed: ``True``: a seed repeats the samples (same device and dtype).
        supports_json_schema: ``True``: ``SamplingParams.json_schema`` constrains decoding
            through llguidance; each row's logits are masked to the tokens the grammar allows
            before sampling, and the reported log-probs are those of that masked distribution
            at temperature 1 (``Completion.logprobs_masked``).
        stats: Running totals: ``seconds`` (inside :meth:`generate`), ``grammar_seconds``
            (computing, applying and advancing grammar masks), ``prefill_seconds`` and
            ``decode_seconds`` (the model's forward passes; ``decode_steps`` batched steps),
            ``generated_tokens`` and ``constrained_tokens``.
    """

    supports_logprobs = True
    supports_seed = True
    supports_json_schema = True

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        device: str | torch.device | None = None,
        dtype: torch.dtype | str | None = None,
        batch_size: int = 8,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size={batch_size} must be at least 1")
        if isinstance(dtype, str):
            dtype = getattr(torch, dtype)
        if device is not None or dtype is not None:
            model.to(device=device, dtype=dtype)
        self.model = model
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        # Decoder-only models continue the last position, so padding must sit on the left.
        tokenizer.padding_side = "left"
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        self.eos_token_ids = _eos_ids(model, tokenizer)
        # transformers 5 renamed the cache argument (`past_key_values` -> `cache`); use the name
        # this model's forward takes, so both 4.x and 5.x run without deprecation noise.
        forward_params = inspect.signature(model.forward).parameters
        self._cache_arg = "cache" if "cache" in forward_params else "past_key_values"
        # Only the last position's logits are needed after a prefill; skipping the LM head on
        # the other positions saves a fifth of a small model's prefill FLOPs and vocab x prompt
        # floats of memory.
        keep = [n for n in ("logits_to_keep", "num_logits_to_keep") if n in forward_params]
        self._last_logits_only = {keep[0]: 1} if keep else {}
        self.stats: dict[str, float] = {
            "seconds": 0.0,
            "grammar_seconds": 0.0,
            "prefill_seconds": 0.0,
            "decode_seconds": 0.0,
            "decode_steps": 0,
            "generated_tokens": 0,
            "constrained_tokens": 0,
        }

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str,
        *,
        device: str | torch.device | None = None,
        dtype: torch.dtype | str | None = None,
        batch_size: int = 8,
        **model_kwargs: Any,
    ) -> HFBackend:
        """Load a model and tokenizer by hub name or local path.

        ``"smollm2"`` (or ``"smollm2-135m-instruct"``) loads the embedded SmolLM2-135M-Instruct
        offline through :func:`spice_env.policies.smollm2.load_smollm2`.

        Args:
            name_or_path: Hub id, local folder, ``"smollm2"``, or a checkpoint or run folder
                of ``spice train`` (``RUN/checkpoints/iter_000004``, ``RUN``).
            device: Default :func:`default_device`.
            dtype: Default :func:`default_dtype` of the device (bf16 on GPU, fp32 on CPU).
            batch_size: Rows decoded together.
            **model_kwargs: Passed to ``AutoModelForCausalLM.from_pretrained``.

        Returns:
            The backend, with the model in eval mode on ``device``.
        """
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from spice_env.evaluation.models import is_training_output, load_model_and_tokenizer

        device = torch.device(device) if device is not None else default_device()
        if isinstance(dtype, str):
            dtype = getattr(torch, dtype)
        dtype = dtype or default_dtype(device)
        if name_or_path.lower() in ("smollm2", "smollm2-135m-instruct"):
            from spice_env.policies.smollm2 import load_smollm2

            model, tokenizer = load_smollm2(device=str(device), dtype=dtype)
        elif is_training_output(name_or_path):
            # A trainer checkpoint or run folder holds weights without a tokenizer: the
            # run's config.json says how to rebuild them (as `spice eval` reads them).
            model, tokenizer = load_model_and_tokenizer(name_or_path, dtype=dtype)
            model.to(device)
        else:
            tokenizer = AutoTokenizer.from_pretrained(name_or_path)
            model = AutoModelForCausalLM.from_pretrained(name_or_path, dtype=dtype, **model_kwargs)
            model.to(device)
            model.eval()
        return cls(model, tokenizer, batch_size=batch_size)

    @property
    def device(self) -> torch.device:
        """The device of the model's parameters."""
        return next(self.model.parameters()).device

    # -- weights --------------------------------------------------------------------------------
    def load_weights(
        self, weights: Mapping[str, torch.Tensor] | Iterable[tuple[str, torch.Tensor]]
    ) -> int:
        """Copy new weights into this backend's model, in place, as a vLLM engine loads them.

        For a backend that generates from its own copy of a trained model (a trainer whose
        parameters are sharded pushes the full weights after every update).

        Args:
            weights: ``{name: tensor}`` or ``(name, tensor)`` pairs, named as in the model's
                ``state_dict``; any subset. Each is cast to the model's dtype and device.

        Returns:
            How many tensors were copied.

        Raises:
            KeyError: A name the model does not have.
            ValueError: A tensor whose shape differs from the model's.
        """
        items = weights.items() if isinstance(weights, Mapping) else weights
        targets = self.model.state_dict(keep_vars=True)
        copied = 0
        with torch.no_grad():
            for name, tensor in items:
                if name not in targets:
                    raise KeyError(f"the model has no weight named {name!r}")
                target = targets[name]
                if tuple(target.shape) != tuple(tensor.shape):
                    raise ValueError(
                        f"{name}: shape {tuple(tensor.shape)} does not match the model's "
                        f"{tuple(target.shape)}"
                    )
                target.copy_(tensor.to(device=target.device, dtype=target.dtype))
                copied += 1
        return copied

    # -- prompts --------------------------------------------------------------------------------
    def encode_prompt(self, prompt: Prompt) -> list[int]:
        """Token ids of a prompt: chat messages through the chat template, raw text as is.

        Args:
            prompt: Chat messages or a raw string.

        Returns:
            The ids the model is conditioned on (special tokens included).
        """
        return encode_prompt(self.tokenizer, prompt)

    # -- generation -----------------------------------------------------------------------------
    def generate(self, prompts: Sequence[Prompt], params: SamplingParams) -> list[list[Completion]]:
        """Sample ``params.n`` completions per prompt.

        Args:
            prompts: Chat messages or raw strings.
            params: Sampling settings; with ``params.seed`` the output repeats.

        Returns:
            One list of ``params.n`` completions per prompt, in order.
        """
        started = time.perf_counter()
        encoded = [self.encode_prompt(p) for p in prompts]
        base_seed = params.seed if params.seed is not None else secrets.randbits(63)
        # Rows are (prompt, sample); long prompts first so each chunk pads to similar lengths.
        order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i]))
        rows = [(i, j) for i in order for j in range(params.n)]
        results: list[list[Completion | None]] = [[None] * params.n for _ in encoded]
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.no_grad():
                for start in range(0, len(rows), self.batch_size):
                    chunk = rows[start : start + self.batch_size]
                    for (i, j), completion in zip(
                        chunk, self._generate_chunk(chunk, encoded, params, base_seed)
                    ):
                        results[i][j] = completion
        finally:
            self.model.train(was_training)
            self.stats["seconds"] += time.perf_counter() - started
        return [[c for c in per_prompt if c is not None] for per_prompt in results]

    def _prefill(
        self, prompt_ids: list[list[int]]
    ) -> tuple[Any, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Run the prompts once; return the cache, the last logits, the mask and next positions."""
        device = self.device
        width = max(len(ids) for ids in prompt_ids)
        pad = self.tokenizer.pad_token_id
        input_ids = torch.full((len(prompt_ids), width), pad, dtype=torch.long)
        mask = torch.zeros((len(prompt_ids), width), dtype=torch.long)
        for row, ids in enumerate(prompt_ids):
            input_ids[row, width - len(ids) :] = torch.tensor(ids, dtype=torch.long)
            mask[row, width - len(ids) :] = 1
        input_ids, mask = input_ids.to(device), mask.to(device)
        # Explicit positions, so a left-padded prompt is encoded exactly like an unpadded one.
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        tic = time.perf_counter()
        out = self.model(
            input_ids=input_ids,
            attention_mask=mask,
            position_ids=positions,
            use_cache=True,
            **self._last_logits_only,
        )
        self.stats["prefill_seconds"] += time.perf_counter() - tic
        return _cache_of(out), out.logits[:, -1, :].float(), mask, positions[:, -1] + 1

    def _generate_chunk(
        self,
        chunk: list[tuple[int, int]],
        encoded: list[list[int]],
        params: SamplingParams,
        base_seed: int,
    ) -> list[Completion]:
        device = self.device
        distinct = list(dict.fromkeys(i for i, _ in chunk))
        cache, logits, mask, positions = self._prefill([encoded[i] for i in distinct])
        # Copy each prompt's cache and logits once per sample instead of prefilling it n times.
        expand = torch.tensor([distinct.index(i) for i, _ in chunk], device=device)
        if len(distinct) != len(chunk):
            cache.batch_select_indices(expand)
        logits, mask, positions = logits[expand], mask[expand], positions[expand]

        streams = [np.random.default_rng(derive_seed(base_seed, i, j)) for i, j in chunk]
        grammar = None
        if params.json_schema is not None:
            from spice_env.policies.grammar import ConstrainedRows

            grammar = ConstrainedRows(
                params.json_schema, self.tokenizer, logits.shape[-1], len(chunk)
            )
        generated: list[list[int]] = [[] for _ in chunk]
        logprobs: list[list[float]] = [[] for _ in chunk]
        finish = ["length"] * len(chunk)
        active = list(range(len(chunk)))  # chunk rows still decoding, in batch order
        stop_window = max((len(s) for s in params.stop), default=0) + 8

        for step in range(params.max_new_tokens):
            if grammar is not None:
                # Mask each row to what its grammar allows; the log-probs _sample reports are
                # then those of the masked distribution, the one that is sampled.
                tic = time.perf_counter()
                logits = apply_bitmask(logits, grammar.masks(active))
                self.stats["grammar_seconds"] += time.perf_counter() - tic
            tokens, token_logprobs = self._sample(logits, params, [streams[r] for r in active])
            still: list[int] = []
            for position, (row, token, logprob) in enumerate(
                zip(active, tokens.tolist(), token_logprobs.tolist())
            ):
                generated[row].append(token)
                logprobs[row].append(logprob)
                refused = False
                if grammar is not None:
                    tic = time.perf_counter()
                    refused = not grammar.consume(row, token)
                    self.stats["grammar_seconds"] += time.perf_counter() - tic
                ended = (
                    refused
                    or token in self.eos_token_ids
                    or (
                        bool(params.stop)
                        and self._hits_stop(generated[row], params.stop, stop_window)
                    )
                )
                if ended:
                    finish[row] = "stop"
                else:
                    still.append(position)
            if not still or step == params.max_new_tokens - 1:
                break
            if len(still) != len(active):
                keep = torch.tensor(still, device=device)
                cache.batch_select_indices(keep)
                mask, positions, tokens = mask[keep], positions[keep], tokens[keep]
                active = [active[p] for p in still]
            mask = torch.cat([mask, mask.new_ones((mask.shape[0], 1))], dim=1)
            tic = time.perf_counter()
            out = self.model(
                input_ids=tokens[:, None],
                attention_mask=mask,
                position_ids=positions[:, None],
                use_cache=True,
                **{self._cache_arg: cache},
            )
            self.stats["decode_seconds"] += time.perf_counter() - tic
            self.stats["decode_steps"] += 1
            cache = _cache_of(out)
            logits = out.logits[:, -1, :].float()
            positions = positions + 1

        completions = []
        self.stats["generated_tokens"] += sum(len(ids) for ids in generated)
        if grammar is not None:
            self.stats["constrained_tokens"] += sum(len(ids) for ids in generated)
        for row, (i, _) in enumerate(chunk):
            text = self.tokenizer.decode(generated[row], skip_special_tokens=True)
            cut = find_stop(text, params.stop)
            if cut >= 0:
                text, finish[row] = text[:cut], "stop"
            completions.append(
                Completion(
                    text=text,
                    token_ids=generated[row],
                    logprobs=logprobs[row],
                    prompt_token_ids=list(encoded[i]),
                    finish_reason=finish[row],
                    json_schema=params.json_schema,
                    logprobs_masked=grammar is not None,
                )
            )
        return completions

    def _hits_stop(self, ids: list[int], stops: Sequence[str], window: int) -> bool:
        # Decoding only the tail keeps the check O(1) per step; a stop string can span tokens,
        # and every token is at least one character, so `window` tokens cover any stop string.
        tail = self.tokenizer.decode(ids[-window:], skip_special_tokens=True)
        return find_stop(tail, stops) >= 0

    @staticmethod
    def _sample(
        logits: torch.Tensor, params: SamplingParams, streams: list[np.random.Generator]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Pick one token per row; return the tokens and their model log-probabilities."""
        model_logprobs = torch.log_softmax(logits, dim=-1)
        if params.greedy:
            tokens = logits.argmax(dim=-1)
        else:
            probs = torch.softmax(logits / params.temperature, dim=-1)
            if params.top_p < 1.0:
                probs, vocab_index = probs.sort(dim=-1, descending=True)
                before = probs.cumsum(dim=-1) - probs
                probs = probs.masked_fill(before >= params.top_p, 0.0)
            else:
                vocab_index = None
            # Inverse-CDF sampling with one uniform per row from the row's own stream: the
            # draw depends only on (seed, prompt, sample), never on the rest of the batch.
            cdf = probs.cumsum(dim=-1)
            uniforms = torch.tensor(
                [stream.random() for stream in streams], dtype=cdf.dtype, device=cdf.device
            )
            targets = (uniforms * cdf[:, -1]).unsqueeze(-1)
            picked = torch.searchsorted(cdf, targets, right=True).clamp(max=cdf.shape[-1] - 1)
            tokens = picked.squeeze(-1)
            if vocab_index is not None:
                tokens = vocab_index.gather(-1, picked).squeeze(-1)
        return tokens, model_logprobs.gather(-1, tokens.unsqueeze(-1)).squeeze(-1)
