"""Join a dataset's utterances into long streams, for WER on long-form audio.

Live captions run for minutes, but evaluation sets hold single sentences of a few seconds,
shorter than the encoder's attention window: anything that only matters once a stream is
longer than the window (the window itself, cache rings) goes unmeasured. This writes
consecutive utterances, in dataset order, joined by a short silence into streams of about
`--seconds` each, plus a `manifest.jsonl` that `streamscribe eval` reads.

    python -m eval.long_form --dataset data/real-aligned/heldout/all.jsonl --out /tmp/long
    streamscribe eval --dataset /tmp/long/manifest.jsonl
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import soundfile as sf

from model.constants import SAMPLE_RATE

from .datasets import Utterance, load_dataset


def join_utterances(utterances: list[Utterance], out: Path, seconds: float,
                    gap_seconds: float) -> Path:
    """Write the streams as 16 kHz WAV files and return their manifest's path."""
    out.mkdir(parents=True, exist_ok=True)
    gap = np.zeros(round(gap_seconds * SAMPLE_RATE), np.float32)
    rows: list[dict[str, str]] = []
    audio: list[np.ndarray] = []
    texts: list[str] = []

    def flush() -> None:
        path = out / f"long-{len(rows):04d}.wav"
        sf.write(path, np.concatenate(audio), SAMPLE_RATE)
        rows.append({"id": path.stem, "audio": str(path.resolve()), "text": " ".join(texts)})
        audio.clear()
        texts.clear()

    for utt in utterances:
        audio += [utt.load_audio(), gap]
        texts.append(utt.text)
        if sum(len(a) for a in audio) >= seconds * SAMPLE_RATE:
            flush()
    if audio:
        flush()
    manifest = out / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", required=True, help="any dataset `streamscribe eval` reads")
    parser.add_argument("--format", help="force the dataset format")
    parser.add_argument("--out", required=True, type=Path, help="folder for streams + manifest")
    parser.add_argument("--seconds", type=float, default=60.0,
                        help="close a stream once it is this long (default 60)")
    parser.add_argument("--gap", type=float, default=0.6,
                        help="silence between utterances, seconds (default 0.6)")
    ns = parser.parse_args(argv)
    manifest = join_utterances(load_dataset(ns.dataset, ns.format), ns.out, ns.seconds, ns.gap)
    rows = manifest.read_text(encoding="utf-8").splitlines()
    print(f"{len(rows)} streams in {manifest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
