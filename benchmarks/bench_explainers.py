"""Time per spectrum of every explanation method for every model, on one batch of test spectra.

Usage:  python benchmarks/bench_explainers.py [SVM_DIR] [CNN_DIR] [DATASET] [--batch 256] [--repeat 3]

SVM_DIR is a 3-class SVM folder of `astroxai run` (default runs/default/models/svm-3class); its linear and RBF
kernels are refit with probabilities from its search (as `astroxai trust --kernels linear,rbf` does).  CNN_DIR is a
3-class CNN folder (default runs/default/models/cnn-3class; `astroxai train --model cnn` makes one).  The batch is
``--batch`` seeded test spectra from the SVM's split, explained for each model's predicted class with the default
settings of astroxai.explain.methods, all spectra in one call (batch_size = the batch).  Printed: the median of
``--repeat`` timings in ms per spectrum (methods slower than 50 ms per spectrum are timed once), and each method's
cost relative to plain saliency on the same model.  Torch uses every core it finds (2 here).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("svm_dir", nargs="?", type=Path, default=Path("runs/default/models/svm-3class"))
    parser.add_argument("cnn_dir", nargs="?", type=Path, default=Path("runs/default/models/cnn-3class"))
    parser.add_argument("dataset", nargs="?", type=Path, default=Path("runs/default/dataset.h5"))
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    import torch

    from astroxai.data import SpectraSet
    from astroxai.explain import Explainer
    from astroxai.explain.trust import TRUST_METHODS as METHODS
    from astroxai.workflows.trust import load_models

    data = SpectraSet.load(args.dataset)
    models = load_models(data, [args.svm_dir, args.cnn_dir], kernels=("linear", "rbf"))
    rows = np.flatnonzero(next(iter(models.values())).split_.contains(data.ids, "test"))
    rows = np.sort(np.random.default_rng(0).choice(rows, min(args.batch, rows.size), replace=False))
    X = data.flux[rows].astype(np.float64)
    print(f"{len(rows)} test spectra × {X.shape[1]} fluxes; torch threads {torch.get_num_threads()}; "
          f"ms per spectrum, median of {args.repeat} (1 when slower than 50 ms/spectrum)")
    print(f"{'model':11s} " + " ".join(f"{m:>21s}" for m in METHODS))
    table = {}
    for name, model in models.items():
        target = model.predict_proba(X).argmax(axis=1)
        cells = []
        for method in METHODS:
            explainer = Explainer(model, method, batch_size=len(X))
            times = []
            for _ in range(args.repeat):
                start = time.perf_counter()
                explainer.attribute(X, target, features=explainer.features(X))
                times.append(1e3 * (time.perf_counter() - start) / len(X))
                if times[-1] > 50:
                    break
            table[(name, method)] = statistics.median(times)
            cells.append(table[(name, method)])
        print(f"{name:11s} " + " ".join(f"{c:21.3f}" for c in cells), flush=True)
    print("\nrelative to saliency on the same model:")
    for name in models:
        base = table[(name, "saliency")]
        print(f"{name:11s} " + " ".join(f"{table[(name, m)] / base:20.0f}×" for m in METHODS))


if __name__ == "__main__":
    main()
