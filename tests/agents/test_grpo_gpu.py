"""Must-show 6 on a machine with CUDA: the training loop on a random Qwen3-shaped model.

Not run without a GPU (marker ``gpu``). It builds ``random:qwen3-0.6b`` (or the shape in
``SPICE_GPU_SHAPE``, e.g. ``qwen3-4b``) from its config, no download, runs a few cpu-tiny-sized
iterations of the real loop in bf16 with gradient checkpointing, and prints tokens/s and the
step time.
"""

from __future__ import annotations

import os

import pytest
import torch
from agent_helpers import learning_overrides
from spice_agents.config import make_preset
from spice_agents.grpo import GRPOTrainer

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


def test_loop_on_a_random_qwen3_shaped_model(letter_tasks, tmp_path, capsys):
    shape = os.environ.get("SPICE_GPU_SHAPE", "qwen3-0.6b")
    config = make_preset(
        "cpu-tiny",
        **learning_overrides(
            letter_tasks,
            tmp_path / "gpu",
            model=f"random:{shape}",
            dtype="bfloat16",
            gradient_checkpointing=True,
            iterations=3,
            reasoner_max_new_tokens=256,
            batch_documents=16,
            num_answers=8,
            learning_rate=1e-6,
            micro_batch_size=16,
            generation_batch_size=128,
            torch_threads=0,
        ),
    )
    records = GRPOTrainer(config).train()
    with capsys.disabled():
        for r in records:
            print(
                f"\n[gpu {shape}] iteration {r['iteration']}: {r['time']['iteration']:.2f} s, "
                f"generation {r['throughput']['generated_tokens_per_s']:.0f} tok/s, "
                f"update {r['time']['update']:.2f} s"
            )
    assert len(records) == 3
