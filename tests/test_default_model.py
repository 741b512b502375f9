"""The embedded default model: it ships in the repository, within the size limit, and
`streamscribe serve` without `--model` loads it and transcribes as the in-process engine does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request

from model import DEFAULT_MODEL_DIR, default_model_dir, load_model
from tests.server_fixtures import SHORT, read_pcm16, reference_transcript
from tests.test_server_shutdown import REPO, free_port, wait_ready

MAX_FILE_BYTES = 50 * 10**6


def test_default_model_ships_in_the_repo_within_the_size_limit() -> None:
    assert default_model_dir() == DEFAULT_MODEL_DIR
    files = {p.name: p.stat().st_size for p in DEFAULT_MODEL_DIR.iterdir()}
    assert {"params.json", "tekken.json", "README.md"} <= set(files)
    assert any(name.endswith(".safetensors") for name in files)
    assert all(size < MAX_FILE_BYTES for size in files.values()), files


def test_serve_without_model_loads_the_default_and_transcribes() -> None:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO), "STREAMSCRIBE_API_KEY": ""}
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamscribe_cli", "serve", "--port", str(port),
         "--threads", "1", "--log-level", "warning"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_ready(port, proc)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=5) as r:
            ready = json.loads(r.read())
        assert ready["model_path"] == str(DEFAULT_MODEL_DIR)

        clip = SHORT[5]
        run = subprocess.run(
            [sys.executable, "-m", "streamscribe_cli", "stream", str(clip),
             "--url", f"ws://127.0.0.1:{port}/v1/realtime", "--fast", "--quiet"],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr
        want = reference_transcript(load_model(), read_pcm16(clip), 480).text
        assert want.strip(), "the default model wrote nothing for real speech"
        assert run.stdout.strip() == want.strip()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
