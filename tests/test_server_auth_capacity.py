"""API key (header or query, WS close 1008 / HTTP 401 before any model work) and
--max-sessions (refused at once with close 1013 / HTTP 503)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest

from server.settings import Settings
from tests.server_fixtures import (
    SHORT,
    ServerThread,
    converse,
    frames,
    read_pcm16,
    run,
    tiny_checkpoint,
    tiny_model,
)
from tests.test_server_realtime import post_file

__all__ = ["tiny_checkpoint", "tiny_model"]

KEY = "test-key-123"
MISTRAL = "/v1/audio/transcriptions/realtime?model=streamscribe"


@pytest.fixture(scope="module")
def guarded(tiny_model: Any) -> Iterator[ServerThread]:
    settings = Settings(api_key=KEY, max_sessions=2, torch_threads=1)
    with ServerThread(settings, tiny_model) as server:
        yield server


def sessions_admitted(server: ServerThread) -> float:
    _, body = server.get("/metrics")
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in body.decode().splitlines()
        if line.startswith("streamscribe_sessions_total{")
    )


def test_websocket_auth(guarded: ServerThread) -> None:
    admitted = sessions_admitted(guarded)
    steps = guarded.state.scheduler.steps if guarded.state.scheduler else None
    for path, headers in (
        ("/v1/realtime", None),
        ("/v1/realtime", {"Authorization": "Bearer wrong"}),
        (MISTRAL, None),
        (MISTRAL + "&api_key=wrong", None),
    ):
        conv = run(converse(guarded.ws + path, [b"\0\0" * 1280], headers=headers))
        assert conv.close_code == 1008, (path, conv)
        assert len(conv.events) == 1 and conv.events[0]["type"] == "error"
        assert "API key" in json.dumps(conv.events[0])
    # refused before any model work: nothing admitted, no step ran
    assert sessions_admitted(guarded) == admitted
    assert (guarded.state.scheduler.steps if guarded.state.scheduler else None) == steps

    ok_header = run(
        converse(guarded.ws + "/v1/realtime", [], headers={"Authorization": f"Bearer {KEY}"})
    )
    assert ok_header.events[0]["type"] == "session.created" and not ok_header.errors
    ok_query = run(converse(guarded.ws + MISTRAL + f"&api_key={KEY}", []))
    assert ok_query.events[0]["type"] == "session.created" and not ok_query.errors
    guarded.wait_idle()


def test_mistral_sdk_reports_auth_failure(guarded: ServerThread) -> None:
    from mistralai.client import Mistral
    from mistralai.extra.exceptions import RealtimeTranscriptionWSError

    async def connect(key: str) -> Any:
        client = Mistral(api_key=key, server_url=guarded.http)
        connection = await client.audio.realtime.connect(model="streamscribe")
        await connection.close()
        return connection

    with pytest.raises(RealtimeTranscriptionWSError, match="API key"):
        run(connect("wrong"))
    assert run(connect(KEY)).request_id.startswith("ws-")
    guarded.wait_idle()


def test_http_auth(guarded: ServerThread) -> None:
    wav = SHORT[0].read_bytes()
    status, body = post_file(guarded, {}, wav)
    assert status == 401 and "API key" in body["detail"]
    status, _ = post_file(guarded, {}, wav, headers={"Authorization": "Bearer nope"})
    assert status == 401
    status, body = post_file(guarded, {}, wav, headers={"Authorization": f"Bearer {KEY}"})
    assert status == 200 and "text" in body
    # liveness, readiness and metrics stay open for probes and scrapers
    assert guarded.get("/health")[0] == 200 and guarded.get("/metrics")[0] == 200
    guarded.wait_idle()


def test_capacity_is_enforced_at_once_and_freed(guarded: ServerThread) -> None:
    from websockets.asyncio.client import connect

    auth = {"Authorization": f"Bearer {KEY}"}
    pcm = read_pcm16(SHORT[1])

    async def scenario() -> tuple[Any, Any, tuple[int, Any], Any]:
        async with (
            connect(guarded.ws + "/v1/realtime", additional_headers=auth) as a,
            connect(guarded.ws + MISTRAL, additional_headers=auth) as b,
        ):
            await a.recv()
            await b.recv()
            await a.send(json.dumps({"type": "session.update"}))
            await a.send(frames(pcm)[0])
            loop = asyncio.get_running_loop()
            started = loop.time()
            third = await converse(guarded.ws + "/v1/realtime", [], headers=auth)
            refused_in = loop.time() - started
            http = await asyncio.to_thread(post_file, guarded, {}, SHORT[0].read_bytes(), auth)
        # both closed: once the server has noticed, a new session is admitted again
        await asyncio.to_thread(guarded.wait_idle)
        fourth = await converse(guarded.ws + "/v1/realtime", [], headers=auth)
        return third, refused_in, http, fourth

    third, refused_in, http, fourth = run(scenario())
    assert third.close_code == 1013
    assert "capacity" in third.close_reason
    assert third.events[0]["code"] == "over_capacity"
    assert refused_in < 2.0
    assert http[0] == 503 and "capacity" in http[1]["detail"]
    assert fourth.events[0]["type"] == "session.created" and fourth.close_code != 1013
    guarded.wait_idle()
