"""espeak-ng (Debian `espeak-ng`, library libespeak-ng.so.1) through ctypes.

The command line prints no timings without mbrola, but the library's WORD events give each
word's text position and audio start. A word ends at the next word's start (or the audio
end), pulled back to the last loud 10 ms frame so pauses are not counted as speech.
Variety: 8 English accents x voice variants x speed (words/min) x pitch.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

import numpy as np

from model.data.example import TimedWord
from model.data.tts.audio_ops import first_sound_after, last_sound_before, to_16k
from model.data.tts.phone_align import monotonic
from model.data.words import split_words

# "en" is en-gb (gmw/en): the name "en-gb" resolves to an uninstalled mbrola voice.
ACCENTS = ("en-us", "en", "en-gb-x-rp", "en-gb-scotland", "en-gb-x-gbclan",
           "en-gb-x-gbcwmd", "en-029", "en-us-nyc")
# Variants that stay intelligible (the f3 family measured 32% WER; leave out the worst).
VARIANTS = ("", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f4", "f5",
            "klatt", "klatt2", "klatt3", "Andy", "Denis", "john", "max", "michel", "robert")

_AUDIO_OUTPUT_RETRIEVAL = 1
_EVENT_WORD, _EVENT_END = 1, 0
_CHARS_UTF8 = 1
_POS_CHARACTER = 1
_RATE, _PITCH = 1, 3


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int), ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p), ("id", ctypes.c_char * 8),
    ]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                             ctypes.POINTER(_Event))


def library_path() -> str | None:
    return ctypes.util.find_library("espeak-ng") or "libespeak-ng.so.1"


class _Engine:
    """One per process: libespeak-ng keeps global state."""

    def __init__(self) -> None:
        self.lib = ctypes.CDLL(library_path())
        self.rate = self.lib.espeak_Initialize(_AUDIO_OUTPUT_RETRIEVAL, 0, None, 0)
        if self.rate <= 0:
            raise OSError("espeak_Initialize failed")
        self.samples: list[np.ndarray] = []
        self.words: list[tuple[int, int]] = []  # (text_position 1-based, audio ms)
        self._callback = _CALLBACK(self._on_audio)  # keep a reference: C holds a pointer
        self.lib.espeak_SetSynthCallback(self._callback)

    def _on_audio(self, wav, n, events) -> int:  # noqa: ANN001 - ctypes pointers
        if n > 0:
            self.samples.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        i = 0
        while events[i].type != _EVENT_END:
            if events[i].type == _EVENT_WORD:
                self.words.append((events[i].text_position, events[i].audio_position))
            i += 1
        return 0

    def run(self, text: str, voice: str, wpm: int, pitch: int) -> tuple[np.ndarray, list]:
        self.samples, self.words = [], []
        if self.lib.espeak_SetVoiceByName(voice.encode()) != 0 and (
            self.lib.espeak_SetVoiceByName(voice.split("+")[0].encode()) != 0  # no variant
        ):
            raise ValueError(f"espeak-ng voice {voice!r} not found")
        self.lib.espeak_SetParameter(_RATE, wpm, 0)
        self.lib.espeak_SetParameter(_PITCH, pitch, 0)
        data = text.encode()
        self.lib.espeak_Synth(data, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        self.lib.espeak_Synchronize()
        audio = np.concatenate(self.samples) if self.samples else np.zeros(0, np.int16)
        return audio.astype(np.float32) / 32768.0, list(self.words)


@functools.lru_cache(maxsize=1)
def _engine() -> _Engine:
    return _Engine()


_last_voice = ""


def last_voice_name() -> str:
    """The accent+variant the last `synthesize("random")` call used (for metadata)."""
    return _last_voice


def random_voice(rng: np.random.Generator) -> str:
    accent = str(rng.choice(ACCENTS))
    variant = str(rng.choice(VARIANTS))
    return f"{accent}+{variant}" if variant else accent


def synthesize(
    text: str, voice: str, rng: np.random.Generator
) -> tuple[np.ndarray, list[TimedWord]]:
    """`voice` is "random" (draw accent+variant) or an espeak-ng name like "en-gb+m3"."""
    name = random_voice(rng) if voice == "random" else voice
    wpm, pitch = int(rng.integers(135, 200)), int(rng.integers(30, 75))
    engine = _engine()
    audio, events = engine.run(text, name, wpm, pitch)
    audio16 = to_16k(audio, engine.rate)
    spans = split_words(text)
    # Each text word takes the first WORD event that starts inside its character span.
    starts: list[float | None] = []
    for span in spans:
        hits = [ms for pos, ms in events if span.start <= pos - 1 < span.end]
        starts.append(hits[0] / 1000.0 if hits else None)
    duration = len(audio16) / 16000
    # Group words by event: a word without its own event shares the previous word's.
    groups: list[list[int]] = []
    for i, start in enumerate(starts):
        if start is None and groups:
            groups[-1].append(i)
        else:
            groups.append([i])
    group_starts = [starts[g[0]] or 0.0 for g in groups]
    timed: list[tuple[float, float]] = []
    for k, group in enumerate(groups):
        nxt = group_starts[k + 1] if k + 1 < len(groups) else duration
        start = first_sound_after(audio16, group_starts[k], nxt)
        end = last_sound_before(audio16, start, nxt)
        # Glued words share the group's span in proportion to their letters.
        sizes = np.array([len(spans[i].text) for i in group], dtype=float)
        edges = start + (end - start) * np.concatenate([[0.0], np.cumsum(sizes) / sizes.sum()])
        timed += [(float(edges[j]), float(edges[j + 1])) for j in range(len(group))]
    fixed = monotonic(timed)
    words = [s.text for s in spans]
    global _last_voice  # metadata only; the build is single-threaded per process
    _last_voice = name
    return audio16, [TimedWord(w, s, e) for w, (s, e) in zip(words, fixed, strict=True)]
