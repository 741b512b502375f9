"""Server pieces that need no model: wire audio decoding, event parsing, auth, CLI."""

from __future__ import annotations

import base64

import numpy as np
import pytest
import soxr
from starlette.datastructures import Headers, QueryParams

from server.audio import AudioDecoder, InvalidAudio, decode_base64, decode_samples
from server.auth import is_authorized
from server.cli import build_parser, main, settings_from_args
from server.protocols import mistral as mp
from server.protocols import vllm as vp
from server.protocols.common import ProtocolError, parse_event
from server.settings import Settings


def test_pcm_encodings_decode_to_the_same_signal() -> None:
    x = np.sin(np.linspace(0, 20, 800)).astype(np.float32) * 0.5
    s16 = np.round(x * 32767).astype("<i2").tobytes()
    s32 = np.round(x * 2147483647).astype("<i4").tobytes()
    f32 = x.astype("<f4").tobytes()
    f16 = x.astype("<f2").tobytes()
    for data, encoding, tol in (
        (s16, "pcm_s16le", 1e-4),
        (s32, "pcm_s32le", 1e-6),
        (f32, "pcm_f32le", 0),
        (f16, "pcm_f16le", 1e-3),
    ):
        np.testing.assert_allclose(decode_samples(data, encoding), x, atol=tol + 1e-7)


def test_g711_tables_match_the_standard() -> None:
    # ITU-T G.711: mu-law 0x00 -> -32124, 0x80 -> +32124, 0xFF -> 0; A-law 0xD5 -> +8,
    # 0x2A -> -32256, 0xAA -> +32256
    mu = decode_samples(bytes([0x00, 0x80, 0xFF]), "pcm_mulaw") * 32768
    a = decode_samples(bytes([0xD5, 0x2A, 0xAA]), "pcm_alaw") * 32768
    assert mu.tolist() == [-32124, 32124, 0]
    assert a.tolist() == [8, -32256, 32256]


@pytest.mark.parametrize(
    ("data", "encoding", "message"),
    [
        (b"\x00\x01\x02", "pcm_s16le", "whole number"),
        (b"\x00" * 6, "pcm_f32le", "whole number"),
        (np.array([np.nan, 0], "<f4").tobytes(), "pcm_f32le", "NaN"),
        (np.array([1e6, 0], "<f4").tobytes(), "pcm_f32le", "outside"),
    ],
)
def test_bad_pcm_is_refused(data: bytes, encoding: str, message: str) -> None:
    with pytest.raises(InvalidAudio, match=message):
        decode_samples(data, encoding)


def test_decoder_refuses_files_and_empty_chunks() -> None:
    with pytest.raises(InvalidAudio, match="WAV"):
        AudioDecoder().decode(b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 20)
    with pytest.raises(InvalidAudio, match="empty"):
        AudioDecoder().decode(b"")
    with pytest.raises(InvalidAudio, match="base64"):
        decode_base64("not base64!")
    with pytest.raises(InvalidAudio, match="sample rate"):
        AudioDecoder("pcm_s16le", 1000)
    with pytest.raises(InvalidAudio, match="encoding"):
        AudioDecoder("opus", 16000)


def test_stateful_resampling_is_chunking_invariant() -> None:
    """48 kHz cut into odd-sized chunks resamples exactly like one stream of the whole."""
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(48000 * 2) * 0.1).astype("<f4")
    whole = soxr.ResampleStream(48000, 16000, 1, dtype="float32", quality="HQ")
    expected = np.concatenate([whole.resample_chunk(x), whole.resample_chunk(x[:0], last=True)])
    decoder = AudioDecoder("pcm_f32le", 48000)
    data = x.tobytes()
    out, i = [], 0
    for size in [4, 4000, 12, 36000, 7996] * 40:
        if i >= len(data):
            break
        out.append(decoder.decode(data[i : i + size]))
        i += size
    out.append(decoder.flush())
    got = np.concatenate(out)
    assert abs(got.size - 32000) <= 1
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_events_are_parsed_once_into_typed_classes() -> None:
    event = parse_event(
        '{"type": "session.update", "session": {"target_streaming_delay_ms": 240,'
        ' "audio_format": {"encoding": "pcm_s16le", "sample_rate": 48000}, "extra": 1}}',
        mp.ADAPTERS,
    )
    assert isinstance(event, mp.SessionUpdate)
    assert event.session.target_streaming_delay_ms == 240
    assert event.session.audio_format is not None
    assert event.session.audio_format.sample_rate == 48000
    commit = parse_event('{"type": "input_audio_buffer.commit", "final": true}', vp.ADAPTERS)
    assert isinstance(commit, vp.InputAudioBufferCommit) and commit.final


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        ("{not json", "invalid_json"),
        ("[1, 2]", "invalid_json"),
        ('{"audio": "AAAA"}', "unknown_event"),
        ('{"type": "response.create"}', "unknown_event"),
        ('{"type": "input_audio_buffer.append", "audio": 5}', "invalid_event"),
        ('{"type": "input_audio_buffer.append"}', "invalid_event"),
        ('{"type": "session.update", "target_streaming_delay_ms": "480"}', "invalid_event"),
        ('{"type": "input_audio_buffer.commit", "final": "yes"}', "invalid_event"),
    ],
)
def test_bad_messages_map_to_error_kinds(raw: str, kind: str) -> None:
    with pytest.raises(ProtocolError) as info:
        parse_event(raw, vp.ADAPTERS)
    assert info.value.kind == kind


def test_error_events_have_each_protocols_shape() -> None:
    assert vp.ErrorEvent.of("invalid_json", "x").model_dump() == {
        "type": "error",
        "error": "x",
        "code": "invalid_json",
    }
    assert mp.Error.of("unauthorized", "y").model_dump() == {
        "type": "error",
        "error": {"message": "y", "code": 401},
    }


def test_api_key_from_header_or_query() -> None:
    settings = Settings(api_key="s3cret")
    no_query = QueryParams("")
    assert is_authorized(settings, Headers({"authorization": "Bearer s3cret"}), no_query)
    assert is_authorized(settings, Headers({}), QueryParams("api_key=s3cret"))
    assert not is_authorized(settings, Headers({"authorization": "Bearer nope"}), no_query)
    assert not is_authorized(settings, Headers({}), no_query)
    assert is_authorized(Settings(), Headers({}), no_query)


def test_cli_help_and_settings(capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for option in (
        "--host",
        "--port",
        "--model",
        "--device",
        "--dtype",
        "--max-sessions",
        "--api-key",
        "--log-level",
        "/v1/realtime",
    ):
        assert option in out
    monkeypatch.setenv("STREAMSCRIBE_API_KEY", "from-env")
    settings = settings_from_args(build_parser().parse_args(["--max-sessions", "3"]))
    assert settings.api_key == "from-env" and settings.max_sessions == 3
    settings = settings_from_args(build_parser().parse_args(["--api-key", "flag"]))
    assert settings.api_key == "flag"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--delay-ms", "100"])
    for bad in (["--threads", "0"], ["--threads", "-2"], ["--max-buffer-seconds", "0"],
                ["--max-sessions", "0"], ["--batch-wait-ms", "-1"]):
        with pytest.raises(SystemExit, match="must be"):
            settings_from_args(build_parser().parse_args(bad))


def test_served_model_names() -> None:
    assert Settings().model_names == ("streamscribe",)
    assert Settings(model="mistralai/Voxtral-Mini-4B-Realtime-2602").model_names == (
        "mistralai/Voxtral-Mini-4B-Realtime-2602",
        "streamscribe",
    )
    assert Settings(served_model_names=("a", "b")).model_id == "a"


def test_base64_round_trip() -> None:
    data = np.arange(-5, 5, dtype="<i2").tobytes()
    assert decode_base64(base64.b64encode(data).decode()) == data
