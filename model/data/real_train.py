"""The real training recordings (shared/data/train-real, speechocean762) as Examples.

Prompts are upper case without punctuation and there are no word timings (words=None).
`text_style="sentence"` lower-cases them with a capital first letter, closer to the cased
synthetic targets; the original stays in meta["prompt"].
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from model.data.example import SAMPLE_RATE, Example
from model.data.shared_paths import TRAIN_REAL


def _restyle(prompt: str, style: str) -> str:
    if style == "upper":
        return prompt
    text = prompt.lower()
    text = " ".join("I" if w == "i" else w for w in text.split())
    return text[:1].upper() + text[1:]


def iter_real_train(root: Path = TRAIN_REAL, text_style: str = "sentence") -> Iterator[Example]:
    with open(root / "manifest.jsonl", encoding="utf-8") as f:
        records = [json.loads(line) for line in f if line.strip()]
    for r in records:
        audio, rate = sf.read(root / r["audio"], dtype="float32")
        if audio.ndim > 1:
            audio = audio.mean(axis=1)
        if rate != SAMPLE_RATE:
            audio = soxr.resample(audio, rate, SAMPLE_RATE).astype(np.float32)
        meta = {k: r[k] for k in ("speaker", "corpus", "age", "gender") if k in r}
        meta["prompt"] = r["text"]
        yield Example(r["id"], audio, _restyle(r["text"], text_style), None, meta)
