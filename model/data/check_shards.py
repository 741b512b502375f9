"""Sanity-check built shards with Whisper tiny.en: `python -m model.data.check_shards`.

Prints WER per voice (clean and augmented examples separately) and the median distance
between our word times and Whisper's, on a sample of examples. High WER for one voice or
augmentation means broken audio or text/audio mismatch, not just a hard voice.
"""

from __future__ import annotations

import argparse
import itertools
import re
from collections import defaultdict
from pathlib import Path

import jiwer
import numpy as np

from model.data.eval_exclusion import match_key
from model.data.shards import iter_examples
from model.data.timing_check import matched_errors, whisper_model, whisper_words


def _norm(text: str) -> str:
    """Both sides in spoken form (Whisper writes "1984"; we write "nineteen eighty-four")."""
    return re.sub(r"'", "", match_key(text))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--root", type=Path, default=Path("data/synth"))
    p.add_argument("--split", default="train")
    p.add_argument("--examples", type=int, default=60)
    args = p.parse_args()
    model = whisper_model()
    refs: dict[str, list[str]] = defaultdict(list)
    hyps: dict[str, list[str]] = defaultdict(list)
    errors: dict[str, list[float]] = defaultdict(list)
    for ex in itertools.islice(iter_examples(args.root, args.split), args.examples):
        augmented = any(k in ex.meta for k in ("speed", "noise", "rt60", "codec", "band",
                                                "babble_talkers", "pitch_cents", "vtlp_alpha"))
        key = f"{ex.meta.get('voice')} {'aug' if augmented else 'clean'}"
        heard = whisper_words(model, ex.audio)
        refs[key].append(_norm(ex.text))
        hyps[key].append(_norm(" ".join(w for w, _, _ in heard)) or "-")
        if ex.words:
            errors[key] += matched_errors(heard, ex.words)
    print("| voice | n | WER % | word-time diff to Whisper ms (median) |")
    print("|---|---|---|---|")
    for key in sorted(refs):
        wer = 100 * jiwer.wer(refs[key], hyps[key])
        med = 1000 * float(np.median(errors[key])) if errors[key] else float("nan")
        print(f"| {key} | {len(refs[key])} | {wer:.1f} | {med:.0f} |", flush=True)


if __name__ == "__main__":
    main()
