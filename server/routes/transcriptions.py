"""POST /v1/audio/transcriptions: OpenAI-compatible file transcription.

The file goes through the same scheduler as the realtime sessions (it shares their batched
steps and counts against --max-sessions), fed as fast as the engine takes it.
"""

from __future__ import annotations

import asyncio
import io
import math
from typing import Annotated, Any

import numpy as np
import soundfile as sf
import soxr
from fastapi import APIRouter, Depends, File, Form, HTTPException, UploadFile, status
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel

from model.constants import SAMPLE_RATE

from ..auth import require_api_key
from ..protocols.common import ProtocolError, check_delay
from ..scheduler import OverCapacity, StreamFailure
from ..state import ServerState, get_state

router = APIRouter()

FEED_SECONDS = 10.0  # audio handed to the scheduler at a time
RESPONSE_FORMATS = ("json", "text", "verbose_json")


class WordJson(BaseModel):
    word: str
    start: float
    end: float


class UsageJson(BaseModel):
    type: str = "duration"
    seconds: float


class TranscriptionJson(BaseModel):
    text: str
    words: list[WordJson] | None = None
    usage: UsageJson | None = None


class VerboseTranscriptionJson(BaseModel):
    task: str = "transcribe"
    language: str | None = None
    duration: float
    text: str
    words: list[WordJson] | None = None
    segments: list[dict[str, Any]] = []
    usage: UsageJson | None = None


def decode_file(data: bytes) -> np.ndarray:
    """Any soundfile-readable file -> float32 mono 16 kHz; ValueError when unreadable."""
    try:
        audio, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except Exception as exc:  # soundfile raises LibsndfileError / RuntimeError / TypeError
        raise ValueError(f"cannot decode audio file: {exc}") from exc
    mono = audio.mean(axis=1) if audio.shape[1] > 1 else audio[:, 0]
    if rate != SAMPLE_RATE:
        mono = soxr.resample(mono, rate, SAMPLE_RATE, quality="HQ")
    return np.ascontiguousarray(mono, dtype=np.float32)


def bad_request(message: str) -> HTTPException:
    return HTTPException(status_code=status.HTTP_400_BAD_REQUEST, detail=message)


@router.post(
    "/v1/audio/transcriptions",
    dependencies=[Depends(require_api_key)],
    response_model=None,
    response_model_exclude_none=True,
)
async def transcribe_file(
    file: Annotated[UploadFile, File(description="audio file (wav, flac, ogg, ...)")],
    state: Annotated[ServerState, Depends(get_state)],
    model: Annotated[str | None, Form()] = None,
    language: Annotated[str | None, Form()] = None,
    response_format: Annotated[str, Form()] = "json",
    timestamp_granularities: Annotated[
        list[str] | None, Form(alias="timestamp_granularities[]")
    ] = None,
    target_streaming_delay_ms: Annotated[int | None, Form()] = None,
) -> TranscriptionJson | VerboseTranscriptionJson | PlainTextResponse:
    settings = state.settings
    scheduler = state.scheduler
    if scheduler is None or state.draining.is_set():
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "server not ready")
    if model is not None and model not in settings.model_names:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"model {model!r} is not served here")
    if response_format not in RESPONSE_FORMATS:
        raise bad_request(f"response_format must be one of {', '.join(RESPONSE_FORMATS)}")
    granularities = set(timestamp_granularities or [])
    if granularities - {"word", "segment"}:
        raise bad_request("timestamp_granularities[] accepts 'word' and 'segment'")
    try:
        delay_ms = check_delay(target_streaming_delay_ms or settings.default_delay_ms)
    except ProtocolError as exc:
        raise bad_request(exc.message) from exc
    data = await file.read(settings.max_upload_bytes + 1)
    if len(data) > settings.max_upload_bytes:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, "file too large")
    try:
        audio = await asyncio.to_thread(decode_file, data)
    except ValueError as exc:
        raise bad_request(str(exc)) from exc

    try:
        scheduler.acquire_slot()
    except OverCapacity as exc:
        state.metrics.rejected_total.labels(reason="over_capacity").inc()
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, str(exc), headers={"Retry-After": "1"}
        ) from exc
    state.metrics.sessions_total.labels(protocol="http").inc()
    stream = scheduler.open_stream(delay_ms)
    try:
        chunk = int(FEED_SECONDS * SAMPLE_RATE)
        for begin in range(0, audio.size, chunk):
            await stream.wait_backlog_below(scheduler.max_buffer_seconds - FEED_SECONDS)
            stream.push(audio[begin : begin + chunk])
        stream.end()
        finished = None
        while finished is None:
            item = await stream.queue.get()
            if isinstance(item, StreamFailure):
                raise HTTPException(status.HTTP_500_INTERNAL_SERVER_ERROR, item.message)
            finished = next((e for e in item if type(e).__name__ == "Finished"), None)
    finally:
        stream.close()
        scheduler.release_slot()

    duration = audio.size / SAMPLE_RATE
    text = finished.text.strip()
    if response_format == "text":
        return PlainTextResponse(text)
    words = None
    if "word" in granularities or response_format == "verbose_json":
        words = [
            WordJson(word=w.text, start=round(w.start_s, 3), end=round(w.end_s, 3))
            for w in finished.words
        ]
    usage = UsageJson(seconds=math.ceil(duration))
    if response_format == "verbose_json":
        segments = []
        if "segment" in granularities and words:
            segments = [{"id": 0, "start": words[0].start, "end": words[-1].end, "text": text}]
        return VerboseTranscriptionJson(
            duration=round(duration, 3),
            text=text,
            language=language,
            words=words,
            segments=segments,
            usage=usage,
        )
    return TranscriptionJson(text=text, words=words, usage=usage)
