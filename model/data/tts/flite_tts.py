"""flite voices (Debian `flite`): kal16, awb, rms, slt.

Word timings: `-psdur` prints each phone's end time; `t2p WORD` gives each word's phones,
which `phone_align` maps onto the printed sequence.
"""

from __future__ import annotations

import functools
import re
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from model.data.example import TimedWord
from model.data.tts.audio_ops import to_16k
from model.data.tts.phone_align import align_words_to_phones
from model.data.words import bare_word

VOICES = ("kal16", "awb", "rms", "slt")


@functools.lru_cache(maxsize=200_000)
def word_phones(word: str) -> tuple[str, ...]:
    """Phones flite says for one word alone, stress digits and pauses dropped."""
    out = subprocess.run(["t2p", word], capture_output=True, text=True, check=True).stdout
    return tuple(re.sub(r"\d", "", p) for p in out.split() if p != "pau")


def _parse_psdur(stdout: str) -> list[tuple[str, float, float]]:
    timed: list[tuple[str, float, float]] = []
    prev = 0.0
    for item in stdout.split():
        phone, _, end = item.rpartition(":")
        end_s = float(end)
        timed.append((phone, prev, end_s))
        prev = end_s
    return timed


def synthesize(
    text: str, voice: str, rng: np.random.Generator
) -> tuple[np.ndarray, list[TimedWord]]:
    stretch = float(rng.uniform(0.85, 1.25))  # >1 is slower
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "out.wav"
        result = subprocess.run(
            ["flite", "-voice", voice, "-psdur", "--setf", f"duration_stretch={stretch:.3f}",
             "-t", text, "-o", str(wav)],
            capture_output=True, text=True, check=True,
        )
        audio, rate = sf.read(wav, dtype="float32")
    timed = [t for t in _parse_psdur(result.stdout) if t[0] != "pau"]
    words = text.split()
    spans = align_words_to_phones([word_phones(bare_word(w)) for w in words], timed)
    audio16 = to_16k(audio, rate)
    return audio16, [TimedWord(w, s, e) for w, (s, e) in zip(words, spans, strict=True)]


def params_note() -> str:
    return "duration_stretch U(0.85,1.25)"
