"""Band-limiting and telephone / low-bitrate codecs (sox and ffmpeg round trips).

Codec delays were measured by cross-correlation (`measure_delay_s`, README table); word
times shift by the delay and the output is trimmed back to the input length.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from scipy.signal import butter, correlate, sosfilt

from model.data.augment.clip import SAMPLE_RATE, Clip

# name -> (tool, encode args, sample rate of the codec)
CODECS: dict[str, tuple[str, list[str], int]] = {
    "mulaw": ("ffmpeg", ["-c:a", "pcm_mulaw", "-f", "wav"], 8000),
    "alaw": ("ffmpeg", ["-c:a", "pcm_alaw", "-f", "wav"], 8000),
    "gsm": ("ffmpeg", ["-c:a", "libgsm", "-f", "gsm"], 8000),
    "g722": ("ffmpeg", ["-c:a", "g722", "-f", "g722"], 16000),
    "opus8k": ("ffmpeg", ["-c:a", "libopus", "-b:a", "8k", "-f", "ogg"], 16000),
    "mp3": ("ffmpeg", ["-c:a", "libmp3lame", "-b:a", "32k", "-f", "mp3"], 16000),
    "amrnb": ("sox", ["-t", "amr-nb"], 8000),
}
# Measured with measure_delay_s on TTS speech (seconds the codec output lags the input).
# mulaw/alaw/gsm/mp3 0.0, opus8k 0.0001 (flite slt and piper joe agree within 1 ms).
CODEC_DELAY_S: dict[str, float] = {"g722": 0.0014, "amrnb": 0.0045}


def band_limit(clip: Clip, low_hz: float, high_hz: float) -> Clip:
    sos = butter(4, [low_hz, high_hz], btype="bandpass", fs=SAMPLE_RATE, output="sos")
    return clip.with_audio(sosfilt(sos, clip.audio), band=[round(low_hz), round(high_hz)])


def round_trip(audio: np.ndarray, codec: str) -> np.ndarray:
    """Encode and decode; returns 16 kHz float32 (not delay-corrected)."""
    tool, args, rate = CODECS[codec]
    narrow = soxr.resample(audio, SAMPLE_RATE, rate) if rate != SAMPLE_RATE else audio
    with tempfile.TemporaryDirectory() as tmp:
        src, enc, dec = (Path(tmp) / n for n in ("in.wav", "enc.bin", "out.wav"))
        sf.write(src, np.clip(narrow, -1, 1), rate, subtype="PCM_16")
        if tool == "sox":
            subprocess.run(["sox", str(src), *args, str(enc)], check=True, capture_output=True)
            subprocess.run(["sox", *args, str(enc), "-b", "16", str(dec)], check=True,
                           capture_output=True)
        else:
            quiet = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y"]
            subprocess.run([*quiet, "-i", str(src), "-ar", str(rate), *args, str(enc)],
                           check=True, capture_output=True)
            demux = args[args.index("-f") : args.index("-f") + 2]  # raw formats need it
            subprocess.run([*quiet, *demux, "-i", str(enc), "-ac", "1", str(dec)], check=True,
                           capture_output=True)
        out, out_rate = sf.read(dec, dtype="float32")
    if out.ndim > 1:
        out = out.mean(axis=1)
    return soxr.resample(out, out_rate, SAMPLE_RATE).astype(np.float32)


def measure_delay_s(audio: np.ndarray, codec: str, max_lag_s: float = 0.2) -> float:
    """Lag of the codec output against its input, by cross-correlation."""
    out = round_trip(audio, codec)
    n = min(len(out), len(audio))
    corr = correlate(out[:n], audio[:n], mode="full", method="fft")
    lags = np.arange(-n + 1, n)
    window = np.abs(lags) <= int(max_lag_s * SAMPLE_RATE)
    return float(lags[window][np.argmax(corr[window])] / SAMPLE_RATE)


def codec(clip: Clip, name: str) -> Clip:
    delay = CODEC_DELAY_S.get(name, 0.0)
    out = round_trip(clip.audio, name)
    start = int(round(delay * SAMPLE_RATE))
    out = out[start : start + len(clip.audio)]  # drop the delay so word times stay put
    out = np.pad(out, (0, max(0, len(clip.audio) - len(out))))
    return clip.with_audio(out, codec=name)
