"""The stage scheduler: dependencies respected, results passed on, the same results with one or two workers, and a
failing task reported."""

import os
import time

import pytest

from astroxai.workflows.schedule import Task, run_tasks


def _square(x):
    return x * x


def _add(a, b=0):
    return a + b


def _pid(_=None):
    time.sleep(1.0)  # long enough that the second task is taken by the other worker
    return os.getpid()


def _fail():
    raise ValueError("stage broke")


def _tasks():
    return [Task("sum", _add, (1,), inputs={"b": "square"}), Task("square", _square, (4,)),
            Task("again", _add, (10,), inputs={"b": "sum"}, after=("square",))]


@pytest.mark.parametrize("workers", [1, 2])
def test_dependencies_and_results(workers):
    results, seconds = run_tasks(_tasks(), workers)
    assert results == {"square": 16, "sum": 17, "again": 27} and set(seconds) == set(results)


def test_two_workers_run_side_by_side():
    results, _ = run_tasks([Task("a", _pid), Task("b", _pid)], workers=2)
    assert len({results["a"], results["b"], os.getpid()}) == 3  # two worker processes, not this one


def test_failures_and_unknown_names():
    with pytest.raises(ValueError, match="stage broke"):
        run_tasks([Task("ok", _square, (2,)), Task("bad", _fail)], workers=2)
    with pytest.raises(ValueError, match="unknown or repeated"):
        run_tasks([Task("a", _square, (1,), after=("nothing",))])
