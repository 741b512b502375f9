"""File and microphone clients against a scripted protocol server (clients.testing), and the
microphone's device paths with real PortAudio: no device at all, and an ALSA device fed from
a file that the test writes (alsa-lib's `file` plugin; no sound card needed)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr

from clients import file_client, mic_client
from clients.audio import BYTES_PER_FRAME, SAMPLE_RATE
from clients.realtime_client import Delta, Done
from clients.sources import AudioSource, MicError, import_sounddevice
from clients.testing import FakeRealtimeServer

REPO = Path(__file__).resolve().parents[1]
SPEECH = REPO.parent / "shared" / "data" / "eval-real" / "audio" / "cmu-arctic-aew-a0001.wav"


def env_with_repo(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def pcm(data: bytes) -> np.ndarray:
    return np.frombuffer(data, "<i2").astype(np.float32) / 32768


@pytest.fixture
def speech_16k(tmp_path: Path) -> Path:
    if SPEECH.exists():
        return SPEECH
    rng = np.random.default_rng(0)  # shared data missing: any 16 kHz signal will do here
    path = tmp_path / "noise.wav"
    sf.write(path, (0.1 * rng.standard_normal(2 * SAMPLE_RATE)).astype(np.float32), SAMPLE_RATE)
    return path


# --- file client -----------------------------------------------------------------------


def test_stream_file_protocol_and_output(speech_16k: Path, capsys: pytest.CaptureFixture) -> None:
    with FakeRealtimeServer() as srv:
        rc = file_client.main(
            [str(speech_16k), "--url", srv.url, "--fast", "--delay-ms", "960", "--api-key", "k1"]
        )
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert out == "hello streaming world\n"
    assert "hello streaming world" in err  # the live transcript
    (conn,) = srv.connections
    assert conn.headers["authorization"] == "Bearer k1"
    assert conn.messages[0] == {"type": "session.update", "target_streaming_delay_ms": 960}
    assert conn.messages[-1] == {"type": "input_audio_buffer.commit", "final": True}
    assert all(len(f) == BYTES_PER_FRAME for f in conn.frames[:-1])
    audio, _ = sf.read(speech_16k, dtype="int16")
    assert conn.audio == audio.astype("<i2").tobytes()  # 16 kHz PCM16 in, bit-exact out


def test_stream_json_words(speech_16k: Path, capsys: pytest.CaptureFixture) -> None:
    with FakeRealtimeServer(pause_before={2: 2.0}) as srv:
        rc = file_client.main([str(speech_16k), "--url", srv.url, "--fast", "--json", "-q"])
    out, err = capsys.readouterr()
    assert rc == 0 and err == ""
    record = json.loads(out)
    assert record["text"] == " hello streaming world"
    assert [w["text"] for w in record["words"]] == ["hello", "streaming", "world"]
    assert all(w["end"] > w["start"] for w in record["words"])


def test_stream_realtime_pace(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "one-second.wav"
    sf.write(path, np.zeros(48000, np.float32), 48000)  # 48 kHz: resampled on the way
    with FakeRealtimeServer() as srv:
        t0 = time.monotonic()
        assert file_client.main([str(path), "--url", srv.url, "-q"]) == 0
        realtime = time.monotonic() - t0
        t0 = time.monotonic()
        assert file_client.main([str(path), "--url", srv.url, "-q", "--fast"]) == 0
        fast = time.monotonic() - t0
    assert 0.85 < realtime < 5.0
    assert fast < realtime - 0.3
    assert len(srv.connections[0].audio) == 2 * SAMPLE_RATE


def test_stream_many_files_and_unreadable(
    speech_16k: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    bad = tmp_path / "not-audio.wav"
    bad.write_text("hello")
    with FakeRealtimeServer() as srv:
        rc = file_client.main([str(speech_16k), str(bad), "--url", srv.url, "--fast", "-q"])
    out, err = capsys.readouterr()
    assert rc == 1
    assert out == f"{speech_16k}: hello streaming world\n"
    assert f"cannot read {bad}" in err


@pytest.mark.parametrize(
    ("server_kwargs", "message"),
    [
        ({"error_after_frames": 3}, "server error (buffer_full): too much audio"),
        ({"close_after_frames": 3}, "closed the connection (code 1011): engine failure"),
        ({"api_key": "right"}, "refused the connection (missing or invalid API key)"),
    ],
)
def test_stream_server_failures_are_one_clear_line(
    speech_16k: Path, capsys: pytest.CaptureFixture, server_kwargs: dict, message: str
) -> None:
    with FakeRealtimeServer(**server_kwargs) as srv:
        rc = file_client.main([str(speech_16k), "--url", srv.url, "--fast", "-q"])
    out, err = capsys.readouterr()
    assert rc == 1 and out == ""
    assert message in err
    assert "Traceback" not in err


def test_stream_unreachable_server(speech_16k: Path, capsys: pytest.CaptureFixture) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rc = file_client.main([str(speech_16k), "--url", f"ws://127.0.0.1:{port}/v1/realtime"])
    _, err = capsys.readouterr()
    assert rc == 1
    assert f"cannot reach the server at ws://127.0.0.1:{port}/v1/realtime" in err
    assert "connection refused" in err


# --- microphone pipeline with a test-controlled source ------------------------------------


class ToneSource(AudioSource):
    """A stereo 44.1 kHz 'microphone' whose signal the test knows, in irregular blocks."""

    def __init__(self, seconds: float = 1.5, rate: int = 44100) -> None:
        self.samplerate = rate
        self.name = "test tone"
        t = np.arange(int(seconds * rate)) / rate
        left = 0.4 * np.sin(2 * np.pi * 300 * t)
        right = 0.2 * np.sin(2 * np.pi * 300 * t)
        self.signal = np.stack([left, right], axis=1).astype(np.float32)
        self.started = self.stopped = False

    async def start(self) -> None:
        self.started = True

    def stop(self) -> None:
        self.stopped = True

    async def blocks(self) -> AsyncIterator[np.ndarray]:
        i, sizes = 0, [441, 1000, 17, 2048]
        while i < len(self.signal) and not self.stopped:
            n = sizes[i % len(sizes)]
            yield self.signal[i : i + n]
            i += n
            await asyncio.sleep(0)


def test_mic_pipeline_resamples_and_frames_a_controlled_source() -> None:
    source = ToneSource()
    events: list[Delta | Done] = []
    import io

    out = io.StringIO()
    with FakeRealtimeServer(frames_per_word=4) as srv:
        done = asyncio.run(
            mic_client.transcribe_source(
                source, srv.url, delay_ms=240, out=out, on_event=events.append
            )
        )
    assert source.started and source.stopped  # closed after the stream ended
    assert done.text == " hello streaming world"
    assert out.getvalue().startswith("hello streaming world")
    (conn,) = srv.connections
    assert conn.messages[0]["target_streaming_delay_ms"] == 240
    assert all(len(f) == BYTES_PER_FRAME for f in conn.frames[:-1])
    got = pcm(conn.audio)
    expected = soxr.resample(source.signal.mean(axis=1), 44100, SAMPLE_RATE)
    assert abs(len(got) - len(expected)) <= 2
    n = min(len(got), len(expected))
    assert np.max(np.abs(got[:n] - expected[:n])) < 2e-3
    assert any(isinstance(e, Delta) and e.words for e in events)  # live deltas came back


def test_mic_cli_ctrl_c_flushes_and_prints_final(speech_16k: Path) -> None:
    with FakeRealtimeServer(frames_per_word=3) as srv:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamscribe_cli",
                "mic",
                "--url",
                srv.url,
                "--input-file",
                str(speech_16k),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env_with_repo(),
            cwd=REPO,
        )
        deadline = time.monotonic() + 20
        while not (srv.connections and len(srv.connections[0].frames) >= 10):
            assert time.monotonic() < deadline, "the mic client sent no audio"
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "[listening: file" in err and "stopping" in err
    assert out.rstrip().endswith("final transcript:\nhello streaming world")
    (conn,) = srv.connections
    assert conn.messages[-1] == {"type": "input_audio_buffer.commit", "final": True}
    duration = sf.info(str(speech_16k)).duration
    assert len(conn.audio) / 2 / SAMPLE_RATE < duration - 0.2  # stopped early, for real


def test_mic_unreachable_server_is_clear(speech_16k: Path, capsys: pytest.CaptureFixture) -> None:
    rc = mic_client.main(["--url", "ws://127.0.0.1:9/v1/realtime", "--input-file", str(speech_16k)])
    _, err = capsys.readouterr()
    assert rc == 1
    assert "cannot reach the server" in err and "Traceback" not in err


# --- microphone device paths ---------------------------------------------------------------


def portaudio_available() -> bool:
    try:
        import_sounddevice()
    except MicError:
        return False
    return True


def test_mic_without_sounddevice_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "sounddevice", None)  # import fails like a missing package
    rc = mic_client.main(["--url", "ws://127.0.0.1:9"])
    _, err = capsys.readouterr()
    assert rc == 1
    assert "pip install 'streamscribe[mic]'" in err


def run_in_clean_alsa_home(home: Path, args: list[str]) -> subprocess.CompletedProcess[str]:
    """Run the CLI where ALSA sees only what ``home/.asoundrc`` defines (PortAudio reads
    the ALSA configuration when sounddevice is imported, so this needs a new process)."""
    return subprocess.run(
        [sys.executable, "-m", "streamscribe_cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env_with_repo(HOME=str(home)),
        cwd=REPO,
    )


def test_mic_no_input_device_for_real(tmp_path: Path) -> None:
    """This machine has no sound card: the real sounddevice/PortAudio path must say so."""
    run = run_in_clean_alsa_home(tmp_path, ["mic", "--url", "ws://127.0.0.1:9"])
    if not portaudio_available():
        assert run.returncode == 1
        assert "PortAudio library is missing" in run.stderr
        assert "libportaudio2" in run.stderr
        return
    listing = run_in_clean_alsa_home(tmp_path, ["mic", "--list-devices"])
    if "input devices (* = default)" in listing.stdout:
        pytest.skip(f"this machine has an input device:\n{listing.stdout}")
    assert listing.returncode == 0
    assert run.returncode == 1
    assert "no audio input device found" in run.stderr, run.stderr
    assert "Traceback" not in run.stderr


ALSA_FILE_MIC = """\
pcm.testmic {{
    type file
    slave.pcm "null"
    file "/dev/null"
    infile "{infile}"
    format "raw"
}}
"""

MIC_DRIVER = """\
import asyncio, json, sys
import numpy as np
from clients.mic_client import transcribe_source
from clients.sources import SoundDeviceSource

class Limited(SoundDeviceSource):
    # alsa-lib's null device is not paced by a clock: stop after the test's audio
    def __init__(self, limit_s):
        super().__init__("testmic")
        self.limit = int(limit_s * self.samplerate)
    async def blocks(self):
        got = 0
        async for block in super().blocks():
            block = block[: self.limit - got]
            got += len(block)
            if len(block):
                yield block
            if got >= self.limit:
                self.stop()

async def main():
    url, seconds = sys.argv[1], float(sys.argv[2])
    source = Limited(seconds)
    print(json.dumps({"rate": source.samplerate, "name": source.name}), file=sys.stderr)
    done = await transcribe_source(source, url, out=sys.stderr)
    print(json.dumps({"text": done.text}))

asyncio.run(main())
"""


@pytest.mark.skipif(not portaudio_available(), reason="PortAudio (libportaudio2) is not installed")
def test_mic_captures_a_real_portaudio_device(tmp_path: Path, speech_16k: Path) -> None:
    """A real PortAudio input device (ALSA `file` plugin reading samples the test wrote) at
    the device's native rate, through SoundDeviceSource -> resample -> frames -> server."""
    audio16, _ = sf.read(speech_16k, dtype="float32")
    native = 44100  # PortAudio's default rate for ALSA plugin devices
    audio_native = soxr.resample(audio16, SAMPLE_RATE, native).astype("<f4")
    infile = tmp_path / "mic.f32"
    audio_native.tofile(infile)  # PortAudio opens float32, so the raw file is float32 LE
    (tmp_path / ".asoundrc").write_text(ALSA_FILE_MIC.format(infile=infile))
    listing = run_in_clean_alsa_home(tmp_path, ["mic", "--list-devices"])
    assert "testmic" in listing.stdout, listing.stdout + listing.stderr
    driver = tmp_path / "driver.py"
    driver.write_text(MIC_DRIVER)
    seconds = len(audio_native) / native
    with FakeRealtimeServer() as srv:
        run = subprocess.run(
            [sys.executable, str(driver), srv.url, str(seconds)],
            capture_output=True,
            text=True,
            timeout=60,
            env=env_with_repo(HOME=str(tmp_path)),
            cwd=REPO,
        )
    assert run.returncode == 0, run.stderr
    info = json.loads(run.stderr.splitlines()[0])
    assert info["name"] == "testmic"
    assert json.loads(run.stdout)["text"] == " hello streaming world"
    got = pcm(srv.connections[0].audio)
    assert info["rate"] == native
    # what the server got is the test's speech, at 16 kHz, after two resamplings
    n = min(len(got), len(audio16))
    assert abs(len(got) - len(audio16)) <= 4
    err = got[:n] - audio16[:n]
    snr = 10 * np.log10(np.sum(audio16[:n] ** 2) / np.sum(err**2))
    assert snr > 30, snr
