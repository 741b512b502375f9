"""The random augmentation chain used by the dataset builder (probabilities in one place)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from model.data.augment import codecs, level, noise, tempo
from model.data.augment.clip import Clip, rms
from model.data.augment.reverb import RirBank, build_rir_bank

TARGET_RMS_DB = -25.0


class AugmentPolicy:
    """`policy(clip, rng)` applies a random subset; `clean_fraction` of clips only get
    level and silence changes. `speed_probability` 0 leaves speed to the caller (real speech
    gets one fixed factor per copy, Kaldi style)."""

    def __init__(self, rir_path: Path, clean_fraction: float = 0.15,
                 speed_probability: float = 0.5) -> None:
        if not rir_path.exists():
            build_rir_bank(rir_path)
        self.rirs = RirBank(rir_path)
        self.babble = noise.BabblePool()
        self.clean_fraction = clean_fraction
        self.speed_probability = speed_probability

    def __call__(self, clip: Clip, rng: np.random.Generator) -> Clip:
        self.babble.remember(clip.audio, rng)
        if rng.random() >= self.clean_fraction:
            clip = self._degrade(clip, rng)
        clip = clip.with_audio(clip.audio * 10 ** (TARGET_RMS_DB / 20) / rms(clip.audio))
        clip = level.gain(clip, float(rng.uniform(-20, 8)))
        return level.pad_silence(clip, float(rng.uniform(0, 1.0)), float(rng.uniform(0, 1.0)),
                                 rng)

    def _degrade(self, clip: Clip, rng: np.random.Generator) -> Clip:
        if rng.random() < self.speed_probability:
            clip = tempo.speed(clip, float(rng.uniform(0.9, 1.15)))
        if rng.random() < 0.15:
            clip = tempo.pitch(clip, float(rng.uniform(-300, 300)))
        elif rng.random() < 0.2:
            clip = tempo.vtlp(clip, float(rng.uniform(0.88, 1.12)))
        if rng.random() < 0.3:
            clip = self.rirs.reverb(clip, rng)
        if rng.random() < 0.15 and self.babble.ready():
            clip = self.babble.add_babble(clip, rng, float(rng.uniform(5, 20)))
        if rng.random() < 0.4:
            clip = noise.add_coloured_noise(clip, rng, float(rng.uniform(5, 35)))
        if rng.random() < 0.08:
            clip = noise.add_hum(clip, rng, float(rng.uniform(10, 30)))
        if rng.random() < 0.2:
            if rng.random() < 0.3:
                low, high = float(rng.uniform(100, 400)), float(rng.uniform(3000, 7000))
                clip = codecs.band_limit(clip, low, high)
            else:
                clip = codecs.codec(clip, str(rng.choice(list(codecs.CODECS))))
        return clip
