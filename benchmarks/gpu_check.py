"""The GPU check: two SPICE self-play iterations on a random Qwen3-0.6B-shaped model, in one go.

Made for a one-GPU machine that has torch, transformers and accelerate but nothing else of
ours (no vLLM, DeepSpeed, flash-attn, gymnasium, rapidfuzz or datasets) and no network:

1. **Dependencies.** What ``import spice_env`` needs and the machine lacks (gymnasium and its
   two small dependencies, rapidfuzz; sympy and mpmath if absent) is unpacked from the wheels
   in ``--wheels`` (built here with ``--build-carry``, about 19 MiB) into a temporary folder;
   the repository is put on the path (``agents/`` as ``spice_agents``), so nothing is
   installed. pyarrow (the embedded corpus) must be there already: it is in the H200 image.
2. **Model.** ``random:qwen3-0.6b`` (Qwen3-0.6B's published shape, 0.6B parameters with the
   151,936-token embedding, random weights, nothing downloaded), trained in float32 master
   weights under bf16 autocast with SDPA attention.
3. **Generator.** The transformers backend in bf16 on its *own* copy of the weights, refreshed
   by ``load_weights`` after every update: what vLLM does, so the generator-vs-trainer
   log-probability gap is the one a vLLM run would see from precision alone.
4. **Two self-play iterations** through ``GRPOTrainer.train_iteration`` (Challenger rounds,
   Reasoner answers, update, weight sync): the first with the two-stage protocol, the second
   with the env picking the task type, because random weights fail the type selection and
   would never reach the long task-writing stage. Then one Reasoner-phase iteration whose
   tasks come from the scripted Challenger: random weights write no valid task, so the
   self-play iterations have no Reasoner phase. ``skip_zero_advantage`` is off, so the update trains
   on every sequence even though a random model's advantages are mostly zero.
5. **JSON** (``--out``): tokens/s per phase (Challenger generation, Reasoner generation,
   training forward/backward), seconds per iteration, weight-sync seconds, peak GPU memory, the
   generator-vs-trainer log-probability gap, and what was skipped and why.

A time guard (``--budget-seconds``, default 420) skips what is left once the budget is spent.

    python benchmarks/gpu_check.py --build-carry .gpu_carry          # here, once (~20 MB)
    python benchmarks/gpu_check.py --wheels .gpu_carry --out gpu_check.json   # on the GPU
    python benchmarks/gpu_check.py --tiny --out /tmp/gpu_check.json  # a dry run on a CPU
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

# What `import spice_env` and the trainer need beyond torch, transformers and accelerate:
# (module to probe, wheel distribution name). numpy, tqdm and packaging come with transformers.
CARRIED = [
    ("gymnasium", "gymnasium"),
    ("cloudpickle", "cloudpickle"),
    ("farama_notifications", "farama_notifications"),
    ("rapidfuzz", "rapidfuzz"),
    ("sympy", "sympy"),
    ("mpmath", "mpmath"),
]
BINARY = {"rapidfuzz"}  # compiled: one wheel per Python version
# Needed but too big to carry (tens of MB per Python version); the H200 image has it.
REQUIRED = {"pyarrow": "the embedded corpus is an Arrow table"}
PYTHON_VERSIONS = ("3.10", "3.11", "3.12", "3.13", "3.14")
# The optional engines and kernels a full GPU run would use, reported when absent.
OPTIONAL = {
    "vllm": "vLLM generation (generation=vllm); the transformers backend generates instead",
    "deepspeed": "DeepSpeed ZeRO-2 (several GPUs anyway); one process here",
    "flash_attn": "flash-attention 2; SDPA attention instead",
    "datasets": "hub corpora (hf:NAME); the embedded corpus is used",
}


# ============================================================================ dependencies
def build_carry(folder: Path) -> None:
    """Download the wheels the GPU machine lacks into ``folder`` (pip, the package registry)."""
    folder.mkdir(parents=True, exist_ok=True)
    pure = [name for _, name in CARRIED if name not in BINARY]
    base = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    subprocess.run([*base, "--dest", str(folder), *pure], check=True)
    for version in PYTHON_VERSIONS:
        # a version the registry has no wheel for is left out (the check then stops early)
        subprocess.run(
            [
                *base,
                "--dest",
                str(folder),
                "--python-version",
                version,
                "--platform",
                "manylinux2014_x86_64",
                "--platform",
                "manylinux_2_17_x86_64",
                *sorted(BINARY),
            ],
            check=False,
        )
    size = sum(p.stat().st_size for p in folder.iterdir())
    print(f"{folder}: {len(list(folder.iterdir()))} wheels, {size / 2**20:.1f} MiB")


def _compatible_wheel(folder: Path, distribution: str) -> Path | None:
    from packaging.tags import sys_tags
    from packaging.utils import canonicalize_name, parse_wheel_filename

    supported = list(sys_tags())
    best: tuple[int, Path] | None = None
    for path in folder.glob("*.whl"):
        name, _, _, tags = parse_wheel_filename(path.name)
        if name != canonicalize_name(distribution):
            continue
        ranks = [supported.index(tag) for tag in tags if tag in supported]
        if ranks and (best is None or min(ranks) < best[0]):
            best = (min(ranks), path)
    return None if best is None else best[1]


def provide_dependencies(wheels: Path | None) -> dict[str, Any]:
    """Unpack carried wheels for what is missing; put the repository on the path.

    Returns:
        ``{"unpacked": [...], "missing": [...]}``.
    """
    unpacked, missing = [], []
    site = Path(tempfile.mkdtemp(prefix="gpu_check_site_"))
    for module, distribution in CARRIED:
        if importlib.util.find_spec(module) is not None:
            continue
        wheel = _compatible_wheel(wheels, distribution) if wheels else None
        if wheel is None:
            missing.append(module)
            continue
        with zipfile.ZipFile(wheel) as archive:  # a wheel is a zip of its site-packages files
            archive.extractall(site)
        unpacked.append(wheel.name)
    missing += [
        f"{module} ({why})"
        for module, why in REQUIRED.items()
        if importlib.util.find_spec(module) is None
    ]
    sys.path.insert(0, str(site))
    sys.path.insert(0, str(ROOT))
    if importlib.util.find_spec("spice_agents") is None:
        # agents/ installs as spice_agents; without an install, load the folder by that name.
        spec = importlib.util.spec_from_file_location(
            "spice_agents",
            ROOT / "agents" / "__init__.py",
            submodule_search_locations=[str(ROOT / "agents")],
        )
        assert spec is not None and spec.loader is not None
        package = importlib.util.module_from_spec(spec)
        sys.modules["spice_agents"] = package
        spec.loader.exec_module(package)
    return {"unpacked": unpacked, "missing": missing}


# ================================================================================ the check
class CountingBackend:
    """Passes generation through to a backend, counting tokens and seconds per phase.

    The phase is told apart by the token budget of the call (the three budgets differ).
    """

    def __init__(self, backend: Any, phases: dict[int, str]) -> None:
        self.backend = backend
        self.phases = phases
        self.counts: dict[str, dict[str, float]] = {}

    def __getattr__(self, name: str) -> Any:  # model, load_weights, tokenizer, ...
        return getattr(self.backend, name)

    def generate(self, prompts: Any, params: Any) -> Any:
        import torch

        tic = time.perf_counter()
        out = self.backend.generate(prompts, params)
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        phase = self.phases.get(params.max_new_tokens, "other")
        entry = self.counts.setdefault(phase, {"tokens": 0, "seconds": 0.0, "calls": 0})
        entry["tokens"] += sum(len(c.token_ids) for row in out for c in row)
        entry["seconds"] += time.perf_counter() - tic
        entry["calls"] += 1
        return out

    def take(self) -> dict[str, dict[str, float]]:
        counts, self.counts = self.counts, {}
        for entry in counts.values():
            entry["tokens_per_s"] = entry["tokens"] / entry["seconds"] if entry["seconds"] else None
        return counts


def _config(args: argparse.Namespace, out_dir: Path, **extra: Any) -> Any:
    from spice_agents.config import make_preset

    settings: dict[str, Any] = dict(
        output_dir=str(out_dir),
        batch_documents=args.documents,
        group_size=args.group_size,
        max_attempts=args.group_size,
        num_answers=args.answers,
        type_selection_max_new_tokens=args.budgets[0],
        challenger_max_new_tokens=args.budgets[1],
        reasoner_max_new_tokens=args.budgets[2],
        max_segment_tokens=args.segment_tokens,
        generation_batch_size=args.generation_batch,
        micro_batch_size=args.micro_batch,
        learning_rate=1e-6,
        skip_zero_advantage=False,
        checkpoint_every=0,
        save_final_model=False,
        progress=False,
        plot=False,
        log_samples=0,
        torch_threads=0 if args.device == "cuda" else 1,
        seed=args.seed,
    )
    if not args.tiny:
        settings.update(model=f"random:{args.shape}", dtype="bfloat16")
    settings.update(extra)
    return make_preset("cpu-tiny", **settings)


def _logprob_gap(trainer: Any, samples: list[Any]) -> dict[str, Any]:
    """Per-token gap between the generator's reported log-probabilities and the trainer's."""
    import torch
    from spice_agents.grpo import sequence_logprobs

    rows = [s for s in samples if s.sampler_logprobs][:16]
    if not rows:
        return {"tokens": 0}
    with torch.no_grad(), trainer.accelerator.autocast():
        logprobs, mask, _ = sequence_logprobs(
            trainer.model,
            rows,
            pad_token_id=trainer.tokenizer.pad_token_id,
            device=trainer.accelerator.device,
        )
    gaps = []
    for index, sample in enumerate(rows):
        length = len(sample.completion_ids)
        ours = logprobs[index, :length].float().cpu()
        theirs = torch.tensor(sample.sampler_logprobs[:length])
        gaps.append(ours - theirs)
    gap = torch.cat(gaps)
    return {
        "tokens": int(gap.numel()),
        "mean_abs": float(gap.abs().mean()),
        "max_abs": float(gap.abs().max()),
        "mean": float(gap.mean()),
    }


def run_check(args: argparse.Namespace, provided: dict[str, Any]) -> dict[str, Any]:
    import accelerate
    import torch
    import transformers
    from spice_agents.collector import SelfPlayCollector
    from spice_agents.grpo import GRPOTrainer, assign_advantages
    from spice_agents.models import build_model

    from spice_env.policies.hf import HFBackend

    start = time.perf_counter()
    cuda = args.device == "cuda"
    report: dict[str, Any] = {
        "device": torch.cuda.get_device_name(0) if cuda else platform.processor() or "cpu",
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "accelerate": accelerate.__version__,
        },
        "dependencies": provided,
        "skipped": [
            f"{name}: {why}"
            for name, why in OPTIONAL.items()
            if importlib.util.find_spec(name) is None
        ],
    }
    if not cuda:
        report["skipped"].append("CUDA: absent, a dry run on the CPU (tiny model, float32)")
    work = Path(tempfile.mkdtemp(prefix="gpu_check_run_"))
    config = _config(args, work / "selfplay")
    budgets = dict(zip(args.budgets, ("type_selection", "challenger", "reasoner")))

    tic = time.perf_counter()
    model, tokenizer = build_model(config)
    if cuda:
        try:
            model.set_attn_implementation("sdpa")
        except (AttributeError, ValueError) as error:  # older transformers, or no SDPA
            report["skipped"].append(f"SDPA attention: {error}")
    device = torch.device("cuda" if cuda else "cpu")
    model.to(device)
    generator_dtype = torch.bfloat16 if cuda else torch.float32
    generator = CountingBackend(
        HFBackend(
            copy.deepcopy(model),
            tokenizer,
            device=device,
            dtype=generator_dtype,
            batch_size=args.generation_batch,
        ),
        budgets,
    )
    trainer = GRPOTrainer(config, model=model, tokenizer=tokenizer, backend=generator)
    report["model"] = {
        "name": config.model.model,
        "parameters": sum(p.numel() for p in model.parameters()),
        "attention": getattr(model.config, "_attn_implementation", None),
        "trainer_precision": f"float32 weights, {trainer.accelerator.mixed_precision} autocast",
        "generator_dtype": str(generator_dtype).replace("torch.", ""),
        "generator_owns_weights": trainer._generator_has_own_weights,
        "build_seconds": round(time.perf_counter() - tic, 2),
    }
    report["settings"] = {
        key: getattr(args, key)
        for key in ("documents", "group_size", "answers", "budgets", "micro_batch")
    }

    def over_budget(label: str) -> bool:
        if time.perf_counter() - start < args.budget_seconds:
            return False
        report["skipped"].append(f"{label}: the {args.budget_seconds:.0f} s budget was spent")
        return True

    iterations = []
    for index in range(args.iterations):
        if over_budget(f"self-play iteration {index + 1}"):
            break
        if index == 1:
            # Random weights fail the type selection, so the first iteration never reaches the
            # long task-writing stage: from the second on, the env picks the task type.
            direct = _config(args, work / "selfplay", env_kwargs={"type_selection": False})
            trainer.collector = SelfPlayCollector(direct, generator)
        record = trainer.train_iteration()
        iterations.append(_summary("self-play", record, generator.take()))

    # Reasoner phase: tasks from the scripted Challenger, answered and trained by the model.
    if args.reasoner_iteration and not over_budget("Reasoner-phase iteration"):
        tasks_config = _config(args, work / "reasoner", challenger="scripted")
        collector = SelfPlayCollector(tasks_config, generator)
        tic = time.perf_counter()
        trainer.model.eval()
        rollout = collector.collect(trainer.iteration)
        trainer.model.train()
        assign_advantages(rollout.samples)
        update = trainer.update(rollout.samples)
        sync = trainer._sync_weights()
        record = {
            "iteration": trainer.iteration + 1,
            "time": {
                "iteration": time.perf_counter() - tic,
                "update": update["time"]["update"],
                "weight_sync": sync,
            },
            "train_tokens": update["train_tokens"],
            "kl": update["kl"],
            "samples": {
                "reasoner": sum(s.role == "reasoner" for s in rollout.samples),
                "challenger": 0,
            },
        }
        iterations.append(_summary("reasoner-phase", record, generator.take()))
        report["logprob_gap"] = _logprob_gap(trainer, rollout.samples)

    # After the last weight sync the generator holds the trained weights (in its dtype).
    trained = trainer.accelerator.unwrap_model(trainer.model).state_dict()
    held = generator.model.state_dict()
    report["generator_vs_trained_max_abs_diff"] = max(
        float((held[name].float() - tensor.to(held[name].dtype).float()).abs().max())
        for name, tensor in trained.items()
    )
    report["iterations"] = iterations
    report["seconds_per_iteration"] = [it["seconds"] for it in iterations]
    report["peak_gpu_memory_gib"] = (
        round(torch.cuda.max_memory_allocated() / 2**30, 2) if cuda else None
    )
    report["total_seconds"] = round(time.perf_counter() - start, 1)
    return report


def _summary(kind: str, record: dict[str, Any], generation: dict[str, Any]) -> dict[str, Any]:
    seconds = record["time"]
    train_tokens = record.get("train_tokens")
    if train_tokens is None:  # a train_iteration record: throughput holds tokens/s
        rate = record["throughput"]["train_tokens_per_s"]
        train_tokens = round(rate * seconds["update"]) if rate else 0
    return {
        "kind": kind,
        "iteration": record["iteration"],
        "seconds": round(seconds["iteration"], 3),
        "generation": generation,
        "training": {
            "tokens": train_tokens,
            "seconds": round(seconds["update"], 3),
            "tokens_per_s": train_tokens / seconds["update"] if seconds["update"] else None,
        },
        "weight_sync_seconds": round(seconds["weight_sync"], 3),
        "samples": record["samples"],
        "generator_vs_trainer_kl": record["kl"]["sampler"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build-carry", type=Path, help="download the wheels into this folder")
    parser.add_argument("--wheels", type=Path, help="the carried wheels (--build-carry)")
    parser.add_argument("--out", type=Path, default=Path("gpu_check.json"))
    parser.add_argument("--tiny", action="store_true", help="the tiny model (a CPU dry run)")
    parser.add_argument("--device", choices=("cuda", "cpu"), default=None)
    parser.add_argument("--shape", default="qwen3-0.6b")
    parser.add_argument("--iterations", type=int, default=2)
    parser.add_argument("--no-reasoner-iteration", dest="reasoner_iteration", action="store_false")
    parser.add_argument("--documents", type=int, default=16)
    parser.add_argument("--group-size", type=int, default=4)
    parser.add_argument("--answers", type=int, default=4)
    parser.add_argument(
        "--budgets",
        type=int,
        nargs=3,
        default=(48, 256, 192),
        metavar=("TYPE", "TASK", "ANSWER"),
        help="max new tokens per stage (distinct: the phase is told apart by it)",
    )
    parser.add_argument("--segment-tokens", type=int, default=512)
    parser.add_argument("--generation-batch", type=int, default=128)
    parser.add_argument("--micro-batch", type=int, default=16)
    parser.add_argument("--budget-seconds", type=float, default=420.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.build_carry is not None:
        build_carry(args.build_carry)
        return
    if len(set(args.budgets)) != 3:
        parser.error("--budgets must be three different numbers")
    provided = provide_dependencies(args.wheels)
    if provided["missing"]:
        raise SystemExit(
            f"missing {', '.join(provided['missing'])}: pass --wheels with the folder from "
            "--build-carry"
        )
    import torch

    if args.device is None:
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda but no CUDA device; use --tiny --device cpu")
    if args.tiny:
        args.budgets = tuple(min(b, cap) for b, cap in zip(args.budgets, (12, 24, 8)))
        args.documents, args.segment_tokens = min(args.documents, 4), min(args.segment_tokens, 96)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    report = run_check(args, provided)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
