"""Async client for the server's vLLM-style realtime protocol (``ws://HOST:PORT/v1/realtime``).

Conversation::

    server: {"type": "session.created", ...}
    client: {"type": "session.update", "model"?: ..., "target_streaming_delay_ms": 480}
    client: binary frames of PCM16 LE 16 kHz mono (80 ms = 2560 bytes each)
    client: {"type": "input_audio_buffer.commit", "final": true}
    server: {"type": "transcription.delta", "delta": " word", "words"?: [{text, start, end}]}
    server: {"type": "transcription.done", "text": "..."}
    server: {"type": "error", "error": "...", "code": "..."} at any time

Only ``websockets`` and ``numpy`` are needed (no torch), so it runs on any client machine.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from clients.audio import DEFAULT_DELAY_MS

CLOSE_TIMEOUT_S = 3.0  # after the session ends, never hang on a server that does not close


class Word(NamedTuple):
    text: str
    start: float
    end: float

    def as_dict(self) -> dict[str, Any]:
        return {"text": self.text, "start": round(self.start, 3), "end": round(self.end, 3)}


@dataclass(frozen=True)
class Delta:
    """New transcript text, plus any words whose timing became known with it."""

    text: str
    words: tuple[Word, ...] = ()
    start: float | None = None


@dataclass(frozen=True)
class Done:
    text: str
    words: tuple[Word, ...] = ()


class ClientError(Exception):
    """Base class: every failure a client command reports to the user as one clear line."""


class ServerUnreachable(ClientError):
    pass


class AuthenticationFailed(ClientError):
    pass


class ServerError(ClientError):
    """An ``error`` event from the server."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(f"server error{f' ({code})' if code else ''}: {message}")
        self.message = message
        self.code = code


class ConnectionLost(ClientError):
    pass


def _parse_words(raw: Any) -> tuple[Word, ...]:
    words: list[Word] = []
    if not isinstance(raw, list):
        return ()
    for w in raw:
        if not isinstance(w, dict) or "text" not in w:
            continue
        try:
            words.append(Word(str(w["text"]), float(w["start"]), float(w["end"])))
        except (KeyError, TypeError, ValueError):
            continue
    return tuple(words)


def parse_event(message: dict[str, Any]) -> Delta | Done | None:
    """Server JSON event -> Delta / Done; raises ServerError for ``error``; None if ignored."""
    kind = message.get("type")
    if kind == "transcription.delta":
        start = message.get("start")
        return Delta(
            text=str(message.get("delta", "")),
            words=_parse_words(message.get("words")),
            start=float(start) if isinstance(start, int | float) else None,
        )
    if kind == "transcription.done":
        return Done(text=str(message.get("text", "")), words=_parse_words(message.get("words")))
    if kind == "error":
        err = message.get("error")
        if isinstance(err, dict):  # tolerate the OpenAI-style nested form too
            code = err.get("code")
            text = err.get("message") or json.dumps(err)
        else:
            code = message.get("code")
            text = str(err if err is not None else message.get("message", "unknown error"))
        raise ServerError(text, None if code is None else str(code))
    return None


def describe_connect_error(url: str, exc: BaseException) -> ClientError:
    if isinstance(exc, InvalidStatus):
        status = exc.response.status_code
        body = exc.response.body.decode("utf-8", "replace").strip() if exc.response.body else ""
        detail = f": {body[:200]}" if body else ""
        if status in (401, 403):
            return AuthenticationFailed(
                f"the server at {url} refused the connection (HTTP {status}): "
                f"check --api-key{detail}"
            )
        return ServerUnreachable(
            f"the server at {url} refused the WebSocket (HTTP {status}){detail}"
        )
    if isinstance(exc, InvalidURI):
        return ServerUnreachable(f"invalid server URL {url!r}: use ws://HOST:PORT/v1/realtime")
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return ServerUnreachable(f"timed out connecting to {url}: is the server running?")
    if isinstance(exc, OSError):
        if isinstance(exc, ConnectionRefusedError):
            reason = "connection refused"
        elif isinstance(exc, socket.gaierror):
            reason = f"unknown host: {exc.strerror or exc}"
        else:
            reason = exc.strerror or str(exc) or type(exc).__name__
        return ServerUnreachable(
            f"cannot reach the server at {url} ({reason}): is `streamscribe serve` running there?"
        )
    if isinstance(exc, InvalidHandshake):
        return ServerUnreachable(f"WebSocket handshake with {url} failed: {exc}")
    return ServerUnreachable(f"cannot connect to {url}: {exc}")


def normalize_url(url: str) -> str:
    """Accept http(s)://, ws(s):// or bare HOST:PORT; add /v1/realtime when no path is given."""
    if "://" not in url:
        url = "ws://" + url
    scheme, rest = url.split("://", 1)
    scheme = {"http": "ws", "https": "wss"}.get(scheme.lower(), scheme.lower())
    if "/" not in rest:
        rest += "/v1/realtime"
    return f"{scheme}://{rest}"


@dataclass
class RealtimeClient:
    """One transcription session. Use as ``async with RealtimeClient(url) as c:``."""

    url: str
    api_key: str | None = None
    model: str | None = None
    delay_ms: int = DEFAULT_DELAY_MS
    open_timeout: float = 10.0
    session: dict[str, Any] = field(default_factory=dict)
    _ws: ClientConnection | None = field(default=None, init=False, repr=False)

    async def __aenter__(self) -> RealtimeClient:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def open(self) -> None:
        url = normalize_url(self.url)
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else None
        try:
            self._ws = await connect(
                url,
                additional_headers=headers,
                open_timeout=self.open_timeout,
                close_timeout=CLOSE_TIMEOUT_S,
                max_size=16 * 1024 * 1024,
                compression=None,  # PCM does not compress; save the CPU
                proxy=None,
            )
        except (OSError, InvalidHandshake, InvalidURI, TimeoutError) as exc:
            raise describe_connect_error(url, exc) from exc
        try:
            first = await asyncio.wait_for(self._recv_json(), self.open_timeout)
        except TimeoutError as exc:
            await self.close()
            raise ServerUnreachable(f"{url} sent no session.created") from exc
        if first.get("type") == "error":
            await self.close()
            try:
                parse_event(first)
            except ServerError as exc:
                if exc.code in ("unauthorized", "invalid_api_key", "authentication_error"):
                    raise AuthenticationFailed(
                        f"the server at {url} refused the connection ({exc.message}): "
                        "check --api-key"
                    ) from exc
                raise
        if first.get("type") != "session.created":
            await self.close()
            raise ConnectionLost(f"expected session.created from {url}, got {first.get('type')!r}")
        self.session = first
        update: dict[str, Any] = {
            "type": "session.update",
            "target_streaming_delay_ms": int(self.delay_ms),
        }
        if self.model:
            update["model"] = self.model
        await self.send_json(update)

    @property
    def ws(self) -> ClientConnection:
        if self._ws is None:
            raise RuntimeError("client is not connected")
        return self._ws

    async def _recv_json(self) -> dict[str, Any]:
        try:
            raw = await self.ws.recv()
        except ConnectionClosed as exc:
            raise _closed_error(exc) from exc
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8", "replace")
        try:
            message = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ConnectionLost(f"server sent invalid JSON: {raw[:200]!r}") from exc
        if not isinstance(message, dict):
            raise ConnectionLost(f"server sent a non-object message: {raw[:200]!r}")
        return message

    async def send_json(self, message: dict[str, Any]) -> None:
        try:
            await self.ws.send(json.dumps(message))
        except ConnectionClosed as exc:
            raise _closed_error(exc) from exc

    async def send_audio(self, pcm16: bytes) -> None:
        """One binary frame of PCM16 LE 16 kHz mono (80 ms = 2560 bytes is the natural size)."""
        if not pcm16:
            return
        try:
            await self.ws.send(pcm16)
        except ConnectionClosed as exc:
            raise _closed_error(exc) from exc

    async def commit(self, final: bool = True) -> None:
        await self.send_json({"type": "input_audio_buffer.commit", "final": final})

    async def events(self) -> AsyncIterator[Delta | Done]:
        """Transcription events until (and including) ``Done``; raises ServerError on error."""
        while True:
            event = parse_event(await self._recv_json())
            if event is None:
                continue
            yield event
            if isinstance(event, Done):
                return

    async def close(self) -> None:
        if self._ws is not None:
            ws, self._ws = self._ws, None
            try:
                await ws.close()
            except Exception:  # closing a dead socket must never mask the real error
                pass


def _closed_error(exc: ConnectionClosed) -> ClientError:
    rcvd = exc.rcvd
    if rcvd is not None and rcvd.code not in (1000, 1001):
        reason = f": {rcvd.reason}" if rcvd.reason else ""
        return ConnectionLost(f"the server closed the connection (code {rcvd.code}){reason}")
    return ConnectionLost("the server closed the connection")


async def stream_frames(
    client: RealtimeClient,
    frames: AsyncIterable[bytes],
    on_event: Callable[[Delta | Done], None] | None = None,
) -> Done:
    """Send every frame then the final commit while receiving events; returns ``Done``.

    Sending and receiving run concurrently so deltas arrive live; an error from either side
    (server error event, closed socket, failing source) cancels the other and is raised.
    """
    done: Done | None = None
    words: list[Word] = []

    async def sender() -> None:
        async for frame in frames:
            await client.send_audio(frame)
        await client.commit(final=True)

    async def receiver() -> None:
        nonlocal done
        async for event in client.events():
            if isinstance(event, Delta):
                words.extend(event.words)
            elif not event.words and words:  # done without words: the deltas carried them
                event = Done(event.text, tuple(words))
            if on_event is not None:
                on_event(event)
            if isinstance(event, Done):
                done = event

    send_task = asyncio.create_task(sender())
    recv_task = asyncio.create_task(receiver())
    try:
        pending: set[asyncio.Task[None]] = {send_task, recv_task}
        while pending:
            _, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            if recv_task.done() or (send_task.done() and send_task.exception() is not None):
                break
        if not recv_task.done():
            # sending failed; a server error event usually explains why: prefer it
            try:
                await asyncio.wait_for(asyncio.shield(recv_task), 2.0)
            except ClientError:
                raise
            except (TimeoutError, asyncio.CancelledError):
                pass
            exc = send_task.exception()
            assert exc is not None
            raise exc
        await recv_task  # re-raises a receive error (ServerError, ConnectionLost)
    finally:
        for task in (send_task, recv_task):
            if not task.done():
                task.cancel()
        await asyncio.gather(send_task, recv_task, return_exceptions=True)
    if done is None:
        raise ConnectionLost("the server closed the session without transcription.done")
    return done


__all__ = [
    "AuthenticationFailed",
    "ClientError",
    "ConnectionLost",
    "Delta",
    "Done",
    "RealtimeClient",
    "ServerError",
    "ServerUnreachable",
    "Word",
    "normalize_url",
    "parse_event",
    "stream_frames",
]
