"""Audio sources for the microphone client: float32 blocks at the source's own rate.

``SoundDeviceSource`` captures a PortAudio input device (``sounddevice``, optional extra
``mic``); ``FileSource`` plays an audio file as if it were a microphone (real-time pace), for
demos and tests. Both go through the same resample/frame/send pipeline in ``mic_client``.
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from types import ModuleType
from typing import Any

import numpy as np
import soundfile as sf

BLOCK_SECONDS = 0.02  # capture block: small, so the first frame leaves early


class MicError(Exception):
    """A capture problem to report to the user as one clear line."""


class AudioSource(ABC):
    """Yields float32 blocks, shape (frames,) or (frames, channels), at ``samplerate`` Hz.

    Use: ``async with source: async for block in source.blocks(): ...``; ``stop()`` (from
    any thread, e.g. a signal handler) ends ``blocks()`` after the blocks already captured.
    """

    samplerate: float
    name: str

    @abstractmethod
    async def start(self) -> None: ...

    @abstractmethod
    def stop(self) -> None: ...

    @abstractmethod
    def blocks(self) -> AsyncIterator[np.ndarray]: ...

    async def close(self) -> None:
        self.stop()

    async def __aenter__(self) -> AudioSource:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class _QueueSource(AudioSource):
    """Blocks arrive in a queue (from a capture thread or a task); ``None`` ends the stream."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[np.ndarray | None] = asyncio.Queue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped = False

    def _put_threadsafe(self, item: np.ndarray | None) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(self._queue.put_nowait, item)
        except RuntimeError:  # loop closed between the check and the call
            pass

    async def blocks(self) -> AsyncIterator[np.ndarray]:
        while True:
            item = await self._queue.get()
            if item is None:
                return
            yield item


# --- sounddevice ---------------------------------------------------------------------------


def import_sounddevice() -> ModuleType:
    """Import sounddevice or raise MicError saying what to install."""
    try:
        import sounddevice
    except ImportError as exc:
        raise MicError(
            "the microphone client needs the `sounddevice` package: "
            "pip install 'streamscribe[mic]' (or pip install sounddevice)"
        ) from exc
    except OSError as exc:  # sounddevice imports but cannot load libportaudio
        raise MicError(
            f"the PortAudio library is missing ({exc}): install it, e.g. "
            "`apt-get install libportaudio2` (Debian/Ubuntu), `dnf install portaudio` "
            "(Fedora) or `brew install portaudio` (macOS)"
        ) from exc
    return sounddevice


def input_devices(sd: ModuleType) -> list[dict[str, Any]]:
    """Every device with input channels, as dicts with an ``index`` key."""
    try:
        devices = sd.query_devices()
    except Exception as exc:  # PortAudioError when the host API cannot start
        raise MicError(f"cannot list audio devices: {exc}") from exc
    return [dict(d) for d in devices if d.get("max_input_channels", 0) > 0]


def no_input_device_message(sd: ModuleType) -> str:
    try:
        n_all = len(sd.query_devices())
    except Exception:
        n_all = 0
    seen = (
        f"PortAudio sees {n_all} device(s), none with input channels"
        if n_all
        else ("PortAudio sees no audio devices at all")
    )
    return (
        f"no audio input device found ({seen}). Connect a microphone, or check that this "
        "user may use the sound card (the `audio` group, a running PulseAudio/PipeWire). "
        "`streamscribe mic --list-devices` shows what is available; "
        "`--input-file FILE` simulates a microphone with an audio file."
    )


def resolve_input_device(sd: ModuleType, device: int | str | None) -> dict[str, Any]:
    """The input device to use: ``device`` (index or name substring) or the default one."""
    inputs = input_devices(sd)
    if not inputs:
        raise MicError(no_input_device_message(sd))
    if device is None:
        default = sd.default.device
        default_in = default[0] if isinstance(default, list | tuple) else default
        for d in inputs:
            if d["index"] == default_in:
                return d
        return inputs[0]
    if isinstance(device, int) or (isinstance(device, str) and device.isdigit()):
        idx = int(device)
        for d in inputs:
            if d["index"] == idx:
                return d
        listing = ", ".join(f"{d['index']} ({d['name']})" for d in inputs)
        raise MicError(f"device {idx} is not an input device; input devices: {listing}")
    matches = [d for d in inputs if str(device).lower() in str(d["name"]).lower()]
    if len(matches) != 1:
        listing = ", ".join(f"{d['index']} ({d['name']})" for d in inputs)
        what = "matches no" if not matches else "matches more than one"
        raise MicError(f"device {device!r} {what} input device; input devices: {listing}")
    return matches[0]


def list_devices_text(sd: ModuleType) -> str:
    devices = sd.query_devices()
    if len(devices) == 0:
        return "no audio devices found"
    default = sd.default.device
    default_in = default[0] if isinstance(default, list | tuple) else default
    lines = []
    for d in devices:
        if d["max_input_channels"] <= 0:
            continue
        mark = "*" if d["index"] == default_in else " "
        api = sd.query_hostapis(d["hostapi"])["name"]
        lines.append(
            f"{mark} {d['index']:>3}  {d['name']}  ({api}, {d['max_input_channels']} in, "
            f"{d['default_samplerate']:.0f} Hz)"
        )
    if not lines:
        return f"no input devices ({len(devices)} output-only device(s))"
    return "input devices (* = default):\n" + "\n".join(lines)


class SoundDeviceSource(_QueueSource):
    """A PortAudio input device through sounddevice, at the device's native sample rate."""

    def __init__(self, device: int | str | None = None, samplerate: float | None = None) -> None:
        super().__init__()
        self._sd = import_sounddevice()
        self.info = resolve_input_device(self._sd, device)
        self.device_index: int = int(self.info["index"])
        self.name = str(self.info["name"])
        self.samplerate = float(samplerate or self.info["default_samplerate"])
        self.overflows = 0
        self._stream: Any = None

    def _callback(self, indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        if status and getattr(status, "input_overflow", False):
            self.overflows += 1
        self._put_threadsafe(indata.copy())

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        if self._stopped:  # stopped (Ctrl-C) before the capture began: an empty stream
            self._queue.put_nowait(None)
            return
        try:
            self._stream = self._sd.InputStream(
                device=self.device_index,
                channels=1,
                samplerate=self.samplerate,
                dtype="float32",
                blocksize=max(1, int(self.samplerate * BLOCK_SECONDS)),
                callback=self._callback,
            )
            self._stream.start()
        except Exception as exc:  # PortAudioError: busy device, unsupported rate, ...
            raise MicError(
                f"cannot open input device {self.device_index} ({self.name}): {exc}"
            ) from exc

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.stop()  # waits for the last callback: every captured block is queued
                stream.close()
            except Exception:  # closing must never hide why we stopped
                pass
        self._put_threadsafe(None)


# --- file ------------------------------------------------------------------------------------


class FileSource(_QueueSource):
    """An audio file played as a microphone: blocks at the file's rate, real-time pace."""

    def __init__(self, path: str, realtime: bool = True, block_seconds: float = BLOCK_SECONDS):
        super().__init__()
        try:
            info = sf.info(path)
        except Exception as exc:
            raise MicError(f"cannot read {path}: {exc}") from exc
        self.path = path
        self.name = f"file {path}"
        self.samplerate = float(info.samplerate)
        self.realtime = realtime
        self.block = max(1, int(info.samplerate * block_seconds))
        self._task: asyncio.Task[None] | None = None

    async def _play(self) -> None:
        t0 = time.monotonic()
        played = 0
        try:
            with sf.SoundFile(self.path) as f:
                while not self._stopped:
                    data = f.read(self.block, dtype="float32", always_2d=True)
                    if len(data) == 0:
                        break
                    played += len(data)
                    if self.realtime:  # a block is available once it has been "recorded"
                        wait = t0 + played / self.samplerate - time.monotonic()
                        if wait > 0:
                            await asyncio.sleep(wait)
                    else:
                        await asyncio.sleep(0)
                    if self._stopped:
                        break
                    self._queue.put_nowait(data)
        finally:
            self._queue.put_nowait(None)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._play())

    def stop(self) -> None:
        self._stopped = True

    async def close(self) -> None:
        self.stop()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
