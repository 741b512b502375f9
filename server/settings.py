"""Server settings: one immutable object built by the CLI (or a test) and read everywhere."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from model.constants import DEFAULT_DELAY_MS

API_KEY_ENV = "STREAMSCRIBE_API_KEY"
DEFAULT_SERVED_NAME = "streamscribe"
REPO_ROOT = Path(__file__).resolve().parent.parent


def served_name_for(model: str | None) -> str:
    """The model id clients see: the HF id or the directory name, `streamscribe` by default."""
    if not model:
        return DEFAULT_SERVED_NAME
    path = Path(model)
    return path.name if path.exists() else model


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    model: str | None = None  # path or HF repo id; None = embedded default model
    device: str = "cpu"
    dtype: str = "float32"
    max_sessions: int = 64
    api_key: str | None = None
    log_level: str = "info"
    default_delay_ms: int = DEFAULT_DELAY_MS
    served_model_names: tuple[str, ...] = ()  # empty = (served_name_for(model), "streamscribe")
    max_buffer_seconds: float = 60.0  # audio a session may hold unprocessed
    batch_wait_ms: float = 0.0  # hold a step this long at most for more sessions to join
    max_message_bytes: int = 1 << 20  # WebSocket frame limit (uvicorn closes with 1009 above)
    max_append_bytes: int = 262_144  # decoded audio per append event (Mistral's documented max)
    max_upload_bytes: int = 100 << 20  # POST /v1/audio/transcriptions file size
    torch_threads: int | None = None  # intra-op threads for the engine (None: all cores but one)
    shutdown_timeout_s: float = 30.0  # SIGTERM: how long to wait for final words
    web_dir: Path = field(default_factory=lambda: REPO_ROOT / "clients" / "web")

    @property
    def model_names(self) -> tuple[str, ...]:
        if self.served_model_names:
            return self.served_model_names
        names = [served_name_for(self.model), DEFAULT_SERVED_NAME]
        return tuple(dict.fromkeys(names))

    @property
    def model_id(self) -> str:
        """The name reported in events (first served name)."""
        return self.model_names[0]

    @staticmethod
    def api_key_from_env() -> str | None:
        return os.environ.get(API_KEY_ENV) or None
