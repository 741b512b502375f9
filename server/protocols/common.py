"""Pieces shared by both realtime protocols: parsing helpers, word timestamps, model bases."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from model.constants import ALLOWED_DELAYS_MS


class ClientEvent(BaseModel):
    """Incoming events: strict types (no "480" -> 480 coercion), unknown fields ignored."""

    model_config = ConfigDict(strict=True, extra="ignore")


class ServerEvent(BaseModel):
    """Outgoing events; fields left at None are not sent."""

    def to_json(self) -> str:
        return self.model_dump_json(exclude_none=True)


class WordOut(BaseModel):
    """A finished word with its time span in seconds of the session's audio (our extension)."""

    text: str
    start: float
    end: float

    @classmethod
    def from_word(cls, text: str, start_s: float, end_s: float) -> WordOut:
        return cls(text=text, start=round(start_s, 3), end=round(end_s, 3))


class ProtocolError(Exception):
    """A client mistake to report as a protocol error event; the session continues."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind  # protocol-independent: see ERROR_KINDS
        self.message = message


# Protocol-independent error kinds (each protocol maps them to its own codes).
ERROR_KINDS = (
    "invalid_json",  # not JSON, or not a JSON object
    "unknown_event",  # `type` missing or not an event of this protocol
    "invalid_event",  # known event with missing fields or wrong types
    "invalid_audio",  # base64/PCM problems, odd byte counts, file containers, empty chunks
    "invalid_config",  # unsupported delay, encoding, sample rate or session option
    "invalid_state",  # e.g. changing the format after audio started, audio after the end
    "model_not_found",
    "model_not_validated",
    "buffer_full",  # client far ahead of real time: more than max_buffer_seconds unprocessed
    "message_too_large",
    "processing_error",  # the engine failed
)

E = TypeVar("E", bound=BaseModel)


def parse_event(raw: str | bytes, adapters: Mapping[str, TypeAdapter[Any]]) -> Any:
    """JSON text -> the typed event for its `type`; raises ProtocolError."""
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ProtocolError("invalid_json", f"message is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ProtocolError("invalid_json", "message must be a JSON object")
    event_type = data.get("type")
    if not isinstance(event_type, str):
        raise ProtocolError("unknown_event", "message has no string `type` field")
    adapter = adapters.get(event_type)
    if adapter is None:
        known = ", ".join(sorted(adapters))
        raise ProtocolError("unknown_event", f"unknown event type {event_type!r}; known: {known}")
    try:
        return adapter.validate_python(data)
    except ValidationError as exc:
        details = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'event'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ProtocolError("invalid_event", f"invalid {event_type} event: {details}") from exc


def adapters_for(*classes: type[E]) -> dict[str, TypeAdapter[Any]]:
    """`type` literal default of each event class -> its validator."""
    table: dict[str, TypeAdapter[Any]] = {}
    for cls in classes:
        event_type = cls.model_fields["type"].default
        table[event_type] = TypeAdapter(cls)
    return table


def check_delay(delay_ms: int) -> int:
    if delay_ms not in ALLOWED_DELAYS_MS:
        allowed = ", ".join(str(d) for d in ALLOWED_DELAYS_MS)
        raise ProtocolError(
            "invalid_config",
            f"target_streaming_delay_ms={delay_ms} is not supported; choose one of: {allowed}",
        )
    return delay_ms
