"""streamscribe server: FastAPI app, Mistral + vLLM realtime protocols, batched scheduler.

Layout: `settings` (one immutable Settings), `protocols/` (a Pydantic class per wire event),
`audio` (wire bytes -> 16 kHz float), `scheduler` (the single engine loop), `realtime` (what
both WebSocket protocols share), `routes/` (one router per concern), `app` (`create_app`),
`cli` (`streamscribe serve`).
"""

from .app import create_app
from .settings import Settings

__all__ = ["Settings", "create_app"]
