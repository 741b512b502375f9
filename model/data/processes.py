"""Shard jobs in this process or in a pool of spawned ones (the data builders' --workers)."""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

Job = TypeVar("Job")
Result = TypeVar("Result")


def map_jobs(fn: Callable[[Job], Result], jobs: Iterable[Job], workers: int,
             ordered: bool = True) -> Iterator[Result]:
    """`fn` over `jobs`: here when `workers` <= 1, else in `workers` spawned processes (spawn:
    no forked torch/TTS state); the pool is closed when the results are consumed."""
    if workers <= 1:
        yield from map(fn, jobs)
        return
    with mp.get_context("spawn").Pool(workers) as pool:
        yield from (pool.imap if ordered else pool.imap_unordered)(fn, jobs)
