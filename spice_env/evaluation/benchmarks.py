"""Benchmarks: how a row of an evaluation file becomes a question, a gold answer and a type.

An adapter is a :class:`Benchmark`: which field holds the question, which holds the gold answer
(and how to read the final answer out of it), the answer type the verifier should use, and
whether the benchmark counts as math or general knowledge in the overall table. The seven
formats of ``../shared/data/eval`` are registered; adding one is a single call::

    from spice_env.evaluation import Benchmark, register_benchmark

    register_benchmark(Benchmark("mytest", question="prompt", answer="target",
                                 answer_type="Integer"))

Rows come from local files (JSON Lines, JSON, Parquet, CSV) or from the Hugging Face hub
through ``datasets.load_dataset`` (:class:`DatasetSource`).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "BUILTIN_BENCHMARKS",
    "GOLD_READERS",
    "Benchmark",
    "DatasetSource",
    "EvalItem",
    "default_data_dirs",
    "find_benchmark_file",
    "get_benchmark",
    "list_benchmarks",
    "load_items",
    "parse_source",
    "read_rows",
    "register_benchmark",
    "rotations_of",
]

FieldSpec = str | Sequence[str]
"""A field name, or candidate names tried in order (the first present and non-empty wins)."""
Category = Literal["math", "general"]
_LETTERS = "ABCDEFGHIJ"


@dataclass(frozen=True)
class EvalItem:
    """One benchmark problem, ready for a Reasoner.

    Attributes:
        benchmark: Name of the benchmark it comes from.
        id: Stable id within the benchmark (a row field, else the row index).
        question: The question text, without the options.
        gold: The gold final answer (a letter for multiple choice).
        answer_type: ``"Integer"``, ``"Expression"``, ``"String"``, ``"MCQ"``, or ``None`` to let
            the verifier detect the type from the gold.
        options: Option texts in A-D order for multiple choice, else ``None``.
    """

    benchmark: str
    id: str
    question: str
    gold: str
    answer_type: str | None = None
    options: tuple[str, ...] | None = None

    @property
    def is_mcq(self) -> bool:
        """True for a multiple-choice item."""
        return self.options is not None

    def task_dict(self) -> dict[str, Any]:
        """The item as the env's ``Task.to_dict()`` shape, the ``info["task"]`` policies read."""
        return {
            "question": self.question,
            "answer": self.gold,
            "answer_type": self.answer_type or "Expression",
            "task_type": "mcq" if self.is_mcq else "free_form",
            "options": list(self.options) if self.options is not None else None,
            "solution": "",
            "document_id": None,
        }


def rotations_of(item: EvalItem, rotations: int) -> list[EvalItem]:
    """The item as each rotation shows it: options moved ``r`` places, the gold letter with
    them (a free-form item, or ``rotations`` 1, is its own single view)."""
    if not item.is_mcq or rotations <= 1 or item.options is None:
        return [item]
    count = len(item.options)
    letters = _LETTERS[:count]
    gold = letters.find(item.gold.strip().upper()) if len(item.gold.strip()) == 1 else -1
    views = []
    for shift in range(min(rotations, count)):
        options = item.options[shift:] + item.options[:shift]
        moved = letters[(gold - shift) % count] if gold >= 0 else item.gold
        views.append(replace(item, options=options, gold=moved))
    return views


# -- gold readers: from the raw answer field to the final answer ----------------------------------


def _number_text(value: Any) -> str:
    """Numbers as a person writes them: ``27.0`` -> ``"27"``; other values as text."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _plain(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return _join_list(value)
    return _number_text(value)


def _after_hashes(value: Any) -> str:
    # GSM8K solutions end in "#### 18"; the number may carry thousands separators.
    return str(value).rsplit("####", 1)[-1].strip().replace(",", "")


_PYTHON_MODULE_PREFIX = re.compile(r"\b(?:np|numpy|math)\.(?=[A-Za-z])")


def _last_boxed(value: Any) -> str:
    from spice_env.verifiers.extraction import extract_boxed

    # One Minerva solution boxes Python code ("np.arcsin(10/13)"); the module prefix is an
    # artifact of how the answer was computed, not part of the answer.
    return _PYTHON_MODULE_PREFIX.sub("", extract_boxed(str(value)) or "")


def _join_list(value: Any) -> str:
    # OlympiadBench keeps each part of a multi-part answer as "$...$"; the Reasoner is asked
    # for one boxed answer, so the parts are joined the way a model would write them.
    parts = value if isinstance(value, (list, tuple)) else [value]
    return ", ".join(_number_text(part).strip("$").strip() for part in parts if part is not None)


def _mcq_letter(value: Any) -> str:
    # MMLU-style files store the index (2); others the letter ("C") or "(C)".
    if isinstance(value, bool):
        return ""
    if isinstance(value, (int, float)) and float(value).is_integer():
        index = int(value)
        return _LETTERS[index] if 0 <= index < len(_LETTERS) else ""
    text = str(value).strip().strip("()").strip()
    if text.isdigit():
        return _mcq_letter(int(text))
    return text.upper() if len(text) == 1 and text.upper() in _LETTERS else ""


GOLD_READERS: dict[str, Callable[[Any], str]] = {
    "plain": _plain,
    "after_hashes": _after_hashes,
    "last_boxed": _last_boxed,
    "join_list": _join_list,
    "mcq_letter": _mcq_letter,
}
"""How the gold answer is read out of the answer field, by name:

- ``plain``: the value as text (``27.0`` -> ``27``; a list is joined as by ``join_list``);
- ``after_hashes``: the text after the last ``####`` (GSM8K solutions);
- ``last_boxed``: the content of the last ``\\boxed{}`` (worked solutions such as Minerva's),
  without a Python module prefix (``np.arcsin`` -> ``arcsin``);
- ``join_list``: list parts joined with ``", "``, ``$`` stripped (OlympiadBench);
- ``mcq_letter``: an option index (0-based) or letter, as a letter.
"""


# -- the adapter --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Benchmark:
    """How to read one benchmark format.

    Args:
        name: Registry name, also the default file stem (``name.jsonl``).
        question: Field holding the question (or candidate fields, first non-empty wins).
        answer: Field holding the gold answer or a worked solution.
        gold_reader: Name in :data:`GOLD_READERS` that turns the answer field into the final
            answer (``"plain"``, ``"after_hashes"``, ``"last_boxed"``, ``"join_list"``,
            ``"mcq_letter"``).
        answer_type: Verifier answer type (``"Integer"``, ``"Expression"``, ``"String"``,
            ``"MCQ"``) or ``None`` to detect it from each gold. ``"MCQ"`` needs ``options``.
        answer_type_field: Field holding each row's answer type (a file of env tasks mixes
            them); a row without one falls back to ``answer_type``.
        options: Field holding the list of option texts; required on multiple-choice rows,
            absent on the others.
        context: Optional field whose text, when present, is put before the question.
        id_field: Field with a stable id; ``None`` uses the row index.
        category: ``"math"`` or ``"general"``: which average of the overall table it joins.
        samples: Default number of samples per problem (1: greedy pass@1).
        temperature: Default sampling temperature when ``samples > 1``.
        description: One line for ``spice eval --list``.

    Raises:
        ValueError: On an unknown gold reader, or an MCQ benchmark without an options field.
    """

    name: str
    question: FieldSpec = ("problem", "question")
    answer: FieldSpec = "answer"
    gold_reader: str = "plain"
    answer_type: str | None = None
    answer_type_field: FieldSpec | None = None
    options: FieldSpec | None = None
    context: str | None = None
    id_field: FieldSpec | None = None
    category: Category = "math"
    samples: int = 1
    temperature: float = 0.0
    description: str = ""

    def __post_init__(self) -> None:
        if self.gold_reader not in GOLD_READERS:
            raise ValueError(
                f"gold_reader={self.gold_reader!r}; choose one of {', '.join(GOLD_READERS)}"
            )
        if (self.answer_type or "").upper() == "MCQ" and self.options is None:
            raise ValueError(f"benchmark {self.name!r} is multiple choice: set options=FIELD")
        if self.category not in ("math", "general"):
            raise ValueError(f"category={self.category!r}; use 'math' or 'general'")
        if self.samples < 1:
            raise ValueError(f"samples={self.samples} must be at least 1")
        if self.samples > 1 and self.temperature <= 0:
            raise ValueError(
                f"samples={self.samples} with temperature={self.temperature}: several greedy "
                "samples are identical; set a temperature (paper: 0.6 for AIME)"
            )

    def item(self, row: Mapping[str, Any], index: int) -> EvalItem | None:
        """Turn one row into an :class:`EvalItem`.

        Args:
            row: A row of the benchmark file.
            index: Row index, used as the id when the benchmark has no id field.

        Returns:
            The item, or ``None`` when the row lacks a question or a usable gold answer.
        """
        question = _text(_first(row, self.question))
        raw_answer = _first(row, self.answer)
        if not question or raw_answer is None:
            return None
        if self.context:
            context = _text(row.get(self.context))
            if context:
                question = f"{context}\n\n{question}"
        gold = GOLD_READERS[self.gold_reader](raw_answer)
        if not gold:
            return None
        answer_type = self.answer_type
        if self.answer_type_field is not None:
            answer_type = _text(_first(row, self.answer_type_field)) or answer_type
        options = None
        if self.options is not None:
            raw_options = _first(row, self.options)
            if isinstance(raw_options, (list, tuple)) and raw_options:
                options = tuple(_number_text(option) for option in raw_options)
            elif (answer_type or "").upper() == "MCQ":
                return None  # a multiple-choice row without its options
        identifier = _first(row, self.id_field) if self.id_field is not None else None
        return EvalItem(
            benchmark=self.name,
            id=str(identifier) if identifier not in (None, "") else str(index),
            question=question,
            gold=gold,
            answer_type=answer_type,
            options=options,
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description (for run manifests)."""
        return {
            "name": self.name,
            "question": _spec_json(self.question),
            "answer": _spec_json(self.answer),
            "gold_reader": self.gold_reader,
            "answer_type": self.answer_type,
            "answer_type_field": _spec_json(self.answer_type_field),
            "options": _spec_json(self.options),
            "context": self.context,
            "id_field": _spec_json(self.id_field),
            "category": self.category,
            "samples": self.samples,
            "temperature": self.temperature,
        }


def _spec_json(spec: FieldSpec | None) -> Any:
    return spec if spec is None or isinstance(spec, str) else list(spec)


def _first(row: Mapping[str, Any], spec: FieldSpec | None) -> Any:
    if spec is None:
        return None
    for name in (spec,) if isinstance(spec, str) else spec:
        value = row.get(name)
        if value is not None and value != "" and value != []:
            return value
    return None


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


# -- the registry -------------------------------------------------------------------------------

_REGISTRY: dict[str, Benchmark] = {}


def register_benchmark(benchmark: Benchmark, *, overwrite: bool = False) -> Benchmark:
    """Add an adapter so ``spice eval --benchmarks NAME`` and :func:`get_benchmark` know it.

    Args:
        benchmark: The adapter.
        overwrite: Replace an adapter already registered under the same name.

    Returns:
        The adapter, so the call can be used as an expression.

    Raises:
        ValueError: When the name is taken and ``overwrite`` is False.
    """
    if benchmark.name in _REGISTRY and not overwrite:
        raise ValueError(f"benchmark {benchmark.name!r} is already registered; pass overwrite=True")
    _REGISTRY[benchmark.name] = benchmark
    return benchmark


def get_benchmark(name: str) -> Benchmark:
    """The adapter registered under ``name``.

    Raises:
        ValueError: For an unknown name; the message lists the registered ones.
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise ValueError(f"unknown benchmark {name!r}; registered: {known}") from None


def list_benchmarks() -> list[str]:
    """Registered benchmark names, sorted."""
    return sorted(_REGISTRY)


BUILTIN_BENCHMARKS: tuple[Benchmark, ...] = (
    Benchmark(
        "math500",
        question="problem",
        answer="answer",
        id_field="unique_id",
        description="MATH-500: competition math, answers in LaTeX",
    ),
    Benchmark(
        "gsm8k",
        question="question",
        answer="answer",
        gold_reader="after_hashes",
        description="GSM8K: grade-school word problems, gold after '####'",
    ),
    Benchmark(
        "aime24",
        answer="answer",
        answer_type="Integer",
        id_field="id",
        samples=32,
        temperature=0.6,
        description="AIME 2024: integer answers; avg@32 at temperature 0.6 (paper)",
    ),
    Benchmark(
        "aime25",
        answer="answer",
        answer_type="Integer",
        id_field="id",
        samples=32,
        temperature=0.6,
        description="AIME 2025 (same format as aime24); avg@32 at temperature 0.6 (paper)",
    ),
    Benchmark(
        "amc23",
        answer="answer",
        id_field="id",
        description="AMC 2023: numeric answers",
    ),
    Benchmark(
        "minerva_math",
        question="problem",
        answer="solution",
        gold_reader="last_boxed",
        id_field="idx",
        description="Minerva math: gold in the \\boxed{} of the solution",
    ),
    Benchmark(
        "olympiadbench",
        question="question",
        answer="final_answer",
        gold_reader="join_list",
        context="context",
        id_field="id",
        description="OlympiadBench: final_answer list, joined",
    ),
    Benchmark(
        "mmlu_stem",
        question="question",
        answer="answer",
        gold_reader="mcq_letter",
        answer_type="MCQ",
        options=("choices", "options"),
        category="general",
        description="MMLU STEM: four options, answer index or letter",
    ),
    Benchmark(
        "spice_tasks",
        question="question",
        answer="answer",
        answer_type_field="answer_type",
        options="options",
        id_field="id",
        category="general",
        description="tasks written through the env (`spice tasks`): a held-out task set",
    ),
)
"""The adapters registered at import: the seven files of ``../shared/data/eval``, AIME25, and
``spice_tasks`` for task sets written by ``spice tasks`` (``Task.to_dict()`` rows)."""

for _benchmark in BUILTIN_BENCHMARKS:
    register_benchmark(_benchmark)


# -- sources: local files and hub datasets ------------------------------------------------------


@dataclass(frozen=True)
class DatasetSource:
    """Arguments of ``datasets.load_dataset`` for a benchmark on the hub (or any builder).

    Args:
        path: Hub dataset id (``"openai/gsm8k"``) or a builder name (``"json"``).
        name: Configuration name (``"main"``), if the dataset has several.
        split: Split to read (``"test"``).
        data_files: Files for a builder such as ``"json"`` or ``"parquet"``.
        revision: Git revision of the hub dataset, to pin what is evaluated.
        kwargs: Further keyword arguments for ``load_dataset``.
    """

    path: str
    name: str | None = None
    split: str = "test"
    data_files: str | Sequence[str] | None = None
    revision: str | None = None
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        """``hf:PATH[:NAME]@SPLIT`` (plus data files), for manifests and tables."""
        text = f"hf:{self.path}" + (f":{self.name}" if self.name else "") + f"@{self.split}"
        return text + (f" ({self.data_files})" if self.data_files else "")


def parse_source(text: str) -> Path | DatasetSource:
    """Read a source string: a local path, or ``hf:DATASET[:CONFIG][@SPLIT]``.

    Args:
        text: ``"data/gsm8k.jsonl"`` or ``"hf:openai/gsm8k:main@test"``.

    Returns:
        A :class:`~pathlib.Path` or a :class:`DatasetSource`.
    """
    if not text.startswith("hf:"):
        return Path(text).expanduser()
    rest = text[3:]
    rest, _, split = rest.partition("@")
    path, _, name = rest.partition(":")
    if not path:
        raise ValueError(
            f"{text!r}: write hf:DATASET[:CONFIG][@SPLIT], e.g. hf:openai/gsm8k:main@test"
        )
    return DatasetSource(path=path, name=name or None, split=split or "test")


def read_rows(source: Path | DatasetSource) -> Iterator[Mapping[str, Any]]:
    """Yield the rows of a local file or a ``datasets`` source.

    JSON Lines files are read line by line (blank and malformed lines are skipped); other
    local formats and every :class:`DatasetSource` go through ``datasets.load_dataset``.

    Args:
        source: A local file path or a :class:`DatasetSource`.

    Yields:
        One mapping per row.

    Raises:
        FileNotFoundError: For a missing local file.
    """
    if isinstance(source, DatasetSource):
        yield from _load_dataset_rows(source)
        return
    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(f"no benchmark file at {path}")
    if path.suffix in (".jsonl", ".ndjson"):
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                line = line.strip()
                if not line:
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(row, dict):
                    yield row
        return
    builder = {".json": "json", ".parquet": "parquet", ".csv": "csv"}.get(path.suffix)
    if builder is None:
        raise ValueError(f"{path}: unknown format; use .jsonl, .json, .parquet or .csv")
    yield from _load_dataset_rows(DatasetSource(builder, split="train", data_files=str(path)))


def _load_dataset_rows(source: DatasetSource) -> Iterable[Mapping[str, Any]]:
    try:
        import datasets
    except ImportError as error:  # pragma: no cover - datasets is a core dependency
        raise ImportError("hub benchmarks need `datasets`: pip install datasets") from error
    dataset = datasets.load_dataset(
        source.path,
        source.name,
        split=source.split,
        data_files=source.data_files,
        revision=source.revision,
        **dict(source.kwargs),
    )
    return iter(dataset)


def default_data_dirs() -> list[Path]:
    """Folders searched for ``NAME.jsonl`` when a benchmark is given by name only.

    Returns:
        ``$SPICE_EVAL_DATA`` (when set), ``./data/eval`` and ``../shared/data/eval``.
    """
    dirs = [Path("data/eval"), Path("../shared/data/eval")]
    override = os.environ.get("SPICE_EVAL_DATA")
    return ([Path(override)] if override else []) + dirs


def find_benchmark_file(
    name: str, data_dirs: Sequence[str | os.PathLike[str]] | None = None
) -> Path:
    """Locate ``NAME.jsonl`` (or ``.json``/``.parquet``) in the data folders.

    Args:
        name: Benchmark name.
        data_dirs: Folders to search; ``None`` uses :func:`default_data_dirs`.

    Returns:
        The first file found.

    Raises:
        FileNotFoundError: When no folder holds the file; the message lists where it looked.
    """
    folders = [Path(d) for d in data_dirs] if data_dirs else default_data_dirs()
    for folder in folders:
        for suffix in (".jsonl", ".json", ".parquet"):
            candidate = folder / f"{name}{suffix}"
            if candidate.is_file():
                return candidate
    looked = ", ".join(str(f) for f in folders)
    raise FileNotFoundError(
        f"no file for benchmark {name!r} in {looked}; pass --data-dir or NAME=PATH"
    )


def load_items(
    benchmark: Benchmark | str,
    source: str | os.PathLike[str] | DatasetSource | None = None,
    *,
    limit: int | None = None,
    data_dirs: Sequence[str | os.PathLike[str]] | None = None,
) -> list[EvalItem]:
    """Read a benchmark's items.

    Args:
        benchmark: An adapter or a registered name.
        source: A local file, ``"hf:..."`` text or :class:`DatasetSource`; ``None`` looks for
            ``NAME.jsonl`` in ``data_dirs``.
        limit: Keep only the first ``limit`` usable items.
        data_dirs: Folders searched when ``source`` is ``None``.

    Returns:
        The items in file order; rows without a question or gold answer are skipped, and
        repeated ids get a ``#k`` suffix so every item has its own cache entry.
    """
    adapter = get_benchmark(benchmark) if isinstance(benchmark, str) else benchmark
    if source is None:
        resolved: Path | DatasetSource = find_benchmark_file(adapter.name, data_dirs)
    elif isinstance(source, DatasetSource):
        resolved = source
    else:
        resolved = parse_source(os.fspath(source))
    items: list[EvalItem] = []
    seen: dict[str, int] = {}
    for index, row in enumerate(read_rows(resolved)):
        item = adapter.item(row, index)
        if item is None:
            continue
        count = seen.get(item.id, 0)
        seen[item.id] = count + 1
        if count:
            item = EvalItem(
                item.benchmark,
                f"{item.id}#{count}",
                item.question,
                item.gold,
                item.answer_type,
                item.options,
            )
        items.append(item)
        if limit is not None and len(items) >= limit:
            break
    return items
