"""Client-side audio helpers: mixdown, streaming resampling to 16 kHz, PCM16, 80 ms framing.

Clients must not need torch, so the few constants they use are repeated here (they are
the wire format of the server, see docs/DESIGN.md).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import soxr

SAMPLE_RATE = 16_000  # what the server expects on the wire
SAMPLES_PER_FRAME = 1280  # 80 ms at 16 kHz: one model step
FRAME_SECONDS = SAMPLES_PER_FRAME / SAMPLE_RATE
BYTES_PER_FRAME = SAMPLES_PER_FRAME * 2
ALLOWED_DELAYS_MS: tuple[int, ...] = tuple(range(80, 1201, 80)) + (2400,)
DEFAULT_DELAY_MS = 480


def to_mono(block: np.ndarray) -> np.ndarray:
    """(frames,) or (frames, channels) of any float/int dtype -> float32 (frames,), channels
    averaged."""
    x = np.asarray(block)
    if x.dtype.kind in "iu":
        x = x.astype(np.float32) / float(np.iinfo(x.dtype).max + 1)
    x = x.astype(np.float32, copy=False)
    if x.ndim == 2:
        x = x.mean(axis=1, dtype=np.float32) if x.shape[1] > 1 else x[:, 0]
    elif x.ndim != 1:
        raise ValueError(f"audio block must be 1-D or 2-D, got shape {x.shape}")
    return np.ascontiguousarray(x, dtype=np.float32)


def float_to_pcm16(x: np.ndarray) -> bytes:
    """float32 in [-1, 1] -> PCM16 little-endian bytes (clipped; exact for int16 sources)."""
    scaled = np.rint(np.asarray(x, dtype=np.float32) * 32768.0)
    return np.clip(scaled, -32768, 32767).astype("<i2").tobytes()


class StreamResampler:
    """Streaming resampler (soxr) from ``in_rate`` to 16 kHz; mixes any channels to mono.

    Feed blocks of any size with :meth:`process`; call :meth:`flush` once at the end to get
    the samples still held in the filter. A 16 kHz input is passed through untouched.
    """

    def __init__(self, in_rate: float, out_rate: int = SAMPLE_RATE, quality: str = "HQ") -> None:
        if in_rate <= 0:
            raise ValueError(f"sample rate must be positive, got {in_rate}")
        self.in_rate = float(in_rate)
        self.out_rate = int(out_rate)
        self._passthrough = self.in_rate == self.out_rate
        self._stream = (
            None
            if self._passthrough
            else soxr.ResampleStream(
                self.in_rate, self.out_rate, 1, dtype="float32", quality=quality
            )
        )
        self._flushed = False

    def process(self, block: np.ndarray) -> np.ndarray:
        if self._flushed:
            raise RuntimeError("resampler already flushed")
        mono = to_mono(block)
        if self._stream is None:
            return mono
        return self._stream.resample_chunk(mono, last=False)

    def flush(self) -> np.ndarray:
        if self._flushed:
            return np.zeros(0, dtype=np.float32)
        self._flushed = True
        if self._stream is None:
            return np.zeros(0, dtype=np.float32)
        return self._stream.resample_chunk(np.zeros(0, dtype=np.float32), last=True)


class Framer:
    """Collects 16 kHz float32 samples and hands out PCM16 frames of exactly 80 ms."""

    def __init__(self, samples_per_frame: int = SAMPLES_PER_FRAME) -> None:
        self.samples_per_frame = samples_per_frame
        self._pending = np.zeros(0, dtype=np.float32)

    def push(self, samples: np.ndarray) -> Iterator[bytes]:
        x = np.asarray(samples, dtype=np.float32)
        if self._pending.size:
            x = np.concatenate([self._pending, x])
        n_full = x.size // self.samples_per_frame
        for i in range(n_full):
            yield float_to_pcm16(x[i * self.samples_per_frame : (i + 1) * self.samples_per_frame])
        self._pending = x[n_full * self.samples_per_frame :].copy()

    def flush(self) -> bytes:
        """The last partial frame (may be empty); not padded, the server accepts any length."""
        rest, self._pending = self._pending, np.zeros(0, dtype=np.float32)
        return float_to_pcm16(rest) if rest.size else b""


def file_frames(audio: np.ndarray, rate: float) -> Iterator[bytes]:
    """Whole-file convenience: any rate, any channels -> 80 ms PCM16 frames at 16 kHz."""
    resampler = StreamResampler(rate)
    framer = Framer()
    yield from framer.push(resampler.process(audio))
    yield from framer.push(resampler.flush())
    last = framer.flush()
    if last:
        yield last
