"""Shard writing/reading, the real-recordings loader, reverb timing and builder resumability."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from model.data.augment import Clip
from model.data.example import Example, TimedWord
from model.data.real_train import TRAIN_REAL, iter_real_train
from model.data.shards import ShardWriter, iter_examples, shard_dir


def test_shard_round_trip(tmp_path: Path) -> None:
    audio = (0.1 * np.sin(np.arange(16000) / 10)).astype(np.float32)
    words = [TimedWord("Hello", 0.1, 0.4), TimedWord("world.", 0.5, 0.9)]
    writer = ShardWriter(shard_dir(tmp_path, "train", 0))
    writer.add(Example("ex0", audio, "Hello world.", words, {"voice": "test"}))
    assert not shard_dir(tmp_path, "train", 0).exists()  # only complete shards are visible
    writer.close()
    (ex,) = list(iter_examples(tmp_path, "train"))
    assert ex.text == "Hello world." and ex.words == words and ex.meta == {"voice": "test"}
    assert np.abs(ex.audio - audio).max() < 1e-4 and ex.duration_s == pytest.approx(1.0)


@pytest.mark.skipif(not (TRAIN_REAL / "manifest.jsonl").exists(), reason="no train-real")
def test_real_train_loader() -> None:
    ex = next(iter_real_train())
    assert ex.words is None and ex.audio.dtype == np.float32 and ex.audio.ndim == 1
    assert ex.meta["prompt"].isupper() and ex.text.lower() == ex.meta["prompt"].lower()
    assert ex.text[0].isupper() and ex.text != ex.meta["prompt"]  # sentence case
    assert 0.5 < ex.duration_s < 30


def test_reverb_keeps_onset(tmp_path: Path) -> None:
    pytest.importorskip("pyroomacoustics")
    from model.data.augment.reverb import RirBank, build_rir_bank

    build_rir_bank(tmp_path / "rirs.npz", count=3)
    bank = RirBank(tmp_path / "rirs.npz")
    audio = np.zeros(16000, np.float32)
    audio[8000:8800] = np.sin(np.arange(800) / 3)
    clip = bank.reverb(Clip(audio, [TimedWord("a", 0.5, 0.55)]), np.random.default_rng(0))
    onset = np.flatnonzero(np.abs(clip.audio) > 0.05 * np.abs(clip.audio).max())[0] / 16000
    assert onset == pytest.approx(0.5, abs=0.005) and clip.words[0].start_s == 0.5


def test_builder_writes_and_skips_finished_shards(tmp_path: Path) -> None:
    from model.data.build import HELDOUT_VOICE, build_shard
    from model.data.tts import available_voices

    if HELDOUT_VOICE not in available_voices():
        pytest.skip("flite not installed")
    (tmp_path / "text").mkdir()
    (tmp_path / "text" / "sentences-heldout.tsv").write_text(
        "brown\tThe jury praised the city for the way it ran the election.\n"
        "genesis\tAnd the earth was without form, and void.\n"
    )
    seconds = build_shard(tmp_path, "heldout", 0, seed=0, shard_seconds=3.0)
    assert seconds >= 3.0
    examples = list(iter_examples(tmp_path, "heldout"))
    assert examples and all(ex.meta["voice"] == HELDOUT_VOICE for ex in examples)
    assert build_shard(tmp_path, "heldout", 0, seed=0, shard_seconds=3.0) == 0.0  # resumable
