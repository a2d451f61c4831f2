"""Wall time and peak memory of `astroxai simulate` + `astroxai reduce` on the default 3346 spectra.

Usage:  python benchmarks/bench_simulate_reduce.py [--repeat 3] [--workdir DIR]

Each step runs in a fresh child process (as a user would run the CLI); its peak resident memory is
the largest of the process and its worker processes.  To show that `reduce` streams, it is also run on
a quarter of the files: peak memory should hardly change while the time scales with the file count.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _child(argv: list[str]) -> None:
    from astroxai.cli import main

    start = time.perf_counter()
    try:
        main(argv, standalone_mode=False)
    finally:
        wall = time.perf_counter() - start
        peak_kib = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                       resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
        print("BENCH " + json.dumps({"wall_s": wall, "peak_mib": peak_kib / 1024}), flush=True)


def measure(argv: list[str]) -> dict:
    result = subprocess.run([sys.executable, __file__, "--child", *argv], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-2000:])
    line = [x for x in result.stdout.splitlines() if x.startswith("BENCH ")][-1]
    return json.loads(line[6:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="astroxai-bench-"))
    rows = {}
    runs = [measure(["simulate", "--out", str(work / f"sim{i}")]) for i in range(args.repeat)]
    rows["simulate 3346"] = runs
    sim = work / "sim0"
    catalog = sim / "catalog.csv"
    lines = catalog.read_text().splitlines()
    quarter = work / "quarter.csv"
    quarter.write_text("\n".join([lines[0], *lines[1::4]]) + "\n")
    quarter_copy = sim / "quarter.csv"
    quarter_copy.write_text(quarter.read_text())
    rows["reduce 3346"] = [measure(["reduce", str(catalog), "--out", str(work / f"d{i}.h5")])
                           for i in range(args.repeat)]
    rows[f"reduce {len(lines[1::4])}"] = [measure(["reduce", str(quarter_copy), "--out", str(work / f"q{i}.h5")])
                                         for i in range(args.repeat)]
    print(f"{'step':<16} {'median wall [s]':>16} {'median peak [MiB]':>18} {'spectra/s':>10}   (n={args.repeat})")
    for name, runs in rows.items():
        wall = statistics.median(r["wall_s"] for r in runs)
        peak = statistics.median(r["peak_mib"] for r in runs)
        n = int(name.split()[-1])
        print(f"{name:<16} {wall:>16.1f} {peak:>18.0f} {n / wall:>10.0f}")
    full, part = rows["reduce 3346"], rows[f"reduce {len(lines[1::4])}"]
    print(f"reduce time ratio all/quarter: "
          f"{statistics.median(r['wall_s'] for r in full) / statistics.median(r['wall_s'] for r in part):.2f}; "
          f"peak-memory ratio: "
          f"{statistics.median(r['peak_mib'] for r in full) / statistics.median(r['peak_mib'] for r in part):.2f}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(sys.argv[2:])
    else:
        main()
