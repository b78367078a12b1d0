"""The per-item result cache that makes an evaluation resumable.

One JSON Lines file per benchmark. A record is appended (and flushed to disk) as soon as its
batch is answered and verified, so a run killed at any moment loses at most the batch in
flight; a half-written last line is ignored on the next start. Each record is keyed by a hash
of everything that decides the answer (question, gold, prompt, decoding settings), so a
changed setting never reuses a stale answer.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["ItemCache", "item_key"]


def item_key(*parts: Any) -> str:
    """A stable hex digest of JSON-serializable ``parts``.

    Args:
        *parts: Anything ``json.dumps`` accepts (dicts are key-sorted).

    Returns:
        A 32-character hex string.
    """
    payload = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.blake2b(payload.encode("utf-8"), digest_size=16).hexdigest()


class ItemCache:
    """Append-only JSON Lines store of per-item records, keyed by ``record["key"]``.

    Args:
        path: The cache file (created with its folders on the first write).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._records: dict[str, dict[str, Any]] = {}
        self.skipped_lines = 0
        self._load()

    def _load(self) -> None:
        if not self.path.is_file():
            return
        with self.path.open(encoding="utf-8") as handle:
            for line in handle:
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    # A run killed while writing leaves a partial last line; that item reruns.
                    self.skipped_lines += 1
                    continue
                if isinstance(record, dict) and isinstance(record.get("key"), str):
                    self._records[record["key"]] = record

    def __contains__(self, key: object) -> bool:
        return key in self._records

    def __len__(self) -> int:
        return len(self._records)

    def records(self) -> list[dict[str, Any]]:
        """Every stored record, in the order first written."""
        return list(self._records.values())

    def get(self, key: str) -> dict[str, Any] | None:
        """The record stored under ``key``, or ``None``."""
        return self._records.get(key)

    def add_many(self, records: list[Mapping[str, Any]]) -> None:
        """Append records and force them to disk before returning.

        Args:
            records: Records with a string ``key``.
        """
        if not records:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        needs_newline = self._ends_without_newline()
        with self.path.open("a", encoding="utf-8") as handle:
            if needs_newline:
                # Start on a fresh line so a torn last line does not swallow this record.
                handle.write("\n")
            for record in records:
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        for record in records:
            self._records[record["key"]] = dict(record)

    def replace_all(self, records: list[Mapping[str, Any]]) -> None:
        """Rewrite the file with exactly ``records`` (used after re-scoring).

        Args:
            records: The records to keep.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        staging = self.path.with_suffix(self.path.suffix + ".tmp")
        with staging.open("w", encoding="utf-8") as handle:
            for record in records:
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        staging.replace(self.path)
        self._records = {r["key"]: dict(r) for r in records}

    def _ends_without_newline(self) -> bool:
        if not self.path.is_file() or self.path.stat().st_size == 0:
            return False
        with self.path.open("rb") as handle:
            handle.seek(-1, os.SEEK_END)
            return handle.read(1) != b"\n"
