"""Where the test suite's wall time goes on pytest-xdist workers: each worker's busy time, its idle end, and the
files it ran in order.

Record (a pytest plugin: every test's start and end, one JSON line per test, a file per worker)::

    SUITE_TIMELINE=/tmp/timeline PYTHONPATH=benchmarks python -m pytest -q -n 2 -p suite_timeline

then print the summary::

    python benchmarks/suite_timeline.py /tmp/timeline

A worker that ends long before the other is the sign of a bad schedule (how tests/conftest.py's LONGEST_FIRST
and SAME_WORKER were found and checked: docs/design.md, "Running the tests").
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

_handle = None


def _write(record: dict) -> None:
    global _handle
    folder = os.environ.get("SUITE_TIMELINE")
    if not folder:
        return
    if _handle is None:
        Path(folder).mkdir(parents=True, exist_ok=True)
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        _handle = open(Path(folder) / f"{worker}.jsonl", "a", buffering=1)  # noqa: SIM115 - open for the session
    _handle.write(json.dumps(record) + "\n")


def pytest_configure(config):
    _write({"event": "start", "t": time.time()})


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    start = time.time()
    yield
    _write({"event": "test", "id": item.nodeid, "t0": start, "t1": time.time()})


def summarise(folder: Path) -> None:
    for path in sorted(folder.glob("gw*.jsonl")):
        events = [json.loads(line) for line in path.read_text().splitlines()]
        tests = [e for e in events if e["event"] == "test"]
        if not tests:
            continue
        zero = min(e["t"] for e in events if e["event"] == "start")
        busy = sum(e["t1"] - e["t0"] for e in tests)
        files: list[list] = []
        for test in tests:
            name = test["id"].split("::")[0]
            if not files or files[-1][0] != name:
                files.append([name, 0.0, test["t0"] - zero])
            files[-1][1] += test["t1"] - test["t0"]
        print(f"{path.stem}: {len(tests)} tests, first at {tests[0]['t0'] - zero:.0f} s, last done at "
              f"{tests[-1]['t1'] - zero:.0f} s, busy {busy:.0f} s")
        for name, seconds, began in files:
            if seconds >= 5:
                print(f"    from {began:6.0f} s  {seconds:6.0f} s  {name}")


if __name__ == "__main__":
    summarise(Path(sys.argv[1]))
