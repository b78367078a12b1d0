"""A fixed held-out share of a corpus: documents that training never draws.

A source document is held out when a keyed hash of its id falls below the held-out fraction,
so the split needs no index, is the same on every machine and process, keeps every segment of
a source document on the same side, and does not change when other rows are added. Training
reads the ``train`` part; held-out evaluation tasks are written from the ``holdout`` part.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Literal

import numpy as np

from spice_env.corpus.corpus import Corpus, Document

__all__ = ["CorpusPart", "SplitCorpus", "is_held_out"]

CorpusPart = Literal["train", "holdout"]
_SCALE = float(2**64)
_MAX_DRAWS = 100_000


def is_held_out(source_id: str, fraction: float, salt: str = "spice-holdout") -> bool:
    """Whether the source document ``source_id`` belongs to the held-out share.

    Args:
        source_id: The id of the source document (all its segments share it).
        fraction: Held-out share in [0, 1].
        salt: Changes which documents are held out (the default is the project's split).

    Returns:
        ``True`` for held-out documents, about ``fraction`` of them.
    """
    digest = hashlib.blake2b(f"{salt}\x00{source_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") / _SCALE < fraction


class SplitCorpus(Corpus):
    """One part of a corpus split by :func:`is_held_out`.

    Args:
        corpus: The whole corpus.
        holdout_fraction: Share of source documents held out, in (0, 1).
        part: ``"train"`` (every document but the held-out ones) or ``"holdout"``.
        salt: Passed to :func:`is_held_out`.
    """

    def __init__(
        self,
        corpus: Corpus,
        holdout_fraction: float,
        part: CorpusPart = "train",
        salt: str = "spice-holdout",
    ) -> None:
        if not 0.0 < holdout_fraction < 1.0:
            raise ValueError(f"holdout_fraction={holdout_fraction} must be in (0, 1)")
        if part not in ("train", "holdout"):
            raise ValueError(f"part={part!r}; use 'train' or 'holdout'")
        self.corpus = corpus
        self.holdout_fraction = holdout_fraction
        self.part = part
        self.salt = salt
        self.stats = corpus.stats
        self._length: int | None = None

    def contains(self, document: Document) -> bool:
        """Whether ``document`` is in this part."""
        held_out = is_held_out(document.source_id or document.id, self.holdout_fraction, self.salt)
        return held_out == (self.part == "holdout")

    def sample(self, rng: np.random.Generator) -> Document:
        """Draw a document of this part uniformly (rejection sampling over the whole corpus).

        Raises:
            ValueError: when no document of this part turns up in many draws.
        """
        for _ in range(_MAX_DRAWS):
            document = self.corpus.sample(rng)
            if self.contains(document):
                return document
        raise ValueError(
            f"no {self.part} document in {_MAX_DRAWS} draws: the corpus is too small for "
            f"holdout_fraction={self.holdout_fraction}"
        )

    def get(self, document_id: str) -> Document:
        """The document with this id, if it is in this part (``KeyError`` otherwise, so a
        held-out document can never be pinned by training)."""
        document = self.corpus.get(document_id)
        if not self.contains(document):
            raise KeyError(f"document {document_id!r} is not in the {self.part} part")
        return document

    def __iter__(self) -> Iterator[Document]:
        return (document for document in self.corpus if self.contains(document))

    def __len__(self) -> int:
        # Counting needs one pass over the corpus; done once, on demand.
        if self._length is None:
            self._length = sum(1 for _ in self)
        return self._length

    def __repr__(self) -> str:
        return (
            f"SplitCorpus({self.part}, holdout_fraction={self.holdout_fraction}, "
            f"of {self.corpus!r})"
        )
