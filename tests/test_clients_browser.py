"""The browser page in headless Chromium, driven by Selenium, against a live server.

Chromium's fake microphone plays a real speech WAV (`--use-file-for-fake-audio-capture`),
the page captures it through its AudioWorklet (browser rate -> 16 kHz PCM16, 80 ms binary
frames) and shows the server's transcript. The tiny test model's text is garbage but
deterministic, so the test checks that (1) the page shows exactly the server's final text,
with timed words, (2) the audio the page sent is the WAV's speech, and (3) the file client
sending those same bytes gets the same transcript from the server.

Why Selenium: it is the maintained W3C WebDriver client; Debian's `chromium-driver` comes from
the same source package as `chromium`, so driver and browser versions always match, and with
an explicit driver path and browser binary Selenium downloads nothing. Chromium is installed
by the test setup (apt: chromium chromium-driver); without it the test is skipped.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from clients.testing import FakeRealtimeServer, ServerProcess, free_port

REPO = Path(__file__).resolve().parents[1]
AUDIO = REPO.parent / "shared" / "data" / "eval-real" / "audio"
SPEECH = AUDIO / "ls-test-clean-1089-134686-0001.wav"  # 3.3 s of LibriSpeech
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
SCREENSHOT = Path("/tmp/streamscribe-page.png")
API_KEY = "browser-key"

if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
    pytest.skip(
        "chromium is not installed (apt-get install chromium chromium-driver)",
        allow_module_level=True,
    )
if not SPEECH.exists():
    pytest.skip(f"real speech missing: {SPEECH}", allow_module_level=True)

try:
    from selenium import webdriver
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait
except ImportError as exc:  # chromium is here, so the test must run: say what is missing
    raise ImportError(
        "the browser test needs selenium: pip install 'selenium>=4.11' (dev extra)"
    ) from exc

CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--autoplay-policy=no-user-gesture-required",
    "--window-size=1100,760",
)


def make_driver(profile: Path, wav: Path | None, grant_microphone: bool = True) -> Any:
    opts = Options()
    opts.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        opts.add_argument(flag)
    opts.add_argument(f"--user-data-dir={profile}")
    opts.add_argument("--use-fake-device-for-media-stream")
    if wav is not None:
        # %noloop: play the file once, then silence
        opts.add_argument(f"--use-file-for-fake-audio-capture={wav}%noloop")
    if grant_microphone:
        opts.add_argument("--use-fake-ui-for-media-stream")  # accept the permission prompt
    else:
        opts.add_experimental_option(
            "prefs", {"profile.default_content_setting_values.media_stream_mic": 2}
        )
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from model.testing import make_tiny_checkpoint

    return make_tiny_checkpoint(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture(scope="module")
def server(checkpoint: Path) -> Iterator[ServerProcess]:
    with ServerProcess(checkpoint, api_key=API_KEY) as srv:
        yield srv


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    driver = make_driver(tmp_path_factory.mktemp("chromium-profile"), SPEECH)
    try:
        yield driver
    finally:
        driver.quit()


def state(driver: Any) -> dict[str, Any]:
    return driver.execute_script(
        "const s = window.streamscribe; return {state: s.state, frames: s.framesSent,"
        " errors: s.errors, doneText: s.doneText, deltaText: s.deltaText, rate: s.sampleRate};"
    )


def wait_for(driver: Any, predicate: Callable[[Any], Any], timeout: float, what: str) -> Any:
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.1).until(predicate)
    except TimeoutException as exc:
        logs = [e["message"] for e in driver.get_log("browser")]
        raise AssertionError(f"timed out waiting for {what}: {state(driver)}\n{logs}") from exc


def open_page(driver: Any, url: str, api_key: str = "", delay_ms: int | None = None) -> None:
    driver.get(url)
    wait_for(driver, lambda d: d.execute_script("return !!window.streamscribe"), 20, "the app")
    key = driver.find_element(By.ID, "api-key")
    key.clear()
    if api_key:
        key.send_keys(api_key)
    if delay_ms is not None:
        Select(driver.find_element(By.ID, "delay")).select_by_value(str(delay_ms))


def start_and_wait_for_error(driver: Any, timeout: float = 30) -> str:
    driver.find_element(By.ID, "start").click()
    wait_for(driver, lambda d: state(d)["state"] == "error", timeout, "the error state")
    error = driver.find_element(By.ID, "error")
    assert error.is_displayed()
    assert driver.find_element(By.ID, "start").is_enabled()  # the user can try again
    return str(error.text)


def stream_cli_json(wav: Path, url: str) -> dict[str, Any]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    run = subprocess.run(
        [sys.executable, "-m", "streamscribe_cli", "stream", str(wav), "--url", url,
         "--api-key", API_KEY, "--fast", "--json", "-q"],
        capture_output=True, text=True, timeout=300, env=env, cwd=REPO,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def best_lag(sent: np.ndarray, speech: np.ndarray) -> int:
    """sent[i + lag] ~ speech[i] (the fake microphone may start a few ms into the file or
    after some silence)."""
    size = 1 << int(np.ceil(np.log2(len(sent) + len(speech))))
    corr = np.fft.irfft(np.fft.rfft(sent, size) * np.conj(np.fft.rfft(speech, size)), size)
    lag = int(np.argmax(np.abs(corr)))
    return lag if lag < size // 2 else lag - size


def aligned_snr_db(sent: np.ndarray, speech: np.ndarray, segment_s: float = 0.5,
                   reach_s: float = 0.25) -> float:
    """Median over half-second pieces of the SNR of the speech inside what the page sent,
    each piece aligned on its own near the global lag: under CPU load Chromium's fake
    microphone drops or repeats a few ms, which misaligns everything after it for a single
    global alignment and ruins the piece it falls in."""
    lag, seg, reach = best_lag(sent, speech), int(segment_s * 16000), int(reach_s * 16000)
    snrs = []
    for start in range(0, len(speech) - seg + 1, seg):
        b = speech[start : start + seg]
        lo = max(0, start + lag - reach)
        window = sent[lo : start + lag + reach + seg]
        if len(window) < seg or float(np.dot(b, b)) < 1e-4:
            continue  # past the end of what was sent, or silence: nothing to compare
        k = int(np.argmax(np.abs(np.correlate(window, b, "valid"))))
        a = window[k : k + seg]
        gain = float(np.dot(a, b) / np.dot(b, b))
        snrs.append(10 * np.log10(np.sum((gain * b) ** 2) / np.sum((a - gain * b) ** 2)))
    return float(np.median(snrs))


def test_page_transcribes_the_fake_microphone(
    browser: Any, server: ServerProcess, tmp_path: Path
) -> None:
    duration = sf.info(str(SPEECH)).duration
    open_page(browser, server.http_url + "/?record=1", api_key=API_KEY, delay_ms=480)
    delay = Select(browser.find_element(By.ID, "delay"))
    values = [int(o.get_attribute("value")) for o in delay.options]
    assert values == list(range(80, 1201, 80)) + [2400]
    browser.find_element(By.ID, "start").click()
    wait_for(browser, lambda d: state(d)["state"] == "recording", 30, "recording")
    assert not browser.find_element(By.ID, "start").is_enabled()

    # mid-transcript: the first text arrives while the microphone is still streaming
    wait_for(browser, lambda d: state(d)["deltaText"].strip(), 120, "the first transcript text")
    if browser.find_elements(By.CSS_SELECTOR, ".run .word"):
        ActionChains(browser).move_to_element(
            browser.find_element(By.CSS_SELECTOR, ".run .word")
        ).perform()  # show a word's timing tooltip in the screenshot
    browser.save_screenshot(str(SCREENSHOT))
    assert state(browser)["state"] == "recording"

    # let the whole file play (the page sends real-time 80 ms frames), then stop
    wait_for(browser, lambda d: state(d)["frames"] * 0.08 > duration + 1.0, 120, "the file to play")
    browser.find_element(By.ID, "stop").click()
    wait_for(browser, lambda d: state(d)["state"] == "done", 180, "transcription.done")
    browser.save_screenshot(str(SCREENSHOT.with_name("streamscribe-page-final.png")))

    s = state(browser)
    assert s["errors"] == []
    done_text = s["doneText"]
    assert done_text.strip(), "the server sent an empty transcript"
    run = browser.find_element(By.CSS_SELECTOR, "#transcript .run.final")
    assert run.get_property("textContent") == done_text  # exactly the server's final text
    words = browser.find_elements(By.CSS_SELECTOR, "#transcript .run.final .word")
    assert words, "no timed words on the page"
    page_words = []
    for w in words:
        title = w.get_attribute("title")
        assert re.fullmatch(r"\d+\.\d\d–\d+\.\d\d s", title), title
        start, end = float(w.get_attribute("data-start")), float(w.get_attribute("data-end"))
        assert 0 <= start <= end
        page_words.append({"text": w.get_property("textContent"), "start": start, "end": end})

    # what the page sent: 16 kHz PCM16 in 80 ms frames, and it is the WAV's speech
    sent_bytes = base64.b64decode(browser.execute_script("return streamscribe.recordedBase64()"))
    assert (s["frames"] - 1) * 2560 < len(sent_bytes) <= s["frames"] * 2560
    sent = np.frombuffer(sent_bytes, "<i2").astype(np.float32) / 32768
    speech, rate = sf.read(str(SPEECH), dtype="float32")
    assert rate == 16000
    assert abs(len(sent) / 16000 - s["frames"] * 0.08) < 0.1
    # The speech survived capture and browser-rate -> 16 kHz resampling: ~24 dB when the
    # machine is idle; unrelated audio is below 0 dB.
    assert aligned_snr_db(sent, speech) > 10.0

    # the server transcribes those exact bytes the same way through the file client
    recorded = tmp_path / "page-sent.wav"
    sf.write(recorded, np.frombuffer(sent_bytes, "<i2"), 16000, subtype="PCM_16")
    via_file_client = stream_cli_json(recorded, server.ws_url)
    assert via_file_client["text"] == done_text
    assert [w["text"] for w in via_file_client["words"]] == [w["text"] for w in page_words]
    assert [(w["start"], w["end"]) for w in via_file_client["words"]] == [
        (w["start"], w["end"]) for w in page_words
    ]


def test_page_sends_the_protocol(browser: Any, server: ServerProcess) -> None:
    """Against the scripted protocol server: the chosen delay, binary 2560-byte frames, the
    final commit, the live transcript with timed words and a new line after a pause."""
    with FakeRealtimeServer(frames_per_word=5, pause_before={2: 1.5}) as fake:
        open_page(browser, f"{server.http_url}/?ws={fake.url}", delay_ms=960)
        browser.find_element(By.ID, "start").click()
        wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".word"), 30, "a word")
        browser.find_element(By.ID, "stop").click()
        wait_for(browser, lambda d: state(d)["state"] == "done", 30, "done")
        word = browser.find_element(By.CSS_SELECTOR, ".run.final .word")
        ActionChains(browser).move_to_element(word).perform()  # the timing tooltip
        browser.save_screenshot(str(SCREENSHOT.with_name("streamscribe-page-words.png")))
    (conn,) = fake.connections
    assert conn.messages[0] == {"type": "session.update", "target_streaming_delay_ms": 960}
    assert conn.messages[-1] == {"type": "input_audio_buffer.commit", "final": True}
    assert all(len(f) == 2560 for f in conn.frames[:-1]) and len(conn.frames) >= 5
    run = browser.find_element(By.CSS_SELECTOR, "#transcript .run.final")
    assert run.get_property("textContent") == fake.transcript()
    spans = run.find_elements(By.CSS_SELECTOR, ".word")
    titles = [w.get_attribute("title") for w in spans]
    assert titles == [f"{s:.2f}–{e:.2f} s" for _, s, e in fake.timings()]
    assert ["new-line" in w.get_attribute("class") for w in spans] == [False, False, True]


def test_page_server_unreachable(browser: Any, server: ServerProcess) -> None:
    dead = f"ws://127.0.0.1:{free_port()}/v1/realtime"
    open_page(browser, f"{server.http_url}/?ws={dead}")
    assert "Cannot reach the server" in start_and_wait_for_error(browser)


def test_page_wrong_api_key(browser: Any, server: ServerProcess) -> None:
    open_page(browser, server.http_url + "/", api_key="wrong-key")
    message = start_and_wait_for_error(browser)
    assert "unauthorized" in message and "API key" in message, message


def test_page_socket_closed_mid_session(browser: Any, server: ServerProcess) -> None:
    with FakeRealtimeServer(close_after_frames=8) as fake:
        open_page(browser, f"{server.http_url}/?ws={fake.url}")
        message = start_and_wait_for_error(browser)
    assert "Connection to the server was lost (code 1011: engine failure)" in message, message


def test_page_server_error_event(browser: Any, server: ServerProcess) -> None:
    with FakeRealtimeServer(error_after_frames=4) as fake:
        open_page(browser, f"{server.http_url}/?ws={fake.url}")
        start_and_wait_for_error(browser)
        errors = state(browser)["errors"]
    assert "Server error (buffer_full): too much audio" in errors, errors


def test_page_microphone_permission_denied(server: ServerProcess, tmp_path: Path) -> None:
    driver = make_driver(tmp_path / "profile", SPEECH, grant_microphone=False)
    try:
        open_page(driver, server.http_url + "/", api_key=API_KEY)
        message = start_and_wait_for_error(driver)
    finally:
        driver.quit()
    assert "Microphone permission was denied" in message, message
