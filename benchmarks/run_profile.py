"""Where a run spends its time: the stage timings ``astroxai run`` records in ``run.json``, for one run or a
before/after pair.

Usage:  python benchmarks/run_profile.py RUN [OTHER_RUN]

For each run: every stage's wall seconds (and CPU seconds where recorded, i.e. how many cores it kept busy), the
t-SNE maps summed into one line, and the total; for a pair, the ratio of the totals (second / first).  Runs
written before the stages ran side by side (astroxai ≤ 0.1) recorded wall seconds only.  The numbers are one
run's: quote them with what else the machine was doing.
"""

from __future__ import annotations

import sys
from pathlib import Path

from astroxai.report.layout import RunLayout, RunRecord


def stage_timings(run: Path) -> dict[str, float]:
    """The ``<stage>_s`` (and ``_cpu_s``) timings of a run folder's ``run.json``, read by its own record class
    (every study, and the layouts written before the one schema)."""
    return {key: float(value) for key, value in RunRecord.load(RunLayout(run)).timings.items()
            if isinstance(value, (int, float))}


def profile(timings: dict[str, float]) -> list[tuple[str, float, float | None]]:
    """(stage, wall s, CPU s or None) rows, the t-SNE maps folded into one row, the largest first."""
    rows: dict[str, list] = {}
    for key, value in timings.items():
        if not key.endswith("_s") or key.endswith("_cpu_s") or key == "total_s":
            continue
        name = key[:-2]
        group = "t-SNE maps (sum)" if name.startswith("tsne-") else name
        row = rows.setdefault(group, [0.0, None])
        row[0] += value
        cpu = timings.get(f"{name}_cpu_s")
        if cpu is not None:
            row[1] = (row[1] or 0.0) + cpu
    return sorted(((name, wall, cpu) for name, (wall, cpu) in rows.items()), key=lambda r: -r[1])


def total(timings: dict[str, float]) -> float:
    """The run's recorded total, or the sum of its stages when it recorded none (they then ran one by one)."""
    return timings.get("total_s", sum(wall for _, wall, _ in profile(timings)))


def main(argv: list[str]) -> int:
    if not 1 <= len(argv) <= 2:
        print(__doc__)
        return 2
    totals = []
    for run in map(Path, argv):
        timings = stage_timings(run)
        if not timings:
            print(f"{run}: no stage timings in run.json")
            return 1
        print(f"\n{run}")
        print(f"  {'stage':<34} {'wall s':>8} {'CPU s':>8} {'cores':>6}")
        side_by_side = "stages_s" in timings
        for name, wall, cpu in profile(timings):
            if side_by_side and name not in ("simulate", "reduce", "stages", "write"):
                name = f"  {name} (in stages)"  # ran beside the others in a worker process
            cores = f"{cpu / wall:6.2f}" if cpu and wall > 0 else "     –"
            print(f"  {name:<34} {wall:8.1f} {'–' if cpu is None else f'{cpu:.1f}':>8} {cores}")
        totals.append(total(timings))
        print(f"  {'total':<34} {totals[-1]:8.1f}")
    if len(totals) == 2 and totals[0] > 0:
        print(f"\ntotal ratio (second / first): {totals[1] / totals[0]:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
