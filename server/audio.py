"""Wire audio -> float32 16 kHz mono: sample decoding, validation, stateful resampling.

One `AudioDecoder` per session: it keeps the soxr filter state between chunks, so a 48 kHz
stream cut into arbitrary chunks resamples exactly like the whole signal would.
"""

from __future__ import annotations

import base64
import binascii

import numpy as np
import soxr

from model.constants import SAMPLE_RATE


class InvalidAudio(ValueError):
    """Audio bytes that cannot be the declared PCM stream."""


def _mulaw_table() -> np.ndarray:
    codes = ~np.arange(256, dtype=np.int32) & 0xFF
    sign = codes & 0x80
    exponent = (codes >> 4) & 0x07
    mantissa = codes & 0x0F
    magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
    values = np.where(sign != 0, -magnitude, magnitude)
    return (values / 32768.0).astype(np.float32)


def _alaw_table() -> np.ndarray:
    codes = np.arange(256, dtype=np.int32) ^ 0x55
    sign = codes & 0x80
    exponent = (codes >> 4) & 0x07
    mantissa = codes & 0x0F
    magnitude = np.where(
        exponent == 0, (mantissa << 4) + 8, ((mantissa << 4) + 0x108) << (exponent - 1)
    )
    values = np.where(sign != 0, magnitude, -magnitude)
    return (values / 32768.0).astype(np.float32)


_MULAW = _mulaw_table()
_ALAW = _alaw_table()

# encoding -> bytes per sample
SAMPLE_WIDTH: dict[str, int] = {
    "pcm_s16le": 2,
    "pcm_s32le": 4,
    "pcm_f16le": 2,
    "pcm_f32le": 4,
    "pcm_mulaw": 1,
    "pcm_alaw": 1,
}
ENCODINGS = tuple(SAMPLE_WIDTH)
MIN_SAMPLE_RATE = 8_000
MAX_SAMPLE_RATE = 192_000


def decode_base64(text: str) -> bytes:
    """Strict base64 (RFC 4648 alphabet, padding checked); raises InvalidAudio."""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidAudio(f"audio is not valid base64: {exc}") from exc


def decode_samples(data: bytes, encoding: str) -> np.ndarray:
    """Raw little-endian PCM bytes -> float32 samples in [-1, 1]; raises InvalidAudio."""
    width = SAMPLE_WIDTH[encoding]
    if len(data) % width:
        raise InvalidAudio(
            f"{len(data)} bytes is not a whole number of {encoding} samples ({width} bytes each)"
        )
    if encoding == "pcm_s16le":
        return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0
    if encoding == "pcm_s32le":
        return (np.frombuffer(data, dtype="<i4").astype(np.float64) / 2147483648.0).astype(
            np.float32
        )
    if encoding in ("pcm_f16le", "pcm_f32le"):
        dtype = "<f2" if encoding == "pcm_f16le" else "<f4"
        x = np.frombuffer(data, dtype=dtype).astype(np.float32)
        if not np.all(np.isfinite(x)):
            raise InvalidAudio(f"{encoding} audio contains NaN or infinite samples")
        if x.size and float(np.max(np.abs(x))) > 16.0:
            raise InvalidAudio(f"{encoding} samples far outside [-1, 1]: not float PCM")
        return np.clip(x, -1.0, 1.0)
    table = _MULAW if encoding == "pcm_mulaw" else _ALAW
    return table[np.frombuffer(data, dtype=np.uint8)]


def looks_like_container(data: bytes) -> str | None:
    """Name of a file container whose header starts `data` (a client sending a file, not PCM)."""
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "WAV"
    for magic, name in (
        (b"fLaC", "FLAC"),
        (b"OggS", "Ogg"),
        (b"ID3", "MP3"),
        (b"\x1aE\xdf\xa3", "WebM"),
    ):
        if data.startswith(magic):
            return name
    return None


def validate_format(encoding: str, sample_rate: int) -> None:
    if encoding not in SAMPLE_WIDTH:
        raise InvalidAudio(f"unsupported encoding {encoding!r}; supported: {', '.join(ENCODINGS)}")
    if not MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE:
        raise InvalidAudio(
            f"sample rate {sample_rate} Hz out of range [{MIN_SAMPLE_RATE}, {MAX_SAMPLE_RATE}]"
        )


class AudioDecoder:
    """Stateful bytes -> 16 kHz float32 converter for one stream."""

    def __init__(self, encoding: str = "pcm_s16le", sample_rate: int = SAMPLE_RATE) -> None:
        validate_format(encoding, sample_rate)
        self.encoding = encoding
        self.sample_rate = sample_rate
        self._resampler = (
            None
            if sample_rate == SAMPLE_RATE
            else soxr.ResampleStream(sample_rate, SAMPLE_RATE, 1, dtype="float32", quality="HQ")
        )
        self._first = True
        self.input_samples = 0  # at the wire rate

    def decode(self, data: bytes) -> np.ndarray:
        """One chunk of wire bytes -> 16 kHz samples (may be empty while the filter fills)."""
        if not data:
            raise InvalidAudio("empty audio chunk")
        if self._first:
            container = looks_like_container(data)
            if container is not None:
                raise InvalidAudio(
                    f"audio starts with a {container} file header; send raw {self.encoding} "
                    "samples (or use POST /v1/audio/transcriptions for files)"
                )
        x = decode_samples(data, self.encoding)
        self._first = False
        self.input_samples += x.size
        if self._resampler is None:
            return x
        return self._resampler.resample_chunk(x, last=False)

    def flush(self) -> np.ndarray:
        """Samples still held in the resampling filter (call once, at end of audio)."""
        if self._resampler is None or self._first:
            return np.zeros(0, dtype=np.float32)
        return self._resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
