"""Load benchmark: N concurrent clients stream real speech at real-time pace over loopback.

Starts `streamscribe serve` as a subprocess on 127.0.0.1 (or uses --url of a running local
server), then for growing N runs one trial of N clients, each streaming --seconds of speech
from the shared eval set in 80 ms PCM16 binary frames on the vLLM protocol (/v1/realtime),
paced by the audio clock. Per trial it reports

- step lag p95: the server's `streamscribe_realtime_lag_seconds` histogram over the trial
  (time from the arrival of the audio that makes a step possible to that step's output),
- word emission latency p50/p95: arrival of a word at the client minus the moment its last
  sample was sent (audio clock; includes the model's delay),
- end-to-done p50/p95: from the final commit to `transcription.done`,
- RSS per session: (peak server RSS during the trial - idle RSS) / N,

and finally the largest N whose p95 step lag stays under 80 ms.

    python benchmarks/load_bench.py                       # default model, N = 1, 2, 4, ...
    python benchmarks/load_bench.py --model /path/ckpt --max-clients 32 --seconds 12
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
AUDIO_DIR = REPO.parent / "shared" / "data" / "eval-real" / "audio"
FRAME_SAMPLES = 1280  # 80 ms at 16 kHz
FRAME_SECONDS = FRAME_SAMPLES / 16000
LAG_BUDGET_S = 0.08
LAG_METRIC = "streamscribe_realtime_lag_seconds"


# ---------------------------------------------------------------- server process


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(args: argparse.Namespace, port: int) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable,
        "-m",
        "streamscribe_cli",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--max-sessions",
        str(args.max_clients + 4),
        "--log-level",
        "warning",
    ]
    if args.model:
        cmd += ["--model", args.model]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    cmd += ["--dtype", args.dtype, "--batch-wait-ms", str(args.batch_wait_ms)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("STREAMSCRIBE_API_KEY", None)
    return subprocess.Popen(cmd, cwd=REPO, env=env)


def http_get(base: str, path: str) -> str:
    with urllib.request.urlopen(base + path, timeout=10) as r:
        return r.read().decode()


def wait_ready(base: str, proc: subprocess.Popen[bytes] | None, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            if json.loads(http_get(base, "/ready")).get("ready"):
                return
        except OSError:
            pass
        time.sleep(0.25)
    raise SystemExit("server not ready in time")


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


# ---------------------------------------------------------------- metrics


def histogram(text: str, name: str) -> tuple[list[tuple[float, float]], float, float]:
    """(cumulative buckets [(le, count)], count, sum) of a Prometheus histogram."""
    buckets, count, total = [], 0.0, 0.0
    for line in text.splitlines():
        if line.startswith(name + "_bucket{"):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            buckets.append(
                (float("inf") if le == "+Inf" else float(le), float(line.rsplit(" ", 1)[1]))
            )
        elif line.startswith(name + "_count "):
            count = float(line.split()[1])
        elif line.startswith(name + "_sum "):
            total = float(line.split()[1])
    return buckets, count, total


def histogram_delta(
    before: str, after: str, name: str
) -> tuple[list[tuple[float, float]], float, float]:
    b0, c0, s0 = histogram(before, name)
    b1, c1, s1 = histogram(after, name)
    start = dict(b0)
    return [(le, n - start.get(le, 0.0)) for le, n in b1], c1 - c0, s1 - s0


def quantile(buckets: list[tuple[float, float]], q: float) -> float:
    """Prometheus-style histogram_quantile (linear within the bucket)."""
    total = buckets[-1][1] if buckets else 0
    if total <= 0:
        return float("nan")
    rank, prev_le, prev_n = q * total, 0.0, 0.0
    for le, n in buckets:
        if n >= rank:
            if le == float("inf"):
                return prev_le
            return prev_le + (le - prev_le) * (rank - prev_n) / max(n - prev_n, 1e-9)
        prev_le, prev_n = le, n
    return prev_le


def share_within(buckets: list[tuple[float, float]], le_max: float) -> float:
    total = buckets[-1][1] if buckets else 0
    within = max((n for le, n in buckets if le <= le_max + 1e-12), default=0.0)
    return within / total if total else float("nan")


# ---------------------------------------------------------------- clients


def load_speech(seconds: float, count: int) -> list[bytes]:
    """`count` PCM16 streams of `seconds` each, concatenated from the eval set's real speech
    (each client starts at a different file)."""
    files = sorted(AUDIO_DIR.glob("*.wav"))
    if not files:
        raise SystemExit(f"no speech files in {AUDIO_DIR}")
    clips = []
    for path in files:
        audio, rate = sf.read(str(path), dtype="int16")
        if rate == 16000 and audio.ndim == 1:
            clips.append(audio)
    need = int(seconds * 16000)
    streams = []
    for i in range(count):
        parts, have, k = [], 0, i
        while have < need:
            clip = clips[k % len(clips)]
            parts.append(clip)
            have += clip.size
            k += 1
        streams.append(np.concatenate(parts)[:need].tobytes())
    return streams


@dataclass
class ClientResult:
    word_latencies: list[float] = field(default_factory=list)
    end_to_done: float | None = None
    error: str | None = None


async def run_client(url: str, pcm: bytes, delay_ms: int, start_after: float) -> ClientResult:
    from websockets.asyncio.client import connect

    result = ClientResult()
    await asyncio.sleep(start_after)
    loop = asyncio.get_running_loop()
    try:
        async with connect(url, max_size=None, compression=None) as ws:
            json.loads(await ws.recv())  # session.created
            await ws.send(
                json.dumps({"type": "session.update", "target_streaming_delay_ms": delay_ms})
            )
            t0 = loop.time()
            end_sent: list[float] = []

            async def sender() -> None:
                step = FRAME_SAMPLES * 2
                for k, i in enumerate(range(0, len(pcm), step)):
                    target = t0 + k * FRAME_SECONDS
                    await asyncio.sleep(max(0.0, target - loop.time()))
                    await ws.send(pcm[i : i + step])
                await ws.send(json.dumps({"type": "input_audio_buffer.commit", "final": True}))
                end_sent.append(loop.time())

            send_task = asyncio.create_task(sender())
            async for raw in ws:
                event = json.loads(raw)
                now = loop.time()
                if event["type"] == "transcription.delta":
                    for word in event.get("words") or []:
                        # the word's last sample was sent at t0 + end (audio clock)
                        result.word_latencies.append(now - (t0 + float(word["end"])))
                elif event["type"] == "transcription.done":
                    result.end_to_done = now - end_sent[0] if end_sent else None
                    break
                elif event["type"] == "error":
                    result.error = f"{event.get('code')}: {event.get('error')}"
            await send_task
    except Exception as exc:  # a client failure is part of the measurement
        result.error = f"{type(exc).__name__}: {exc}"
    return result


@dataclass
class Trial:
    n: int
    lag_p95: float
    lag_within_budget: float
    step_p50_ms: float
    mean_batch: float
    word_p50: float
    word_p95: float
    done_p50: float
    done_p95: float
    rss_per_session_mb: float
    errors: int

    @property
    def ok(self) -> bool:
        return self.lag_within_budget >= 0.95 and self.errors == 0


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


async def trial(
    base: str, pid: int | None, n: int, args: argparse.Namespace, idle_rss: int
) -> Trial:
    url = base.replace("http://", "ws://") + "/v1/realtime"
    streams = load_speech(args.seconds, n)
    rng = random.Random(n)
    before = await asyncio.to_thread(http_get, base, "/metrics")
    peak = idle_rss
    clients = [
        asyncio.create_task(run_client(url, pcm, args.delay_ms, rng.uniform(0, 1.0)))
        for pcm in streams
    ]
    while not all(c.done() for c in clients):
        if pid is not None:
            peak = max(peak, rss_bytes(pid))
        await asyncio.wait(clients, timeout=0.25)
    results = [c.result() for c in clients]
    after = await asyncio.to_thread(http_get, base, "/metrics")
    lag_buckets, _, _ = histogram_delta(before, after, LAG_METRIC)
    step_buckets, steps, _ = histogram_delta(before, after, "streamscribe_step_duration_seconds")
    _, batches, rows = histogram_delta(before, after, "streamscribe_batch_size")
    words = [x for r in results for x in r.word_latencies]
    dones = [r.end_to_done for r in results if r.end_to_done is not None]
    errors = [r.error for r in results if r.error]
    for e in errors[:3]:
        print(f"  client error: {e}", file=sys.stderr)
    return Trial(
        n=n,
        lag_p95=quantile(lag_buckets, 0.95),
        lag_within_budget=share_within(lag_buckets, LAG_BUDGET_S),
        step_p50_ms=1000 * quantile(step_buckets, 0.5),
        mean_batch=rows / batches if batches else float("nan"),
        word_p50=pct(words, 50),
        word_p95=pct(words, 95),
        done_p50=pct(dones, 50),
        done_p95=pct(dones, 95),
        rss_per_session_mb=(peak - idle_rss) / n / 2**20 if pid is not None else float("nan"),
        errors=len(errors) + (n - len(dones) if not errors else 0),
    )


def print_trial(t: Trial) -> None:
    print(
        f"{t.n:>4} {1000 * t.lag_p95:>9.1f} {100 * t.lag_within_budget:>8.1f}% "
        f"{t.step_p50_ms:>8.1f} {t.mean_batch:>6.1f} {1000 * t.word_p50:>8.0f} "
        f"{1000 * t.word_p95:>8.0f} {1000 * t.done_p50:>8.0f} {1000 * t.done_p95:>8.0f} "
        f"{t.rss_per_session_mb:>8.1f} {t.errors:>4}  {'ok' if t.ok else 'OVER'}",
        flush=True,
    )


async def bench(args: argparse.Namespace) -> int:
    proc = None
    if args.url:
        base = args.url.rstrip("/")
        if not base.startswith(("http://127.0.0.1", "http://localhost")):
            raise SystemExit("--url must be a loopback server (http://127.0.0.1:PORT)")
        pid = args.server_pid
    else:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        proc = start_server(args, port)
        pid = proc.pid
    try:
        await asyncio.to_thread(wait_ready, base, proc)
        # warm-up: one short client, then measure idle memory
        await trial(base, pid, 1, argparse.Namespace(**{**vars(args), "seconds": 2.0}), 0)
        idle_rss = rss_bytes(pid) if pid is not None else 0
        print(
            f"server {base} (pid {pid}), model {json.loads(http_get(base, '/ready'))['model']},"
            f" delay {args.delay_ms} ms, {args.seconds:g} s of speech per client, "
            f"idle RSS {idle_rss / 2**20:.0f} MiB"
        )
        print(
            "   N  lag p95ms  lag<=80   step50  batch  word50ms word95ms  done50ms done95ms"
            "  MiB/ses  err"
        )
        results: list[Trial] = []
        n = 1
        while n <= args.max_clients:
            t = await trial(base, pid, n, args, idle_rss)
            print_trial(t)
            results.append(t)
            if not t.ok:
                break
            n = n * 2 if args.ramp == "double" else n + args.step
        ok = [t for t in results if t.ok]
        failed = [t for t in results if not t.ok]
        # refine between the last good and the first bad N (bounded: at most 3 more trials)
        if ok and failed and failed[0].n - ok[-1].n > 1:
            lo, hi = ok[-1].n, failed[0].n
            for _ in range(3):
                if hi - lo <= 1:
                    break
                mid = (lo + hi) // 2
                t = await trial(base, pid, mid, args, idle_rss)
                print_trial(t)
                results.append(t)
                lo, hi = (mid, hi) if t.ok else (lo, mid)
            ok = [t for t in results if t.ok]
        best = max((t.n for t in ok), default=0)
        capped = "" if failed else f" (not reached: stopped at --max-clients {args.max_clients})"
        print(f"largest N with p95 step lag < {LAG_BUDGET_S * 1000:.0f} ms: {best}{capped}")
        return 0
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=None, help="checkpoint dir or HF id (default: embedded)")
    p.add_argument("--url", default=None, help="use a running loopback server instead")
    p.add_argument("--server-pid", type=int, default=None, help="its pid, for RSS (with --url)")
    p.add_argument("--threads", type=int, default=None, help="server --threads")
    p.add_argument("--dtype", default="float32", help="server --dtype")
    p.add_argument("--batch-wait-ms", type=float, default=0.0, help="server --batch-wait-ms")
    p.add_argument("--delay-ms", type=int, default=480)
    p.add_argument("--seconds", type=float, default=10.0, help="speech per client")
    p.add_argument("--max-clients", type=int, default=64)
    p.add_argument("--ramp", choices=("double", "linear"), default="double")
    p.add_argument("--step", type=int, default=2, help="increment for --ramp linear")
    args = p.parse_args(argv)
    return asyncio.run(bench(args))


if __name__ == "__main__":
    sys.exit(main())
