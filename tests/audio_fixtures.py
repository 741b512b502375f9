"""Real speech for tests, from the shared development set (read-only, never trained on)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile as sf

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
EVAL_REAL = SHARED / "data" / "eval-real"


def eval_real_files() -> list[Path]:
    manifest = EVAL_REAL / "manifest.jsonl"
    rows = [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]
    return [EVAL_REAL / r["audio"] for r in rows]


def speech_clip(seconds: float | None = None, index: int = 0) -> np.ndarray:
    audio, sr = sf.read(eval_real_files()[index], dtype="float32")
    assert sr == 16000
    return audio if seconds is None else audio[: int(seconds * sr)]
