"""Room reverberation from a precomputed bank of room impulse responses (pyroomacoustics).

Simulating one RIR costs 10 ms-1.3 s, so `build_rir_bank` makes a few hundred once and
`reverb` only convolves. Each RIR is cut to start at its direct-path peak, so the reverberant
speech is not delayed and word times are unchanged.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.signal import fftconvolve

from model.data.augment.clip import SAMPLE_RATE, Clip, rms


def simulate_rir(rng: np.random.Generator) -> tuple[np.ndarray, float]:
    import pyroomacoustics as pra

    room_dim = rng.uniform([3.0, 3.0, 2.4], [10.0, 8.0, 4.0])
    rt60 = float(rng.uniform(0.15, 0.9))
    absorption, max_order = pra.inverse_sabine(rt60, room_dim)
    room = pra.ShoeBox(room_dim, fs=SAMPLE_RATE, materials=pra.Material(absorption),
                       max_order=min(max_order, 17))
    margin = 0.5
    room.add_source(rng.uniform(margin, room_dim - margin))
    room.add_microphone(rng.uniform(margin, room_dim - margin))
    room.compute_rir()
    rir = np.asarray(room.rir[0][0], dtype=np.float32)
    rir = rir[int(np.argmax(np.abs(rir))):]  # direct path at sample 0: no delay
    return rir[: SAMPLE_RATE] / np.abs(rir).max(), rt60


def build_rir_bank(path: Path, count: int = 200, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    rirs, rt60s = zip(*(simulate_rir(rng) for _ in range(count)), strict=True)
    lengths = np.array([len(r) for r in rirs])
    flat = np.concatenate(rirs)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, flat=flat, lengths=lengths, rt60=np.array(rt60s))


class RirBank:
    def __init__(self, path: Path) -> None:
        data = np.load(path)
        flat = data["flat"]  # each data[...] access re-reads the npz member: read once
        offsets = np.concatenate([[0], np.cumsum(data["lengths"])])
        self.rirs = [flat[a:b] for a, b in zip(offsets[:-1], offsets[1:], strict=True)]
        self.rt60 = data["rt60"]

    def reverb(self, clip: Clip, rng: np.random.Generator) -> Clip:
        i = int(rng.integers(len(self.rirs)))
        wet = fftconvolve(clip.audio, self.rirs[i])[: len(clip.audio)]
        wet *= rms(clip.audio) / rms(wet)
        return clip.with_audio(wet, rt60=round(float(self.rt60[i]), 2))
