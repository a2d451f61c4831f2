"""Where the fixed seconds of ``astroxai survey`` go (docs/survey.md: 2 workers against 1 reaches × 1.8 only on
inputs large enough to hide them).

Prints, in one run on this machine:

1. what one fresh worker process pays before its first spectrum: importing ``astroxai.workflows.survey`` (torch,
   scipy, scikit-learn, astropy), loading the model (skops), and the interpreter's exit after that (median of
   ``--repeats`` fresh processes);
2. a survey of a small store (two partitions of 8192 spectra, linear SVM, exact saliency) on 1 and on 2 workers,
   the time line of each phase from the call: the model loaded on the client, the plan, the cluster up, each
   partition's start and end in its worker, the cluster closed, the summary — medians of ``--repeats`` runs, and
   the steady partition time for comparison.

    python benchmarks/bench_survey_startup.py [--repeats 3] [--keep DIR]

The phases are timed by wrapping the survey module's own steps (``load_model``, ``plan_partitions``, ``_client``,
``_collect``, ``_summarise``, ``run_partition``) for this process only; nothing in astroxai changes.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

WORKER_PROBE = """
import sys, time
start = time.perf_counter()
import astroxai.workflows.survey
imported = time.perf_counter()
from astroxai.models import load_model
load_model(sys.argv[1])
loaded = time.perf_counter()
print(imported - start, loaded - imported, time.time(), flush=True)
"""


def fresh_worker(model: Path, repeats: int) -> dict:
    """Import, model-load and exit seconds of fresh Python processes (what each Dask worker pays)."""
    rows = {"import": [], "load": [], "exit": []}
    for _ in range(repeats):
        process = subprocess.Popen([sys.executable, "-c", WORKER_PROBE, str(model)], stdout=subprocess.PIPE,
                                   text=True)
        imported, loaded, stamp = (float(x) for x in process.stdout.readline().split())
        process.wait()
        rows["import"].append(imported)
        rows["load"].append(loaded)
        rows["exit"].append(time.time() - stamp)
    return {k: statistics.median(v) for k, v in rows.items()}


def timed_survey(model: Path, store: Path, out: Path, workers: int) -> dict:
    """One survey with every phase's (start, end) in seconds from the call."""
    import astroxai.workflows.survey as engine

    marks: dict[str, list] = {}
    saved = {}

    def wrap(name):
        original = saved[name] = getattr(engine, name)

        def timed(*args, **kwargs):
            began = time.time()
            result = original(*args, **kwargs)
            marks.setdefault(name, []).append((began, time.time()))
            if name == "_collect":
                marks["partitions"] = sorted((r["began"], r["ended"]) for r in result[1])
            return result
        setattr(engine, name, timed)

    def stamped(part, settings, _run=engine.run_partition):
        began = time.time()
        report = _run(part, settings)
        return {**report, "began": began, "ended": time.time()}

    for name in ("load_model", "plan_partitions", "_client", "_collect", "_summarise"):
        wrap(name)
    saved["run_partition"], engine.run_partition = engine.run_partition, stamped
    try:
        shutil.rmtree(out, ignore_errors=True)
        start = time.time()
        summary = engine.survey(model, [store], out, run=engine.SurveyRun(workers=workers, partition_size=8192))
        end = time.time()
    finally:
        for name, original in saved.items():
            setattr(engine, name, original)
    assert summary["n_kept"] == summary["n_rows"]
    (_, collect_ended), = marks["_collect"]
    (summary_began, _), = marks["_summarise"]
    first = marks["partitions"][0]
    return {"total": end - start,
            "client model loaded": marks["load_model"][0][1] - start,
            "planned": marks["plan_partitions"][0][1] - start,
            "cluster up": marks["_client"][0][1] - start,
            "first partition starts": first[0] - start,
            "first partition": first[1] - first[0],
            "last partition ends": max(p[1] for p in marks["partitions"]) - start,
            "cluster closed": summary_began - start,
            "closing": summary_began - collect_ended,
            "partition seconds": summary["partition_seconds"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--keep", type=Path, default=None, help="work in this folder and keep it")
    args = parser.parse_args()
    from bench_survey import work_folder  # this script's folder is on the path when run as a script

    folder = work_folder(args.keep, "bench_startup_")

    from astroxai import simulate
    from astroxai.models import SVMClassifier
    from astroxai.simulate import survey_store

    data = simulate.spectra_set({"type1": 150, "type2": 300, "intermediate": 150}, seed=5)
    model = SVMClassifier(kernels=("linear",), quick=True, seed=1).fit(data).save(folder / "model-linear")
    store = survey_store(folder / "store.h5", 2 * 8192, seed=2, distinct=1500, grid=data.wavelength)

    worker = fresh_worker(model, args.repeats)
    print(f"\n1. one fresh worker process (median of {args.repeats}): import astroxai.workflows.survey "
          f"{worker['import']:.2f} s, load the model {worker['load']:.2f} s, exit afterwards {worker['exit']:.2f} s")

    print(f"\n2. survey of {2 * 8192} spectra in 2 partitions, linear SVM, exact saliency — seconds from the call, "
          f"median of {args.repeats}:")
    rows = {}
    for workers in (1, 2):
        runs = [timed_survey(model, store, folder / f"out-{workers}", workers) for _ in range(args.repeats)]
        rows[workers] = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
    print(f"   {'phase':28s} {'1 worker':>9s} {'2 workers':>10s}")
    for key in rows[1]:
        print(f"   {key:28s} {rows[1][key]:9.2f} {rows[2][key]:10.2f}")
    steady = rows[1]["last partition ends"] - rows[1]["first partition starts"] - rows[1]["first partition"]
    print(f"   a steady partition of 8192 spectra (the second on 1 worker): {steady:.2f} s")
    for workers, row in rows.items():
        fixed = row["total"] - 2 * steady / workers
        print(f"   {workers} worker(s): {row['total']:.2f} s = 2 partitions × {steady:.2f} s / {workers} "
              f"+ {fixed:.2f} s that do not depend on the number of spectra")
    if args.keep is None:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
