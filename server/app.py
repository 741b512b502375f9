"""`create_app(settings)`: the FastAPI application, used by the CLI and by the tests."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from .routes import mistral_ws, ops, transcriptions, vllm_ws
from .routes.web import mount_web
from .scheduler import Scheduler
from .settings import Settings
from .state import ServerState

log = logging.getLogger("streamscribe.server")


def default_engine_threads() -> int:
    """All usable cores but one: the event loop (WebSocket frames, JSON, resampling) keeps a
    core of its own, and a second intra-op thread does not speed up the small steps live
    traffic makes. Measured on 2 cores with the clients on the same host (README, Capacity):
    19 live streams under 80 ms p95 step lag with 1 engine thread against 16 with 2 on one
    host, 9-12 against 12 on another (a tie within its noise)."""
    return max(1, len(os.sched_getaffinity(0)) - 1)


def torch_threads_setter(n: int | None) -> Callable[[], None]:
    """Initializer for the engine thread: torch's intra-op threads are a per-thread setting."""
    threads = n or default_engine_threads()
    log.info("engine step on %d thread%s", threads, "" if threads == 1 else "s")

    def init() -> None:
        import torch

        torch.set_num_threads(threads)

    return init


def load(settings: Settings) -> Any:
    from model import load_model
    from model.dtypes import resolve_dtype

    dtype = resolve_dtype(settings.dtype, settings.device)
    log.info("computing in %s (--dtype %s)", str(dtype).removeprefix("torch."), settings.dtype)
    return load_model(settings.model, device=settings.device, dtype=dtype)


def build_scheduler(model: Any, state: ServerState) -> Scheduler:
    from streaming import BatchedEngine, Session

    engine = BatchedEngine(model)

    def new_session(delay_ms: int) -> Any:
        return Session(model, delay_ms=delay_ms, engine=engine)

    return Scheduler(
        engine,
        new_session,
        state.metrics,
        max_sessions=state.settings.max_sessions,
        max_buffer_seconds=state.settings.max_buffer_seconds,
        batch_wait_seconds=state.settings.batch_wait_ms / 1000,
        thread_init=torch_threads_setter(state.settings.torch_threads),
    )


def create_app(settings: Settings | None = None, *, model: Any = None) -> FastAPI:
    """The app; `model` (already loaded) skips loading `settings.model` at startup."""
    settings = settings or Settings()
    state = ServerState(settings=settings, model=model)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state.draining = asyncio.Event()  # bound to the serving loop
        if state.model is None:
            log.info("loading model %s on %s", settings.model or "(default)", settings.device)
            try:
                state.model = await asyncio.to_thread(load, settings)
            except Exception as exc:
                state.load_error = f"{type(exc).__name__}: {exc}"
                raise
        state.scheduler = build_scheduler(state.model, state)
        state.scheduler.start()
        log.info("ready: model %s (%s), up to %d sessions", settings.model_id,
                 getattr(state.model, "path", "?"), settings.max_sessions)
        try:
            yield
        finally:
            await state.drain(settings.shutdown_timeout_s)
            await state.scheduler.stop()

    app = FastAPI(
        title="streamscribe",
        summary="Streaming speech recognition: Mistral and vLLM realtime protocols",
        lifespan=lifespan,
    )
    app.state.streamscribe = state
    app.include_router(ops.router)
    app.include_router(transcriptions.router)
    app.include_router(mistral_ws.router)
    app.include_router(vllm_ws.router)
    mount_web(app, settings.web_dir)
    return app
