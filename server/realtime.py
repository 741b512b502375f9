"""What both realtime protocols share: admission, the read/write/pump tasks, audio intake,
draining on shutdown and cleanup. Each protocol subclasses `RealtimeConnection`.

Per connection there are three tasks: the reader (client frames -> typed events -> handlers),
the writer (the only task that sends, from `outbox`), and a pump per utterance (the
scheduler's step events -> protocol events into `outbox`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

from fastapi import WebSocket
from pydantic import TypeAdapter
from starlette.websockets import WebSocketDisconnect

from model.constants import SAMPLE_RATE, delay_steps, prompt_length

from .audio import AudioDecoder, InvalidAudio
from .auth import is_authorized
from .protocols.common import ProtocolError, ServerEvent, WordOut, parse_event
from .scheduler import BufferFull, OverCapacity, Stream, StreamFailure
from .state import ServerState

log = logging.getLogger("streamscribe.realtime")

# WebSocket close codes
CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_POLICY = 1008  # unauthenticated, unknown model
CLOSE_INTERNAL = 1011
CLOSE_SERVICE_RESTART = 1012  # shutting down
CLOSE_TRY_AGAIN_LATER = 1013  # over capacity, model not loaded yet


@dataclass(frozen=True)
class Close:
    code: int
    reason: str


@dataclass
class StepText:
    """One step's streaming events folded into what a delta event carries."""

    text: str
    start: float | None
    words: list[WordOut]
    finished: Any = None  # streaming.events.Finished, if the utterance ended at this step


def fold_events(events: list[Any]) -> StepText:
    text_parts: list[str] = []
    start: float | None = None
    words: list[WordOut] = []
    finished = None
    for ev in events:
        kind = type(ev).__name__
        if kind == "TextDelta":
            text_parts.append(ev.text)
            if start is None:
                start = round(float(ev.start_s), 3)
        elif kind == "WordFinal":
            words.append(WordOut.from_word(ev.text, ev.start_s, ev.end_s))
        elif kind == "Finished":
            finished = ev
    return StepText("".join(text_parts), start, words, finished)


def words_out(words: list[Any]) -> list[WordOut]:
    return [WordOut.from_word(w.text, w.start_s, w.end_s) for w in words]


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int
    audio_seconds: float

    @classmethod
    def of(cls, stream: Stream) -> Usage:
        generated = len(stream.tokens) if stream.tokens is not None else 0
        prompt = prompt_length(delay_steps(stream.delay_ms))
        return cls(prompt, generated, stream.samples_in / SAMPLE_RATE)

    @property
    def audio_seconds_ceil(self) -> int:
        return math.ceil(self.audio_seconds)


class RealtimeConnection(ABC):
    protocol: ClassVar[str]
    adapters: ClassVar[dict[str, TypeAdapter[Any]]]

    def __init__(self, websocket: WebSocket, state: ServerState) -> None:
        self.ws = websocket
        self.state = state
        self.settings = state.settings
        self.outbox: asyncio.Queue[ServerEvent | Close] = asyncio.Queue()
        self.stream: Stream | None = None
        self.decoder: AudioDecoder | None = None
        self.delay_ms = self.settings.default_delay_ms
        self.close_when_done: Close | None = None  # set while draining
        self._pump: asyncio.Task[None] | None = None
        self._closing = False

    # --- protocol hooks

    @abstractmethod
    def error_event(self, kind: str, message: str) -> ServerEvent: ...

    @abstractmethod
    def created_events(self) -> list[ServerEvent]: ...

    @abstractmethod
    async def handle_event(self, event: Any) -> None: ...

    @abstractmethod
    def delta_event(self, step: StepText) -> ServerEvent: ...

    @abstractmethod
    def done_event(self, finished: Any, stream: Stream) -> ServerEvent: ...

    def check_model(self) -> str | None:
        """An error message if the connection names a model we do not serve."""
        return None

    def on_utterance_finished(self) -> None:
        """After `done` was queued (default: keep the connection for another utterance)."""
        return None

    def new_decoder(self) -> AudioDecoder:
        return AudioDecoder()

    # --- entry point

    async def run(self) -> None:
        await self.ws.accept()
        scheduler = self.state.scheduler
        refusal: tuple[str, str, int] | None = None
        if not is_authorized(self.settings, self.ws.headers, self.ws.query_params):
            refusal = ("unauthorized", "missing or invalid API key", CLOSE_POLICY)
        elif self.state.draining.is_set():
            refusal = ("shutting_down", "server is shutting down", CLOSE_SERVICE_RESTART)
        elif scheduler is None:
            refusal = ("over_capacity", "model is still loading; retry", CLOSE_TRY_AGAIN_LATER)
        elif (model_error := self.check_model()) is not None:
            refusal = ("model_not_found", model_error, CLOSE_POLICY)
        if refusal is None:
            assert scheduler is not None
            try:
                scheduler.acquire_slot()
            except OverCapacity as exc:
                refusal = ("over_capacity", str(exc), CLOSE_TRY_AGAIN_LATER)
        if refusal is not None:
            kind, message, code = refusal
            self.state.metrics.rejected_total.labels(reason=kind).inc()
            await self._refuse(kind, message, code)
            return
        assert scheduler is not None
        self.state.metrics.sessions_total.labels(protocol=self.protocol).inc()
        task = asyncio.current_task()
        assert task is not None
        self.state.connections.add(task)
        try:
            await self._serve()
        finally:
            self.state.connections.discard(task)
            if self.stream is not None:
                self.stream.close()
            if self._pump is not None:
                self._pump.cancel()
            scheduler.release_slot()

    async def _refuse(self, kind: str, message: str, code: int) -> None:
        with contextlib.suppress(Exception):
            await self.ws.send_text(self.error_event(kind, message).to_json())
            await self.ws.close(code=code, reason=message[:120])

    async def _serve(self) -> None:
        for event in self.created_events():
            self.send(event)
        writer = asyncio.create_task(self._write_loop(), name=f"{self.protocol}-writer")
        reader = asyncio.create_task(self._read_loop(), name=f"{self.protocol}-reader")
        drain: asyncio.Future[Any] = asyncio.ensure_future(self.state.draining.wait())
        try:
            while True:
                done, _ = await asyncio.wait(
                    {writer, reader, drain}, return_when=asyncio.FIRST_COMPLETED
                )
                if writer in done or reader in done:
                    break
                if drain in done:
                    drain = asyncio.get_running_loop().create_future()  # never again
                    self._begin_drain()
        finally:
            for task in (writer, reader, drain):
                task.cancel()
            await asyncio.gather(writer, reader, return_exceptions=True)
            if reader.done() and not reader.cancelled() and reader.exception() is not None:
                log.error("reader failed", exc_info=reader.exception())

    # --- outgoing

    def send(self, item: ServerEvent | Close) -> None:
        self.outbox.put_nowait(item)

    def send_error(self, kind: str, message: str) -> None:
        self.state.metrics.errors_total.labels(kind=kind).inc()
        self.send(self.error_event(kind, message))

    async def _write_loop(self) -> None:
        while True:
            item = await self.outbox.get()
            if isinstance(item, Close):
                self._closing = True
                with contextlib.suppress(Exception):
                    await self.ws.close(code=item.code, reason=item.reason)
                return
            try:
                await self.ws.send_text(item.to_json())
            except (WebSocketDisconnect, RuntimeError, OSError):
                return  # client gone: the connection ends, cleanup frees the session

    # --- incoming

    async def _read_loop(self) -> None:
        while True:
            try:
                message = await self.ws.receive()
            except (WebSocketDisconnect, RuntimeError):
                return
            if message["type"] == "websocket.disconnect":
                return
            if self._closing:
                continue
            try:
                if message.get("text") is not None:
                    await self.handle_event(parse_event(message["text"], self.adapters))
                elif message.get("bytes") is not None:
                    await self.handle_binary(message["bytes"])
            except ProtocolError as exc:
                self.send_error(exc.kind, exc.message)
            except Exception as exc:  # a bug must cost this connection one error event, no more
                log.exception("error handling a %s message", self.protocol)
                self.send_error("processing_error", f"internal error: {exc}")

    async def handle_binary(self, data: bytes) -> None:
        """Binary frames are raw audio in the session's format (PCM16 LE 16 kHz by default)."""
        self.append_audio(data)

    # --- utterance lifecycle

    def start_stream(self) -> Stream:
        assert self.state.scheduler is not None
        self.stream = self.state.scheduler.open_stream(self.delay_ms)
        self.decoder = self.new_decoder()
        self._pump = asyncio.create_task(self._pump_loop(self.stream), name="pump")
        return self.stream

    def append_audio(self, data: bytes) -> None:
        """Wire bytes of one append -> the current stream (started on first audio)."""
        if len(data) > self.settings.max_append_bytes:
            raise ProtocolError(
                "message_too_large",
                f"audio chunk of {len(data)} bytes exceeds {self.settings.max_append_bytes}; "
                "split it into smaller appends",
            )
        stream = self.stream
        if stream is not None and stream.end_requested:
            raise ProtocolError("invalid_state", "audio received after the end of audio")
        if stream is None:
            stream = self.start_stream()
        assert self.decoder is not None
        try:
            samples = self.decoder.decode(data)
        except InvalidAudio as exc:
            raise ProtocolError("invalid_audio", str(exc)) from exc
        try:
            stream.push(samples)
        except BufferFull as exc:
            raise ProtocolError("buffer_full", f"audio chunk dropped: {exc}") from exc

    def end_audio(self) -> None:
        stream = self.stream if self.stream is not None else self.start_stream()
        if stream.end_requested:
            raise ProtocolError("invalid_state", "end of audio already received")
        assert self.decoder is not None
        tail = self.decoder.flush()
        if tail.size:
            with contextlib.suppress(BufferFull):
                stream.push(tail)
        stream.end()

    @property
    def audio_started(self) -> bool:
        return self.stream is not None

    def _begin_drain(self) -> None:
        """Shutdown: end the audio so the final words are flushed, then close."""
        close = Close(CLOSE_GOING_AWAY, "server shutting down")
        if self.stream is not None and not self.stream.finished:
            self.close_when_done = close
            if not self.stream.end_requested:
                self.end_audio()
        else:
            self.send(close)

    async def _pump_loop(self, stream: Stream) -> None:
        while True:
            item = await stream.queue.get()
            if isinstance(item, StreamFailure):
                self.send_error("processing_error", item.message)
                self._utterance_over(stream)
                return
            step = fold_events(item)
            if step.text or step.words:
                self.send(self.delta_event(step))
            if step.finished is not None:
                self.send(self.done_event(step.finished, stream))
                self._utterance_over(stream)
                return

    def _utterance_over(self, stream: Stream) -> None:
        if self.stream is stream:
            self.stream = None
            self.decoder = None
        if self.close_when_done is not None:
            self.send(self.close_when_done)
            return
        self.on_utterance_finished()
