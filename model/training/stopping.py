"""Ctrl-C or SIGTERM during a training run: finish the current step, save, and end cleanly.

A step interrupted halfway leaves nothing to resume from but the last periodic save (up to
`save_every` steps back); waiting for the step to finish keeps every completed step. A
second signal stops at once, for a step that hangs.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType, TracebackType

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopOnSignal:
    """`with StopOnSignal() as stop:` ... `if stop.requested: break` (main thread only:
    Python delivers signals there; elsewhere this never requests a stop)."""

    def __init__(self) -> None:
        self.requested: str | None = None  # the signal's name once one arrived
        self._previous: dict[int, object] = {}

    def __enter__(self) -> StopOnSignal:
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._handle) for s in STOP_SIGNALS}
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)  # type: ignore[arg-type]
        self._previous = {}

    def _handle(self, number: int, frame: FrameType | None) -> None:
        name = signal.Signals(number).name
        if self.requested:
            raise KeyboardInterrupt(f"second {name}: stopping mid-step")
        self.requested = name
        log.warning("%s: stopping after this step and saving (send it again to stop at once)",
                    name)
