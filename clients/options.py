"""Command-line options every client shares: where the server is and how to talk to it."""

from __future__ import annotations

import argparse
import os

from clients.audio import ALLOWED_DELAYS_MS, DEFAULT_DELAY_MS

API_KEY_ENV = "STREAMSCRIBE_API_KEY"
DEFAULT_URL = "ws://127.0.0.1:8000/v1/realtime"


def add_connection_options(p: argparse.ArgumentParser) -> None:
    """--url, --delay-ms, --api-key and --model."""
    p.add_argument(
        "--url", default=DEFAULT_URL, help=f"server WebSocket URL (default {DEFAULT_URL})"
    )
    p.add_argument(
        "--delay-ms",
        type=int,
        default=DEFAULT_DELAY_MS,
        choices=ALLOWED_DELAYS_MS,
        metavar="MS",
        help=f"transcription delay (80..1200 in steps of 80, or 2400; default {DEFAULT_DELAY_MS})",
    )
    p.add_argument(
        "--api-key",
        default=os.environ.get(API_KEY_ENV),
        help=f"server API key (default: ${API_KEY_ENV})",
    )
    p.add_argument("--model", default=None, help="model name to request (default: the server's)")
