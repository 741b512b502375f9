"""WS /v1/realtime: vLLM's realtime transcription protocol.

Flow: server sends `session.created`; client sends `session.update {model}` (plus our
optional `target_streaming_delay_ms`), then `input_audio_buffer.append {audio: base64 PCM16
LE 16 kHz}` (or binary frames) and `input_audio_buffer.commit` (`final: true` ends the
audio). The server streams `transcription.delta`, then sends `transcription.done`; the
connection stays open for another utterance. Audio before `session.update` is refused with
`model_not_validated` (vLLM requires the model to be validated before it transcribes).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, WebSocket

from ..protocols import vllm as vp
from ..protocols.common import ProtocolError, ServerEvent, check_delay
from ..realtime import RealtimeConnection, StepText, Usage, words_out
from ..scheduler import Stream
from ..state import get_ws_state
from .mistral_ws import decode_base64_audio

router = APIRouter()

NOT_VALIDATED = (
    "model not validated: send a session.update event with the model before audio or commit"
)


class VllmConnection(RealtimeConnection):
    protocol = "vllm"
    adapters = vp.ADAPTERS

    def __init__(self, websocket: WebSocket, state: Any) -> None:
        super().__init__(websocket, state)
        self.model_validated = False

    def error_event(self, kind: str, message: str) -> ServerEvent:
        return vp.ErrorEvent.of(kind, message)

    def created_events(self) -> list[ServerEvent]:
        return [vp.SessionCreated()]

    async def handle_event(self, event: Any) -> None:
        if isinstance(event, vp.InputAudioBufferAppend):
            self._require_validated()
            self.append_audio(decode_base64_audio(event.audio))
        elif isinstance(event, vp.InputAudioBufferCommit):
            self._require_validated()
            if event.final:
                self.end_audio()
            elif self.stream is None:
                self.start_stream()
        elif isinstance(event, vp.SessionUpdate):
            self.update_session(event)

    async def handle_binary(self, data: bytes) -> None:
        self._require_validated()
        self.append_audio(data)

    def _require_validated(self) -> None:
        if not self.model_validated:
            raise ProtocolError("model_not_validated", NOT_VALIDATED)

    def update_session(self, update: vp.SessionUpdate) -> None:
        if update.model is not None and update.model not in self.settings.model_names:
            served = ", ".join(self.settings.model_names)
            raise ProtocolError(
                "model_not_found", f"The model `{update.model}` does not exist. Served: {served}"
            )
        if update.target_streaming_delay_ms is not None:
            delay_ms = check_delay(update.target_streaming_delay_ms)
            if self.audio_started and delay_ms != self.delay_ms:
                raise ProtocolError(
                    "invalid_state", "the delay cannot change while an utterance is streaming"
                )
            self.delay_ms = delay_ms
        self.model_validated = True

    def delta_event(self, step: StepText) -> ServerEvent:
        return vp.TranscriptionDelta(delta=step.text, start=step.start, words=step.words or None)

    def done_event(self, finished: Any, stream: Stream) -> ServerEvent:
        usage = Usage.of(stream)
        return vp.TranscriptionDone(
            text=finished.text,
            usage=vp.Usage(
                prompt_tokens=usage.prompt_tokens,
                completion_tokens=usage.completion_tokens,
                total_tokens=usage.prompt_tokens + usage.completion_tokens,
            ),
            words=words_out(finished.words),
        )


@router.websocket("/v1/realtime")
async def vllm_realtime(websocket: WebSocket) -> None:
    await VllmConnection(websocket, get_ws_state(websocket)).run()
