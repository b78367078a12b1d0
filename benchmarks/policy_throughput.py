"""Generation throughput of the language-model backends, side by side in one run.

- transformers (real SmolLM2-135M-Instruct): one prompt at a time (``batch_size=1``, one
  call per prompt) against the same prompts in one call, batched by 8 and by 32 rows;
- OpenAI-compatible HTTP (a real llama.cpp server on 127.0.0.1, started here unless
  ``--base-url`` is given): ``concurrency=1`` against ``concurrency=8``.

Every side generates the same prompts with the same seeded sampling (temperature 1,
``--max-new-tokens``); tokens/s is generated tokens over wall time. Sides alternate in order
from round to round and the table shows medians and ratios, because shared CPUs are noisy.
torch runs on one thread (``--threads``) and so does the llama.cpp server.

On a GPU, ``--model qwen3-random --device cuda`` runs the transformers sides on a randomly
initialized Qwen3-0.6B-shaped model built from a config (bf16, SmolLM2's tokenizer, nothing
downloaded): random weights rarely emit end-of-sequence, so every answer runs to full length.

    python benchmarks/policy_throughput.py                  # both backends
    python benchmarks/policy_throughput.py --skip-http      # transformers only

Prints a table and writes ``benchmarks/results/policy_throughput.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch

from spice_env.policies.hf import HFBackend, default_dtype
from spice_env.policies.openai_http import OpenAIBackend
from spice_env.policies.sampling import Completion, LLMBackend, SamplingParams
from spice_env.policies.smollm2 import load_smollm2, smollm2_gguf_path

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "eval" / "gsm8k.jsonl"


def load_prompts(count: int, path: Path) -> list[list[dict[str, str]]]:
    """``count`` Reasoner-style chat prompts: GSM8K questions when the file is there."""
    questions: list[str] = []
    if path.is_file():
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                questions.append(json.loads(line)["question"])
                if len(questions) == count:
                    break
    while len(questions) < count:  # synthetic fallback, same shape
        k = len(questions)
        questions.append(f"A shop sells {k + 3} boxes of {k + 7} pens. How many pens in all?")
    return [
        [
            {"role": "system", "content": "You are a helpful assistant."},
            {
                "role": "user",
                "content": f"{q}\n\nReason step by step, then put the answer in \\boxed{{}}.",
            },
        ]
        for q in questions
    ]


def build_model(name: str, device: str) -> tuple[Any, Any]:
    """SmolLM2 from the package, or a random Qwen3-0.6B-shaped model (no download)."""
    if name == "smollm2":
        return load_smollm2(device=device)
    from spice_agents.tiny import build_random_model

    _, tokenizer = load_smollm2()
    model = build_random_model("qwen3-0.6b", tokenizer).to(default_dtype(device))
    return model.to(device).eval(), tokenizer


def timed(run: Callable[[], list[list[Completion]]]) -> dict[str, float]:
    start = time.perf_counter()
    results = run()
    seconds = time.perf_counter() - start
    tokens = sum(c.num_tokens or 0 for per_prompt in results for c in per_prompt)
    return {"tokens": tokens, "seconds": seconds, "tokens_per_s": tokens / seconds}


def one_at_a_time(backend: LLMBackend, prompts: list[Any], params: SamplingParams) -> Any:
    # A distinct seed per prompt, as the batched call derives one per row.
    return [
        backend.generate([p], params.replace(seed=params.seed + i))[0]
        for i, p in enumerate(prompts)
    ]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_llama_server(threads: int) -> tuple[subprocess.Popen[bytes], str]:
    import httpx

    port = free_port()
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(smollm2_gguf_path()),
        "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096",
        "--n_threads", str(threads), "--n_threads_batch", str(threads),
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("llama.cpp server exited; is llama-cpp-python[server] installed?")
        try:
            if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.5)
    process.kill()
    raise RuntimeError("llama.cpp server not ready after 180 s")


def run_rounds(
    sides: dict[str, Callable[[], Any]], rounds: int
) -> dict[str, list[dict[str, float]]]:
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in sides}
    names = list(sides)
    for index in range(rounds):
        order = names if index % 2 == 0 else names[::-1]
        for name in order:
            runs[name].append(timed(sides[name]))
            print(f"  round {index + 1} {name:<14} {runs[name][-1]['tokens_per_s']:8.1f} tok/s",
                  file=sys.stderr, flush=True)  # fmt: skip
    return runs


def summarize(runs: dict[str, list[dict[str, float]]], baseline: str) -> dict[str, Any]:
    rows = {}
    base = statistics.median(r["tokens_per_s"] for r in runs[baseline])
    for name, side_runs in runs.items():
        median = statistics.median(r["tokens_per_s"] for r in side_runs)
        rows[name] = {
            "median_tokens_per_s": median,
            "ratio_vs_" + baseline: median / base,
            "runs_tokens_per_s": [r["tokens_per_s"] for r in side_runs],
            "median_tokens": statistics.median(r["tokens"] for r in side_runs),
        }
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=32, help="prompts per round (32)")
    parser.add_argument("--max-new-tokens", type=int, default=32, help="tokens per answer (32)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (3)")
    parser.add_argument("--threads", type=int, default=1, help="torch / llama.cpp threads (1)")
    parser.add_argument("--device", default="cpu", help="transformers device (cpu)")
    parser.add_argument(
        "--model", choices=("smollm2", "qwen3-random"), default="smollm2", help="(smollm2)"
    )
    parser.add_argument("--base-url", default=None, help="use this server instead of starting one")
    parser.add_argument("--skip-hf", action="store_true", help="skip the transformers backend")
    parser.add_argument("--skip-http", action="store_true", help="skip the HTTP backend")
    parser.add_argument(
        "--http-no-logprobs",
        action="store_true",
        help="HTTP: do not ask for log-probs (llama-cpp-python ranks the whole vocabulary in "
        "Python for each token it reports, which dominates its time)",
    )
    parser.add_argument("--data", default=str(DATA), help="JSONL with a 'question' field")
    parser.add_argument(
        "--out", default=str(Path(__file__).parent / "results" / "policy_throughput.json")
    )
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    prompts = load_prompts(args.prompts, Path(args.data))
    params = SamplingParams(temperature=1.0, max_new_tokens=args.max_new_tokens, seed=0)
    report: dict[str, Any] = {
        "settings": {**vars(args), "torch": torch.__version__, "python": platform.python_version()},
        "machine": {
            "cpus": os.cpu_count(),
            "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
            "load_before": os.getloadavg(),
        },
    }

    if not args.skip_hf:
        model, tokenizer = build_model(args.model, args.device)
        single = HFBackend(model, tokenizer, batch_size=1)
        by8 = HFBackend(model, tokenizer, batch_size=8)
        by32 = HFBackend(model, tokenizer, batch_size=32)
        single.generate(prompts[:2], params)  # warm-up (allocator, kernels)
        print("transformers backend", file=sys.stderr)
        runs = run_rounds(
            {
                "one_at_a_time": lambda: one_at_a_time(single, prompts, params),
                "batched_8": lambda: by8.generate(prompts, params),
                "batched_32": lambda: by32.generate(prompts, params),
            },
            args.rounds,
        )
        report["transformers"] = summarize(runs, "one_at_a_time")

    if not args.skip_http:
        server, url = (None, args.base_url) if args.base_url else start_llama_server(args.threads)
        try:
            # Off: llama.cpp's default top-k, min-p and repeat penalty, to sample as the others.
            extra = {"top_k": 0, "min_p": 0.0, "repeat_penalty": 1.0}
            logprobs = not args.http_no_logprobs
            serial = OpenAIBackend(url, concurrency=1, extra_body=extra, logprobs=logprobs)
            parallel = OpenAIBackend(url, concurrency=8, extra_body=extra, logprobs=logprobs)
            serial.generate(prompts[:2], params)  # warm-up
            print("HTTP backend (llama.cpp server)", file=sys.stderr)
            runs = run_rounds(
                {
                    "concurrency_1": lambda: serial.generate(prompts, params),
                    "concurrency_8": lambda: parallel.generate(prompts, params),
                },
                args.rounds,
            )
            report["http"] = summarize(runs, "concurrency_1")
        finally:
            if server is not None:
                server.terminate()
                server.wait(timeout=30)

    report["machine"]["load_after"] = os.getloadavg()
    print(f"\n{'backend':<14} {'side':<15} {'median tok/s':>13} {'ratio':>7}  runs")
    for backend in ("transformers", "http"):
        for side, row in report.get(backend, {}).items():
            ratio = next(v for k, v in row.items() if k.startswith("ratio_vs_"))
            runs_text = " ".join(f"{v:.1f}" for v in row["runs_tokens_per_s"])
            print(
                f"{backend:<14} {side:<15} {row['median_tokens_per_s']:>13.1f} {ratio:>6.2f}x"
                f"  {runs_text}"
            )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
