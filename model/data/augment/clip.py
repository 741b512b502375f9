"""The unit augmentations work on, with the time-mapping helpers they share."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from model.data.example import TimedWord

SAMPLE_RATE = 16000


@dataclass
class Clip:
    audio: np.ndarray
    words: list[TimedWord]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        return len(self.audio) / SAMPLE_RATE

    def with_audio(self, audio: np.ndarray, time_scale: float = 1.0, shift_s: float = 0.0,
                   **meta: Any) -> Clip:
        """New audio whose time axis is old_time * time_scale + shift_s."""
        audio = np.asarray(audio, dtype=np.float32)
        limit = len(audio) / SAMPLE_RATE
        words = [
            TimedWord(w.word, min(limit, max(0.0, w.start_s * time_scale + shift_s)),
                      min(limit, max(0.0, w.end_s * time_scale + shift_s)))
            for w in self.words
        ]
        return Clip(audio, words, {**self.meta, **meta})


def rms(audio: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)) + 1e-12))


def mix_at_snr(speech: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """speech + noise scaled so that the speech-to-noise power ratio is snr_db."""
    noise = np.resize(noise, len(speech))
    gain = rms(speech) / (rms(noise) * 10 ** (snr_db / 20))
    return (speech + gain * noise).astype(np.float32)
