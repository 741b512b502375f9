"""Client audio -> float32 samples: the one place that decides what audio is acceptable."""

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
