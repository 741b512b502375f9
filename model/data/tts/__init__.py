"""Text-to-speech engines with word timings, all behind one call:

    synthesize(text, voice, rng) -> (audio float32 at 16 kHz, [TimedWord per text.split() word])

`VOICES` maps a voice name ("flite/slt", "piper/joe", ...) to its engine module; engines
import lazily so a missing engine only fails when used.
"""

from model.data.tts.registry import VOICES, available_voices, synthesize

__all__ = ["VOICES", "available_voices", "synthesize"]
