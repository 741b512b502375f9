"""Gain, leading/trailing silence and long-form concatenation."""

from __future__ import annotations

import numpy as np

from model.data.augment.clip import SAMPLE_RATE, Clip
from model.data.example import TimedWord


def gain(clip: Clip, db: float) -> Clip:
    audio = clip.audio * 10 ** (db / 20)
    peak = float(np.abs(audio).max(initial=0.0))
    if peak > 0.99:  # never clip: fall back to peak normalisation
        audio *= 0.99 / peak
    return clip.with_audio(audio, gain_db=round(db, 1))


def pad_silence(clip: Clip, lead_s: float, trail_s: float, rng: np.random.Generator) -> Clip:
    """Add near-silence (very low noise, not digital zero) before and after."""
    lead, trail = int(lead_s * SAMPLE_RATE), int(trail_s * SAMPLE_RATE)
    floor = 10 ** (rng.uniform(-80, -60) / 20)
    audio = np.concatenate([
        rng.standard_normal(lead).astype(np.float32) * floor, clip.audio,
        rng.standard_normal(trail).astype(np.float32) * floor,
    ])
    return clip.with_audio(audio, shift_s=lead / SAMPLE_RATE,
                           lead_s=round(lead_s, 2), trail_s=round(trail_s, 2))


def concatenate(clips: list[Clip], gaps_s: list[float]) -> Clip:
    """Long-form audio: clips one after another with the given pauses between them."""
    parts: list[np.ndarray] = []
    words: list[TimedWord] = []
    offset = 0
    for i, clip in enumerate(clips):
        t0 = offset / SAMPLE_RATE
        words += [TimedWord(w.word, w.start_s + t0, w.end_s + t0) for w in clip.words]
        parts.append(clip.audio)
        offset += len(clip.audio)
        if i < len(gaps_s):
            gap = int(gaps_s[i] * SAMPLE_RATE)
            parts.append(np.zeros(gap, np.float32))
            offset += gap
    return Clip(np.concatenate(parts).astype(np.float32), words,
                {"concat": [c.meta for c in clips]})
