"""Fixtures for the server tests: a tiny random checkpoint, a real uvicorn on 127.0.0.1 in a
thread, in-process reference transcripts and small WebSocket helpers.

Test modules import the fixtures they use by name (pytest finds fixtures in the module's
namespace), so no conftest.py is needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from model import load_model
from model.testing import tiny_args, write_random_checkpoint
from server.cli import StreamscribeServer, build_server
from server.settings import Settings
from server.state import ServerState
from tests.audio_fixtures import eval_real_files

SPEECH_FILES = eval_real_files()
# short real utterances (~2-3.5 s) keep the whole server suite fast on 2 cores
SHORT = sorted(SPEECH_FILES, key=lambda p: sf.info(str(p)).duration)[:6]


def read_pcm16(path: Path) -> bytes:
    audio, rate = sf.read(str(path), dtype="int16")
    assert rate == 16000 and audio.ndim == 1
    return audio.tobytes()


@dataclass
class Reference:
    text: str
    words: list[tuple[str, float, float]]
    tokens: list[int]


def reference_transcript(model: Any, audio: bytes | np.ndarray, delay_ms: int) -> Reference:
    """What an in-process `streaming.Session` (its own engine, nothing shared) produces."""
    import torch

    from streaming import Session

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # like the test servers: 2 cores, shared with them
    session = Session(model, delay_ms=delay_ms)
    try:
        session.feed(audio)
        session.finish()
        words = [(w.text, round(w.start_s, 3), round(w.end_s, 3)) for w in session.words]
        return Reference(session.text, words, list(session.tokens))
    finally:
        session.close()
        torch.set_num_threads(threads)


class ServerThread:
    """`streamscribe serve` (the CLI's server class) on 127.0.0.1:<free port>, in a thread."""

    def __init__(self, settings: Settings, model: Any) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.settings = replace(settings, host="127.0.0.1", port=self.port, log_level="warning")
        self.server: StreamscribeServer = build_server(self.settings, model=model)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    @property
    def state(self) -> ServerState:
        return self.server.streamscribe

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=60)
        self.sock.close()

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        request = urllib.request.Request(self.http + path, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()

    def metric(self, name: str) -> float:
        _, body = self.get("/metrics")
        for line in body.decode().splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
        raise KeyError(name)

    def wait_idle(self, timeout: float = 20.0) -> None:
        """Until no session is admitted and the scheduler holds no stream."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            scheduler = self.state.scheduler
            if self.metric("streamscribe_open_sessions") == 0 and (
                scheduler is not None and scheduler.active_streams == 0
            ):
                return
            time.sleep(0.05)
        raise AssertionError(
            f"sessions left: gauge={self.metric('streamscribe_open_sessions')}, "
            f"streams={self.state.scheduler.active_streams if self.state.scheduler else None}"
        )


def make_chatty_checkpoint(directory: Path) -> Path:
    """`model.testing`'s tiny random model with larger weights (seed 3, std 0.5, embeddings
    0.3): it emits text at most steps and every delay, so transcripts are worth comparing."""
    return write_random_checkpoint(directory / "model", tiny_args(), seed=3, std=0.5,
                                   embedding_std=0.3)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_chatty_checkpoint(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture(scope="session")
def tiny_model(tiny_checkpoint: Path) -> Any:
    return load_model(tiny_checkpoint)


@pytest.fixture(scope="module")
def live_server(tiny_model: Any) -> Iterator[ServerThread]:
    with ServerThread(Settings(max_sessions=16, torch_threads=1), tiny_model) as server:
        yield server


# --- raw WebSocket helpers (the `websockets` client, as any non-SDK client would use)


@dataclass
class Conversation:
    events: list[dict[str, Any]] = field(default_factory=list)
    close_code: int | None = None
    close_reason: str = ""

    def of_type(self, event_type: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("type") == event_type]

    @property
    def errors(self) -> list[dict[str, Any]]:
        return self.of_type("error")


async def converse(
    url: str,
    messages: list[Any],
    *,
    until: str | None = None,
    idle: float = 1.0,
    headers: dict[str, str] | None = None,
) -> Conversation:
    """Send `messages` (dicts as JSON, str raw, bytes binary) after session.created and
    collect events until an event of type `until`, a close, or `idle` seconds of silence."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    conv = Conversation()
    async with connect(url, additional_headers=headers, max_size=None) as ws:
        try:
            conv.events.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
            for message in messages:
                await ws.send(json.dumps(message) if isinstance(message, dict) else message)
            while True:
                raw = await asyncio.wait_for(ws.recv(), idle if until is None else 60)
                conv.events.append(json.loads(raw))
                if until is not None and conv.events[-1].get("type") == until:
                    break
        except ConnectionClosed:
            pass
        except TimeoutError:
            pass
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ws.wait_closed(), 0.05 if until is None else 0.5)
        if ws.close_code is not None:
            conv.close_code = ws.close_code
            conv.close_reason = ws.close_reason or ""
    return conv


def frames(pcm: bytes, chunk_bytes: int = 2560) -> list[bytes]:
    return [pcm[i : i + chunk_bytes] for i in range(0, len(pcm), chunk_bytes)]


def run(coro: Any) -> Any:
    return asyncio.run(coro)
