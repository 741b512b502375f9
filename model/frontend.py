"""Log-mel front-end, as pure functions with the reference constants named once.

The model hears 16 kHz audio as 128 Slaney mel bins at 100 Hz, clipped below at a FIXED
ceiling (global_log_mel_max = 1.5) rather than Whisper's per-utterance maximum, which is
what makes the features computable incrementally.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from .constants import HOP_LENGTH, SAMPLE_RATE

N_FFT = 400
WIN_LENGTH = 400
N_MELS = 128
GLOBAL_LOG_MEL_MAX = 1.5
# torch.stft(center=True) reflect-pads N_FFT // 2 samples; frame t covers
# samples [t * HOP - 200, t * HOP + 200).
STFT_PAD = N_FFT // 2
# A frame needs this many samples past its hop start: the streaming look-ahead (2.5 ms).
FRAME_LOOKAHEAD = N_FFT - STFT_PAD - HOP_LENGTH  # 40


def _hz_to_mel_slaney(freq: np.ndarray) -> np.ndarray:
    freq = np.asarray(freq, dtype=np.float64)
    mels = 3.0 * freq / 200.0
    log_region = freq >= 1000.0
    mels = np.where(log_region, 15.0 + np.log(np.maximum(freq, 1e-9) / 1000.0) * 27.0 / np.log(6.4),
                    mels)
    return mels


def _mel_to_hz_slaney(mels: np.ndarray) -> np.ndarray:
    mels = np.asarray(mels, dtype=np.float64)
    freq = 200.0 * mels / 3.0
    return np.where(mels >= 15.0, 1000.0 * np.exp(np.log(6.4) / 27.0 * (mels - 15.0)), freq)


@functools.lru_cache(maxsize=4)
def mel_filters(n_mels: int = N_MELS, n_fft: int = N_FFT, sample_rate: int = SAMPLE_RATE,
                f_max: float = 8000.0) -> torch.Tensor:
    """Slaney-scale, Slaney-normalised triangular filters, shape (n_fft // 2 + 1, n_mels)."""
    n_bins = n_fft // 2 + 1
    mel_points = np.linspace(_hz_to_mel_slaney(0.0), _hz_to_mel_slaney(f_max), n_mels + 2)
    filter_hz = _mel_to_hz_slaney(mel_points)
    fft_hz = np.linspace(0, sample_rate // 2, n_bins)
    slopes = filter_hz[None, :] - fft_hz[:, None]
    diff = np.diff(filter_hz)
    down = -slopes[:, :-2] / diff[:-1]
    up = slopes[:, 2:] / diff[1:]
    weights = np.maximum(0.0, np.minimum(down, up))
    weights *= 2.0 / (filter_hz[2 : n_mels + 2] - filter_hz[:n_mels])[None, :]
    return torch.from_numpy(weights.astype(np.float32))


@functools.lru_cache(maxsize=4)
def _hann(device: str) -> torch.Tensor:
    return torch.hann_window(WIN_LENGTH, periodic=True, device=device)


def _power_to_features(power: torch.Tensor, n_mels: int) -> torch.Tensor:
    """(..., n_bins, frames) power spectrum -> (..., n_mels, frames) model features."""
    filters = mel_filters(n_mels).to(power.device)
    mel = torch.matmul(filters.T, power)
    log_mel = torch.clamp(mel, min=1e-10).log10()
    log_mel = torch.maximum(log_mel, torch.tensor(GLOBAL_LOG_MEL_MAX - 8.0, device=mel.device))
    return (log_mel + 4.0) / 4.0


def log_mel(audio: torch.Tensor, n_mels: int = N_MELS) -> torch.Tensor:
    """Offline features of a whole (already padded) signal: (..., samples) -> (..., n_mels,
    samples // HOP). Matches the reference: centred STFT, last frame dropped."""
    audio = audio.float()
    stft = torch.stft(audio, N_FFT, HOP_LENGTH, window=_hann(str(audio.device)), center=True,
                      return_complex=True)
    power = stft[..., :-1].abs() ** 2
    return _power_to_features(power, n_mels)


def log_mel_frames(windows: torch.Tensor, n_mels: int = N_MELS) -> torch.Tensor:
    """Features of consecutive frames from a raw sample window (no centring): (..., S) ->
    (..., n_mels, (S - N_FFT) // HOP + 1). Streaming feeds windows that start STFT_PAD samples
    before the first frame's hop start, so each frame equals its offline counterpart."""
    stft = torch.stft(windows.float(), N_FFT, HOP_LENGTH, window=_hann(str(windows.device)),
                      center=False, return_complex=True)
    return _power_to_features(stft.abs() ** 2, n_mels)
