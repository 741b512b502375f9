"""Evaluation datasets: detect the layout of PATH, list utterances, load their audio.

Formats (``detect_format`` picks one; ``--format`` forces it):

- ``librispeech``: a folder tree with ``*.trans.txt`` files (``ID TEXT`` per line) and
  ``ID.flac`` beside each.
- ``jsonl``: a JSON-lines manifest (``.jsonl``/``.json``, or a folder holding
  ``manifest.jsonl``): ours (``audio``, ``text``, optional ``id``) or NeMo's
  (``audio_filepath``, ``text``). Relative audio paths resolve against the manifest's folder.
- ``commonvoice``: a Common Voice TSV with a header (``path``, ``sentence``); audio under
  ``clips/`` beside the TSV. A folder resolves to its ``test.tsv`` (else ``dev``, ``validated``).
- ``fleurs``: a FLEURS TSV, no header, columns: id, file name, raw transcription, normalised
  transcription, characters, number of samples, gender. The raw transcription is the
  reference (the Whisper normaliser handles case and punctuation). Audio is looked up in
  ``audio/SPLIT/``, ``SPLIT/`` and the TSV's folder, SPLIT being the TSV's stem.
- ``folder``: audio files with a same-name ``.txt`` transcript beside each.
- ``shards``: one split of our training data (``model.data``), a folder of
  ``shard-NNNNN/index.jsonl`` files, e.g. ``data/real-aligned/heldout``, the dev set.
- ``hf``: a Hugging Face ``datasets`` dataset, either ``hf:NAME[:CONFIG]:SPLIT`` (from the
  local cache / hub) or a folder written by ``save_to_disk``. Needs the optional
  ``datasets`` package.
"""

from __future__ import annotations

import csv
import io
import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

SAMPLE_RATE = 16000
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".opus", ".mp3", ".m4a", ".aiff", ".aif")
FORMATS = ("librispeech", "jsonl", "commonvoice", "fleurs", "folder", "shards", "hf")
_HF_TEXT_COLUMNS = (
    "text",
    "sentence",
    "raw_transcription",
    "transcription",
    "normalized_text",
    "transcript",
)


class DatasetError(ValueError):
    """PATH is not a dataset we can read (message says why)."""


@dataclass
class Utterance:
    """One evaluation item: reference text plus a way to get 16 kHz mono float32 audio."""

    id: str
    text: str
    audio_path: str | None = None
    _loader: Callable[[], np.ndarray] | None = field(default=None, repr=False, compare=False)

    def load_audio(self) -> np.ndarray:
        if self._loader is not None:
            return self._loader()
        if self.audio_path is None:
            raise DatasetError(f"utterance {self.id} has no audio")
        return load_audio(self.audio_path)


def to_mono_16k(data: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mix (frames, channels) or (frames,) audio down to mono and resample it to 16 kHz."""
    x = np.asarray(data, dtype=np.float32)
    if x.ndim == 2:
        x = x.mean(axis=1)
    if sample_rate != SAMPLE_RATE:
        import soxr

        x = soxr.resample(x, sample_rate, SAMPLE_RATE)
    return np.ascontiguousarray(x, dtype=np.float32)


def load_audio(source: str | Path | bytes) -> np.ndarray:
    """Read an audio file (or its bytes) with soundfile: mono float32 at 16 kHz."""
    import soundfile as sf

    f = io.BytesIO(source) if isinstance(source, bytes | bytearray) else str(source)
    data, sr = sf.read(f, dtype="float32", always_2d=True)
    return to_mono_16k(data, sr)


# --------------------------------------------------------------------------- detection


def _is_fleurs_row(row: list[str]) -> bool:
    return len(row) >= 6 and row[0].strip().isdigit() and row[5].strip().isdigit()


def _tsv_kind(path: Path) -> str | None:
    with open(path, encoding="utf-8", newline="") as f:
        first = f.readline().rstrip("\r\n").split("\t")
    if "path" in first and "sentence" in first:
        return "commonvoice"
    if _is_fleurs_row(first):
        return "fleurs"
    return None


def detect_format(path: str | Path) -> str:
    """Name the dataset format of PATH (one of ``FORMATS``) or raise ``DatasetError``."""
    spec = str(path)
    if spec.startswith("hf:"):
        return "hf"
    p = Path(path)
    if not p.exists():
        raise DatasetError(f"{path}: no such file or folder")
    if p.is_file():
        suffix = p.suffix.lower()
        if suffix in (".jsonl", ".json"):
            return "jsonl"
        if suffix == ".tsv":
            kind = _tsv_kind(p)
            if kind:
                return kind
            raise DatasetError(
                f"{p}: a TSV that is neither Common Voice (header with 'path' and 'sentence') "
                "nor FLEURS (no header; id, file name, raw text, normalised text, chars, "
                "samples, gender)"
            )
        if p.name.endswith(".trans.txt"):
            return "librispeech"
        raise DatasetError(f"{p}: unknown dataset file type (use --format)")
    # a folder
    if (p / "dataset_dict.json").exists() or (p / "state.json").exists():
        return "hf"
    if _shard_indexes(p):
        return "shards"
    if _find_manifest(p) is not None:
        return "jsonl"
    if _pick_tsv(p) is not None:
        return _tsv_kind(_pick_tsv(p)) or "commonvoice"
    if next(p.rglob("*.trans.txt"), None) is not None:
        return "librispeech"
    if any(a.with_suffix(".txt").exists() for a in _audio_files(p)):
        return "folder"
    raise DatasetError(
        f"{p}: found no *.trans.txt, manifest.jsonl, Common Voice/FLEURS TSV, or audio files "
        "with same-name .txt transcripts (use --format to force one)"
    )


def _find_manifest(folder: Path) -> Path | None:
    for name in ("manifest.jsonl", "manifest.json"):
        if (folder / name).is_file():
            return folder / name
    jsonls = sorted(folder.glob("*.jsonl"))
    return jsonls[0] if len(jsonls) == 1 else None


def _shard_indexes(folder: Path) -> list[Path]:
    return sorted(folder.glob("shard-?????/index.jsonl"))


def _pick_tsv(folder: Path) -> Path | None:
    for name in ("test.tsv", "dev.tsv", "validated.tsv", "train.tsv"):
        tsv = folder / name
        if tsv.is_file() and _tsv_kind(tsv):
            return tsv
    tsvs = [t for t in sorted(folder.glob("*.tsv")) if _tsv_kind(t)]
    return tsvs[0] if len(tsvs) == 1 else None


def _audio_files(folder: Path) -> list[Path]:
    return sorted(f for f in folder.rglob("*") if f.suffix.lower() in AUDIO_EXTENSIONS)


# --------------------------------------------------------------------------- readers


def read_librispeech(path: Path) -> list[Utterance]:
    files = [path] if path.is_file() else sorted(path.rglob("*.trans.txt"))
    out: list[Utterance] = []
    for trans in files:
        for line in trans.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            uid, _, text = line.strip().partition(" ")
            audio = trans.parent / f"{uid}.flac"
            if not audio.exists():
                alternatives = [trans.parent / f"{uid}{ext}" for ext in AUDIO_EXTENSIONS]
                audio = next((a for a in alternatives if a.exists()), audio)
            out.append(Utterance(uid, text.strip(), str(audio)))
    return out


def read_jsonl(path: Path) -> list[Utterance]:
    manifest = path if path.is_file() else _find_manifest(path)
    if manifest is None:
        raise DatasetError(f"{path}: no manifest.jsonl (or single *.jsonl) in this folder")
    out: list[Utterance] = []
    with open(manifest, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            row = json.loads(line)
            audio = row.get("audio", row.get("audio_filepath"))
            if audio is None or "text" not in row:
                raise DatasetError(
                    f"{manifest}:{n}: a row needs 'audio' (ours) or 'audio_filepath' (NeMo) "
                    "and 'text'"
                )
            audio_path = Path(audio)
            if not audio_path.is_absolute():
                audio_path = manifest.parent / audio_path
            uid = str(row.get("id", row.get("utt_id", audio_path.stem)))
            out.append(Utterance(uid, str(row["text"]), str(audio_path)))
    return out


def read_commonvoice(path: Path) -> list[Utterance]:
    tsv = path if path.is_file() else _pick_tsv(path)
    if tsv is None:
        raise DatasetError(f"{path}: no Common Voice TSV (test.tsv, dev.tsv, ...) here")
    out: list[Utterance] = []
    with open(tsv, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            clip = row["path"]
            audio = tsv.parent / "clips" / clip
            if not audio.exists() and (tsv.parent / clip).exists():
                audio = tsv.parent / clip
            out.append(Utterance(Path(clip).stem, row["sentence"] or "", str(audio)))
    return out


def read_fleurs(path: Path) -> list[Utterance]:
    tsv = path if path.is_file() else _pick_tsv(path)
    if tsv is None:
        raise DatasetError(f"{path}: no FLEURS TSV (test.tsv, dev.tsv, ...) here")
    split = tsv.stem
    roots = [tsv.parent / "audio" / split, tsv.parent / split, tsv.parent / "audio", tsv.parent]
    out: list[Utterance] = []
    with open(tsv, encoding="utf-8", newline="") as f:
        for row in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            if not row or not row[0].strip():
                continue
            if len(row) < 4:
                raise DatasetError(f"{tsv}: a FLEURS row needs at least 4 columns: {row!r}")
            fid, fname, raw = row[0], row[1], row[2]
            audio = next((r / fname for r in roots if (r / fname).exists()), roots[0] / fname)
            out.append(Utterance(f"{fid}-{Path(fname).stem}", raw, str(audio)))
    return out


def read_folder(path: Path) -> list[Utterance]:
    out: list[Utterance] = []
    for audio in _audio_files(path):
        txt = audio.with_suffix(".txt")
        if txt.exists():
            rel = audio.relative_to(path).with_suffix("")
            out.append(Utterance(str(rel), txt.read_text(encoding="utf-8").strip(), str(audio)))
    return out


def _hf_decoder(value: Any) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        v = value
        if isinstance(v, dict):
            if v.get("array") is not None:
                return to_mono_16k(np.asarray(v["array"]), int(v["sampling_rate"]))
            if v.get("bytes"):
                return load_audio(v["bytes"])
            if v.get("path"):
                return load_audio(v["path"])
        if isinstance(v, str):
            return load_audio(v)
        raise DatasetError(f"cannot read audio value of type {type(v).__name__}")

    return load


def read_hf(spec: str, text_column: str | None = None) -> list[Utterance]:
    """``hf:NAME[:CONFIG]:SPLIT`` or a ``save_to_disk`` folder (optional ``datasets``)."""
    try:
        import datasets as hfd
    except ImportError as e:
        raise DatasetError(
            "Hugging Face datasets need the optional package `datasets` "
            "(pip install 'streamscribe[hf]' or pip install datasets)"
        ) from e
    if spec.startswith("hf:"):
        parts = spec[3:].split(":")
        if len(parts) == 1:
            name, config, split = parts[0], None, "test"
        elif len(parts) == 2:
            name, config, split = parts[0], None, parts[1]
        else:
            name, config, split = parts[0], parts[1], parts[2]
        ds = hfd.load_dataset(name, config, split=split)
    else:
        ds = hfd.load_from_disk(spec)
        if isinstance(ds, hfd.DatasetDict):
            split = "test" if "test" in ds else next(iter(ds))
            ds = ds[split]
    audio_col = next((c for c in ("audio", "audio_filepath", "path") if c in ds.column_names), None)
    text_col = text_column or next((c for c in _HF_TEXT_COLUMNS if c in ds.column_names), None)
    if audio_col is None or text_col is None:
        raise DatasetError(f"{spec}: need an audio and a text column, have {ds.column_names}")
    if isinstance(ds.features.get(audio_col), hfd.Audio):
        ds = ds.cast_column(audio_col, hfd.Audio(decode=False))  # we decode with soundfile
    id_col = next((c for c in ("id", "utt_id", "segment_id") if c in ds.column_names), None)
    out = []
    for i, row in enumerate(ds):
        uid = str(row[id_col]) if id_col else f"{i:06d}"
        out.append(Utterance(uid, str(row[text_col]), None, _hf_decoder(row[audio_col])))
    return out


def read_shards(path: Path) -> list[Utterance]:
    """Every finished shard of one split, in shard order; each index is our jsonl manifest
    (audio paths relative to the shard)."""
    indexes = _shard_indexes(path)
    if not indexes:
        raise DatasetError(f"{path}: no shard-NNNNN/index.jsonl in this folder")
    return [u for index in indexes for u in read_jsonl(index)]


def load_dataset(
    path: str | Path,
    fmt: str | None = None,
    limit: int | None = None,
    shuffle: bool = False,
    seed: int = 0,
) -> list[Utterance]:
    """List the utterances of the dataset at PATH (audio is read lazily, per utterance)."""
    fmt = fmt or detect_format(path)
    if fmt not in FORMATS:
        raise DatasetError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    if fmt == "hf":
        utts = read_hf(str(path))
    else:
        p = Path(path)
        if not p.exists():
            raise DatasetError(f"{path}: no such file or folder")
        reader = {
            "librispeech": read_librispeech,
            "jsonl": read_jsonl,
            "commonvoice": read_commonvoice,
            "fleurs": read_fleurs,
            "folder": read_folder,
            "shards": read_shards,
        }[fmt]
        utts = reader(p)
    if not utts:
        raise DatasetError(f"{path}: no utterances found (format {fmt})")
    return select(utts, limit=limit, shuffle=shuffle, seed=seed)


def select(
    utts: Sequence[Utterance], limit: int | None = None, shuffle: bool = False, seed: int = 0
) -> list[Utterance]:
    """``--shuffle --seed`` then ``--limit``: a reproducible subset."""
    out = list(utts)
    if shuffle:
        random.Random(seed).shuffle(out)
    if limit is not None and limit >= 0:
        out = out[:limit]
    return out
