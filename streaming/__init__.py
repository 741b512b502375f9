"""Per-session streaming state and the batched step engine."""

from .audio_input import AudioFormatError
from .engine import BatchedEngine
from .events import Event, Finished, TextDelta, WordFinal
from .session import Session

__all__ = ["AudioFormatError", "BatchedEngine", "Event", "Finished", "Session", "TextDelta",
           "WordFinal"]
