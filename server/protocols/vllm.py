"""vLLM realtime protocol (`vllm/entrypoints/openai/realtime/protocol.py`), WS /v1/realtime.

Our extensions: `target_streaming_delay_ms` in `session.update` (vLLM fixes the delay per
server), `start` and `words` on `transcription.delta`, `words` on `transcription.done`.
"""

from __future__ import annotations

import time
import uuid
from typing import Literal

from pydantic import BaseModel, Field

from .common import ClientEvent, ServerEvent, WordOut, adapters_for

# error kind -> vLLM error code. vLLM's own codes are invalid_json, invalid_audio,
# model_not_validated, model_not_found, unknown_event, processing_error; the others are ours.
ERROR_CODES: dict[str, str] = {
    "invalid_json": "invalid_json",
    "unknown_event": "unknown_event",
    "invalid_event": "invalid_event",
    "invalid_audio": "invalid_audio",
    "invalid_config": "invalid_config",
    "invalid_state": "invalid_state",
    "model_not_found": "model_not_found",
    "model_not_validated": "model_not_validated",
    "buffer_full": "buffer_full",
    "message_too_large": "message_too_large",
    "processing_error": "processing_error",
    "unauthorized": "unauthorized",
    "over_capacity": "over_capacity",
    "shutting_down": "shutting_down",
}


# --- client -> server


class SessionUpdate(ClientEvent):
    type: Literal["session.update"] = "session.update"
    model: str | None = None
    target_streaming_delay_ms: int | None = None  # extension


class InputAudioBufferAppend(ClientEvent):
    type: Literal["input_audio_buffer.append"] = "input_audio_buffer.append"
    audio: str  # base64 PCM16 LE, 16 kHz mono


class InputAudioBufferCommit(ClientEvent):
    type: Literal["input_audio_buffer.commit"] = "input_audio_buffer.commit"
    final: bool = False  # true: the audio is finished


ClientMessage = SessionUpdate | InputAudioBufferAppend | InputAudioBufferCommit
ADAPTERS = adapters_for(SessionUpdate, InputAudioBufferAppend, InputAudioBufferCommit)


# --- server -> client


class SessionCreated(ServerEvent):
    type: Literal["session.created"] = "session.created"
    id: str = Field(default_factory=lambda: f"sess-{uuid.uuid4().hex}")
    created: int = Field(default_factory=lambda: int(time.time()))


class TranscriptionDelta(ServerEvent):
    type: Literal["transcription.delta"] = "transcription.delta"
    delta: str
    start: float | None = None  # extension
    words: list[WordOut] | None = None  # extension


class Usage(BaseModel):
    prompt_tokens: int = 0
    total_tokens: int = 0
    completion_tokens: int = 0


class TranscriptionDone(ServerEvent):
    type: Literal["transcription.done"] = "transcription.done"
    text: str
    usage: Usage | None = None
    words: list[WordOut] = Field(default_factory=list)  # extension


class ErrorEvent(ServerEvent):
    type: Literal["error"] = "error"
    error: str
    code: str | None = None

    @classmethod
    def of(cls, kind: str, message: str) -> ErrorEvent:
        return cls(error=message, code=ERROR_CODES.get(kind, kind))
