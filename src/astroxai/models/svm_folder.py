"""What loading an SVM model folder checks beyond the checksum: the model file is astroxai's
``Pipeline(passthrough | StandardScaler, SVC)``, its numbers are finite, and its grid is the one ``model.json``
names."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from astroxai.models.persist import META_FILE


def check_pipeline_type(pipeline, folder: Path) -> None:
    """Refuse a model file that does not hold what astroxai writes: ``Pipeline(StandardScaler | 'passthrough',
    SVC)`` (skops would load other scikit-learn estimators, e.g. a ``DummyClassifier`` answering one class)."""
    from astroxai.models.persist import ModelLoadError

    steps = pipeline.steps if isinstance(pipeline, Pipeline) else None
    if (steps is None or len(steps) != 2 or not isinstance(steps[1][1], SVC)
            or not (steps[0][1] == "passthrough" or isinstance(steps[0][1], StandardScaler))):
        raise ModelLoadError(f"{folder}: the model file holds a {type(pipeline).__name__}, not the "
                             "Pipeline(StandardScaler or 'passthrough', SVC) astroxai writes")


def check_svm_folder(model, svc, pipeline, folder: Path) -> None:
    """Refuse an SVM folder whose parts do not belong together (the checksum only says the model file is the one
    ``model.json`` names; anyone who can write the folder can change both, see persist's module doc):

    * the model file holds what astroxai writes (:func:`check_pipeline_type`) and, since this version, the grid
      (``model.json``'s must equal it);
    * every stored number must be finite (support vectors, dual coefficients, intercepts, the scaler, the Platt
      sigmoids, the grid, the baseline), the grid strictly increasing and as long as the SVM's inputs;
    * the grid must be where the fluxes were normalised: the reduction sets every spectrum to 1 at 5100 Å, so the
      training mean the scaler stores (or the baseline) must be ≈ 1 there; a grid shifted by hundreds of Å is not.
    """
    from astroxai.models.persist import ModelLoadError, check_spectral_grid

    where = folder / META_FILE
    scaler = pipeline.steps[0][1] if isinstance(pipeline.steps[0][1], StandardScaler) else None
    arrays = {"support vectors": svc.support_vectors_, "dual coefficients": svc.dual_coef_,
              "intercepts": svc.intercept_, "Platt A": model.prob_a_, "Platt B": model.prob_b_,
              "wavelength grid": model.grid_, "baseline": model.baseline_}
    if scaler is not None:
        arrays.update({"scaler mean": scaler.mean_, "scaler scale": scaler.scale_})
    for name, values in arrays.items():
        if not np.all(np.isfinite(np.asarray(values, dtype=np.float64))):
            raise ModelLoadError(f"{where}: non-finite {name}")
    check_spectral_grid(model.grid_, scaler.mean_ if scaler is not None else model.baseline_, model.reduction_,
                        where)
    if svc.support_vectors_.shape[1] != model.grid_.size:
        raise ModelLoadError(f"{where}: the grid has {model.grid_.size} wavelengths but the SVM takes "
                             f"{svc.support_vectors_.shape[1]}")
