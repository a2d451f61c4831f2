"""Every method × every model on the same spectra, with every trust score: the table of ``astroxai trust``.

For each model (a probability module: SVM through the bridge, or the CNN) and each method of
:mod:`astroxai.explain.methods`, on the same test spectra and for each model's predicted class:

* time per spectrum (the method alone, one batch);
* faithfulness: median deletion and insertion areas, the same for random orders, and the share of spectra whose map
  beats the random order (deletion area smaller, insertion area larger);
* sanity: median Spearman ρ between |map| of the model and of its randomised copy, and the verdict;
* stability: median relative change of the map under noise at each spectrum's own noise level;
* ground truth (simulated data with its catalogue): median share of |attribution| on the broad-line wavelengths,
  the share of the grid they cover and their ratio (lift), and the share of broad-Hβ spectra whose map has opposite
  signs in the Hβ core and wings (the paper's finding);
* integrated gradients only: the median convergence delta relative to p(f) − p(baseline).
"""

from __future__ import annotations

import csv
import time
from pathlib import Path

import numpy as np

from astroxai.explain.methods import METHODS, attribute, baseline_spectra
from astroxai.explain.metrics import (
    deletion_insertion,
    mass_in_region,
    predictor,
    randomisation_sanity,
    randomised_model,
    stability,
    truth_regions,
)
from astroxai.explain.physics import physics_checks
from astroxai.plots import save_figure
from astroxai.plots.explain import plot_deletion_curves, plot_methods_grid, saliency_title
from astroxai.tables import write_table


def noise_sigma(X, snr=None) -> np.ndarray:
    """Per-spectrum noise level in normalised flux units: 1 / (S/N at 5100 Å) when the S/N is known (the
    reduction normalises the flux at 5100 Å to 1), else a robust estimate from pixel-to-pixel differences
    (1.4826 · MAD of f[i+1] − f[i], divided by √2)."""
    X = np.atleast_2d(np.asarray(X, dtype=np.float64))
    diff = np.diff(X, axis=1)
    mad = np.median(np.abs(diff - np.median(diff, axis=1, keepdims=True)), axis=1)
    estimate = 1.4826 * mad / np.sqrt(2)
    if snr is None:
        return estimate
    snr = np.asarray(snr, dtype=np.float64)
    return np.where(np.isfinite(snr) & (snr > 0), 1.0 / np.where(snr > 0, snr, 1.0), estimate)


def read_truth(catalog, ids) -> dict | None:
    """The simulator's per-spectrum truth (label, broad Hβ, its FWHM, R_FeII) in the order of ``ids``; None when
    the catalogue does not list every id (real data)."""
    with open(catalog, newline="") as handle:
        rows = {row["id"]: row for row in csv.DictReader(handle)}
    if not all(i in rows for i in ids) or "has_broad_hb" not in next(iter(rows.values()), {}):
        return None

    def number(value):
        try:
            return float(value)
        except (TypeError, ValueError):
            return np.nan

    pick = [rows[i] for i in ids]
    return {"label": np.array([r["label"] for r in pick]),
            "broad": np.array([r["has_broad_hb"] == "True" for r in pick]),
            "fwhm": np.array([number(r.get("fwhm_hb_broad")) for r in pick]),
            "r_feii": np.array([number(r.get("r_feii")) for r in pick])}


def _median(values) -> float:
    values = np.asarray(values, dtype=float)
    return float(np.nanmedian(values)) if np.isfinite(values).any() else float("nan")


def score_method(module, name: str, method: str, X, target, *, wavelength, median=None, baseline: str = "median",
                 sigma=None, truth: dict | None = None, seed: int = 0, stability_draws: int = 3,
                 random_orders: int = 3, options: dict | None = None) -> dict:
    """All trust scores of one method on one model (see the module's doc); returns the table row, the maps and
    the deletion curves."""
    options = options or {}

    def explain(spectra, targets, model=module):
        return attribute(model, spectra, targets, method, baseline=baseline, median=median, wavelength=wavelength,
                         seed=seed, **options)

    result = explain(X, target)
    maps = result.maps
    predict = predictor(module)
    base = baseline_spectra(baseline, X, median)
    faith = deletion_insertion(predict, X, maps, target, base, n_random=random_orders, seed=seed)
    random_maps = explain(X, target, randomised_model(module, seed)).maps
    sanity = randomisation_sanity(maps, random_maps)
    row = {
        "model": name, "method": method, "n_spectra": len(X),
        "ms_per_spectrum": round(1e3 * result.seconds / len(X), 3),
        "deletion_auc": _median(faith["deletion_auc"]),
        "random_deletion_auc": _median(faith["random_deletion_auc"]),
        "deletion_beats_random": float(np.mean(faith["deletion_auc"] < faith["random_deletion_auc"])),
        "insertion_auc": _median(faith["insertion_auc"]),
        "random_insertion_auc": _median(faith["random_insertion_auc"]),
        "insertion_beats_random": float(np.mean(faith["insertion_auc"] > faith["random_insertion_auc"])),
        "sanity_rho": sanity["median_rho"], "sanity_passes": sanity["passes"],
        "zero_maps": int((~np.any(maps != 0, axis=1)).sum()),
    }
    if sigma is not None and stability_draws:
        row["stability"] = _median(stability(lambda s, t: explain(s, t).maps, X, target, sigma,
                                             n_draws=stability_draws, seed=seed + 1, maps=maps))
    if truth is not None:
        regions = truth_regions(wavelength, truth["label"], truth["broad"], truth["fwhm"], truth["r_feii"])
        mass = mass_in_region(wavelength, maps, regions)
        row.update({"truth_mass": _median(mass["mass"]), "truth_area": _median(mass["area"]),
                    "truth_lift": _median(mass["lift"])})
        broad = truth["broad"]
        checks = physics_checks(wavelength, maps[broad]) if broad.any() else {"signs": None}
        if checks["signs"] is not None:  # None: the grid does not cover Hβ's core and wings
            counted = ~checks["signs"]["zero"]
            row["hbeta_opposite"] = (float(checks["signs"]["opposite"][counted].mean()) if counted.any()
                                     else float("nan"))
    if result.delta is not None:
        p = predict(X)[np.arange(len(X)), target]
        p0 = predict(base)[np.arange(len(X)), target]
        with np.errstate(invalid="ignore", divide="ignore"):
            relative = np.abs(result.delta) / np.abs(p - p0)
        row["ig_relative_delta"] = _median(np.where(np.abs(p - p0) > 1e-6, relative, np.nan))
    return {"row": row, "maps": maps, "curves": faith}


def trust_study(models: dict, X, labels, ids, wavelength, out, *, methods=METHODS, baseline: str = "median",
                sigma=None, truth: dict | None = None, seed: int = 0, echo=print) -> dict:
    """Score every method on every model (``models``: name → (probability module, median spectrum or None)) on the
    spectra ``X``; write ``trust.csv/json``, the deletion-curve figure and one figure of a spectrum explained by
    every method for every model."""
    out = Path(out)
    X = np.atleast_2d(np.asarray(X, dtype=np.float64))
    rows, curves, maps, targets = [], {}, {}, {}
    for name, (module, median) in models.items():
        proba = predictor(module)(X)
        target = proba.argmax(axis=1)
        targets[name] = (target, proba)
        curves[name] = {}
        for method in methods:
            start = time.perf_counter()
            scored = score_method(module, name, method, X, target, wavelength=wavelength, median=median,
                                  baseline=baseline, sigma=sigma, truth=truth, seed=seed)
            rows.append(scored["row"])
            curves[name][method] = scored["curves"]
            maps[(name, method)] = scored["maps"]
            echo(f"  {name:10s} {method:21s} {scored['row']['ms_per_spectrum']:9.2f} ms/spectrum, deletion AUC "
                 f"{scored['row']['deletion_auc']:.3f} (random {scored['row']['random_deletion_auc']:.3f}), "
                 f"sanity ρ {scored['row']['sanity_rho']:.2f}  [{time.perf_counter() - start:.0f} s]")
    write_table(rows, out / "trust", {"baseline": baseline, "seed": seed, "ids": [str(i) for i in ids],
                                      "methods": list(methods), "models": list(models)})
    figures = save_figure(plot_deletion_curves(curves), out / "figures" / "deletion_curves")
    # The side-by-side figure: a spectrum with a broad Hβ that every model classifies correctly, preferring an
    # intermediate (the hard class) and, among those, the one whose first model is least saturated (probabilities at
    # 1 − 10⁻⁷ flatten the SVM's gradients), so that the methods have physics to find and a gradient to follow.
    labels = np.asarray(labels).astype(str)
    correct = np.all([np.asarray(module_classes(models[n][0]))[targets[n][0]] == labels for n in models], axis=0)
    candidates = np.flatnonzero(correct & (truth["broad"] if truth is not None else True))
    if candidates.size:
        top = targets[next(iter(models))][1].max(axis=1)
        pick = int(min(candidates, key=lambda i: (labels[i] != "intermediate", abs(top[i] - 0.9))))
    else:
        pick = 0
    name0 = next(iter(models))
    classes = module_classes(models[name0][0])
    title = saliency_title(ids[pick], labels[pick], classes[targets[name0][0][pick]],
                           dict(zip(classes, targets[name0][1][pick], strict=True))) + f"   (probabilities: {name0})"
    figures += save_figure(plot_methods_grid(wavelength, X[pick], {k: v[pick] for k, v in maps.items()}, title),
                           out / "figures" / "methods_side_by_side")
    return {"rows": rows, "figures": [str(f) for f in figures], "example": str(ids[pick]), "maps": maps}


def module_classes(module) -> list[str]:
    """Class names of a probability module (the bridge and the CNN both record them)."""
    return [str(c) for c in getattr(module, "classes", [])]


def load_models(data, model_dirs, kernels=()) -> dict:
    """name → (probability module, median spectrum) for every model folder, plus the SVM folders' other ``kernels``
    refitted (:func:`astroxai.models.study.refit_kernel`).  Names: ``SVM <kernel>`` and ``CNN``."""
    from astroxai.models.persist import check_grid, load_model, probability_module
    from astroxai.models.study import refit_kernel

    models = {}
    for folder in model_dirs:
        model, meta = load_model(folder)
        check_grid(meta, data.wavelength)
        median = meta.get("median_spectrum")
        if meta.get("kind") == "torch-cnn":
            models["CNN" if "CNN" not in models else f"CNN ({Path(folder).name})"] = (probability_module(model), median)
            continue
        chosen = meta.get("kernel", "svm")
        for kernel in [chosen, *[k for k in kernels if k != chosen]]:
            fitted = model if kernel == chosen else refit_kernel(folder, data, kernel)
            models[f"SVM {kernel}"] = (probability_module(fitted), median)
    return dict(sorted(models.items(), key=lambda item: (item[0].startswith("CNN"), item[0])))


def trust_models(data, model_dirs, out, *, kernels=(), methods=METHODS, n_spectra: int = 100,
                 baseline: str = "median", catalog=None, seed: int = 0, echo=print) -> dict:
    """:func:`trust_study` on ``n_spectra`` test spectra (seeded draw from the first model's ``split.json``) of a
    data set, for saved model folders; the ground truth comes from the simulator's ``catalog`` when given."""
    import json

    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise ValueError(f"unknown methods {unknown}; choose from {', '.join(METHODS)}")
    models = load_models(data, model_dirs, kernels)
    classes = set(module_classes(next(iter(models.values()))[0]))
    split_file = Path(model_dirs[0]) / "split.json"
    rows = np.flatnonzero(np.isin(data.labels, sorted(classes)))
    if split_file.is_file():
        rows = rows[np.isin(data.ids[rows], json.loads(split_file.read_text())["test"])]
    if rows.size == 0:
        raise ValueError("no test spectrum of the first model is in the data set")
    rows = np.sort(np.random.default_rng(seed).choice(rows, min(n_spectra, rows.size), replace=False))
    truth = read_truth(catalog, data.ids[rows]) if catalog else None
    if catalog and truth is None:
        echo(f"{catalog} does not describe these spectra: no ground-truth scores")
    sigma = noise_sigma(data.flux[rows], data.meta.get("snr_5100", np.full(len(data), np.nan))[rows])
    echo(f"trust: {len(methods)} methods × {len(models)} models on {rows.size} test spectra")
    return trust_study(models, data.flux[rows], data.labels[rows], data.ids[rows], data.wavelength, out,
                       methods=methods, baseline=baseline, sigma=sigma, truth=truth, seed=seed, echo=echo)
