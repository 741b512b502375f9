"""`streamscribe transcribe`: offline transcription of audio files with a local model."""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import soundfile as sf
import soxr

from .constants import ALLOWED_DELAYS_MS, DEFAULT_DELAY_MS, SAMPLE_RATE


def read_audio(path: str) -> np.ndarray:
    """Any file soundfile reads, mixed down to mono and resampled to 16 kHz."""
    audio, rate = sf.read(path, dtype="float32", always_2d=True)
    mono = audio.mean(axis=1)
    if rate != SAMPLE_RATE:
        mono = soxr.resample(mono, rate, SAMPLE_RATE).astype(np.float32)
    return mono


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="streamscribe transcribe",
        description="Transcribe audio files offline (the same computation as streaming, on the "
                    "whole file at once). Prints one line per file, or JSON with --json.")
    parser.add_argument("files", nargs="+", help="audio files (WAV, FLAC, Ogg, ...; any rate)")
    parser.add_argument("--model", help="checkpoint directory or Hugging Face repo id "
                        "(default: the embedded model)")
    parser.add_argument("--delay-ms", type=int, default=DEFAULT_DELAY_MS,
                        choices=ALLOWED_DELAYS_MS, metavar="MS",
                        help=f"streaming delay the model is conditioned on (default "
                             f"{DEFAULT_DELAY_MS}; 80..1200 in steps of 80, or 2400)")
    parser.add_argument("--json", action="store_true", help="print text and timed words as JSON")
    ns = parser.parse_args(argv)
    from . import load_model

    model = load_model(ns.model)
    status = 0
    for path in ns.files:
        try:
            result = model.transcribe(read_audio(path), delay_ms=ns.delay_ms)
        except (OSError, RuntimeError, ValueError) as e:  # unreadable file: say so, go on
            print(f"{path}: cannot transcribe: {e}", file=sys.stderr)
            status = 1
            continue
        if ns.json:
            words = [{"text": w.text, "start": w.start_s, "end": w.end_s} for w in result.words]
            print(json.dumps({"file": path, "text": result.text, "words": words}))
        else:
            print(f"{path}\t{result.text.strip()}")
    return status
