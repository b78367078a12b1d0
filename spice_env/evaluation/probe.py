"""The curriculum probe of the SPICE paper: Challenger checkpoints x Reasoner checkpoints.

Each Challenger writes tasks from one fixed set of documents, through the environment's own
Challenger protocol (task-type selection, then generation, then the validity checks), so only
valid tasks count. Each Reasoner then answers every Challenger's tasks K times through
``reset(options={"task": ...})``, and the matrix holds its pass rate on each Challenger's
tasks. Read along a row (one Challenger), the pass rate rises as the Reasoner improves; read
down a column (one Reasoner), it falls as the Challenger learns to write harder tasks (paper:
55% -> 35% and 55% -> 85%).

Models are loaded one at a time (all Challengers first, then all Reasoners), so a probe over
many checkpoints needs the memory of one model.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULT_BUDGETS",
    "ProbeConfig",
    "ProbePlayer",
    "StagedPolicy",
    "generate_tasks",
    "model_player",
    "pass_rates",
    "plot_probe",
    "probe_markdown",
    "run_probe",
    "select_documents",
]


DEFAULT_BUDGETS: Mapping[str, int] = {
    "type_selection_max_new_tokens": 128,
    "challenger_max_new_tokens": 512,
    "reasoner_max_new_tokens": 512,
}
"""Token budgets of a model player that is no training run's (a hub model, a server)."""


@dataclass(frozen=True)
class ProbeConfig:
    """Settings of a curriculum probe.

    Attributes:
        num_documents: Documents in the fixed set (paper: 128).
        attempts_per_document: Challenger attempts per document (paper: 128).
        answers_per_task: Reasoner answers per valid task, K (paper: 8).
        seed: Seed of the document choice and of every episode's reset.
        batch_size: Episodes played together (one policy call per stage for the batch).
        progress: Show progress bars.
        env_kwargs: Extra ``gym.make("SpiceCorpus-v0", ...)`` arguments (reward shape,
            ``validity``, ``corpus_config``...).
    """

    num_documents: int = 16
    attempts_per_document: int = 4
    answers_per_task: int = 8
    seed: int = 0
    batch_size: int = 32
    progress: bool = True
    env_kwargs: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("num_documents", "attempts_per_document", "answers_per_task", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)} must be at least 1")
        reserved = {"corpus", "num_reasoner_attempts"} & set(self.env_kwargs)
        if reserved:
            raise ValueError(
                f"env_kwargs sets {sorted(reserved)}; pass the corpus to run_probe and use "
                "answers_per_task for K"
            )


@dataclass(frozen=True)
class ProbePlayer:
    """A checkpoint (or any policy) taking part in the probe.

    Attributes:
        label: Row or column name in the matrix.
        load: Called with the role (``"challenger"`` or ``"reasoner"``) when the player's turn
            comes; returns an env policy. Loading late keeps one model in memory at a time.
        budgets: The token budgets a model player generates with (``None`` for env policies).
    """

    label: str
    load: Callable[[str], Any]
    budgets: Mapping[str, int] | None = None


class StagedPolicy:
    """Routes each turn to a policy chosen by the env stage (e.g. a token budget per stage).

    The Challenger's type-selection JSON needs few tokens and its task many; one model with two
    sampling settings is two :class:`~spice_env.policies.llm.LLMPolicy` objects sharing a
    backend, and this class picks between them.

    Args:
        by_stage: Stage name (``type_selection``, ``generation``, ``answering``) -> policy.
        default: Policy for stages not in ``by_stage``.
    """

    def __init__(self, by_stage: Mapping[str, Any], default: Any) -> None:
        self.by_stage = dict(by_stage)
        self.default = default

    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
        """The action of the policy for ``info["stage"]``."""
        return self.act_batch([observation], [info])[0]

    def act_batch(
        self, observations: Sequence[dict[str, Any]], infos: Sequence[dict[str, Any]]
    ) -> list[str]:
        """One batched call per stage present in the batch, answers back in order."""
        actions: list[str | None] = [None] * len(infos)
        stages = list(dict.fromkeys(info.get("stage") for info in infos))
        for stage in stages:
            rows = [i for i, info in enumerate(infos) if info.get("stage") == stage]
            policy = self.by_stage.get(str(stage), self.default)
            outputs = policy.act_batch([observations[i] for i in rows], [infos[i] for i in rows])
            for row, output in zip(rows, outputs):
                actions[row] = output
        return [a if a is not None else "" for a in actions]


def model_player(
    reference: str,
    *,
    label: str | None = None,
    temperature: float = 1.0,
    type_selection_max_new_tokens: int | None = None,
    challenger_max_new_tokens: int | None = None,
    reasoner_max_new_tokens: int | None = None,
    batch_size: int = 8,
    seed: int = 0,
) -> ProbePlayer:
    """A probe player backed by a model: a checkpoint, a folder, a hub name or a server URL.

    A budget left at ``None`` is the one the model's training run used (read from the run's
    ``config.json`` when ``reference`` is a run, its ``final/`` or one of its checkpoints),
    else :data:`DEFAULT_BUDGETS`: a model probed with longer answers than it trained with
    is slower and is not measured as it played.

    Args:
        reference: What :func:`spice_env.evaluation.models.load_backend` accepts.
        label: Matrix label (default: the checkpoint's name).
        temperature: Sampling temperature of both roles (paper: 1.0).
        type_selection_max_new_tokens: Budget of the Challenger's type-selection JSON.
        challenger_max_new_tokens: Budget of the Challenger's task.
        reasoner_max_new_tokens: Budget of each Reasoner answer.
        batch_size: Rows decoded together by the transformers backend.
        seed: Base seed of the sampling.

    Returns:
        A player whose ``load(role)`` loads the model and wraps it as that role's policy; its
        ``budgets`` say which token budgets it plays with.
    """
    from spice_env.evaluation.models import describe_model, run_generation_budgets

    given = {
        "type_selection_max_new_tokens": type_selection_max_new_tokens,
        "challenger_max_new_tokens": challenger_max_new_tokens,
        "reasoner_max_new_tokens": reasoner_max_new_tokens,
    }
    base = run_generation_budgets(reference) or DEFAULT_BUDGETS
    budgets = {name: base[name] if value is None else value for name, value in given.items()}

    def load(role: str) -> Any:
        from spice_env.evaluation.models import load_backend
        from spice_env.policies.llm import LLMPolicy
        from spice_env.policies.sampling import SamplingParams

        backend = load_backend(reference, batch_size=batch_size)

        def policy(budget: int) -> Any:
            params = SamplingParams(temperature=temperature, max_new_tokens=budget)
            return LLMPolicy(backend, params, seed=seed)

        if role == "reasoner":
            return policy(budgets["reasoner_max_new_tokens"])
        return StagedPolicy(
            {"type_selection": policy(budgets["type_selection_max_new_tokens"])},
            default=policy(budgets["challenger_max_new_tokens"]),
        )

    return ProbePlayer(label or describe_model(reference), load, budgets=budgets)


def _driver(corpus: Any, config: ProbeConfig) -> Any:
    from spice_env.rollout import RolloutDriver

    return RolloutDriver(
        corpus=corpus, num_reasoner_attempts=config.answers_per_task, **dict(config.env_kwargs)
    )


def select_documents(corpus: Any, count: int, seed: int) -> list[str]:
    """Draw the fixed document set: ``count`` distinct ids, uniformly, seeded.

    Args:
        corpus: A ``spice_env.corpus.Corpus``.
        count: Documents wanted (all of them if the corpus is smaller).
        seed: Seed of the draw.

    Returns:
        Document ids.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    wanted = min(count, len(corpus))
    ids: list[str] = []
    seen: set[str] = set()
    # Rejection sampling keeps the draw O(count) even for a memory-mapped corpus of millions.
    for _ in range(100 * wanted):
        document = corpus.sample(rng)
        if document.id not in seen:
            seen.add(document.id)
            ids.append(document.id)
            if len(ids) == wanted:
                break
    return ids


def _chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def generate_tasks(
    challenger: Any,
    corpus: Any,
    document_ids: Sequence[str],
    config: ProbeConfig,
    *,
    label: str = "challenger",
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Play the Challenger's turns on every (document, attempt) and keep the valid tasks.

    Args:
        challenger: An env policy playing the Challenger.
        corpus: The corpus holding the documents.
        document_ids: The fixed document set.
        config: Probe settings.
        label: Name shown on the progress bar.

    Returns:
        ``(tasks, stats)``: the valid tasks (``Task.to_dict()`` rows with ``document_id``),
        and ``attempts``, ``valid``, ``valid_rate``, ``invalid_reasons`` and the valid tasks'
        ``task_types``.
    """
    from tqdm.auto import tqdm

    from spice_env.rollout import EpisodeStart, episode_seed, policy_act

    starts = [
        EpisodeStart(key=(d, a), seed=episode_seed(config.seed, d, a), document_id=d)
        for d in document_ids
        for a in range(config.attempts_per_document)
    ]
    driver = _driver(corpus, config)
    act = policy_act(challenger)
    tasks: list[dict[str, Any]] = []
    reasons: Counter[str] = Counter()
    bar = tqdm(total=len(starts), desc=f"tasks {label}", unit="ep", disable=not config.progress)
    for chunk in _chunks(starts, config.batch_size):
        for episode in driver.challenger_phase(chunk, act):
            if episode.valid and episode.task is not None:
                tasks.append(dict(episode.task))
            else:
                reasons[episode.invalid_reason or "unknown"] += 1
        bar.update(len(chunk))
        bar.set_postfix(valid=f"{len(tasks)}/{bar.n}")
    bar.close()
    stats = {
        "attempts": len(starts),
        "valid": len(tasks),
        "valid_rate": len(tasks) / len(starts) if starts else 0.0,
        "invalid_reasons": dict(reasons.most_common()),
        "task_types": dict(Counter(str(task.get("task_type")) for task in tasks).most_common()),
    }
    return tasks, stats


def pass_rates(
    reasoner: Any,
    corpus: Any,
    tasks: Sequence[Mapping[str, Any]],
    config: ProbeConfig,
    *,
    label: str = "reasoner",
) -> tuple[float | None, list[float]]:
    """Answer each task K times through the env and return the pass rates.

    Args:
        reasoner: An env policy playing the Reasoner.
        corpus: The corpus (the env needs one, though the Reasoner never sees it).
        tasks: Valid tasks (``Task.to_dict()`` rows).
        config: Probe settings (K is ``answers_per_task``).
        label: Name shown on the progress bar.

    Returns:
        ``(mean pass rate or None when there are no tasks, per-task pass rates)``.
    """
    from tqdm.auto import tqdm

    from spice_env.rollout import episode_seed, policy_act

    if not tasks:
        return None, []
    k = config.answers_per_task
    # Batch whole tasks so that one policy call carries about batch_size answers.
    per_call = max(1, config.batch_size // k)
    driver = _driver(corpus, config)
    act = policy_act(reasoner)
    rates: list[float] = []
    bar = tqdm(total=len(tasks), desc=f"answers {label}", unit="task", disable=not config.progress)
    for first in range(0, len(tasks), per_call):
        chunk = list(tasks[first : first + per_call])
        seeds = [episode_seed(config.seed, "answers", first + i) for i in range(len(chunk))]
        for episode in driver.answer_tasks(chunk, act, seeds=seeds):
            rates.append(float(episode.pass_rate or 0.0))
        bar.update(len(chunk))
    bar.close()
    return sum(rates) / len(rates), rates


def run_probe(
    challengers: Sequence[ProbePlayer],
    reasoners: Sequence[ProbePlayer],
    out_dir: str | os.PathLike[str] | None = None,
    *,
    corpus: Any = None,
    config: ProbeConfig | None = None,
    plot: bool = True,
) -> dict[str, Any]:
    """Run the curriculum probe and write ``probe.json``, ``probe.md`` and ``probe.png``.

    Args:
        challengers: The matrix rows.
        reasoners: The matrix columns.
        out_dir: Output folder (``None``: write nothing). The valid tasks of each Challenger
            go to ``tasks/ROW.jsonl`` there.
        corpus: Anything ``spice_env.load_corpus`` accepts (``None``: the embedded corpus).
        config: Probe settings.
        plot: Draw the heatmap (needs matplotlib).

    Returns:
        The probe result: ``challengers``, ``reasoners``, ``pass_rate`` (rows: Challengers,
        columns: Reasoners; ``None`` where a Challenger wrote no valid task),
        ``challenger_stats``, ``documents``, ``config``, ``budgets`` (the token budgets of
        each model player, by role and label) and ``seconds``.
    """
    from spice_env.corpus import load_corpus
    from spice_env.rollout import write_jsonl

    config = config or ProbeConfig()
    if not challengers or not reasoners:
        raise ValueError("the probe needs at least one Challenger and one Reasoner")
    started = time.perf_counter()
    loaded_corpus = load_corpus(corpus, config.env_kwargs.get("corpus_config"))
    documents = select_documents(loaded_corpus, config.num_documents, config.seed)
    out = Path(out_dir) if out_dir is not None else None

    task_sets: list[list[dict[str, Any]]] = []
    stats: list[dict[str, Any]] = []
    for player in challengers:
        policy = player.load("challenger")
        tasks, task_stats = generate_tasks(
            policy, loaded_corpus, documents, config, label=player.label
        )
        del policy  # free the model before the next one loads
        task_sets.append(tasks)
        stats.append(task_stats)
        if out is not None:
            write_jsonl(tasks, out / "tasks" / f"{_file_name(player.label)}.jsonl")

    matrix: list[list[float | None]] = [[None] * len(reasoners) for _ in challengers]
    answers: list[list[int]] = [[0] * len(reasoners) for _ in challengers]
    for column, player in enumerate(reasoners):
        policy = player.load("reasoner")
        for row, tasks in enumerate(task_sets):
            rate, rates = pass_rates(
                policy,
                loaded_corpus,
                tasks,
                config,
                label=f"{player.label} on {challengers[row].label}",
            )
            matrix[row][column] = rate
            answers[row][column] = len(rates) * config.answers_per_task
        del policy

    result = {
        "challengers": [p.label for p in challengers],
        "reasoners": [p.label for p in reasoners],
        "pass_rate": matrix,
        "answers": answers,
        "challenger_stats": stats,
        "documents": documents,
        "config": {**asdict(config), "env_kwargs": dict(config.env_kwargs)},
        "budgets": {
            role: {p.label: dict(p.budgets) for p in players if p.budgets is not None}
            for role, players in (("challengers", challengers), ("reasoners", reasoners))
        },
        "seconds": time.perf_counter() - started,
    }
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "probe.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
        (out / "probe.md").write_text(probe_markdown(result), encoding="utf-8")
        if plot:
            plot_probe(result, out / "probe.png")
    return result


def _file_name(label: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in label) or "player"


def _cell(value: float | None, answers: int | None = None) -> str:
    if value is None:
        return "n/a"
    return f"{100 * value:.1f}" + (f" ({answers})" if answers else "")


def probe_markdown(result: Mapping[str, Any]) -> str:
    """The probe matrix as a Markdown table (pass rates in percent).

    Args:
        result: What :func:`run_probe` returns.

    Returns:
        Markdown text with one row per Challenger (and its valid-task count).
    """
    reasoners = result["reasoners"]
    lines = [
        "# Curriculum probe",
        "",
        "| Challenger \\ Reasoner | valid tasks | " + " | ".join(reasoners) + " |",
        "|---|---:|" + "---:|" * len(reasoners),
    ]
    counts = result.get("answers") or [[None] * len(reasoners) for _ in result["pass_rate"]]
    for label, row, stats, row_counts in zip(
        result["challengers"], result["pass_rate"], result["challenger_stats"], counts
    ):
        valid = f"{stats['valid']}/{stats['attempts']}"
        cells = " | ".join(_cell(v, n) for v, n in zip(row, row_counts))
        lines.append(f"| {label} | {valid} | {cells} |")
    lines += [
        "",
        "Pass rate (%) of each Reasoner (column) on the valid tasks each Challenger (row) "
        f"wrote from {len(result['documents'])} fixed documents, with the number of answers "
        "judged in parentheses; n/a: no valid task.",
    ]
    return "\n".join(lines) + "\n"


def plot_probe(result: Mapping[str, Any], path: str | os.PathLike[str]) -> Path:
    """A heatmap of the probe matrix, annotated with the pass rates.

    Args:
        result: What :func:`run_probe` returns.
        path: PNG file to write.

    Returns:
        The path written.
    """
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows, columns = result["challengers"], result["reasoners"]
    values = np.array(
        [[np.nan if v is None else 100 * v for v in row] for row in result["pass_rate"]],
        dtype=float,
    )
    figure = Figure(figsize=(1.6 * len(columns) + 3, 1.0 * len(rows) + 2.2), dpi=120)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    image = axes.imshow(np.ma.masked_invalid(values), cmap="viridis", vmin=0, vmax=100)
    axes.set_facecolor("lightgray")  # cells without valid tasks
    axes.set_xticks(range(len(columns)), columns, rotation=30, ha="right")
    valid = [f"{s['valid']}/{s['attempts']} valid" for s in result["challenger_stats"]]
    axes.set_yticks(range(len(rows)), [f"{r}\n({v})" for r, v in zip(rows, valid)])
    axes.set_xlabel("Reasoner")
    axes.set_ylabel("Challenger")
    counts = result.get("answers") or [[0] * len(columns) for _ in rows]
    for i in range(len(rows)):
        for j in range(len(columns)):
            value = values[i, j]
            count = f"\nn={counts[i][j]}" if counts[i][j] else ""
            text = "no valid\ntask" if np.isnan(value) else f"{value:.1f}{count}"
            color = "black" if np.isnan(value) or value > 60 else "white"
            axes.text(j, i, text, ha="center", va="center", color=color, fontsize=9)
    figure.colorbar(image, ax=axes, label="pass rate (%)")
    axes.set_title("Curriculum probe: Reasoner pass rate", fontsize=10)
    figure.tight_layout()
    figure.savefig(path)
    return Path(path)
