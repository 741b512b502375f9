"""Streaming equals offline: identical token ids under any chunking, at every delay, alone
or sharing batched steps with other sessions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from model import load_model
from model.asr_model import AsrModel
from model.constants import ALLOWED_DELAYS_MS, SAMPLES_PER_STEP
from model.testing import make_tiny_checkpoint
from streaming import AudioFormatError, BatchedEngine, Finished, Session, TextDelta, WordFinal
from tests.audio_fixtures import speech_clip


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> AsrModel:
    directory = make_tiny_checkpoint(tmp_path_factory.mktemp("tiny"), seed=3)
    return load_model(directory)


@pytest.fixture(scope="module")
def clips() -> list[np.ndarray]:
    # Three real utterances, cut so the decoder and encoder windows are exceeded.
    return [speech_clip(seconds=4.0, index=i) for i in (0, 10, 40)]


def stream(model: AsrModel, audio: np.ndarray, delay_ms: int, sizes: list[int] | int,
           as_pcm16: bool = False) -> Session:
    session = Session(model, delay_ms)
    i, k = 0, 0
    while i < len(audio):
        n = sizes if isinstance(sizes, int) else sizes[k % len(sizes)]
        chunk = audio[i : i + n]
        session.feed((chunk * 32768).astype("<i2").tobytes() if as_pcm16 else chunk)
        i, k = i + n, k + 1
    session.finish()
    return session


@pytest.mark.parametrize("delay_ms", ALLOWED_DELAYS_MS)
def test_streaming_equals_offline_at_every_delay(model: AsrModel, clips: list[np.ndarray],
                                                 delay_ms: int) -> None:
    rng = np.random.default_rng(delay_ms)
    for audio in clips if delay_ms == 480 else clips[:1]:
        offline = model.transcribe(audio, delay_ms=delay_ms)
        sizes = rng.integers(1, 6000, size=50).tolist()
        session = stream(model, audio, delay_ms, sizes)
        assert session.tokens == offline.tokens
        assert session.text == offline.text
        assert session.words == offline.words


@pytest.mark.parametrize("chunk", [1, 1280, 16000, 10**7])
def test_chunk_sizes_from_one_sample_to_whole_file(model: AsrModel, clips: list[np.ndarray],
                                                   chunk: int) -> None:
    audio = clips[0][:32000] if chunk == 1 else clips[0]
    offline = model.transcribe(audio, delay_ms=480)
    assert stream(model, audio, 480, chunk).tokens == offline.tokens


def test_pcm16_bytes_equal_float_on_the_pcm_grid(model: AsrModel, clips: list[np.ndarray]) -> None:
    audio = (np.round(clips[1] * 32768) / 32768).astype(np.float32)
    offline = model.transcribe(audio, delay_ms=240)
    assert stream(model, audio, 240, 2561, as_pcm16=True).tokens == offline.tokens


def test_token_count_matches_reference_schedule(model: AsrModel) -> None:
    # One token per position after the prompt: ceil(len / 1280) + 10, unless EOS comes first.
    for n_samples in (1, 1280, 1281, 20000):
        audio = np.zeros(n_samples, dtype=np.float32)
        tokens = model.transcribe(audio, delay_ms=480).tokens
        expected = -(-n_samples // SAMPLES_PER_STEP) + 10
        assert len(tokens) == expected or (tokens[-1] == 2 and len(tokens) < expected)


def test_sessions_of_different_delays_share_batched_steps(model: AsrModel,
                                                          clips: list[np.ndarray]) -> None:
    engine = BatchedEngine(model, initial_slots=2)  # forces slot growth too
    delays = [80, 480, 960, 2400, 480]
    sessions = [Session(model, d, engine=engine) for d in delays]
    audios = [clips[i % len(clips)][: 16000 * (2 + i)] for i in range(len(delays))]
    rng = np.random.default_rng(0)
    offsets = [0] * len(sessions)
    while any(not s.done for s in sessions):
        for j, s in enumerate(sessions):  # ragged arrival: some sessions get nothing
            if s.ended or rng.random() < 0.3:
                continue
            n = int(rng.integers(1, 5000))
            s.push_audio(audios[j][offsets[j] : offsets[j] + n])
            offsets[j] += n
            if offsets[j] >= len(audios[j]):
                s.push_end()
        engine.step([s for s in sessions if s.steps_ready() > 0])
        if sessions[1].done and not sessions[1].closed:
            sessions[1].close()  # a session leaving mid-run frees its slot for reuse
            late = Session(model, 1200, engine=engine)
            late.push_audio(clips[2][:20000])
            late.push_end()
            sessions.append(late)
            delays.append(1200)
            audios.append(clips[2][:20000])
            offsets.append(20000)
    for s, d, audio in zip(sessions, delays, audios, strict=True):
        assert s.tokens == model.transcribe(audio, delay_ms=d).tokens


def test_events_describe_the_transcript(model: AsrModel, clips: list[np.ndarray]) -> None:
    session = Session(model, 480)
    events = session.feed(clips[0]) + session.finish()
    deltas = [e for e in events if isinstance(e, TextDelta)]
    words = [e for e in events if isinstance(e, WordFinal)]
    finished = [e for e in events if isinstance(e, Finished)]
    assert len(finished) == 1 and events[-1] is finished[0]
    assert "".join(d.text for d in deltas) == session.text == finished[0].text
    assert [w.text for w in words] == session.text.split()
    assert all(0 <= w.start_s < w.end_s for w in words)
    assert [w.start_s for w in words] == sorted(w.start_s for w in words)


def test_bad_audio_is_refused_clearly(model: AsrModel) -> None:
    session = Session(model, 480)
    with pytest.raises(AudioFormatError, match="even number of bytes"):
        session.push_audio(b"\x00\x01\x02")
    with pytest.raises(AudioFormatError, match="NaN"):
        session.push_audio(np.array([0.0, np.nan], dtype=np.float32))
    with pytest.raises(AudioFormatError, match="1-D"):
        session.push_audio(np.zeros((2, 100), dtype=np.float32))
    with pytest.raises(ValueError, match="not allowed"):
        Session(model, 500)


def test_memory_per_session_is_bounded_on_long_audio(model: AsrModel) -> None:
    """Caches are fixed-size rings; the audio queue holds one step window after each step."""
    engine = BatchedEngine(model, initial_slots=1)
    session = Session(model, 480, engine=engine)
    before = sum(t.numel() for t in engine.enc.k + engine.dec.k)
    noise = np.random.default_rng(0).normal(0, 0.1, 16000).astype(np.float32)
    for _ in range(60):  # a minute of audio, far past every window
        session.feed(noise)
    assert sum(t.numel() for t in engine.enc.k + engine.dec.k) == before
    assert session.buffered_seconds() < 0.1
    assert session._audio.end - session._audio.start < 2 * SAMPLES_PER_STEP


def test_checkpoint_directory_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no checkpoint directory|could not be fetched"):
        load_model(tmp_path / "missing")
    (tmp_path / "params.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match="consolidated.safetensors"):
        load_model(tmp_path)


def test_later_sessions_start_from_the_shared_left_pad_state(model: AsrModel,
                                                             clips: list[np.ndarray]) -> None:
    engine = BatchedEngine(model, initial_slots=2)
    first = Session(model, 480, engine=engine)
    first.feed(clips[0][:8000])
    first.finish()
    later = Session(model, 480, engine=engine)
    assert engine.step([later]) == {}  # restored, then waits for its first real audio
    assert later.position == 31 and later.steps_ready() == 0
    later.push_audio(clips[1])
    engine.step([later])
    # One step took it past 31 all-zero left-pad steps, restored instead of recomputed.
    assert later.position == 32
    later.finish()
    assert later.tokens == model.transcribe(clips[1], delay_ms=480).tokens
    other_delay = Session(model, 960, engine=engine)  # no state for this delay yet
    other_delay.push_audio(clips[2][:8000])
    engine.step([other_delay])
    assert other_delay.position == 1
