"""`streamscribe stream FILE... --url ws://...`: stream audio files to a server.

Any file soundfile reads, any sample rate, any channel count (mixed down to mono),
resampled to 16 kHz and sent as 80 ms PCM16 frames at real-time pace (or ``--fast``).
The live transcript goes to stderr, the final text (or ``--json``) to stdout, so
``streamscribe stream a.wav > a.txt`` keeps only the result.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TextIO

import soundfile as sf

from clients.audio import (
    DEFAULT_DELAY_MS,
    SAMPLE_RATE,
    Framer,
    StreamResampler,
)
from clients.display import LiveTranscript
from clients.options import add_connection_options
from clients.realtime_client import ClientError, Delta, Done, RealtimeClient, stream_frames

READ_BLOCK_SECONDS = 0.5
MAX_LEAD_S = 20.0  # --fast: audio sent ahead of the server's progress (its buffer holds 60 s)


def read_frames(path: str | Path) -> Iterator[bytes]:
    """80 ms PCM16 16 kHz mono frames of a file, read block by block (long files are fine)."""
    with sf.SoundFile(str(path)) as f:
        resampler = StreamResampler(f.samplerate)
        framer = Framer()
        block = max(1, int(f.samplerate * READ_BLOCK_SECONDS))
        while True:
            data = f.read(block, dtype="float32", always_2d=True)
            if len(data) == 0:
                break
            yield from framer.push(resampler.process(data))
        yield from framer.push(resampler.flush())
        last = framer.flush()
        if last:
            yield last


class FlowControl:
    """How far ahead of the server a ``--fast`` sender may run.

    The server holds at most a bounded amount of unprocessed audio (60 s by default) and
    refuses more, so a fast sender keeps at most ``max_lead_s`` ahead of the server's
    progress. Progress is taken from the events (a delta for audio at time t arrives once the
    server has processed t + delay) and, through silences with no events, assumed to be at
    least real time (a server slower than real time cannot serve real-time clients either).
    """

    def __init__(self, delay_ms: int, max_lead_s: float = MAX_LEAD_S) -> None:
        self.delay_s = delay_ms / 1000.0
        self.max_lead_s = max_lead_s
        self.heard_s = 0.0
        self.t0 = time.monotonic()

    def on_event(self, event: Delta | Done) -> None:
        if isinstance(event, Delta):
            if event.start is not None:
                self.heard_s = max(self.heard_s, event.start + self.delay_s)
            for word in event.words:
                self.heard_s = max(self.heard_s, word.end + self.delay_s)

    def allowed_s(self) -> float:
        return max(self.heard_s, time.monotonic() - self.t0) + self.max_lead_s


async def paced(
    frames: Iterator[bytes], realtime: bool, flow: FlowControl | None = None
) -> AsyncIterator[bytes]:
    """Frames at the audio clock (frame i leaves at t0 + i * 80 ms, no drift), or as fast as
    ``flow`` allows."""
    t0 = time.monotonic()
    audio_s = 0.0
    for frame in frames:
        if realtime:
            wait = t0 + audio_s - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        else:
            while flow is not None and audio_s > flow.allowed_s():
                await asyncio.sleep(0.02)
            await asyncio.sleep(0)  # let received deltas be handled while we send
        yield frame
        audio_s += len(frame) / 2 / SAMPLE_RATE


def check_readable(path: str) -> str | None:
    try:
        sf.info(path)
    except Exception as exc:  # soundfile raises LibsndfileError / RuntimeError / OSError
        return f"cannot read {path}: {exc}"
    return None


async def stream_file(
    path: str,
    url: str,
    *,
    api_key: str | None = None,
    model: str | None = None,
    delay_ms: int = DEFAULT_DELAY_MS,
    realtime: bool = True,
    live: TextIO | None = None,
) -> Done:
    """Stream one file through a new session; returns the server's ``transcription.done``."""
    display = LiveTranscript(live) if live is not None else None
    flow = FlowControl(delay_ms)

    def on_event(event: Delta | Done) -> None:
        flow.on_event(event)
        if display is not None:
            display.on_event(event)

    try:
        async with RealtimeClient(url, api_key=api_key, model=model, delay_ms=delay_ms) as client:
            flow.t0 = time.monotonic()
            return await stream_frames(client, paced(read_frames(path), realtime, flow), on_event)
    except BaseException:
        if display is not None:
            display.interrupt()  # the error message starts on a line of its own
        raise


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="streamscribe stream",
        description="Stream audio files to a streamscribe server and print the transcript "
        "(live transcript on stderr, final text on stdout).",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="audio files (wav, flac, ogg, ...)")
    add_connection_options(p)
    p.add_argument(
        "--fast",
        action="store_true",
        help="send audio as fast as the server takes it instead of in real time",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object per file: text and words with start/end seconds",
    )
    p.add_argument("--quiet", "-q", action="store_true", help="no live transcript on stderr")
    return p


async def _run(args: argparse.Namespace) -> int:
    status = 0
    many = len(args.files) > 1
    for path in args.files:
        problem = check_readable(path)
        if problem:
            print(f"streamscribe stream: {problem}", file=sys.stderr)
            status = 1
            continue
        live = None if args.quiet else sys.stderr
        if live is not None and many:
            print(f"==> {path} <==", file=live)
        try:
            done = await stream_file(
                path,
                args.url,
                api_key=args.api_key,
                model=args.model,
                delay_ms=args.delay_ms,
                realtime=not args.fast,
                live=live,
            )
        except ClientError as exc:
            print(f"streamscribe stream: {exc}", file=sys.stderr)
            return 1
        if args.json:
            record = {
                "file": path,
                "text": done.text,
                "words": [w.as_dict() for w in done.words],
                "delay_ms": args.delay_ms,
            }
            print(json.dumps(record, ensure_ascii=False), flush=True)
        elif many:
            print(f"{path}: {done.text.strip()}", flush=True)
        else:
            print(done.text.strip(), flush=True)
    return status


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return asyncio.run(_run(args))
    except KeyboardInterrupt:
        print("\nstreamscribe stream: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
