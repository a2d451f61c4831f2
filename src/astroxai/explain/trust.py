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
from astroxai.explain.explainer import Explainer, Explanation
from astroxai.explain.methods import method_names
from astroxai.vocabulary import TRUST_METHODS

log = logging.getLogger(__name__)



def _targets(explanation: Explanation) -> np.ndarray:
    index = explanation.target_index()
    if index is None:
        raise InputError("the trust scores need a classifier's explanation (a class probability to follow)")
    return index


def faithfulness(explainer: Explainer, explanation: Explanation, *, steps: int = 20, n_random: int = 3,
                 seed: int = 0, baseline: str = "explainer") -> dict:
    """Deletion and insertion areas of each map and of ``n_random`` seeded random orders
    (:func:`astroxai.explain.metrics.deletion_insertion`), in the space the maps were taken in.

    ``baseline``: the value of a removed input — ``"explainer"`` (the explainer's own baseline, the one integrated
    gradients integrates from, which favours it by construction) or ``"minimum"`` (each input's own minimum: a
    baseline no method starts from, Petsiuk et al.'s "remove to the darkest value")."""
    Z = explanation.inputs
    predict = metrics.predictor(explainer.model.as_module(prepared=True))
    if baseline == "minimum":
        axes = tuple(range(1, np.ndim(Z)))
        removed = np.broadcast_to(np.min(Z, axis=axes, keepdims=True), np.shape(Z))
    elif baseline == "explainer":
        removed = explainer.reference(Z)
    else:
        raise InputError(f"baseline must be 'explainer' or 'minimum', not {baseline!r}")
    return metrics.deletion_insertion(predict, Z, explanation.maps, _targets(explanation), removed,
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
    if np.ndim(explanation.maps) == 2:  # one value per wavelength: regions on the grid
        return metrics.mass_in_region(explanation.grid, explanation.maps, truth)
    return metrics.mass_in_mask(explanation.maps, truth)


def _median(values) -> float:
    values = np.asarray(values, dtype=float)
    return float(np.nanmedian(values)) if np.isfinite(values).any() else float("nan")


@dataclass
class TrustSettings:
    """How a trust table scores: the explainers' ``baseline`` and ``seed`` (of the explainers, the random orders and
    the randomisation), the noise draws of the stability score, the random orders of the faithfulness test and its
    ``steps``."""

    baseline: str = "model"
    seed: int = 0
    stability_draws: int = 3
    random_orders: int = 3
    steps: int = 20


@dataclass
class TrustTable:
    """One row per (model, method) with every score; the maps, curves and predictions behind them."""

    rows: list[dict]
    curves: dict = field(default_factory=dict)  # model → method → faithfulness (per input and mean curves)
    explanations: dict = field(default_factory=dict)  # (model, method) → Explanation
    seed: int = 0
    baseline: str = "model"


def _share(better) -> float:
    return float(np.mean(better)) if np.size(better) else float("nan")


def faithfulness_columns(faith: dict, usable, suffix: str = "") -> dict:
    """Medians of the deletion and insertion areas and the shares of inputs that beat random orders, over the
    ``usable`` maps only: an all-zero map (a probability at libsvm's clip) has no order of its own — the stable sort
    would hand it the input's order, which "beats random" on most spectra — so it is left out (and counted in
    ``zero_maps``)."""
    usable = np.asarray(usable, dtype=bool)
    deletion, insertion = faith["deletion_auc"][usable], faith["insertion_auc"][usable]
    random_deletion, random_insertion = faith["random_deletion_auc"][usable], faith["random_insertion_auc"][usable]
    return {f"deletion_auc{suffix}": _median(deletion), f"random_deletion_auc{suffix}": _median(random_deletion),
            f"deletion_beats_random{suffix}": _share(deletion < random_deletion),
            f"insertion_auc{suffix}": _median(insertion), f"random_insertion_auc{suffix}": _median(random_insertion),
            f"insertion_beats_random{suffix}": _share(insertion > random_insertion)}


def _row(name: str, explainer: Explainer, explanation: Explanation, subset, truth, sigma,
         settings: TrustSettings) -> tuple[dict, dict]:
    """One trust-table row (the generic scores, then the modality's columns) and the faithfulness behind it."""
    kind = explainer.modality
    count, per = kind.count_columns
    usable = ~explanation.zero_map
    faith = faithfulness(explainer, explanation, steps=settings.steps, n_random=settings.random_orders,
                         seed=settings.seed)
    neutral = faithfulness(explainer, explanation, steps=settings.steps, n_random=settings.random_orders,
                           seed=settings.seed, baseline="minimum")
    check = sanity(explainer, explanation, seed=settings.seed)
    row = {"model": name, "method": explainer.method, count: len(subset),
           per: round(1e3 * explanation.seconds / len(subset), 3), **faithfulness_columns(faith, usable),
           **faithfulness_columns(neutral, usable, "_min"), "sanity_rho": check["median_rho"],
           "sanity_passes": check["passes"], "zero_maps": int(explanation.zero_map.sum())}
    if sigma is not None and settings.stability_draws:
        row["stability"] = _median(stability(explainer, explanation, sigma, n_draws=settings.stability_draws,
                                             seed=settings.seed + 1))
    row.update(kind.trust_columns(explanation, subset, truth))
    if explanation.delta is not None:
        row["ig_relative_delta"] = _relative_delta(explainer, explanation)
    return row, faith


def _relative_delta(explainer: Explainer, explanation: Explanation) -> float:
    """Integrated gradients' convergence delta ÷ the change of probability it explains (median)."""
    predict = metrics.predictor(explainer.model.as_module(prepared=True))
    index, target = np.arange(len(explanation)), _targets(explanation)
    p = predict(explanation.inputs)[index, target]
    p0 = predict(explainer.reference(explanation.inputs))[index, target]
    with np.errstate(invalid="ignore", divide="ignore"):
        relative = np.abs(explanation.delta) / np.abs(p - p0)
    return _median(np.where(np.abs(p - p0) > 1e-6, relative, np.nan))


def trust_table(models: dict, data, rows=None, *, methods=None, truth: dict | None = None, sigma=None,
                settings: TrustSettings | None = None, progress=None) -> TrustTable:
    """Every method on every model, on the same inputs, each model explaining its most probable class.

    Parameters
    ----------
    models : dict
        Name → fitted classifier.
    data : LabelledSet
        The inputs (``rows`` of them when given): spectra, images, or any registered modality's.
    methods : sequence of str, optional
        Registered methods (default: :data:`TRUST_METHODS`).
    truth : dict, optional
        Spectra: the simulator's truth (``label``, ``broad``, ``fwhm``, ``r_feii`` per input, as
        :func:`astroxai.simulate.read_truth` gives it) for the ground-truth mass and the Hβ sign test.  Images use
        the set's component masks when it has them.
    sigma : array, optional
        Per-input noise level for the stability score (skipped when None).
    settings : TrustSettings, optional
        The explainers' baseline and seed, the noise draws and random orders.

    Returns
    -------
    TrustTable
        One row per (model, method): time; deletion / insertion areas against random orders and the share of inputs
        that beat them, with the explainer's baseline and again with each input's minimum (``_min``), over the
        non-zero maps; the randomisation test's median ρ and verdict; the zero maps; where they apply stability,
        integrated gradients' convergence and the modality's columns (ground-truth mass, the Hβ sign test, the
        share on the defining component).

    Examples
    --------
    >>> from astroxai import SVMClassifier, simulate, trust_table
    >>> data = simulate.spectra_set({"type1": 20, "type2": 20}, seed=3, n_wave=100)
    >>> model = SVMClassifier(classes=2, kernels=["linear"], quick=True).fit(data)
    >>> table = trust_table({"SVM": model}, data, range(5), methods=["saliency", "occlusion"])
    >>> [(row["model"], row["method"], row["n_spectra"]) for row in table.rows]
    [('SVM', 'saliency', 5), ('SVM', 'occlusion', 5)]
    """
    settings = settings or TrustSettings()
    rows = np.arange(len(data)) if rows is None else np.asarray(rows, dtype=np.int64)
    subset = data.subset(rows)
    methods = list(methods or TRUST_METHODS)
    unknown = [m for m in methods if m not in method_names(data.modality) and m != "exact"]
    if unknown:
        raise InputError(f"unknown methods {unknown}; choose from {', '.join(method_names(data.modality))}")
    table = TrustTable([], seed=settings.seed,
                       baseline=settings.baseline if isinstance(settings.baseline, str) else "array")
    for name, model in models.items():
        probable = model.predict_proba(subset).argmax(axis=1)
        table.curves[name] = {}
        for method in methods:
            start = time.perf_counter()
            explainer = Explainer(model, method, settings.baseline, seed=settings.seed, progress=progress)
            explanation = explainer.explain(subset, target=probable)
            row, faith = _row(name, explainer, explanation, subset, truth, sigma, settings)
            table.rows.append(row)
            table.curves[name][explainer.method] = faith
            table.explanations[(name, explainer.method)] = explanation
            log.info("  %-10s %-21s %9.2f ms per input, deletion AUC %.3f (random %.3f), sanity ρ %.2f  [%.0f s]",
                     name, explainer.method, row[explainer.modality.count_columns[1]], row["deletion_auc"],
                     row["random_deletion_auc"], row["sanity_rho"], time.perf_counter() - start)
    return table
