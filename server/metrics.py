"""Prometheus metrics, in a registry per app so several apps can live in one process."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.open_sessions = Gauge(
            "streamscribe_open_sessions",
            "Admitted transcription sessions (WebSocket connections and HTTP requests)",
            registry=r,
        )
        self.sessions_total = Counter(
            "streamscribe_sessions_total", "Sessions admitted", ["protocol"], registry=r
        )
        self.rejected_total = Counter(
            "streamscribe_rejected_total", "Connections refused", ["reason"], registry=r
        )
        self.errors_total = Counter(
            "streamscribe_protocol_errors_total", "Protocol errors sent", ["kind"], registry=r
        )
        self.step_seconds = Histogram(
            "streamscribe_step_duration_seconds",
            "Wall time of one batched engine step",
            buckets=(0.002, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.12, 0.16, 0.25, 0.5, 1.0),
            registry=r,
        )
        self.batch_size = Histogram(
            "streamscribe_batch_size",
            "Sessions in one engine step",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
            registry=r,
        )
        self.audio_seconds = Counter(
            "streamscribe_audio_seconds_total", "Audio received, in seconds at 16 kHz", registry=r
        )
        self.step_lag_seconds = Histogram(
            "streamscribe_realtime_lag_seconds",
            "Time from the arrival of the client audio that made a step possible to its output "
            "(steps over the left/right padding excluded)",
            buckets=(0.01, 0.02, 0.04, 0.08, 0.12, 0.16, 0.24, 0.32, 0.5, 1.0, 2.0, 5.0),
            registry=r,
        )
