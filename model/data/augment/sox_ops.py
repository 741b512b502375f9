"""Run audio through the `sox` command line (Debian `sox libsox-fmt-all`)."""

from __future__ import annotations

import subprocess

import numpy as np

from model.data.augment.clip import SAMPLE_RATE


def run_sox(audio: np.ndarray, effects: list[str], rate: int = SAMPLE_RATE) -> np.ndarray:
    """Raw float32 mono in, sox effects, raw float32 mono out at the same rate."""
    fmt = ["-t", "f32", "-r", str(rate), "-c", "1"]
    result = subprocess.run(
        ["sox", *fmt, "-", *fmt, "-", *effects],
        input=np.asarray(audio, np.float32).tobytes(), capture_output=True, check=True,
    )
    return np.frombuffer(result.stdout, dtype=np.float32).copy()
