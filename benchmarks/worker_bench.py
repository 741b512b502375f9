"""Does stepping disjoint groups of sessions in parallel threads beat one bigger step?

Live traffic makes small batches, and a small step is mostly fixed per-step cost that a
second intra-op thread does not shorten (README, Capacity). This compares, for the same
sessions and the same cores:
- one engine stepping all B sessions with `--threads` intra-op threads, against
- W engines (sharing the weights) stepping B/W sessions each, concurrently, from W Python
  threads with one intra-op thread each (torch releases the GIL inside its ops).
It prints session-steps per second for both, alternating rounds so that host noise hits
both alike, and their ratio. Not a test: numbers depend on the machine and its load.

Session 13 (Intel Xeon with AMX, 2 cores, the default model, float32): the parallel engines
reached only 0.57 / 0.61 / 0.69 / 0.78 of one engine's rate at 2 / 4 / 8 / 16 sessions (and
0.52 / 0.67 / 0.75 / 0.91 at 2 / 8 / 16 / 32 in a second run), so the server keeps one
engine. Likely why: half of a one-session step is matrix products that stream all the
weights (about 72 MB in float32) from memory, which two engines do twice, and the rest is
op dispatch under the GIL, which the two threads take in turn.

    python benchmarks/worker_bench.py --model model/default --batches 2,4,8,16 --workers 2
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time

import torch
from step_bench import warm_sessions  # this folder is on sys.path when run as a script

from model import load_model
from streaming import BatchedEngine, Session

Group = tuple[BatchedEngine, list[Session]]  # an engine and the sessions it steps


def run(group: Group, steps: int) -> None:
    engine, sessions = group
    for _ in range(steps):
        engine.step(sessions)


def one_engine_rate(group: Group, steps: int, threads: int) -> float:
    torch.set_num_threads(threads)
    t0 = time.perf_counter()
    run(group, steps)
    _, sessions = group
    return steps * len(sessions) / (time.perf_counter() - t0)


def parallel_rate(groups: list[Group], steps: int) -> float:
    barrier = threading.Barrier(len(groups) + 1)

    def work(group: Group) -> None:
        torch.set_num_threads(1)  # per-thread setting
        barrier.wait()
        run(group, steps)

    threads = [threading.Thread(target=work, args=(g,)) for g in groups]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    return steps * sum(len(sessions) for _, sessions in groups) / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="model/default", help="checkpoint folder")
    parser.add_argument("--batches", default="2,4,8,16", help="sessions in all, per row")
    parser.add_argument("--workers", type=int, default=2, help="parallel engines (W)")
    parser.add_argument("--threads", type=int, default=2,
                        help="intra-op threads of the single engine it is compared with")
    parser.add_argument("--steps", type=int, default=40, help="timed steps per round")
    parser.add_argument("--rounds", type=int, default=3, help="alternated rounds per row")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    ns = parser.parse_args(argv)
    if ns.workers < 2:
        parser.error("--workers must be at least 2")
    model = load_model(ns.model, dtype=getattr(torch, ns.dtype))
    print(f"{ns.model}, {ns.dtype}; 1 engine x {ns.threads} threads vs {ns.workers} engines "
          "x 1 thread; session-steps per second (median of rounds)")
    print(f"{'sessions':>8} {'one engine':>11} {'parallel':>9} {'ratio':>6}")
    for total in [int(b) for b in ns.batches.split(",")]:
        if total % ns.workers:
            parser.error(f"{total} sessions do not split into {ns.workers} equal groups")
        needed = ns.rounds * ns.steps
        single = warm_sessions(model, total, needed)
        groups = [warm_sessions(model, total // ns.workers, needed) for _ in range(ns.workers)]
        one, par = [], []
        for _ in range(ns.rounds):
            one.append(one_engine_rate(single, ns.steps, ns.threads))
            par.append(parallel_rate(groups, ns.steps))
        a, b = statistics.median(one), statistics.median(par)
        print(f"{total:>8} {a:>11.0f} {b:>9.0f} {b / a:>6.2f}")
    print("real time needs 12.5 session-steps per second per stream")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
