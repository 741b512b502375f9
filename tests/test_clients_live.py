"""File and microphone clients against a live `streamscribe serve` (uvicorn in a subprocess on
127.0.0.1) with a tiny random checkpoint and real speech. The model's text is garbage but
deterministic, so every transcript is compared with an in-process `streaming.Session`
on the same audio (what the server must produce), never with English."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
import soxr

from clients.mic_client import transcribe_source
from clients.realtime_client import AuthenticationFailed, RealtimeClient, ServerError
from clients.sources import FileSource
from clients.testing import ServerProcess

REPO = Path(__file__).resolve().parents[1]
AUDIO = REPO.parent / "shared" / "data" / "eval-real" / "audio"
SHORT = AUDIO / "cmu-arctic-aew-a0001.wav"  # 3.9 s
LONGER = AUDIO / "ls-test-clean-1089-134686-0001.wav"  # 3.3 s, LibriSpeech
API_KEY = "test-key-123"

pytestmark = pytest.mark.skipif(not SHORT.exists(), reason=f"real speech missing: {AUDIO}")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from model.testing import make_tiny_checkpoint

    return make_tiny_checkpoint(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture(scope="module")
def server(checkpoint: Path) -> Iterator[ServerProcess]:
    with ServerProcess(checkpoint, api_key=API_KEY) as srv:
        yield srv


@pytest.fixture(scope="module")
def model(checkpoint: Path) -> Any:
    from model import load_model

    return load_model(checkpoint)


_REFERENCES: dict[tuple[Path, int], dict[str, Any]] = {}


def reference(model: Any, path: Path, delay_ms: int = 480) -> dict[str, Any]:
    """The transcript of an in-process streaming session on the file's exact samples."""
    if (path, delay_ms) not in _REFERENCES:
        _REFERENCES[(path, delay_ms)] = _reference(model, path, delay_ms)
    return _REFERENCES[(path, delay_ms)]


def _reference(model: Any, path: Path, delay_ms: int) -> dict[str, Any]:
    from streaming import Session

    audio, rate = sf.read(str(path), dtype="int16")
    assert rate == 16000
    session = Session(model, delay_ms=delay_ms)
    try:
        session.feed(audio.astype("<i2").tobytes())
        session.finish()
        words = [
            {"text": w.text, "start": round(w.start_s, 3), "end": round(w.end_s, 3)}
            for w in session.words
        ]
        return {"text": session.text, "words": words}
    finally:
        session.close()


def cli(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run(
        [sys.executable, "-m", "streamscribe_cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=REPO,
    )


def test_stream_cli_real_time_matches_in_process_session(server: ServerProcess, model: Any) -> None:
    t0 = time.monotonic()
    run = cli("stream", str(SHORT), "--url", server.ws_url, "--api-key", API_KEY, "--json")
    elapsed = time.monotonic() - t0
    assert run.returncode == 0, run.stderr
    got = json.loads(run.stdout)
    want = reference(model, SHORT)
    assert want["text"], "the tiny model produced no text: nothing would be compared"
    assert got["text"] == want["text"]
    assert got["words"] == want["words"]
    assert elapsed >= sf.info(str(SHORT)).duration  # real-time pace by default


@pytest.mark.parametrize("delay_ms", [240])
def test_stream_cli_fast_two_files_at_other_delays(
    server: ServerProcess, model: Any, delay_ms: int
) -> None:
    run = cli(
        "stream", str(SHORT), str(LONGER), "--url", server.ws_url, "--fast",
        "--delay-ms", str(delay_ms), "--json", "--api-key", API_KEY,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    records = [json.loads(line) for line in run.stdout.splitlines()]
    assert [r["file"] for r in records] == [str(SHORT), str(LONGER)]
    for record, path in zip(records, (SHORT, LONGER), strict=True):
        want = reference(model, path, delay_ms)
        assert record["text"] == want["text"]
        assert record["words"] == want["words"]


def test_stream_cli_plain_output_and_live_deltas(server: ServerProcess, model: Any) -> None:
    run = cli("stream", str(LONGER), "--url", server.ws_url, "--fast", "--api-key", API_KEY)
    assert run.returncode == 0, run.stderr
    want = reference(model, LONGER)["text"]
    assert run.stdout == want.strip() + "\n"
    # stderr showed the words live (terminal rendering of the same words)
    shown = run.stderr.split()
    assert shown == " ".join(w["text"] for w in reference(model, LONGER)["words"]).split()


def test_stream_cli_wrong_key_and_bad_server(server: ServerProcess) -> None:
    run = cli("stream", str(SHORT), "--url", server.ws_url, "--api-key", "nope", "--fast")
    assert run.returncode == 1
    assert "API key" in run.stderr or "api-key" in run.stderr, run.stderr
    assert "Traceback" not in run.stderr
    bad = cli("stream", str(SHORT), "--url", server.ws_url.replace(str(server.port), "9"))
    assert bad.returncode == 1 and "cannot reach the server" in bad.stderr


def test_client_errors_from_the_real_server(server: ServerProcess) -> None:
    async def scenario() -> None:
        with pytest.raises(AuthenticationFailed):
            async with RealtimeClient(server.ws_url):
                pass
        client = RealtimeClient(server.ws_url, api_key=API_KEY, delay_ms=100)  # not allowed
        async with client:
            await client.send_audio(b"\x00\x00" * 1280)
            with pytest.raises(ServerError) as exc:
                async for _ in client.events():
                    pass
        assert exc.value.code == "invalid_config"

    asyncio.run(scenario())


def test_mic_pipeline_with_a_file_source_matches_the_file_client(
    server: ServerProcess, model: Any
) -> None:
    """The microphone capture path (source -> resampler -> framer -> sender) with a
    test-controlled source: a 16 kHz file played in real time in 20 ms blocks."""
    out = io.StringIO()
    source = FileSource(str(SHORT), realtime=True)
    done = asyncio.run(transcribe_source(source, server.ws_url, api_key=API_KEY, out=out))
    want = reference(model, SHORT)
    assert done.text == want["text"]
    assert [w.as_dict() for w in done.words] == want["words"]
    # the terminal display shows those words, one line per utterance
    assert out.getvalue().split() == " ".join(w["text"] for w in want["words"]).split()


def test_mic_pipeline_resamples_a_44k_stereo_source(server: ServerProcess, tmp_path: Path) -> None:
    audio, _ = sf.read(str(SHORT), dtype="float32")
    wide = soxr.resample(audio, 16000, 44100)
    path = tmp_path / "stereo-44k.wav"
    sf.write(path, np.stack([wide, 0.5 * wide], axis=1), 44100, subtype="FLOAT")
    source = FileSource(str(path), realtime=False)
    assert source.samplerate == 44100
    out = io.StringIO()
    done = asyncio.run(transcribe_source(source, server.ws_url, api_key=API_KEY, out=out))
    assert isinstance(done.text, str)  # a complete session (text is the model's business)
    assert out.getvalue().split() == " ".join(w.text for w in done.words).split()


def test_mic_cli_ctrl_c_flushes_against_the_real_server(server: ServerProcess) -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamscribe_cli", "mic", "--url", server.ws_url,
         "--api-key", API_KEY, "--input-file", str(LONGER), "--delay-ms", "160"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline()  # "[listening: ...]" once connected and capturing
        assert first.startswith("[listening: file"), first
        time.sleep(2.0)  # 2 of the file's 3.3 s
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "final transcript:" in out
