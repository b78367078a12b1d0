"""vLLM backend: the offline ``vllm.LLM`` engine, for fast sampling on GPUs.

Install the optional extra (``pip install 'spice-env[vllm]'``) on a machine with a CUDA GPU.
Prompts are rendered and tokenized here, the same way as in the transformers backend, and sent
as token ids, so both backends condition on identical inputs. :meth:`VLLMBackend.load_weights`
pushes a trainer's new weights into the engine between rollouts.

A JSON Schema (``SamplingParams.json_schema``) goes through the installed vLLM's
structured-outputs API: ``SamplingParams(structured_outputs=StructuredOutputsParams(json=...))``
from vLLM 0.10.2, ``SamplingParams(guided_decoding=GuidedDecodingParams(json=...))`` before
(removed in 0.12), with ``disable_any_whitespace`` where the version has it (compact JSON).
The engine picks its grammar backend (``structured_outputs_config``; default ``"auto"``:
xgrammar, then guidance). vLLM's V1 engine applies the grammar's bitmask to the logits before
its sampler computes log-probs (default ``logprobs_mode="raw_logprobs"``), so constrained
completions report the masked distribution at temperature 1 (``Completion.logprobs_masked``).
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from spice_env.policies.sampling import (
    Completion,
    Prompt,
    SamplingParams,
    derive_seed,
    encode_prompt,
    find_stop,
)

__all__ = ["VLLMBackend", "structured_output_kwargs", "vllm_available"]

_INSTALL_HINT = (
    "The vLLM backend needs vLLM and a CUDA GPU: "
    "pip install 'spice-env[vllm]' (or pip install vllm)"
)


def vllm_available() -> bool:
    """Whether ``import vllm`` works here."""
    try:
        import vllm  # noqa: F401
    except Exception:  # vLLM raises more than ImportError on machines without CUDA
        return False
    return True


def _import_vllm() -> Any:
    try:
        import vllm
    except ImportError as error:
        raise ImportError(_INSTALL_HINT) from error
    return vllm


def structured_output_kwargs(
    sampling_params_module: Any, schema: Mapping[str, Any]
) -> dict[str, Any]:
    """``vllm.SamplingParams`` keyword arguments that constrain the output to ``schema``.

    Args:
        sampling_params_module: ``vllm.sampling_params`` of the installed vLLM.
        schema: The JSON Schema.

    Returns:
        ``{"structured_outputs": StructuredOutputsParams(...)}`` (vLLM >= 0.10.2) or
        ``{"guided_decoding": GuidedDecodingParams(...)}`` (older versions).

    Raises:
        RuntimeError: this vLLM has neither API.
    """
    for field_name, class_name in (
        ("structured_outputs", "StructuredOutputsParams"),
        ("guided_decoding", "GuidedDecodingParams"),
    ):
        params_class = getattr(sampling_params_module, class_name, None)
        if params_class is None:
            continue
        kwargs: dict[str, Any] = {"json": dict(schema)}
        names = (
            {f.name for f in dataclasses.fields(params_class)}
            if dataclasses.is_dataclass(params_class)
            else set()
        )
        if "disable_any_whitespace" in names:
            kwargs["disable_any_whitespace"] = True
        return {field_name: params_class(**kwargs)}
    raise RuntimeError(
        "this vLLM has no structured-output API (StructuredOutputsParams or "
        "GuidedDecodingParams); upgrade vLLM, or run with constrain off"
    )


class VLLMBackend:
    """Samples completions with a ``vllm.LLM`` engine.

    Args:
        model: Hub id or local path of the model, or an existing ``vllm.LLM`` to wrap.
        dtype: Engine dtype (``"auto"``: the checkpoint's, bf16 for most recent models).
        seed: Engine seed.
        gpu_memory_utilization: Share of GPU memory the engine may take (leave room for a
            trainer on the same GPU).
        enable_prefix_caching: Reuse the KV cache of shared prefixes (the K Reasoner answers
            share their question; the Challenger's two stages share the document).
        **engine_kwargs: More ``vllm.LLM`` arguments (``max_model_len``,
            ``tensor_parallel_size``...).

    Attributes:
        llm: The engine.
        tokenizer: The engine's tokenizer.
        supports_logprobs: ``True``: the sampled tokens' log-probabilities under the model
            (vLLM's default raw log-probabilities).
        supports_seed: ``True``: each prompt gets a seed derived from ``params.seed``.
        supports_json_schema: ``True``: through vLLM's structured outputs (see the module doc).
    """

    supports_logprobs = True
    supports_seed = True
    supports_json_schema = True

    def __init__(
        self,
        model: Any,
        *,
        dtype: str = "auto",
        seed: int = 0,
        gpu_memory_utilization: float = 0.9,
        enable_prefix_caching: bool = True,
        **engine_kwargs: Any,
    ) -> None:
        vllm = _import_vllm()
        if isinstance(model, str):
            self.llm = vllm.LLM(
                model=model,
                dtype=dtype,
                seed=seed,
                gpu_memory_utilization=gpu_memory_utilization,
                enable_prefix_caching=enable_prefix_caching,
                **engine_kwargs,
            )
        else:
            self.llm = model
        self.tokenizer = self.llm.get_tokenizer()
        self._vllm = vllm

    def encode_prompt(self, prompt: Prompt) -> list[int]:
        """Token ids of a prompt: chat messages through the chat template, raw text as is."""
        return encode_prompt(self.tokenizer, prompt)

    def generate(self, prompts: Sequence[Prompt], params: SamplingParams) -> list[list[Completion]]:
        """Sample ``params.n`` completions per prompt in one engine call.

        Args:
            prompts: Chat messages or raw strings.
            params: Sampling settings.

        Returns:
            One list of ``params.n`` completions per prompt, in order.
        """
        encoded = [self.encode_prompt(p) for p in prompts]
        base_seed = params.seed if params.seed is not None else secrets.randbits(63)
        constraint: dict[str, Any] = {}
        if params.json_schema is not None:
            constraint = structured_output_kwargs(self._vllm.sampling_params, params.json_schema)
        per_prompt = [
            self._vllm.SamplingParams(
                n=params.n,
                temperature=params.temperature,
                top_p=params.top_p,
                max_tokens=params.max_new_tokens,
                stop=list(params.stop) or None,
                seed=derive_seed(base_seed, index) % (2**31),
                logprobs=0,  # 0 alternatives: only the sampled token's log-probability
                **constraint,
            )
            for index in range(len(encoded))
        ]
        outputs = self.llm.generate(
            [{"prompt_token_ids": ids} for ids in encoded], per_prompt, use_tqdm=False
        )
        results = []
        for ids, request in zip(encoded, outputs):
            completions = []
            for sample in request.outputs:
                token_ids = list(sample.token_ids)
                logprobs = None
                if sample.logprobs is not None:
                    logprobs = [
                        float(step[token].logprob)
                        for step, token in zip(sample.logprobs, token_ids)
                    ]
                text = sample.text
                cut = find_stop(text, params.stop)
                if cut >= 0:
                    text = text[:cut]
                completions.append(
                    Completion(
                        text=text,
                        token_ids=token_ids,
                        logprobs=logprobs,
                        prompt_token_ids=list(ids),
                        finish_reason="length" if sample.finish_reason == "length" else "stop",
                        json_schema=params.json_schema,
                        logprobs_masked=params.json_schema is not None and logprobs is not None,
                    )
                )
            results.append(completions)
        return results

    def load_weights(self, weights: Any) -> None:
        """Copy new weights (from a trainer) into the engine.

        Args:
            weights: A ``torch.nn.Module`` (its ``state_dict()`` is used), a mapping of
                Hugging Face parameter names to tensors, or an iterable of ``(name, tensor)``.

        Raises:
            NotImplementedError: this vLLM version exposes no way to reach the model.
        """
        items = _weight_items(weights)
        model = self._engine_model()
        if model is not None:
            model.load_weights(items)
        elif hasattr(self.llm, "apply_model"):
            # vLLM V1 with the engine in a separate process: ship the weights to it.
            self.llm.apply_model(lambda engine_model: engine_model.load_weights(items))
        else:
            raise NotImplementedError(
                "cannot reach the model inside this vLLM engine; run with "
                "VLLM_ENABLE_V1_MULTIPROCESSING=0 or upgrade vLLM (LLM.apply_model)"
            )
        # Cached prefixes were computed with the old weights.
        if hasattr(self.llm, "reset_prefix_cache"):
            self.llm.reset_prefix_cache()

    def _engine_model(self) -> Any:
        executor = getattr(getattr(self.llm, "llm_engine", None), "model_executor", None)
        worker = getattr(executor, "driver_worker", None)
        # V0 engines hold the runner on the worker; V1 (in-process) wraps the worker once more.
        for candidate in (worker, getattr(worker, "worker", None)):
            runner = getattr(candidate, "model_runner", None)
            model = getattr(runner, "model", None)
            if model is not None and hasattr(model, "load_weights"):
                return model
        return None


def _weight_items(weights: Any) -> list[tuple[str, Any]]:
    if hasattr(weights, "state_dict"):
        weights = weights.state_dict()
    if isinstance(weights, Mapping):
        return list(weights.items())
    if isinstance(weights, Iterable):
        return list(weights)
    raise TypeError(
        "load_weights takes a torch module, a {name: tensor} mapping or (name, tensor) pairs, "
        f"not {type(weights).__name__}"
    )
