"""Transformer building blocks, named after the Mistral checkpoint's tensors so that a
checkpoint loads with a plain `load_state_dict` (the gpt-fast approach)."""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F
from torch import nn


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Normalise in fp32 (as the reference does) so bf16 weights keep fp32-stable statistics.
        x32 = x.float()
        x32 = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x32.to(x.dtype)


@functools.lru_cache(maxsize=16)
def _rope_inv_freq(head_dim: int, theta: float, device: str) -> torch.Tensor:
    """Per-pair rotation frequencies; built once, as every engine step needs them twice."""
    exponents = torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim
    return (1.0 / theta**exponents).to(device)


def rope_cos_sin(positions: torch.Tensor, head_dim: int, theta: float,
                 dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """cos/sin for interleaved RoPE, shape positions.shape + (head_dim // 2,).

    Angles are computed in float64: with sliding-window attention only relative positions
    matter, and float64 keeps pos * freq exact to ~1e-9 rad far beyond model_max_length, so
    a session can run for days without its rotations drifting."""
    inv_freq = _rope_inv_freq(head_dim, theta, str(positions.device))
    angles = positions.to(torch.float64).unsqueeze(-1) * inv_freq
    return angles.cos().to(dtype), angles.sin().to(dtype)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate interleaved pairs (x0, x1), (x2, x3), ... : Mistral's stored wq/wk layout.
    x: (B, heads, T, head_dim); cos/sin: (B or 1, T, head_dim // 2)."""
    pairs = x.float().unflatten(-1, (-1, 2))
    x0, x1 = pairs[..., 0], pairs[..., 1]
    cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
    out = torch.stack((x0 * cos - x1 * sin, x0 * sin + x1 * cos), dim=-1)
    return out.flatten(-2).to(x.dtype)


class Attention(nn.Module):
    def __init__(self, dim: int, n_heads: int, n_kv_heads: int, head_dim: int,
                 use_biases: bool) -> None:
        super().__init__()
        self.n_heads, self.n_kv_heads, self.head_dim = n_heads, n_kv_heads, head_dim
        # The encoder has biases on q, v, o but never on k (Whisper lineage).
        self.wq = nn.Linear(dim, n_heads * head_dim, bias=use_biases)
        self.wk = nn.Linear(dim, n_kv_heads * head_dim, bias=False)
        self.wv = nn.Linear(dim, n_kv_heads * head_dim, bias=use_biases)
        self.wo = nn.Linear(n_heads * head_dim, dim, bias=use_biases)

    def project(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x (B, T, dim) -> rotated q (B, H, T, hd), rotated k and v (B, KV, T, hd)."""
        b, t, _ = x.shape
        q = self.wq(x).view(b, t, self.n_heads, self.head_dim).transpose(1, 2)
        k = self.wk(x).view(b, t, self.n_kv_heads, self.head_dim).transpose(1, 2)
        v = self.wv(x).view(b, t, self.n_kv_heads, self.head_dim).transpose(1, 2)
        return apply_rope(q, cos, sin), apply_rope(k, cos, sin), v

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
               mask: torch.Tensor) -> torch.Tensor:
        """q (B, H, T, hd), k/v (B, KV, S, hd), bool mask (B or 1, 1, T, S) -> (B, T, dim)."""
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask,
                                             enable_gqa=self.n_heads != self.n_kv_heads)
        return self.wo(out.transpose(1, 2).flatten(2))


class FeedForward(nn.Module):
    """SwiGLU: w2(silu(w1 x) * w3 x); only w2 carries a bias, and only in the encoder."""

    def __init__(self, dim: int, hidden_dim: int, use_biases: bool) -> None:
        super().__init__()
        self.w1 = nn.Linear(dim, hidden_dim, bias=False)
        self.w2 = nn.Linear(hidden_dim, dim, bias=use_biases)
        self.w3 = nn.Linear(dim, hidden_dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class LayerNorm(nn.LayerNorm):
    """LayerNorm with bias (`norm_type: layer_norm`, the Whisper lineage), in fp32 like RMSNorm."""

    def __init__(self, dim: int, eps: float) -> None:
        super().__init__(dim, eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.layer_norm(x.float(), self.normalized_shape, self.weight.float(),
                           self.bias.float(), self.eps)
        return out.to(x.dtype)


class GeluFeedForward(nn.Module):
    """`ffn_type: gelu` (Whisper's MLP): w2(gelu(w1 x + b1)) + b2."""

    def __init__(self, dim: int, hidden_dim: int, use_biases: bool) -> None:
        super().__init__()
        self.w1 = nn.Linear(dim, hidden_dim, bias=use_biases)
        self.w2 = nn.Linear(hidden_dim, dim, bias=use_biases)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w2(F.gelu(self.w1(x)))


def make_norm(norm_type: str, dim: int, eps: float) -> nn.Module:
    return LayerNorm(dim, eps) if norm_type == "layer_norm" else RMSNorm(dim, eps)


def make_feed_forward(ffn_type: str, dim: int, hidden_dim: int, use_biases: bool) -> nn.Module:
    if ffn_type == "gelu":
        return GeluFeedForward(dim, hidden_dim, use_biases)
    return FeedForward(dim, hidden_dim, use_biases)


def sliding_window_mask(q_pos: torch.Tensor, k_pos: torch.Tensor, window: int) -> torch.Tensor:
    """Key j is visible to query i when 0 <= i - j < window. Positions of -1 mark empty
    cache slots. Returns bool (..., Tq, Tk)."""
    diff = q_pos.unsqueeze(-1) - k_pos.unsqueeze(-2)
    return (diff >= 0) & (diff < window) & (k_pos.unsqueeze(-2) >= 0)


def delay_embedding(n_delay: torch.Tensor | float, dim: int) -> torch.Tensor:
    """Sinusoidal embedding of the delay (in 80 ms steps) that conditions Ada RMS-Norm:
    concat(cos(t f), sin(t f)), f_i = exp(-ln(10000) i / (dim / 2))."""
    t = torch.as_tensor(n_delay, dtype=torch.float64).reshape(-1, 1)
    freqs = torch.exp(-math.log(10000.0) * torch.arange(dim // 2, dtype=torch.float64)
                      / (dim // 2))
    angles = t * freqs
    return torch.cat((angles.cos(), angles.sin()), dim=-1).float()
