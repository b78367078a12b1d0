"""Corpora: where the Challenger's documents come from.

Start with :func:`load_corpus`; it reads the embedded default corpus, local files and folders,
``datasets`` objects and hub datasets, skipping (and counting) bad rows.
"""

from spice_env.corpus.corpus import (
    ArrowCorpus,
    Corpus,
    CorpusConfig,
    CorpusStats,
    Document,
    StreamingCorpus,
    default_cache_dir,
    load_corpus,
)
from spice_env.corpus.segment import RowCleaner, Segmenter

__all__ = [
    "ArrowCorpus",
    "Corpus",
    "CorpusConfig",
    "CorpusStats",
    "Document",
    "RowCleaner",
    "Segmenter",
    "StreamingCorpus",
    "default_cache_dir",
    "load_corpus",
]
