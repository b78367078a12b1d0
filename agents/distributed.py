"""The engines the trainer runs under, all through accelerate: one process, DDP, FSDP2, ZeRO-1/2.

What differs between them, and what the trainer does about it:

- **Starting.** :func:`make_accelerator` builds the accelerator for the launch. On a machine
  without CUDA every engine joins its processes over gloo: DDP with accelerate's CPU mode;
  DeepSpeed with its own CPU accelerator (accelerate must be told the gloo backend); FSDP2
  (``fully_shard``), which torch runs on CPU but accelerate 1.15 enables only on accelerator
  devices, by selecting accelerate's FSDP path after the CPU processes have joined.
- **DeepSpeed's batch settings.** There is no DataLoader, so :func:`configure_deepspeed` sets
  the micro-batch size, and one accumulation step: the trainer marks the last micro-batch
  of each optimizer step itself, because under ZeRO-2 ``no_sync`` does nothing and
  ``accelerator.backward`` would step the engine after every micro-batch.
- **Who holds full weights.** DDP and ZeRO-1/2 keep every parameter on every process, so the
  in-process generator can sample from the trained module itself. FSDP shards them: each
  forward pass gathers them from every process, which generation cannot do in lockstep, so the
  generator gets its own copy (:func:`generator_needs_own_weights`), refreshed after every
  update from :func:`full_named_tensors` on every process, as a vLLM engine is.
- **ZeRO-3** shards parameters too and is not supported (use FSDP2).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from spice_agents.config import OptimConfig, TrainConfig

__all__ = [
    "configure_deepspeed",
    "engine_name",
    "full_named_tensors",
    "generator_needs_own_weights",
    "make_accelerator",
]

# Wrapper names that activation checkpointing and torch.compile insert into parameter names.
_WRAPPER_PREFIXES = ("_checkpoint_wrapped_module.", "_orig_mod.")


def _launched_with(variable: str) -> bool:
    return os.environ.get(variable, "false").lower() == "true"


def make_accelerator(config: TrainConfig) -> Any:
    """The ``accelerate.Accelerator`` of this launch, on CUDA or on the CPU.

    Under ``accelerate launch`` the engine comes from the launch configuration; without CUDA,
    DDP, FSDP2 and DeepSpeed processes all join over gloo. The learning-rate scheduler is
    stepped once per optimizer step (accelerate would step it once per process).

    Args:
        config: The run configuration (its ``model.dtype`` sets the mixed precision).

    Returns:
        The accelerator.
    """
    import torch
    from accelerate import Accelerator, PartialState
    from accelerate.utils import (
        DistributedType,
        FullyShardedDataParallelPlugin,
        InitProcessGroupKwargs,
    )
    from spice_agents.models import mixed_precision

    kwargs: dict[str, Any] = {
        "mixed_precision": mixed_precision(config),
        "step_scheduler_with_optimizer": False,
    }
    if torch.cuda.is_available():
        return Accelerator(**kwargs)
    if _launched_with("ACCELERATE_USE_DEEPSPEED"):
        import deepspeed.ops

        # DeepSpeed's CPU backend compiles a shared-memory kernel when it starts (minutes on a
        # small machine) that only its inference all-reduce uses; training reduces over gloo.
        # Its table of usable ops is meant to be edited, so mark that one unusable.
        deepspeed.ops.__compatible_ops__["deepspeed_shm_comm"] = False
        # DeepSpeed picks its CPU accelerator by itself, but accelerate only counts the
        # processes when it knows the backend they joined over.
        return Accelerator(**kwargs, kwargs_handlers=[InitProcessGroupKwargs(backend="gloo")])
    # Without CUDA, say so: accelerate then joins the processes of a multi-process launch over
    # gloo (MULTI_CPU) instead of leaving each one to train alone.
    if not _launched_with("ACCELERATE_USE_FSDP"):
        return Accelerator(**kwargs, cpu=True)
    plugin = FullyShardedDataParallelPlugin()  # read from the launch configuration
    accelerator = Accelerator(**kwargs, cpu=True, fsdp_plugin=plugin)
    if accelerator.distributed_type == DistributedType.MULTI_CPU:
        # accelerate 1.15 turns FSDP on only for accelerator devices, though torch's FSDP2
        # shards and gathers over gloo on the CPU: select accelerate's FSDP path for it, in
        # both of accelerate's state objects, as its own FSDP set-up does.
        accelerator.state.fsdp_plugin = plugin
        accelerator.state.distributed_type = DistributedType.FSDP
        PartialState().distributed_type = DistributedType.FSDP
    return accelerator


def engine_name(accelerator: Any) -> str:
    """``"single"``, ``"ddp"``, ``"fsdp1"``, ``"fsdp2"``, ``"deepspeed-zero<stage>"`` or the
    accelerate distributed type in lower case."""
    from accelerate.utils import DistributedType

    kind = accelerator.distributed_type
    if kind == DistributedType.NO:
        return "single"
    if kind == DistributedType.DEEPSPEED:
        return f"deepspeed-zero{accelerator.state.deepspeed_plugin.zero_stage}"
    if kind == DistributedType.FSDP:
        return "fsdp2" if accelerator.is_fsdp2 else "fsdp1"
    if str(kind.value).startswith("MULTI_"):
        return "ddp"
    return str(kind.value).lower()


def configure_deepspeed(accelerator: Any, optim: OptimConfig) -> None:
    """Fill the DeepSpeed settings a DataLoader would have given (call before ``prepare``).

    One micro-batch is ``optim.micro_batch_size`` sequences and gradient clipping is
    ``optim.max_grad_norm``; DeepSpeed's own accumulation count is 1 because the number of
    micro-batches per optimizer step varies and the trainer marks the last one itself.

    Args:
        accelerator: An accelerator whose distributed type is DeepSpeed.
        optim: The optimizer settings.

    Raises:
        ValueError: ZeRO stage 3 (the parameters are sharded; use FSDP2).
    """
    plugin = accelerator.state.deepspeed_plugin
    if plugin.zero_stage == 3:
        raise ValueError(
            "ZeRO stage 3 shards the parameters, which the in-process generator and the "
            "weight sync do not support; use zero_stage 2, or FSDP (fsdp_version: 2)"
        )
    settings = plugin.deepspeed_config
    settings["train_micro_batch_size_per_gpu"] = optim.micro_batch_size
    settings["gradient_accumulation_steps"] = 1
    settings["train_batch_size"] = optim.micro_batch_size * accelerator.num_processes
    settings["gradient_clipping"] = optim.max_grad_norm


def generator_needs_own_weights(accelerator: Any) -> bool:
    """Whether parameters are sharded, so that generation needs its own copy of the weights.

    Raises:
        ValueError: FSDP version 1 (the trainer gathers weights the FSDP2 way).
    """
    from accelerate.utils import DistributedType

    if accelerator.distributed_type != DistributedType.FSDP:
        return False
    if not accelerator.is_fsdp2:
        raise ValueError("FSDP version 1 is not supported; set fsdp_version: 2")
    return True


def full_named_tensors(accelerator: Any, model: Any) -> Iterator[tuple[str, Any]]:
    """The trained model's full (unsharded) weights, one tensor at a time, on every process.

    Under FSDP2 each parameter is gathered from every process when it is reached (a
    collective: every process must walk the whole iterator), so at most one full parameter is
    held at a time beyond the model's shards; other engines already hold full weights.

    Args:
        accelerator: The accelerator that prepared ``model``.
        model: The prepared model.

    Yields:
        ``(state-dict name, tensor)`` with the model's own names (wrapper prefixes removed).
    """
    from torch.distributed.tensor import DTensor

    module = accelerator.unwrap_model(model)
    for name, tensor in module.state_dict().items():
        if isinstance(tensor, DTensor):
            tensor = tensor.full_tensor()
        for prefix in _WRAPPER_PREFIXES:
            name = name.replace(prefix, "")
        yield name, tensor.detach()
