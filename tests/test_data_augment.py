"""Augmentations keep word timings consistent with the audio."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from model.data.augment import Clip, codecs, level, noise, tempo
from model.data.example import TimedWord

SR = 16000


def _tone_clip() -> Clip:
    """Two 'words' = two tone bursts at known times, silence around them."""
    t = np.arange(int(2.0 * SR)) / SR
    audio = np.zeros_like(t, dtype=np.float32)
    words = [TimedWord("one", 0.5, 0.8), TimedWord("two", 1.2, 1.6)]
    for w in words:
        mask = (t >= w.start_s) & (t < w.end_s)
        audio[mask] = 0.5 * np.sin(2 * np.pi * 440 * t[mask])
    return Clip(audio.astype(np.float32), words)


def _onset(audio: np.ndarray) -> float:
    return float(np.flatnonzero(np.abs(audio) > 0.05)[0] / SR)


def test_speed_scales_times() -> None:
    clip = tempo.speed(_tone_clip(), 1.1)
    assert clip.words[0].start_s == pytest.approx(0.5 / 1.1)
    assert clip.words[1].end_s == pytest.approx(1.6 / 1.1)
    assert len(clip.audio) == pytest.approx(2.0 * SR / 1.1, abs=2)
    assert _onset(clip.audio) == pytest.approx(clip.words[0].start_s, abs=0.01)


def test_silence_padding_and_concat_shift_times() -> None:
    clip = level.pad_silence(_tone_clip(), 0.3, 0.2, np.random.default_rng(0))
    assert clip.words[0].start_s == pytest.approx(0.8)
    assert _onset(clip.audio) == pytest.approx(0.8, abs=0.01)
    long = level.concatenate([_tone_clip(), _tone_clip()], [0.5])
    assert [w.word for w in long.words] == ["one", "two", "one", "two"]
    assert long.words[2].start_s == pytest.approx(2.0 + 0.5 + 0.5)
    assert _onset(long.audio[int(2.1 * SR):]) + 2.1 == pytest.approx(3.0, abs=0.01)


def test_time_preserving_augmentations_keep_length_and_times() -> None:
    rng = np.random.default_rng(0)
    base = _tone_clip()
    for clip in [
        tempo.vtlp(base, 1.1), noise.add_coloured_noise(base, rng, 20.0),
        noise.add_hum(base, rng, 20.0), level.gain(base, -6.0),
        codecs.band_limit(base, 300, 3400),
    ]:
        assert len(clip.audio) == len(base.audio)
        assert clip.words == base.words
        assert np.isfinite(clip.audio).all()


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")
def test_codec_round_trip_keeps_alignment() -> None:
    base = _tone_clip()
    clip = codecs.codec(base, "mulaw")
    assert len(clip.audio) == len(base.audio)
    assert _onset(clip.audio) == pytest.approx(0.5, abs=0.01)
