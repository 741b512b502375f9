"""The Voxtral Realtime network: causal audio encoder -> 4x frame stacking + adapter ->
delayed-streams decoder with Ada RMS-Norm delay conditioning and tied embeddings.

Attribute paths equal the consolidated checkpoint's tensor names. This file holds the
modules and the whole-sequence (offline / training) forward; the per-step streaming
forward over ring-buffer caches lives in `streaming/engine.py` and reuses these modules.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import EncoderArgs, ModelArgs
from .layers import (
    Attention,
    FeedForward,
    RMSNorm,
    delay_embedding,
    make_feed_forward,
    make_norm,
    rope_cos_sin,
    sliding_window_mask,
)


class CausalConv(nn.Module):
    """Conv1d padded on the left only, so an output frame never sees the future."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(c_in, c_out, kernel, stride=stride)
        self.left_pad = kernel - stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pad(x, (self.left_pad, 0)))


class EncoderBlock(nn.Module):
    def __init__(self, a: EncoderArgs) -> None:
        super().__init__()
        self.attention_norm = make_norm(a.norm_type, a.dim, a.norm_eps)
        self.attention = Attention(a.dim, a.n_heads, a.n_kv_heads, a.head_dim, a.use_biases)
        self.ffn_norm = make_norm(a.norm_type, a.dim, a.norm_eps)
        self.feed_forward = make_feed_forward(a.ffn_type, a.dim, a.hidden_dim, a.use_biases)


class DecoderBlock(nn.Module):
    def __init__(self, a: ModelArgs) -> None:
        super().__init__()
        self.attention_norm = RMSNorm(a.dim, a.norm_eps)
        self.attention = Attention(a.dim, a.n_heads, a.n_kv_heads, a.head_dim, a.use_biases)
        self.ffn_norm = RMSNorm(a.dim, a.norm_eps)
        self.feed_forward = FeedForward(a.dim, a.hidden_dim, a.use_biases)
        self.ada_rms_norm_t_cond = nn.Sequential(
            nn.Linear(a.dim, a.ada_rms_norm_t_cond_dim, bias=False),
            nn.GELU(),
            nn.Linear(a.ada_rms_norm_t_cond_dim, a.dim, bias=False),
        )

    def ffn_scale(self, t_cond: torch.Tensor) -> torch.Tensor:
        """1 + Ada(t_cond): constant per session, so callers compute it once per delay."""
        return 1.0 + self.ada_rms_norm_t_cond(t_cond)


class EncoderTransformer(nn.Module):
    def __init__(self, a: EncoderArgs) -> None:
        super().__init__()
        self.layers = nn.ModuleList(EncoderBlock(a) for _ in range(a.n_layers))
        self.norm = make_norm(a.norm_type, a.dim, a.norm_eps)


class WhisperEncoder(nn.Module):
    def __init__(self, a: EncoderArgs) -> None:
        super().__init__()
        n_mels = a.audio_encoding_args.num_mel_bins
        self.conv_layers = nn.ModuleList([CausalConv(n_mels, a.dim, 3, 1),
                                          CausalConv(a.dim, a.dim, 3, 2)])
        self.transformer = EncoderTransformer(a)


class EmbeddingModule(nn.Module):
    def __init__(self, a: ModelArgs) -> None:
        super().__init__()
        self.tok_embeddings = nn.Embedding(a.vocab_size, a.dim)
        self.whisper_encoder = WhisperEncoder(a.encoder)
        self.audio_language_projection = nn.Sequential(
            nn.Linear(a.encoder.dim * a.downsample_factor, a.dim, bias=False),
            nn.GELU(),
            nn.Linear(a.dim, a.dim, bias=False),
        )


class StreamsEmbeddings(nn.Module):
    def __init__(self, a: ModelArgs) -> None:
        super().__init__()
        self.embedding_module = EmbeddingModule(a)


class VoxtralRealtime(nn.Module):
    def __init__(self, args: ModelArgs) -> None:
        super().__init__()
        self.args = args
        self.mm_streams_embeddings = StreamsEmbeddings(args)
        self.layers = nn.ModuleList(DecoderBlock(args) for _ in range(args.n_layers))
        self.norm = RMSNorm(args.dim, args.norm_eps)

    # Short names for the parts the streaming engine and training reach for.
    @property
    def tok_embeddings(self) -> nn.Embedding:
        return self.mm_streams_embeddings.embedding_module.tok_embeddings

    @property
    def encoder(self) -> WhisperEncoder:
        return self.mm_streams_embeddings.embedding_module.whisper_encoder

    @property
    def adapter(self) -> nn.Sequential:
        return self.mm_streams_embeddings.embedding_module.audio_language_projection

    def t_cond(self, n_delay: torch.Tensor | float) -> torch.Tensor:
        return delay_embedding(n_delay, self.args.dim).to(self.tok_embeddings.weight)

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Final norm, then the tied embedding as output projection."""
        return F.linear(self.norm(hidden), self.tok_embeddings.weight)

    # ---- whole-sequence forward (offline decoding, training, oracle parity) ----

    def conv_stem(self, mel: torch.Tensor) -> torch.Tensor:
        """(B, n_mels, F) -> (B, F // 2, enc_dim) at 50 Hz."""
        conv1, conv2 = self.encoder.conv_layers
        x = F.gelu(conv1(mel.to(self.tok_embeddings.weight.dtype)))
        return F.gelu(conv2(x)).transpose(1, 2)

    @property
    def n_mels(self) -> int:
        return self.args.encoder.audio_encoding_args.num_mel_bins

    def encode(self, mel: torch.Tensor, block: int = 1024) -> torch.Tensor:
        """Log-mel (B, n_mels, F) -> audio embeddings (B, F // 8, dim), one per 80 ms."""
        return self.adapt(self.encode_frames(mel, block))

    def encode_frames(self, mel: torch.Tensor, block: int = 1024) -> torch.Tensor:
        """Log-mel (B, n_mels, F) -> normalised encoder frames (B, F // 2, enc_dim) at 50 Hz.
        Attention runs in query blocks so memory stays linear in the audio length."""
        a = self.args.encoder
        x = self.conv_stem(mel)
        t = x.shape[1]
        positions = torch.arange(t, device=x.device)
        cos, sin = rope_cos_sin(positions, a.head_dim, a.rope_theta)
        cos, sin = cos[None], sin[None]
        for layer in self.encoder.transformer.layers:
            q, k, v = layer.attention.project(layer.attention_norm(x), cos, sin)
            out = []
            for start in range(0, t, block):
                end = min(t, start + block)
                k0 = max(0, start - a.sliding_window + 1)
                mask = sliding_window_mask(positions[start:end], positions[k0:end],
                                           a.sliding_window)
                out.append(layer.attention.attend(q[:, :, start:end], k[:, :, k0:end],
                                                  v[:, :, k0:end], mask[None, None]))
            x = x + torch.cat(out, dim=1)
            x = x + layer.feed_forward(layer.ffn_norm(x))
        return self.encoder.transformer.norm(x)

    def adapt(self, frames: torch.Tensor) -> torch.Tensor:
        """4 consecutive 50 Hz frames stacked -> one 80 ms audio embedding via the adapter."""
        b, t, _ = frames.shape
        return self.adapter(frames.reshape(b, t // self.args.downsample_factor, -1))

    def decode(self, inputs: torch.Tensor, n_delay: torch.Tensor | float,
               positions: torch.Tensor | None = None,
               cache: list[tuple[torch.Tensor, torch.Tensor]] | None = None,
               cache_positions: torch.Tensor | None = None) -> torch.Tensor:
        """Decoder over input embeddings (B, T, dim) (audio embedding + previous-token
        embedding). With `cache` (one (k, v) per layer, updated in place in the list), keys
        from earlier calls are attended too. Returns hidden states (B, T, dim)."""
        a = self.args
        b, t, _ = inputs.shape
        if positions is None:
            positions = torch.arange(t, device=inputs.device)
        cos, sin = rope_cos_sin(positions, a.head_dim, a.rope_theta)
        cos, sin = cos.reshape(-1, t, a.head_dim // 2), sin.reshape(-1, t, a.head_dim // 2)
        k_pos = positions if cache_positions is None else torch.cat([cache_positions, positions])
        mask = sliding_window_mask(positions, k_pos, a.sliding_window)[None, None]
        t_cond = self.t_cond(n_delay)
        t_cond = t_cond.reshape(t_cond.shape[0], 1, -1)
        h = inputs
        for i, layer in enumerate(self.layers):
            q, k, v = layer.attention.project(layer.attention_norm(h), cos, sin)
            if cache is not None:
                if i < len(cache):
                    k = torch.cat([cache[i][0], k], dim=2)
                    v = torch.cat([cache[i][1], v], dim=2)
                    cache[i] = (k, v)
                else:
                    cache.append((k, v))
            h = h + layer.attention.attend(q, k, v, mask)
            h = h + layer.feed_forward(layer.ffn_norm(h) * layer.ffn_scale(t_cond))
        return h

    def forward(self, mel: torch.Tensor, input_ids: torch.Tensor,
                n_delay: torch.Tensor | float) -> torch.Tensor:
        """Teacher-forced logits (B, T, vocab) for token ids (B, T) aligned one per 80 ms
        with the audio; used by parity tests."""
        return self.text_logits(self.encode(mel)[:, : input_ids.shape[1]], input_ids, n_delay)

    def text_logits(self, audio: torch.Tensor, input_ids: torch.Tensor,
                    n_delay: torch.Tensor | float) -> torch.Tensor:
        """Teacher-forced logits from audio embeddings (B, T, dim) already computed (training
        also uses them for its auxiliary losses)."""
        return self.logits(self.decode(audio + self.tok_embeddings(input_ids), n_delay))
