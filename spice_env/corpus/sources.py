"""Row readers for local corpus files. Each yields dict rows, or a skip reason (a ``str``)
for a row that cannot even be read, so one bad line never stops a whole corpus."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["TEXT_SUFFIXES", "iter_local_rows", "local_fingerprint"]

TEXT_SUFFIXES = (".txt", ".md")
"""Files read as one document each when the corpus is a folder."""

Row = dict[str, Any] | str


def _decode_line(raw: bytes) -> str | None:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _iter_jsonl(path: Path) -> Iterator[Row]:
    with path.open("rb") as handle:
        for raw in handle:
            line = _decode_line(raw)
            if line is None:
                yield "undecodable"
                continue
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except (ValueError, RecursionError):
                yield "malformed"
                continue
            yield obj if isinstance(obj, dict) else "not_text"


def _iter_csv(path: Path, delimiter: str) -> Iterator[Row]:
    csv.field_size_limit(1 << 30)
    with path.open("r", encoding="utf-8", errors="surrogateescape", newline="") as handle:
        reader = csv.DictReader(handle, delimiter=delimiter)
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error:
                yield "malformed"
                continue
            yield dict(row)


def _iter_parquet(path: Path) -> Iterator[Row]:
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(path)
    for batch in parquet.iter_batches(batch_size=1024):
        yield from batch.to_pylist()


def _iter_folder(path: Path) -> Iterator[Row]:
    for file in sorted(p for p in path.rglob("*") if p.suffix.lower() in TEXT_SUFFIXES):
        raw = file.read_bytes()
        text = _decode_line(raw)
        if text is None:
            yield "undecodable"
            continue
        yield {"text": text, "id": file.relative_to(path).as_posix(), "title": file.stem}


def iter_local_rows(path: str | os.PathLike[str]) -> Iterator[Row]:
    """Rows of a local JSONL, Parquet, CSV/TSV file, or of a folder of ``.txt``/``.md`` files.

    A folder's rows have the fields ``text``, ``id`` (the relative path) and ``title``.

    Raises:
        ValueError: for a file type that is not supported (before any row is read).
    """
    path = Path(path)
    if path.is_dir():
        return _iter_folder(path)
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json", ".ndjson"):
        return _iter_jsonl(path)
    if suffix in (".csv", ".tsv"):
        return _iter_csv(path, "\t" if suffix == ".tsv" else ",")
    if suffix == ".parquet":
        return _iter_parquet(path)
    raise ValueError(
        f"cannot read corpus file {path}: supported are .jsonl/.json/.ndjson, .parquet, "
        ".csv/.tsv, or a folder of .txt/.md files"
    )


def local_fingerprint(path: str | os.PathLike[str]) -> str:
    """Identity of a local file or folder for caching: path, sizes and modification times."""
    path = Path(path).resolve()
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix.lower() in TEXT_SUFFIXES)
        parts = [f"{p.relative_to(path)}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in files]
        return f"dir:{path}:" + "|".join(parts)
    stat = path.stat()
    return f"file:{path}:{stat.st_size}:{stat.st_mtime_ns}"
