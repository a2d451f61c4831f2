"""Explaining a saved classifier on many spectra: maps, the paper's gallery and tables, physics checks.

``explain_spectra`` computes the maps (exact or finite-difference) for any set of spectra; ``explain_study``
does the paper's Sect. 5.4 on a labelled data set: maps for every spectrum of the test part, the gallery of all
misclassified spectra plus a seeded sample of correct ones, their probability tables (Tables 10–11), per-class
saliency curves, the Hβ core/wing and line-share checks, and every map in one HDF5 file.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np

from astroxai.explain.methods import METHODS as ATTRIBUTION_METHODS
from astroxai.explain.methods import USES_BASELINE, attribute
from astroxai.explain.physics import physics_checks, physics_summary
from astroxai.explain.saliency import (
    PAPER_EPSILON,
    finite_difference_saliency,
    gradient_saliency,
    resolve_targets,
)
from astroxai.plots import save_figure
from astroxai.plots.explain import (
    plot_class_saliency,
    plot_gallery,
    plot_saliency,
    plot_saliency_with_map,
    plot_tsne,
    saliency_title,
)
from astroxai.tables import write_table

#: ``exact`` = captum saliency (∂p/∂f by autograd), ``finite-difference`` = the paper's recipe, then every other
#: method of :mod:`astroxai.explain.methods`.
METHODS = ("exact", "finite-difference", *[m for m in ATTRIBUTION_METHODS if m != "saliency"])
#: Correct spectra drawn at random for the gallery (the paper showed 7 beside its misclassified ones).
DEFAULT_N_CORRECT = 7
ZERO_MAP_NOTE = "p at libsvm's clip (1 − 10⁻⁷): small changes cannot move it, the map is zero"


def explain_spectra(model, X, *, method: str = "exact", target=None, log: bool = False, scheme: str = "forward",
                    eps: float = PAPER_EPSILON, baseline: str = "median", median=None, wavelength=None,
                    options: dict | None = None, progress=None) -> dict:
    """Attribution maps of a loaded classifier (SVM pipeline or CNN) for the rows of ``X``.

    ``method='exact'`` differentiates the model in torch (the SVM through
    :class:`~astroxai.explain.bridge.SVCProbability`; captum ``Saliency``); ``'finite-difference'`` perturbs each
    flux by ``eps·f`` (vectorised, any model with ``predict_proba``); the other methods are those of
    :func:`astroxai.explain.methods.attribute` (with ``baseline``, the model's ``median`` spectrum and the
    ``wavelength`` grid, and method ``options`` such as ``lines=True`` for LIME/KernelSHAP segments around the
    lines).  ``log`` applies to the first two only; integrated gradients add their convergence ``delta``.
    ``target`` is as in :func:`resolve_targets` (default: the predicted class).  Returns the maps, target and
    predicted labels, the probabilities and a ``zero_map`` flag per spectrum.
    """
    from astroxai.models.persist import probability_module

    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}")
    X = np.atleast_2d(np.asarray(X, dtype=np.float64))
    classes = [str(c) for c in model.classes_]
    predicted = np.asarray(model.predict(X)).astype(str)
    probabilities = model.predict_proba(X)
    targets = resolve_targets(target, classes, predicted)
    delta = None
    if method == "exact":
        maps = gradient_saliency(probability_module(model), X, targets, log=log, progress=progress)
    elif method == "finite-difference":
        maps = finite_difference_saliency(model.predict_proba, X, targets, eps=eps, log=log, scheme=scheme,
                                          progress=progress)
    else:
        if log:
            raise ValueError("--log applies to the exact and finite-difference saliency only")
        attribution = attribute(probability_module(model), X, targets, method, baseline=baseline, median=median,
                                wavelength=wavelength, progress=progress, **(options or {}))
        maps, delta = attribution.maps, attribution.delta
    return {"maps": maps, "classes": classes, "target": np.asarray(classes)[targets], "predicted": predicted,
            "probabilities": probabilities, "zero_map": ~np.any(maps != 0, axis=1), "delta": delta,
            "settings": {"method": method, "quantity": "log p" if log else "p", "target": str(target or "predicted"),
                         "scheme": scheme if method == "finite-difference" else None,
                         "eps": eps if method == "finite-difference" else None,
                         "baseline": baseline if method in USES_BASELINE else None, **(options or {})}}


def select_gallery(labels, predicted, n_correct: int = DEFAULT_N_CORRECT,
                   seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Indices of every misclassified spectrum and of ``n_correct`` correct ones drawn with ``seed``."""
    labels, predicted = np.asarray(labels).astype(str), np.asarray(predicted).astype(str)
    wrong = np.flatnonzero(labels != predicted)
    right = np.flatnonzero(labels == predicted)
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(right, size=min(n_correct, len(right)), replace=False)) if len(right) else right
    return wrong, sample


def save_saliency(path, ids, result: dict, wavelength, attrs: dict | None = None) -> Path:
    """Maps and their context under ``/saliency`` of an HDF5 file (other groups are left alone)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "a") as handle:
        if "saliency" in handle:
            del handle["saliency"]
        group = handle.create_group("saliency")
        group["wavelength"] = np.asarray(wavelength, dtype=np.float64)
        group.create_dataset("maps", data=result["maps"].astype(np.float32), compression="gzip", shuffle=True)
        group["ids"] = np.asarray(ids).astype("S")
        group["target"] = result["target"].astype("S")
        group["predicted"] = result["predicted"].astype("S")
        group["probabilities"] = result["probabilities"]
        group["zero_map"] = result["zero_map"]
        if result.get("delta") is not None:
            group["convergence_delta"] = result["delta"]
        group.attrs["classes"] = json.dumps(result["classes"])
        group.attrs["settings"] = json.dumps(result["settings"])
        for name, value in (attrs or {}).items():
            group.attrs[name] = json.dumps(value)
    return path


def _maps_by_target(result: dict) -> dict:
    """The non-zero maps of each explained class (classes without any left out), for the per-class curves."""
    by_class = {c: result["maps"][(result["target"] == c) & ~result["zero_map"]] for c in result["classes"]}
    return {c: maps for c, maps in by_class.items() if len(maps)}


def _caption(result: dict, j: int, spec_id, label) -> tuple[str, str]:
    """Title (id, true and predicted class, probabilities, the target when it is not the prediction) and the
    note of a zero map, for spectrum ``j`` of an :func:`explain_spectra` result."""
    probs = dict(zip(result["classes"], result["probabilities"][j], strict=True))
    title = saliency_title(spec_id, label, result["predicted"][j], probs, result["target"][j])
    return title, ZERO_MAP_NOTE if result["zero_map"][j] else ""


def _probability_rows(numbers, index, ids, labels, result, signs) -> list[dict]:
    rows = []
    for number, i in zip(numbers, index, strict=True):
        rows.append({"number": int(number), "id": str(ids[i]), "label": str(labels[i]),
                     "predicted": str(result["predicted"][i]),
                     **{f"p_{c}": round(float(p), 4) for c, p in zip(result["classes"], result["probabilities"][i],
                                                                    strict=True)},
                     "zero_map": bool(result["zero_map"][i]),
                     "hbeta_core_mean": float(signs["core"][i]) if signs is not None else "",
                     "hbeta_wing_mean": float(signs["wings"][i]) if signs is not None else ""})
    return rows


def explain_study(model, meta: dict, data, rows, out, *, broad=None, embedding: dict | None = None,
                  n_correct: int = DEFAULT_N_CORRECT, seed: int = 0, data_file=None, method: str = "exact",
                  progress=None, echo=print) -> dict:
    """The paper's saliency study on ``data.flux[rows]`` (normally the test part of the model's split).

    ``broad`` marks the rows with a broad Hβ (from the simulator's catalogue); without it type 1 and
    intermediate spectra count as broad.  ``embedding`` (coords + ids of a t-SNE map) places every gallery
    spectrum on the map.  Writes tables, figures and ``data_file`` (default ``out/explanations.h5``).
    """
    out = Path(out)
    wavelength = data.wavelength
    ids, labels = data.ids[rows], data.labels[rows]
    X = data.flux[rows].astype(np.float64)
    result = explain_spectra(model, X, method=method, progress=progress)
    broad = np.isin(labels, ("type1", "intermediate")) if broad is None else np.asarray(broad, dtype=bool)
    checks = physics_checks(wavelength, result["maps"])
    signs = checks["signs"]
    physics = physics_summary(wavelength, result["maps"], broad, result["target"], result["classes"], checks)
    by_class = _maps_by_target(result)

    wrong, correct = select_gallery(labels, result["predicted"], n_correct, seed)
    chosen = np.concatenate([wrong, correct])
    numbers = np.arange(1, len(chosen) + 1)
    write_table(_probability_rows(numbers[:len(wrong)], wrong, ids, labels, result, signs),
                out / "misclassified", {"table": "Table 10 analogue: probabilities of misclassified test spectra"})
    write_table(_probability_rows(numbers[len(wrong):], correct, ids, labels, result, signs),
                out / "correct_sample", {"table": "Table 11 analogue: a seeded random sample of correct spectra",
                                         "seed": seed})
    write_table([{"quantity": k, "value": v} for k, v in physics.items()], out / "physics",
                {"description": "Hβ core (|v|<500 km/s) vs wings (1000–4000 km/s) sign test on spectra with a "
                                "broad Hβ, and the share of |saliency| within ±2000 km/s of the marked lines"})

    figures = []
    figures += save_figure(plot_class_saliency(wavelength, by_class, title="Saliency of the test spectra by "
                                               "explained class (median, 16–84 %)"), out / "figures" / "class_saliency")
    position = {}
    if embedding is not None:
        position = {str(i): k for k, i in enumerate(embedding["ids"])}
    gallery = []
    for number, i in zip(numbers, chosen, strict=True):
        title, note = _caption(result, i, ids[i], labels[i])
        title = f"{number}.  {title}"
        stem = out / "figures" / "saliency" / f"{number:02d}_{ids[i]}"
        correct_i = bool(labels[i] == result["predicted"][i])
        if embedding is not None and str(ids[i]) in position:
            fig = plot_saliency_with_map(wavelength, X[i], result["maps"][i], title, embedding["coords"],
                                         embedding["labels"], embedding["coords"][position[str(ids[i])]],
                                         number, correct_i, note=note)
        else:
            fig = plot_saliency(wavelength, X[i], result["maps"][i], title, note=note)
        # PNG only: these are the report's gallery entries; the gallery pages below hold every map as PDF
        figures += save_figure(fig, stem, formats=("png",))
        gallery.append({"number": int(number), "id": str(ids[i]), "correct": correct_i, "figure": f"{stem}.png",
                        "flux": X[i], "saliency": result["maps"][i], "title": title, "note": note})
    if embedding is not None:
        marked = [{"position": embedding["coords"][position[g["id"]]], "number": g["number"], "correct": g["correct"]}
                  for g in gallery if g["id"] in position]
        spec = embedding.get("spec")
        figures += save_figure(plot_tsne(embedding["coords"], embedding["labels"], marked=marked,
                                         title="Explained spectra on the t-SNE map (green: correct, red: "
                                               "misclassified)" + (f"\n{spec.key}" if spec is not None else "")),
                               out / "figures" / "tsne_explained")
    for name, part in (("misclassified", [g for g in gallery if not g["correct"]]),
                       ("correct", [g for g in gallery if g["correct"]])):
        for page in range(0, len(part), 12):
            figures += save_figure(plot_gallery(wavelength, part[page:page + 12]),
                                   out / "figures" / f"gallery_{name}_{page // 12 + 1}")
    data_file = Path(data_file) if data_file else out / "explanations.h5"
    save_saliency(data_file, ids, result, wavelength, {"physics": physics, "model": meta.get("kernel")})
    echo(f"explained {len(rows)} spectra ({physics['n_zero_maps']} with a saturated, all-zero map); "
         + (f"Hβ core/wing signs opposite in {physics['opposite_fraction']:.0%} of broad-Hβ maps; "
            if "opposite_fraction" in physics else "no Hβ sign test (grid or sample without broad Hβ); ")
         + f"{physics['line_saliency_share_median']:.0%} of |saliency| on {physics['line_wavelength_share']:.0%} of "
         f"the wavelengths near the lines → {out}")
    return {"physics": physics, "gallery": [{k: g[k] for k in ("number", "id", "correct", "figure")} for g in gallery],
            "figures": [str(p) for p in figures], "data_file": str(data_file), "n": int(len(rows)),
            "settings": result["settings"]}


def _gather(model_dir, meta, inputs, catalog, workers, progress):
    """Reduced fluxes of the inputs (SpectraSet files as they are, raw files reduced for the model), one fate
    row per input."""
    from astroxai.dataset import SpectraSet
    from astroxai.io import collect_inputs
    from astroxai.models.persist import check_grid
    from astroxai.models.predict import reduction_tasks
    from astroxai.parallel import ordered_map
    from astroxai.reduce import reduce_item

    fates, fluxes = [], []
    sets = [Path(p) for p in inputs if Path(p).suffix.lower() in (".h5", ".hdf5")]
    raw = [p for p in inputs if Path(p).suffix.lower() not in (".h5", ".hdf5")]
    for path in sets:
        try:
            data = SpectraSet.load(path)
            check_grid(meta, data.wavelength)
        except (OSError, ValueError, KeyError) as error:  # the other inputs go on; this one is named with why
            fates.append({"id": path.stem, "file": str(path), "status": "rejected", "label": "",
                          "reason": str(error)})
            continue
        for i in range(len(data)):
            fates.append({"id": str(data.ids[i]), "file": str(path), "status": "kept", "label": str(data.labels[i]),
                          "reason": ""})
            fluxes.append(data.flux[i])
    items = collect_inputs(raw, catalog) if raw else []
    tasks = reduction_tasks(meta, items)
    reduced = ordered_map(reduce_item, tasks, workers)
    for flux, fate, _ in (progress(reduced, "reducing", len(tasks)) if progress else reduced):
        kept = flux is not None
        fates.append({"id": fate["id"], "file": fate["input"], "status": "kept" if kept else "rejected",
                      "label": fate["label"], "reason": fate["reason"]})
        if kept:
            fluxes.append(flux)
    # float32 as a SpectraSet stores fluxes, so a raw file gets the maps of its reduced data set entry
    X = np.asarray(fluxes, dtype=np.float32).astype(np.float64).reshape(len(fluxes), len(meta["wavelength"]))
    return fates, X


def explain_inputs(model_dir, inputs, out, *, method: str = "exact", target=None, log: bool = False,
                   scheme: str = "forward", eps: float = PAPER_EPSILON, baseline: str = "median",
                   options: dict | None = None, catalog=None, max_figures: int = 50,
                   workers: int | None = None, progress=None, echo=print) -> dict:
    """Saliency maps of a saved model for raw spectrum files and/or SpectraSet files (``.h5``).

    Writes ``out/explanations.csv`` (one row per input: kept or rejected with the reason, prediction,
    probabilities, whether the map is all zero, Hβ core/wing means, share of |saliency| near the lines),
    ``out/explanations.h5`` (every map) and a figure for each of the first ``max_figures`` kept spectra plus
    the per-class curves.
    """
    from astroxai.models.persist import load_model

    model, meta = load_model(model_dir)
    wavelength = np.asarray(meta["wavelength"], dtype=np.float64)
    fates, X = _gather(model_dir, meta, inputs, catalog, workers, progress)
    out = Path(out)
    kept = [f for f in fates if f["status"] == "kept"]
    columns = ["id", "file", "status", "label", "predicted", "target",
               *[f"p_{c}" for c in model.classes_], "zero_map", "hbeta_core_mean", "hbeta_wing_mean",
               "line_saliency_share", *(["ig_convergence_delta"] if method == "integrated-gradients" else []),
               "reason"]
    figures = []
    if kept:
        result = explain_spectra(model, X, method=method, target=target, log=log, scheme=scheme, eps=eps,
                                 baseline=baseline, median=meta.get("median_spectrum"), wavelength=wavelength,
                                 options=options,
                                 progress=(lambda it, total: progress(it, "explaining", total)) if progress else None)
        checks = physics_checks(wavelength, result["maps"])
        signs, share = checks["signs"], checks["share"]["saliency_share"]
        for j, fate in enumerate(kept):
            fate.update({"predicted": result["predicted"][j], "target": result["target"][j],
                         **{f"p_{c}": round(float(p), 6) for c, p in zip(result["classes"],
                                                                        result["probabilities"][j], strict=True)},
                         "zero_map": bool(result["zero_map"][j]),
                         "hbeta_core_mean": float(signs["core"][j]) if signs is not None else "",
                         "hbeta_wing_mean": float(signs["wings"][j]) if signs is not None else "",
                         "line_saliency_share": float(share[j])})
            if result.get("delta") is not None:
                fate["ig_convergence_delta"] = float(result["delta"][j])
        save_saliency(out / "explanations.h5", [f["id"] for f in kept], result, wavelength,
                      {"model": str(model_dir)})
        for j, fate in enumerate(kept[:max_figures]):
            title, note = _caption(result, j, fate["id"], fate["label"] or "unknown")
            figures += save_figure(plot_saliency(wavelength, X[j], result["maps"][j], title, note=note),
                                   out / "figures" / f"saliency_{j + 1:04d}_{fate['id']}")
        by_class = _maps_by_target(result)
        if by_class:
            figures += save_figure(plot_class_saliency(wavelength, by_class), out / "figures" / "class_saliency")
    write_table([{c: f.get(c, "") for c in columns} for f in fates], out / "explanations",
                {"model": str(model_dir), "method": method, "target": str(target or "predicted"),
                 "quantity": "log p" if log else "p"})
    n_rejected = len(fates) - len(kept)
    echo(f"explained {len(kept)} of {len(fates)} inputs ({n_rejected} rejected, reasons in explanations.csv) "
         f"→ {out}")
    return {"n_inputs": len(fates), "n_explained": len(kept), "n_rejected": n_rejected,
            "figures": [str(p) for p in figures]}
