"""Every class of bad input gets a protocol error or a close code, and never disturbs the
session itself or the other sessions; abrupt disconnects leave nothing behind."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest

from server.settings import Settings
from tests.server_fixtures import (
    SHORT,
    ServerThread,
    converse,
    frames,
    live_server,
    read_pcm16,
    reference_transcript,
    run,
    tiny_checkpoint,
    tiny_model,
)

__all__ = ["live_server", "tiny_checkpoint", "tiny_model"]

MISTRAL = "/v1/audio/transcriptions/realtime?model=streamscribe"
VLLM = "/v1/realtime"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# (label, message, vLLM code, Mistral code)
BAD_INPUTS: list[tuple[str, Any, str, int]] = [
    ("bad JSON", "{not json", "invalid_json", 400),
    ("not an object", "[1, 2, 3]", "invalid_json", 400),
    ("no type", {"audio": b64(b"\0\0")}, "unknown_event", 400),
    ("unknown event", {"type": "response.create"}, "unknown_event", 400),
    ("wrong type", {"type": "input_audio_buffer.append", "audio": 1234}, "invalid_event", 422),
    ("missing field", {"type": "input_audio_buffer.append"}, "invalid_event", 422),
    ("not base64", {"type": "input_audio_buffer.append", "audio": "%%%%"}, "invalid_audio", 400),
    (
        "odd bytes",
        {"type": "input_audio_buffer.append", "audio": b64(b"\1\2\3")},
        "invalid_audio",
        400,
    ),
    (
        "a WAV file",
        {"type": "input_audio_buffer.append", "audio": b64(b"RIFF\x24\0\0\0WAVEfmt " + bytes(24))},
        "invalid_audio",
        400,
    ),
    ("empty audio", {"type": "input_audio_buffer.append", "audio": ""}, "invalid_audio", 400),
    ("odd binary frame", b"\1\2\3", "invalid_audio", 400),
    (
        "append too large",
        {"type": "input_audio_buffer.append", "audio": b64(bytes(300_000))},
        "message_too_large",
        413,
    ),
]


def as_mistral(message: Any) -> Any:
    """The same bad input in the Mistral protocol's vocabulary."""
    if isinstance(message, dict) and message.get("type") == "input_audio_buffer.append":
        return {**message, "type": "input_audio.append"}
    return message


def test_vllm_bad_inputs_then_a_good_utterance(live_server: ServerThread, tiny_model: Any) -> None:
    pcm = read_pcm16(SHORT[0])
    ref = reference_transcript(tiny_model, pcm, 480)
    messages: list[Any] = [
        {"type": "input_audio_buffer.append", "audio": b64(pcm[:2560])},  # before session.update
        b"\0\0" * 1280,  # binary before session.update
        {"type": "input_audio_buffer.commit", "final": True},  # commit before session.update
        {"type": "session.update", "model": "whisper-1"},  # model not served
        {"type": "session.update", "model": 7},  # wrong type
        {"type": "session.update", "target_streaming_delay_ms": 500},  # not an allowed delay
        {"type": "session.update", "model": "streamscribe"},
    ]
    expected = ["model_not_validated"] * 3 + ["model_not_found", "invalid_event", "invalid_config"]
    messages += [m for _, m, _, _ in BAD_INPUTS]
    expected += [code for _, _, code, _ in BAD_INPUTS]
    messages += [*frames(pcm), {"type": "input_audio_buffer.commit", "final": True}]
    conv = run(converse(live_server.ws + VLLM, messages, until="transcription.done"))
    codes = [e["code"] for e in conv.errors]
    assert codes == expected, codes
    assert all(isinstance(e["error"], str) and e["error"] for e in conv.errors)
    # the garbage before did not reach the model: the transcript is the clean audio's
    assert conv.events[-1]["type"] == "transcription.done"
    assert conv.events[-1]["text"] == ref.text
    live_server.wait_idle()


def test_mistral_bad_inputs_then_a_good_utterance(
    live_server: ServerThread, tiny_model: Any
) -> None:
    pcm = read_pcm16(SHORT[1])
    ref = reference_transcript(tiny_model, pcm, 480)
    messages: list[Any] = [
        {"type": "session.update", "session": {"target_streaming_delay_ms": 100}},
        {
            "type": "session.update",
            "session": {"audio_format": {"encoding": "opus", "sample_rate": 16000}},
        },
        {
            "type": "session.update",
            "session": {"audio_format": {"encoding": "pcm_s16le", "sample_rate": 1}},
        },
        {"type": "session.update", "session": {"diarize": True}},
        {"type": "session.update", "session": {"target_streaming_delay_ms": "480"}},
    ]
    expected = [422, 422, 422, 422, 422]
    messages += [as_mistral(m) for _, m, _, _ in BAD_INPUTS]
    expected += [code for _, _, _, code in BAD_INPUTS]
    messages += frames(pcm)
    # after audio started the format and delay are fixed
    messages += [{"type": "session.update", "session": {"target_streaming_delay_ms": 160}}]
    expected += [409]
    messages += [{"type": "input_audio.end"}]
    conv = run(converse(live_server.ws + MISTRAL, messages, until="transcription.done"))
    codes = [e["error"]["code"] for e in conv.errors]
    assert codes == expected, [e["error"] for e in conv.errors]
    assert conv.events[-1]["text"] == ref.text
    assert conv.close_code == 1000
    live_server.wait_idle()


def test_audio_after_end_and_double_end(live_server: ServerThread) -> None:
    messages: list[Any] = [
        {"type": "session.update"},
        b"\0\0" * 4000,
        {"type": "input_audio_buffer.commit", "final": True},
        {"type": "input_audio_buffer.commit", "final": True},
    ]
    conv = run(converse(live_server.ws + VLLM, messages, idle=3))
    assert [e.get("code") for e in conv.errors] == ["invalid_state"]
    assert conv.of_type("transcription.done")
    live_server.wait_idle()


def test_oversized_frame_is_closed_1009_and_others_continue(
    live_server: ServerThread, tiny_model: Any
) -> None:
    pcm = read_pcm16(SHORT[2])
    ref = reference_transcript(tiny_model, pcm, 480)

    async def both() -> tuple[Any, Any]:
        huge = json.dumps({"type": "input_audio_buffer.append", "audio": "A" * (2 << 20)})
        good: list[Any] = [{"type": "session.update"}, *frames(pcm)]
        good += [{"type": "input_audio_buffer.commit", "final": True}]
        return await asyncio.gather(
            converse(live_server.ws + VLLM, [{"type": "session.update"}, huge], idle=5),
            converse(live_server.ws + VLLM, good, until="transcription.done"),
        )

    bad, good = run(both())
    assert bad.close_code == 1009
    assert good.events[-1]["text"] == ref.text
    live_server.wait_idle()


def test_client_far_ahead_of_real_time_gets_buffer_full(tiny_model: Any) -> None:
    settings = Settings(max_buffer_seconds=4.0, torch_threads=1)
    with ServerThread(settings, tiny_model) as server:
        second = bytes(16000 * 2 * 2)  # 2 s of PCM16 per binary frame
        messages: list[Any] = [{"type": "session.update"}] + [second] * 6
        messages += [{"type": "input_audio_buffer.commit", "final": True}]
        conv = run(converse(server.ws + VLLM, messages, until="transcription.done"))
        full = [e for e in conv.errors if e["code"] == "buffer_full"]
        assert full and "4 s" in full[0]["error"] and "dropped" in full[0]["error"]
        assert conv.events[-1]["type"] == "transcription.done"  # the session survived
        server.wait_idle()


@pytest.mark.parametrize("path", [VLLM, MISTRAL])
def test_disconnect_storm_leaves_no_session(live_server: ServerThread, path: str) -> None:
    """Clients vanish at every stage: before audio, mid-stream, mid-step, after the end,
    with and without a close frame. Every slot and engine session must be freed."""
    from websockets.asyncio.client import connect

    pcm = read_pcm16(SHORT[3])
    update: dict[str, Any] = (
        {"type": "session.update"}
        if path == VLLM
        else {"type": "session.update", "session": {"target_streaming_delay_ms": 160}}
    )
    end = (
        {"type": "input_audio_buffer.commit", "final": True}
        if path == VLLM
        else {"type": "input_audio.end"}
    )

    async def victim(i: int) -> None:
        async with connect(live_server.ws + path) as ws:
            await ws.recv()
            await ws.send(json.dumps(update))
            n_frames = [0, 3, 10, 25, 40][i % 5]
            for chunk in frames(pcm)[:n_frames]:
                await ws.send(chunk)
            if i % 3 == 0:
                await ws.send(json.dumps(end))
            await asyncio.sleep(0.01 * (i % 4))
            if i % 2:
                ws.transport.abort()  # TCP reset, no close frame
            # else: the context manager sends a normal close frame

    async def storm() -> None:
        await asyncio.gather(*(victim(i) for i in range(24)), return_exceptions=True)

    run(storm())
    live_server.wait_idle()
    assert live_server.metric("streamscribe_open_sessions") == 0
