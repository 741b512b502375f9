"""Offline decoding: the streaming computation on the whole padded signal at once.

The encoder runs over all frames in parallel; the decoder prefills the prompt in one pass
and then decodes greedily one position per 80 ms, exactly as the reference `generate`
does (one token per position after the prompt, stop at EOS, the last position never fed).
"""

from __future__ import annotations

import numpy as np
import torch

from .constants import (
    BOS_ID,
    EOS_ID,
    N_LEFT_PAD_STEPS,
    SAMPLES_PER_STEP,
    STREAMING_PAD_ID,
    delay_steps,
    prompt_length,
    right_pad_steps,
)
from .frontend import log_mel
from .voxtral import VoxtralRealtime


def padded_positions(n_samples: int, n_delay: int) -> int:
    """80 ms positions of a signal after pad_audio: left pad, audio, right pad."""
    return N_LEFT_PAD_STEPS + -(-n_samples // SAMPLES_PER_STEP) + right_pad_steps(n_delay)


def pad_audio(audio: np.ndarray, n_delay: int) -> np.ndarray:
    """Left pad, then zeros to a whole step, then the right pad that flushes the delay."""
    out = np.zeros(padded_positions(len(audio), n_delay) * SAMPLES_PER_STEP, dtype=np.float32)
    start = N_LEFT_PAD_STEPS * SAMPLES_PER_STEP
    out[start : start + len(audio)] = audio
    return out


def prompt_ids(n_delay: int) -> list[int]:
    return [BOS_ID] + [STREAMING_PAD_ID] * (prompt_length(n_delay) - 1)


@torch.inference_mode()
def audio_embeddings(net: VoxtralRealtime, audio: np.ndarray, n_delay: int) -> torch.Tensor:
    device = net.tok_embeddings.weight.device
    padded = torch.from_numpy(pad_audio(audio, n_delay)).to(device)
    return net.encode(log_mel(padded, net.n_mels)[None])[0]


@torch.inference_mode()
def greedy_tokens(net: VoxtralRealtime, audio: np.ndarray, delay_ms: int) -> list[int]:
    n_delay = delay_steps(delay_ms)
    emb = audio_embeddings(net, audio, n_delay)
    n_positions = emb.shape[0]
    prompt = torch.tensor(prompt_ids(n_delay), device=emb.device)
    n_prompt = len(prompt)
    window = net.args.sliding_window

    cache: list[tuple[torch.Tensor, torch.Tensor]] = []
    positions = torch.arange(n_prompt, device=emb.device)
    hidden = net.decode((emb[:n_prompt] + net.tok_embeddings(prompt))[None], n_delay,
                        positions=positions, cache=cache)
    cache_pos = positions
    token = int(net.logits(hidden[0, -1]).argmax())
    tokens = [token]
    for pos in range(n_prompt, n_positions - 1):
        if token == EOS_ID:
            break
        keep = cache_pos > pos - window  # drop keys that slid out of the window
        if not bool(keep.all()):
            cache[:] = [(k[:, :, keep], v[:, :, keep]) for k, v in cache]
            cache_pos = cache_pos[keep]
        x = emb[pos] + net.tok_embeddings.weight[token]
        hidden = net.decode(x[None, None], n_delay, positions=torch.tensor([pos]),
                            cache=cache, cache_positions=cache_pos)
        cache_pos = torch.cat([cache_pos, torch.tensor([pos], device=emb.device)])
        token = int(net.logits(hidden[0, -1]).argmax())
        tokens.append(token)
    return tokens
