"""Mistral realtime transcription protocol (`mistralai` SDK, `client.audio.realtime`).

Field names follow the SDK's models (mistralai.client.models.realtimetranscription*,
transcriptionstream*). Our extensions are extra fields the SDK's models accept
(`extra="allow"` on deltas and done): `start` and `words` on `transcription.text.delta`,
`words` on `transcription.done`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from .common import ClientEvent, ServerEvent, WordOut, adapters_for

# error kind -> integer code sent in `error.code` (HTTP-like, documented in the README note)
ERROR_CODES: dict[str, int] = {
    "invalid_json": 400,
    "unknown_event": 400,
    "invalid_event": 422,
    "invalid_audio": 400,
    "invalid_config": 422,
    "invalid_state": 409,
    "model_not_found": 404,
    "model_not_validated": 409,
    "buffer_full": 429,
    "message_too_large": 413,
    "processing_error": 500,
    "unauthorized": 401,
    "over_capacity": 503,
    "shutting_down": 503,
}


class AudioFormat(BaseModel):
    encoding: str
    sample_rate: int


class SessionUpdatePayload(ClientEvent):
    audio_format: AudioFormat | None = None
    target_streaming_delay_ms: int | None = None
    diarize: bool | None = None
    context_bias: list[str] | None = None
    language: str | None = None
    speaker_references: dict[str, str] | None = None
    turn_detection: dict[str, Any] | None = None


# --- client -> server


class SessionUpdate(ClientEvent):
    type: Literal["session.update"] = "session.update"
    session: SessionUpdatePayload


class InputAudioAppend(ClientEvent):
    type: Literal["input_audio.append"] = "input_audio.append"
    audio: str  # base64 of raw PCM in the session's audio_format


class InputAudioFlush(ClientEvent):
    type: Literal["input_audio.flush"] = "input_audio.flush"


class InputAudioEnd(ClientEvent):
    type: Literal["input_audio.end"] = "input_audio.end"


ClientMessage = SessionUpdate | InputAudioAppend | InputAudioFlush | InputAudioEnd
ADAPTERS = adapters_for(SessionUpdate, InputAudioAppend, InputAudioFlush, InputAudioEnd)


# --- server -> client


class Session(BaseModel):
    request_id: str
    model: str
    audio_format: AudioFormat
    target_streaming_delay_ms: int | None = None
    language: str | None = None


class SessionCreated(ServerEvent):
    type: Literal["session.created"] = "session.created"
    session: Session


class SessionUpdated(ServerEvent):
    type: Literal["session.updated"] = "session.updated"
    session: Session


class TextDelta(ServerEvent):
    type: Literal["transcription.text.delta"] = "transcription.text.delta"
    text: str
    start: float | None = None  # extension: audio time (s) where this text starts
    words: list[WordOut] | None = None  # extension: words whose end became known


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    prompt_audio_seconds: int | None = None  # the SDK types this as an integer


class Done(ServerEvent):
    type: Literal["transcription.done"] = "transcription.done"
    model: str
    text: str
    usage: Usage
    language: str | None = None  # required (nullable) by the SDK: always sent
    words: list[WordOut] = Field(default_factory=list)  # extension

    def to_json(self) -> str:
        return self.model_dump_json()


class ErrorDetail(BaseModel):
    message: str
    code: int


class Error(ServerEvent):
    type: Literal["error"] = "error"
    error: ErrorDetail

    @classmethod
    def of(cls, kind: str, message: str) -> Error:
        return cls(error=ErrorDetail(message=message, code=ERROR_CODES.get(kind, 400)))
