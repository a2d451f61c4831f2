"""Independent stages side by side: tasks with dependencies run on worker processes, each task as soon as the tasks it
needs are done, the most urgent first.

A run's stages (training three models, 24 t-SNE maps, the trust scores of each model) mostly keep one core busy —
libsvm's solver and captum's per-spectrum surrogates are single-threaded — so on a machine with several cores the
run is faster when they run beside each other than one after another.  Workers keep the thread settings of the
parent process: results can depend on how many threads share a sum (an openTSNE map changes with the number of
OpenBLAS threads, measured), so a scheduled run gives exactly the numbers of a sequential one only this way.  Idle
OpenMP threads sleep instead of spinning (``OMP_WAIT_POLICY=PASSIVE``), which changes how long a thread waits, not
how work is split, so that two workers do not burn each other's cores.  With one worker the tasks simply run in order
in this process.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field

from astroxai.errors import InputError
from astroxai.parallel import default_workers, ignore_interrupts
from astroxai.progress import track

log = logging.getLogger(__name__)


@dataclass
class Task:
    """One stage: ``function(*args, **kwargs)`` (a module-level function, sent to a worker process), run after the
    tasks named in ``after``; ``inputs`` maps keyword arguments to the name of the task whose result they take, or
    to a tuple of names (the argument is then the list of their results)."""

    name: str
    function: Callable
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    after: tuple = ()
    inputs: dict = field(default_factory=dict)


def _worker(level: int) -> None:
    """Worker initialiser: the parent's log level for astroxai's messages; Ctrl-C left to the parent."""
    ignore_interrupts()
    package = logging.getLogger("astroxai")
    if not package.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        package.addHandler(handler)
        package.propagate = False
    package.setLevel(level)


def _needs(task: Task) -> tuple:
    """Every task that ``task`` waits for."""
    given = (names if isinstance(names, tuple) else (names,) for names in task.inputs.values())
    return (*task.after, *(name for names in given for name in names))


def _timed(function, args, kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - start


def run_tasks(tasks: list[Task], workers: int | None = None, progress=None) -> tuple[dict, dict]:
    """Run ``tasks`` (in list order of urgency) on ``workers`` processes; returns ``(results, seconds)`` by task
    name.  A task's failure is raised once the tasks already running have finished."""
    names = [t.name for t in tasks]
    unknown = {d for t in tasks for d in _needs(t)} - set(names)
    if unknown or len(set(names)) != len(names):
        raise InputError(f"tasks need unknown or repeated names: {sorted(unknown) or names}")
    workers = default_workers() if workers is None else max(1, int(workers))
    results, seconds, pending = {}, {}, list(tasks)

    def ready(task: Task) -> bool:
        return all(d in results for d in _needs(task))

    def call(task: Task) -> tuple:
        kwargs = {**task.kwargs, **{k: [results[n] for n in v] if isinstance(v, tuple) else results[v]
                                    for k, v in task.inputs.items()}}
        return task.function, task.args, kwargs

    bar = iter(track(progress, range(len(tasks)), "stages", len(tasks)))
    if workers == 1:
        while pending:
            task = next(t for t in pending if ready(t))
            pending.remove(task)
            results[task.name], seconds[task.name] = _timed(*call(task))
            log.info("stage %s: %.1f s", task.name, seconds[task.name])
            next(bar, None)
        return results, seconds
    _run_in_pool(pending, workers, results, seconds, ready, call, bar)
    return results, seconds


def _run_in_pool(pending: list, workers: int, results: dict, seconds: dict, ready, call, bar) -> None:
    """Run the ``pending`` tasks on ``workers`` spawned processes, each as soon as it is ``ready``, filling
    ``results`` and ``seconds``; a task's failure is raised once the tasks already running have finished."""
    context = multiprocessing.get_context("spawn")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # read by the workers' OpenMP when they start
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_worker,
                             initargs=(logging.getLogger("astroxai").getEffectiveLevel(),)) as pool:
        running = {}
        failure = None
        while pending or running:
            while failure is None and len(running) < workers and any(ready(t) for t in pending):
                task = next(t for t in pending if ready(t))
                pending.remove(task)
                running[pool.submit(_timed, *call(task))] = task.name
                log.debug("started %s", task.name)
            if not running:
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                name = running.pop(future)
                try:
                    results[name], seconds[name] = future.result()
                    log.info("stage %s: %.1f s", name, seconds[name])
                except Exception as error:  # noqa: BLE001 - re-raised below, once the running tasks are done
                    failure = failure or error
                    log.info("stage %s failed: %s", name, error)
                next(bar, None)
        if failure is not None:
            raise failure

