"""SpecAugment-style masking of cached encoder frames (Park et al. 2019, on the encoder's
output instead of the mel input).

The decoder stage trains on frames cached once per example, so without this every pass over
the data shows the decoder the very same frames and it learns them by heart (session 6:
training loss halved while real dev WER rose). Zeroing random time spans and channels makes
each pass different and teaches the decoder to read words from partial evidence. Zero is
also what a text-only row's frames are, so a masked span reads as "no audio here".
"""

from __future__ import annotations

import torch

MAX_SPAN_FRAMES = 10  # 200 ms at 50 frames per second: about a syllable
MAX_CHANNEL_SHARE = 0.1


def mask_frames(frames: torch.Tensor, time_ratio: float, channel_masks: int,
                generator: torch.Generator) -> torch.Tensor:
    """A copy of `frames` (B, T, D) with about `time_ratio` of each row's time steps zeroed in
    spans of 1..MAX_SPAN_FRAMES, and `channel_masks` bands of up to a tenth of D zeroed per row."""
    batch, n_frames, dim = frames.shape
    keep = torch.ones(batch, n_frames, dim, dtype=torch.bool)
    mean_span = (1 + MAX_SPAN_FRAMES) / 2
    n_spans = int(round(time_ratio * n_frames / mean_span))
    for row in range(batch):
        if n_spans:
            starts = torch.randint(0, n_frames, (n_spans,), generator=generator)
            widths = torch.randint(1, MAX_SPAN_FRAMES + 1, (n_spans,), generator=generator)
            for start, width in zip(starts.tolist(), widths.tolist(), strict=True):
                keep[row, start : start + width] = False
        for _ in range(channel_masks):
            width = int(torch.randint(0, int(dim * MAX_CHANNEL_SHARE) + 1, (1,),
                                      generator=generator))
            start = int(torch.randint(0, dim - width + 1, (1,), generator=generator))
            keep[row, :, start : start + width] = False
    return frames * keep
