"""Build the synthetic training set: `python -m model.data.build --out data/synth --hours 5`.

Each shard is a deterministic function of (seed, split, shard index), written atomically,
so re-running the same command skips finished shards and continues (resumable). Splits:
- train: training texts, every voice except the held-out one, augmented;
- heldout: held-out texts (never trained on) read by the held-out voice (flite/rms), clean.
"""

from __future__ import annotations

import argparse
import logging
import math
import time
import zlib
from pathlib import Path

import numpy as np
from tqdm import tqdm

from model.data.augment.clip import Clip
from model.data.augment.level import concatenate
from model.data.augment.policy import AugmentPolicy
from model.data.example import Example
from model.data.processes import map_jobs
from model.data.shards import ShardWriter, shard_dir
from model.data.text_sources import cached_sentences
from model.data.tts import available_voices, synthesize

HELDOUT_VOICE = "flite/rms"
# Relative share of training audio per voice (piper is the only neural voice: most natural,
# but 12x real time; flite and espeak are fast).
TRAIN_VOICE_WEIGHTS = {
    "piper/joe": 0.25, "flite/kal16": 0.1, "flite/awb": 0.1, "flite/slt": 0.1,
    "festival/kal": 0.08, "festival/ked": 0.07, "festival/slt": 0.1, "espeak": 0.15,
}
# Share of training sentences per corpus. Movie reviews are a third of the sentences but
# lower-case (names too: "ivan reitman"), so they are capped to keep casing targets clean.
CORPUS_WEIGHTS = {
    "brown": 0.33, "abc": 0.17, "state_union": 0.13, "webtext": 0.1, "movie_reviews": 0.12,
    "inaugural": 0.08, "genesis": 0.07,
}
LONG_FORM_FRACTION = 0.1  # examples made of 2-5 sentences by one voice
log = logging.getLogger("model.data.build")


def _pick_voice(rng: np.random.Generator, voices: list[str]) -> str:
    weights = np.array([TRAIN_VOICE_WEIGHTS[v] for v in voices])
    return str(rng.choice(voices, p=weights / weights.sum()))


class SentencePicker:
    """Draws sentences corpus-first (CORPUS_WEIGHTS), then uniformly within the corpus."""

    def __init__(self, sentences: list[tuple[str, str]]) -> None:
        self.sentences = sentences
        by_corpus: dict[str, list[int]] = {}
        for i, (corpus, _) in enumerate(sentences):
            by_corpus.setdefault(corpus, []).append(i)
        self.corpora = sorted(by_corpus)
        self.indices = [np.array(by_corpus[c]) for c in self.corpora]
        weights = np.array([CORPUS_WEIGHTS.get(c, 0.05) for c in self.corpora])
        self.weights = weights / weights.sum()

    def pick(self, rng: np.random.Generator, count: int) -> list[int]:
        out = []
        for _ in range(count):
            pool = self.indices[int(rng.choice(len(self.corpora), p=self.weights))]
            out.append(int(pool[rng.integers(len(pool))]))
        return out


def _synthesize_clip(texts: list[str], voice: str, rng: np.random.Generator) -> Clip:
    clips = []
    for text in texts:
        audio, words = synthesize(text, voice, rng)
        meta = {"voice": voice}
        if voice == "espeak":
            from model.data.tts.espeak_tts import last_voice_name

            meta["espeak_voice"] = last_voice_name()
        clips.append(Clip(audio, words, meta))
    if len(clips) == 1:
        return clips[0]
    return concatenate(clips, [float(rng.uniform(0.15, 1.2)) for _ in clips[1:]])


def build_shard(out: Path, split: str, index: int, seed: int, shard_seconds: float) -> float:
    """Write one shard; returns its audio seconds (0 if it already existed)."""
    final = shard_dir(out, split, index)
    if final.exists():
        return 0.0
    rng = np.random.default_rng([seed, zlib.crc32(split.encode()), index])
    sentences = cached_sentences(split, out / "text")
    picker = SentencePicker(sentences)
    voices = [v for v in available_voices() if v in TRAIN_VOICE_WEIGHTS]
    policy = AugmentPolicy(out / "rir_bank.npz") if split == "train" else None
    writer = ShardWriter(final)
    n = 0
    while writer.seconds < shard_seconds:
        voice = HELDOUT_VOICE if split == "heldout" else _pick_voice(rng, voices)
        long_form = split == "train" and rng.random() < LONG_FORM_FRACTION
        picks = picker.pick(rng, int(rng.integers(2, 6)) if long_form else 1)
        texts = [sentences[i][1] for i in picks]
        try:
            clip = _synthesize_clip(texts, voice, rng)
            if policy is not None:
                clip = policy(clip, rng)
        except Exception:  # one bad sentence must not stop a multi-hour build
            log.exception("shard %d: failed on %r with %s", index, texts, voice)
            continue
        clip.meta.setdefault("voice", voice)
        clip.meta["corpus"] = [sentences[i][0] for i in picks]
        words = clip.words
        text = " ".join(w.word for w in words)
        writer.add(Example(f"{split}-{index:05d}-{n:04d}", clip.audio, text, words, clip.meta))
        n += 1
    writer.close()
    log.info("shard %s/%05d: %d examples, %.0f s", split, index, n, writer.seconds)
    return writer.seconds


def _build_shard_args(args: tuple[Path, str, int, int, float]) -> float:
    return build_shard(*args)


def build(out: Path, split: str, hours: float, seed: int, workers: int,
          shard_seconds: float) -> None:
    n_shards = math.ceil(hours * 3600 / shard_seconds)
    todo = [i for i in range(n_shards) if not shard_dir(out, split, i).exists()]
    log.info("%s: %d shards of %.0f s, %d to do", split, n_shards, shard_seconds, len(todo))
    cached_sentences(split, out / "text")  # build the text cache once, before forking
    jobs = [(out, split, i, seed, shard_seconds) for i in todo]
    start = time.time()
    total = 0.0
    with tqdm(total=len(todo), desc=split, unit="shard") as bar:
        for seconds in map_jobs(_build_shard_args, jobs, workers, ordered=False):
            total += seconds
            bar.update(1)
            speed = total / (time.time() - start)
            bar.set_postfix(audio_h=f"{total / 3600:.2f}", xRT=f"{speed:.1f}")
    log.info("%s done: %.2f h of audio in %.0f s", split, total / 3600, time.time() - start)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("data/synth"))
    p.add_argument("--hours", type=float, default=5.0, help="training audio to build")
    p.add_argument("--heldout-hours", type=float, default=0.2)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--shard-seconds", type=float, default=600.0)
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=[logging.FileHandler(args.out / "build-details.log")],
    )
    if args.heldout_hours > 0:
        build(args.out, "heldout", args.heldout_hours, args.seed, args.workers,
              min(args.shard_seconds, args.heldout_hours * 3600))
    build(args.out, "train", args.hours, args.seed, args.workers, args.shard_seconds)


if __name__ == "__main__":
    main()
