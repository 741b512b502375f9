"""What a session tells its client. Times are seconds on the audio clock (0 = first sample)."""

from __future__ import annotations

from dataclasses import dataclass, field

from model.words import Word


@dataclass(frozen=True)
class TextDelta:
    """New transcript text, in order; may begin with a space."""

    text: str
    start_s: float


@dataclass(frozen=True)
class WordFinal:
    """A word whose end is known (the next word began, or the stream ended)."""

    text: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class Finished:
    """After end of audio: the whole transcript."""

    text: str
    words: list[Word] = field(default_factory=list)


Event = TextDelta | WordFinal | Finished
