"""The out-of-distribution reference on its own training inputs: for every estimator kind, on a small training set
(the contract test's: fewer inputs than pixels, a handful of barred galaxies) and a larger one, how many training
inputs score above 1 and how large the largest score is (models.reference: about 0.5 % per statistic above its
99.5 % limit by construction, and nothing of the size of round-off divided by round-off).

Usage:  python benchmarks/bench_reference.py [--large]      (small sets: ~1 min; --large adds ~3 min)

It prints one row per estimator kind and size: the inputs the reference was fitted on (``n``), the components kept
in T² and the training matrix's rank, the share of those inputs with a score above 1, the largest score among them
and among the inputs the reference did not see.  Run it before and after a change to the reference.
"""

from __future__ import annotations

import argparse
import platform

import numpy as np

from astroxai import simulate
from astroxai.models import ImageCNNClassifier, ImageCNNRegressor, SpectrumCNNClassifier, SVMClassifier

ESTIMATORS = {
    "svm": (lambda: SVMClassifier(kernels=("linear", "rbf"), quick=True, seed=1), "spectra"),
    "spectrum-cnn": (lambda: SpectrumCNNClassifier(max_epochs=2, batch_size=16, seed=1), "spectra"),
    "image-classifier": (lambda: ImageCNNClassifier(max_epochs=2, seed=1), "images"),
    "image-regressor": (lambda: ImageCNNRegressor(max_epochs=2, seed=1), "images"),
}
SIZES = {
    "small": (lambda: simulate.spectra_set({"type1": 12, "type2": 14, "intermediate": 12}, seed=21, n_wave=96),
              lambda: simulate.image_set("galaxy", {"barred": 10, "unbarred": 10}, seed=22)),
    "large": (lambda: simulate.spectra_set({"type1": 200, "type2": 300, "intermediate": 200}, seed=21, n_wave=400),
              lambda: simulate.image_set("galaxy", {"barred": 150, "unbarred": 150}, seed=22)),
}


def fitted_rows(model, data) -> np.ndarray:
    """The rows the model's reference was fitted on: train + validation for the SVM, train for the networks (for the
    regressor, its training images with a measured target)."""
    ids = list(model.split_.train) + (list(model.split_.validation) if model.kind == "svm" else [])
    rows = np.flatnonzero(np.isin(data.ids, ids))
    if model.task == "regress":
        rows = model.measured(data, rows)
    return np.isin(np.arange(len(data)), rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--large", action="store_true", help="also the larger training sets")
    args = parser.parse_args()
    print(f"numpy {np.__version__} on {platform.machine()}; BLAS: "
          f"{np.show_config(mode='dicts')['Build Dependencies']['blas'].get('openblas configuration', '?')}")
    print(f"{'model':17s} {'size':5s} {'n':>5s} {'kept':>4s} {'rank':>5s} {'share>1':>8s} {'max (train)':>12s} "
          f"{'max (other)':>12s}")
    for size in ("small", "large") if args.large else ("small",):
        spectra, images = (make() for make in SIZES[size])
        for name, (make, modality) in ESTIMATORS.items():
            data = spectra if modality == "spectra" else images
            model = make().fit(data)
            score = model.novelty(data)["score"]
            rows = fitted_rows(model, data)
            reference = model.reference_
            other = f"{score[~rows].max():12.4g}" if (~rows).any() else f"{'-':>12s}"
            print(f"{name:17s} {size:5s} {rows.sum():5d} {len(reference.variances):4d} "
                  f"{getattr(reference, 'rank', 0) or '?':>5} {np.mean(score[rows] > 1):8.3f} "
                  f"{score[rows].max():12.4g} {other}")


if __name__ == "__main__":
    main()
