"""Ways to get transcripts for evaluation utterances.

- ``run_inprocess``: the server's own path, ``streaming.BatchedEngine`` + ``streaming.Session``
  (DESIGN.md), many utterances batched at once with continuous refill of free slots. Word
  emission latency is measured on the model's clock: a word emitted at the engine step that
  consumed audio up to time T has latency ``T - word.end_s`` (so ``delay + 80 ms`` at best).
- ``run_live``: a running server over the vLLM-style realtime WebSocket protocol, either
  at real-time pace (latency = arrival wall time - word end on the audio clock) or as fast as
  the server takes audio.

Both call ``on_result(Transcript)`` once per finished utterance (for the progress bar and so
that Ctrl-C keeps what is done) and return a ``RunStats``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from eval.datasets import SAMPLE_RATE, Utterance

STEP_SECONDS = 0.08
SAMPLES_PER_STEP = 1280


@dataclass
class Transcript:
    """The result for one utterance in one run."""

    id: str
    text: str
    audio_s: float
    words: list[tuple[str, float, float]] = field(default_factory=list)
    latencies_s: list[float] = field(default_factory=list)  # per word: emitted - word end


@dataclass
class RunStats:
    """Totals of one run (one system at one delay)."""

    audio_s: float = 0.0
    wall_s: float = 0.0  # compute (in-process) or session wall time (live) for RTF
    utterances: int = 0
    latencies_s: list[float] = field(default_factory=list)
    interrupted: bool = False

    @property
    def rtf(self) -> float:
        return self.wall_s / self.audio_s if self.audio_s > 0 else float("nan")

    def latency_summary(self) -> dict[str, float | None]:
        if not self.latencies_s:
            return {"mean_s": None, "p50_s": None, "p90_s": None, "max_s": None}
        a = np.asarray(self.latencies_s, dtype=np.float64)
        return {
            "mean_s": round(float(a.mean()), 4),
            "p50_s": round(float(np.percentile(a, 50)), 4),
            "p90_s": round(float(np.percentile(a, 90)), 4),
            "max_s": round(float(a.max()), 4),
        }


OnResult = Callable[[Transcript], None]


# --------------------------------------------------------------------------- in-process


def _left_pad_steps() -> int:
    try:
        from model.constants import N_LEFT_PAD_STEPS
    except ImportError:  # pragma: no cover - model package always present in the repo
        return 32
    return int(N_LEFT_PAD_STEPS)


def _events_by_session(result: Any, ready: Sequence[Any]) -> list[list[Any]]:
    """``engine.step`` result -> one event list per session in ``ready`` (dict or list form)."""
    if result is None:
        return [[] for _ in ready]
    if isinstance(result, dict):
        out = []
        for s in ready:
            ev = result.get(s)
            if ev is None:
                ev = result.get(getattr(s, "id", None), [])
            out.append(list(ev or []))
        return out
    return [list(ev or []) for ev in result]


def _word_fields(w: Any) -> tuple[str, float, float]:
    if isinstance(w, dict):
        return str(w["text"]), float(w.get("start", w.get("start_s", 0.0))), float(
            w.get("end", w.get("end_s", 0.0))
        )
    return str(w.text), float(w.start_s), float(w.end_s)


def run_inprocess(
    model: Any,
    utterances: Sequence[Utterance],
    delay_ms: int,
    batch_size: int = 16,
    on_result: OnResult | None = None,
    engine: Any = None,
) -> RunStats:
    """Transcribe ``utterances`` through ``streaming.BatchedEngine`` (the server's path).

    Up to ``batch_size`` sessions are live at once; a finished session frees its slot for the
    next utterance. Each session gets all its audio with ``push_audio`` + ``push_end``, then
    ``engine.step`` runs over every session with ``steps_ready() > 0`` until all are done.
    RTF counts only the time inside ``engine.step``.
    """
    from streaming import BatchedEngine, Session

    engine = engine if engine is not None else BatchedEngine(model)
    stats = RunStats()
    left_pad_s = _left_pad_steps() * STEP_SECONDS
    pending = list(utterances)
    active: list[dict[str, Any]] = []

    def admit() -> None:
        while pending and len(active) < batch_size:
            utt = pending.pop(0)
            audio = utt.load_audio()
            s = Session(model, delay_ms=delay_ms, engine=engine)
            s.push_audio(audio)
            s.push_end()
            active.append(
                {"utt": utt, "session": s, "steps": 0, "audio_s": len(audio) / SAMPLE_RATE,
                 "latencies": []}
            )

    try:
        admit()
        while active:
            ready = [a for a in active if a["session"].steps_ready() > 0]
            if not ready:
                stuck = [a["utt"].id for a in active if not a["session"].done]
                if stuck:
                    raise RuntimeError(f"sessions neither done nor ready: {stuck[:5]}")
            else:
                t0 = time.perf_counter()
                result = engine.step([a["session"] for a in ready])
                stats.wall_s += time.perf_counter() - t0
                for a, events in zip(ready, _events_by_session(result, [a["session"] for a in
                                                                          ready]), strict=True):
                    a["steps"] += 1
                    # audio consumed so far on the model's clock (decoder position p reads
                    # the 80 ms after the 32 left-pad steps: p + 1 positions done)
                    done_steps = getattr(a["session"], "position", a["steps"])
                    clock = done_steps * STEP_SECONDS - left_pad_s
                    for ev in events:
                        if type(ev).__name__ == "WordFinal":
                            a["latencies"].append(clock - float(ev.end_s))
            for a in [a for a in active if a["session"].done]:
                active.remove(a)
                s = a["session"]
                words = [_word_fields(w) for w in (s.words or [])]
                tr = Transcript(a["utt"].id, s.text, a["audio_s"], words, a["latencies"])
                s.close()
                stats.audio_s += tr.audio_s
                stats.utterances += 1
                stats.latencies_s.extend(tr.latencies_s)
                if on_result is not None:
                    on_result(tr)
            admit()
    except KeyboardInterrupt:
        stats.interrupted = True
        for a in active:
            a["session"].close()
    return stats


# --------------------------------------------------------------------------- live server


class LiveError(RuntimeError):
    """The server failed an utterance or could not be reached."""


def pcm16_bytes(audio: np.ndarray) -> bytes:
    """float32 [-1, 1] -> PCM16 little-endian bytes."""
    x = np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0)
    return (np.round(x * 32767.0)).astype("<i2").tobytes()


async def transcribe_live(
    url: str,
    utt_id: str,
    audio: np.ndarray,
    delay_ms: int | None = None,
    model: str | None = None,
    realtime: bool = False,
    chunk_ms: int = 80,
    api_key: str | None = None,
    timeout_s: float = 120.0,
) -> Transcript:
    """One utterance through ``ws://HOST/v1/realtime`` (vLLM-style protocol)."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import WebSocketException

    headers = {"Authorization": f"Bearer {api_key}"} if api_key else None
    pcm = pcm16_bytes(audio)
    chunk_bytes = max(2, int(SAMPLE_RATE * chunk_ms / 1000) * 2)
    audio_s = len(audio) / SAMPLE_RATE
    deltas: list[str] = []
    words: list[tuple[str, float, float]] = []
    latencies: list[float] = []
    try:
        ws_cm = connect(url, additional_headers=headers, max_size=2**24, proxy=None,
                        open_timeout=timeout_s)
        async with ws_cm as ws:
            first = json.loads(await asyncio.wait_for(ws.recv(), timeout_s))
            if first.get("type") != "session.created":
                raise LiveError(f"{url}: expected session.created, got {first}")
            update: dict[str, Any] = {"type": "session.update"}
            if model:
                update["model"] = model
            if delay_ms is not None:
                update["target_streaming_delay_ms"] = int(delay_ms)
            await ws.send(json.dumps(update))
            t0 = time.perf_counter()

            async def sender() -> None:
                sent = 0
                for i in range(0, len(pcm), chunk_bytes):
                    piece = pcm[i : i + chunk_bytes]
                    await ws.send(json.dumps({
                        "type": "input_audio_buffer.append",
                        "audio": base64.b64encode(piece).decode("ascii"),
                    }))
                    sent += len(piece) // 2
                    if realtime:
                        ahead = t0 + sent / SAMPLE_RATE - time.perf_counter()
                        if ahead > 0:
                            await asyncio.sleep(ahead)
                await ws.send(json.dumps({"type": "input_audio_buffer.commit", "final": True}))

            send_task = asyncio.create_task(sender())
            try:
                final_text: str | None = None
                while final_text is None:
                    msg = json.loads(await asyncio.wait_for(ws.recv(), timeout_s))
                    kind = msg.get("type")
                    now = time.perf_counter() - t0
                    if kind == "transcription.delta":
                        deltas.append(str(msg.get("delta", "")))
                        for w in msg.get("words") or []:
                            text, start, end = _word_fields(w)
                            words.append((text, start, end))
                            if realtime:
                                latencies.append(now - end)
                    elif kind == "transcription.done":
                        final_text = str(msg.get("text", "".join(deltas)))
                    elif kind == "error":
                        raise LiveError(f"{url}: server error on {utt_id}: {msg}")
                await send_task
            finally:
                if not send_task.done():
                    send_task.cancel()
    except (OSError, TimeoutError, WebSocketException) as e:
        raise LiveError(f"{url}: {type(e).__name__}: {e}") from e
    return Transcript(utt_id, final_text, audio_s, words, latencies)


def run_live(
    url: str,
    utterances: Sequence[Utterance],
    delay_ms: int | None = None,
    model: str | None = None,
    realtime: bool = False,
    concurrency: int = 8,
    on_result: OnResult | None = None,
    api_key: str | None = None,
) -> RunStats:
    """Transcribe ``utterances`` through a live server, ``concurrency`` sessions at a time.

    RTF is wall time of the whole run / audio seconds (with --realtime it is bounded below
    by 1/concurrency). Word latency is only measured with ``realtime=True``.
    """
    stats = RunStats()

    async def main() -> None:
        sem = asyncio.Semaphore(max(1, concurrency))

        async def one(utt: Utterance) -> None:
            async with sem:
                audio = await asyncio.to_thread(utt.load_audio)
                tr = await transcribe_live(url, utt.id, audio, delay_ms, model, realtime,
                                           api_key=api_key)
            stats.audio_s += tr.audio_s
            stats.utterances += 1
            stats.latencies_s.extend(tr.latencies_s)
            if on_result is not None:
                on_result(tr)

        tasks = [asyncio.create_task(one(u)) for u in utterances]
        try:
            await asyncio.gather(*tasks)
        finally:
            for t in tasks:
                t.cancel()

    t0 = time.perf_counter()
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        stats.interrupted = True
    finally:
        stats.wall_s = time.perf_counter() - t0
    return stats
