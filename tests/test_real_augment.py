"""Augmented copies of aligned real speech, and SpecAugment-style masks on cached frames."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from model.data.example import Example, TimedWord
from model.data.real_augment import copy_speed, main
from model.data.shards import ShardWriter, iter_examples, shard_dir
from model.training.frame_mask import MAX_SPAN_FRAMES, mask_frames
from tests.audio_fixtures import speech_clip

WORDS = [TimedWord("one", 0.5, 0.9), TimedWord("two", 1.0, 1.4), TimedWord("three", 1.6, 2.2)]


def _source_root(root: Path) -> Path:
    for split, index in (("train", 0), ("train", 1), ("heldout", 0)):
        writer = ShardWriter(shard_dir(root, split, index))
        for i in range(2):
            writer.add(Example(f"{split}{index}-{i}", speech_clip(3.0, index=i), "one two three",
                               WORDS, {"speaker": f"s{index}"}))
        writer.close()
    return root


def test_copies_keep_text_and_move_word_times_with_the_speed(tmp_path: Path) -> None:
    source = _source_root(tmp_path / "real")
    out = tmp_path / "aug"
    main(["--source", str(source), "--out", str(out), "--copies", "2"])
    copies = list(iter_examples(out, "train"))
    assert len(copies) == 2 * 2 * 2  # copies x train shards x examples
    assert not (out / "heldout").exists()  # held-out speakers stay unseen
    assert {e.id for e in copies} == {f"train{s}-{i}-aug{c}"
                                      for s in (0, 1) for i in (0, 1) for c in (0, 1)}
    for example in copies:
        copy = example.meta["copy"]
        speed = copy_speed(copy)
        assert example.meta["speed"] == speed and example.text == "one two three"
        # Audio length: the source played `speed` times faster, plus the added silences.
        silence = example.meta["lead_s"] + example.meta["trail_s"]
        assert abs(example.duration_s - (3.0 / speed + silence)) < 0.02
        for word, source_word in zip(example.words, WORDS, strict=True):
            expected = source_word.start_s / speed + example.meta["lead_s"]
            # meta rounds lead_s to 10 ms, the shard rounds times to 1 ms
            assert abs(word.start_s - expected) < 0.0065, (example.id, word, expected)
    # Resumable: finished shards are left alone.
    stamp = (shard_dir(out, "train", 0) / "index.jsonl").stat().st_mtime_ns
    main(["--source", str(source), "--out", str(out), "--copies", "2"])
    assert (shard_dir(out, "train", 0) / "index.jsonl").stat().st_mtime_ns == stamp
    record = json.loads((shard_dir(out, "train", 3) / "index.jsonl").read_text().splitlines()[0])
    assert record["meta"]["source_id"] == "train1-0"


def test_frame_masks_zero_about_the_asked_share_in_short_spans() -> None:
    frames = torch.randn(4, 2000, 64) + 5.0  # never zero by chance
    generator = torch.Generator().manual_seed(0)
    masked = mask_frames(frames, 0.1, 0, generator)
    dead_steps = (masked == 0).all(dim=2)
    share = dead_steps.float().mean().item()
    assert 0.06 < share < 0.12  # spans overlap, so a little under the asked 0.1
    assert not torch.equal(dead_steps[0], dead_steps[1])  # each row its own spans
    for row in dead_steps:  # runs of masked steps are short (overlaps can join two)
        runs = np.diff(np.flatnonzero(np.diff(np.r_[0, row.int().numpy(), 0])))[::2]
        assert runs.max() <= 3 * MAX_SPAN_FRAMES
    kept = ~dead_steps
    assert torch.equal(masked[kept], frames[kept])
    assert torch.equal(mask_frames(frames, 0.0, 0, generator), frames)


def test_channel_masks_zero_whole_channels_of_each_row() -> None:
    frames = torch.randn(3, 100, 200) + 5.0
    masked = mask_frames(frames, 0.0, 2, torch.Generator().manual_seed(1))
    dead_channels = (masked == 0).all(dim=1)  # (rows, channels)
    assert ((masked == 0).any(dim=1) == dead_channels).all()  # never part of a channel
    assert 0 < dead_channels.sum(dim=1).max() <= 2 * 20
