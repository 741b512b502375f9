"""Shard layout on disk: `<root>/<split>/shard-NNNNN/` holding one FLAC (PCM16, 16 kHz) per
example and `index.jsonl` with id, audio file, text, words [[word, start_s, end_s]...],
duration and metadata. A shard directory appears only when complete (written under a
temporary name, then renamed), which is what makes the builder resumable."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soundfile as sf

from model.data.example import SAMPLE_RATE, Example, TimedWord


def shard_dir(root: Path, split: str, index: int) -> Path:
    return root / split / f"shard-{index:05d}"


class ShardWriter:
    def __init__(self, final_dir: Path) -> None:
        self.final_dir = final_dir
        self.tmp_dir = final_dir.with_name(final_dir.name + ".partial")
        shutil.rmtree(self.tmp_dir, ignore_errors=True)
        self.tmp_dir.mkdir(parents=True)
        self.index = open(self.tmp_dir / "index.jsonl", "w", encoding="utf-8")  # noqa: SIM115
        self.seconds = 0.0

    def add(self, example: Example) -> None:
        name = f"{example.id}.flac"
        sf.write(self.tmp_dir / name, np.clip(example.audio, -1, 1), SAMPLE_RATE,
                 subtype="PCM_16")
        words = None if example.words is None else [
            [w.word, round(float(w.start_s), 3), round(float(w.end_s), 3)] for w in example.words
        ]
        record = {"id": example.id, "audio": name, "text": example.text, "words": words,
                  "duration": round(example.duration_s, 3), "meta": example.meta}
        self.index.write(json.dumps(record) + "\n")
        self.seconds += example.duration_s

    def close(self) -> None:
        self.index.close()
        self.tmp_dir.rename(self.final_dir)


def finished_shards(root: Path, split: str = "train") -> list[Path]:
    return sorted((root / split).glob("shard-?????"))


def read_shard(directory: Path) -> Iterator[Example]:
    """The examples of one finished shard, in order."""
    with open(directory / "index.jsonl", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            audio, _ = sf.read(directory / r["audio"], dtype="float32")
            words = None if r["words"] is None else [TimedWord(*w) for w in r["words"]]
            yield Example(r["id"], audio, r["text"], words, r.get("meta", {}))


def iter_examples(root: Path, split: str = "train") -> Iterator[Example]:
    """Every example of every finished shard of a split, in shard order."""
    for directory in finished_shards(root, split):
        yield from read_shard(directory)
