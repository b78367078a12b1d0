#!/usr/bin/env bash
# Recipe: the paper's SPICE run, Qwen3-4B-Base trained in both roles with Dr. GRPO.
#
# Paper settings (the `gpu-qwen3-4b` preset of the trainer): 640 iterations, 128 documents per
# iteration, G = 8 Challenger trajectories per document, K = 8 Reasoner answers per task, up to
# N = 1024 attempts per document, temperature 1.0 for both roles, learning rate 1e-6 constant,
# no KL term, DeepSpeed ZeRO-2, gradient checkpointing, flash attention, vLLM generation.
# The paper used 8 x H200; budget several days on 8 x H100/H200-class GPUs.
#
# Usage:
#   CORPUS=data/corpus.jsonl bash examples/gpu_qwen3_4b.sh      # train, then evaluate
#   DRY_RUN=1 bash examples/gpu_qwen3_4b.sh                     # print the plan, check the
#                                                               # config on any CPU machine
# Environment variables:
#   CORPUS     a JSONL/Parquet file or folder of documents with a "text" field, or hf:NAME.
#              The paper samples 20,000 documents, half math web text (Nemotron-CC-Math),
#              half NaturalReasoning. Default: the small embedded corpus (a plumbing check).
#   NUM_GPUS   processes for `accelerate launch` (default 8).
#   RUN_DIR    output folder (default runs/gpu-qwen3-4b); rerun with RESUME=1 to continue.
#   ACCELERATE_CONFIG  default agents/configs/zero2.yaml (the paper's engine; the deepspeed
#              extra); agents/configs/fsdp.yaml (FSDP2) or ddp.yaml work too. The trainer
#              sets DeepSpeed's micro-batch, accumulation and clipping from the preset.
#   EXTRA_ARGS more `spice train` flags, e.g. "--iterations 20 --batch-documents 16" for a
#              short trial before the full run.
set -euo pipefail

cd "$(dirname "$0")/.."

CORPUS="${CORPUS:-}"
NUM_GPUS="${NUM_GPUS:-8}"
RUN_DIR="${RUN_DIR:-runs/gpu-qwen3-4b}"
ACCELERATE_CONFIG="${ACCELERATE_CONFIG:-agents/configs/zero2.yaml}"
EXTRA_ARGS="${EXTRA_ARGS:-}"
RESUME="${RESUME:-0}"
DRY_RUN="${DRY_RUN:-0}"
PYTHON="${PYTHON:-python}"

corpus_args=()
if [[ -n "$CORPUS" ]]; then
  corpus_args=(--corpus "$CORPUS")
fi
resume_args=()
if [[ "$RESUME" == "1" ]]; then
  resume_args=(--resume)
fi
# shellcheck disable=SC2206  # EXTRA_ARGS is meant to split into flags
extra_args=($EXTRA_ARGS)

train_cmd=(accelerate launch --config_file "$ACCELERATE_CONFIG" --num_processes "$NUM_GPUS"
  -m spice_env train --preset gpu-qwen3-4b --output-dir "$RUN_DIR"
  "${corpus_args[@]}" "${resume_args[@]}" "${extra_args[@]}")
# The paper's 11 benchmarks need their data; the seven local ones are the default here.
eval_base_cmd=(spice eval --model Qwen/Qwen3-4B-Base --prompt-style base
  --out runs/eval/qwen3-4b-base)
eval_spice_cmd=(spice eval --model "$RUN_DIR/final" --prompt-style base
  --out runs/eval/qwen3-4b-spice --compare runs/eval/qwen3-4b-base)

echo "== 0. install (once): pip install -e '.[train,vllm,deepspeed]' flash-attn"
echo "== 1. resolved training configuration"
"$PYTHON" -m spice_env train --preset gpu-qwen3-4b --output-dir "$RUN_DIR" \
  "${corpus_args[@]}" "${extra_args[@]}" --print-config

if [[ "$DRY_RUN" == "1" ]]; then
  echo "== 2. train:       ${train_cmd[*]}"
  echo "== 3. baseline:    ${eval_base_cmd[*]}"
  echo "== 4. evaluate:    ${eval_spice_cmd[*]}"
  echo "DRY_RUN=1: nothing launched."
  exit 0
fi

if ! "$PYTHON" -c "import torch, sys; sys.exit(0 if torch.cuda.device_count() else 1)"; then
  echo "no CUDA device found; this recipe needs GPUs (DRY_RUN=1 prints the plan)" >&2
  exit 1
fi

echo "== 2. train (checkpoints every 20 iterations under $RUN_DIR; RESUME=1 continues)"
"${train_cmd[@]}"
echo "== 3. evaluate the base model, then the SPICE-trained one, side by side"
"${eval_base_cmd[@]}"
"${eval_spice_cmd[@]}"
