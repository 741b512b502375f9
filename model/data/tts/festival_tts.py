"""festival voices (Debian `festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts`).

Word timings come from festival's own utterance structure: for each Token (a whitespace
word of our text) its Word daughters give start = first segment's previous end and
end = last segment's end.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from model.data.example import TimedWord
from model.data.tts.audio_ops import to_16k
from model.data.tts.phone_align import monotonic

VOICES = ("kal_diphone", "ked_diphone", "cmu_us_slt_arctic_hts")

_SCRIPT = """
(voice_{voice})
(Parameter.set 'Duration_Stretch {stretch:.3f})
(set! utt (SynthText "{text}"))
(utt.save.wave utt "{wav}" 'riff)
(set! tok (utt.relation.first utt 'Token))
(while tok
  (format t "TOKEN\\n")
  (mapcar (lambda (w)
     (format t "%s\\t%s\\n"
        (item.feat w "R:SylStructure.daughter1.daughter1.R:Segment.p.end")
        (item.feat w "R:SylStructure.daughtern.daughtern.R:Segment.end")))
   (item.daughters tok))
  (set! tok (item.next tok)))
"""


def _parse_tokens(stdout: str) -> list[tuple[float, float] | None]:
    """One (start, end) per festival Token; None when it has no spoken word."""
    tokens: list[list[tuple[float, float]]] = []
    for line in stdout.splitlines():
        if line == "TOKEN":
            tokens.append([])
        elif "\t" in line and tokens:
            start, end = (float(x) for x in line.split("\t"))
            if end > 0:  # punctuation "words" report 0 0
                tokens[-1].append((start, end))
    return [(min(s for s, _ in t), max(e for _, e in t)) if t else None for t in tokens]


def synthesize(
    text: str, voice: str, rng: np.random.Generator
) -> tuple[np.ndarray, list[TimedWord]]:
    stretch = float(rng.uniform(0.85, 1.25))
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "out.wav"
        script = Path(tmp) / "run.scm"
        escaped = text.replace("\\", " ").replace('"', " ")
        script.write_text(_SCRIPT.format(voice=voice, stretch=stretch, text=escaped, wav=wav))
        result = subprocess.run(["festival", "-b", str(script)], capture_output=True,
                                text=True, check=True, timeout=120)
        audio, rate = sf.read(wav, dtype="float32")
    spans = _parse_tokens(result.stdout)
    words = text.split()
    if len(spans) != len(words) or any(s is None for s in spans):
        raise RuntimeError(f"festival tokens do not match words ({len(spans)} vs {len(words)})")
    fixed = monotonic([s for s in spans if s is not None])
    return to_16k(audio, rate), [TimedWord(w, s, e) for w, (s, e) in zip(words, fixed, strict=True)]
