"""Named model sizes. `small` is the shipped default's architecture; `tiny` is for tests."""

from __future__ import annotations

from .config import AudioEncodingArgs, EncoderArgs, ModelArgs
from .testing import tiny_args


def small_args(vocab_size: int = 1000 + 4096) -> ModelArgs:
    """~25M parameters, sized for >= 64 real-time streams on a 2-core CPU (see
    benchmarks/step_bench.py) while keeping a Whisper-tiny-sized acoustic encoder."""
    return ModelArgs(
        dim=384, n_layers=6, head_dim=64, hidden_dim=1024, n_heads=6, n_kv_heads=2,
        sliding_window=256, vocab_size=vocab_size, model_max_length=131072,
        encoder=EncoderArgs(dim=384, n_layers=4, head_dim=64, hidden_dim=1024, n_heads=6,
                            n_kv_heads=6, sliding_window=375),
    )


def small_whisper_args(vocab_size: int = 1000 + 4096) -> ModelArgs:
    """`small`'s decoder behind an encoder of Whisper tiny.en's exact shape (80 mels, GELU MLP,
    LayerNorm), so it can start from Whisper's weights (model/training/whisper_init.py)."""
    args = small_args(vocab_size)
    args.encoder = EncoderArgs(dim=384, n_layers=4, head_dim=64, hidden_dim=1536, n_heads=6,
                               n_kv_heads=6, sliding_window=375, ffn_type="gelu",
                               norm_type="layer_norm",
                               audio_encoding_args=AudioEncodingArgs(num_mel_bins=80))
    return args


PRESETS = {"tiny": tiny_args, "small": small_args, "small-whisper": small_whisper_args}


def preset_args(preset: str, vocab_size: int | None = None, decoder_layers: int | None = None,
                encoder_layers: int | None = None, encoder_window: int | None = None
                ) -> ModelArgs:
    """A preset's shape, optionally deeper or with another encoder window: what a recipe
    trains (model/training/config.py) and what benchmarks/step_bench.py times."""
    args = PRESETS[preset](**({"vocab_size": vocab_size} if vocab_size else {}))
    args.n_layers = decoder_layers or args.n_layers
    args.encoder.n_layers = encoder_layers or args.encoder.n_layers
    args.encoder.sliding_window = encoder_window or args.encoder.sliding_window
    return args
