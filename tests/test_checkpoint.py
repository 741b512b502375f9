"""Checkpoint format: the published 4B layout on the meta device, save/load round trips,
bf16, and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from safetensors.torch import load_file, save_file

from model import load_model
from model.checkpoint import build_network, load_network, read_args, save_checkpoint
from model.config import ModelArgs
from model.testing import make_tiny_checkpoint
from tests.audio_fixtures import speech_clip

# params.json of mistralai/Voxtral-Mini-4B-Realtime-2602 (reference-model.md).
PUBLISHED_PARAMS = {
    "dim": 3072, "n_layers": 26, "head_dim": 128, "hidden_dim": 9216, "n_heads": 32,
    "n_kv_heads": 8, "use_biases": False, "causal": True, "rope_theta": 1e6, "norm_eps": 1e-5,
    "vocab_size": 131072, "tied_embeddings": True, "sliding_window": 8192,
    "model_max_length": 131072, "ada_rms_norm_t_cond": True, "ada_rms_norm_t_cond_dim": 32,
    "multimodal": {"whisper_model_args": {
        "encoder_args": {
            "dim": 1280, "n_layers": 32, "head_dim": 64, "hidden_dim": 5120, "n_heads": 32,
            "n_kv_heads": 32, "use_biases": True, "rope_theta": 1e6, "causal": True,
            "norm_eps": 1e-5, "pos_embed": "rope", "ffn_type": "swiglu",
            "norm_type": "rms_norm", "sliding_window": 750,
            "audio_encoding_args": {"sampling_rate": 16000, "frame_rate": 12.5,
                                    "num_mel_bins": 128, "hop_length": 160,
                                    "window_size": 400, "global_log_mel_max": 1.5,
                                    "transcription_format": "streaming"}},
        "downsample_args": {"downsample_factor": 4}}},
}
ENC = "mm_streams_embeddings.embedding_module.whisper_encoder."


def published_shapes() -> dict[str, tuple[int, ...]]:
    """The 711 tensor names and shapes of the published checkpoint."""
    shapes: dict[str, tuple[int, ...]] = {
        "mm_streams_embeddings.embedding_module.tok_embeddings.weight": (131072, 3072),
        ENC + "conv_layers.0.conv.weight": (1280, 128, 3), ENC + "conv_layers.0.conv.bias": (1280,),
        ENC + "conv_layers.1.conv.weight": (1280, 1280, 3),
        ENC + "conv_layers.1.conv.bias": (1280,),
        ENC + "transformer.norm.weight": (1280,),
        "mm_streams_embeddings.embedding_module.audio_language_projection.0.weight": (3072, 5120),
        "mm_streams_embeddings.embedding_module.audio_language_projection.2.weight": (3072, 3072),
        "norm.weight": (3072,),
    }
    for i in range(32):
        p = f"{ENC}transformer.layers.{i}."
        shapes |= {p + "attention.wq.weight": (2048, 1280), p + "attention.wq.bias": (2048,),
                   p + "attention.wk.weight": (2048, 1280),
                   p + "attention.wv.weight": (2048, 1280), p + "attention.wv.bias": (2048,),
                   p + "attention.wo.weight": (1280, 2048), p + "attention.wo.bias": (1280,),
                   p + "attention_norm.weight": (1280,), p + "ffn_norm.weight": (1280,),
                   p + "feed_forward.w1.weight": (5120, 1280),
                   p + "feed_forward.w2.weight": (1280, 5120), p + "feed_forward.w2.bias": (1280,),
                   p + "feed_forward.w3.weight": (5120, 1280)}
    for i in range(26):
        p = f"layers.{i}."
        shapes |= {p + "attention.wq.weight": (4096, 3072), p + "attention.wk.weight": (1024, 3072),
                   p + "attention.wv.weight": (1024, 3072), p + "attention.wo.weight": (3072, 4096),
                   p + "attention_norm.weight": (3072,), p + "ffn_norm.weight": (3072,),
                   p + "feed_forward.w1.weight": (9216, 3072),
                   p + "feed_forward.w2.weight": (3072, 9216),
                   p + "feed_forward.w3.weight": (9216, 3072),
                   p + "ada_rms_norm_t_cond.0.weight": (32, 3072),
                   p + "ada_rms_norm_t_cond.2.weight": (3072, 32)}
    return shapes


def test_published_params_build_the_4b_layout_on_meta() -> None:
    net = build_network(ModelArgs.from_params(PUBLISHED_PARAMS), device="meta",
                        dtype=torch.bfloat16)
    state = net.state_dict()
    expected = published_shapes()
    assert len(expected) == 711
    assert {k: tuple(v.shape) for k, v in state.items()} == expected
    n_params = sum(v.numel() for v in state.values())
    assert 4.40e9 < n_params < 4.46e9, n_params
    assert all(v.is_meta for v in state.values())


def test_params_round_trip_through_json(tmp_path: Path) -> None:
    args = ModelArgs.from_params(PUBLISHED_PARAMS)
    assert ModelArgs.from_params(json.loads(json.dumps(args.to_params()))) == args


def test_unsupported_params_are_refused_clearly() -> None:
    params = json.loads(json.dumps(PUBLISHED_PARAMS))
    params["n_kv_heads"] = 5
    with pytest.raises(ValueError, match="multiple of n_kv_heads"):
        ModelArgs.from_params(params)


def test_save_load_round_trip_and_bf16(tmp_path: Path) -> None:
    directory = make_tiny_checkpoint(tmp_path / "ckpt", seed=5)
    assert sorted(p.name for p in directory.iterdir()) == [
        "consolidated.safetensors", "params.json", "tekken.json"]
    model = load_model(directory)
    audio = speech_clip(seconds=2.0)
    fp32 = model.transcribe(audio)
    again = load_model(directory).transcribe(audio)
    assert fp32.tokens == again.tokens

    # A bf16 checkpoint (as published) loads into fp32 or bf16.
    state = load_file(directory / "consolidated.safetensors")
    save_file({k: v.to(torch.bfloat16) for k, v in state.items()},
              directory / "consolidated.safetensors")
    bf16 = load_model(directory, dtype=torch.bfloat16)
    assert bf16.dtype == torch.bfloat16
    result = bf16.transcribe(audio)
    assert len(result.tokens) == len(fp32.tokens)
    assert read_args(directory) == model.args


def test_mismatched_weights_are_reported(tmp_path: Path) -> None:
    directory = make_tiny_checkpoint(tmp_path / "ckpt")
    state = load_file(directory / "consolidated.safetensors")
    state.pop("norm.weight")
    save_file(state, directory / "consolidated.safetensors")
    with pytest.raises(ValueError, match="does not match its params.json"):
        load_model(directory)


def test_unknown_repo_id_offline_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(FileNotFoundError, match="could not be fetched"):
        load_model("mistralai/Voxtral-Mini-4B-Realtime-2602")


def test_transcribe_rejects_non_mono_audio(tmp_path: Path) -> None:
    model = load_model(make_tiny_checkpoint(tmp_path / "ckpt"))
    with pytest.raises(ValueError, match="1-D"):
        model.transcribe(np.zeros((2, 1600), dtype=np.float32))


def test_transcribe_command_reads_any_rate_and_reports_bad_files(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from model.cli import main

    directory = make_tiny_checkpoint(tmp_path / "ckpt")
    audio = speech_clip(seconds=2.0)
    wav16 = tmp_path / "a16.wav"
    sf.write(wav16, audio, 16000)
    stereo48 = tmp_path / "a48.flac"
    sf.write(stereo48, np.stack([np.repeat(audio, 3)] * 2, axis=1), 48000)
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio")
    status = main([str(wav16), str(stereo48), str(bad), "--model", str(directory), "--json"])
    out, err = capsys.readouterr()
    rows = [json.loads(line) for line in out.splitlines()]
    assert status == 1 and "bad.wav: cannot transcribe" in err
    assert [r["file"] for r in rows] == [str(wav16), str(stereo48)]
    expected = load_model(directory).transcribe(audio).text
    assert rows[0]["text"] == expected


def test_weights_over_the_file_limit_are_split_into_parts_that_load(tmp_path: Path) -> None:
    directory = make_tiny_checkpoint(tmp_path / "ckpt", seed=3)
    net = load_network(directory)
    limit = 20_000  # bytes; the tiny model's fp32 weights are several times that
    save_checkpoint(net, directory, directory / "tekken.json", max_file_bytes=limit)
    parts = sorted(directory.glob("consolidated*.safetensors"))
    assert len(parts) > 2 and parts[0].name == f"consolidated-00001-of-{len(parts):05d}.safetensors"
    biggest = max(t.numel() * t.element_size() for t in net.state_dict().values())
    assert all(p.stat().st_size <= max(limit, biggest) + 4096 for p in parts)  # + header
    reloaded = load_network(directory)
    for (name, a), b in zip(net.state_dict().items(), reloaded.state_dict().values(),
                            strict=True):
        assert torch.equal(a, b), name

    # Saving again as one file leaves no stale parts behind, and a missing part is an error.
    save_checkpoint(net, directory, directory / "tekken.json")
    assert [p.name for p in directory.glob("consolidated*.safetensors")] == [
        "consolidated.safetensors"]
    save_checkpoint(net, directory, directory / "tekken.json", max_file_bytes=limit)
    sorted(directory.glob("consolidated-*.safetensors"))[1].unlink()
    with pytest.raises(FileNotFoundError, match="weight parts"):
        load_network(directory)

