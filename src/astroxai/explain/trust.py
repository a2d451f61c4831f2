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
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from astroxai.errors import InputError
from astroxai.explain import metrics
from astroxai.explain.explainer import Explainer, Explanation
from astroxai.explain.methods import method_names
from astroxai.explain.metrics import Faithfulness, FaithfulnessScores, RelevanceMass, Sanity, nan_median
from astroxai.results import Result
from astroxai.vocabulary import TRUST_METHODS

log = logging.getLogger(__name__)
#: The values of a removed input in the faithfulness scores (:func:`faithfulness`).
FAITHFULNESS_BASELINES = ("explainer", "minimum")


def _targets(explanation: Explanation) -> np.ndarray:
    index = explanation.target_index()
    if index is None:
        raise InputError("the trust scores need a classifier's explanation (a class probability to follow)")
    return index


def faithfulness(explainer: Explainer, explanation: Explanation, *, steps: int = 20, n_random: int = 3,
                 seed: int = 0, baseline: str = "explainer") -> Faithfulness:
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
        raise InputError(f"baseline must be one of {FAITHFULNESS_BASELINES}, not {baseline!r}")
    return metrics.deletion_insertion(predict, Z, explanation.maps, _targets(explanation), removed,
                                      steps=steps, n_random=n_random, seed=seed)


def sanity(explainer: Explainer, explanation: Explanation, *, seed: int = 0) -> Sanity:
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


def truth_mass(explanation: Explanation, truth) -> RelevanceMass:
    """Share of |attribution| on the ground truth and its lift over the truth's share of the input.

    ``truth`` is an (N, F) boolean mask of wavelengths for spectra (e.g. from
    :func:`astroxai.explain.metrics.truth_regions`) or (N, H, W) masks for images."""
    if np.ndim(explanation.maps) == 2:  # one value per wavelength: regions on the grid
        return metrics.mass_in_region(explanation.grid, explanation.maps, truth)
    return metrics.mass_in_mask(explanation.maps, truth)


def relative_delta(explainer: Explainer, explanation: Explanation) -> float:
    """Integrated gradients' convergence delta ÷ the change of probability it explains (median; NaN without a
    delta)."""
    if explanation.delta is None:
        return float("nan")
    predict = metrics.predictor(explainer.model.as_module(prepared=True))
    index, target = np.arange(len(explanation)), _targets(explanation)
    p = predict(explanation.inputs)[index, target]
    p0 = predict(explainer.reference(explanation.inputs))[index, target]
    with np.errstate(invalid="ignore", divide="ignore"):
        relative = np.abs(explanation.delta) / np.abs(p - p0)
    return nan_median(np.where(np.abs(p - p0) > 1e-6, relative, np.nan))


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


@dataclass(eq=False)
class TrustRow(Result):
    """One method on one model: every score of the trust table.

    ``faithfulness`` is scored with the explainer's baseline, ``neutral`` with each input's minimum (columns ending
    in ``_min``), both over the non-zero maps (``zero_maps`` counts the others); ``checks`` are the modality's
    columns (:meth:`~astroxai.explain.modality.Modality.trust_columns`).  Its columns name the count and the time
    after the modality (``n_spectra``, ``ms_per_image``…: ``count_columns``)."""

    model: str
    method: str
    n_inputs: int
    ms_per_input: float
    faithfulness: FaithfulnessScores
    neutral: FaithfulnessScores
    sanity: Sanity
    zero_maps: int
    stability: float | None = None
    checks: Mapping | None = None
    ig_relative_delta: float | None = None
    count_columns: tuple[str, str] = ("n_inputs", "ms_per_input")

    def columns(self) -> dict:
        count, per = self.count_columns
        out = {"model": self.model, "method": self.method, count: self.n_inputs, per: self.ms_per_input,
               **self.faithfulness.columns(), **{f"{k}_min": v for k, v in self.neutral.columns().items()},
               "sanity_rho": self.sanity.median_rho, "sanity_passes": self.sanity.passes, "zero_maps": self.zero_maps}
        if self.stability is not None:
            out["stability"] = self.stability
        out.update(self.checks or {})
        if self.ig_relative_delta is not None:
            out["ig_relative_delta"] = self.ig_relative_delta
        return out


@dataclass
class TrustTable:
    """One row per (model, method) with every score; the maps and faithfulness behind them."""

    rows: list[TrustRow] = field(default_factory=list)
    curves: dict[str, dict[str, Faithfulness]] = field(default_factory=dict)  # model → method → faithfulness
    explanations: dict = field(default_factory=dict)  # (model, method) → Explanation
    seed: int = 0
    baseline: str = "model"

    def to_rows(self) -> list[dict]:
        """The rows as a table's columns (what the writers write)."""
        return [row.columns() for row in self.rows]


def score(name: str, explainer: Explainer, explanation: Explanation, data, truth=None, sigma=None,
          settings: TrustSettings | None = None) -> tuple[TrustRow, Faithfulness]:
    """Every trust score of one explanation (of ``data``, by ``explainer`` of the model called ``name``): its
    table row and the faithfulness curves behind it."""
    settings = settings or TrustSettings()
    kind = explainer.modality
    usable = ~explanation.zero_map
    faith, neutral = (faithfulness(explainer, explanation, steps=settings.steps, n_random=settings.random_orders,
                                   seed=settings.seed, baseline=b) for b in FAITHFULNESS_BASELINES)
    stable = None
    if sigma is not None and settings.stability_draws:
        stable = nan_median(stability(explainer, explanation, sigma, n_draws=settings.stability_draws,
                                      seed=settings.seed + 1))
    row = TrustRow(name, explainer.method, len(data), round(1e3 * explanation.seconds / len(data), 3),
                   faith.scores(usable), neutral.scores(usable), sanity(explainer, explanation, seed=settings.seed),
                   int(explanation.zero_map.sum()), stable, kind.trust_columns(explanation, data, truth),
                   relative_delta(explainer, explanation) if explanation.delta is not None else None,
                   kind.count_columns)
    return row, faith


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
        One :class:`TrustRow` per (model, method): time; deletion / insertion areas against random orders and the
        share of inputs that beat them, with the explainer's baseline and again with each input's minimum
        (``_min``), over the non-zero maps; the randomisation test's median ρ and verdict; the zero maps; where they
        apply stability, integrated gradients' convergence and the modality's columns (ground-truth mass, the Hβ
        sign test, the share on the defining component).

    Examples
    --------
    >>> from astroxai import SVMClassifier, simulate, trust_table
    >>> data = simulate.spectra_set({"type1": 20, "type2": 20}, seed=3, n_wave=100)
    >>> model = SVMClassifier(classes=2, kernels=["linear"], quick=True).fit(data)
    >>> table = trust_table({"SVM": model}, data, range(5), methods=["saliency", "occlusion"])
    >>> [(row.model, row.method, row.n_inputs) for row in table.rows]
    [('SVM', 'saliency', 5), ('SVM', 'occlusion', 5)]
    """
    settings = settings or TrustSettings()
    subset = data.subset(np.arange(len(data)) if rows is None else np.asarray(rows, dtype=np.int64))
    methods = list(methods or TRUST_METHODS)
    unknown = [m for m in methods if m not in method_names(data.modality) and m != "exact"]
    if unknown:
        raise InputError(f"unknown methods {unknown}; choose from {', '.join(method_names(data.modality))}")
    table = TrustTable(seed=settings.seed, baseline=settings.baseline if isinstance(settings.baseline, str)
                       else "array")
    for name, model in models.items():
        probable = model.predict_proba(subset).argmax(axis=1)
        table.curves[name] = {}
        for method in methods:
            start = time.perf_counter()
            explainer = Explainer(model, method, settings.baseline, seed=settings.seed, progress=progress)
            explanation = explainer.explain(subset, target=probable)
            row, table.curves[name][explainer.method] = score(name, explainer, explanation, subset, truth, sigma,
                                                              settings)
            table.rows.append(row)
            table.explanations[(name, explainer.method)] = explanation
            log.info("  %-10s %-21s %9.2f ms per input, deletion AUC %.3f (random %.3f), sanity ρ %.2f  [%.0f s]",
                     name, explainer.method, row.ms_per_input, row.faithfulness.deletion_auc,
                     row.faithfulness.random_deletion_auc, row.sanity.median_rho, time.perf_counter() - start)
    return table
