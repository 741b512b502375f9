"""WS /v1/audio/transcriptions/realtime?model=...: Mistral's realtime transcription protocol.

Flow (as the `mistralai` SDK drives it): server sends `session.created` with the defaults
(PCM16 LE, 16 kHz, the server's default delay); the client may send `session.update`
(`audio_format`, `target_streaming_delay_ms`) before its first audio, then
`input_audio.append` (base64) or binary frames, optionally `input_audio.flush` (a no-op here:
audio is always processed as soon as a full 80 ms step is available), then
`input_audio.end`. The server streams `transcription.text.delta`, sends
`transcription.done` and closes with 1000.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, WebSocket

from ..audio import AudioDecoder, InvalidAudio, decode_base64, validate_format
from ..protocols import mistral as mp
from ..protocols.common import ProtocolError, ServerEvent, check_delay
from ..realtime import CLOSE_NORMAL, Close, RealtimeConnection, StepText, Usage, words_out
from ..scheduler import Stream
from ..state import get_ws_state

router = APIRouter()


class MistralConnection(RealtimeConnection):
    protocol = "mistral"
    adapters = mp.ADAPTERS

    def __init__(self, websocket: WebSocket, state: Any) -> None:
        super().__init__(websocket, state)
        self.request_id = f"ws-{uuid.uuid4().hex}"
        self.encoding = "pcm_s16le"
        self.sample_rate = 16_000
        self.language: str | None = None
        self.model_name = websocket.query_params.get("model") or self.settings.model_id

    def check_model(self) -> str | None:
        if self.model_name not in self.settings.model_names:
            served = ", ".join(self.settings.model_names)
            return f"model {self.model_name!r} is not served here; served: {served}"
        return None

    def session(self) -> mp.Session:
        return mp.Session(
            request_id=self.request_id,
            model=self.model_name,
            audio_format=mp.AudioFormat(encoding=self.encoding, sample_rate=self.sample_rate),
            target_streaming_delay_ms=self.delay_ms,
            language=self.language,
        )

    def new_decoder(self) -> AudioDecoder:
        return AudioDecoder(self.encoding, self.sample_rate)

    def error_event(self, kind: str, message: str) -> ServerEvent:
        return mp.Error.of(kind, message)

    def created_events(self) -> list[ServerEvent]:
        return [mp.SessionCreated(session=self.session())]

    async def handle_event(self, event: Any) -> None:
        if isinstance(event, mp.InputAudioAppend):
            self.append_audio(decode_base64_audio(event.audio))
        elif isinstance(event, mp.SessionUpdate):
            self.update_session(event.session)
        elif isinstance(event, mp.InputAudioFlush):
            pass  # every full 80 ms step is processed as soon as it arrives
        elif isinstance(event, mp.InputAudioEnd):
            self.end_audio()

    def update_session(self, update: mp.SessionUpdatePayload) -> None:
        if self.audio_started:
            raise ProtocolError(
                "invalid_state", "session.update is only accepted before the first audio"
            )
        unsupported = [
            name
            for name in ("diarize", "speaker_references", "turn_detection")
            if getattr(update, name)
        ]
        if unsupported:
            raise ProtocolError(
                "invalid_config", f"not supported by this server: {', '.join(unsupported)}"
            )
        encoding, sample_rate, delay_ms = self.encoding, self.sample_rate, self.delay_ms
        if update.audio_format is not None:
            encoding = update.audio_format.encoding
            sample_rate = update.audio_format.sample_rate
            try:
                validate_format(encoding, sample_rate)
            except InvalidAudio as exc:
                raise ProtocolError("invalid_config", str(exc)) from exc
        if update.target_streaming_delay_ms is not None:
            delay_ms = check_delay(update.target_streaming_delay_ms)
        self.encoding, self.sample_rate, self.delay_ms = encoding, sample_rate, delay_ms
        if update.language is not None:
            self.language = update.language  # informational: the model detects the language
        self.send(mp.SessionUpdated(session=self.session()))

    def delta_event(self, step: StepText) -> ServerEvent:
        return mp.TextDelta(text=step.text, start=step.start, words=step.words or None)

    def done_event(self, finished: Any, stream: Stream) -> ServerEvent:
        usage = Usage.of(stream)
        return mp.Done(
            model=self.model_name,
            text=finished.text,
            usage=mp.Usage(
                prompt_tokens=usage.prompt_tokens,
                completion_tokens=usage.completion_tokens,
                total_tokens=usage.prompt_tokens + usage.completion_tokens,
                prompt_audio_seconds=usage.audio_seconds_ceil,
            ),
            language=self.language,
            words=words_out(finished.words),
        )

    def on_utterance_finished(self) -> None:
        self.send(Close(CLOSE_NORMAL, "transcription done"))


def decode_base64_audio(text: str) -> bytes:
    try:
        return decode_base64(text)
    except InvalidAudio as exc:
        raise ProtocolError("invalid_audio", str(exc)) from exc


@router.websocket("/v1/audio/transcriptions/realtime")
async def mistral_realtime(websocket: WebSocket) -> None:
    await MistralConnection(websocket, get_ws_state(websocket)).run()
