"""What the app holds while running: settings, model, scheduler, metrics, shutdown state."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request, WebSocket

from .metrics import Metrics
from .scheduler import Scheduler
from .settings import Settings


@dataclass
class ServerState:
    settings: Settings
    metrics: Metrics = field(default_factory=Metrics)
    model: Any = None
    scheduler: Scheduler | None = None
    load_error: str | None = None
    draining: asyncio.Event = field(default_factory=asyncio.Event)
    connections: set[asyncio.Task[Any]] = field(default_factory=set)

    @property
    def ready(self) -> bool:
        return self.scheduler is not None and not self.draining.is_set()

    async def drain(self, timeout: float) -> None:
        """Stop admitting, let every open connection finish its words, wait (bounded)."""
        self.draining.set()
        pending = [t for t in self.connections if not t.done()]
        if pending:
            await asyncio.wait(pending, timeout=timeout)


def get_state(request: Request) -> ServerState:
    return request.app.state.streamscribe


def get_ws_state(websocket: WebSocket) -> ServerState:
    return websocket.app.state.streamscribe


def get_settings(request: Request) -> Settings:
    return get_state(request).settings
