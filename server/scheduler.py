"""The engine loop: one batched model step at a time for every session with audio ready.

Ownership rule: only the scheduler task touches `streaming.Session` and `BatchedEngine`
objects, and only between steps, on the event loop thread; the step itself runs in a single
worker thread, so steps never overlap and the event loop never blocks on model compute.
Connections talk to a `Stream`, which only queues work (audio, end of audio, close) for the
scheduler to apply before the next step, and receives each step's events on an asyncio queue.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from model.constants import N_LEFT_PAD_STEPS, SAMPLE_RATE, SAMPLES_PER_STEP

from .metrics import Metrics

log = logging.getLogger("streamscribe.scheduler")


class OverCapacity(Exception):
    """No free session slot (`--max-sessions`)."""


class BufferFull(Exception):
    """A client sent audio so far ahead of processing that the bounded buffer would overflow."""


@dataclass(frozen=True)
class StreamFailure:
    """Put on a stream's queue instead of events when the engine failed for its batch."""

    message: str


SessionFactory = Callable[[int], Any]  # delay_ms -> streaming.Session bound to the engine


class Stream:
    """One utterance of one connection, as seen from the event loop.

    `push`, `end` and `close` only record work; the scheduler applies it between steps.
    Each step's events arrive on `queue` as a list (possibly empty lists are not sent);
    the list that contains `Finished` is the last item.
    """

    def __init__(self, scheduler: Scheduler, delay_ms: int) -> None:
        self.delay_ms = delay_ms
        self.queue: asyncio.Queue[list[Any] | StreamFailure] = asyncio.Queue()
        self.session: Any = None  # created by the scheduler before this stream's first step
        self._scheduler = scheduler
        self._pending: list[np.ndarray] = []
        self._pending_samples = 0
        self._pending_since: float | None = None  # arrival time of the oldest pending audio
        self._ready_steps = N_LEFT_PAD_STEPS  # last known steps_ready() (left pad before start)
        self._arrivals: collections.deque[tuple[int, float]] = collections.deque()
        self._available = 0  # steps_done + steps_ready at the last apply
        self.steps_done = 0
        self.samples_in = 0
        self._samples_applied = 0  # moved into the session (client audio only)
        self.tokens: list[int] | None = None  # the session's tokens, once finished
        self.end_requested = False
        self._end_applied = False
        self.closed = False
        self.finished = False
        self.progress = asyncio.Event()  # set after each step of this stream

    # --- connection side (event loop, any time)

    @property
    def backlog_seconds(self) -> float:
        """Audio received but not yet processed (an upper bound: includes the left pad)."""
        return (self._pending_samples + self._ready_steps * SAMPLES_PER_STEP) / SAMPLE_RATE

    def push(self, samples: np.ndarray) -> None:
        """Queue 16 kHz float32 audio; raises BufferFull past the per-session bound."""
        if self.end_requested or self.closed:
            raise RuntimeError("audio pushed after end of stream")
        if samples.size == 0:
            return
        limit = self._scheduler.max_buffer_seconds
        if self.backlog_seconds + samples.size / SAMPLE_RATE > limit:
            raise BufferFull(
                f"more than {limit:g} s of audio is waiting to be processed; send audio at "
                "most a little faster than real time"
            )
        self._pending.append(samples)
        self._pending_samples += samples.size
        if self._pending_since is None:
            self._pending_since = time.perf_counter()
        self.samples_in += samples.size
        self._scheduler.metrics.audio_seconds.inc(samples.size / SAMPLE_RATE)
        self._scheduler.wake()

    def end(self) -> None:
        """No more audio: the scheduler adds the right padding and runs to `Finished`."""
        if not self.end_requested and not self.closed:
            self.end_requested = True
            self._scheduler.wake()

    def close(self) -> None:
        """Give up on this stream (disconnect); the slot is freed before the next step."""
        if not self.closed:
            self.closed = True
            self._scheduler.wake()

    async def wait_backlog_below(self, seconds: float) -> None:
        """For producers with all audio at hand (HTTP uploads): wait until processing catches up."""
        while self.backlog_seconds > seconds and not self.closed and not self.finished:
            self.progress.clear()
            await self.progress.wait()

    # --- scheduler side (event loop, between steps)

    def _apply(self, now: float) -> None:
        if self._pending:
            audio = np.concatenate(self._pending) if len(self._pending) > 1 else self._pending[0]
            self._pending.clear()
            self._pending_samples = 0
            self.session.push_audio(audio)
            self._samples_applied += audio.size
        if self.end_requested and not self._end_applied:
            self.session.push_end()
            self._end_applied = True
        self._refresh(self._pending_since if self._pending_since is not None else now)
        self._pending_since = None

    def _refresh(self, arrival: float) -> None:
        self._ready_steps = self.session.steps_ready()
        available = self.steps_done + self._ready_steps
        if available > self._available:
            self._arrivals.append((available, arrival))
            self._available = available

    def ready_since(self) -> float | None:
        """Arrival time of the client audio behind this stream's next step; None when that
        step is over padding (a new or ending session), which is never held back."""
        next_step = self.steps_done + 1
        if not self._is_client_step(next_step):
            return None
        return next((t for available, t in self._arrivals if available >= next_step), None)

    def _is_client_step(self, step: int) -> bool:
        """Step number `step` reads client audio (not the left or right padding)."""
        client_steps = self._samples_applied // SAMPLES_PER_STEP
        return N_LEFT_PAD_STEPS < step <= N_LEFT_PAD_STEPS + client_steps

    def _lag_of_step(self, now: float) -> float | None:
        """Seconds since the audio that made step number `steps_done` possible arrived; None
        for steps over the left pad or the right pad (catch-up bursts, not client audio)."""
        if not self._is_client_step(self.steps_done):
            return None
        while self._arrivals and self._arrivals[0][0] < self.steps_done:
            self._arrivals.popleft()
        return now - self._arrivals[0][1] if self._arrivals else None


class Scheduler:
    """Admission (slots), the stream table and the single engine loop."""

    def __init__(
        self,
        engine: Any,
        session_factory: SessionFactory,
        metrics: Metrics,
        *,
        max_sessions: int,
        max_buffer_seconds: float,
        batch_wait_seconds: float = 0.0,
        thread_init: Callable[[], None] | None = None,
    ) -> None:
        self.engine = engine
        self.session_factory = session_factory
        self.metrics = metrics
        self.max_sessions = max_sessions
        self.max_buffer_seconds = max_buffer_seconds
        self.batch_wait_seconds = batch_wait_seconds
        self.slots_in_use = 0
        self._streams: list[Stream] = []
        self._wake = asyncio.Event()
        # thread_init runs in the worker thread (torch/OpenMP thread settings are per thread)
        self._executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="engine-step", initializer=thread_init
        )
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.steps = 0

    # --- admission

    def acquire_slot(self) -> None:
        if self.slots_in_use >= self.max_sessions:
            raise OverCapacity(
                f"server at capacity: {self.max_sessions} sessions open; try again later"
            )
        self.slots_in_use += 1
        self.metrics.open_sessions.set(self.slots_in_use)

    def release_slot(self) -> None:
        self.slots_in_use = max(0, self.slots_in_use - 1)
        self.metrics.open_sessions.set(self.slots_in_use)

    def open_stream(self, delay_ms: int) -> Stream:
        """A new stream (the caller holds a slot); its Session is created before its first step."""
        stream = Stream(self, delay_ms)
        self._streams.append(stream)
        self.wake()
        return stream

    @property
    def active_streams(self) -> int:
        return len(self._streams)

    # --- loop

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="engine-loop")

    async def stop(self) -> None:
        self._stopping = True
        self.wake()
        if self._task is not None:
            await self._task
        for stream in self._streams:
            stream.closed = True
        self._apply_pending(time.perf_counter())
        self._executor.shutdown(wait=True)

    def _apply_pending(self, now: float) -> None:
        """Create, feed, end and close sessions; never while a step is running."""
        keep: list[Stream] = []
        for stream in self._streams:
            if stream.closed or stream.finished:
                if stream.session is not None:
                    stream.session.close()
                continue
            try:
                if stream.session is None:
                    stream.session = self.session_factory(stream.delay_ms)
                stream._apply(now)
            except Exception as exc:  # a bad session must not take the loop down
                log.exception("session setup failed")
                self._fail(stream, f"session failed: {exc}")
                if stream.session is not None:
                    stream.session.close()
                continue
            keep.append(stream)
        self._streams = keep

    def _fail(self, stream: Stream, message: str) -> None:
        stream.finished = True
        stream.queue.put_nowait(StreamFailure(message))
        stream.progress.set()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._apply_pending(time.perf_counter())
            batch = [s for s in self._streams if s._ready_steps > 0]
            if not batch:
                if self._stopping:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            hold = self._hold_seconds(batch, time.perf_counter())
            if hold > 0:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=hold)
                except TimeoutError:
                    pass
                continue
            sessions = [s.session for s in batch]
            started = time.perf_counter()
            try:
                results = await loop.run_in_executor(self._executor, self.engine.step, sessions)
            except Exception as exc:
                log.exception("engine step failed for a batch of %d", len(batch))
                for stream in batch:
                    self._fail(stream, f"engine step failed: {exc}")
                continue
            now = time.perf_counter()
            self.steps += 1
            self.metrics.step_seconds.observe(now - started)
            self.metrics.batch_size.observe(len(batch))
            for stream in batch:
                self._dispatch(stream, results.get(stream.session, []), now)

    def _hold_seconds(self, batch: list[Stream], now: float) -> float:
        """How long to hold this step so that streams whose next frame is about to arrive
        join it. Clients send frames at unrelated phases, so stepping the moment any one is
        ready makes many small batches, each paying the step's fixed cost; holding the oldest
        ready audio up to `batch_wait_seconds` trades that much latency for fuller batches."""
        if self.batch_wait_seconds <= 0 or self._stopping:
            return 0.0
        if not any(s._ready_steps == 0 and s.session is not None and not s.end_requested
                   for s in self._streams):
            return 0.0  # every live stream is in the batch already
        arrivals = [s.ready_since() for s in batch]
        if any(t is None for t in arrivals):
            return 0.0
        return min(arrivals) + self.batch_wait_seconds - now  # type: ignore[type-var]

    def _dispatch(self, stream: Stream, events: list[Any], now: float) -> None:
        # The session's position, not a count of steps: a new session may jump over the
        # shared left-pad steps in one engine step.
        stream.steps_done = stream.session.position
        lag = stream._lag_of_step(now)
        if lag is not None:
            self.metrics.step_lag_seconds.observe(lag)
        stream._refresh(now)
        if stream.session.done:
            stream.finished = True
            stream.tokens = list(stream.session.tokens)
        if events and not stream.closed:
            stream.queue.put_nowait(list(events))
        stream.progress.set()
