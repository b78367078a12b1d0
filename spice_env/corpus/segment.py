"""Cutting documents into segments of at most N tokens, and cleaning raw rows."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["WORDS_PER_TOKEN", "RowCleaner", "Segmenter"]

WORDS_PER_TOKEN = 0.75
"""Approximate English words per subword token, used when no tokenizer is given."""

_WORD_SPAN = re.compile(r"\S+")


class Segmenter:
    """Cuts text into pieces of at most ``max_tokens`` tokens.

    With a Hugging Face tokenizer the count is exact (cuts fall on token boundaries, found
    through the fast tokenizer's offset mapping); without one, a segment holds at most
    ``int(max_tokens * WORDS_PER_TOKEN)`` whitespace-separated words, which is close for
    English prose. Original whitespace inside a segment is kept either way.

    Args:
        max_tokens: Segment size limit (SPEC: 5,992).
        tokenizer: A ``transformers`` tokenizer, a name or path to load one from, or ``None``.
    """

    def __init__(self, max_tokens: int = 5992, tokenizer: Any = None) -> None:
        if max_tokens < 1:
            raise ValueError(f"max_tokens={max_tokens} must be at least 1")
        self.max_tokens = max_tokens
        if isinstance(tokenizer, str):
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(tokenizer)
        self.tokenizer = tokenizer
        self.max_words = max(1, int(max_tokens * WORDS_PER_TOKEN))

    @property
    def description(self) -> str:
        """A stable description used in cache keys."""
        if self.tokenizer is None:
            return f"words:{self.max_words}"
        name = getattr(self.tokenizer, "name_or_path", type(self.tokenizer).__name__)
        return f"tokens:{self.max_tokens}:{name}:{len(self.tokenizer)}"

    def split(self, text: str) -> list[str]:
        """Return the segments of ``text`` (one segment when it already fits)."""
        if self.tokenizer is None:
            return self._split_words(text)
        return self._split_tokens(text)

    def _split_words(self, text: str) -> list[str]:
        spans = [m.start() for m in _WORD_SPAN.finditer(text)]
        if len(spans) <= self.max_words:
            return [text.strip()]
        cuts = spans[:: self.max_words] + [len(text)]
        return [text[a:b].strip() for a, b in zip(cuts, cuts[1:])]

    def _split_tokens(self, text: str) -> list[str]:
        tok = self.tokenizer
        try:
            encoded = tok(text, add_special_tokens=False, return_offsets_mapping=True)
            offsets = encoded["offset_mapping"]
        except (NotImplementedError, TypeError, ValueError):
            # Slow tokenizers have no offsets: decode token windows instead.
            ids = tok.encode(text, add_special_tokens=False)
            if len(ids) <= self.max_tokens:
                return [text.strip()]
            windows = range(0, len(ids), self.max_tokens)
            return [tok.decode(ids[i : i + self.max_tokens]).strip() for i in windows]
        if len(offsets) <= self.max_tokens:
            return [text.strip()]
        cuts = [offsets[i][0] for i in range(0, len(offsets), self.max_tokens)] + [len(text)]
        cuts[0] = 0
        return [text[a:b].strip() for a, b in zip(cuts, cuts[1:])]


@dataclass(frozen=True)
class RowCleaner:
    """Turns a raw corpus row into ``(text, id, title)`` or a skip reason.

    Skip reasons: ``missing_field``, ``not_text``, ``empty``, ``undecodable``, ``too_short``.

    Attributes:
        text_field: Field holding the text; several fields are joined by a blank line.
        id_field: Field holding a document id; ``None`` numbers rows from 0.
        title_field: Optional field with a title, kept as metadata.
        min_words: Rows (and trailing segments) with fewer words are skipped as too short.
    """

    text_field: str | Sequence[str] = "text"
    id_field: str | None = None
    title_field: str | None = None
    min_words: int = 20

    def fields(self) -> tuple[str, ...]:
        """The text fields as a tuple."""
        return (self.text_field,) if isinstance(self.text_field, str) else tuple(self.text_field)

    def clean(self, row: Any, index: int) -> tuple[str, str, str] | str:
        """Return ``(text, doc_id, title)`` for a usable row, else the skip reason."""
        if not isinstance(row, Mapping):
            return "not_text"
        parts: list[str] = []
        for field in self.fields():
            if field not in row:
                return "missing_field"
            value = row[field]
            if isinstance(value, bytes):
                try:
                    value = value.decode("utf-8")
                except UnicodeDecodeError:
                    return "undecodable"
            if value is None:
                return "empty"
            if not isinstance(value, str):
                return "not_text"
            parts.append(value)
        text = "\n\n".join(p.strip() for p in parts if p.strip())
        if not text:
            return "empty"
        if _has_surrogates(text):
            return "undecodable"
        if len(text.split()) < self.min_words:
            return "too_short"
        doc_id = str(index)
        if self.id_field is not None:
            raw_id = row.get(self.id_field)
            if raw_id is None or str(raw_id).strip() == "":
                return "missing_field"
            doc_id = str(raw_id).strip()
        title = row.get(self.title_field) if self.title_field else None
        return text, doc_id, title if isinstance(title, str) else ""


def _has_surrogates(text: str) -> bool:
    # Files are read with errors="surrogateescape": undecodable bytes become lone surrogates.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
