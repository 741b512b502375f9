"""Speed, pitch and vocal-tract-length perturbation."""

from __future__ import annotations

import numpy as np
import soxr
from scipy.signal import istft, stft

from model.data.augment.clip import SAMPLE_RATE, Clip
from model.data.augment.sox_ops import run_sox


def speed(clip: Clip, factor: float) -> Clip:
    """Play `factor` times faster (pitch moves too, like Kaldi speed perturbation)."""
    audio = soxr.resample(clip.audio, SAMPLE_RATE * factor, SAMPLE_RATE, quality="HQ")
    return clip.with_audio(audio, time_scale=1.0 / factor, speed=round(factor, 4))


def pitch(clip: Clip, cents: float) -> Clip:
    """Shift pitch, keep duration (sox `pitch`, WSOLA; no time shift measured)."""
    audio = run_sox(clip.audio, ["pitch", f"{cents:.0f}"])[: len(clip.audio)]
    return clip.with_audio(audio, pitch_cents=round(cents))


def vtlp(clip: Clip, alpha: float, boundary_hz: float = 4800.0) -> Clip:
    """Vocal tract length perturbation: warp the frequency axis piecewise-linearly
    (Jaitly & Hinton 2013), on the complex STFT; timing untouched."""
    nfft = 512
    _, _, spec = stft(clip.audio, fs=SAMPLE_RATE, nperseg=nfft, noverlap=nfft * 3 // 4)
    freqs = np.linspace(0, SAMPLE_RATE / 2, spec.shape[0])
    nyq = SAMPLE_RATE / 2
    knee = boundary_hz * min(alpha, 1.0) / alpha
    # source frequency for each output frequency (inverse of the warp)
    warped = np.where(
        freqs <= knee * alpha,
        freqs / alpha,
        knee + (freqs - knee * alpha) * (nyq - knee) / (nyq - knee * alpha),
    )
    real = np.array([np.interp(warped, freqs, col) for col in spec.real.T]).T
    imag = np.array([np.interp(warped, freqs, col) for col in spec.imag.T]).T
    _, audio = istft(real + 1j * imag, fs=SAMPLE_RATE, nperseg=nfft, noverlap=nfft * 3 // 4)
    audio = audio[: len(clip.audio)]
    audio = np.pad(audio, (0, len(clip.audio) - len(audio)))
    return clip.with_audio(audio, vtlp_alpha=round(alpha, 3))
