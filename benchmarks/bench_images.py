"""Image CNNs on 2 cores: training time of each network and explanation time per image for every method.

Usage:  python benchmarks/bench_images.py [RUN_DIR ...] [--n-images 48] [--repeats 3] [--epochs 5]

RUN_DIR are folders written by ``astroxai run --kind radio`` and ``--kind galaxy`` (default: runs/radio and
runs/galaxy).  Training: each of the run's networks is trained again here for ``--epochs`` epochs on the same
images with the same settings (no early stopping); the median epoch time, times the number of epochs the run
needed, estimates the whole fit (the run's own fit time, recorded in ``model.json``, is printed beside it: it is
inflated when other jobs shared the cores).  Explanation times: each method of astroxai.explain.methods (with
its image settings, ``Method.image_defaults``) on the first ``--n-images`` test images of the run's split, as the
median of ``--repeats`` repetitions, in ms per image.  The bar-length table of a galaxy run is
printed too.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

METHODS = ("saliency", "smoothgrad", "integrated-gradients", "occlusion", "lime", "kernelshap")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="*", type=Path, default=[Path("runs/radio"), Path("runs/galaxy")])
    parser.add_argument("--n-images", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()

    import torch

    from astroxai.data import ImageSet
    from astroxai.explain import Explainer
    from astroxai.models import load_model
    from astroxai.report.layout import RunLayout
    from astroxai.report.tables import read_table

    print(f"torch threads: {torch.get_num_threads()}")

    runs = [r for r in args.runs if RunLayout(r).record.exists()]
    if not runs:
        raise SystemExit("no run folders found: run `astroxai run --kind radio` and `astroxai run --kind galaxy` first")
    print(f"training, {args.epochs} epochs each (median epoch time)")
    print(f"{'network':24s} {'params':>8s} {'train imgs':>10s} {'s/epoch':>8s} {'run epochs':>10s} "
          f"{'fit est. [s]':>12s} {'run fit [s]':>11s}")
    for run in runs:
        data = ImageSet.load(RunLayout(run).dataset)
        for folder in sorted(RunLayout(run).models.glob("*")):
            saved = load_model(folder)
            # the same network and training rows, refitted for a few epochs to time one epoch
            again = type(saved)(**{**saved.get_params(), "max_epochs": args.epochs, "patience": args.epochs + 1})
            again.fit(data, split=saved.split_)
            epoch = float(np.median([h["seconds"] for h in again.history_]))
            epochs = saved.training_["epochs"]
            print(f"{folder.name:24s} {saved.metadata_['n_parameters']:8d} {saved.training_['n_images']:10d} "
                  f"{epoch:8.2f} {epochs:10d} {epoch * epochs:12.1f} {saved.metadata_['timings']['fit_s']:11.1f}")
    print(f"\nexplanation time, ms per image (median of {args.repeats}, batches of {args.n_images} test images)")
    print(f"{'classifier':24s} " + " ".join(f"{m:>12s}" for m in METHODS))
    for run in runs:
        folder = next(RunLayout(run).models.glob("*-classifier"))
        model = load_model(folder)
        data = ImageSet.load(RunLayout(run).dataset)
        rows = model.split_.rows(data.ids, "test")[: args.n_images]
        X = model.prepare(data.images[rows])
        targets = model.predict_proba(data.images[rows]).argmax(axis=1)
        cells = []
        for method in METHODS:
            times = []
            for repeat in range(args.repeats):
                explainer = Explainer(model, method, seed=repeat)
                start = time.perf_counter()
                explainer.attribute(X, targets, features=explainer.features(data.images[rows]))
                times.append((time.perf_counter() - start) / len(rows))
            cells.append(f"{1e3 * float(np.median(times)):12.1f}")
        print(f"{folder.name:24s} " + " ".join(cells))
    for run in runs:
        if RunLayout(run).bars.table.with_suffix(".csv").exists():
            print(f"\nbar lengths ({run / 'bars' / 'bars.csv'}):")
            print(f"{'method':38s} {'n':>4s} {'r':>7s} {'RMSE px':>8s} {'RMSE ″':>8s}   Bhambra et al. 2022 (r, RMSE)")
            for row in read_table(RunLayout(run).bars.table):
                paper = "" if row["paper_r"] in (None, "") else f"{row['paper_r']}, {row['paper_rmse']}"
                print(f"{row['method']:38s} {int(row['n_test']):4d} {float(row['r']):7.3f} "
                      f"{float(row['rmse_px']):8.2f} {float(row['rmse_arcsec']):8.2f}   {paper}")


if __name__ == "__main__":
    main()
