"""Additive noise: coloured noise, mains hum, and babble made from other TTS utterances."""

from __future__ import annotations

import numpy as np

from model.data.augment.clip import SAMPLE_RATE, Clip, mix_at_snr


def coloured_noise(n: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    """Noise with power ~ 1/f**exponent (0 white, 1 pink, 2 brown, -1 blue)."""
    spectrum = rng.standard_normal(n // 2 + 1) + 1j * rng.standard_normal(n // 2 + 1)
    freqs = np.fft.rfftfreq(n, 1 / SAMPLE_RATE)
    spectrum *= 1 / np.maximum(freqs, 20.0) ** (exponent / 2)
    return np.fft.irfft(spectrum, n).astype(np.float32)


def add_coloured_noise(clip: Clip, rng: np.random.Generator, snr_db: float) -> Clip:
    exponent = float(rng.uniform(-1, 2))
    noise = coloured_noise(len(clip.audio), exponent, rng)
    return clip.with_audio(mix_at_snr(clip.audio, noise, snr_db),
                           noise=f"colour{exponent:.1f}", snr_db=round(snr_db, 1))


def add_hum(clip: Clip, rng: np.random.Generator, snr_db: float) -> Clip:
    base = float(rng.choice([50.0, 60.0]))
    t = np.arange(len(clip.audio)) / SAMPLE_RATE
    hum = sum(rng.uniform(0.2, 1) / k * np.sin(2 * np.pi * base * k * t + rng.uniform(0, 6.3))
              for k in range(1, 6))
    return clip.with_audio(mix_at_snr(clip.audio, np.asarray(hum), snr_db),
                           hum_hz=base, hum_snr_db=round(snr_db, 1))


class BabblePool:
    """Keeps recent synthetic utterances; mixes 3-6 of them as background talkers."""

    def __init__(self, size: int = 40) -> None:
        self.size = size
        self.pool: list[np.ndarray] = []

    def remember(self, audio: np.ndarray, rng: np.random.Generator) -> None:
        if len(self.pool) < self.size:
            self.pool.append(audio)
        else:
            self.pool[int(rng.integers(self.size))] = audio

    def ready(self) -> bool:
        return len(self.pool) >= 6

    def add_babble(self, clip: Clip, rng: np.random.Generator, snr_db: float) -> Clip:
        n = len(clip.audio)
        babble = np.zeros(n, np.float32)
        talkers = int(rng.integers(3, 7))
        for i in rng.choice(len(self.pool), talkers, replace=False):
            other = np.resize(self.pool[i], n + SAMPLE_RATE)
            shift = int(rng.integers(SAMPLE_RATE))
            babble += other[shift : shift + n] / (np.abs(other).max() + 1e-6)
        return clip.with_audio(mix_at_snr(clip.audio, babble, snr_db),
                               babble_talkers=talkers, babble_snr_db=round(snr_db, 1))
