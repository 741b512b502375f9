"""Split a text into whitespace words with their character spans."""

from __future__ import annotations

import re
from typing import NamedTuple

_WORD = re.compile(r"\S+")
# Characters that belong to the written word but are not pronounced.
_PUNCT = "\"'.,;:!?()[]{}-–—"


class WordSpan(NamedTuple):
    text: str
    start: int  # character offset, inclusive
    end: int  # character offset, exclusive


def split_words(text: str) -> list[WordSpan]:
    """Whitespace words of `text` with spans; the unit our word timings refer to."""
    return [WordSpan(m.group(), m.start(), m.end()) for m in _WORD.finditer(text)]


def bare_word(word: str) -> str:
    """A word without surrounding punctuation, lower-cased: what a TTS front end looks up."""
    return word.strip(_PUNCT).lower()
