"""Every dataset layout `streamscribe eval` reads, on tiny fixtures generated in tmp_path."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from eval.datasets import (
    DatasetError,
    detect_format,
    load_audio,
    load_dataset,
    select,
)


def tone(seconds: float = 0.5, sr: int = 16000, freq: float = 440.0, channels: int = 1):
    t = np.arange(int(seconds * sr)) / sr
    x = (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.stack([x] * channels, axis=1) if channels > 1 else x


def write(path: Path, seconds: float = 0.5, sr: int = 16000, channels: int = 1,
          freq: float = 440.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), tone(seconds, sr, freq, channels), sr)
    return path


def test_librispeech_layout(tmp_path: Path) -> None:
    d = tmp_path / "LibriSpeech" / "test-clean" / "1089" / "134686"
    write(d / "1089-134686-0000.flac", 0.4)
    write(d / "1089-134686-0001.flac", 0.6)
    (d / "1089-134686.trans.txt").write_text(
        "1089-134686-0000 HE HOPED THERE WOULD BE STEW\n1089-134686-0001 STUFF IT INTO YOU\n"
    )
    root = tmp_path / "LibriSpeech" / "test-clean"
    assert detect_format(root) == "librispeech"
    utts = load_dataset(root)
    assert [u.id for u in utts] == ["1089-134686-0000", "1089-134686-0001"]
    assert utts[0].text == "HE HOPED THERE WOULD BE STEW"
    assert len(utts[1].load_audio()) == 9600


def test_our_jsonl_manifest_relative_paths(tmp_path: Path) -> None:
    write(tmp_path / "set" / "audio" / "a.wav")
    write(tmp_path / "set" / "audio" / "b.wav")
    rows = [{"id": "a", "audio": "audio/a.wav", "text": "Hello there.", "duration": 0.5},
            {"id": "b", "audio": "audio/b.wav", "text": "General Kenobi!"}]
    manifest = tmp_path / "set" / "manifest.jsonl"
    manifest.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    for path in (manifest, tmp_path / "set"):  # the file or its folder
        assert detect_format(path) == "jsonl"
        utts = load_dataset(path)
        assert [(u.id, u.text) for u in utts] == [("a", "Hello there."), ("b", "General Kenobi!")]
        assert utts[0].load_audio().dtype == np.float32


def test_training_data_shards(tmp_path: Path) -> None:
    from model.data.example import Example, TimedWord
    from model.data.shards import ShardWriter, shard_dir

    for index, text in enumerate(["Hello there.", "General Kenobi!"]):
        writer = ShardWriter(shard_dir(tmp_path, "heldout", index))
        writer.add(Example(f"ex{index}", tone(0.5), text, [TimedWord("x", 0.1, 0.2)], {}))
        writer.close()
    (tmp_path / "heldout" / "shard-00002.partial").mkdir()  # an unfinished shard is skipped
    split = tmp_path / "heldout"
    assert detect_format(split) == "shards"
    utts = load_dataset(split)
    assert [(u.id, u.text) for u in utts] == [("ex0", "Hello there."), ("ex1", "General Kenobi!")]
    assert len(utts[1].load_audio()) == 8000
    with pytest.raises(DatasetError, match="no shard"):
        load_dataset(tmp_path, fmt="shards")


def test_nemo_manifest(tmp_path: Path) -> None:
    abs_wav = write(tmp_path / "elsewhere" / "x.wav")
    write(tmp_path / "nemo" / "wavs" / "y.wav")
    manifest = tmp_path / "nemo" / "test_manifest.json"
    manifest.write_text(
        json.dumps({"audio_filepath": str(abs_wav), "text": "one", "duration": 0.5}) + "\n"
        + json.dumps({"audio_filepath": "wavs/y.wav", "text": "two", "duration": 0.5}) + "\n"
    )
    assert detect_format(manifest) == "jsonl"
    utts = load_dataset(manifest)
    assert [(u.id, u.text) for u in utts] == [("x", "one"), ("y", "two")]
    assert Path(utts[1].audio_path) == tmp_path / "nemo" / "wavs" / "y.wav"
    assert len(utts[1].load_audio()) == 8000


def test_common_voice_tsv(tmp_path: Path) -> None:
    cv = tmp_path / "cv-corpus" / "en"
    write(cv / "clips" / "common_voice_en_1.mp3", 0.5, sr=48000)
    write(cv / "clips" / "common_voice_en_2.mp3", 0.5, sr=48000)
    header = "client_id\tpath\tsentence_id\tsentence\tsentence_domain\tup_votes\tdown_votes\n"
    (cv / "test.tsv").write_text(
        header
        + "abc\tcommon_voice_en_1.mp3\ts1\tThe quick brown fox.\t\t2\t0\n"
        + "def\tcommon_voice_en_2.mp3\ts2\t\"Quoted,\" she said.\t\t2\t0\n"
    )
    assert detect_format(cv / "test.tsv") == "commonvoice"
    assert detect_format(cv) == "commonvoice"
    utts = load_dataset(cv)
    assert [u.id for u in utts] == ["common_voice_en_1", "common_voice_en_2"]
    assert utts[1].text == '"Quoted," she said.'
    audio = utts[0].load_audio()  # 48 kHz mp3 -> 16 kHz
    assert abs(len(audio) - 8000) < 1200


def test_fleurs_tsv(tmp_path: Path) -> None:
    en = tmp_path / "fleurs" / "en_us"
    write(en / "audio" / "test" / "10004088536354799741.wav", 0.5)
    write(en / "audio" / "test" / "1001.wav", 0.5)
    (en / "test.tsv").write_text(
        "1906\t10004088536354799741.wav\tThe Amazon River is the second longest river.\t"
        "the amazon river is the second longest river\tt h e | a m a z o n |\t8000\tMALE\n"
        "1907\t1001.wav\tIt's 5 km long.\tit's 5 km long\ti t ' s |\t8000\tFEMALE\n"
    )
    assert detect_format(en / "test.tsv") == "fleurs"
    assert detect_format(en) == "fleurs"
    utts = load_dataset(en / "test.tsv")
    assert utts[0].text == "The Amazon River is the second longest river."  # raw column
    assert utts[0].id == "1906-10004088536354799741"
    assert Path(utts[1].audio_path) == en / "audio" / "test" / "1001.wav"
    assert len(utts[1].load_audio()) == 8000


def test_folder_of_audio_with_txt(tmp_path: Path) -> None:
    d = tmp_path / "clips"
    write(d / "a.wav")
    (d / "a.txt").write_text("first clip\n")
    write(d / "sub" / "b.flac")
    (d / "sub" / "b.txt").write_text("second clip")
    write(d / "no_transcript.wav")
    assert detect_format(d) == "folder"
    utts = load_dataset(d)
    assert [(u.id, u.text) for u in utts] == [("a", "first clip"), ("sub/b", "second clip")]


def test_stereo_44k_is_mixed_down_and_resampled(tmp_path: Path) -> None:
    p = tmp_path / "s.wav"
    left = tone(1.0, 44100, 440.0)
    sf.write(str(p), np.stack([left, -left], axis=1), 44100)  # opposite phase: mono is ~0
    audio = load_audio(p)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert abs(len(audio) - 16000) <= 2
    assert np.abs(audio).max() < 1e-3
    write(tmp_path / "m.flac", 1.0, sr=8000, channels=2)
    assert abs(len(load_audio(tmp_path / "m.flac")) - 16000) <= 2


def test_limit_shuffle_seed(tmp_path: Path) -> None:
    d = tmp_path / "f"
    for i in range(6):
        write(d / f"u{i}.wav", 0.1)
        (d / f"u{i}.txt").write_text(f"utt {i}")
    all_ids = [u.id for u in load_dataset(d)]
    assert [u.id for u in load_dataset(d, limit=2)] == all_ids[:2]
    a = [u.id for u in load_dataset(d, shuffle=True, seed=3)]
    b = [u.id for u in load_dataset(d, shuffle=True, seed=3)]
    assert a == b and sorted(a) == sorted(all_ids) and a != all_ids
    assert [u.id for u in load_dataset(d, limit=3, shuffle=True, seed=3)] == a[:3]
    assert select(load_dataset(d), limit=0) == []


def test_forced_format_and_errors(tmp_path: Path) -> None:
    d = tmp_path / "f"
    write(d / "x.wav")
    (d / "x.txt").write_text("x")
    assert [u.id for u in load_dataset(d, fmt="folder")] == ["x"]
    with pytest.raises(DatasetError, match="no manifest"):
        load_dataset(d, fmt="jsonl")
    with pytest.raises(DatasetError, match="no such file"):
        load_dataset(tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DatasetError, match="--format"):
        detect_format(empty)
    with pytest.raises(DatasetError, match="unknown format"):
        load_dataset(d, fmt="kaldi")
    bad = tmp_path / "bad.tsv"
    bad.write_text("a\tb\n")
    with pytest.raises(DatasetError, match="neither Common Voice"):
        detect_format(bad)


@pytest.mark.skipif(importlib.util.find_spec("datasets") is not None,
                    reason="the `datasets` package is installed")
def test_hf_without_datasets_package_is_a_clear_error() -> None:
    with pytest.raises(DatasetError, match="optional package `datasets`"):
        load_dataset("hf:openslr/librispeech_asr:clean:test")


@pytest.mark.skipif(importlib.util.find_spec("datasets") is None,
                    reason="optional package `datasets` not installed")
def test_hf_save_to_disk_folder(tmp_path: Path) -> None:  # pragma: no cover - optional
    import datasets as hfd

    write(tmp_path / "a.wav", 0.5)
    ds = hfd.Dataset.from_dict({"audio": [str(tmp_path / "a.wav")], "text": ["hello"]})
    ds = ds.cast_column("audio", hfd.Audio(sampling_rate=16000))
    ds.save_to_disk(str(tmp_path / "hf"))
    assert detect_format(tmp_path / "hf") == "hf"
    utts = load_dataset(tmp_path / "hf")
    assert utts[0].text == "hello"
    assert len(utts[0].load_audio()) == 8000


def test_long_form_joins_utterances_in_order_with_gaps(tmp_path: Path) -> None:
    from eval.long_form import main

    d = tmp_path / "clips"
    for i, (name, seconds) in enumerate([("a", 1.0), ("b", 1.5), ("c", 0.5)]):
        write(d / f"{name}.wav", seconds=seconds, freq=300.0 + 100 * i)
        (d / f"{name}.txt").write_text(f"clip {name}")
    assert main(["--dataset", str(d), "--out", str(tmp_path / "long"), "--seconds", "2",
                 "--gap", "0.25"]) == 0
    streams = load_dataset(tmp_path / "long" / "manifest.jsonl")
    assert [u.text for u in streams] == ["clip a clip b", "clip c"]
    first = streams[0].load_audio()
    assert len(first) == int((1.0 + 0.25 + 1.5 + 0.25) * 16000)
    assert not first[16000:20000].any()  # the gap is silence
    assert np.allclose(first[:16000], tone(1.0, freq=300.0), atol=1e-4)
