"""`streamscribe serve`: run the transcription server (FastAPI on uvicorn)."""

from __future__ import annotations

import argparse
import logging
import socket
import sys
from types import FrameType

import uvicorn

from model.constants import ALLOWED_DELAYS_MS, DEFAULT_DELAY_MS
from model.dtypes import DTYPE_CHOICES

from .app import create_app, default_engine_threads
from .settings import API_KEY_ENV, Settings
from .state import ServerState

EPILOG = f"""\
endpoints:
  WS   /v1/audio/transcriptions/realtime?model=M   Mistral realtime protocol (mistralai SDK)
  WS   /v1/realtime                                vLLM realtime protocol
  POST /v1/audio/transcriptions                    OpenAI-compatible file transcription
  GET  /health /ready /metrics /                   liveness, readiness, Prometheus, web page

API key: --api-key or ${API_KEY_ENV}; clients send `Authorization: Bearer KEY` or ?api_key=KEY.
Allowed delays (ms): {", ".join(str(d) for d in ALLOWED_DELAYS_MS)}.
SIGTERM/SIGINT: stop accepting, flush every open session's final words, then exit.
"""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="streamscribe serve",
        description="Serve a delayed-streams speech recognition model over WebSocket and HTTP.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--host", default="127.0.0.1", help="bind address (default: %(default)s)")
    p.add_argument("--port", type=int, default=8000, help="TCP port (default: %(default)s)")
    p.add_argument(
        "--model",
        default=None,
        metavar="PATH|HF_ID",
        help="checkpoint directory or Hugging Face repo id (default: the embedded model)",
    )
    p.add_argument("--device", default="cpu", help="torch device, e.g. cpu, cuda, cuda:1")
    p.add_argument(
        "--dtype",
        default="float32",
        choices=DTYPE_CHOICES,
        help="compute dtype; auto: bfloat16 on a GPU or on a CPU with native bfloat16 "
        "(AVX-512 BF16 / AMX), else float32. float32 streams token for token as the offline "
        "decode does; bfloat16 is faster where native but may flip near-ties "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--max-sessions",
        type=int,
        default=64,
        help="concurrent sessions; more are refused at once (default: %(default)s)",
    )
    p.add_argument(
        "--api-key",
        default=None,
        help=f"require this key from clients (default: ${API_KEY_ENV}, else no auth)",
    )
    p.add_argument(
        "--delay-ms",
        type=int,
        default=DEFAULT_DELAY_MS,
        choices=ALLOWED_DELAYS_MS,
        metavar="MS",
        help="default streaming delay for sessions that set none (%(default)s)",
    )
    p.add_argument(
        "--served-model-name",
        action="append",
        default=None,
        metavar="NAME",
        help="model name(s) clients may request (repeatable; default: the model's name "
        "and 'streamscribe')",
    )
    p.add_argument(
        "--max-buffer-seconds",
        type=float,
        default=60.0,
        help="unprocessed audio a session may hold before its appends are refused",
    )
    p.add_argument(
        "--batch-wait-ms",
        type=float,
        default=0.0,
        metavar="MS",
        help="hold a model step up to MS for more sessions to become ready and join its "
        "batch: fewer, fuller steps under many concurrent streams, at up to MS of extra "
        "latency (default: %(default)s, step as soon as any session is ready)",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch intra-op threads for the model step (default: all cores but one, "
        f"which the event loop needs; {default_engine_threads()} here)",
    )
    p.add_argument(
        "--log-level",
        default="info",
        choices=("critical", "error", "warning", "info", "debug"),
    )
    return p


def settings_from_args(args: argparse.Namespace) -> Settings:
    if args.max_sessions < 1:
        raise SystemExit("streamscribe serve: --max-sessions must be at least 1")
    if not 0 <= args.batch_wait_ms <= 1000:
        raise SystemExit("streamscribe serve: --batch-wait-ms must be between 0 and 1000")
    if args.threads is not None and args.threads < 1:
        raise SystemExit("streamscribe serve: --threads must be at least 1")
    if args.max_buffer_seconds <= 0:
        raise SystemExit("streamscribe serve: --max-buffer-seconds must be positive")
    return Settings(
        host=args.host,
        port=args.port,
        model=args.model,
        device=args.device,
        dtype=args.dtype,
        max_sessions=args.max_sessions,
        api_key=args.api_key or Settings.api_key_from_env(),
        log_level=args.log_level,
        default_delay_ms=args.delay_ms,
        served_model_names=tuple(args.served_model_name or ()),
        max_buffer_seconds=args.max_buffer_seconds,
        batch_wait_ms=args.batch_wait_ms,
        torch_threads=args.threads,
    )


class StreamscribeServer(uvicorn.Server):
    """uvicorn.Server whose shutdown first lets open sessions finish their final words.

    uvicorn's own shutdown closes WebSockets with 1012 at once; we first stop listening,
    end every open session's audio, wait (bounded) for their `done` events, then hand over.
    """

    def __init__(self, config: uvicorn.Config, state: ServerState) -> None:
        super().__init__(config)
        self.streamscribe = state

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        # uvicorn re-raises the signal after shutting down (the process then dies of it);
        # our shutdown is complete and graceful, so `serve` returns 0 instead.
        self._captured_signals.clear()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        await self.streamscribe.drain(self.streamscribe.settings.shutdown_timeout_s)
        await super().shutdown(sockets)


def build_server(settings: Settings, *, model: object = None) -> StreamscribeServer:
    app = create_app(settings, model=model)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        ws_max_size=settings.max_message_bytes,
        ws_ping_interval=20.0,
        ws_ping_timeout=20.0,
        timeout_graceful_shutdown=5,
    )
    return StreamscribeServer(config, app.state.streamscribe)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = settings_from_args(args)
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    server = build_server(settings)
    server.run()
    return 0 if server.started else 1


if __name__ == "__main__":
    sys.exit(main())
