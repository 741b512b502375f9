"""From the token stream to text deltas and timed words.

Token i of a stream (i = 0 is the first token after the prompt) is emitted once the model
has heard audio up to (i + 1) * 80 ms + delay, and training places a word's first token at
the step holding the word's start. So a word's start is (its first token's index) * 80 ms
and its end is (its last token's index + 1) * 80 ms, on the audio clock; the delay cancels.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field
from typing import NamedTuple

from .constants import N_SPECIAL_TOKENS, STEP_SECONDS, STREAMING_WORD_ID
from .tokenizer import TextTokenizer


class Word(NamedTuple):
    text: str
    start_s: float
    end_s: float


@dataclass
class _OpenWord:
    text: str
    start_index: int
    last_index: int


@dataclass
class WordAssembler:
    """Consumes token ids one at a time; yields new text and words once they are complete."""

    tokenizer: TextTokenizer
    text: str = ""
    words: list[Word] = field(default_factory=list)
    _decoder: codecs.IncrementalDecoder = field(
        default_factory=lambda: codecs.getincrementaldecoder("utf-8")(errors="replace"))
    _open: _OpenWord | None = None
    _word_marker_index: int | None = None

    def push(self, token_id: int, index: int) -> tuple[str, list[Word]]:
        """Returns (new text, words completed by this token)."""
        if token_id == STREAMING_WORD_ID:
            self._word_marker_index = index
            return "", []
        if token_id < N_SPECIAL_TOKENS:
            return "", []
        piece = self._decoder.decode(self.tokenizer.token_bytes(token_id))
        if not piece:
            return "", []  # part of a multi-byte character
        self.text += piece
        done: list[Word] = []
        for ch in piece:
            if ch.isspace():
                if self._open is not None:
                    done.append(self._close())
            elif self._open is None:
                marker = self._word_marker_index
                self._open = _OpenWord(ch, index if marker is None else marker, index)
            else:
                self._open.text += ch
                self._open.last_index = index
        self._word_marker_index = None
        return piece, done

    def flush(self) -> tuple[str, list[Word]]:
        """At end of stream: (text of a dangling partial character, if any; the last word)."""
        tail = self._decoder.decode(b"", final=True)
        if tail:
            self.text += tail
            if self._open is not None:
                self._open.text += tail
        return tail, [self._close()] if self._open is not None else []

    def _close(self) -> Word:
        assert self._open is not None
        w = self._open
        word = Word(w.text, round(w.start_index * STEP_SECONDS, 3),
                    round((w.last_index + 1) * STEP_SECONDS, 3))
        self.words.append(word)
        self._open = None
        return word

