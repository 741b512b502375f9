"""Bridge to the oracle: transformers' VoxtralRealtimeForConditionalGeneration built from
one of our networks (our Mistral-layout weights, converted the way transformers' own
conversion script does: interleaved RoPE rows permuted to halves)."""

from __future__ import annotations

import numpy as np
import torch
from transformers import VoxtralRealtimeConfig, VoxtralRealtimeForConditionalGeneration
from transformers.models.voxtral_realtime.feature_extraction_voxtral_realtime import (
    VoxtralRealtimeFeatureExtractor,
)

from model.voxtral import VoxtralRealtime


def hf_config(net: VoxtralRealtime, n_delay: int) -> VoxtralRealtimeConfig:
    a, e = net.args, net.args.encoder
    rope = {"rope_type": "default", "rope_theta": a.rope_theta}
    return VoxtralRealtimeConfig(
        audio_config={
            "hidden_size": e.dim, "intermediate_size": e.hidden_dim,
            "num_hidden_layers": e.n_layers, "num_attention_heads": e.n_heads,
            "head_dim": e.head_dim, "sliding_window": e.sliding_window,
            "rms_norm_eps": e.norm_eps, "num_mel_bins": e.audio_encoding_args.num_mel_bins,
            "rope_parameters": {"rope_type": "default", "rope_theta": e.rope_theta},
        },
        text_config={
            "vocab_size": a.vocab_size, "hidden_size": a.dim, "intermediate_size": a.hidden_dim,
            "num_hidden_layers": a.n_layers, "num_attention_heads": a.n_heads,
            "num_key_value_heads": a.n_kv_heads, "head_dim": a.head_dim,
            "sliding_window": a.sliding_window, "rms_norm_eps": a.norm_eps,
            "rope_parameters": rope, "max_position_embeddings": a.model_max_length,
            "tie_word_embeddings": True,
        },
        default_num_delay_tokens=n_delay,
        downsample_factor=a.downsample_factor,
    )


def _halves(w: torch.Tensor, n_heads: int, head_dim: int) -> torch.Tensor:
    """Interleaved RoPE rows (0,1),(2,3).. -> transformers' halves (0,2,4..,1,3,5..)."""
    shape = w.shape
    w = w.reshape(n_heads, head_dim // 2, 2, *shape[1:])
    return w.transpose(1, 2).reshape(shape)


def _attention(prefix: str, attn: torch.nn.Module, heads: int, kv: int, hd: int) -> dict:
    out = {
        f"{prefix}.q_proj.weight": _halves(attn.wq.weight, heads, hd),
        f"{prefix}.k_proj.weight": _halves(attn.wk.weight, kv, hd),
        f"{prefix}.v_proj.weight": attn.wv.weight,
        f"{prefix}.o_proj.weight": attn.wo.weight,
    }
    if attn.wq.bias is not None:
        out[f"{prefix}.q_proj.bias"] = _halves(attn.wq.bias, heads, hd)
        out[f"{prefix}.v_proj.bias"] = attn.wv.bias
        out[f"{prefix}.o_proj.bias"] = attn.wo.bias
    return out


def _mlp(prefix: str, ff: torch.nn.Module) -> dict:
    out = {f"{prefix}.gate_proj.weight": ff.w1.weight, f"{prefix}.up_proj.weight": ff.w3.weight,
           f"{prefix}.down_proj.weight": ff.w2.weight}
    if ff.w2.bias is not None:
        out[f"{prefix}.down_proj.bias"] = ff.w2.bias
    return out


def to_hf(net: VoxtralRealtime, n_delay: int) -> VoxtralRealtimeForConditionalGeneration:
    a, e = net.args, net.args.encoder
    sd: dict[str, torch.Tensor] = {}
    conv1, conv2 = net.encoder.conv_layers
    sd |= {"model.audio_tower.embedder.conv1.weight": conv1.conv.weight,
           "model.audio_tower.embedder.conv1.bias": conv1.conv.bias,
           "model.audio_tower.embedder.conv2.weight": conv2.conv.weight,
           "model.audio_tower.embedder.conv2.bias": conv2.conv.bias,
           "model.audio_tower.norm.weight": net.encoder.transformer.norm.weight}
    for i, layer in enumerate(net.encoder.transformer.layers):
        p = f"model.audio_tower.layers.{i}"
        sd |= _attention(f"{p}.self_attn", layer.attention, e.n_heads, e.n_kv_heads, e.head_dim)
        sd |= _mlp(f"{p}.mlp", layer.feed_forward)
        sd[f"{p}.self_attn_layer_norm.weight"] = layer.attention_norm.weight
        sd[f"{p}.final_layer_norm.weight"] = layer.ffn_norm.weight
    sd["model.multi_modal_projector.linear_1.weight"] = net.adapter[0].weight
    sd["model.multi_modal_projector.linear_2.weight"] = net.adapter[2].weight
    sd["model.language_model.embed_tokens.weight"] = net.tok_embeddings.weight
    sd["lm_head.weight"] = net.tok_embeddings.weight
    sd["model.language_model.norm.weight"] = net.norm.weight
    for i, layer in enumerate(net.layers):
        p = f"model.language_model.layers.{i}"
        sd |= _attention(f"{p}.self_attn", layer.attention, a.n_heads, a.n_kv_heads, a.head_dim)
        sd |= _mlp(f"{p}.mlp", layer.feed_forward)
        sd[f"{p}.input_layernorm.weight"] = layer.attention_norm.weight
        sd[f"{p}.post_attention_layernorm.weight"] = layer.ffn_norm.weight
        sd[f"{p}.ada_rms_norm.linear1.weight"] = layer.ada_rms_norm_t_cond[0].weight
        sd[f"{p}.ada_rms_norm.linear2.weight"] = layer.ada_rms_norm_t_cond[2].weight
    hf = VoxtralRealtimeForConditionalGeneration(hf_config(net, n_delay)).eval()
    missing, unexpected = hf.load_state_dict({k: v.detach().clone() for k, v in sd.items()},
                                             strict=False)
    assert not unexpected, unexpected
    assert not [m for m in missing if "inv_freq" not in m], missing
    return hf


def hf_features(padded_audio: np.ndarray) -> torch.Tensor:
    fe = VoxtralRealtimeFeatureExtractor()
    return fe(padded_audio, sampling_rate=16000, return_tensors="pt").input_features
