"""How far to trust an explanation: faithfulness, sanity, stability and (on simulated data) ground truth.

Every score is computed per spectrum, so that a table can give its median and a figure its spread.

* :func:`deletion_insertion` — **faithfulness** (Petsiuk, Das & Saenko 2018, "RISE", deletion and insertion
  metrics; Samek et al. 2017, "pixel flipping").  Pixels are removed (set to the baseline) in order of decreasing
  attribution and the target probability is followed; the area under that *deletion* curve is small when the map
  found what the model uses.  *Insertion* starts from the baseline and puts pixels back in the same order; its area
  is large for a faithful map.  The same curves for random orders are the reference a map must beat.
* :func:`randomisation_sanity` — **sanity** (Adebayo et al. 2018, "Sanity checks for saliency maps", model
  parameter randomisation): the Spearman rank correlation between the |map| of the trained model and the |map| of
  the same model with randomised parameters (:func:`randomised_model`).  A method whose maps do not change when
  the model forgets everything explains the input, not the model: it *fails* when the correlation is at least
  :data:`SANITY_MAX_RHO`.
* :func:`stability` — **stability** (after Yeh et al. 2019, "On the (in)fidelity and sensitivity of
  explanations", average sensitivity): the mean relative change ``‖φ(f + δ) − φ(f)‖ / ‖φ(f)‖`` of a map under
  Gaussian noise δ at the spectrum's own noise level (σ = 1 / (S/N at 5100 Å) in normalised flux units).
* :func:`truth_regions` and :func:`mass_in_region` — **ground truth** (relevance mass accuracy, Arras, Osman &
  Samek 2022): the share of |attribution| inside the wavelengths where the simulator put the class-defining
  component, against the share of the grid those wavelengths cover.

Why these are written here: Quantus implements the same ideas, but its randomisation test re-initialises torch
*parameters* layer by layer (the SVM bridge holds its fitted numbers as buffers), its perturbation metrics loop
over spectra one at a time, and it would add OpenCV and pandas to the dependencies.  Each function below is a
few vectorised lines; the tests check them on cases with known answers (a linear model whose exact attribution
is known, a model-independent "explanation" that must fail the sanity test, brute-force mass sums).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from scipy.integrate import trapezoid
from scipy.stats import rankdata

from astroxai.explain.physics import velocity
from astroxai.explain.saliency import module_dtype
from astroxai.lines import BALMER
from astroxai.results import Result

#: A map whose rank correlation with its randomised model's map reaches this value fails the sanity test.
SANITY_MAX_RHO = 0.5
#: Balmer lines searched for broad components on the grid (vacuum Å).
TRUTH_LINES = ("Hβ", "Hγ", "Hδ", "Hε", "H8")
#: The optical Fe II blends of type 1 spectra measured by R_FeII (Å, rest frame).
FEII_BAND = (4434.0, 4684.0)


@dataclass(eq=False)
class PerturbationCurves(Result):
    """:func:`perturbation_curves`: the target probability (N, steps + 1) after removing (``deletion``) or inserting
    (``insertion``) the first ``fractions`` of each order."""

    fractions: np.ndarray
    deletion: np.ndarray
    insertion: np.ndarray


@dataclass(eq=False)
class FaithfulnessScores(Result):
    """Medians of the deletion and insertion areas of a set of maps and of random orders, and the share of maps that
    beat the random orders (a lower deletion area, a higher insertion area)."""

    deletion_auc: float
    random_deletion_auc: float
    deletion_beats_random: float
    insertion_auc: float
    random_insertion_auc: float
    insertion_beats_random: float


@dataclass(eq=False)
class Faithfulness(Result):
    """:func:`deletion_insertion`: per input, the deletion and insertion areas of its map and of the random orders
    (mean over the orders); the mean curves over the inputs, at ``fractions`` of the pixels."""

    fractions: np.ndarray
    deletion_auc: np.ndarray
    deletion_curve: np.ndarray
    insertion_auc: np.ndarray
    insertion_curve: np.ndarray
    random_deletion_auc: np.ndarray
    random_deletion_curve: np.ndarray
    random_insertion_auc: np.ndarray
    random_insertion_curve: np.ndarray

    def scores(self, usable=None) -> FaithfulnessScores:
        """The medians and beats-random shares over the ``usable`` maps (default: all).  A caller leaves out all-zero
        maps (a probability at libsvm's clip): such a map has no order of its own — the stable sort hands it the
        input's order, which "beats random" on most spectra."""
        usable = np.ones(len(self.deletion_auc), bool) if usable is None else np.asarray(usable, dtype=bool)
        deletion, insertion = self.deletion_auc[usable], self.insertion_auc[usable]
        random_deletion, random_insertion = self.random_deletion_auc[usable], self.random_insertion_auc[usable]
        return FaithfulnessScores(nan_median(deletion), nan_median(random_deletion),
                                  _share(deletion < random_deletion), nan_median(insertion),
                                  nan_median(random_insertion), _share(insertion > random_insertion))


@dataclass(eq=False)
class Sanity(Result):
    """:func:`randomisation_sanity`: Spearman ρ per input, its median and the verdict (``passes`` when the median is
    below :data:`SANITY_MAX_RHO`)."""

    rho: np.ndarray
    median_rho: float
    passes: bool


@dataclass(eq=False)
class RelevanceMass(Result):
    """:func:`mass_in_region` and :func:`mass_in_mask`: per input, the share of |attribution| on the truth
    (``mass``), the truth's share of the input (``area``) and their ratio (``lift``; 1 = no better than even)."""

    mass: np.ndarray
    area: np.ndarray
    lift: np.ndarray


def nan_median(values) -> float:
    """The median of the finite values (NaN when there is none, without numpy's warning)."""
    values = np.asarray(values, dtype=float)
    return float(np.nanmedian(values)) if np.isfinite(values).any() else float("nan")


def _share(better) -> float:
    return float(np.mean(better)) if np.size(better) else float("nan")


def predictor(module: torch.nn.Module, batch_size: int = 4096):
    """``predict_proba`` of a probability module as a NumPy function (no gradients, batched)."""
    dtype = module_dtype(module)

    def predict(X):
        X = np.atleast_2d(np.asarray(X))
        out = []
        with torch.no_grad():
            for start in range(0, len(X), batch_size):
                out.append(module(torch.as_tensor(X[start:start + batch_size], dtype=dtype)).double().numpy())
        return np.concatenate(out)

    return predict


def _orders(maps: np.ndarray) -> np.ndarray:
    """Pixel order of each map, most positive attribution first (stable: ties keep wavelength order)."""
    return np.argsort(-maps, axis=1, kind="stable")


def perturbation_curves(predict, X, orders, target, baseline, steps: int = 20) -> PerturbationCurves:
    """Deletion and insertion curves for given pixel ``orders`` (N, F): the target probability after removing
    (deletion) or inserting (insertion) the first ``round(k/steps · F)`` pixels of each order, k = 0 … steps."""
    X = np.atleast_2d(np.asarray(X, dtype=np.float64))
    baseline = np.broadcast_to(np.asarray(baseline, dtype=np.float64), X.shape)
    n, f = X.shape
    fractions = np.linspace(0.0, 1.0, steps + 1)
    counts = np.round(fractions * f).astype(int)
    # rank[i, j] = position of pixel j in spectrum i's order; pixel j is "taken" at step k if rank < counts[k].
    rank = np.empty_like(orders)
    np.put_along_axis(rank, orders, np.arange(f)[None, :].repeat(n, axis=0), axis=1)
    taken = rank[:, None, :] < counts[None, :, None]  # (N, steps+1, F)
    deleted = np.where(taken, baseline[:, None, :], X[:, None, :]).reshape(-1, f)
    inserted = np.where(taken, X[:, None, :], baseline[:, None, :]).reshape(-1, f)
    rows = np.repeat(np.arange(n), steps + 1)
    pick = np.asarray(target)[rows]
    deletion = predict(deleted)[np.arange(rows.size), pick].reshape(n, steps + 1)
    insertion = predict(inserted)[np.arange(rows.size), pick].reshape(n, steps + 1)
    return PerturbationCurves(fractions, deletion, insertion)


def _area(curves: np.ndarray, fractions: np.ndarray) -> np.ndarray:
    return trapezoid(curves, fractions, axis=-1)


def deletion_insertion(predict, X, maps, target, baseline, *, steps: int = 20, n_random: int = 3, seed: int = 0,
                       chunk: int = 64) -> Faithfulness:
    """Deletion and insertion areas of each map and of ``n_random`` seeded random orders (mean), per spectrum.

    Returns ``deletion_auc``, ``insertion_auc``, ``random_deletion_auc``, ``random_insertion_auc`` (N,), the mean
    curves ``deletion_curve`` / ``insertion_curve`` / ``random_*_curve`` (steps+1,) and ``fractions``.  Images
    (N, C, H, W) are handled as flat arrays of pixels (a pixel of each channel counts separately).
    """
    X = np.asarray(X, dtype=np.float64)
    X = X[None] if X.ndim == 1 else X
    shape = X.shape[1:]
    if len(shape) > 1:  # flatten images; the model still sees them in their shape
        flat_predict = predict

        def predict(Z, flat_predict=flat_predict):
            return flat_predict(np.asarray(Z).reshape(-1, *shape))

    baseline = np.broadcast_to(np.asarray(baseline, dtype=np.float64), X.shape).reshape(len(X), -1)
    maps = np.asarray(maps, dtype=np.float64).reshape(len(X), -1)
    X = X.reshape(len(X), -1)
    target = np.asarray(target)
    rng = np.random.default_rng(seed)
    parts: dict[str, list] = {k: [] for k in ("deletion", "insertion", "random_deletion", "random_insertion")}
    fractions = None
    for start in range(0, len(X), chunk):
        rows = slice(start, start + chunk)
        curves = perturbation_curves(predict, X[rows], _orders(maps[rows]), target[rows], baseline[rows], steps)
        fractions = curves.fractions
        parts["deletion"].append(curves.deletion)
        parts["insertion"].append(curves.insertion)
        random_del, random_ins = [], []
        for _ in range(n_random):
            orders = np.argsort(rng.random(maps[rows].shape), axis=1)
            rc = perturbation_curves(predict, X[rows], orders, target[rows], baseline[rows], steps)
            random_del.append(rc.deletion)
            random_ins.append(rc.insertion)
        parts["random_deletion"].append(np.mean(random_del, axis=0))
        parts["random_insertion"].append(np.mean(random_ins, axis=0))
    out = {"fractions": fractions}
    for key, chunks in parts.items():
        curves = np.concatenate(chunks)
        out[f"{key}_auc"] = _area(curves, fractions)
        out[f"{key}_curve"] = curves.mean(axis=0)
    return Faithfulness(**out)


def randomised_model(module: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """A copy of ``module`` whose learned numbers are randomised (model-parameter randomisation test).

    * a network (any module with parameters, e.g. the CNN): every layer re-initialised with its own default
      initialiser (``reset_parameters``), under ``torch.manual_seed(seed)``;
    * the SVM bridge: the dual coefficients are shuffled among the support vectors (RBF and other kernels) or
      the linear weight vector among the wavelengths (linear kernel), so the coefficients keep their values and
      scale but lose their association with the spectra.  The input scaling and Platt sigmoids are kept.
    """
    clone = copy.deepcopy(module).eval()
    generator = torch.Generator().manual_seed(seed)
    params = list(clone.parameters())
    if params:
        torch.manual_seed(seed)
        for layer in clone.modules():
            if layer is not clone and hasattr(layer, "reset_parameters"):
                layer.reset_parameters()
        return clone
    if hasattr(clone, "linear_weight"):
        perm = torch.randperm(clone.linear_weight.shape[0], generator=generator)
        clone.linear_weight = clone.linear_weight[perm].clone()
    elif hasattr(clone, "weights"):
        perm = torch.randperm(clone.weights.shape[0], generator=generator)
        clone.weights = clone.weights[perm].clone()
    else:
        raise TypeError(f"do not know how to randomise a {type(module).__name__}")
    return clone


def rank_correlation(a, b) -> np.ndarray:
    """Row-wise Spearman correlation of two (N, …) arrays, each row flattened (NaN where a row is constant)."""
    a, b = np.asarray(a), np.asarray(b)
    a = a.reshape(len(a), -1) if a.ndim > 1 else a[None]
    b = b.reshape(len(b), -1) if b.ndim > 1 else b[None]
    ra = rankdata(a, axis=1)
    rb = rankdata(b, axis=1)
    ra -= ra.mean(axis=1, keepdims=True)
    rb -= rb.mean(axis=1, keepdims=True)
    norm = np.sqrt((ra**2).sum(axis=1) * (rb**2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norm > 0, (ra * rb).sum(axis=1) / norm, np.nan)


def randomisation_sanity(maps, random_maps) -> Sanity:
    """Spearman ρ between |maps| of the trained model and |maps| of its randomised copy, per spectrum, and the
    verdict: ``passes`` when the median ρ is below :data:`SANITY_MAX_RHO` (the explanation depends on the model)."""
    rho = rank_correlation(np.abs(maps), np.abs(random_maps))
    median = float(np.nanmedian(rho)) if np.isfinite(rho).any() else float("nan")
    return Sanity(rho, median, bool(median < SANITY_MAX_RHO))


def stability(explain, X, target, sigma, *, n_draws: int = 5, seed: int = 0, maps=None) -> np.ndarray:
    """Mean relative change of each spectrum's map under ``n_draws`` Gaussian noise draws of σ = ``sigma`` (per
    spectrum, in flux units): ``mean_k ‖φ(f + δ_k) − φ(f)‖₂ / ‖φ(f)‖₂`` (0 = perfectly stable; NaN for zero maps).
    ``explain(X, target)`` returns maps; ``maps`` are those of the clean spectra if already computed."""
    X = np.asarray(X, dtype=np.float64)
    X = X[None] if X.ndim == 1 else X
    sigma = np.broadcast_to(np.asarray(sigma, dtype=np.float64), (len(X),))
    rng = np.random.default_rng(seed)
    clean = (explain(X, target) if maps is None else np.asarray(maps)).reshape(len(X), -1)
    norm = np.linalg.norm(clean, axis=1)
    changes = []
    for _ in range(n_draws):
        noisy = X + rng.normal(size=X.shape) * sigma.reshape(-1, *[1] * (X.ndim - 1))
        changes.append(np.linalg.norm(explain(noisy, target).reshape(len(X), -1) - clean, axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norm > 0, np.mean(changes, axis=0) / norm, np.nan)


def truth_regions(wavelength, labels, has_broad_hb, fwhm_broad, r_feii=None, default_fwhm: float = 4300.0):
    """Where each simulated spectrum's class is decided: the wavelengths of its broad Balmer component.

    For a spectrum with a broad Hβ (type 1, intermediate 1.2–1.8): |v| ≤ FWHM of the broad line around every
    Balmer line on the grid (± one FWHM holds 98 % of a Gaussian's flux), plus the Fe II band 4434–4684 Å where
    the simulator added Fe II (type 1, R_FeII > 0).  For a spectrum without one (type 2, type 1.9) the class is
    decided by the *absence* of that component, i.e. at the same wavelengths for a typical broad line
    (``default_fwhm``, the median FWHM(Hβ) of the simulated type 1 sample).  Returns an (N, F) boolean mask.
    """
    wavelength = np.asarray(wavelength, dtype=np.float64)
    labels = np.asarray(labels).astype(str)
    broad = np.asarray(has_broad_hb, dtype=bool)
    fwhm = np.where(broad & np.isfinite(np.asarray(fwhm_broad, dtype=float)),
                    np.asarray(fwhm_broad, dtype=float), default_fwhm)
    mask = np.zeros((labels.size, wavelength.size), dtype=bool)
    for name in TRUTH_LINES:
        v = np.abs(velocity(wavelength, BALMER[name]))
        mask |= v[None, :] <= fwhm[:, None]
    if r_feii is not None:
        feii = (labels == "type1") & (np.nan_to_num(np.asarray(r_feii, dtype=float)) > 0)
        band = (wavelength >= FEII_BAND[0]) & (wavelength <= FEII_BAND[1])
        mask |= feii[:, None] & band[None, :]
    return mask


def mass_in_region(wavelength, maps, regions) -> RelevanceMass:
    """Share of each map's |attribution| (weighted by pixel width in Å) inside its region, and the share of the
    grid the region covers; ``lift`` = mass share / area share (1 = no better than spreading evenly)."""
    widths = np.gradient(np.asarray(wavelength, dtype=np.float64))
    weight = np.abs(np.atleast_2d(maps)) * widths
    regions = np.atleast_2d(regions)
    total = weight.sum(axis=1)
    area = (regions * widths).sum(axis=1) / widths.sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        mass = np.where(total > 0, (weight * regions).sum(axis=1) / total, np.nan)
        lift = np.where(area > 0, mass / area, np.nan)
    return RelevanceMass(mass, area, lift)


def mass_in_mask(maps, masks) -> RelevanceMass:
    """Image version of :func:`mass_in_region`: the share of each map's |attribution| (summed over channels) inside
    its ground-truth mask (N, H, W), the mask's share of the image, and their ratio (lift)."""
    masks = np.asarray(masks, dtype=bool)
    # (N, H, W) or (N, C, H, W) maps: the channels (if any) summed onto the masks' (H, W)
    weight = np.abs(np.asarray(maps, dtype=np.float64)).reshape(len(masks), -1, *masks.shape[1:]).sum(axis=1)
    total = weight.reshape(len(weight), -1).sum(axis=1)
    inside = (weight * masks).reshape(len(weight), -1).sum(axis=1)
    area = masks.reshape(len(masks), -1).mean(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mass = np.where(total > 0, inside / total, np.nan)
        lift = np.where(area > 0, mass / area, np.nan)
    return RelevanceMass(mass, area, lift)
