"""Small audio helpers shared by the TTS engines (resampling and energy tests)."""

from __future__ import annotations

import numpy as np
import soxr

SAMPLE_RATE = 16000
FRAME_S = 0.01


def to_16k(audio: np.ndarray, rate: int) -> np.ndarray:
    audio = np.asarray(audio, dtype=np.float32)
    if rate != SAMPLE_RATE:
        audio = soxr.resample(audio, rate, SAMPLE_RATE, quality="HQ").astype(np.float32)
    return audio


def frame_energy_db(audio: np.ndarray, rate: int = SAMPLE_RATE) -> np.ndarray:
    """10 ms frame RMS in dB relative to the loudest frame."""
    hop = int(rate * FRAME_S)
    n = len(audio) // hop
    frames = audio[: n * hop].reshape(n, hop).astype(np.float64)
    rms = np.sqrt((frames**2).mean(axis=1) + 1e-12)
    return 20 * np.log10(rms / max(rms.max(), 1e-9))


def speech_bounds(audio: np.ndarray, threshold_db: float = -40.0) -> tuple[float, float]:
    """(first, last) time in seconds where frame energy is within threshold of the peak."""
    loud = np.flatnonzero(frame_energy_db(audio) > threshold_db)
    if len(loud) == 0:
        return 0.0, len(audio) / SAMPLE_RATE
    return loud[0] * FRAME_S, (loud[-1] + 1) * FRAME_S


def last_sound_before(audio: np.ndarray, start_s: float, end_s: float,
                      threshold_db: float = -40.0) -> float:
    """End of the last loud frame in [start_s, end_s): trims a pause off a word's end."""
    db = frame_energy_db(audio)
    first, last = int(start_s / FRAME_S), min(int(np.ceil(end_s / FRAME_S)), len(db))
    loud = np.flatnonzero(db[first:last] > threshold_db)
    return end_s if len(loud) == 0 else min(end_s, (first + loud[-1] + 1) * FRAME_S)


def first_sound_after(audio: np.ndarray, start_s: float, end_s: float,
                      threshold_db: float = -40.0) -> float:
    """Start of the first loud 10 ms frame in [start_s, end_s): skips silence before a word."""
    db = frame_energy_db(audio)
    first, last = int(start_s / FRAME_S), min(int(np.ceil(end_s / FRAME_S)), len(db))
    loud = np.flatnonzero(db[first:last] > threshold_db)
    return start_s if len(loud) == 0 else max(start_s, (first + loud[0]) * FRAME_S)
