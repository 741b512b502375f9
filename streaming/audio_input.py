"""A queue of 16 kHz samples that serves step windows (input checks: model/audio_format)."""

from __future__ import annotations

import numpy as np

from model.audio_format import AudioFormatError, to_float32

__all__ = ["AudioFormatError", "SampleQueue", "to_float32"]


class SampleQueue:
    """Samples indexed from `start`; appends are O(1) so 1-sample chunks stay cheap, and
    chunks are joined only when a window is read."""

    def __init__(self, start: int, initial: np.ndarray) -> None:
        self.start = start
        self._chunks: list[np.ndarray] = [initial]
        self._length = len(initial)

    @property
    def end(self) -> int:
        return self.start + self._length

    def append(self, samples: np.ndarray) -> None:
        if len(samples):
            self._chunks.append(samples)
            self._length += len(samples)

    def window(self, begin: int, length: int) -> np.ndarray:
        if begin < self.start or begin + length > self.end:
            raise IndexError("window outside buffered audio")
        if len(self._chunks) > 1:
            self._chunks = [np.concatenate(self._chunks)]
        offset = begin - self.start
        return self._chunks[0][offset : offset + length]

    def drop_before(self, index: int) -> None:
        drop = index - self.start
        if drop <= 0:
            return
        if len(self._chunks) > 1:
            self._chunks = [np.concatenate(self._chunks)]
        self._chunks = [self._chunks[0][drop:]]
        self.start, self._length = index, self._length - drop
