"""Training examples in memory, drawn into batches of about `batch_seconds` of audio."""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from pathlib import Path

from ..data.augment.clip import Clip
from ..data.augment.level import concatenate
from ..data.example import Example
from ..data.shards import finished_shards, read_shard

log = logging.getLogger(__name__)


class ExamplePool:
    """Every finished shard of the given roots' `train` split, reloaded on demand so a run
    can start while the data builder is still writing shards."""

    def __init__(self, roots: list[str], max_seconds: float, split: str = "train",
                 pack_seconds: float = 0.0) -> None:
        self.roots = [Path(r) for r in roots]
        self.max_seconds = max_seconds
        self.split = split
        self.pack_seconds = pack_seconds
        self.examples: list = []  # Example, or CachedExample in CachedPool
        self._loaded: set[Path] = set()

    def reload(self) -> int:
        added = 0
        for root in self.roots:
            for shard in finished_shards(root, self.split):
                if shard in self._loaded:
                    continue
                self._loaded.add(shard)
                examples = shard_examples(shard, self.max_seconds, self.pack_seconds)
                self.examples.extend(examples)
                added += len(examples)
        self._require_examples()
        return added

    def _require_examples(self) -> None:
        if not self.examples:
            raise RuntimeError(f"no {self.split} examples under {', '.join(map(str, self.roots))}")

    @property
    def hours(self) -> float:
        return sum(e.duration_s for e in self.examples) / 3600

    def draw(self, rng: random.Random, batch_seconds: float) -> list:
        """Examples of similar length (less padding): a random anchor, then neighbours."""
        anchor = rng.choice(self.examples).duration_s
        near = [e for e in rng.sample(self.examples, min(len(self.examples), 256))
                if 0.6 * anchor <= e.duration_s <= 1.4 * anchor + 1]
        batch, total = [], 0.0
        for e in near:
            if batch and total + e.duration_s > batch_seconds:
                break
            batch.append(e)
            total += e.duration_s
        return batch


def shard_examples(shard: Path, max_seconds: float, pack_seconds: float = 0.0
                   ) -> list[Example]:
    """A shard's examples with word timings and at most `max_seconds` long, packed (in a
    fixed order per shard) when `pack_seconds` is set."""
    examples = [ex for ex in read_shard(shard) if ex.words and ex.duration_s <= max_seconds]
    if pack_seconds:
        examples = list(packed(examples, min(pack_seconds, max_seconds),
                               random.Random(str(shard))))
    return examples


def packed(examples: list[Example], target_seconds: float, rng: random.Random
           ) -> Iterator[Example]:
    """Consecutive examples joined with 0.15-1.2 s pauses into examples of up to
    `target_seconds`. Each example carries 2.56 s of left pad and up to 3.3 s of right pad:
    on 3.6 s real utterances that is most of the compute, and joined speech is also what a
    live stream looks like."""
    group: list[Example] = []

    def flush() -> Example:
        if len(group) == 1:
            return group[0]
        clip = concatenate([Clip(e.audio, e.words) for e in group],
                           [rng.uniform(0.15, 1.2) for _ in group[1:]])
        return Example("+".join(e.id for e in group), clip.audio,
                       " ".join(e.text for e in group), clip.words, {"packed": len(group)})

    seconds = 0.0
    for ex in examples:
        if group and seconds + 1.2 + ex.duration_s > target_seconds:
            yield flush()
            group, seconds = [], 0.0
        group.append(ex)
        seconds += ex.duration_s + (1.2 if len(group) > 1 else 0.0)
    if group:
        yield flush()
