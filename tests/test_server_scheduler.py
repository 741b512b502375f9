"""The scheduler with the real engine, in-process: sessions of different delays joining and
leaving a running batch emit exactly the tokens each emits alone."""

from __future__ import annotations

import asyncio
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest
import soundfile as sf
import torch

from server.app import default_engine_threads, torch_threads_setter
from server.metrics import Metrics
from server.scheduler import BufferFull, Scheduler, Stream
from tests.server_fixtures import SHORT, reference_transcript, tiny_checkpoint, tiny_model

__all__ = ["tiny_checkpoint", "tiny_model"]


def make_scheduler(model: Any, metrics: Metrics, **kwargs: Any) -> Scheduler:
    from streaming import BatchedEngine, Session

    engine = BatchedEngine(model)
    options = {"max_sessions": 16, "max_buffer_seconds": 60.0} | kwargs
    return Scheduler(
        engine,
        lambda delay: Session(model, delay_ms=delay, engine=engine),
        metrics,
        thread_init=torch_threads_setter(1),
        **options,
    )


async def feed(
    stream: Stream, audio: np.ndarray, rng: np.random.Generator, start_after: float
) -> None:
    await asyncio.sleep(start_after)
    i = 0
    while i < audio.size:
        n = int(rng.integers(1, 6000))
        stream.push(audio[i : i + n])
        i += n
        await asyncio.sleep(float(rng.uniform(0, 0.01)))
    stream.end()


async def collect(stream: Stream) -> list[Any]:
    events: list[Any] = []
    while not any(type(e).__name__ == "Finished" for e in events):
        item = await asyncio.wait_for(stream.queue.get(), 60)
        assert isinstance(item, list), item
        events += item
    return events


@pytest.mark.parametrize("batch_wait_ms", [0.0, 40.0])
def test_mixed_delays_join_and_leave_emit_solo_tokens(tiny_model: Any,
                                                      batch_wait_ms: float) -> None:
    """Also with steps held back for fuller batches (--batch-wait-ms): only timing changes."""
    cases = [
        (SHORT[0], 160, 0.0),
        (SHORT[1], 480, 0.05),
        (SHORT[2], 1200, 0.2),
        (SHORT[3], 80, 0.35),
        (SHORT[4], 2400, 0.1),
    ]
    audios = [sf.read(str(path), dtype="float32")[0] for path, _, _ in cases]
    refs = [
        reference_transcript(tiny_model, a, d) for a, (_, d, _) in zip(audios, cases, strict=True)
    ]
    metrics = Metrics()

    async def main() -> tuple[list[Stream], list[list[Any]]]:
        scheduler = make_scheduler(tiny_model, metrics, batch_wait_seconds=batch_wait_ms / 1000)
        scheduler.start()
        rng = np.random.default_rng(0)
        streams = [scheduler.open_stream(d) for _, d, _ in cases]
        # a sixth session joins, then leaves mid-stream without ending: must not disturb
        quitter = scheduler.open_stream(480)
        quitter.push(audios[0][:8000])
        feeders = [
            feed(s, a, rng, t) for s, a, (_, _, t) in zip(streams, audios, cases, strict=True)
        ]

        async def quit_later() -> None:
            await asyncio.sleep(0.15)
            quitter.close()

        _, results = await asyncio.gather(
            asyncio.gather(*feeders, quit_later()),
            asyncio.gather(*(collect(s) for s in streams)),
        )
        await asyncio.sleep(0.05)
        assert scheduler.active_streams == 0
        await scheduler.stop()
        return streams, results

    streams, results = asyncio.run(main())
    for stream, events, ref in zip(streams, results, refs, strict=True):
        assert stream.tokens == ref.tokens
        assert events[-1].text == ref.text
    registry = metrics.registry
    steps = registry.get_sample_value("streamscribe_batch_size_count")
    rows = registry.get_sample_value("streamscribe_batch_size_sum")
    assert steps is not None and rows is not None and rows > 1.5 * steps  # really batched


def test_buffer_is_bounded_and_the_loop_stays_responsive(tiny_model: Any) -> None:
    metrics = Metrics()
    audio = np.zeros(16000 * 4, dtype=np.float32)

    async def main() -> float:
        scheduler = make_scheduler(tiny_model, metrics, max_buffer_seconds=6.0)
        scheduler.start()
        stream = scheduler.open_stream(480)
        stream.push(audio[:8000])  # 0.5 s + 2.56 s left pad < 6 s
        with pytest.raises(BufferFull, match="6 s"):
            stream.push(audio)  # +4 s would exceed the bound
        # meanwhile the event loop keeps ticking while steps run in the worker thread
        worst = 0.0
        stream.push(audio[:16000])
        stream.end()
        while not stream.finished:
            before = time.perf_counter()
            await asyncio.sleep(0.005)
            worst = max(worst, time.perf_counter() - before)
        await scheduler.stop()
        return worst

    worst = asyncio.run(main())
    assert worst < 0.5, f"event loop stalled {worst:.3f} s while the engine stepped"


def test_engine_thread_count_is_set_in_the_engine_thread() -> None:
    # torch's thread count is per thread: the initializer must run in the step's own thread.
    assert default_engine_threads() == max(1, len(os.sched_getaffinity(0)) - 1)
    for asked, expected in ((None, default_engine_threads()), (3, 3)):
        with ThreadPoolExecutor(1, initializer=torch_threads_setter(asked)) as pool:
            assert pool.submit(torch.get_num_threads).result() == expected
