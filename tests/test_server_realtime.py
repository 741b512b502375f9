"""Both realtime protocols against a real uvicorn on 127.0.0.1, with a tiny random model:
whatever the (garbage) text is, the server must deliver exactly what an in-process
`streaming.Session` produces for the same audio and delay."""

from __future__ import annotations

import asyncio
import base64
import json
import urllib.request
import uuid
from typing import Any

import numpy as np
import pytest
import soundfile as sf
import soxr

from server.audio import AudioDecoder
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

__all__ = ["live_server", "tiny_checkpoint", "tiny_model"]  # fixtures used by name


def words_of(event: dict[str, Any]) -> list[tuple[str, float, float]]:
    return [(w["text"], w["start"], w["end"]) for w in event.get("words") or []]


def test_mistral_sdk_transcribes_real_speech(live_server: ServerThread, tiny_model: Any) -> None:
    from mistralai.client import Mistral
    from mistralai.client.models import AudioFormat

    pcm = read_pcm16(SHORT[0])
    expected = reference_transcript(tiny_model, pcm, 240)

    async def transcribe() -> list[Any]:
        client = Mistral(api_key="unused", server_url=live_server.http)

        async def audio() -> Any:
            for i in range(0, len(pcm), 3200):
                yield pcm[i : i + 3200]

        return [
            event
            async for event in client.audio.realtime.transcribe_stream(
                audio(),
                model="streamscribe",
                audio_format=AudioFormat(encoding="pcm_s16le", sample_rate=16000),
                target_streaming_delay_ms=240,
            )
        ]

    events = run(transcribe())
    kinds = [type(e).__name__ for e in events]
    assert kinds[0] == "RealtimeTranscriptionSessionCreated"
    assert kinds[1] == "RealtimeTranscriptionSessionUpdated"
    assert events[1].session.target_streaming_delay_ms == 240
    assert kinds[-1] == "TranscriptionStreamDone", kinds
    assert "UnknownRealtimeEvent" not in kinds  # every event validated against the SDK's models
    deltas = [e for e in events if kinds[events.index(e)] == "TranscriptionStreamTextDelta"]
    assert deltas, "no transcription.text.delta"
    done = events[-1]
    assert "".join(d.text for d in deltas) == expected.text
    assert done.text == expected.text
    words = [(w["text"], w["start"], w["end"]) for w in done.additional_properties["words"]]
    assert words == expected.words
    streamed = [
        (w["text"], w["start"], w["end"])
        for d in deltas
        for w in d.additional_properties.get("words") or []
    ]
    assert streamed == expected.words
    assert done.usage.prompt_audio_seconds == int(np.ceil(len(pcm) / 2 / 16000))
    assert done.usage.completion_tokens == len(expected.tokens)
    live_server.wait_idle()


def test_vllm_protocol_two_utterances_base64_and_binary(
    live_server: ServerThread, tiny_model: Any
) -> None:
    first, second = read_pcm16(SHORT[1]), read_pcm16(SHORT[2])
    ref1 = reference_transcript(tiny_model, first, 480)
    ref2 = reference_transcript(tiny_model, second, 480)

    async def conversation() -> list[dict[str, Any]]:
        from websockets.asyncio.client import connect

        events: list[dict[str, Any]] = []
        async with connect(live_server.ws + "/v1/realtime") as ws:
            events.append(json.loads(await ws.recv()))
            await ws.send(json.dumps({"type": "session.update", "model": "streamscribe"}))
            await ws.send(json.dumps({"type": "input_audio_buffer.commit"}))
            for chunk in frames(first, 3200):
                audio = base64.b64encode(chunk).decode()
                await ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": audio}))
            await ws.send(json.dumps({"type": "input_audio_buffer.commit", "final": True}))
            while events[-1].get("type") != "transcription.done":
                events.append(json.loads(await asyncio.wait_for(ws.recv(), 60)))
            for chunk in frames(second):  # raw PCM16 binary frames, 80 ms each
                await ws.send(chunk)
            await ws.send(json.dumps({"type": "input_audio_buffer.commit", "final": True}))
            events.append(json.loads(await asyncio.wait_for(ws.recv(), 60)))
            while events[-1].get("type") != "transcription.done":
                events.append(json.loads(await asyncio.wait_for(ws.recv(), 60)))
        return events

    events = run(conversation())
    assert events[0]["type"] == "session.created" and events[0]["id"].startswith("sess-")
    assert not [e for e in events if e["type"] == "error"]
    dones = [i for i, e in enumerate(events) if e["type"] == "transcription.done"]
    assert len(dones) == 2
    for (begin, end), ref in (((0, dones[0]), ref1), ((dones[0], dones[1]), ref2)):
        deltas = [e for e in events[begin:end] if e["type"] == "transcription.delta"]
        assert ref.text and deltas
        assert "".join(d["delta"] for d in deltas) == ref.text
        done = events[end]
        assert done["text"] == ref.text
        assert words_of(done) == ref.words
        assert [w for d in deltas for w in words_of(d)] == ref.words
        assert done["usage"]["completion_tokens"] == len(ref.tokens)
    live_server.wait_idle()


def test_48khz_float_audio_is_resampled_statefully(
    live_server: ServerThread, tiny_model: Any
) -> None:
    audio16, _ = sf.read(str(SHORT[3]), dtype="float32")
    audio48 = soxr.resample(audio16, 16000, 48000).astype("<f4")
    wire = audio48.tobytes()
    decoder = AudioDecoder("pcm_f32le", 48000)  # the server's conversion, in one piece
    expected = reference_transcript(
        tiny_model, np.concatenate([decoder.decode(wire), decoder.flush()]), 720
    )
    sizes = [4 * n for n in (1, 997, 3840, 12)]  # odd sample counts, across filter state
    chunks, i, k = [], 0, 0
    while i < len(wire):
        chunks.append(wire[i : i + sizes[k % 4]])
        i, k = i + sizes[k % 4], k + 1
    update = {
        "type": "session.update",
        "session": {
            "audio_format": {"encoding": "pcm_f32le", "sample_rate": 48000},
            "target_streaming_delay_ms": 720,
        },
    }
    messages: list[Any] = [update]
    messages += [
        {"type": "input_audio.append", "audio": base64.b64encode(c).decode()} for c in chunks
    ]
    messages += [{"type": "input_audio.flush"}, {"type": "input_audio.end"}]
    url = live_server.ws + "/v1/audio/transcriptions/realtime?model=streamscribe"
    conv = run(converse(url, messages, until="transcription.done"))
    assert not conv.errors
    assert conv.of_type("session.updated")[0]["session"]["audio_format"]["sample_rate"] == 48000
    assert conv.events[-1]["text"] == expected.text
    assert words_of(conv.events[-1]) == expected.words
    assert conv.close_code == 1000  # Mistral protocol: closed after transcription.done


def test_sessions_with_different_delays_share_batches(
    live_server: ServerThread, tiny_model: Any
) -> None:
    """Three clients, three delays, streaming at once: each gets exactly its solo output."""
    cases = [(SHORT[0], 160), (SHORT[1], 720), (SHORT[2], 1200)]
    refs = [reference_transcript(tiny_model, read_pcm16(p), d) for p, d in cases]
    batches_before = live_server.metric("streamscribe_batch_size_sum") - live_server.metric(
        "streamscribe_batch_size_count"
    )

    async def one(path: Any, delay: int) -> Any:
        messages: list[Any] = [{"type": "session.update", "target_streaming_delay_ms": delay}]
        messages += frames(read_pcm16(path), 1280 * 2 * 3)
        messages += [{"type": "input_audio_buffer.commit", "final": True}]
        return await converse(live_server.ws + "/v1/realtime", messages, until="transcription.done")

    async def all_at_once() -> list[Any]:
        return await asyncio.gather(*(one(p, d) for p, d in cases))

    for conv, ref in zip(run(all_at_once()), refs, strict=True):
        assert not conv.errors
        assert conv.events[-1]["text"] == ref.text
        assert words_of(conv.events[-1]) == ref.words
    batches_after = live_server.metric("streamscribe_batch_size_sum") - live_server.metric(
        "streamscribe_batch_size_count"
    )
    assert batches_after > batches_before, "no step ever batched two sessions"
    live_server.wait_idle()


def multipart(fields: dict[str, str | list[str]], file_bytes: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        for v in [value] if isinstance(value, str) else value:
            head = f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
            parts.append(f"{head}{v}\r\n".encode())
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n'
        "Content-Type: audio/wav\r\n\r\n".encode()
        + file_bytes
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def post_file(
    server: ServerThread, fields: dict[str, Any], data: bytes, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    body, content_type = multipart(fields, data)
    request = urllib.request.Request(
        server.http + "/v1/audio/transcriptions",
        data=body,
        headers={"Content-Type": content_type, **(headers or {})},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def test_http_transcription_is_openai_compatible(
    live_server: ServerThread, tiny_model: Any
) -> None:
    path = SHORT[4]
    ref = reference_transcript(tiny_model, read_pcm16(path), 480)
    status, body = post_file(
        live_server,
        {"model": "streamscribe", "timestamp_granularities[]": "word"},
        path.read_bytes(),
    )
    assert status == 200, body
    assert body["text"] == ref.text.strip()
    assert [(w["word"], w["start"], w["end"]) for w in body["words"]] == ref.words
    status, body = post_file(live_server, {"response_format": "verbose_json"}, path.read_bytes())
    assert status == 200 and body["task"] == "transcribe" and body["duration"] > 0
    status, body = post_file(live_server, {}, b"this is not audio")
    assert status == 400 and "decode" in body["detail"]
    status, body = post_file(live_server, {"model": "whisper-1"}, path.read_bytes())
    assert status == 404
    live_server.wait_idle()


def test_ops_endpoints_and_web_page(live_server: ServerThread) -> None:
    assert live_server.get("/health") == (200, b'{"status":"ok"}')
    status, body = live_server.get("/ready")
    assert status == 200 and json.loads(body)["ready"] is True
    status, body = live_server.get("/metrics")
    text = body.decode()
    for name in (
        "streamscribe_open_sessions",
        "streamscribe_step_duration_seconds_bucket",
        "streamscribe_batch_size_bucket",
        "streamscribe_audio_seconds_total",
        "streamscribe_realtime_lag_seconds_bucket",
    ):
        assert name in text
    status, body = live_server.get("/")
    assert status == 200 and b"<html" in body.lower()
    if (live_server.settings.web_dir / "app.js").is_file():
        assert live_server.get("/static/app.js")[0] == 200
    assert live_server.get("/static/missing.js")[0] == 404


@pytest.mark.parametrize("delay", [80, 2400])
def test_extreme_delays(live_server: ServerThread, tiny_model: Any, delay: int) -> None:
    pcm = read_pcm16(SHORT[5])
    ref = reference_transcript(tiny_model, pcm, delay)
    messages: list[Any] = [
        {"type": "session.update", "session": {"target_streaming_delay_ms": delay}}
    ]
    messages += frames(pcm, 4000) + [{"type": "input_audio.end"}]
    url = live_server.ws + "/v1/audio/transcriptions/realtime?model=streamscribe"
    conv = run(converse(url, messages, until="transcription.done"))
    assert conv.events[-1]["text"] == ref.text
