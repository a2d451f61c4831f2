"""How far to trust an explanation, as functions of the explainer and its explanation, and :func:`trust_table`, which
scores every method on every model on the same inputs.

* :func:`faithfulness` — deletion and insertion curves against random orders (Petsiuk, Das & Saenko 2018,
  arXiv:1806.07421): inputs are set to the explainer's baseline in order of attribution.
* :func:`sanity` — the model-randomisation test (Adebayo et al. 2018, arXiv:1810.03292): the same method on the model
  with its learned numbers randomised must give different maps.
* :func:`stability` — the relative change of a map under noise at each input's own level (after Yeh et al. 2019,
  arXiv:1901.09392).
* :func:`truth_mass` — relevance mass on the simulated ground truth (Arras, Osman & Samek 2022, Information Fusion
  81, 14): the broad Balmer wavelengths of a spectrum, the class-defining component of an image
  (:mod:`astroxai.explain.components`).

The numerics are in :mod:`astroxai.explain.metrics`; these functions only feed them the right arrays, so spectra and
images are scored by the same code.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np

from astroxai.errors import InputError
from astroxai.explain import metrics
from astroxai.explain.components import component_scores, defining_components
from astroxai.explain.explainer import Explainer, Explanation
from astroxai.explain.methods import method_names
from astroxai.explain.physics import physics_checks

log = logging.getLogger(__name__)

#: The methods a trust table scores by default (finite differences are the saliency map again, far slower).
TRUST_METHODS = ("saliency", "smoothgrad", "integrated-gradients", "occlusion", "lime", "kernelshap")
#: Column names of the size and time columns, per modality.
COUNT_COLUMNS = {"spectra": ("n_spectra", "ms_per_spectrum"), "images": ("n_images", "ms_per_image")}


def _targets(explanation: Explanation) -> np.ndarray:
    index = explanation.target_index()
    if index is None:
        raise InputError("the trust scores need a classifier's explanation (a class probability to follow)")
    return index


def faithfulness(explainer: Explainer, explanation: Explanation, *, steps: int = 20, n_random: int = 3,
                 seed: int = 0) -> dict:
    """Deletion and insertion areas of each map and of ``n_random`` seeded random orders
    (:func:`astroxai.explain.metrics.deletion_insertion`), in the space the maps were taken in, with the explainer's
    baseline as the value of a removed input."""
    Z = explanation.inputs
    predict = metrics.predictor(explainer.model.as_module(prepared=True))
    return metrics.deletion_insertion(predict, Z, explanation.maps, _targets(explanation), explainer.reference(Z),
                                      steps=steps, n_random=n_random, seed=seed)


def sanity(explainer: Explainer, explanation: Explanation, *, seed: int = 0) -> dict:
    """Spearman ρ between |maps| of the model and of its randomised copy
    (:func:`astroxai.explain.metrics.randomised_model`), per input, and the verdict (passes when the median ρ is below
    :data:`astroxai.explain.metrics.SANITY_MAX_RHO`)."""
    shuffled = metrics.randomised_model(explainer.model.as_module(prepared=True), seed)
    random_maps = explainer.attribute(explanation.inputs, _targets(explanation), features=explanation.features,
                                      module=shuffled).maps
    return metrics.randomisation_sanity(explanation.maps, random_maps)


def stability(explainer: Explainer, explanation: Explanation, sigma, *, n_draws: int = 3, seed: int = 1) -> np.ndarray:
    """Mean relative change of each map under ``n_draws`` Gaussian noise draws of σ = ``sigma`` (per input, in the
    units of the explained inputs), the same features and baseline rule kept."""

    def explain(inputs, targets):
        return explainer.attribute(inputs, targets, features=explanation.features).maps

    return metrics.stability(explain, explanation.inputs, _targets(explanation), sigma, n_draws=n_draws, seed=seed,
                             maps=explanation.maps)


def truth_mass(explanation: Explanation, truth) -> dict:
    """Share of |attribution| on the ground truth and its lift over the truth's share of the input.

    ``truth`` is an (N, F) boolean mask of wavelengths for spectra (e.g. from
    :func:`astroxai.explain.metrics.truth_regions`) or (N, H, W) masks for images."""
    if explanation.modality == "spectra":
        return metrics.mass_in_region(explanation.grid, explanation.maps, truth)
    return metrics.mass_in_mask(explanation.maps, truth)


def _median(values) -> float:
    values = np.asarray(values, dtype=float)
    return float(np.nanmedian(values)) if np.isfinite(values).any() else float("nan")


@dataclass
class TrustTable:
    """One row per (model, method) with every score; the maps, curves and predictions behind them."""

    rows: list[dict]
    curves: dict = field(default_factory=dict)  # model → method → faithfulness curves
    explanations: dict = field(default_factory=dict)  # (model, method) → Explanation
    seed: int = 0
    baseline: str = "model"


def trust_table(models: dict, data, rows=None, *, methods=None, baseline="model", truth: dict | None = None,
                sigma=None, seed: int = 0, stability_draws: int = 3, random_orders: int = 3,
                progress=None) -> TrustTable:
    """Every method on every model, on the same inputs, each model explaining its most probable class.

    Parameters
    ----------
    models : dict
        Name → fitted classifier.
    data : SpectraSet or ImageSet
        The inputs (``rows`` of them when given).
    methods : sequence of str, optional
        Registered methods (default: :data:`TRUST_METHODS`).
    baseline : str
        The explainers' baseline (see :class:`~astroxai.explain.Explainer`).
    truth : dict, optional
        Spectra: the simulator's truth (``label``, ``broad``, ``fwhm``, ``r_feii`` per input, as
        :func:`astroxai.simulate.read_truth` gives it) for the ground-truth mass and the Hβ sign test.  Images use
        the set's component masks when it has them.
    sigma : array, optional
        Per-input noise level for the stability score (skipped when None).
    seed : int
        Seed of the explainers, the random orders and the randomisation.

    Returns
    -------
    TrustTable
        One row per (model, method): time, deletion / insertion areas against random orders and the share of inputs
        that beat them, the randomisation test's median ρ and verdict, zero maps, and where they apply stability,
        ground-truth mass, the Hβ sign test and integrated gradients' convergence.

    Examples
    --------
    >>> from astroxai import SVMClassifier, simulate, trust_table
    >>> data = simulate.spectra_set({"type1": 20, "type2": 20}, seed=3, n_wave=100)
    >>> model = SVMClassifier(classes=2, kernels=["linear"], quick=True).fit(data)
    >>> table = trust_table({"SVM": model}, data, range(5), methods=["saliency", "occlusion"])
    >>> [(row["model"], row["method"], row["n_spectra"]) for row in table.rows]
    [('SVM', 'saliency', 5), ('SVM', 'occlusion', 5)]
    """
    rows = np.arange(len(data)) if rows is None else np.asarray(rows, dtype=np.int64)
    subset = data.subset(rows)
    modality = data.modality
    methods = list(methods or TRUST_METHODS)
    unknown = [m for m in methods if m not in method_names(modality) and m != "exact"]
    if unknown:
        raise InputError(f"unknown methods {unknown}; choose from {', '.join(method_names(modality))}")
    count, per = COUNT_COLUMNS[modality]
    regions = None
    if truth is not None and modality == "spectra":
        regions = metrics.truth_regions(data.wavelength, truth["label"], truth["broad"], truth["fwhm"],
                                        truth["r_feii"])
    table = TrustTable([], seed=seed, baseline=baseline if isinstance(baseline, str) else "array")
    for name, model in models.items():
        probable = model.predict_proba(subset).argmax(axis=1)
        table.curves[name] = {}
        for method in methods:
            start = time.perf_counter()
            explainer = Explainer(model, method, baseline, seed=seed, progress=progress)
            explanation = explainer.explain(subset, target=probable)
            faith = faithfulness(explainer, explanation, n_random=random_orders, seed=seed)
            check = sanity(explainer, explanation, seed=seed)
            maps = explanation.maps
            row = {"model": name, "method": explainer.method, count: len(subset),
                   per: round(1e3 * explanation.seconds / len(subset), 3),
                   "deletion_auc": _median(faith["deletion_auc"]),
                   "random_deletion_auc": _median(faith["random_deletion_auc"]),
                   "deletion_beats_random": float(np.mean(faith["deletion_auc"] < faith["random_deletion_auc"])),
                   "insertion_auc": _median(faith["insertion_auc"]),
                   "random_insertion_auc": _median(faith["random_insertion_auc"]),
                   "insertion_beats_random": float(np.mean(faith["insertion_auc"] > faith["random_insertion_auc"])),
                   "sanity_rho": check["median_rho"], "sanity_passes": check["passes"],
                   "zero_maps": int(explanation.zero_map.sum())}
            if sigma is not None and stability_draws:
                row["stability"] = _median(stability(explainer, explanation, sigma, n_draws=stability_draws,
                                                     seed=seed + 1))
            if regions is not None:
                mass = truth_mass(explanation, regions)
                row.update({"truth_mass": _median(mass["mass"]), "truth_area": _median(mass["area"]),
                            "truth_lift": _median(mass["lift"])})
                broad = np.asarray(truth["broad"], dtype=bool)
                checks = physics_checks(data.wavelength, maps[broad]) if broad.any() else {"signs": None}
                if checks["signs"] is not None:  # None: the grid does not cover Hβ's core and wings
                    counted = ~checks["signs"]["zero"]
                    row["hbeta_opposite"] = (float(checks["signs"]["opposite"][counted].mean()) if counted.any()
                                             else float("nan"))
            if modality == "images" and subset.masks:
                scored = [s for s in component_scores(maps, subset.masks, subset.labels, defining_components(subset))
                          if "defining" in s]
                if scored:
                    row["defining_mass"] = _median([s["defining_mass"] for s in scored])
                    row["defining_lift"] = _median([s["defining_lift"] for s in scored])
            if explanation.delta is not None:
                predict = metrics.predictor(model.as_module(prepared=True))
                index = np.arange(len(subset))
                p = predict(explanation.inputs)[index, probable]
                p0 = predict(explainer.reference(explanation.inputs))[index, probable]
                with np.errstate(invalid="ignore", divide="ignore"):
                    relative = np.abs(explanation.delta) / np.abs(p - p0)
                row["ig_relative_delta"] = _median(np.where(np.abs(p - p0) > 1e-6, relative, np.nan))
            table.rows.append(row)
            table.curves[name][explainer.method] = faith
            table.explanations[(name, explainer.method)] = explanation
            log.info("  %-10s %-21s %9.2f ms per input, deletion AUC %.3f (random %.3f), sanity ρ %.2f  [%.0f s]",
                     name, explainer.method, row[per], row["deletion_auc"], row["random_deletion_auc"],
                     row["sanity_rho"], time.perf_counter() - start)
    return table
