"""Frozen-encoder training: every training example's encoder frames, computed once.

On 2 CPU cores the audio encoder (50 Hz) and the Whisper teacher cost about three quarters
of a joint training step, while the decoder (12.5 Hz) is what still has to learn to read.
Once the encoder has been distilled from Whisper, freezing it lets each step skip both: the
frames of the left pad, the audio and the longest right pad are stored per example (the
encoder is causal, so a shorter right pad's frames are a prefix), and batches slice them for
the delay they draw. The cache is bound to the encoder weights it came from by a fingerprint,
and to the encoder's attention window.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from ..constants import ALLOWED_DELAYS_MS, ENCODER_FRAMES_PER_STEP, delay_steps
from ..data.example import SAMPLE_RATE, TimedWord
from ..data.shards import finished_shards
from ..frontend import log_mel
from ..offline import pad_audio, padded_positions
from ..voxtral import VoxtralRealtime
from .dataset import ExamplePool, shard_examples

LONGEST_DELAY_STEPS = delay_steps(max(ALLOWED_DELAYS_MS))


@dataclass
class CachedExample:
    id: str
    text: str
    words: list[TimedWord]
    n_samples: int
    frames: torch.Tensor  # (n_frames, encoder dim), bfloat16, for the longest right pad
    text_only: bool = False  # zero frames, made-up timings (model/training/text_only.py)

    @property
    def duration_s(self) -> float:
        return self.n_samples / SAMPLE_RATE

    def frames_for(self, n_delay: int) -> torch.Tensor:
        """The frames of the signal padded for `n_delay` (offline.pad_audio's length)."""
        return self.frames[: padded_positions(self.n_samples, n_delay) * ENCODER_FRAMES_PER_STEP]


def encoder_fingerprint(net: VoxtralRealtime) -> str:
    digest = hashlib.sha1()
    for name, tensor in sorted(net.encoder.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().float().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


@torch.inference_mode()
def example_frames(net: VoxtralRealtime, audio, n_delay: int = LONGEST_DELAY_STEPS
                   ) -> torch.Tensor:
    padded = torch.from_numpy(pad_audio(audio, n_delay))
    return net.encode_frames(log_mel(padded[None], net.n_mels))[0]


class FeatureCache:
    """`<cache>/manifest.json` (the encoder's fingerprint) and one `.pt` file per data shard,
    written atomically, so building resumes shard by shard and new shards are added later."""

    def __init__(self, directory: str | Path, net: VoxtralRealtime,
                 pack_seconds: float = 0.0) -> None:
        self.dir = Path(directory)
        self.net = net
        self.pack_seconds = pack_seconds
        # The window is not a weight but changes every frame past it (packed examples run 20 s).
        settings = {"encoder_fingerprint": encoder_fingerprint(net), "pack_seconds": pack_seconds,
                    "encoder_window": net.args.encoder.sliding_window}
        manifest = self.dir / "manifest.json"
        if manifest.exists():
            cached = json.loads(manifest.read_text())
            if cached != settings:
                what = "another encoder" if cached.get("encoder_fingerprint") != \
                    settings["encoder_fingerprint"] else "other settings"
                raise ValueError(f"{self.dir} holds frames of {what} ({cached}; asked for "
                                 f"{settings}): delete it or name a new feature_cache")
        else:
            self.dir.mkdir(parents=True, exist_ok=True)
            manifest.write_text(json.dumps(settings) + "\n")

    def shard_file(self, root: Path, split: str, shard: Path) -> Path:
        return self.dir / root.name / split / f"{shard.name}.pt"

    def build(self, roots: list[str] | list[Path], split: str, max_seconds: float) -> list[Path]:
        """Encode every finished shard not cached yet; returns all cached shard files."""
        todo, done = [], []
        for root in map(Path, roots):
            for shard in finished_shards(root, split):
                target = self.shard_file(root, split, shard)
                (done if target.exists() else todo).append((shard, target))
        for shard, target in tqdm(todo, desc=f"encoder frames ({split})", unit="shard",
                                  disable=not todo):
            examples = shard_examples(shard, max_seconds, self.pack_seconds)
            records = [{"id": ex.id, "text": ex.text, "words": [list(w) for w in ex.words],
                        "n_samples": len(ex.audio),
                        "frames": example_frames(self.net, ex.audio).to(torch.bfloat16)}
                       for ex in examples]
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(f".{os.getpid()}.tmp")  # two runs may share a cache
            torch.save(records, tmp)
            tmp.replace(target)
            done.append((shard, target))
        return [target for _, target in done]


def load_cached(files: list[Path]) -> list[CachedExample]:
    examples = []
    for f in files:
        for r in torch.load(f, weights_only=True):
            examples.append(CachedExample(r["id"], r["text"], [TimedWord(*w) for w in r["words"]],
                                          r["n_samples"], r["frames"]))
    return examples


class CachedPool(ExamplePool):
    """ExamplePool over cached frames: the same draw, and shards added later are encoded and
    loaded on reload."""

    def __init__(self, cache: FeatureCache, roots: list[str], max_seconds: float,
                 split: str = "train") -> None:
        super().__init__(roots, max_seconds, split, cache.pack_seconds)
        self.cache = cache

    def reload(self) -> int:
        files = [f for f in self.cache.build(self.roots, self.split, self.max_seconds)
                 if f not in self._loaded]
        added = load_cached(files)
        self._loaded.update(files)
        self.examples.extend(added)
        self._require_examples()
        return len(added)
