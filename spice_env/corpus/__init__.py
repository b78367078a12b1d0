"""Corpora: where the Challenger's documents come from.

Start with :func:`load_corpus`; it reads the embedded default corpus, local files and folders,
``datasets`` objects and hub datasets, skipping (and counting) bad rows.
"""

from spice_env.corpus.corpus import (
    ArrowCorpus,
    Corpus,
    CorpusConfig,
    CorpusError,
    CorpusStats,
    Document,
    StreamingCorpus,
    default_cache_dir,
    load_corpus,
)
from spice_env.corpus.segment import RowCleaner, Segmenter
from spice_env.corpus.split import SplitCorpus, is_held_out

__all__ = [
    "ArrowCorpus",
    "Corpus",
    "CorpusConfig",
    "CorpusError",
    "CorpusStats",
    "Document",
    "RowCleaner",
    "Segmenter",
    "SplitCorpus",
    "StreamingCorpus",
    "default_cache_dir",
    "is_held_out",
    "load_corpus",
]
