"""Augmentations that keep word timings right. Each takes and returns a `Clip`
(16 kHz float32 audio + TimedWord list) and records what it did in `clip.meta`."""

from model.data.augment.clip import Clip

__all__ = ["Clip"]
