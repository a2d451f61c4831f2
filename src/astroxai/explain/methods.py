"""Every attribution method with one call: ``attribute(module, X, target, method)`` → (N, F) map per spectrum.

``module`` is a torch module from fluxes to class probabilities: an SVM pipeline converted by
:class:`~astroxai.explain.bridge.SVCProbability` or the 1-D CNN (:func:`astroxai.models.persist.probability_module`
gives either).  All methods come from captum; this module only fixes their astrophysical settings:

``saliency``
    ∂p/∂f by autograd (captum ``Saliency``, signed) — the paper's map without its finite differences.
``smoothgrad``
    the mean saliency over ``n_samples`` noisy copies (captum ``NoiseTunnel``; Smilkov et al. 2017), the method of
    seed 003.  ``noise`` is σ in units of the flux at 5100 Å, which the reduction sets to 1: the default 0.05 is the
    noise of a spectrum with S/N = 20 at 5100 Å, the median S/N of the simulated type 1 sample.
``integrated-gradients``
    (f − f′) · mean ∂p/∂f along the straight path from a baseline f′ (captum ``IntegratedGradients``; Sundararajan
    et al. 2017).  The maps sum to p(f) − p(f′); the convergence delta (the sum's error) is returned per spectrum.
``occlusion``
    p(f) − p(f with a window replaced by the baseline), for windows of ``window`` pixels moved by ``stride``
    (captum ``Occlusion``; Zeiler & Fergus 2014); a pixel gets the mean over the windows that cover it.
``lime``
    a weighted linear surrogate of p on ``n_samples`` spectra with random wavelength segments switched to the
    baseline (captum ``Lime``; Ribeiro et al. 2016), the method of seed 002; the map is each segment's coefficient.
``kernelshap``
    Shapley values of the same segments, estimated with the Shapley kernel (captum ``KernelShap``; Lundberg & Lee
    2017); they sum (approximately) to p(f) − p(baseline).

Baselines (``baseline_spectra``): a spectrum with "nothing" at a wavelength is not a zero flux — a normalised
spectrum never has one, and a model has never seen one.  The default is the *median training spectrum*
(every reduced spectrum equals 1 at 5100 Å, so it sits on the same scale; stored with each model), so that
IG, occlusion, LIME and KernelSHAP ask "what if this spectrum looked like the typical one here?".  The
alternative ``'continuum'`` is each spectrum's own continuum (lines removed by a wide running median), asking
"what if this spectrum had no line here?".  ``'zero'`` is offered for comparison with the literature.

Interpretable features for LIME and KernelSHAP (``wavelength_segments``): contiguous windows of equal width
(default 40), or with ``lines=True`` one segment of ±2000 km/s around each diagnostic line and the continuum in
between cut into windows of about the same width.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch

from astroxai.explain.physics import LINE_WINDOW_KMS, velocity
from astroxai.explain.saliency import gradient_saliency, module_dtype
from astroxai.lines import DIAGNOSTIC_LINES

METHODS = ("saliency", "smoothgrad", "integrated-gradients", "occlusion", "lime", "kernelshap")
BASELINES = ("median", "continuum", "zero")
#: Methods whose maps depend on a baseline spectrum.
USES_BASELINE = ("integrated-gradients", "occlusion", "lime", "kernelshap")

DEFAULTS = {
    "smoothgrad": {"n_samples": 25, "noise": 0.05},
    "integrated-gradients": {"n_steps": 50},
    "occlusion": {"window": 20, "stride": 10},
    "lime": {"n_samples": 400, "n_segments": 40, "lines": False},
    "kernelshap": {"n_samples": 400, "n_segments": 40, "lines": False},
}
#: Width in pixels of the running median that removes lines for the 'continuum' baseline (≈ 300 Å on the
#: default 1.54 Å grid: wider than the broadest Balmer line, FWHM 12000 km/s ≈ 195 Å at Hβ).
CONTINUUM_WIDTH = 201


@dataclass
class Attribution:
    """Maps of N spectra by one method, with what else the method reports."""

    method: str
    maps: np.ndarray  # (N, F), float64; positive = more flux here raises the explained probability
    seconds: float
    options: dict = field(default_factory=dict)
    delta: np.ndarray | None = None  # integrated gradients: convergence delta per spectrum


def continuum(flux, width: int = CONTINUUM_WIDTH) -> np.ndarray:
    """Each spectrum's continuum: a running median of ``width`` pixels, then a running mean of the same width to
    smooth its steps (scipy.ndimage; edges reflected).  Removes emission and absorption lines narrower than the
    window while keeping the continuum's slope and the 4000 Å break's large-scale shape."""
    from scipy.ndimage import median_filter, uniform_filter1d

    flux = np.atleast_2d(np.asarray(flux, dtype=np.float64))
    width = min(width, flux.shape[1] - (1 - flux.shape[1] % 2))
    return uniform_filter1d(median_filter(flux, size=(1, width), mode="reflect"), width, axis=1, mode="reflect")


def _batch(X) -> np.ndarray:
    """float64 inputs with a leading batch axis: (N, F) spectra or (N, C, H, W) images (one spectrum may be 1-D)."""
    X = np.asarray(X, dtype=np.float64)
    return X[None] if X.ndim == 1 else X


def baseline_spectra(kind: str, X, median=None) -> np.ndarray:
    """Baselines shaped like ``X``: ``'median'`` (the model's median training spectrum ``median``, or the median of
    ``X`` when the model has none stored), ``'continuum'`` (:func:`continuum`, spectra only) or ``'zero'``."""
    X = _batch(X)
    if kind == "median":
        ref = np.median(X, axis=0) if median is None else np.asarray(median, dtype=np.float64)
        if ref.shape != X.shape[1:]:
            raise ValueError(f"median spectrum has {ref.size} points, the spectra {X.shape[1]}")
        return np.broadcast_to(ref, X.shape).copy()
    if kind == "continuum":
        if X.ndim != 2:
            raise ValueError("the continuum baseline is defined for spectra (N, F), not images")
        return continuum(X)
    if kind == "zero":
        return np.zeros_like(X)
    raise ValueError(f"unknown baseline {kind!r}; choose from {BASELINES}")


def wavelength_segments(wavelength, n_segments: int = 40, lines: bool = False) -> np.ndarray:
    """Segment index (0 … S−1) of every pixel: contiguous windows of equal size, or (``lines=True``) ±2000 km/s
    around each diagnostic line on the grid plus windows of the remaining continuum of about the same width."""
    wavelength = np.asarray(wavelength, dtype=float)
    n = wavelength.size
    n_segments = max(1, min(n_segments, n))
    if not lines:
        return (np.arange(n) * n_segments // n).astype(np.int64)
    owner = np.full(n, -1, dtype=np.int64)
    k = 0
    for centre in DIAGNOSTIC_LINES.values():
        near = (np.abs(velocity(wavelength, centre)) <= LINE_WINDOW_KMS) & (owner < 0)
        if near.any():
            owner[near] = k
            k += 1
    width = max(1, n // n_segments)
    rest = np.flatnonzero(owner < 0)
    if rest.size:
        # Runs of continuum pixels, each cut into pieces of about ``width`` pixels.
        runs = np.split(rest, np.flatnonzero(np.diff(rest) > 1) + 1)
        for run in runs:
            pieces = max(1, round(run.size / width))
            for piece in np.array_split(run, pieces):
                owner[piece] = k
                k += 1
    return owner


def _run_batches(n: int, batch_size: int, progress, work) -> list:
    """``work(rows)`` for consecutive slices of ``batch_size`` of ``n`` inputs, with an optional progress bar."""
    starts = range(0, n, batch_size)
    return [work(slice(start, min(n, start + batch_size)))
            for start in (progress(starts, total=len(starts)) if progress else starts)]


def attribute(module: torch.nn.Module, X, target, method: str = "saliency", *, baseline="median", median=None,
              wavelength=None, feature_mask=None, batch_size: int = 256, seed: int = 0, progress=None,
              **options) -> Attribution:
    """Attribution maps of the class probabilities ``module(X)[i, target[i]]`` by ``method`` (see the module's doc).

    ``X`` holds (N, F) spectra or (N, C, H, W) images; the maps have its shape.  ``baseline`` is a kind
    (``'median'``, ``'continuum'``, ``'zero'``) or an array shaped like ``X`` or one input; ``median`` the model's
    median training input; ``wavelength`` is needed for LIME/KernelSHAP segments around lines.  ``feature_mask``
    gives LIME/KernelSHAP their features explicitly, one integer label per input element (shape of ``X``, or of one
    input); images default to SLIC superpixels (:func:`astroxai.images.segments.superpixels`, ``n_segments`` of
    them).  Occlusion slides square windows over images.  ``options`` override :data:`DEFAULTS` of the method.
    Every random draw is seeded by ``seed``.
    """
    from captum.attr import IntegratedGradients, KernelShap, Lime, NoiseTunnel, Occlusion, Saliency

    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {METHODS}")
    unknown = set(options) - set(DEFAULTS.get(method, {}))
    if unknown:
        raise ValueError(f"{method} takes no options {sorted(unknown)}")
    opts = {**DEFAULTS.get(method, {}), **options}
    X = _batch(X)
    image = X.ndim == 4
    target = np.array(np.broadcast_to(np.asarray(target, dtype=np.int64), (len(X),)))
    start_time = time.perf_counter()
    if method == "saliency":
        maps = gradient_saliency(module, X, target, batch_size=batch_size, progress=progress)
        return Attribution(method, maps, time.perf_counter() - start_time, opts)

    dtype = module_dtype(module)
    base = None
    if method in USES_BASELINE:
        base = (baseline_spectra(baseline, X, median) if isinstance(baseline, str)
                else np.broadcast_to(np.asarray(baseline, dtype=np.float64), X.shape))
        opts["baseline"] = baseline if isinstance(baseline, str) else "array"
    mask = None
    if method in ("lime", "kernelshap"):
        if feature_mask is not None:
            mask = np.asarray(feature_mask, dtype=np.int64)
            mask = np.broadcast_to(mask, X.shape) if mask.shape == X.shape[1:] else mask
            if mask.shape != X.shape:
                raise ValueError(f"feature_mask has shape {mask.shape}, the inputs {X.shape}")
        elif image:
            from astroxai.images.segments import superpixels

            mask = np.broadcast_to(superpixels(X, opts["n_segments"])[:, None], X.shape)
        else:
            grid = np.arange(X.shape[1]) if wavelength is None else wavelength
            if opts["lines"] and wavelength is None:
                raise ValueError("segments around lines need the wavelength grid")
            mask = wavelength_segments(grid, opts["n_segments"], opts["lines"])[None, :]
        opts["n_features"] = int(mask.max()) + 1

    def tensor(a):
        return torch.tensor(np.asarray(a), dtype=dtype)  # a copy: broadcast baselines are read-only views

    def work(rows: slice):
        torch.manual_seed(seed + rows.start)
        inputs = tensor(X[rows]).requires_grad_(method in ("smoothgrad", "integrated-gradients"))
        t = torch.as_tensor(target[rows])
        b = None if base is None else tensor(base[rows])
        if method == "smoothgrad":
            tunnel = NoiseTunnel(Saliency(module))
            return tunnel.attribute(inputs, nt_type="smoothgrad", nt_samples=opts["n_samples"],
                                    nt_samples_batch_size=opts["n_samples"], stdevs=float(opts["noise"]),
                                    target=t, abs=False), None
        if method == "integrated-gradients":
            maps, delta = IntegratedGradients(module).attribute(inputs, baselines=b, target=t,
                                                                n_steps=opts["n_steps"],
                                                                return_convergence_delta=True)
            return maps, delta
        if method == "occlusion":
            window = (opts["window"],) if not image else (X.shape[1], opts["window"], opts["window"])
            strides = opts["stride"] if not image else (X.shape[1], opts["stride"], opts["stride"])
            return Occlusion(module).attribute(inputs, sliding_window_shapes=window, strides=strides, baselines=b,
                                               target=t, perturbations_per_eval=64), None
        if method == "lime":
            from captum._utils.models.linear_model import SkLearnRidge

            explainer = Lime(module, interpretable_model=SkLearnRidge(alpha=0.01))
        else:
            explainer = KernelShap(module)
        # captum trains one surrogate per spectrum of the batch (and warns that it does, which is the intent);
        # model calls are batched 100 perturbations at once.
        with torch.no_grad(), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*multiple inputs for Lime")
            rows_mask = torch.tensor(mask[rows] if mask.shape[0] == len(X) else mask)
            return explainer.attribute(inputs, baselines=b, target=t, feature_mask=rows_mask,
                                       n_samples=opts["n_samples"], perturbations_per_eval=100), None

    outputs = _run_batches(len(X), batch_size, progress, work)
    maps = np.concatenate([m.detach().to(torch.float64).numpy() for m, _ in outputs])
    delta = None
    if method == "integrated-gradients":
        delta = np.concatenate([d.detach().to(torch.float64).numpy() for _, d in outputs])
    return Attribution(method, maps, time.perf_counter() - start_time, opts, delta)
