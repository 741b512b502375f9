"""Examples -> padded training batches (mel features, input ids, labels, delays)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ..constants import (
    ALLOWED_DELAYS_MS,
    ENCODER_FRAMES_PER_STEP,
    N_LEFT_PAD_STEPS,
    SAMPLES_PER_STEP,
    STREAMING_PAD_ID,
)
from ..data.example import Example
from ..frontend import log_mel
from ..offline import pad_audio
from ..tokenizer import TextTokenizer
from .feature_cache import CachedExample
from .targets import AlignedSequence, aligned_sequence


@dataclass
class Batch:
    input_ids: torch.Tensor  # (B, N)
    labels: torch.Tensor  # (B, N), -100 where not trained
    n_delay: torch.Tensor  # (B,)
    mel: torch.Tensor | None = None  # (B, n_mels, 8 * N)
    frames: torch.Tensor | None = None  # (B, 4 * N, enc_dim): cached encoder frames instead
    speech_frames: torch.Tensor | None = None  # (B, 4 * N) bool: encoder frames of real audio
    text_only: torch.Tensor | None = None  # (B,) bool: rows without audio (no CTC)

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
    signals, sequences, audio_lengths = [], [], []
    for ex, delay_ms in zip(examples, delays_ms, strict=True):
        seq_audio = pad_audio(ex.audio, delay_ms // 80)
        sequence = _aligned_or_none(tokenizer, ex.words, len(seq_audio) // SAMPLES_PER_STEP,
                                    delay_ms)
        if sequence is not None:
            sequences.append(sequence)
            signals.append(torch.from_numpy(seq_audio))
            audio_lengths.append(len(ex.audio))
    audio = _stack_padded(signals, "no example in the batch fits its token schedule")
    n = audio.shape[1] // SAMPLES_PER_STEP
    # Encoder frames (20 ms) holding real audio: after the left pad, up to the audio's end.
    frame_samples = SAMPLES_PER_STEP // ENCODER_FRAMES_PER_STEP
    index = torch.arange(n * ENCODER_FRAMES_PER_STEP)
    first = N_LEFT_PAD_STEPS * ENCODER_FRAMES_PER_STEP
    ends = torch.tensor([first - (-length // frame_samples) for length in audio_lengths])
    speech = (index[None] >= first) & (index[None] < ends[:, None])
    return _with_tokens(sequences, n, mel=log_mel(audio, n_mels), speech_frames=speech)


def make_cached_batch(examples: Sequence[CachedExample], tokenizer: TextTokenizer,
                      delays_ms: Sequence[int]) -> Batch:
    """make_batch over cached encoder frames: the same positions, labels and padding."""
    frames, sequences, text_only = [], [], []
    for ex, delay_ms in zip(examples, delays_ms, strict=True):
        sliced = ex.frames_for(delay_ms // 80)
        sequence = _aligned_or_none(tokenizer, ex.words,
                                    len(sliced) // ENCODER_FRAMES_PER_STEP, delay_ms)
        if sequence is not None:
            sequences.append(sequence)
            frames.append(sliced)
            text_only.append(ex.text_only)
    stacked = _stack_padded(frames, "no example in the batch fits its token schedule")
    return _with_tokens(sequences, stacked.shape[1] // ENCODER_FRAMES_PER_STEP, frames=stacked,
                        text_only=torch.tensor(text_only))


def _aligned_or_none(tokenizer: TextTokenizer, words, n_positions: int, delay_ms: int
                     ) -> AlignedSequence | None:
    try:
        return aligned_sequence(tokenizer, words, n_positions, delay_ms)
    except ValueError:
        return None  # more tokens than steps (fast speech, tiny vocabulary): cannot stream


def _stack_padded(items: list[torch.Tensor], empty_message: str) -> torch.Tensor:
    """(len, ...) tensors -> (B, longest, ...), zeros after each one's end."""
    if not items:
        raise ValueError(empty_message)
    out = items[0].new_zeros((len(items), max(len(x) for x in items), *items[0].shape[1:]))
    for i, x in enumerate(items):
        out[i, : len(x)] = x
    return out


def _with_tokens(sequences: list[AlignedSequence], n: int, **features: torch.Tensor) -> Batch:
    input_ids = torch.full((len(sequences), n), STREAMING_PAD_ID, dtype=torch.long)
    labels = torch.full((len(sequences), n), -100, dtype=torch.long)
    for i, seq in enumerate(sequences):
        input_ids[i, : len(seq.input_ids)] = torch.tensor(seq.input_ids)
        labels[i, : len(seq.labels)] = torch.tensor(seq.labels)
    n_delay = torch.tensor([s.n_delay for s in sequences], dtype=torch.float32)
    return Batch(input_ids, labels, n_delay, **features)
