"""Client audio helpers, transcript display and protocol parsing (no server, no model)."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr

from clients.audio import (
    BYTES_PER_FRAME,
    SAMPLE_RATE,
    Framer,
    StreamResampler,
    file_frames,
    float_to_pcm16,
    to_mono,
)
from clients.display import LiveTranscript
from clients.file_client import read_frames
from clients.realtime_client import (
    Delta,
    Done,
    ServerError,
    Word,
    normalize_url,
    parse_event,
)

WEB = Path(__file__).resolve().parents[1] / "clients" / "web"


def tone(freq: float, rate: int, seconds: float, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_pcm16_is_exact_for_int16_sources() -> None:
    ints = np.array([-32768, -1, 0, 1, 12345, 32767], dtype=np.int16)
    assert float_to_pcm16(ints.astype(np.float32) / 32768.0) == ints.astype("<i2").tobytes()
    clipped = np.frombuffer(float_to_pcm16(np.array([-2.0, 2.0], np.float32)), "<i2")
    assert clipped.tolist() == [-32768, 32767]


def test_to_mono_mixes_channels_and_ints() -> None:
    stereo = np.stack([np.ones(4), -np.ones(4) * 0.5], axis=1)
    assert np.allclose(to_mono(stereo), 0.25)
    assert to_mono(np.array([16384], dtype=np.int16))[0] == pytest.approx(0.5)


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
def test_stream_resampler_matches_one_shot_soxr(rate: int) -> None:
    x = tone(440.0, rate, 2.0)
    rs = StreamResampler(rate)
    blocks = [rs.process(x[i : i + 997]) for i in range(0, len(x), 997)]  # odd block size
    streamed = np.concatenate(blocks + [rs.flush()])
    whole = soxr.resample(x, rate, SAMPLE_RATE)
    assert abs(len(streamed) - len(whole)) <= 2
    n = min(len(streamed), len(whole))
    assert np.max(np.abs(streamed[:n] - whole[:n])) < 1e-3
    expected = tone(440.0, SAMPLE_RATE, 2.0)
    # the resampled tone is the tone at 16 kHz (away from the edges)
    assert np.max(np.abs(streamed[800 : n - 800] - expected[800 : n - 800])) < 5e-3


def test_resampler_passthrough_at_16k() -> None:
    x = tone(300.0, SAMPLE_RATE, 0.5)
    rs = StreamResampler(SAMPLE_RATE)
    assert np.array_equal(rs.process(x), x)
    assert rs.flush().size == 0


def test_framer_cuts_exact_80ms_frames_and_keeps_the_rest() -> None:
    fr = Framer()
    frames = list(fr.push(np.zeros(1000, np.float32))) + list(fr.push(np.zeros(3000, np.float32)))
    assert [len(f) for f in frames] == [BYTES_PER_FRAME] * 3
    assert len(fr.flush()) == (4000 - 3 * 1280) * 2
    assert fr.flush() == b""


def test_file_frames_from_stereo_44k_file(tmp_path: Path) -> None:
    left = tone(500.0, 44100, 1.0)
    path = tmp_path / "stereo.flac"
    sf.write(path, np.stack([left, left], axis=1), 44100)
    frames = list(read_frames(path))
    assert all(len(f) == BYTES_PER_FRAME for f in frames[:-1])
    pcm = np.frombuffer(b"".join(frames), "<i2").astype(np.float32) / 32768
    assert abs(len(pcm) - SAMPLE_RATE) <= 2
    ref = tone(500.0, SAMPLE_RATE, 1.0)
    assert np.max(np.abs(pcm[800:-800] - ref[800 : len(pcm) - 800])) < 5e-3
    # the streaming reader and the whole-file helper agree
    audio, rate = sf.read(path, dtype="float32")
    assert len(b"".join(file_frames(audio, rate))) == len(b"".join(frames))


def test_16k_wav_frames_are_bit_exact(tmp_path: Path) -> None:
    ints = (np.random.default_rng(0).standard_normal(5000) * 3000).astype(np.int16)
    path = tmp_path / "a.wav"
    sf.write(path, ints, SAMPLE_RATE, subtype="PCM_16")
    assert b"".join(read_frames(path)) == ints.astype("<i2").tobytes()


# --- protocol parsing ------------------------------------------------------------------


def test_parse_events() -> None:
    d = parse_event(
        {
            "type": "transcription.delta",
            "delta": " hi",
            "start": 0.4,
            "words": [{"text": "yo", "start": 0.1, "end": 0.3}],
        }
    )
    assert d == Delta(" hi", (Word("yo", 0.1, 0.3),), 0.4)
    assert parse_event({"type": "transcription.done", "text": "x"}) == Done("x")
    assert parse_event({"type": "session.created", "id": "s"}) is None
    with pytest.raises(ServerError) as exc:
        parse_event({"type": "error", "error": "bad delay", "code": "invalid_config"})
    assert exc.value.code == "invalid_config" and "bad delay" in str(exc.value)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("127.0.0.1:8000", "ws://127.0.0.1:8000/v1/realtime"),
        ("http://h:1", "ws://h:1/v1/realtime"),
        ("https://h", "wss://h/v1/realtime"),
        ("ws://h:2/v1/realtime", "ws://h:2/v1/realtime"),
    ],
)
def test_normalize_url(given: str, expected: str) -> None:
    assert normalize_url(given) == expected


# --- terminal display ------------------------------------------------------------------


def test_display_one_line_per_utterance() -> None:
    out = io.StringIO()
    view = LiveTranscript(out, pause_s=1.0, color=False)
    view.on_event(Delta(" Hello", (), 0.5))  # no timings yet: printed as it comes
    view.on_event(Delta(" there", (Word("Hello", 0.5, 0.8),), 1.0))
    view.on_event(Delta(" again", (Word("there", 1.0, 1.3),), 3.0))  # 1.7 s pause
    view.on_event(Delta("", (Word("again", 3.0, 3.4),)))
    view.on_event(Done(" Hello there again"))
    assert out.getvalue() == "Hello there\nagain\n"
    assert view.lines == ["Hello there", "again"]


def test_display_tail_on_a_terminal_is_erased_before_words() -> None:
    out = io.StringIO()
    view = LiveTranscript(out, color=True)
    view.on_event(Delta(" zero", (), 0.0))
    view.on_event(Delta(" one", (Word("zero", 0.0, 0.2),), 0.3))
    view.on_event(Delta(" two", (Word("one", 0.3, 0.5),), 0.6))
    words = (Word("zero", 0.0, 0.2), Word("one", 0.3, 0.5), Word("two", 0.6, 0.8))
    view.on_event(Done(" zero one two", words))
    text = out.getvalue()
    assert "\x1b[2m one\x1b[0m" in text  # the untimed tail was shown dim...
    assert "\x1b8\x1b[J one" in text  # ...and erased before the timed word replaced it
    assert view.lines == ["zero one two"]


def test_display_word_begun_before_timings_is_not_repeated() -> None:
    out = io.StringIO()
    view = LiveTranscript(out, color=False)
    view.on_event(Delta(" abc"))  # printed plain: no word timing known yet
    view.on_event(Delta("de", (Word("abcde", 0.1, 0.5),)))
    view.on_event(Delta(" f", (), 0.6))
    view.on_event(Done(" abcde f", (Word("abcde", 0.1, 0.5), Word("f", 0.6, 0.7))))
    assert out.getvalue() == "abcde f\n"


def test_display_without_word_timings_prints_deltas() -> None:
    out = io.StringIO()
    view = LiveTranscript(out, color=False)
    for piece in (" a", "b", " c"):
        view.on_event(Delta(piece))
    view.on_event(Done(" ab c"))
    assert out.getvalue() == "ab c\n"


# --- the browser worklet's resampler, run in node when available --------------------------

NODE_HARNESS = r"""
const fs = require("fs");
const [file, inRate, seconds] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
const posted = [];
globalThis.sampleRate = inRate;
globalThis.AudioWorkletProcessor = class { constructor() { this.port = {
  postMessage: (m) => posted.push(m), onmessage: null }; } };
let Proc = null;
globalThis.registerProcessor = (name, cls) => { Proc = cls; };
eval(fs.readFileSync(file, "utf8"));
const p = new Proc({ processorOptions: { targetRate: 16000, frameSamples: 1280 } });
const n = Math.round(inRate * seconds);
for (let i = 0; i < n; i += 128) {
  const block = new Float32Array(Math.min(128, n - i));
  for (let j = 0; j < block.length; j++) {
    const t = (i + j) / inRate;
    // 440 Hz stays; 11 kHz is above the 8 kHz output Nyquist frequency and must vanish
    block[j] = 0.5 * Math.sin(2 * Math.PI * 440 * t) + 0.3 * Math.sin(2 * Math.PI * 11000 * t);
  }
  p.process([[block]]);
}
p.port.onmessage({ data: { type: "flush" } });
const frames = posted.filter((m) => m.type === "frame")
  .map((m) => Array.from(new Int16Array(m.buffer)));
console.log(JSON.stringify({ sizes: frames.map((f) => f.length), samples: frames.flat(),
  flushed: posted.some((m) => m.type === "flushed") }));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
@pytest.mark.parametrize("rate", [48000, 44100, 16000])
def test_worklet_resampler_in_node(tmp_path: Path, rate: int) -> None:
    harness = tmp_path / "harness.js"
    harness.write_text(NODE_HARNESS)
    run = subprocess.run(
        ["node", str(harness), str(WEB / "audio-worklet.js"), str(rate), "1.0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result = json.loads(run.stdout)
    assert result["flushed"]
    assert all(s == 1280 for s in result["sizes"][:-1])
    out = np.array(result["samples"], dtype=np.float32) / 32768
    assert abs(len(out) - SAMPLE_RATE) <= 1  # 1 s in -> 1 s out
    if rate == SAMPLE_RATE:  # passthrough (the 11 kHz tone aliases: nothing to compare)
        return
    n = min(len(out), SAMPLE_RATE)
    err = out[400 : n - 400] - tone(440.0, SAMPLE_RATE, 1.0)[400 : n - 400]
    # 440 Hz kept, 11 kHz (above the 8 kHz output Nyquist) filtered out
    assert np.sqrt(np.mean(err**2)) < 0.01, np.sqrt(np.mean(err**2))
