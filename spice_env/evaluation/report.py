"""Tables and charts of evaluation runs: one run, or several side by side.

The overall table follows the paper: each benchmark's headline score (greedy pass@1, or avg@k
for sampled benchmarks such as AIME), the math average, the general average, and the overall
score as the unweighted mean over all benchmarks.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "compare_runs",
    "comparison_markdown",
    "format_task_types",
    "load_report",
    "plot_comparison",
    "plot_report",
    "report_markdown",
    "summarize",
    "write_report",
]


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def summarize(
    results: Mapping[str, Mapping[str, Any]], only: Sequence[str] | None = None
) -> dict[str, Any]:
    """Math average, general average and overall score of per-benchmark results.

    Args:
        results: Benchmark name -> result with ``score`` and ``category``.
        only: Restrict to these benchmarks (e.g. those every compared run has).

    Returns:
        ``math_average``, ``general_average`` and ``overall`` (fractions, ``None`` when no
        benchmark of that kind was run), and the benchmark names behind each.
    """
    names = [n for n in results if only is None or n in only]
    scored = [n for n in names if results[n].get("score") is not None]
    math = [n for n in scored if results[n].get("category") == "math"]
    general = [n for n in scored if results[n].get("category") == "general"]
    return {
        "math_average": _mean([results[n]["score"] for n in math]),
        "general_average": _mean([results[n]["score"] for n in general]),
        "overall": _mean([results[n]["score"] for n in scored]),
        "math_benchmarks": math,
        "general_benchmarks": general,
    }


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


def report_markdown(report: Mapping[str, Any]) -> str:
    """One run as a Markdown table (scores in percent).

    Args:
        report: The dict :func:`~spice_env.evaluation.evaluate` returns.

    Returns:
        Markdown text: a per-benchmark table, then the math/general/overall rows.
    """
    lines = [
        f"# Evaluation: {report.get('label', '?')}",
        "",
        "| benchmark | category | items | metric | score | pass@k | maj@k | no answer | "
        "truncated | time (s) |",
        "|---|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, result in report["benchmarks"].items():
        k = result.get("samples", 1)
        lines.append(
            f"| {name} | {result.get('category', '')} | {result.get('items', 0)} | "
            f"{result.get('primary', '')} | {_pct(result.get('score'))} | "
            f"{_pct(result.get(f'pass@{k}')) if k > 1 else '–'} | "
            f"{_pct(result.get(f'maj@{k}')) if k > 1 else '–'} | "
            f"{_pct(result.get('no_answer_rate'))} | {_pct(result.get('truncated_rate'))} | "
            f"{result.get('seconds', 0.0):.1f} |"
        )
    summary = report.get("summary") or summarize(report["benchmarks"])
    for key, title in (
        ("math_average", "math average"),
        ("general_average", "general average"),
        ("overall", "overall"),
    ):
        lines.append(f"| **{title}** | | | | **{_pct(summary.get(key))}** | | | | | |")
    lines += [
        "",
        "Scores in percent. metric: pass@1 is one greedy answer; avg@k is the mean over k "
        "samples. Overall is the unweighted mean of all benchmarks (as in the paper). "
        f"Verification mode: {report.get('verification_mode', 'unknown')}. "
        f"Total wall time {report.get('seconds', 0.0):.1f} s.",
    ]
    rotated = [
        f"{name} ({result['mcq_rotations']})"
        for name, result in report["benchmarks"].items()
        if result.get("mcq_rotations")
    ]
    if rotated:
        lines.append(
            "Multiple-choice items were asked once per rotation of their options, and scored "
            f"by the mean over the rotations: {', '.join(rotated)}."
        )
    split = [
        f"- {name}: {format_task_types(result)}"
        for name, result in report["benchmarks"].items()
        if result.get("by_task_type")
    ]
    if split:
        lines += ["", "By task type:", "", *split]
    return "\n".join(lines) + "\n"


def format_task_types(result: Mapping[str, Any]) -> str:
    """One benchmark's multiple-choice and free-form scores, and its favourite letter.

    The favourite letter is put beside the score of answering it everywhere, so that a
    multiple-choice score that one letter explains reads as such.
    """
    names = {"mcq": "multiple choice", "free_form": "free form"}
    parts = [
        f"{names[kind]} {_pct(part['score'])} on {part['items']} items"
        for kind, part in result["by_task_type"].items()
    ]
    letters = result.get("mcq_letters")
    if letters and letters.get("letter") is not None:
        parts.append(
            f"favourite letter {letters['letter']} in {_pct(letters['share'])}% of "
            f"multiple-choice answers (answering {letters['letter']} to all: "
            f"{_pct(letters['always_letter_score'])})"
        )
    return "; ".join(parts)


def _figure(width: float, height: float) -> Any:
    # An explicit Agg canvas: no pyplot global state, no display needed, the user's
    # interactive backend is left alone.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=120)
    FigureCanvasAgg(figure)
    return figure


def plot_report(report: Mapping[str, Any], path: str | os.PathLike[str]) -> Path:
    """A bar chart of one run: each benchmark's score, then the averages.

    Args:
        report: The evaluation report.
        path: PNG file to write.

    Returns:
        The path written.
    """
    results = report["benchmarks"]
    summary = report.get("summary") or summarize(results)
    names = list(results)
    values = [100 * (results[n].get("score") or 0.0) for n in names]
    colors = ["tab:blue" if results[n].get("category") == "math" else "tab:orange" for n in names]
    for key, title in (
        ("math_average", "math avg"),
        ("general_average", "general avg"),
        ("overall", "overall"),
    ):
        if summary.get(key) is not None:
            names.append(title)
            values.append(100 * summary[key])
            colors.append("tab:gray")
    figure = _figure(max(6.0, 0.8 * len(names) + 2), 4.0)
    axes = figure.add_subplot()
    bars = axes.bar(range(len(names)), values, color=colors)
    axes.bar_label(bars, labels=[f"{v:.1f}" for v in values], fontsize=8)
    axes.set_xticks(range(len(names)), names, rotation=30, ha="right")
    axes.set_ylabel("score (%)")
    axes.set_ylim(0, max(100.0, *values) * 1.08 if values else 100)
    axes.set_title(f"{report.get('label', '')}: blue math, orange general, gray averages")
    figure.tight_layout()
    figure.savefig(path)
    return Path(path)


def write_report(
    report: Mapping[str, Any], out_dir: str | os.PathLike[str], *, plot: bool = True
) -> dict[str, Path]:
    """Write ``results.json``, ``results.md`` and (with matplotlib) ``results.png``.

    Args:
        report: The evaluation report.
        out_dir: The run folder.
        plot: Also draw the bar chart.

    Returns:
        Kind (``json``, ``markdown``, ``png``) -> path written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = {
        "json": out / "results.json",
        "markdown": out / "results.md",
    }
    written["json"].write_text(json.dumps(report, indent=2), encoding="utf-8")
    written["markdown"].write_text(report_markdown(report), encoding="utf-8")
    if plot and _have_matplotlib():
        written["png"] = plot_report(report, out / "results.png")
    return written


def _have_matplotlib() -> bool:
    import importlib.util

    return importlib.util.find_spec("matplotlib") is not None


def load_report(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a run's report from its folder or its ``results.json``.

    Raises:
        FileNotFoundError: When there is no ``results.json``.
    """
    path = Path(path)
    file = path / "results.json" if path.is_dir() else path
    if not file.is_file():
        raise FileNotFoundError(f"no results.json at {path}; run `spice eval` there first")
    return json.loads(file.read_text(encoding="utf-8"))


def compare_runs(
    runs: Sequence[str | os.PathLike[str] | Mapping[str, Any]],
    out_dir: str | os.PathLike[str] | None = None,
    *,
    labels: Sequence[str] | None = None,
    plot: bool = True,
) -> dict[str, Any]:
    """Put two or more runs side by side, with the change against the first.

    Averages are taken over the benchmarks every run has, so that the runs are compared on
    the same problems.

    Args:
        runs: Run folders, ``results.json`` files or report dicts; the first is the baseline.
        out_dir: Where to write ``comparison.json``, ``comparison.md`` and
            ``comparison.png`` (``None``: write nothing).
        labels: Column names (default: each report's label, made unique).
        plot: Also draw the grouped bar chart.

    Returns:
        ``labels``, ``benchmarks`` (name -> list of scores, ``None`` where a run lacks it),
        ``summary`` (average name -> list of values over the shared benchmarks), ``shared``
        (those benchmarks) and ``paired``: per shared benchmark, for each later run, a paired
        significance test against the first on the items both answered (exact McNemar when
        every item has one answer; else a paired sign-flip test of the per-item pass rates,
        with a bootstrap interval of their mean difference). Runs given as
        report dicts have no per-item answers and get no paired test.

    Raises:
        ValueError: With fewer than two runs.
    """
    if len(runs) < 2:
        raise ValueError(f"comparison needs at least two runs, got {len(runs)}")
    reports = [r if isinstance(r, Mapping) else load_report(r) for r in runs]
    item_records = [None if isinstance(r, Mapping) else _item_records(r) for r in runs]
    item_scores = [None if found is None else _scores(found) for found in item_records]
    names = (
        list(labels)
        if labels
        else _unique([str(r.get("label", f"run{i}")) for i, r in enumerate(reports)])
    )
    if len(names) != len(reports):
        raise ValueError(f"{len(names)} labels for {len(reports)} runs")
    benchmarks: list[str] = []
    for report in reports:
        benchmarks += [b for b in report["benchmarks"] if b not in benchmarks]
    shared = [b for b in benchmarks if all(b in r["benchmarks"] for r in reports)]
    table = {b: [r["benchmarks"].get(b, {}).get("score") for r in reports] for b in benchmarks}
    metrics = {b: [r["benchmarks"].get(b, {}).get("primary") for r in reports] for b in benchmarks}
    summaries = [summarize(r["benchmarks"], only=shared) for r in reports]
    comparison = {
        "labels": names,
        "verification_modes": [r.get("verification_mode", "unknown") for r in reports],
        "benchmarks": table,
        "metrics": metrics,
        "categories": {
            b: next(r["benchmarks"][b].get("category") for r in reports if b in r["benchmarks"])
            for b in benchmarks
        },
        "summary": {
            key: [s[key] for s in summaries]
            for key in ("math_average", "general_average", "overall")
        },
        "shared": shared,
        "paired": {b: _paired_tests(item_scores, b) for b in shared},
        "paired_by_task_type": {
            b: by_type
            for b in shared
            if (by_type := _paired_by_task_type(item_records[0], item_scores, b))
        },
        "mcq_letters": {
            b: [r["benchmarks"].get(b, {}).get("mcq_letters") for r in reports]
            for b in shared
            if any(r["benchmarks"].get(b, {}).get("mcq_letters") for r in reports)
        },
    }
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "comparison.json").write_text(json.dumps(comparison, indent=2), encoding="utf-8")
        (out / "comparison.md").write_text(comparison_markdown(comparison), encoding="utf-8")
        if plot and _have_matplotlib():
            plot_comparison(comparison, out / "comparison.png")
    return comparison


def _item_records(run: str | os.PathLike[str]) -> dict[str, dict[str, dict[str, Any]]]:
    """Per benchmark, each judged item's cached record, read from the run's cache."""
    folder = Path(run)
    folder = folder if folder.is_dir() else folder.parent
    found: dict[str, dict[str, dict[str, Any]]] = {}
    for path in sorted((folder / "cache").glob("*.jsonl")):
        items: dict[str, dict[str, Any]] = {}
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a line cut by an interrupted run
            if isinstance(record, dict) and record.get("correct") is not None:
                items[str(record.get("id"))] = record
        found[path.stem] = items
    return found


def _scores(
    records: dict[str, dict[str, dict[str, Any]]],
) -> dict[str, dict[str, list[bool]]]:
    """Per benchmark, each item's answers judged (``correct``)."""
    return {
        name: {i: [bool(c) for c in r["correct"]] for i, r in items.items()}
        for name, items in records.items()
    }


def _paired_by_task_type(
    base_records: dict[str, dict[str, dict[str, Any]]] | None,
    item_scores: Sequence[dict[str, dict[str, list[bool]]] | None],
    benchmark: str,
) -> dict[str, list[dict[str, Any] | None]]:
    """The paired tests of :func:`_paired_tests` on each task type's items apart (only when
    the benchmark mixes types; the types are read from the first run's records)."""
    types = {
        i: str(r["task_type"])
        for i, r in (base_records or {}).get(benchmark, {}).items()
        if r.get("task_type") is not None
    }
    kinds = sorted(set(types.values()))
    if len(kinds) < 2:
        return {}
    out: dict[str, list[dict[str, Any] | None]] = {}
    for kind in kinds:
        subset = [
            None
            if scores is None or benchmark not in scores
            else {benchmark: {i: c for i, c in scores[benchmark].items() if types.get(i) == kind}}
            for scores in item_scores
        ]
        out[kind] = _paired_tests(subset, benchmark)
    return out


def _paired_tests(
    item_scores: Sequence[dict[str, dict[str, list[bool]]] | None], benchmark: str
) -> list[dict[str, Any] | None]:
    from spice_env.evaluation.stats import mcnemar_exact, paired_bootstrap, sign_flip_test

    base = (item_scores[0] or {}).get(benchmark)
    tests: list[dict[str, Any] | None] = []
    for scores in item_scores[1:]:
        other = (scores or {}).get(benchmark)
        if not base or not other:
            tests.append(None)
            continue
        ids = sorted(set(base) & set(other))
        single = all(len(base[i]) == 1 and len(other[i]) == 1 for i in ids)
        if single:
            result = mcnemar_exact([base[i][0] for i in ids], [other[i][0] for i in ids])
            tests.append({"test": "mcnemar_exact", **result})
        else:
            before = [sum(base[i]) / len(base[i]) for i in ids]
            after = [sum(other[i]) / len(other[i]) for i in ids]
            # The interval from the bootstrap, the p-value from the sign-flip test.
            interval = paired_bootstrap(before, after)
            flip = sign_flip_test(before, after)
            tests.append(
                {
                    "test": "sign_flip",
                    **interval,
                    "p_value": flip["p_value"],
                    "p_value_bootstrap": interval["p_value"],
                    "informative": flip["informative"],
                }
            )
    return tests


def _unique(labels: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        out.append(label if seen[label] == 1 else f"{label} ({seen[label]})")
    return out


def _delta(value: float | None, base: float | None) -> str:
    if value is None or base is None:
        return "–"
    return f"{100 * (value - base):+.1f}"


def comparison_markdown(comparison: Mapping[str, Any]) -> str:
    """Side-by-side Markdown table: a column per run and a change column per later run.

    Args:
        comparison: What :func:`compare_runs` returns.

    Returns:
        Markdown text.
    """
    labels = comparison["labels"]
    base = labels[0]
    header = ["benchmark", *labels, *[f"Δ {label} vs {base}" for label in labels[1:]]]
    lines = [
        "# Comparison",
        "",
        "| " + " | ".join(header) + " |",
        "|---|" + "---:|" * (len(header) - 1),
    ]

    def row(title: str, values: Sequence[float | None]) -> str:
        cells = [title, *[_pct(v) for v in values], *[_delta(v, values[0]) for v in values[1:]]]
        return "| " + " | ".join(cells) + " |"

    for name, values in comparison["benchmarks"].items():
        metric = next((m for m in comparison.get("metrics", {}).get(name, []) if m), "")
        lines.append(row(f"{name} ({metric})" if metric else name, values))
    for key, title in (
        ("math_average", "**math average**"),
        ("general_average", "**general average**"),
        ("overall", "**overall**"),
    ):
        lines.append(row(title, comparison["summary"][key]))
    shared = ", ".join(comparison["shared"]) or "none"
    modes = comparison.get("verification_modes") or ["unknown"] * len(labels)
    verified = ", ".join(f"{label}: {mode}" for label, mode in zip(labels, modes))
    lines += [
        "",
        f"Scores in percent. Averages over the benchmarks every run has: {shared}. "
        f"Verification mode: {verified}.",
    ]
    paired = [
        (name, label, test)
        for name, tests in comparison.get("paired", {}).items()
        for label, test in zip(labels[1:], tests)
        if test is not None
    ]
    if paired:
        lines += ["", f"Paired tests against {base} on the items both answered:", ""]
        for name, label, test in paired:
            line = (
                f"- {name}, {label}: {test['test']} on {test['n']} items, p = {test['p_value']:.4g}"
            )
            if test.get("low") is not None:
                line += (
                    f"; mean difference {100 * test['mean_difference']:+.1f} points, 95% "
                    f"bootstrap interval [{100 * test['low']:+.1f}, {100 * test['high']:+.1f}]"
                )
            elif "b" in test:
                line += f" (right only before: {test['b']}, right only after: {test['c']})"
            lines.append(line)
    by_type = [
        (name, kind, label, test)
        for name, kinds in comparison.get("paired_by_task_type", {}).items()
        for kind, tests in kinds.items()
        for label, test in zip(labels[1:], tests)
        if test is not None
    ]
    if by_type:
        lines += ["", "The same tests on each task type's items:", ""]
        for name, kind, label, test in by_type:
            line = f"- {name} {kind}, {label}: {test['test']} on {test['n']} items, "
            line += f"p = {test['p_value']:.4g}"
            if "b" in test:
                line += f" (right only before: {test['b']}, right only after: {test['c']})"
            elif test.get("mean_difference") is not None:
                line += f"; mean difference {100 * test['mean_difference']:+.1f} points"
            lines.append(line)
    favourites = [
        (name, label, letters)
        for name, per_run in comparison.get("mcq_letters", {}).items()
        for label, letters in zip(labels, per_run)
        if letters and letters.get("letter") is not None
    ]
    if favourites:
        lines += [
            "",
            "Favourite multiple-choice letter (a score one letter explains is not knowledge):",
            "",
        ]
        for name, label, letters in favourites:
            lines.append(
                f"- {name}, {label}: {letters['letter']} in {_pct(letters['share'])}% of "
                f"answers; answering {letters['letter']} to all scores "
                f"{_pct(letters['always_letter_score'])}"
            )
    return "\n".join(lines) + "\n"


def plot_comparison(comparison: Mapping[str, Any], path: str | os.PathLike[str]) -> Path:
    """Grouped bars: one group per benchmark (and average), one bar per run.

    Args:
        comparison: What :func:`compare_runs` returns.
        path: PNG file to write.

    Returns:
        The path written.
    """
    labels = comparison["labels"]
    groups = list(comparison["benchmarks"])
    rows = [comparison["benchmarks"][g] for g in groups]
    for key, title in (
        ("math_average", "math avg"),
        ("general_average", "general avg"),
        ("overall", "overall"),
    ):
        values = comparison["summary"][key]
        if any(v is not None for v in values):
            groups.append(title)
            rows.append(values)
    width = 0.8 / len(labels)
    figure = _figure(max(6.0, 0.9 * len(groups) * max(1, len(labels) / 2) + 2), 4.2)
    axes = figure.add_subplot()
    for index, label in enumerate(labels):
        heights = [100 * (row[index] or 0.0) for row in rows]
        positions = [g + (index - (len(labels) - 1) / 2) * width for g in range(len(groups))]
        axes.bar(positions, heights, width=width, label=label)
    axes.set_xticks(range(len(groups)), groups, rotation=30, ha="right")
    axes.set_ylabel("score (%)")
    axes.set_ylim(0, 105)
    axes.legend(fontsize=8)
    axes.set_title("Evaluation comparison")
    figure.tight_layout()
    figure.savefig(path)
    return Path(path)
