"""Survey-scale figures (issue: millions of spectra classified and explained, streamed, resumable, on Dask).

Prints, in one run on this machine, medians over ``--repeats`` and the ratios between them:

1. reading simulated SDSS spec-lite files, files/s on one core: astropy (astroxai's reader) against fitsio, and the
   whole read → reduce step of a survey partition;
2. classify + exact explain from spectra in memory, spectra/s on one core (torch on one thread): the linear SVM
   (batches of 256 and 4096), the RBF SVM and the 1-D CNN; beside it ``astroxai explain`` on the same spectra from a
   reduced store (read, classify, explain, write its tables);
3. ``astroxai survey`` end to end on reduced stores of 10⁴ and 10⁵ spectra (``--million`` adds 10⁶) with the linear
   SVM on 2 workers: seconds, spectra/s and the peak memory of a worker;
4. 1 worker against 2 on the same 10⁵ store.

    python benchmarks/bench_survey.py [--quick] [--million] [--keep DIR]

``--quick`` (a few minutes) uses 200 files and stores of 10⁴ and 3·10⁴ spectra.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def median_rate(count: int, run, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return count / statistics.median(times)


def reading(folder: Path, n_files: int, repeats: int) -> dict:
    import fitsio
    from astropy.io import fits

    from astroxai.io import InputItem, read_spectrum
    from astroxai.reduce import reduce_item
    from astroxai.simulate import simulate_sample

    catalog = simulate_sample(folder / "files", {"type1": n_files // 3, "type2": n_files - 2 * (n_files // 3),
                                                 "intermediate": n_files // 3}, seed=3, workers=2)
    files = sorted((catalog.parent / "spectra").glob("*.fits"))
    columns = ["flux", "loglam", "ivar", "and_mask"]

    def with_astropy_only():
        for path in files:
            with fits.open(path, memmap=False) as handle:
                table = handle[1].data
                _ = [np.asarray(table[c]) for c in columns], handle[2].data["Z"][0]

    def with_fitsio():
        for path in files:
            with fitsio.FITS(str(path)) as handle:
                _ = handle[1].read(columns=columns), handle[2].read(columns=["Z"])

    def with_astroxai():
        for path in files:
            read_spectrum(path)

    grid = np.linspace(3800.0, 5300.0, 1000)

    def read_and_reduce():
        for path in files:
            reduce_item((InputItem(path), grid, "linear", 0, 0.5))

    return {"files": len(files),
            "astropy_files_per_s": median_rate(len(files), with_astropy_only, repeats),
            "fitsio_files_per_s": median_rate(len(files), with_fitsio, repeats),
            "astroxai_reader_files_per_s": median_rate(len(files), with_astroxai, repeats),
            "read_and_reduce_files_per_s": median_rate(len(files), read_and_reduce, repeats)}


def models(folder: Path):
    from astroxai import simulate
    from astroxai.models import CNNConfig, SpectrumCNNClassifier, SVMClassifier

    data = simulate.spectra_set({"type1": 150, "type2": 300, "intermediate": 150}, seed=5)
    linear = SVMClassifier(kernels=("linear",), quick=True, seed=1).fit(data)
    rbf = SVMClassifier(kernels=("rbf",), quick=True, seed=1).fit(data)
    cnn = SpectrumCNNClassifier(config=CNNConfig(max_epochs=3), seed=1).fit(data)
    paths = {}
    for name, model in (("linear", linear), ("rbf", rbf), ("cnn", cnn)):
        paths[name] = model.save(folder / f"model-{name}")
    return data, {"linear": linear, "rbf": rbf, "cnn": cnn}, paths


def explaining(folder: Path, data, fitted: dict, paths: dict, repeats: int) -> dict:
    from astroxai.data import SpectraSet
    from astroxai.explain import Explainer
    from astroxai.workflows.explain import explain_inputs

    torch.set_num_threads(1)
    n = {"linear": 16384, "rbf": 4096, "cnn": 2048}
    rows = {}
    for name, model in fitted.items():
        count = n[name]
        pick = np.arange(count) % len(data)
        sample = SpectraSet(data.flux[pick], data.wavelength, data.labels[pick], [f"s{i}" for i in range(count)])
        batches = (256, 4096) if name == "linear" else (None,)
        for batch in batches:
            explainer = Explainer(model, "saliency", batch_size=batch)
            rate = median_rate(count, lambda e=explainer, s=sample: e.explain(s), repeats)
            rows[f"{name}" + (f" (batch {batch})" if batch else "")] = rate
        store = sample.save(folder / f"store-{name}.h5")
        rows[f"{name}: astroxai explain from a store"] = median_rate(
            count, lambda m=paths[name], s=store, o=folder / f"explain-{name}": explain_inputs(
                m, [s], o, max_figures=0, workers=1), 1)
    return rows


def surveying(folder: Path, sizes, model: Path, grid, repeats: int) -> dict:
    from astroxai.simulate import survey_store
    from astroxai.workflows.survey import survey

    rows = {}
    for n in sizes:
        store = survey_store(folder / f"survey-{n}.h5", n, seed=2, distinct=1500, grid=grid)
        for workers in ((1, 2) if n == sizes[-1] else (2,)):
            seconds, peaks = [], []
            for _ in range(repeats):
                out = folder / f"survey-out-{n}-{workers}"
                shutil.rmtree(out, ignore_errors=True)
                start = time.perf_counter()
                summary = survey(model, [store], out, workers=workers, partition_size=8192, batch_size=4096)
                seconds.append(time.perf_counter() - start)
                peaks.append(summary["peak_worker_rss_mb"])
                assert summary["n_rows"] == n and summary["n_kept"] == n
            rows[(n, workers)] = {"seconds": statistics.median(seconds), "spectra_per_s": n / statistics.median(
                seconds), "peak_worker_rss_mb": max(peaks)}
        store.unlink()
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--million", action="store_true", help="also survey a store of 10⁶ spectra (~4 GB)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--keep", type=Path, default=None, help="work in this folder and keep it")
    args = parser.parse_args()
    folder = Path(args.keep or tempfile.mkdtemp(prefix="bench_survey_"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"cores: {len(os.sched_getaffinity(0))}; load average before: {os.getloadavg()[0]:.2f}")

    read = reading(folder, 200 if args.quick else 1000, args.repeats)
    print(f"\n1. reading {read['files']} simulated spec-lite files on one core (median of {args.repeats}):")
    print(f"   astropy fits.open, 5 columns        {read['astropy_files_per_s']:8.0f} files/s")
    print(f"   fitsio, the same columns             {read['fitsio_files_per_s']:8.0f} files/s "
          f"(× {read['fitsio_files_per_s'] / read['astropy_files_per_s']:.2f} astropy)")
    print(f"   astroxai read_spectrum (astropy)     {read['astroxai_reader_files_per_s']:8.0f} files/s")
    print(f"   read + reduce (a survey partition)   {read['read_and_reduce_files_per_s']:8.0f} files/s  "
          "(target ≥ 300)")

    data, fitted, paths = models(folder)
    rates = explaining(folder, data, fitted, paths, args.repeats)
    print("\n2. classify + exact explain, spectra in memory, one core (torch: 1 thread):")
    targets = {"linear": 50_000, "rbf": 2_000, "cnn": 5_000}
    for name, rate in rates.items():
        kind = name.split()[0].rstrip(":")
        note = f"target ≥ {targets[kind]}" if "explain from" not in name else "the command, for the ratio"
        print(f"   {name:38s} {rate:9.0f} spectra/s  ({note})")
    for kind in ("linear", "rbf", "cnn"):
        best = max(v for k, v in rates.items() if k.startswith(kind) and "explain from" not in k)
        command = rates[f"{kind}: astroxai explain from a store"]
        print(f"   {kind}: in memory / astroxai explain = × {best / command:.1f}")

    sizes = [10_000, 30_000] if args.quick else [10_000, 100_000]
    if args.million:
        sizes.append(1_000_000)
    result = surveying(folder, sizes, paths["linear"], data.wavelength, 1 if args.million else args.repeats)
    print("\n3. astroxai survey end to end from a reduced store, linear SVM, exact saliency, partitions of 8192:")
    for (n, workers), row in sorted(result.items()):
        print(f"   {n:>9,d} spectra, {workers} worker(s): {row['seconds']:7.1f} s  {row['spectra_per_s']:8.0f} "
              f"spectra/s  peak worker memory {row['peak_worker_rss_mb']:6.0f} MB")
    largest = max(n for n, w in result if w == 1) if any(w == 1 for _, w in result) else None
    if largest:
        ratio = result[(largest, 1)]["seconds"] / result[(largest, 2)]["seconds"]
        print(f"\n4. 2 workers against 1 on {largest:,d} spectra: × {ratio:.2f} (target ≥ 1.8)")
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")
    (folder / "bench_survey.json").write_text(json.dumps(
        {"reading": read, "explaining": rates,
         "survey": {f"{n}x{w}": row for (n, w), row in result.items()}}, indent=2))
    if args.keep is None:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
