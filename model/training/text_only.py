"""Text-only training examples: sentences with made-up word timings and no audio.

The transcripts of a few hours of speech hold far fewer words than the text corpora the
speech is synthesised from (about 50k vs 3M words), so the decoder's language model sees
little text. A text-only example gives the decoder the same delayed-streams layout as a
speech example, but every encoder frame is zero; the adapter has no biases, so its audio
embedding is exactly zero and the decoder learns from the tokens alone. Real audio never
encodes to exactly zero, so the decoder can tell "no audio" from silence.

Only for the cached-frames stage (`feature_cache`), where examples are frames, not audio.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import torch

from ..constants import ENCODER_FRAMES_PER_STEP
from ..data.build import SentencePicker
from ..data.example import SAMPLE_RATE, TimedWord
from ..offline import padded_positions
from .feature_cache import LONGEST_DELAY_STEPS, CachedExample

# Word length -> duration, from read English at about 14 characters a second; each sentence
# draws its own rate so the decoder does not learn one fixed pace.
SECONDS_PER_CHAR = (0.055, 0.085)
WORD_GAP_S = (0.0, 0.08)
SENTENCE_GAP_S = (0.15, 1.2)  # as model.training.dataset.packed joins utterances


def read_sentences(path: str | Path) -> list[tuple[str, str]]:
    """(corpus, text) lines of a sentence TSV (model.data.text_sources.cached_sentences)."""
    with open(path, encoding="utf-8") as f:
        return [tuple(line.rstrip("\n").split("\t", 1)) for line in f  # type: ignore[misc]
                if "\t" in line]


def timed_words(sentences: list[str], rng: random.Random) -> tuple[list[TimedWord], float]:
    """Made-up word timings for sentences read one after another; returns them and the
    total duration in seconds."""
    words, t = [], 0.0
    for i, sentence in enumerate(sentences):
        if i:
            t += rng.uniform(*SENTENCE_GAP_S)
        rate = rng.uniform(*SECONDS_PER_CHAR)
        for word in sentence.split():
            duration = 0.08 + rate * len(word)
            words.append(TimedWord(word, round(t, 3), round(t + duration, 3)))
            t += duration + rng.uniform(*WORD_GAP_S)
    return words, t + 0.3


class TextOnlyPool:
    """Draws text-only CachedExamples of about `example_seconds` each (sentences joined like
    packed speech), corpus-weighted as the speech synthesis draws its sentences."""

    def __init__(self, sentences_tsv: str | Path, encoder_dim: int,
                 example_seconds: float = 20.0) -> None:
        sentences = read_sentences(sentences_tsv)
        if not sentences:
            raise ValueError(f"{sentences_tsv}: no sentences")
        self.texts = [text for _, text in sentences]
        self.picker = SentencePicker(sentences)
        self.encoder_dim = encoder_dim
        self.example_seconds = example_seconds

    def example(self, rng: random.Random) -> CachedExample:
        np_rng = np.random.default_rng(rng.getrandbits(32))
        timing_seed = rng.getrandbits(32)
        picked: list[str] = []
        while True:
            picked.append(self.texts[self.picker.pick(np_rng, 1)[0]])
            words, seconds = timed_words(picked, random.Random(timing_seed))
            if seconds > self.example_seconds and len(picked) > 1:
                picked.pop()  # one sentence too many: back to the last fitting length
                words, seconds = timed_words(picked, random.Random(timing_seed))
                break
            if seconds >= 0.75 * self.example_seconds:
                break
        n_samples = int(seconds * SAMPLE_RATE)
        n_frames = padded_positions(n_samples, LONGEST_DELAY_STEPS) * ENCODER_FRAMES_PER_STEP
        frames = torch.zeros(n_frames, self.encoder_dim, dtype=torch.bfloat16)
        return CachedExample(f"text-only-{rng.getrandbits(32):08x}", " ".join(picked), words,
                             n_samples, frames, text_only=True)

    def draw(self, rng: random.Random, batch_seconds: float) -> list[CachedExample]:
        batch, total = [], 0.0
        while total < batch_seconds:
            ex = self.example(rng)
            batch.append(ex)
            total += ex.duration_s
        return batch
