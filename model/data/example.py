"""The one example type every data source yields (synthetic shards and real recordings)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

SAMPLE_RATE = 16000  # same as model.constants.SAMPLE_RATE; kept local so data code has no torch


class TimedWord(NamedTuple):
    """One whitespace word of the target text and when it is spoken (seconds from audio start)."""

    word: str
    start_s: float
    end_s: float


@dataclass
class Example:
    """16 kHz mono float32 audio with its target text.

    `words` follows `text.split()` one to one, or is None when timings are unknown
    (real recordings).
    """

    id: str
    audio: np.ndarray
    text: str
    words: list[TimedWord] | None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        return len(self.audio) / SAMPLE_RATE
