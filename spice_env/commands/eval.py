"""``spice eval``: evaluate a model or policy on held-out benchmarks, or compare runs.

Examples::

    # the embedded SmolLM2 on the first 50 problems of each local file
    spice eval --model smollm2 --data-dir ../shared/data/eval --limit 50 --max-new-tokens 384

    # the paper's protocol on a checkpoint (greedy pass@1; AIME avg@32 at temperature 0.6)
    spice eval --model runs/spice/final --data-dir ../shared/data/eval

    # a hub dataset through `datasets`, and an adapter of your own
    spice eval --model smollm2 --benchmarks gsm8k=hf:openai/gsm8k:main@test
    spice eval --policy oracle --adapter 'quiz:question=prompt,answer=target,type=Integer' \\
        --benchmarks quiz=quiz.jsonl

    # two runs side by side
    spice eval --compare runs/eval/base runs/eval/spice --out runs/eval/compare

Rerunning an interrupted command resumes it: finished problems are read from the run folder's
cache and never sent to the model again.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_arguments", "parse_adapter", "parse_benchmarks", "parse_samples", "run"]

DEFAULT_BENCHMARKS = "math500,gsm8k,aime24,amc23,minerva_math,olympiadbench,mmlu_stem"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``spice eval``."""
    who = parser.add_argument_group("what is evaluated")
    who.add_argument(
        "--model",
        default=None,
        help="model to evaluate: smollm2, a hub id, a save_pretrained folder, a "
        "training checkpoint or run folder, or an http(s):// OpenAI-compatible "
        "server URL",
    )
    who.add_argument(
        "--policy",
        default=None,
        help="an env policy instead of a model: oracle, random, noisy:Q, "
        "wrong_format or any registered name",
    )
    who.add_argument(
        "--served-model", default=None, help="model name sent to an OpenAI-compatible server"
    )
    who.add_argument(
        "--label", default=None, help="name of the run in tables (default: the model or policy)"
    )
    who.add_argument(
        "--import",
        dest="imports",
        action="append",
        default=[],
        metavar="MODULE",
        help="import MODULE first (to register your own policies or benchmarks)",
    )

    data = parser.add_argument_group("benchmarks")
    data.add_argument(
        "--benchmarks",
        default=DEFAULT_BENCHMARKS,
        help="comma-separated NAME or NAME=SOURCE, SOURCE a local file or "
        "hf:DATASET[:CONFIG][@SPLIT] (default: the seven local files)",
    )
    data.add_argument(
        "--data-dir",
        action="append",
        default=None,
        metavar="DIR",
        help="folder holding NAME.jsonl (repeatable; default: $SPICE_EVAL_DATA, "
        "data/eval, ../shared/data/eval)",
    )
    data.add_argument(
        "--adapter",
        action="append",
        default=[],
        metavar="SPEC",
        help="add a benchmark format: 'NAME:question=FIELD,answer=FIELD[,reader="
        "plain|after_hashes|last_boxed|join_list|mcq_letter][,type=Integer|"
        "Expression|String|MCQ][,options=FIELD][,id=FIELD]"
        "[,category=math|general]'",
    )
    data.add_argument(
        "--limit", type=int, default=None, help="only the first N problems of each benchmark"
    )
    data.add_argument("--list", action="store_true", help="list the known benchmarks and exit")

    protocol = parser.add_argument_group("protocol")
    protocol.add_argument(
        "--samples",
        default=None,
        help="samples per problem: N for all, or NAME=N,... (default: 32 for "
        "AIME, 1 (greedy) elsewhere)",
    )
    protocol.add_argument(
        "--temperature",
        type=float,
        default=None,
        help="temperature of sampled benchmarks (default 0.6)",
    )
    protocol.add_argument("--top-p", type=float, default=1.0, help="top-p of sampled benchmarks")
    protocol.add_argument(
        "--max-new-tokens", type=int, default=1024, help="token budget per answer (1024)"
    )
    protocol.add_argument(
        "--prompt-style",
        choices=("chat", "base"),
        default="chat",
        help="chat messages, or the plain base-model prompt (chat)",
    )
    protocol.add_argument("--seed", type=int, default=0, help="sampling seed (0)")
    protocol.add_argument(
        "--mcq-rotations",
        type=int,
        default=1,
        help="ask each multiple-choice item N times, its options moved one place each time; "
        "with N = the number of options a favourite letter scores exactly chance (greedy "
        "benchmarks; 1: as given)",
    )

    runtime = parser.add_argument_group("run")
    runtime.add_argument(
        "--out", default=None, help="run folder (default runs/eval/LABEL); rerun to resume"
    )
    runtime.add_argument("--batch-size", type=int, default=8, help="problems per model call (8)")
    runtime.add_argument(
        "--backend-batch-size",
        type=int,
        default=8,
        help="rows decoded together by the transformers backend (8)",
    )
    runtime.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch CPU threads (default: torch's choice); 1 is much faster "
        "when other processes share the cores",
    )
    runtime.add_argument(
        "--overwrite", action="store_true", help="discard the cached answers in the run folder"
    )
    runtime.add_argument(
        "--rescore", action="store_true", help="re-verify cached answers with the current verifier"
    )
    runtime.add_argument(
        "--verifier-mode",
        choices=("lenient", "strict"),
        default="lenient",
        help="how answers are read: lenient (also unboxed answers; the evaluation default) or "
        "strict (only an unhedged \\boxed{} answer, as training pays); recorded in the report",
    )
    runtime.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    runtime.add_argument("--no-plot", action="store_true", help="do not write the PNG chart")
    runtime.add_argument(
        "--compare",
        nargs="+",
        default=None,
        metavar="RUN",
        help="compare two or more finished runs (folders or results.json) instead of evaluating",
    )


def parse_adapter(spec: str) -> Any:
    """Build a :class:`~spice_env.evaluation.Benchmark` from ``NAME:key=value,...``.

    Args:
        spec: e.g. ``"quiz:question=prompt,answer=target,type=Integer"``. Keys: ``question``,
            ``answer``, ``reader``, ``type``, ``options``, ``context``, ``id``, ``category``,
            ``samples``, ``temperature``. ``question`` and ``answer`` may list candidate
            fields separated by ``|``.

    Returns:
        The adapter (not yet registered).

    Raises:
        ValueError: On a malformed spec or an unknown key.
    """
    from spice_env.evaluation import Benchmark

    name, _, body = spec.partition(":")
    if not name or not body:
        raise ValueError(f"--adapter {spec!r}: write NAME:question=FIELD,answer=FIELD,...")
    keys = {
        "question": "question",
        "answer": "answer",
        "reader": "gold_reader",
        "type": "answer_type",
        "options": "options",
        "context": "context",
        "id": "id_field",
        "category": "category",
        "samples": "samples",
        "temperature": "temperature",
    }
    kwargs: dict[str, Any] = {}
    for part in body.split(","):
        key, _, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if key not in keys or not value:
            raise ValueError(
                f"--adapter {spec!r}: unknown or empty key {key!r}; use {sorted(keys)}"
            )
        if key in ("question", "answer", "options", "id") and "|" in value:
            kwargs[keys[key]] = tuple(v.strip() for v in value.split("|"))
        elif key == "samples":
            kwargs[keys[key]] = int(value)
        elif key == "temperature":
            kwargs[keys[key]] = float(value)
        else:
            kwargs[keys[key]] = value
    return Benchmark(name.strip(), **kwargs)


def parse_benchmarks(text: str) -> tuple[list[str], dict[str, str]]:
    """Split ``"a,b=path,c=hf:x/y"`` into names and per-name sources.

    Returns:
        ``(names, sources)``.
    """
    names: list[str] = []
    sources: dict[str, str] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, _, source = part.partition("=")
        names.append(name.strip())
        if source:
            sources[name.strip()] = source.strip()
    return names, sources


def parse_samples(text: str | None) -> tuple[int | None, dict[str, int]]:
    """``"4"`` -> (4, {}); ``"aime24=8,gsm8k=1"`` -> (None, {...})."""
    if text is None:
        return None, {}
    if "=" not in text:
        return int(text), {}
    overrides = {}
    for part in text.split(","):
        name, _, value = part.partition("=")
        overrides[name.strip()] = int(value)
    return None, overrides


def _answerer(args: argparse.Namespace) -> tuple[Any, str]:
    from spice_env.evaluation.models import describe_model

    if args.model and args.policy:
        raise ValueError("give --model or --policy, not both")
    if args.model:
        from spice_env.evaluation.models import load_backend, set_threads

        set_threads(args.threads)

        backend = load_backend(
            args.model, batch_size=args.backend_batch_size, served_model=args.served_model
        )
        return backend, args.label or describe_model(args.model)
    if args.policy:
        import spice_env.evaluation.baselines  # noqa: F401  (registers wrong_format)
        from spice_env.policies import make_policy

        return make_policy(args.policy, role="reasoner", seed=args.seed), args.label or args.policy
    raise ValueError("say what to evaluate: --model MODEL or --policy NAME (see --help)")


def run(args: argparse.Namespace) -> int:
    """Run ``spice eval``."""
    for module in args.imports:
        importlib.import_module(module)
    from spice_env.evaluation import (
        EvalConfig,
        compare_runs,
        evaluate,
        get_benchmark,
        list_benchmarks,
        register_benchmark,
    )
    from spice_env.evaluation.report import comparison_markdown, report_markdown
    from spice_env.verifiers import VerifierConfig

    try:
        for spec in args.adapter:
            register_benchmark(parse_adapter(spec), overwrite=True)
        if args.list:
            for name in list_benchmarks():
                benchmark = get_benchmark(name)
                print(f"{name:<15} {benchmark.category:<8} {benchmark.description}")
            return 0
        if args.compare is not None:
            out = Path(args.out or "runs/eval/compare")
            comparison = compare_runs(args.compare, out, plot=not args.no_plot)
            print(comparison_markdown(comparison))
            print(f"wrote {out}/comparison.{{json,md,png}}", file=sys.stderr)
            return 0
        names, sources = parse_benchmarks(args.benchmarks)
        samples, samples_by_benchmark = parse_samples(args.samples)
        config = EvalConfig(
            max_new_tokens=args.max_new_tokens,
            batch_size=args.batch_size,
            seed=args.seed,
            samples=samples,
            samples_by_benchmark=samples_by_benchmark,
            temperature=args.temperature,
            top_p=args.top_p,
            prompt_style=args.prompt_style,
            limit=args.limit,
            progress=not args.no_progress,
            rescore=args.rescore,
            verifier_config=VerifierConfig(mode=args.verifier_mode),
            overwrite=args.overwrite,
            mcq_rotations=args.mcq_rotations,
        )
        answerer, label = _answerer(args)
    except (ValueError, FileNotFoundError) as error:
        print(f"spice eval: {error}", file=sys.stderr)
        return 2

    out = Path(args.out or Path("runs/eval") / _safe(label))
    try:
        report = evaluate(
            answerer,
            names,
            out,
            config=config,
            label=label,
            sources=sources,
            data_dirs=args.data_dir,
            plot=not args.no_plot,
        )
    except KeyboardInterrupt:
        print(
            f"\nspice eval: interrupted; finished problems are cached in {out}. "
            "Run the same command again to continue.",
            file=sys.stderr,
        )
        return 130
    except (ValueError, FileNotFoundError) as error:
        print(f"spice eval: {error}", file=sys.stderr)
        return 2
    print(report_markdown(report))
    print(f"wrote {out}/results.{{json,md,png}}", file=sys.stderr)
    return 0


def _safe(label: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in label).strip("_") or "run"
