"""Examples -> padded training batches (mel features, input ids, labels, delays)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ..constants import ALLOWED_DELAYS_MS, SAMPLES_PER_STEP
from ..data.example import Example
from ..frontend import log_mel
from ..offline import pad_audio
from ..tokenizer import TextTokenizer
from .targets import aligned_sequence


@dataclass
class Batch:
    mel: torch.Tensor  # (B, n_mels, 8 * N)
    input_ids: torch.Tensor  # (B, N)
    labels: torch.Tensor  # (B, N), -100 where not trained
    n_delay: torch.Tensor  # (B,)

    @property
    def n_label_tokens(self) -> int:
        return int((self.labels != -100).sum())


def draw_delay(rng: random.Random, delays: Sequence[int] = ALLOWED_DELAYS_MS) -> int:
    return rng.choice(list(delays))


def make_batch(examples: Sequence[Example], tokenizer: TextTokenizer,
               delays_ms: Sequence[int], n_mels: int = 128) -> Batch:
    """Each example padded exactly as at inference (left pad, right pad for its delay), then
    right-padded with zeros / ignored labels to the longest in the batch. Causality makes
    the trailing padding invisible to the real positions."""
    signals, sequences = [], []
    for ex, delay_ms in zip(examples, delays_ms, strict=True):
        seq_audio = pad_audio(ex.audio, delay_ms // 80)
        n_positions = len(seq_audio) // SAMPLES_PER_STEP
        try:
            sequences.append(aligned_sequence(tokenizer, ex.words, n_positions, delay_ms))
        except ValueError:
            continue  # more tokens than steps (fast speech, tiny vocabulary): cannot stream
        signals.append(seq_audio)
    if not signals:
        raise ValueError("no example in the batch fits its token schedule")
    longest = max(len(s) for s in signals)
    audio = torch.zeros(len(signals), longest)
    for i, s in enumerate(signals):
        audio[i, : len(s)] = torch.from_numpy(s)
    n = longest // SAMPLES_PER_STEP
    input_ids = torch.full((len(signals), n), 32, dtype=torch.long)
    labels = torch.full((len(signals), n), -100, dtype=torch.long)
    for i, seq in enumerate(sequences):
        input_ids[i, : len(seq.input_ids)] = torch.tensor(seq.input_ids)
        labels[i, : len(seq.labels)] = torch.tensor(seq.labels)
    n_delay = torch.tensor([s.n_delay for s in sequences], dtype=torch.float32)
    return Batch(log_mel(audio, n_mels), input_ids, labels, n_delay)
