"""Wall time of the SVM study on the default sample: the full search, one fit, the cached-kernel speed-up.

Usage:  python benchmarks/bench_svm.py [DATASET] [--repeat 3] [--full-run]

DATASET is a reduced default sample (default: runs/default/dataset.h5, made by `astroxai run`).
Printed, as medians of ``--repeat`` runs on this machine:
- the full three-class search (4 kernels, the paper's C grid, 13 γ for RBF, 5 folds, refinement) on the
  2141 training spectra, using every core;
- one linear `Pipeline(StandardScaler, SVC)` fit on the 2677 train + validation spectra, without and
  with Platt probabilities;
- the linear kernel's 17-value C grid cross-validated two ways on the same folds: scikit-learn's
  `GridSearchCV` on the pipeline, and astroxai's cached-kernel search; the ratio is the speed-up, and
  the two must agree on every score;
- with ``--full-run``: the whole `astroxai run` (simulate, reduce, both studies) in a fresh folder.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np


def _median(values):
    return statistics.median(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", nargs="?", type=Path, default=Path("runs/default/dataset.h5"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--full-run", action="store_true")
    args = parser.parse_args()

    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    from astroxai.data import SpectraSet
    from astroxai.models.evaluate import time_fits
    from astroxai.models.split import paper_split
    from astroxai.models.svm import DEFAULT_TRAIN_SEED, PAPER_C_GRID, SearchSpace, make_svm, search_svm
    from astroxai.parallel import default_workers

    if not args.dataset.is_file():
        sys.exit(f"{args.dataset} not found: run `astroxai run --out runs/default` first")
    data = SpectraSet.load(args.dataset)
    train, validation, _ = paper_split(data.labels, DEFAULT_TRAIN_SEED)
    X = data.flux.astype(np.float64)
    both = np.concatenate([train, validation])
    print(f"data: {len(data)} spectra × {X.shape[1]} fluxes; train {train.size}, train+validation {both.size}; "
          f"{default_workers()} cores")

    searches = []
    for _ in range(args.repeat):
        result = search_svm(X[train], data.labels[train], SearchSpace(), seed=DEFAULT_TRAIN_SEED)
        searches.append(result.seconds)
    print(f"full 3-class search: {result.n_fits} fits, median {_median(searches):.1f} s "
          f"(runs: {', '.join(f'{s:.1f}' for s in searches)})")

    n_features = X.shape[1]
    plain = time_fits(lambda: make_svm("linear", 0.0034, n_features=n_features), X[both], data.labels[both],
                      max(args.repeat, 5))
    with warnings.catch_warnings():  # scikit-learn 1.9 deprecates probability=True (see astroxai.models.svm)
        warnings.simplefilter("ignore", FutureWarning)
        probability = time_fits(lambda: make_svm("linear", 0.0034, n_features=n_features, probability=True),
                                X[both], data.labels[both], args.repeat)
    print(f"one linear fit on {both.size}: median {plain['median_s']:.3f} s; with probabilities "
          f"{probability['median_s']:.2f} s (paper, i7-6700HQ: 15.13 s)")

    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=DEFAULT_TRAIN_SEED)
    space = SearchSpace(kernels=("linear",), c_grid=PAPER_C_GRID, refine_rounds=0)
    grid_times, cached_times = [], []
    for _ in range(args.repeat):
        search = GridSearchCV(make_svm("linear", 1.0, n_features=n_features), {"svm__C": list(PAPER_C_GRID)},
                              scoring="f1_macro", cv=folds, n_jobs=default_workers())
        start = time.perf_counter()
        search.fit(X[train], data.labels[train])
        grid_times.append(time.perf_counter() - start)
        cached = search_svm(X[train], data.labels[train], space, seed=DEFAULT_TRAIN_SEED)
        cached_times.append(cached.seconds)
    ours = np.array([r["cv_f1"] for r in sorted(cached.rows, key=lambda r: r["C"])])
    theirs = search.cv_results_["mean_test_score"]
    print(f"linear C grid (17 × 5 folds): GridSearchCV {_median(grid_times):.1f} s, cached kernels "
          f"{_median(cached_times):.1f} s, ratio {_median(grid_times) / _median(cached_times):.1f}×; "
          f"largest score difference {np.abs(ours - theirs).max():.2e}")

    if args.full_run:
        with tempfile.TemporaryDirectory(prefix="astroxai-run-") as folder:
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "astroxai.cli", "run", "--out", folder], check=True,
                           capture_output=True)
            print(f"whole `astroxai run`: {time.perf_counter() - start:.0f} s (target < 300 s)")


if __name__ == "__main__":
    main()
