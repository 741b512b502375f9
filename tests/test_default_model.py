"""The embedded default model: it ships in the repository (every file under 50 MB), and
`streamscribe serve` without --model loads it and transcribes real speech with it, exactly as
the in-process engine does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

from model import DEFAULT_MODEL_DIR, default_model_dir, load_model
from tests.server_fixtures import SHORT, read_pcm16, reference_transcript
from tests.test_server_shutdown import free_port, wait_ready

REPO = Path(__file__).resolve().parents[1]


def test_default_model_ships_in_the_repository() -> None:
    assert default_model_dir() == DEFAULT_MODEL_DIR
    files = {p.name: p.stat().st_size for p in DEFAULT_MODEL_DIR.iterdir()}
    assert {"params.json", "consolidated.safetensors", "tekken.json", "README.md"} <= set(files)
    assert max(files.values()) < 50 * 2**20, files
    params = json.loads((DEFAULT_MODEL_DIR / "params.json").read_text())
    assert params["multimodal"]["whisper_model_args"]["encoder_args"]["audio_encoding_args"][
        "num_mel_bins"] == 80


def test_serve_loads_the_default_model_and_transcribes_real_speech() -> None:
    clip = SHORT[5]
    reference = reference_transcript(load_model(), read_pcm16(clip), 480)
    assert reference.text.strip()  # a trained model writes words on real speech
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO), "STREAMSCRIBE_API_KEY": ""}
    server = subprocess.Popen(
        [sys.executable, "-m", "streamscribe_cli", "serve", "--port", str(port),
         "--threads", "1", "--log-level", "warning"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_ready(port, server)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=5) as r:
            assert Path(json.loads(r.read())["model_path"]) == DEFAULT_MODEL_DIR
        client = subprocess.run(
            [sys.executable, "-m", "streamscribe_cli", "stream", "--url",
             f"ws://127.0.0.1:{port}/v1/realtime", "--fast", "--quiet", str(clip)],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
        assert client.returncode == 0, client.stderr
        assert client.stdout.strip() == reference.text.strip()
    finally:
        server.terminate()
        server.wait(timeout=30)
