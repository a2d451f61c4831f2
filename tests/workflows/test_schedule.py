"""The stage scheduler: dependencies respected, results passed on, the same results with one or two workers, and a
failing task reported."""

import os
import time
from pathlib import Path

import pytest

from astroxai.workflows.schedule import Task, run_tasks


def _square(x):
    return x * x


def _add(a, b=0):
    return a + b


def _rendezvous(folder):
    """Arrive, then wait until two tasks have arrived: two workers must hold one each at the same time (one worker
    taking both in turn would wait here alone, and time out)."""
    folder = Path(folder)
    (folder / str(os.getpid())).touch()
    deadline = time.monotonic() + 60
    while len(list(folder.iterdir())) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    return os.getpid(), len(list(folder.iterdir()))


def _fail():
    raise ValueError("stage broke")


def _total(parts):
    return sum(parts)


def _tasks():
    return [Task("sum", _add, (1,), inputs={"b": "square"}), Task("square", _square, (4,)),
            Task("again", _add, (10,), inputs={"b": "sum"}, after=("square",)),
            Task("all", _total, inputs={"parts": ("again", "square", "cube")}), Task("cube", _square, (-3,))]


@pytest.mark.parametrize("workers", [1, 2])
def test_dependencies_and_results(workers):
    results, seconds = run_tasks(_tasks(), workers)
    assert results == {"square": 16, "sum": 17, "again": 27, "cube": 9, "all": 52} and set(seconds) == set(results)


def test_two_workers_run_side_by_side(tmp_path):
    results, _ = run_tasks([Task("a", _rendezvous, (tmp_path,)), Task("b", _rendezvous, (tmp_path,))], workers=2)
    (pid_a, met_a), (pid_b, met_b) = results["a"], results["b"]
    assert met_a == met_b == 2  # each met the other while it ran
    assert len({pid_a, pid_b, os.getpid()}) == 3  # two worker processes, not this one


def test_failures_and_unknown_names():
    with pytest.raises(ValueError, match="stage broke"):
        run_tasks([Task("ok", _square, (2,)), Task("bad", _fail)], workers=2)
    with pytest.raises(ValueError, match="unknown or repeated"):
        run_tasks([Task("a", _square, (1,), after=("nothing",))])
    with pytest.raises(ValueError, match="unknown or repeated"):
        run_tasks([Task("a", _square, (1,)), Task("b", _total, inputs={"parts": ("a", "nothing")})])
