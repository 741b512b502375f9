"""`streamscribe serve` as a real process: SIGTERM stops accepting, flushes every open
session's final words (transcription.done), closes with 1001 and exits 0."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from tests.server_fixtures import (
    SHORT,
    frames,
    read_pcm16,
    reference_transcript,
    run,
    tiny_checkpoint,
    tiny_model,
)

__all__ = ["tiny_checkpoint", "tiny_model"]

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            stderr = proc.stderr.read().decode() if proc.stderr else ""
            raise RuntimeError(f"server exited: {stderr}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError("server not ready")


def steps_done(port: int) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line.startswith("streamscribe_step_duration_seconds_count "):
                return float(line.split()[1])
    return 0.0


def test_sigterm_flushes_final_words(tiny_checkpoint: Path, tiny_model: Any) -> None:
    from websockets.asyncio.client import connect

    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO), "STREAMSCRIBE_API_KEY": ""}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamscribe_cli",
            "serve",
            "--model",
            str(tiny_checkpoint),
            "--port",
            str(port),
            "--threads",
            "1",
            "--log-level",
            "warning",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        wait_ready(port, proc)
        pcm = read_pcm16(SHORT[4])[: 16000 * 2]  # 1 s: the client never sends its end
        ref = reference_transcript(tiny_model, pcm, 480)

        async def scenario() -> tuple[list[dict[str, Any]], int | None, int | None, bool]:
            url = f"ws://127.0.0.1:{port}"
            async with (
                connect(url + "/v1/realtime") as streaming,
                connect(url + "/v1/audio/transcriptions/realtime?model=streamscribe") as idle,
            ):
                await idle.recv()
                events = [json.loads(await streaming.recv())]
                await streaming.send(json.dumps({"type": "session.update"}))
                for chunk in frames(pcm):
                    await streaming.send(chunk)
                # wait until the server has processed most of the audio, then stop it
                while await asyncio.to_thread(steps_done, port) < 40:
                    await asyncio.sleep(0.05)
                proc.send_signal(signal.SIGTERM)
                async for raw in streaming:
                    events.append(json.loads(raw))
                await idle.wait_closed()
                refused = False
                try:
                    async with connect(url + "/v1/realtime", open_timeout=3):
                        pass
                except OSError:
                    refused = True
                return events, streaming.close_code, idle.close_code, refused

        events, code, idle_code, refused = run(scenario())
        assert events[-1]["type"] == "transcription.done", json.dumps(events[-3:])
        assert events[-1]["text"] == ref.text  # the words still in the delay were flushed
        assert code == 1001 and idle_code == 1001
        assert refused  # not listening any more
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
