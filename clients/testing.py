"""A scripted stand-in for the server's ``/v1/realtime`` protocol, for client tests and demos.

It speaks the same wire protocol as ``server/`` (session.created, session.update, binary
PCM16 frames, commit ``final``, transcription.delta with ``start``/``words``,
transcription.done, error) without a model: it records what the client sent and answers with
scripted words, one word per ``frames_per_word`` frames of audio. It runs in a background
thread with its own event loop, so synchronous tests and subprocesses can use it.

``ServerProcess`` runs the real ``streamscribe serve`` in a subprocess for live tests.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.asyncio.server import ServerConnection, serve


@dataclass
class Recorded:
    """What one connection sent."""

    headers: dict[str, str] = field(default_factory=dict)
    path: str = ""
    messages: list[dict[str, Any]] = field(default_factory=list)
    frames: list[bytes] = field(default_factory=list)

    @property
    def audio(self) -> bytes:
        return b"".join(self.frames)


class FakeRealtimeServer:
    def __init__(
        self,
        words: tuple[str, ...] = ("hello", "streaming", "world"),
        frames_per_word: int = 5,
        api_key: str | None = None,
        error_after_frames: int | None = None,
        close_after_frames: int | None = None,
        pause_before: dict[int, float] | None = None,
    ) -> None:
        self.words = words
        self.frames_per_word = frames_per_word
        self.api_key = api_key
        self.error_after_frames = error_after_frames
        self.close_after_frames = close_after_frames
        self.pause_before = pause_before or {}  # word index -> extra silence before it (s)
        self.connections: list[Recorded] = []
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/realtime"

    def timings(self) -> list[tuple[str, float, float]]:
        """(text, start, end) of every scripted word."""
        out = []
        t = 0.5
        for i, w in enumerate(self.words):
            t += self.pause_before.get(i, 0.0)
            out.append((w, round(t, 3), round(t + 0.3, 3)))
            t += 0.4
        return out

    def transcript(self) -> str:
        return "".join(" " + w for w in self.words)

    # -- lifecycle -----------------------------------------------------------------------
    def __enter__(self) -> FakeRealtimeServer:
        self._thread = threading.Thread(target=self._run, name="fake-realtime", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("fake server did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10)

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        # max_queue=None: never stop reading (a flooding client's close frame must get through)
        async with serve(self._handle, "127.0.0.1", 0, compression=None, max_queue=None) as server:
            self.port = next(iter(server.sockets)).getsockname()[1]
            self._ready.set()
            await self._stop.wait()

    # -- protocol ------------------------------------------------------------------------
    async def _handle(self, ws: ServerConnection) -> None:
        rec = Recorded(
            headers={k.lower(): v for k, v in ws.request.headers.raw_items()} if ws.request else {},
            path=ws.request.path if ws.request else "",
        )
        self.connections.append(rec)
        send = lambda event: ws.send(json.dumps(event))  # noqa: E731
        if self.api_key is not None:
            given = rec.headers.get("authorization", "")
            query_ok = f"api_key={self.api_key}" in rec.path
            if given != f"Bearer {self.api_key}" and not query_ok:
                await send(
                    {"type": "error", "error": "missing or invalid API key", "code": "unauthorized"}
                )
                await ws.close(1008, "missing or invalid API key")
                return
        await send({"type": "session.created", "id": "sess-fake", "created": 0})
        timings = self.timings()
        sent_words = 0
        pending_word: tuple[str, float, float] | None = None
        n_frames = 0

        async def emit_word() -> None:
            nonlocal sent_words, pending_word
            text, start, end = timings[sent_words]
            words = [] if pending_word is None else [pending_word]
            event: dict[str, Any] = {
                "type": "transcription.delta",
                "delta": " " + text,
                "start": start,
            }
            if words:
                event["words"] = [{"text": w[0], "start": w[1], "end": w[2]} for w in words]
            await send(event)
            pending_word = timings[sent_words]
            sent_words += 1

        async for raw in ws:
            if isinstance(raw, bytes):
                rec.frames.append(raw)
                n_frames += 1
                if self.error_after_frames is not None and n_frames >= self.error_after_frames:
                    await send({"type": "error", "error": "too much audio", "code": "buffer_full"})
                    await ws.close(1008, "buffer full")
                    return
                if self.close_after_frames is not None and n_frames >= self.close_after_frames:
                    await ws.close(1011, "engine failure")
                    return
                if n_frames % self.frames_per_word == 0 and sent_words < len(timings):
                    await emit_word()
                continue
            message = json.loads(raw)
            rec.messages.append(message)
            if message.get("type") == "input_audio_buffer.commit" and message.get("final"):
                while sent_words < len(timings):
                    await emit_word()
                done_words = [{"text": w, "start": s, "end": e} for w, s, e in timings]
                if pending_word is not None:
                    last = pending_word
                    await send(
                        {
                            "type": "transcription.delta",
                            "delta": "",
                            "words": [{"text": last[0], "start": last[1], "end": last[2]}],
                        }
                    )
                await send(
                    {"type": "transcription.done", "text": self.transcript(), "words": done_words}
                )

    @property
    def audio_seconds(self) -> float:
        return sum(len(c.audio) for c in self.connections) / 2 / 16000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    """`streamscribe serve` in a subprocess on 127.0.0.1:<free port>, as a user runs it.

    ``with ServerProcess(model_dir, api_key="k") as srv: srv.ws_url ...``; waits for
    ``GET /ready``; SIGTERM on exit (the server flushes open sessions, then stops).
    """

    def __init__(
        self,
        model_dir: str | Path,
        api_key: str | None = None,
        extra_args: tuple[str, ...] = (),
        ready_timeout: float = 180.0,
    ) -> None:
        self.model_dir = str(model_dir)
        self.api_key = api_key
        self.extra_args = extra_args
        self.ready_timeout = ready_timeout
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = tempfile.NamedTemporaryFile(prefix="streamscribe-serve-", suffix=".log")

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/realtime"

    def __enter__(self) -> ServerProcess:
        repo = Path(__file__).resolve().parents[1]
        env = dict(os.environ)
        env["PYTHONPATH"] = str(repo) + os.pathsep + env.get("PYTHONPATH", "")
        env.pop("STREAMSCRIBE_API_KEY", None)
        cmd = [
            sys.executable,
            "-m",
            "streamscribe_cli",
            "serve",
            "--model",
            self.model_dir,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--log-level",
            "warning",
        ]
        if self.api_key:
            cmd += ["--api-key", self.api_key]
        cmd += list(self.extra_args)
        self.proc = subprocess.Popen(cmd, cwd=repo, env=env, stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + self.ready_timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.logs()}")
            try:
                with urllib.request.urlopen(self.http_url + "/ready", timeout=5) as response:
                    if response.status == 200:
                        return self
            except (OSError, urllib.error.URLError):
                pass
            if time.monotonic() > deadline:
                self.__exit__()
                raise RuntimeError(f"server not ready after {self.ready_timeout} s:\n{self.logs()}")
            time.sleep(0.2)

    def logs(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")[-5000:]

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()
