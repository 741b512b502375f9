"""Per-step CPU time of the batched streaming step, and memory per session.

Prints, for each model size and batch size B: median wall time of one `BatchedEngine.step`
(B sessions advance 80 ms each), the real-time factor of that step (time / 80 ms), and the
resulting real-time capacity. Not a test: numbers depend on the machine and its load.

    python benchmarks/step_bench.py --preset small --batches 1,2,4,8,16,32,64
    python benchmarks/step_bench.py --model model/default --batches 16,32,64
    python benchmarks/step_bench.py --preset small-whisper --decoder-layers 12 --batches 64

The shape options change a preset before timing it (random weights), to size a model against
the 64-stream target before training it.

Sessions are timed after 40 warm-up steps; the caches are rings of fixed size, so a step
costs the same at 4 s into a stream as at 4 hours.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import numpy as np
import torch

from model import load_model
from model.config import ModelArgs
from model.constants import SAMPLES_PER_STEP
from model.presets import PRESETS, preset_args
from model.testing import write_random_checkpoint
from streaming import BatchedEngine, Session


def build(args: ModelArgs, dtype: torch.dtype, directory: str):  # noqa: ANN201
    return load_model(write_random_checkpoint(directory, args, std=0.02, embedding_std=0.02),
                      dtype=dtype)


def session_bytes(engine: BatchedEngine) -> int:
    tensors = engine.enc.k + engine.enc.v + engine.dec.k + engine.dec.v + [
        engine.enc.pos, engine.dec.pos, engine.mel_carry, engine.conv_carry]
    return sum(t.numel() * t.element_size() for t in tensors) // engine._slots


WARM_STEPS = 40  # past the prompt, caches warm


def warm_sessions(model, batch: int, steps: int) -> tuple[BatchedEngine, list[Session]]:  # noqa: ANN001
    """`batch` sessions on an engine of their own, stepped WARM_STEPS times, with noise
    pushed for at least `steps` more steps."""
    engine = BatchedEngine(model, initial_slots=batch)
    sessions = [Session(model, 480, engine=engine) for _ in range(batch)]
    noise = np.random.default_rng(0).normal(0, 0.05, SAMPLES_PER_STEP * (steps + WARM_STEPS + 20))
    for s in sessions:
        s.push_audio(noise.astype(np.float32))
    for _ in range(WARM_STEPS):
        engine.step(sessions)
    return engine, sessions


def time_steps(model, batch: int, steps: int) -> list[float]:  # noqa: ANN001
    engine, sessions = warm_sessions(model, batch, steps)
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        engine.step(sessions)
        times.append(time.perf_counter() - t0)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="small", choices=sorted(PRESETS))
    parser.add_argument("--model", help="time this checkpoint folder instead of a preset "
                        "with random weights (its params.json decides the shapes)")
    parser.add_argument("--batches", default="1,2,4,8,16,32,64")
    parser.add_argument("--steps", type=int, default=20, help="timed steps per batch size")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--decoder-layers", type=int, help="override the preset's decoder depth")
    parser.add_argument("--encoder-layers", type=int, help="override the preset's encoder depth")
    parser.add_argument("--encoder-window", type=int,
                        help="override the preset's encoder window in frames (the default "
                        "model serves 250)")
    ns = parser.parse_args(argv)
    torch.set_num_threads(ns.threads)
    dtype = getattr(torch, ns.dtype)
    with tempfile.TemporaryDirectory() as tmp:
        model = (load_model(ns.model, dtype=dtype) if ns.model
                 else build(preset_args(ns.preset, None, ns.decoder_layers, ns.encoder_layers,
                                   ns.encoder_window), dtype, tmp))
        n_params = sum(p.numel() for p in model.network.parameters())
        engine = BatchedEngine(model, initial_slots=1)
        print(f"{ns.model or 'preset ' + ns.preset}: {n_params / 1e6:.2f}M parameters, {ns.dtype}, "
              f"{ns.threads} threads; cache memory per session "
              f"{session_bytes(engine) / 2**20:.2f} MiB")
        print(f"{'batch':>5} {'step ms p50':>12} {'p90':>8} {'ms/session':>11} "
              f"{'step/80ms':>10}")
        capacity = 0
        for batch in [int(b) for b in ns.batches.split(",")]:
            times = sorted(time_steps(model, batch, ns.steps))
            p50 = statistics.median(times) * 1000
            p90 = times[int(0.9 * (len(times) - 1))] * 1000
            if p90 < 80:
                capacity = batch
            print(f"{batch:>5} {p50:>12.1f} {p90:>8.1f} {p50 / batch:>11.2f} {p50 / 80:>10.2f}")
        print(f"largest measured batch with p90 step < 80 ms (real time): {capacity}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
