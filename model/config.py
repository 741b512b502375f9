"""Model hyper-parameters, parsed from (and written to) Mistral's params.json."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class AudioEncodingArgs:
    sampling_rate: int = 16000
    frame_rate: float = 12.5
    num_mel_bins: int = 128
    hop_length: int = 160
    window_size: int = 400
    global_log_mel_max: float = 1.5
    transcription_format: str = "streaming"


@dataclass
class EncoderArgs:
    dim: int = 1280
    n_layers: int = 32
    head_dim: int = 64
    hidden_dim: int = 5120
    n_heads: int = 32
    n_kv_heads: int = 32
    use_biases: bool = True
    rope_theta: float = 1e6
    causal: bool = True
    norm_eps: float = 1e-5
    pos_embed: str = "rope"
    ffn_type: str = "swiglu"
    norm_type: str = "rms_norm"
    sliding_window: int = 750
    audio_encoding_args: AudioEncodingArgs = field(default_factory=AudioEncodingArgs)


@dataclass
class ModelArgs:
    """Decoder fields at the top level, as in params.json; the encoder under `encoder`."""

    dim: int = 3072
    n_layers: int = 26
    head_dim: int = 128
    hidden_dim: int = 9216
    n_heads: int = 32
    n_kv_heads: int = 8
    use_biases: bool = False
    causal: bool = True
    rope_theta: float = 1e6
    norm_eps: float = 1e-5
    vocab_size: int = 131072
    tied_embeddings: bool = True
    sliding_window: int = 8192
    model_max_length: int = 131072
    ada_rms_norm_t_cond: bool = True
    ada_rms_norm_t_cond_dim: int = 32
    encoder: EncoderArgs = field(default_factory=EncoderArgs)
    downsample_factor: int = 4

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> ModelArgs:
        """Build from a params.json dict; unknown keys are ignored (the published file has a few
        that only the hosted stack reads)."""
        whisper = params.get("multimodal", {}).get("whisper_model_args", {})
        enc = dict(whisper.get("encoder_args", {}))
        audio = AudioEncodingArgs(**_known(AudioEncodingArgs, enc.pop("audio_encoding_args", {})))
        encoder = EncoderArgs(**_known(EncoderArgs, enc), audio_encoding_args=audio)
        downsample = whisper.get("downsample_args", {}).get("downsample_factor", 4)
        top = {k: v for k, v in _known(cls, params).items() if k not in ("encoder",)}
        args = cls(**top, encoder=encoder, downsample_factor=downsample)
        args.validate()
        return args

    def to_params(self) -> dict[str, Any]:
        top = {k: v for k, v in asdict(self).items() if k not in ("encoder", "downsample_factor")}
        top["multimodal"] = {
            "whisper_model_args": {
                "encoder_args": asdict(self.encoder),
                "downsample_args": {"downsample_factor": self.downsample_factor},
            }
        }
        return top

    def validate(self) -> None:
        enc = self.encoder
        problems = []
        if self.n_heads % self.n_kv_heads:
            problems.append("decoder n_heads must be a multiple of n_kv_heads")
        if enc.n_heads % enc.n_kv_heads:
            problems.append("encoder n_heads must be a multiple of n_kv_heads")
        if self.head_dim % 2 or enc.head_dim % 2:
            problems.append("head_dim must be even for RoPE")
        # swiglu + rms_norm is the published model; gelu + layer_norm is Whisper's block, which
        # lets a small encoder start from Whisper weights. Positions must be RoPE: streams are
        # unbounded, so absolute position embeddings would run out.
        if enc.ffn_type not in ("swiglu", "gelu") or enc.norm_type not in ("rms_norm",
                                                                           "layer_norm"):
            problems.append("encoder ffn_type must be swiglu or gelu, norm_type rms_norm or "
                            "layer_norm")
        if enc.pos_embed != "rope":
            problems.append("only rope encoders are supported")
        if not self.tied_embeddings:
            problems.append("only tied input/output embeddings are supported")
        if self.downsample_factor != 4:
            problems.append("the 80 ms schedule needs downsample_factor 4")
        if problems:
            raise ValueError("unsupported params.json: " + "; ".join(problems))


def _known(cls: type, values: dict[str, Any]) -> dict[str, Any]:
    names = cls.__dataclass_fields__.keys()
    return {k: v for k, v in values.items() if k in names}
