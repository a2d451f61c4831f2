"""Survey-scale figures (issue: millions of spectra classified and explained, streamed, resumable, on Dask).

Prints, in one run on this machine, medians over ``--repeats`` and the ratios between them:

0. ``astroxai simulate`` of 10 000 FITS files on 2 workers (``--hundred-thousand``: 100 000), and one core's rate of
   making spectra and of writing them with fitsio and with astropy;
1. reading simulated SDSS spec-lite files, files/s on one core: astropy (astroxai's reader) against fitsio, and the
   whole read → reduce step of a survey partition;
2. classify + exact explain from spectra in memory, spectra/s on one core (torch on one thread): the linear SVM
   (batches of 256 and 4096), the RBF SVM and the 1-D CNN; beside it ``astroxai explain`` on the same spectra from a
   reduced store (read, classify, explain, write its tables); 2b. float32 against float64 SVM modules: votes
   changed, map error, speed;
3. ``astroxai survey`` end to end on reduced stores of 10⁴ and 10⁵ spectra (``--million`` adds 10⁶) with the linear
   SVM on 2 workers: seconds, spectra/s and the peak memory of a worker; the 10⁴ store again placed on the paper's
   main t-SNE map (``--place-on``; the figure stays in ``--keep``'s folder);
4. 1 worker against 2 on the same 10⁵ store.

    python benchmarks/bench_survey.py [--quick] [--million] [--keep DIR]

``--quick`` (a few minutes) uses 200 files and stores of 10⁴ and 3·10⁴ spectra.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def work_folder(keep: Path | None, prefix: str) -> Path:
    """``keep`` (made if missing) or a new temporary folder; prints the cores and the load before the run."""
    folder = Path(keep or tempfile.mkdtemp(prefix=prefix))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"cores: {len(os.sched_getaffinity(0))}; load average before: {os.getloadavg()[0]:.2f}")
    return folder


def median_rate(count: int, run, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return count / statistics.median(times)


def simulating(folder: Path, n_files: int) -> dict:
    """``astroxai simulate`` (:func:`astroxai.simulate.simulate_sample`) of ``n_files`` FITS files on 2 workers, and
    one core's split between making spectra and writing them (fitsio against astropy)."""
    from astroxai.io.sdss import SpecObj, write_sdss_spec
    from astroxai.simulate import CLASSES, seeded_labels, simulate_sample
    from astroxai.simulate.agn import LOGLAM, simulate_spectrum

    counts = {"type1": n_files // 3, "type2": n_files - 2 * (n_files // 3), "intermediate": n_files // 3}
    start = time.perf_counter()
    simulate_sample(folder / "simulate", counts, seed=8, workers=2)
    seconds = time.perf_counter() - start
    shutil.rmtree(folder / "simulate")
    labels, children = seeded_labels({"type1": 100, "type2": 100, "intermediate": 100}, CLASSES, 8)
    spectra = []
    make = median_rate(300, lambda: spectra.append([simulate_spectrum(label, np.random.default_rng(child))
                                                    for label, child in zip(labels, children, strict=True)]), 1)
    (folder / "writes").mkdir()
    rates = {}
    for engine in ("fitsio", "astropy"):
        rates[engine] = median_rate(300, lambda e=engine: [write_sdss_spec(
            folder / "writes" / f"{e}-{i}.fits", {"loglam": LOGLAM, "flux": sim.flux, "ivar": sim.ivar,
                                                  "and_mask": sim.and_mask, "sky": sim.sky, "model": sim.model},
            SpecObj(9000, 61000, i + 1, sim.params["z"]), engine=e) for i, sim in enumerate(spectra[0])], 1)
    shutil.rmtree(folder / "writes")
    return {"files": n_files, "seconds": seconds, "files_per_s": n_files / seconds, "make_per_s": make,
            "write_fitsio_per_s": rates["fitsio"], "write_astropy_per_s": rates["astropy"]}


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
    from astroxai.models import SpectrumCNNClassifier, SVMClassifier

    data = simulate.spectra_set({"type1": 150, "type2": 300, "intermediate": 150}, seed=5)
    linear = SVMClassifier(kernels=("linear",), quick=True, seed=1).fit(data)
    rbf = SVMClassifier(kernels=("rbf",), quick=True, seed=1).fit(data)
    cnn = SpectrumCNNClassifier(max_epochs=3, seed=1).fit(data)
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


def precision(folder: Path, fitted: dict, grid, n: int, repeats: int) -> dict:
    """float32 against float64 for the SVM modules (issue: "float32 where it changes no decision"): on ``n`` noisy
    spectra, how many one-vs-one votes change, how far the maps move, and the speed of classify + explain."""
    from astroxai.data import SpectraSet
    from astroxai.explain.methods import attribute
    from astroxai.simulate import survey_store

    torch.set_num_threads(1)
    store = survey_store(folder / "precision.h5", n, seed=4, distinct=1500, grid=grid)
    X32 = np.ascontiguousarray(SpectraSet.load(store).flux, dtype=np.float32)
    rows = {}
    for name in ("linear", "rbf"):
        exact = fitted[name].as_module()
        single = copy.deepcopy(exact).float()
        m = n if name == "linear" else n // 10
        X64 = X32[:m].astype(np.float64)
        with torch.no_grad():
            d64 = exact.decision_pairs(torch.from_numpy(X64)).numpy()
            d32 = single.decision_pairs(torch.from_numpy(X32[:m])).numpy().astype(np.float64)
        v64, v32 = exact._vote(d64, 0.0)[0], exact._vote(d32, 0.0)[0]
        target = v64
        sample = slice(0, min(m, 4096))
        maps64 = attribute(exact, X64[sample], target[sample], batch_size=4096).maps
        maps32 = attribute(single, X32[sample], target[sample], batch_size=4096).maps
        scale = np.abs(maps64).max(axis=1)
        live = scale > 0
        error = (np.abs(maps32 - maps64).max(axis=1)[live] / scale[live])
        rows[name] = {
            "spectra": m, "changed_votes": int((v64 != v32).sum()),
            "closest_decision": float(np.abs(d64).min()),
            "max_decision_error": float(np.abs(d32 - d64).max()),
            "map_error_median": float(np.median(error)), "map_error_max": float(error.max()),
            "float64_per_s": median_rate(m, lambda e=exact, x=X32[:m], t=target: attribute(
                e, np.asarray(x, dtype=np.float64), t, batch_size=4096), repeats),
            "float32_per_s": median_rate(m, lambda e=single, x=X32[:m], t=target: attribute(
                e, x, t, batch_size=4096), repeats)}
    store.unlink()
    return rows


def reference_maps(folder: Path, data) -> Path:
    """The paper's main map (all classes, raw fluxes, perplexity 50) of the models' training spectra, stored with
    its data set as ``astroxai embed`` stores it."""
    from astroxai.embed import MapSpec, fit_maps
    from astroxai.workflows.trust import write_embedding

    data.save(folder / "reference.h5")
    maps = fit_maps(data, [MapSpec("all", "raw", 50.0)], seed=0)
    return Path(write_embedding(folder / "embed", maps, dataset=folder / "reference.h5")["data_file"])


def surveying(folder: Path, sizes, model: Path, grid, repeats: int, place_on: Path | None = None,
              scaling: int | None = None) -> dict:
    from astroxai.simulate import survey_store
    from astroxai.workflows.survey import Placement, SurveyRun, survey

    rows = {}
    for n in sizes:
        store = survey_store(folder / f"survey-{n}.h5", n, seed=2, distinct=1500, grid=grid)
        if place_on is not None and n == sizes[0]:
            out = folder / f"survey-out-{n}-placed"
            start = time.perf_counter()
            summary = survey(model, [store], out, run=SurveyRun(workers=2, partition_size=8192),
                             place=Placement(place_on))
            seconds = time.perf_counter() - start
            assert summary["n_kept"] == n
            rows[(n, "placed")] = {"seconds": seconds, "spectra_per_s": n / seconds,
                                   "peak_worker_rss_mb": summary["peak_worker_rss_mb"]}
        for workers in ((1, 2) if n == (scaling or sizes[-1]) else (2,)):
            seconds, peaks = [], []
            for _ in range(repeats):
                out = folder / f"survey-out-{n}-{workers}"
                shutil.rmtree(out, ignore_errors=True)
                start = time.perf_counter()
                summary = survey(model, [store], out, run=SurveyRun(workers=workers, partition_size=8192))
                seconds.append(time.perf_counter() - start)
                peaks.append(summary["peak_worker_rss_mb"])
                assert summary["n_rows"] == n and summary["n_kept"] == n
            rows[(n, workers)] = {"seconds": statistics.median(seconds), "spectra_per_s": n / statistics.median(
                seconds), "peak_worker_rss_mb": max(peaks), "partition_seconds": summary["partition_seconds"]}
        store.unlink()
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--million", action="store_true", help="also survey a store of 10⁶ spectra (~4 GB)")
    parser.add_argument("--hundred-thousand", action="store_true",
                        help="simulate 100 000 FITS files (~12 GB on disk for a few minutes) instead of 10 000")
    parser.add_argument("--scaling-size", type=int, default=None,
                        help="the store size of the 1-against-2-workers comparison (default: the largest survey)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--keep", type=Path, default=None, help="work in this folder and keep it")
    args = parser.parse_args()
    folder = work_folder(args.keep, "bench_survey_")

    made = simulating(folder, 100_000 if args.hundred_thousand else (1000 if args.quick else 10_000))
    print(f"\n0. astroxai simulate: {made['files']:,d} FITS files on 2 workers in {made['seconds']:.1f} s "
          f"({made['files_per_s']:.0f} files/s; 100 000 files: {100_000 / made['files_per_s'] / 60:.1f} min)")
    print(f"   one core: make {made['make_per_s']:.0f} spectra/s; write fitsio {made['write_fitsio_per_s']:.0f} "
          f"files/s, astropy {made['write_astropy_per_s']:.0f} files/s "
          f"(× {made['write_fitsio_per_s'] / made['write_astropy_per_s']:.1f})")

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

    prec = precision(folder, fitted, data.wavelength, 20_000 if args.quick else 200_000, args.repeats)
    print("\n2b. float32 against float64 SVM modules (decision values, exact saliency), one core:")
    for name, row in prec.items():
        print(f"   {name:6s} {row['spectra']:,d} spectra: {row['changed_votes']} votes changed "
              f"(closest decision value to 0: {row['closest_decision']:.1e}, largest float32 error "
              f"{row['max_decision_error']:.1e}); map error / map peak median {row['map_error_median']:.1e}, "
              f"max {row['map_error_max']:.1e}; explain {row['float64_per_s']:,.0f} → {row['float32_per_s']:,.0f} "
              f"spectra/s (× {row['float32_per_s'] / row['float64_per_s']:.2f})")

    sizes = [10_000, 30_000] if args.quick else [10_000, 100_000]
    if args.million:
        sizes.append(1_000_000)
    place_on = reference_maps(folder, data)
    if args.scaling_size and args.scaling_size not in sizes:
        sizes.append(args.scaling_size)
    result = surveying(folder, sizes, paths["linear"], data.wavelength, 1 if args.million else args.repeats,
                       place_on, args.scaling_size)
    print("\n3. astroxai survey end to end from a reduced store, linear SVM, exact saliency, partitions of 8192:")
    for (n, workers), row in sorted(result.items(), key=lambda item: (item[0][0], str(item[0][1]))):
        what = "2 workers, + t-SNE placement" if workers == "placed" else f"{workers} worker(s)"
        print(f"   {n:>9,d} spectra, {what}: {row['seconds']:7.1f} s  {row['spectra_per_s']:8.0f} "
              f"spectra/s  peak worker memory {row['peak_worker_rss_mb']:6.0f} MB")
    largest = max(n for n, w in result if w == 1) if any(w == 1 for _, w in result) else None
    if largest:
        one, two = result[(largest, 1)], result[(largest, 2)]
        print(f"\n4. 2 workers against 1 on {largest:,d} spectra: × {one['seconds'] / two['seconds']:.2f} wall "
              "(target ≥ 1.8)")
        for workers, row in ((1, one), (2, two)):
            fixed = row["seconds"] - row["partition_seconds"] / workers
            print(f"   {workers} worker(s): {row['partition_seconds']:.1f} s of partitions "
                  f"(busy share {row['partition_seconds'] / workers / row['seconds']:.2f}; the rest, {fixed:.1f} s, "
                  "starting the cluster and the workers' imports, loading the model, planning, the summary)")
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")
    (folder / "bench_survey.json").write_text(json.dumps(
        {"simulate": made, "reading": read, "explaining": rates, "precision": prec,
         "survey": {f"{n}x{w}": row for (n, w), row in result.items()}}, indent=2))
    if args.keep is None:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
