"""Parity with the oracle (transformers' voxtral_realtime) on small random configurations.

Tolerances: features 1e-4 absolute (both are fp32 STFT + log10; the FFTs differ in
summation order), logits 2e-4 absolute on values of order 1 (fp32 matmul order differs,
and we compute RoPE angles in float64 where transformers uses float32). Greedy token ids
must be identical."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("transformers")

from model.constants import delay_steps  # noqa: E402
from model.frontend import log_mel  # noqa: E402
from model.offline import greedy_tokens, pad_audio, prompt_ids  # noqa: E402
from model.testing import random_network, tiny_args  # noqa: E402
from tests.audio_fixtures import speech_clip  # noqa: E402
from tests.oracle import hf_features, to_hf  # noqa: E402

CONFIGS = {
    # odd sizes, GQA 2:1, windows shorter than the clip
    "gqa2": {},
    # GQA 3:1, deeper, very short windows (the oracle encoder is full multi-head only)
    "gqa3": {"n_heads": 6, "n_kv_heads": 2, "head_dim": 6, "dim": 42, "n_layers": 3,
             "sliding_window": 12, "encoder_sliding_window": 24},
}


def _grid(audio: np.ndarray) -> np.ndarray:
    """The oracle's processor round-trips audio through PCM16; keep inputs on that grid."""
    return np.clip(np.round(audio * 32768) / 32768, -0.5, 0.5).astype(np.float32)


@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    return _grid(speech_clip(seconds=3.0))


def test_mel_features_match_oracle(clip: np.ndarray) -> None:
    padded = pad_audio(clip, delay_steps(480))
    ours = log_mel(torch.from_numpy(padded))
    theirs = hf_features(padded)[0]
    assert ours.shape == theirs.shape
    assert torch.max(torch.abs(ours - theirs)) < 1e-4


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("delay_ms", [80, 480, 2400])
def test_logits_and_greedy_tokens_match_oracle(config: str, delay_ms: int,
                                               clip: np.ndarray) -> None:
    torch.manual_seed(0)
    net = random_network(tiny_args(**CONFIGS[config]), seed=len(config) + delay_ms)
    n_delay = delay_steps(delay_ms)
    hf = to_hf(net, n_delay)
    padded = pad_audio(clip, n_delay)
    features = hf_features(padded)
    n_positions = features.shape[-1] // 8

    # Teacher-forced logits over every position for the same token sequence.
    ids = torch.tensor(prompt_ids(n_delay))
    ids = torch.cat([ids, torch.randint(1000, net.args.vocab_size, (n_positions - len(ids),))])
    with torch.no_grad():
        ours = net(log_mel(torch.from_numpy(padded))[None], ids[None], n_delay)
        theirs = hf(input_ids=ids[None], input_features=features,
                    num_delay_tokens=n_delay).logits
    assert ours.shape == theirs.shape
    assert torch.max(torch.abs(ours - theirs)) < 2e-4

    # Greedy decoding.
    with torch.no_grad():
        generated = hf.generate(input_ids=torch.tensor([prompt_ids(n_delay)]),
                                input_features=features, num_delay_tokens=n_delay,
                                do_sample=False)
    oracle_tokens = generated[0, len(prompt_ids(n_delay)):].tolist()
    tokens = greedy_tokens(net, clip, delay_ms)
    assert tokens == oracle_tokens
    assert len(set(tokens)) > 3, "degenerate test model: tokens should vary"
