"""Ordered parallel map over processes, used by the simulator and the reduction (both CPU-bound)."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor

#: Below this many tasks a process pool costs more than it saves.
MIN_TASKS_FOR_POOL = 64


def default_workers() -> int:
    """All cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def ignore_interrupts() -> None:
    """Worker initialiser: Ctrl-C is the parent's to handle.  A terminal sends SIGINT to the whole process group;
    workers that died of it mid-task would break the pool and print one traceback each, while the parent, which
    cancels the pending tasks and removes its half-written outputs, is the one that must stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def ordered_map(func: Callable, tasks: Iterable, workers: int | None = None, batch: int = 256) -> Iterator:
    """Yield ``func(task)`` for each task, in order, on ``workers`` processes.

    Tasks are submitted ``batch`` at a time, so at most one batch of results is held in memory however
    many tasks there are.
    """
    tasks = list(tasks)
    workers = default_workers() if workers is None else workers
    if workers <= 1 or len(tasks) < MIN_TASKS_FOR_POOL:
        yield from map(func, tasks)
        return
    with ProcessPoolExecutor(max_workers=workers, initializer=ignore_interrupts) as pool:
        for start in range(0, len(tasks), batch):
            chunk = tasks[start:start + batch]
            yield from pool.map(func, chunk, chunksize=max(1, len(chunk) // (4 * workers)))
