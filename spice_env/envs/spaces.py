"""A text space that admits any Unicode string, for documents and model outputs."""

from __future__ import annotations

import string
from typing import Any

from gymnasium.spaces import Text

__all__ = ["SAMPLE_CHARSET", "UnicodeText"]

SAMPLE_CHARSET = string.printable + "αβγπΣ√∞≤≥→€°éüñ中文\\{}"
"""Characters :meth:`UnicodeText.sample` draws from: ASCII, JSON and LaTeX punctuation, and a
few non-ASCII letters and symbols, so random actions exercise the parsers."""


class UnicodeText(Text):
    """Like :class:`gymnasium.spaces.Text`, but ``contains`` accepts every character.

    Gymnasium's ``Text`` only admits characters of its charset; documents and language-model
    outputs may hold any Unicode character, so membership here checks the length alone.
    Sampling still draws from :data:`SAMPLE_CHARSET`.
    """

    def __init__(self, max_length: int, *, min_length: int = 0, seed: Any = None) -> None:
        super().__init__(max_length, min_length=min_length, charset=SAMPLE_CHARSET, seed=seed)

    def contains(self, x: Any) -> bool:
        """True for any ``str`` whose length is within the bounds."""
        return isinstance(x, str) and self.min_length <= len(x) <= self.max_length

    def __repr__(self) -> str:
        return f"UnicodeText({self.min_length}, {self.max_length})"
