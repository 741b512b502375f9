"""Client audio -> float32 samples at 16 kHz, and a queue that serves step windows."""

from __future__ import annotations

import numpy as np


class AudioFormatError(ValueError):
    """Audio the session cannot take (odd PCM16 byte count, NaN, wrong shape or type)."""


def to_float32(chunk: bytes | bytearray | memoryview | np.ndarray) -> np.ndarray:
    """PCM16 little-endian bytes or a 1-D float / int16 array -> float32 samples."""
    if isinstance(chunk, (bytes, bytearray, memoryview)):
        if len(chunk) % 2:
            raise AudioFormatError(f"PCM16 audio needs an even number of bytes, got {len(chunk)}")
        return np.frombuffer(chunk, dtype="<i2").astype(np.float32) / 32768.0
    arr = np.asarray(chunk)
    if arr.ndim != 1:
        raise AudioFormatError(f"audio must be 1-D mono samples, got shape {arr.shape}")
    if arr.dtype == np.int16:
        return arr.astype(np.float32) / 32768.0
    if not np.issubdtype(arr.dtype, np.floating):
        raise AudioFormatError(f"audio samples must be float or int16, got {arr.dtype}")
    arr = arr.astype(np.float32, copy=False)
    if not np.isfinite(arr).all():
        raise AudioFormatError("audio contains NaN or infinite samples")
    return arr


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
