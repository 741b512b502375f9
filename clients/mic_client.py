"""`streamscribe mic --url ws://...`: live microphone transcription through a server.

Captures the default (or ``--device``) input at its native rate with sounddevice, resamples
to 16 kHz, sends 80 ms PCM16 frames and shows the transcript as it arrives, one line per
utterance. Ctrl-C stops the capture, flushes (final commit) and prints the final transcript;
a second Ctrl-C quits at once.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import AsyncIterator, Callable
from typing import TextIO

from clients.audio import DEFAULT_DELAY_MS, Framer, StreamResampler
from clients.display import LiveTranscript
from clients.options import add_connection_options
from clients.realtime_client import ClientError, Delta, Done, RealtimeClient, stream_frames
from clients.sources import (
    AudioSource,
    FileSource,
    MicError,
    SoundDeviceSource,
    import_sounddevice,
    list_devices_text,
)


async def source_frames(source: AudioSource) -> AsyncIterator[bytes]:
    """Capture -> mono -> 16 kHz -> 80 ms PCM16 frames; the last partial frame at the end."""
    resampler = StreamResampler(source.samplerate)
    framer = Framer()
    async for block in source.blocks():
        for frame in framer.push(resampler.process(block)):
            yield frame
    for frame in framer.push(resampler.flush()):
        yield frame
    last = framer.flush()
    if last:
        yield last


async def transcribe_source(
    source: AudioSource,
    url: str,
    *,
    api_key: str | None = None,
    model: str | None = None,
    delay_ms: int = DEFAULT_DELAY_MS,
    out: TextIO | None = None,
    on_event: Callable[[Delta | Done], None] | None = None,
    on_ready: Callable[[], None] | None = None,
) -> Done:
    """Connect, capture from ``source`` until it ends or is stopped, flush, return ``Done``.

    The server is contacted before the capture starts, so an unreachable server fails fast
    and nothing is recorded for nobody.
    """
    display = LiveTranscript(out if out is not None else sys.stdout)

    def handle(event: Delta | Done) -> None:
        display.on_event(event)
        if on_event is not None:
            on_event(event)

    try:
        async with RealtimeClient(url, api_key=api_key, model=model, delay_ms=delay_ms) as client:
            async with source:
                if on_ready is not None:
                    on_ready()
                return await stream_frames(client, source_frames(source), handle)
    except BaseException:
        display.interrupt()  # the error message starts on a line of its own
        raise


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="streamscribe mic",
        description="Live microphone transcription through a streamscribe server. "
        "Ctrl-C stops, flushes the last words and prints the final transcript.",
    )
    add_connection_options(p)
    p.add_argument("--device", default=None, help="input device index or name (see --list-devices)")
    p.add_argument("--list-devices", action="store_true", help="list input devices and exit")
    p.add_argument(
        "--input-file",
        default=None,
        metavar="FILE",
        help="simulate the microphone with an audio file played in real time (demos, tests)",
    )
    return p


def _err(message: str) -> None:
    print(f"streamscribe mic: {message}", file=sys.stderr, flush=True)


async def _run(args: argparse.Namespace) -> int:
    try:
        if args.input_file:
            source: AudioSource = FileSource(args.input_file)
        else:
            device = int(args.device) if args.device and args.device.isdigit() else args.device
            source = SoundDeviceSource(device)
    except MicError as exc:
        _err(str(exc))
        return 1

    loop = asyncio.get_running_loop()
    main_task = asyncio.current_task()
    interrupts = 0

    def on_sigint() -> None:
        nonlocal interrupts
        interrupts += 1
        if interrupts == 1:
            print(
                "\n[stopping: flushing the last words, Ctrl-C again to quit]",
                file=sys.stderr,
                flush=True,
            )
            source.stop()
        elif main_task is not None:
            main_task.cancel()

    try:
        loop.add_signal_handler(signal.SIGINT, on_sigint)
        handled = True
    except (NotImplementedError, RuntimeError, ValueError):  # not the main thread / Windows
        handled = False

    def ready() -> None:
        print(
            f"[listening: {source.name} at {source.samplerate:.0f} Hz -> 16 kHz, "
            f"delay {args.delay_ms} ms; Ctrl-C to stop]",
            file=sys.stderr,
            flush=True,
        )

    try:
        done = await transcribe_source(
            source,
            args.url,
            api_key=args.api_key,
            model=args.model,
            delay_ms=args.delay_ms,
            on_ready=ready,
        )
    except (ClientError, MicError) as exc:
        _err(str(exc))
        return 1
    except asyncio.CancelledError:
        _err("interrupted before the final transcript")
        return 130
    finally:
        if handled:
            loop.remove_signal_handler(signal.SIGINT)
    print("\nfinal transcript:", flush=True)
    print(done.text.strip(), flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.list_devices:
        try:
            print(list_devices_text(import_sounddevice()))
        except MicError as exc:
            _err(str(exc))
            return 1
        return 0
    try:
        return asyncio.run(_run(args))
    except KeyboardInterrupt:
        _err("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
