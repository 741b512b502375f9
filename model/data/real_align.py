"""Word timings for the real training recordings (train-real has prompts but no timings):
`python -m model.data.real_align --out data/real-aligned`.

Whisper tiny.en (faster-whisper, the `peers` extra) transcribes each recording with word
timestamps; its words are matched to the prompt's words (difflib on bare words), matched
prompt words take Whisper's times and its cased, punctuated spelling, and unmatched ones are
spread evenly between their matched neighbours. Recordings where fewer than
`min_matched` of the prompt's words were heard are skipped: the reader probably did not
read the prompt. A few speakers form a `heldout` split (dev WER on real speech during
training; never the eval set). Shards are written atomically, so a re-run continues.
"""

from __future__ import annotations

import argparse
import difflib
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from tqdm import tqdm

from model.data.example import SAMPLE_RATE, Example, TimedWord
from model.data.processes import map_jobs
from model.data.real_train import iter_real_train
from model.data.shards import ShardWriter, iter_examples, shard_dir
from model.data.shared_paths import TRAIN_REAL
from model.data.words import bare_word

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

log = logging.getLogger(__name__)
SHARD_SIZE = 100


def is_heldout_speaker(speaker: str) -> bool:
    """About one speaker in sixteen, fixed by the speaker id."""
    return sum(map(ord, speaker)) % 16 == 0


def _spoken(word: str) -> str:
    """Bare word with digits read out: Whisper writes "3," where the prompt says THREE."""
    bare = bare_word(word.strip().strip(",."))
    if bare.isdigit() and len(bare) < 5:
        from num2words import num2words

        return num2words(int(bare))
    return bare


def align_words(prompt_words: list[str], heard: list[tuple[str, float, float]],
                duration_s: float) -> tuple[list[TimedWord], float]:
    """Prompt words with times from Whisper's (word, start, end) list; returns the words and
    the share of prompt words Whisper heard."""
    ours = [_spoken(w) for w in prompt_words]
    theirs = [_spoken(w) for w, _, _ in heard]
    times: list[tuple[str, float, float] | None] = [None] * len(prompt_words)
    matcher = difflib.SequenceMatcher(a=ours, b=theirs, autojunk=False)
    for block in matcher.get_matching_blocks():
        for k in range(block.size):
            times[block.a + k] = heard[block.b + k]
    matched = sum(t is not None for t in times) / max(1, len(times))
    words: list[TimedWord] = []
    for i, w in enumerate(prompt_words):
        t = times[i]
        if t is not None:
            # Whisper's casing and punctuation, unless it spelled the word otherwise ("3").
            same = bare_word(t[0].strip()) == bare_word(w)
            words.append(TimedWord(t[0].strip() if same else w, float(t[1]), float(t[2])))
            continue
        prev_end = words[-1].end_s if words else 0.0
        nxt = next((j for j in range(i + 1, len(times)) if times[j] is not None), None)
        next_start = times[nxt][1] if nxt is not None else duration_s
        gap = nxt - i if nxt is not None else len(times) - i
        step = max(0.0, next_start - prev_end) / (gap + 1)
        start = prev_end + step * 0.5
        words.append(TimedWord(w, start, min(duration_s, start + step)))
    return words, matched


def speech_onset_s(audio: np.ndarray, frame: int = 160) -> float:
    """First 10 ms frame louder than 10% of the recording's loudest frames (in RMS): Whisper
    tends to start the first word at 0.0 however long the leading silence is, and a word
    target placed before the word is spoken would teach the model to guess."""
    n = len(audio) // frame
    if n == 0:
        return 0.0
    rms = np.sqrt((audio[: n * frame].reshape(n, frame) ** 2).mean(axis=1) + 1e-12)
    loud = np.flatnonzero(rms > 0.1 * np.percentile(rms, 99))
    return float(loud[0] * frame / SAMPLE_RATE) if len(loud) else 0.0


def clamp_to_onset(words: list[TimedWord], onset_s: float) -> list[TimedWord]:
    """No word starts before the speech does (minus 50 ms of margin)."""
    floor = max(0.0, onset_s - 0.05)
    return [w._replace(start_s=max(w.start_s, floor), end_s=max(w.end_s, floor + 0.01))
            for w in words]


def _sentence_case(words: list[TimedWord]) -> list[TimedWord]:
    if words and words[0].word[:1].islower():
        words[0] = words[0]._replace(word=words[0].word[:1].upper() + words[0].word[1:])
    return words


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m model.data.real_align", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("data/real-aligned"),
                        help="shard root to write (train/ and heldout/; default: %(default)s)")
    parser.add_argument("--root", type=Path, default=TRAIN_REAL,
                        help="recordings with manifest.jsonl (default: shared train-real)")
    parser.add_argument("--min-matched", type=float, default=0.5,
                        help="skip recordings where Whisper heard less than this share of "
                             "the prompt's words (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=1,
                        help="CPU threads for each Whisper (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=1,
                        help="processes aligning whole shards in parallel, each with its own "
                             "Whisper (default: %(default)s; use one per free core)")
    parser.add_argument("--limit", type=int, default=None, help="first N recordings only")
    parser.add_argument("--measure-on", type=Path, metavar="SHARDS",
                        help="instead: measure the timing error against shards with known "
                             "word times (e.g. data/synth, held-out split) and print it")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    if args.measure_on:
        print(measure_timing_error(_load_whisper(args.threads), args.measure_on,
                                   args.limit or 40))
        return
    examples = list(iter_real_train(args.root))[: args.limit]
    splits: dict[str, list[Example]] = {"heldout": [], "train": []}
    for ex in examples:
        splits["heldout" if is_heldout_speaker(ex.meta["speaker"]) else "train"].append(ex)
    # Held-out speakers first, so a training run started meanwhile has its dev set early.
    jobs = [(items[start : start + SHARD_SIZE], shard_dir(args.out, name, index),
             args.min_matched, args.threads)
            for name, items in splits.items()
            for index, start in enumerate(range(0, len(items), SHARD_SIZE))]
    skipped = 0
    with tqdm(total=len(examples), desc="align", unit="utt") as bar:
        for (batch, *_), shard_skipped in zip(jobs, map_jobs(_align_shard, jobs, args.workers),
                                              strict=True):
            skipped += shard_skipped
            bar.update(len(batch))
    counters = {name: -(-len(items) // SHARD_SIZE) for name, items in splits.items()}
    log.info("done: %s shards, %d recordings skipped (prompt not heard)", counters, skipped)


_whisper: WhisperModel | None = None  # one per process, loaded on its first shard


def _load_whisper(threads: int) -> WhisperModel:
    from faster_whisper import WhisperModel

    from model.training.whisper_ct2 import tiny_en_path

    return WhisperModel(str(tiny_en_path().parent), device="cpu", compute_type="int8",
                        cpu_threads=threads)


def _align_shard(job: tuple[list[Example], Path, float, int]) -> int:
    batch, directory, min_matched, threads = job
    if directory.exists():
        return 0
    global _whisper
    if _whisper is None:
        _whisper = _load_whisper(threads)
    return _write_shard(_whisper, batch, directory, min_matched)


def whisper_words(whisper: WhisperModel, audio: np.ndarray) -> list[tuple[str, float, float]]:
    segments, _ = whisper.transcribe(audio, language="en", beam_size=1, word_timestamps=True,
                                     condition_on_previous_text=False)
    return [(w.word, w.start, w.end) for s in segments for w in (s.words or [])]


def measure_timing_error(whisper: WhisperModel, shards: Path, limit: int) -> dict[str, float]:
    """Word start error of this pipeline (Whisper times + onset clamp) against known times:
    exactly matched words only, since unmatched ones are interpolated."""
    errors = []
    for ex in list(iter_examples(shards, "heldout"))[:limit]:
        heard = whisper_words(whisper, ex.audio)
        words, _ = align_words([w.word for w in ex.words], heard, ex.duration_s)
        words = clamp_to_onset(words, speech_onset_s(ex.audio))
        heard_words = {_spoken(w) for w, _, _ in heard}
        errors += [ours.start_s - truth.start_s for ours, truth in zip(words, ex.words,
                                                                       strict=True)
                   if _spoken(truth.word) in heard_words]
    e = np.array(errors)
    return {"words": len(e), "median_abs_ms": round(1000 * float(np.median(np.abs(e))), 1),
            "p90_abs_ms": round(1000 * float(np.percentile(np.abs(e), 90)), 1),
            "mean_signed_ms": round(1000 * float(e.mean()), 1),
            "early_over_80ms": round(float((e < -0.08).mean()), 3)}


def _write_shard(whisper: WhisperModel, batch: list[Example], directory: Path,
                 min_matched: float) -> int:
    writer = ShardWriter(directory)
    skipped = 0
    for ex in batch:
        words, matched = align_words(ex.text.split(), whisper_words(whisper, ex.audio),
                                     ex.duration_s)
        if matched < min_matched:
            skipped += 1
            continue
        words = _sentence_case(clamp_to_onset(words, speech_onset_s(ex.audio)))
        writer.add(Example(ex.id, ex.audio, " ".join(w.word for w in words), words,
                           ex.meta | {"matched": round(matched, 3)}))
    writer.close()
    return skipped


if __name__ == "__main__":
    main()
