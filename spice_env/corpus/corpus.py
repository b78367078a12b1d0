"""Corpora of documents for the Challenger: built once, kept on disk, sampled in O(1).

Two kinds:

- :class:`ArrowCorpus`: rows are cleaned and segmented once, written to an Arrow IPC file in
  a cache folder and memory-mapped, so sampling and lookup cost the same for 10 thousand or
  10 million documents and memory holds only the pages touched. Local files, folders,
  ``datasets.Dataset`` objects and hub datasets (non-streaming) end up here.
- :class:`StreamingCorpus`: over a ``datasets.IterableDataset`` (or any iterable of rows)
  that is never written out; documents are drawn from a seeded shuffle buffer.

Use :func:`load_corpus` rather than the classes: it picks the right one.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import os
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from spice_env.corpus.segment import RowCleaner, Segmenter
from spice_env.corpus.sources import iter_local_rows, local_fingerprint

__all__ = [
    "ArrowCorpus",
    "Corpus",
    "CorpusConfig",
    "CorpusError",
    "CorpusStats",
    "Document",
    "StreamingCorpus",
    "default_cache_dir",
    "load_corpus",
]

_FORMAT_VERSION = 2
_BATCH_ROWS = 256
_BATCH_BYTES = 1 << 20
_RECENT = 4096


class CorpusError(ValueError):
    """A corpus that cannot be served as configured: no usable document, a bad setting, an
    unsupported file. Raised by :func:`load_corpus` (a missing path stays a
    ``FileNotFoundError``), so a command can tell the user's corpus from a bug."""


@dataclass(frozen=True)
class Document:
    """One segment of a source document: the unit a Challenger reads.

    Attributes:
        id: Unique id; ``"<source id>#<k>"`` when the source was cut into several segments.
        text: The segment text.
        source_id: Id of the source document.
        segment: Index of this segment within its source document.
        title: Optional title metadata.
    """

    id: str
    text: str
    source_id: str
    segment: int = 0
    title: str = ""


@dataclass
class CorpusStats:
    """What happened while a corpus was built.

    Attributes:
        rows_read: Source rows seen.
        documents: Rows kept.
        segments: Segments produced from the kept rows.
        skipped: Count per skip reason (``malformed``, ``undecodable``, ``missing_field``,
            ``not_text``, ``empty``, ``too_short``, ``short_tail``, ``duplicate_id``).
    """

    rows_read: int = 0
    documents: int = 0
    segments: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    @property
    def skipped_total(self) -> int:
        """All skipped rows and segments."""
        return sum(self.skipped.values())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def default_cache_dir() -> Path:
    """``$SPICE_ENV_CACHE`` or ``~/.cache/spice_env``; corpora go under ``corpus/``."""
    root = os.environ.get("SPICE_ENV_CACHE") or Path.home() / ".cache" / "spice_env"
    return Path(root) / "corpus"


class Corpus:
    """Interface shared by corpora: sampling, lookup by id, and build statistics."""

    stats: CorpusStats

    def __len__(self) -> int:
        raise NotImplementedError

    def sample(self, rng: np.random.Generator) -> Document:
        """Draw a document uniformly at random with ``rng``."""
        raise NotImplementedError

    def get(self, document_id: str) -> Document:
        """Return the document with this id; ``KeyError`` if there is none."""
        raise NotImplementedError

    def __iter__(self) -> Iterator[Document]:
        raise NotImplementedError


def _segment_rows(
    rows: Iterable[Mapping[str, Any] | str],
    cleaner: RowCleaner,
    segmenter: Segmenter,
    stats: CorpusStats,
) -> Iterator[Document]:
    """Clean rows and cut them into segments, counting every skip in ``stats``."""
    skipped: Counter[str] = Counter(stats.skipped)
    for index, row in enumerate(rows):
        stats.rows_read += 1
        cleaned = row if isinstance(row, str) else cleaner.clean(row, index)
        if isinstance(cleaned, str):
            skipped[cleaned] += 1
            stats.skipped = dict(skipped)
            continue
        text, doc_id, title = cleaned
        pieces = segmenter.split(text)
        kept = [p for k, p in enumerate(pieces) if k == 0 or len(p.split()) >= cleaner.min_words]
        if len(kept) < len(pieces):
            skipped["short_tail"] += len(pieces) - len(kept)
            stats.skipped = dict(skipped)
        stats.documents += 1
        for k, piece in enumerate(kept):
            stats.segments += 1
            seg_id = doc_id if len(kept) == 1 else f"{doc_id}#{k}"
            yield Document(id=seg_id, text=piece, source_id=doc_id, segment=k, title=title)


class ArrowCorpus(Corpus):
    """A segmented corpus stored as small Arrow record batches, on disk or in memory.

    On disk, a row is fetched by reading just its record batch (a positional read of at most
    ``_BATCH_ROWS`` rows or about ``_BATCH_BYTES`` of text) and dropping it afterwards, so
    resident memory does not grow with the corpus or with the number of documents served.
    Ids are found by binary search in a sorted id index written next to the data.

    Build one with :meth:`build` (or :func:`load_corpus`); open a built one with :meth:`open`.
    """

    def __init__(
        self,
        batches: Any,
        starts: Sequence[int],
        ids: Any,
        stats: CorpusStats,
        path: Path | None = None,
    ) -> None:
        # ``batches``: an Arrow IPC file reader (on disk) or a list of record batches (memory).
        self._batches = batches
        self._starts = list(starts)  # first row of each batch, plus the total at the end
        self._sorted_ids = ids.column("id")
        self._sorted_rows = ids.column("row")
        self.stats = stats
        self.path = path
        # Recently served documents by id, so G trajectories pinned to one document cost O(1).
        self._recent: OrderedDict[str, Document] = OrderedDict()
        if len(self) == 0:
            raise ValueError(
                f"the corpus has no usable documents (skipped: {stats.skipped}); check the "
                "text field name and min_words"
            )

    # -- building ---------------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        rows: Iterable[Mapping[str, Any] | str],
        cleaner: RowCleaner,
        segmenter: Segmenter,
        *,
        cache_path: Path | None,
        total: int | None = None,
        progress: bool = True,
        description: str = "corpus",
    ) -> ArrowCorpus:
        """Clean, segment and store ``rows``.

        Args:
            rows: Raw rows (dicts) or skip reasons (strings).
            cleaner: Field names and filters.
            segmenter: Segment size and tokenizer.
            cache_path: Folder to write the corpus to; ``None`` keeps it in memory (small
                corpora such as the embedded one).
            total: Row count for the progress bar, when known.
            progress: Show a progress bar.
            description: Progress bar label.
        """
        import pyarrow as pa
        from tqdm.auto import tqdm

        stats = CorpusStats()
        bar = tqdm(
            total=total,
            desc=f"building {description}",
            unit="row",
            disable=not progress,
            leave=False,
        )
        columns: dict[str, list[Any]] = {name: [] for name in _SCHEMA_NAMES}
        batches: list[Any] = []
        starts = [0]
        text_bytes = 0
        writer: Any = None
        tmp_dir: Path | None = None
        if cache_path is not None:
            cache_path.parent.mkdir(parents=True, exist_ok=True)
            tmp_dir = cache_path.with_name(cache_path.name + f".tmp{os.getpid()}")
            tmp_dir.mkdir(exist_ok=True)
            writer = pa.ipc.new_file(str(tmp_dir / "segments.arrow"), _schema())

        def flush() -> None:
            nonlocal text_bytes
            if not columns["id"]:
                return
            batch = pa.record_batch(columns, schema=_schema())
            if writer is not None:
                writer.write_batch(batch)
            else:
                batches.append(batch)
            starts.append(starts[-1] + batch.num_rows)
            for values in columns.values():
                values.clear()
            text_bytes = 0

        def counted(source: Iterable[Mapping[str, Any] | str]) -> Iterator[Mapping[str, Any] | str]:
            for row in source:
                bar.update(1)
                yield row

        try:
            for doc in _segment_rows(counted(rows), cleaner, segmenter, stats):
                columns["id"].append(doc.id)
                columns["text"].append(doc.text)
                columns["source_id"].append(doc.source_id)
                columns["segment"].append(doc.segment)
                columns["title"].append(doc.title)
                text_bytes += len(doc.text)
                if len(columns["id"]) >= _BATCH_ROWS or text_bytes >= _BATCH_BYTES:
                    flush()
            flush()
        finally:
            bar.close()
            if writer is not None:
                writer.close()

        if writer is None:
            table = pa.Table.from_batches(batches, schema=_schema())
            return cls(batches, starts, _id_index(table.column("id")), stats)

        assert tmp_dir is not None and cache_path is not None
        with pa.memory_map(str(tmp_dir / "segments.arrow"), "r") as source:
            reader = pa.ipc.open_file(source)
            ids = pa.chunked_array(
                [reader.get_batch(i).column("id") for i in range(reader.num_record_batches)],
                pa.string(),
            )
            index = _id_index(ids)
        with pa.ipc.new_file(str(tmp_dir / "ids.arrow"), index.schema) as id_writer:
            id_writer.write_table(index)
        (tmp_dir / "stats.json").write_text(
            json.dumps({"stats": stats.to_dict(), "starts": starts})
        )
        if cache_path.exists():  # a concurrent build finished first; keep theirs
            import shutil

            shutil.rmtree(tmp_dir, ignore_errors=True)
        else:
            tmp_dir.replace(cache_path)
        return cls.open(cache_path)

    @classmethod
    def open(cls, cache_path: str | os.PathLike[str]) -> ArrowCorpus:
        """Open a corpus written by :meth:`build` (nothing is read until it is used)."""
        import pyarrow as pa

        cache_path = Path(cache_path)
        meta = json.loads((cache_path / "stats.json").read_text())
        reader = pa.ipc.open_file(pa.OSFile(str(cache_path / "segments.arrow")))
        ids = pa.ipc.open_file(pa.memory_map(str(cache_path / "ids.arrow"), "r")).read_all()
        return cls(reader, meta["starts"], ids, CorpusStats(**meta["stats"]), path=cache_path)

    # -- access -----------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._starts[-1]

    def _batch(self, index: int) -> Any:
        if isinstance(self._batches, list):
            return self._batches[index]
        return self._batches.get_batch(index)

    def __getitem__(self, index: int) -> Document:
        if not -len(self) <= index < len(self):
            raise IndexError(f"document index {index} out of range for {len(self)} documents")
        index %= len(self)
        batch_index = bisect.bisect_right(self._starts, index) - 1
        batch = self._batch(batch_index)
        row = batch.slice(index - self._starts[batch_index], 1).to_pylist()[0]
        return self._remember(Document(**row))

    def _remember(self, doc: Document) -> Document:
        self._recent[doc.id] = doc
        self._recent.move_to_end(doc.id)
        if len(self._recent) > _RECENT:
            self._recent.popitem(last=False)
        return doc

    def sample(self, rng: np.random.Generator) -> Document:
        return self[int(rng.integers(len(self)))]

    def get(self, document_id: str) -> Document:
        document_id = str(document_id)
        doc = self._recent.get(document_id)
        if doc is not None:
            return doc
        # Binary search in the sorted id index: O(log n) reads, no full scan.
        lo, hi = 0, len(self._sorted_ids)
        while lo < hi:
            mid = (lo + hi) // 2
            if self._sorted_ids[mid].as_py() < document_id:
                lo = mid + 1
            else:
                hi = mid
        if lo < len(self._sorted_ids) and self._sorted_ids[lo].as_py() == document_id:
            return self[self._sorted_rows[lo].as_py()]
        raise KeyError(f"no document with id {document_id!r} in this corpus")

    def __iter__(self) -> Iterator[Document]:
        for batch_index in range(len(self._starts) - 1):
            for row in self._batch(batch_index).to_pylist():
                yield Document(**row)

    def __repr__(self) -> str:
        where = f" at {self.path}" if self.path else " in memory"
        return f"ArrowCorpus({len(self)} documents{where}, skipped={self.stats.skipped_total})"


_SCHEMA_NAMES = ("id", "text", "source_id", "segment", "title")


def _schema() -> Any:
    import pyarrow as pa

    return pa.schema(
        [
            ("id", pa.string()),
            ("text", pa.large_string()),
            ("source_id", pa.string()),
            ("segment", pa.int32()),
            ("title", pa.string()),
        ]
    )


def _id_index(ids: Any) -> Any:
    """A table of ids in sorted order with their row numbers, for binary search."""
    import pyarrow as pa
    import pyarrow.compute as pc

    ids = ids.combine_chunks() if isinstance(ids, pa.ChunkedArray) else ids
    order = pc.sort_indices(ids)
    return pa.table({"id": pc.take(ids, order), "row": order.cast(pa.int64())})


class StreamingCorpus(Corpus):
    """A corpus read lazily from an iterable of rows, through a seeded shuffle buffer.

    Nothing is written to disk and memory holds at most ``buffer_size`` documents plus the
    recently served ones. When the stream ends it starts over (a new epoch).

    Args:
        make_rows: Called with the epoch number, returns a fresh iterable of raw rows.
        cleaner: Field names and filters.
        segmenter: Segment size and tokenizer.
        buffer_size: Shuffle buffer size.
    """

    def __init__(
        self,
        make_rows: Callable[[int], Iterable[Mapping[str, Any] | str]],
        cleaner: RowCleaner,
        segmenter: Segmenter,
        buffer_size: int = 1000,
    ) -> None:
        if buffer_size < 1:
            raise ValueError(f"buffer_size={buffer_size} must be at least 1")
        self._make_rows = make_rows
        self._cleaner = cleaner
        self._segmenter = segmenter
        self.buffer_size = buffer_size
        self.stats = CorpusStats()
        self.epoch = 0
        self.served = 0
        self._buffer: list[Document] = []
        self._stream: Iterator[Document] | None = None
        self._recent: OrderedDict[str, Document] = OrderedDict()

    def __len__(self) -> int:
        raise TypeError("a streaming corpus has no known length")

    def _next_document(self) -> Document | None:
        for _ in range(2):  # the current stream, then at most one fresh epoch
            if self._stream is None:
                self._stream = _segment_rows(
                    self._make_rows(self.epoch), self._cleaner, self._segmenter, self.stats
                )
            doc = next(self._stream, None)
            if doc is not None:
                return doc
            self._stream = None
            self.epoch += 1
        return None

    def sample(self, rng: np.random.Generator) -> Document:
        while len(self._buffer) < self.buffer_size:
            doc = self._next_document()
            if doc is None:
                break
            self._buffer.append(doc)
        if not self._buffer:
            raise ValueError(f"the stream has no usable documents (skipped: {self.stats.skipped})")
        index = int(rng.integers(len(self._buffer)))
        doc = self._buffer[index]
        self._buffer[index] = self._buffer[-1]
        self._buffer.pop()
        self.served += 1
        self._recent[doc.id] = doc
        if len(self._recent) > _RECENT:
            self._recent.popitem(last=False)
        return doc

    def get(self, document_id: str) -> Document:
        doc = self._recent.get(str(document_id))
        if doc is None:
            raise KeyError(
                f"document {document_id!r} was not served recently; a streaming corpus can only "
                f"pin one of its last {_RECENT} documents (use a map-style corpus to pin any)"
            )
        return doc

    def __iter__(self) -> Iterator[Document]:
        return _segment_rows(self._make_rows(0), self._cleaner, self._segmenter, CorpusStats())


# -- loading --------------------------------------------------------------------------------
def _cache_key(*parts: Any) -> str:
    blob = json.dumps([_FORMAT_VERSION, *parts], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def _cached_build(
    rows_factory: Callable[[], Iterable[Any]],
    key: str,
    cleaner: RowCleaner,
    segmenter: Segmenter,
    cache_dir: Path | None,
    total: int | None,
    progress: bool,
    description: str,
) -> ArrowCorpus:
    target = (cache_dir or default_cache_dir()) / key
    if (target / "stats.json").exists():
        return ArrowCorpus.open(target)
    return ArrowCorpus.build(
        rows_factory(),
        cleaner,
        segmenter,
        cache_path=target,
        total=total,
        progress=progress,
        description=description,
    )


def _embedded_rows() -> Iterator[dict[str, Any] | str]:
    data = resources.files("spice_env.corpus").joinpath("data/embedded.jsonl")
    for line in data.read_text(encoding="utf-8").splitlines():
        if line.strip():
            yield json.loads(line)


@dataclass(frozen=True)
class CorpusConfig:
    """How a corpus is read: every setting of :func:`load_corpus` except the source itself.

    One object, so the environment (``gym.make("SpiceCorpus-v0", corpus_config=...)``), the
    trainer and the command line pass the same settings without repeating a signature. A
    plain ``dict`` of these fields is accepted wherever a ``CorpusConfig`` is.
    """

    text_field: str | tuple[str, ...] = "text"
    """Field with the text, or several fields to join with a blank line."""
    id_field: str | None = None
    """Field with document ids; rows are numbered from 0 when ``None``."""
    title_field: str | None = None
    """Optional field with a title."""
    max_segment_tokens: int = 5992
    """Cut documents into segments of at most this many tokens (paper: 5,992)."""
    tokenizer: Any = None
    """Hugging Face tokenizer (object, name or path) for exact token counts; word counts
    approximate them when ``None``."""
    min_words: int = 20
    """Rows and trailing segments with fewer words are skipped (and counted)."""
    split: str = "train"
    """Split of a hub dataset."""
    streaming: bool = False
    """Read a hub dataset as a stream instead of writing it to the cache."""
    buffer_size: int = 1000
    """Shuffle buffer of a streamed corpus."""
    cache_dir: str | None = None
    """Where built corpora are kept (default :func:`default_cache_dir`)."""
    progress: bool = True
    """Show a progress bar while building."""
    load_kwargs: Mapping[str, Any] = field(default_factory=dict)
    """Passed to ``datasets.load_dataset`` for ``hf:`` sources (``name``, ``data_files``...)."""
    holdout_fraction: float = 0.0
    """Share of source documents held out of training, chosen by a hash of their id (0: no
    split). See :mod:`spice_env.corpus.split`."""
    part: str = "train"
    """With a held-out share: ``"train"`` serves every other document, ``"holdout"`` only the
    held-out ones (to write evaluation tasks from)."""

    def __post_init__(self) -> None:
        if isinstance(self.text_field, list):
            object.__setattr__(self, "text_field", tuple(self.text_field))
        if self.max_segment_tokens < 1:
            raise ValueError(f"max_segment_tokens={self.max_segment_tokens} must be at least 1")
        if self.min_words < 0:
            raise ValueError(f"min_words={self.min_words} must be >= 0")
        if not 0.0 <= self.holdout_fraction < 1.0:
            raise ValueError(
                f"holdout_fraction={self.holdout_fraction} must be in [0, 1); 0 turns the split off"
            )
        if self.part not in ("train", "holdout"):
            raise ValueError(f"part={self.part!r}; use 'train' or 'holdout'")

    @classmethod
    def coerce(
        cls, value: CorpusConfig | Mapping[str, Any] | None, **overrides: Any
    ) -> CorpusConfig:
        """A ``CorpusConfig`` from one, a dict of its fields, or ``None`` (the defaults).

        Args:
            value: The settings.
            **overrides: Fields to change; names that are not fields go to ``load_kwargs``
                (they are ``datasets.load_dataset`` arguments).

        Raises:
            ValueError: a dict key that is not a field (the message lists the fields).
        """
        if value is None:
            config = cls()
        elif isinstance(value, CorpusConfig):
            config = value
        elif isinstance(value, Mapping):
            unknown = set(value) - _CORPUS_FIELDS
            if unknown:
                raise ValueError(
                    f"unknown corpus settings {sorted(unknown)}; known: {sorted(_CORPUS_FIELDS)} "
                    "(datasets.load_dataset arguments go under 'load_kwargs')"
                )
            config = cls(**value)
        else:
            raise TypeError(
                f"corpus_config must be a CorpusConfig, a dict or None, not {type(value).__name__}"
            )
        if not overrides:
            return config
        extra = {k: v for k, v in overrides.items() if k not in _CORPUS_FIELDS}
        known = {k: v for k, v in overrides.items() if k in _CORPUS_FIELDS}
        if extra:
            known["load_kwargs"] = {**config.load_kwargs, **known.get("load_kwargs", {}), **extra}
        return replace(config, **known)


_CORPUS_FIELDS = frozenset(f.name for f in fields(CorpusConfig))


def load_corpus(
    source: Any = None, config: CorpusConfig | Mapping[str, Any] | None = None, **settings: Any
) -> Corpus:
    """Build a corpus from any supported source.

    Args:
        source: ``None`` for the embedded corpus; a :class:`Corpus` (returned as is); a path to
            a JSONL/Parquet/CSV file or to a folder of ``.txt``/``.md`` files; ``"hf:NAME"``
            for a hub dataset through ``datasets.load_dataset`` (``NAME`` may also be a
            builder such as ``json`` with ``data_files=`` in ``load_kwargs``); a
            ``datasets.Dataset`` or ``datasets.IterableDataset``; or any iterable of dict rows
            (streamed).
        config: How to read it (:class:`CorpusConfig` or a dict of its fields).
        **settings: :class:`CorpusConfig` fields that override ``config``
            (``text_field="body"``, ``max_segment_tokens=512``...); any other name is a
            ``datasets.load_dataset`` argument for ``hf:`` sources (``name="en"``).

    Returns:
        An :class:`ArrowCorpus` or a :class:`StreamingCorpus`.

    Raises:
        FileNotFoundError: a path that does not exist (nothing is guessed from a typo).
        CorpusError: (a ``ValueError``) a bad setting, a source with no usable document or
            of an unsupported kind, a split with an empty side.
    """
    try:
        options = CorpusConfig.coerce(config, **settings)
        corpus = _load_whole(source, options)
        if options.holdout_fraction <= 0:
            return corpus
        from spice_env.corpus.split import SplitCorpus

        if isinstance(corpus, SplitCorpus):
            return corpus  # already split (the env is handed the trainer's corpus)
        return SplitCorpus(corpus, options.holdout_fraction, options.part)  # type: ignore[arg-type]
    except CorpusError:
        raise
    except ValueError as error:
        raise CorpusError(str(error)) from error


def _load_whole(source: Any, options: CorpusConfig) -> Corpus:
    text_field, id_field, title_field = options.text_field, options.id_field, options.title_field
    min_words, buffer_size, progress = options.min_words, options.buffer_size, options.progress
    cache_dir = options.cache_dir
    if isinstance(source, Corpus):
        return source
    cleaner = RowCleaner(
        text_field=text_field, id_field=id_field, title_field=title_field, min_words=min_words
    )
    segmenter = Segmenter(options.max_segment_tokens, options.tokenizer)
    cache = Path(cache_dir) if cache_dir is not None else None
    settings = [cleaner.fields(), id_field, title_field, min_words, segmenter.description]

    if source is None:
        embedded = RowCleaner(
            text_field="text", id_field="id", title_field="title", min_words=min_words
        )
        return ArrowCorpus.build(
            _embedded_rows(), embedded, segmenter, cache_path=None, progress=False
        )

    if isinstance(source, (str, os.PathLike)):
        name = os.fspath(source)
        if name.startswith("hf:"):
            import datasets

            loaded = datasets.load_dataset(
                name[3:], split=options.split, streaming=options.streaming, **options.load_kwargs
            )
            return _load_whole(loaded, replace(options, tokenizer=segmenter.tokenizer))
        path = Path(name)
        if not path.exists():
            raise FileNotFoundError(
                f"corpus path {name!r} does not exist; for a hub dataset write 'hf:{name}'"
            )
        iter_local_rows(path)  # fail fast on an unsupported file type
        if path.is_dir():
            # Folder rows carry their relative path as id and the file stem as title.
            cleaner = RowCleaner(
                text_field="text", id_field="id", title_field="title", min_words=min_words
            )
            settings[:3] = [cleaner.fields(), "id", "title"]
        key = _cache_key("local", local_fingerprint(path), settings)
        return _cached_build(
            lambda: iter_local_rows(path), key, cleaner, segmenter, cache, None, progress, path.name
        )

    try:
        import datasets
    except ImportError:  # pragma: no cover - datasets is a core dependency
        datasets = None
    if datasets is not None and isinstance(source, datasets.Dataset):
        key = _cache_key("dataset", source._fingerprint, settings)
        return _cached_build(
            lambda: iter(source), key, cleaner, segmenter, cache, len(source), progress, "dataset"
        )
    if datasets is not None and isinstance(source, datasets.IterableDataset):

        def make_rows(epoch: int) -> Iterable[Any]:
            stream = source.shuffle(seed=epoch, buffer_size=buffer_size)
            return iter(stream)

        return StreamingCorpus(make_rows, cleaner, segmenter, buffer_size)
    if isinstance(source, Sequence) and not isinstance(source, (str, bytes)):
        return ArrowCorpus.build(source, cleaner, segmenter, cache_path=None, progress=False)
    if isinstance(source, Iterable):
        rows = source
        if iter(rows) is rows:
            raise ValueError(
                "a one-shot iterator cannot be read twice; pass a list, a datasets object, or "
                "a StreamingCorpus with a row factory"
            )
        return StreamingCorpus(lambda epoch: rows, cleaner, segmenter, buffer_size)
    raise ValueError(f"unsupported corpus source of type {type(source).__name__}")
