"""The evaluation loop: batches of problems -> sampled answers -> verifier -> cached records.

:func:`evaluate` runs one policy over several benchmarks with the paper's protocol (greedy
pass@1; AIME avg@32 at temperature 0.6), keeps every finished item in a per-benchmark cache so
an interrupted run resumes where it stopped, and writes the tables (``results.json``,
``results.md``, ``results.png``) to the run folder.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from spice_env.evaluation.benchmarks import (
    Benchmark,
    DatasetSource,
    EvalItem,
    get_benchmark,
    load_items,
    rotations_of,
)
from spice_env.evaluation.cache import ItemCache, item_key
from spice_env.evaluation.metrics import aggregate
from spice_env.evaluation.responders import (
    DecodingSettings,
    Responder,
    Response,
    as_responder,
)
from spice_env.prompts import DEFAULT_PROMPTS, PromptTemplates

__all__ = ["EvalConfig", "decoding_for", "evaluate", "evaluate_benchmark"]

DEFAULT_SAMPLED_TEMPERATURE = 0.6
"""Temperature for a benchmark asked for several samples without a temperature (paper: 0.6)."""


@dataclass(frozen=True)
class EvalConfig:
    """Settings of an evaluation run; the defaults follow the paper's protocol.

    Attributes:
        max_new_tokens: Token budget of each answer.
        batch_size: Problems per backend call (each with all its samples).
        seed: Base seed of the sampling; each batch gets a seed derived from it.
        samples: Samples per problem for every benchmark (``None``: each benchmark's own
            default, 32 for AIME and 1 elsewhere).
        samples_by_benchmark: Per-benchmark override of ``samples`` (``{"aime24": 4}``).
        temperature: Temperature of sampled benchmarks (``None``: the benchmark's own, 0.6).
            Benchmarks with one sample are always greedy.
        top_p: Nucleus threshold of sampled benchmarks.
        prompt_style: ``"chat"`` (messages with the chat template) or ``"base"`` (the plain
            "conversation between User and Assistant" prompt).
        limit: Evaluate only the first ``limit`` problems of each benchmark.
        progress: Show a progress bar with the running accuracy.
        rescore: Re-verify cached answers with the current verifier instead of trusting the
            stored verdicts (no model call).
        verifier_config: A ``spice_env.verifiers.VerifierConfig`` (``None``: the defaults in
            ``"lenient"`` mode, which reads answers that are not boxed). The mode is
            recorded in every record and in the report; cached records verified in another
            mode are re-verified (no model call), so one report never mixes modes.
        overwrite: Clear a run folder written by another policy instead of refusing.
        mcq_rotations: Ask each multiple-choice item this many times, its options moved one
            place further each time (1: as given). With as many rotations as options, every
            letter holds the gold once, so a model that always picks one letter scores the
            chance rate whatever the golds are: the circular evaluation of MMBench (Liu et al.
            2023), averaged over the rotations. Greedy (one-sample) benchmarks only.
    """

    max_new_tokens: int = 1024
    batch_size: int = 8
    seed: int = 0
    samples: int | None = None
    samples_by_benchmark: Mapping[str, int] = field(default_factory=dict)
    temperature: float | None = None
    top_p: float = 1.0
    prompt_style: Literal["chat", "base"] = "chat"
    limit: int | None = None
    progress: bool = True
    rescore: bool = False
    verifier_config: Any = None
    overwrite: bool = False
    mcq_rotations: int = 1

    def __post_init__(self) -> None:
        if self.mcq_rotations < 1:
            raise ValueError(f"mcq_rotations={self.mcq_rotations} must be at least 1")
        if self.mcq_rotations > 1 and self.samples is not None and self.samples > 1:
            raise ValueError(
                f"mcq_rotations={self.mcq_rotations} needs greedy decoding (one sample per "
                f"prompt), not samples={self.samples}"
            )
        if self.batch_size < 1:
            raise ValueError(f"batch_size={self.batch_size} must be at least 1")
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens={self.max_new_tokens} must be at least 1")
        if self.samples is not None and self.samples < 1:
            raise ValueError(f"samples={self.samples} must be at least 1 (or None)")
        if any(k < 1 for k in self.samples_by_benchmark.values()):
            raise ValueError(f"samples_by_benchmark={dict(self.samples_by_benchmark)}: use >= 1")
        if self.temperature is not None and self.temperature <= 0:
            raise ValueError(
                f"temperature={self.temperature} applies to sampled benchmarks and must be "
                "positive; greedy decoding is what samples=1 means"
            )
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"limit={self.limit} must be at least 1 (or None)")
        if self.prompt_style not in ("chat", "base"):
            raise ValueError(f"prompt_style={self.prompt_style!r}; use 'chat' or 'base'")

    def verifier(self) -> Any:
        """The verifier configuration this run uses (lenient unless set)."""
        from spice_env.verifiers import VerifierConfig

        return self.verifier_config or VerifierConfig(mode="lenient")

    @property
    def verification_mode(self) -> str:
        """``"strict"`` or ``"lenient"``: how answers are read in this run."""
        return str(self.verifier().mode)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (a verifier config becomes its fields, as ``asdict`` recurses)."""
        data = asdict(self)
        data["samples_by_benchmark"] = dict(self.samples_by_benchmark)
        data["verifier_config"] = {
            key: str(value) if key == "mode" else value
            for key, value in asdict(self.verifier()).items()
        }
        return data


def decoding_for(benchmark: Benchmark, config: EvalConfig) -> DecodingSettings:
    """The decoding a benchmark gets under ``config``.

    Args:
        benchmark: The adapter (carries its default samples and temperature).
        config: Run settings with optional overrides.

    Returns:
        Greedy decoding for one sample; otherwise ``k`` samples at the configured temperature.
    """
    samples = config.samples_by_benchmark.get(
        benchmark.name, config.samples if config.samples is not None else benchmark.samples
    )
    if samples == 1:
        return DecodingSettings(1, 0.0, 1.0, config.max_new_tokens, config.seed)
    temperature = config.temperature or benchmark.temperature or DEFAULT_SAMPLED_TEMPERATURE
    return DecodingSettings(samples, temperature, config.top_p, config.max_new_tokens, config.seed)


def _verify(
    items: Sequence[EvalItem], responses: Sequence[Sequence[Response]], verifier_config: Any
) -> list[list[Any]]:
    from spice_env.verifiers import verify_many

    golds, texts, types, options = [], [], [], []
    for item, answers in zip(items, responses):
        for answer in answers:
            golds.append(item.gold)
            texts.append(answer.text)
            types.append(item.answer_type)
            options.append(list(item.options) if item.options is not None else None)
    flat = verify_many(golds, texts, types, options=options, config=verifier_config)
    mode = str(verifier_config.mode)
    out, start = [], 0
    for answers in responses:
        out.append([(result, mode) for result in flat[start : start + len(answers)]])
        start += len(answers)
    return out


def _record(
    key: str,
    item: EvalItem,
    responses: Sequence[Response],
    results: Sequence[Any],
    seconds: float,
    views: Sequence[EvalItem] = (),
) -> dict[str, Any]:
    rotated = {"golds": [v.gold for v in views]} if len(views) > 1 else {}
    return {
        "key": key,
        "id": item.id,
        "gold": item.gold,
        **rotated,
        "task_type": _task_type(item),
        "answers": [r.text for r in responses],
        "finish_reasons": [r.finish_reason for r in responses],
        "num_tokens": [r.num_tokens for r in responses],
        "correct": [bool(v.correct) for v, _ in results],
        "extracted": [v.extracted for v, _ in results],
        "reasons": [str(v.reason) for v, _ in results],
        "verification_mode": results[0][1] if results else None,
        "seconds": seconds,
    }


def _task_type(item: EvalItem) -> str:
    return "mcq" if item.is_mcq else "free_form"


def _rescored(
    record: dict[str, Any], item: EvalItem, verifier_config: Any, rotations: int = 1
) -> dict[str, Any]:
    views = rotations_of(item, rotations)
    if len(views) > 1:  # one answer per rotation, each checked against its own view
        results = [
            _verify([view], [[Response(text)]], verifier_config)[0][0]
            for view, text in zip(views, record["answers"])
        ]
    else:
        responses = [Response(text) for text in record["answers"]]
        results = _verify([item], [responses], verifier_config)[0]
    return {
        **record,
        "task_type": _task_type(item),
        "correct": [bool(v.correct) for v, _ in results],
        "extracted": [v.extracted for v, _ in results],
        "reasons": [str(v.reason) for v, _ in results],
        "verification_mode": results[0][1] if results else None,
    }


def evaluate_benchmark(
    responder: Responder,
    benchmark: Benchmark,
    items: Sequence[EvalItem],
    cache: ItemCache,
    config: EvalConfig,
    prompts: PromptTemplates = DEFAULT_PROMPTS,
) -> dict[str, Any]:
    """Answer and verify the items of one benchmark that the cache does not hold yet.

    Args:
        responder: Produces the answers.
        benchmark: The adapter.
        items: Its problems, in order.
        cache: Per-item records; finished items are read from it, new ones appended.
        config: Run settings.
        prompts: Prompt templates (part of the cache key).

    Returns:
        The benchmark's scores (see :func:`spice_env.evaluation.metrics.aggregate`) plus
        ``category``, ``decoding``, ``score`` (the headline metric's value) and
        ``queried_items`` (items answered by the model in this call).
    """
    from spice_env.policies.sampling import derive_seed

    decoding = decoding_for(benchmark, config)
    decoding_key = decoding.to_dict()
    rotations = config.mcq_rotations
    if rotations > 1 and decoding.samples > 1 and any(item.is_mcq for item in items):
        raise ValueError(
            f"{benchmark.name} is sampled ({decoding.samples} samples per item); "
            f"mcq_rotations={rotations} needs greedy decoding"
        )
    keys = [
        item_key(
            benchmark.name,
            item.id,
            item.question,
            item.gold,
            item.answer_type,
            item.options,
            prompts.reasoner_messages(item.question, item.options)
            if config.prompt_style == "chat"
            else prompts.reasoner_prompt(item.question, item.options),
            decoding_key,
            # Part of the key only when used, so that caches written before it stay valid.
            *([("mcq_rotations", rotations)] if rotations > 1 and item.is_mcq else []),
        )
        for item in items
    ]
    verifier = config.verifier()
    by_key = dict(zip(keys, items))
    mode = config.verification_mode
    stale = [
        r
        for r in cache.records()
        if r["key"] in by_key and (config.rescore or r.get("verification_mode") != mode)
    ]
    if stale:
        # Re-verify this run's items (all with --rescore, else those verified in another
        # mode); records of other items (another --limit) are kept as they are.
        cache.replace_all(
            [
                _rescored(record, by_key[record["key"]], verifier, rotations)
                if record["key"] in by_key
                and (config.rescore or record.get("verification_mode") != mode)
                else record
                for record in cache.records()
            ]
        )
    if any("task_type" not in r for r in cache.records() if r["key"] in by_key):
        # A cache written before records named their task type: name it, answers untouched.
        cache.replace_all(
            [
                {**r, "task_type": _task_type(by_key[r["key"]])}
                if r["key"] in by_key and "task_type" not in r
                else r
                for r in cache.records()
            ]
        )
    pending = [(key, item) for key, item in zip(keys, items) if key not in cache]
    done_scores = [_item_score(cache.get(k)) for k in keys if k in cache]

    bar = _progress(benchmark.name, len(items), len(done_scores), config.progress)
    try:
        for start in range(0, len(pending), config.batch_size):
            batch = pending[start : start + config.batch_size]
            batch_items = [item for _, item in batch]
            # The seed depends only on the batch's items, so a resumed run (which restarts at
            # a batch boundary) draws the same samples as an uninterrupted one.
            seed = derive_seed(config.seed, benchmark.name, *(item.id for item in batch_items))
            views = [rotations_of(item, rotations) for item in batch_items]
            prompts = [view for per_item in views for view in per_item]
            began = time.perf_counter()
            responses = responder.respond(prompts, decoding, seed % (2**31))
            if len(responses) != len(prompts) or any(len(r) != decoding.samples for r in responses):
                raise RuntimeError(
                    f"expected {decoding.samples} answers for each of {len(prompts)} "
                    f"prompts, got {[len(r) for r in responses]}"
                )
            verdicts = _verify(prompts, responses, verifier)
            per_item = (time.perf_counter() - began) / len(batch_items)
            records, start = [], 0
            for (key, item), shown in zip(batch, views):
                # One record per item: the answers of all its views, in rotation order.
                end = start + len(shown)
                answers = [a for answer in responses[start:end] for a in answer]
                results = [v for verdict in verdicts[start:end] for v in verdict]
                records.append(_record(key, item, answers, results, per_item, shown))
                start = end
            cache.add_many(records)
            done_scores += [_item_score(r) for r in records]
            if bar is not None:
                bar.update(len(records))
                bar.set_postfix(acc=f"{sum(done_scores) / len(done_scores):.1%}")
    finally:
        if bar is not None:
            bar.close()

    records = [cache.get(k) for k in keys]
    result = aggregate([r for r in records if r is not None], decoding.samples)
    result["category"] = benchmark.category
    result["decoding"] = decoding_key
    result["score"] = result.get(result["primary"])
    result["queried_items"] = len(pending)
    if rotations > 1 and any(item.is_mcq for item in items):
        result["mcq_rotations"] = rotations
    return result


def _item_score(record: Mapping[str, Any] | None) -> float:
    if not record or not record.get("correct"):
        return 0.0
    return sum(map(bool, record["correct"])) / len(record["correct"])


def _progress(name: str, total: int, initial: int, enabled: bool) -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm

    bar = tqdm(total=total, initial=initial, desc=name, unit="item", dynamic_ncols=True)
    return bar


BenchmarkSpec = str | Benchmark
SourceSpec = str | os.PathLike[str] | DatasetSource


def evaluate(
    answerer: Any,
    benchmarks: Sequence[BenchmarkSpec],
    out_dir: str | os.PathLike[str],
    *,
    config: EvalConfig | None = None,
    label: str = "policy",
    sources: Mapping[str, SourceSpec] | None = None,
    data_dirs: Sequence[str | os.PathLike[str]] | None = None,
    prompts: PromptTemplates = DEFAULT_PROMPTS,
    plot: bool = True,
    on_benchmark: Callable[[str, dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Evaluate a policy or LLM backend on benchmarks; resumable; writes the tables.

    Args:
        answerer: An env policy, an LLM backend, an LLM policy with a ``backend``, or a
            :class:`~spice_env.evaluation.responders.Responder`.
        benchmarks: Registered names or adapters.
        out_dir: Run folder: ``run.json``, ``cache/NAME.jsonl``, ``results.json``,
            ``results.md`` and ``results.png`` go there. Rerunning into the same folder
            resumes.
        config: Run settings (defaults: the paper's protocol).
        label: Name of the evaluated policy, shown in tables and checked on resume so that
            two policies never share a cache.
        sources: Per-benchmark source (local path, ``"hf:..."`` or
            :class:`~spice_env.evaluation.benchmarks.DatasetSource`); others are looked up as
            ``NAME.jsonl`` in ``data_dirs``.
        data_dirs: Folders holding ``NAME.jsonl`` files.
        prompts: Reasoner prompt templates.
        plot: Write the PNG bar chart (needs matplotlib).
        on_benchmark: Called with ``(name, result)`` after each benchmark.

    Returns:
        The report written to ``results.json``: per-benchmark results, the summary (math
        average, general average, overall) and timings.

    Raises:
        ValueError: When ``out_dir`` holds a run of another ``label`` (pass
            ``overwrite=True`` in the config to replace it).
    """
    from spice_env.evaluation.report import summarize, write_report

    config = config or EvalConfig()
    adapters = [get_benchmark(b) if isinstance(b, str) else b for b in benchmarks]
    names = [a.name for a in adapters]
    if len(set(names)) != len(names):
        raise ValueError(f"benchmarks {names} repeat a name; each needs its own cache")
    sources = dict(sources or {})
    out = Path(out_dir)
    _claim_run_folder(out, label, config.overwrite)
    responder = as_responder(answerer, prompts, config.prompt_style)

    started = time.perf_counter()
    results: dict[str, dict[str, Any]] = {}
    for adapter in adapters:
        source = sources.get(adapter.name)
        items = load_items(adapter, source, limit=config.limit, data_dirs=data_dirs)
        if not items:
            raise ValueError(f"benchmark {adapter.name!r} has no usable items in its source")
        cache = ItemCache(out / "cache" / f"{adapter.name}.jsonl")
        result = evaluate_benchmark(responder, adapter, items, cache, config, prompts)
        result["source"] = _describe_source(source, adapter, data_dirs)
        results[adapter.name] = result
        if on_benchmark is not None:
            on_benchmark(adapter.name, result)

    report = {
        "label": label,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "verification_mode": config.verification_mode,
        "config": config.to_dict(),
        "benchmarks": results,
        "summary": summarize(results),
        "seconds": time.perf_counter() - started,
    }
    write_report(report, out, plot=plot)
    return report


def _describe_source(
    source: SourceSpec | None, adapter: Benchmark, data_dirs: Sequence[Any] | None
) -> str:
    if isinstance(source, DatasetSource):
        return source.describe()
    if source is not None:
        return os.fspath(source)
    from spice_env.evaluation.benchmarks import find_benchmark_file

    return str(find_benchmark_file(adapter.name, data_dirs))


def _claim_run_folder(out: Path, label: str, overwrite: bool) -> None:
    """Refuse to mix two policies' answers in one cache, unless asked to start over."""
    manifest = out / "run.json"
    if overwrite:
        shutil.rmtree(out / "cache", ignore_errors=True)
    elif manifest.is_file():
        try:
            previous = json.loads(manifest.read_text(encoding="utf-8")).get("label")
        except (OSError, ValueError):
            previous = None
        if previous is not None and previous != label:
            raise ValueError(
                f"{out} holds an evaluation of {previous!r}, not {label!r}; use another "
                "output folder or overwrite=True (--overwrite) to discard it"
            )
    out.mkdir(parents=True, exist_ok=True)
    manifest.write_text(json.dumps({"label": label}, indent=2), encoding="utf-8")
