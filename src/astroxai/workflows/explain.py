"""Explain a saved model on files or data sets, and the paper's saliency study of a run's test spectra.

:func:`explain_inputs` is ``astroxai explain`` for any model: every input gets a row (kept, or rejected with the
reason), the kept inputs are explained by :class:`~astroxai.explain.Explainer`, and each row gets what the model's
science check says (spectra: Hβ core/wing means and the share of |map| near the lines; images with ground truth: the
share of |map| on each true component).  :func:`saliency_study` is the paper's Sect. 5.4 on a labelled set: every test
spectrum explained, the gallery of all misclassified spectra and a seeded sample of correct ones with their
probability tables (Tables 10–11), per-class curves, the physics checks and the explained spectra on the t-SNE map.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from astroxai.data import fate
from astroxai.explain import Explainer, Explanation
from astroxai.explain.components import component_scores, defining_components
from astroxai.explain.physics import physics_checks, physics_summary
from astroxai.models import load_model
from astroxai.report.figures import class_name, plain, save_figure
from astroxai.report.figures.explain import (
    plot_class_saliency,
    plot_gallery,
    plot_saliency,
    plot_saliency_with_map,
    plot_tsne,
    saliency_title,
)
from astroxai.report.tables import write_table
from astroxai.workflows.inputs import gather

log = logging.getLogger(__name__)

#: Correct spectra drawn at random for the gallery (the paper showed 7 beside its misclassified ones).
DEFAULT_N_CORRECT = 7
ZERO_MAP_NOTE = "p at libsvm's clip (1 − 10⁻⁷): small changes cannot move it, the map is zero"


def safe_name(text: str, limit: int = 80) -> str:
    """A file-name part made from data (an id): letters, digits, ``.-_+`` only, at most ``limit`` characters, never
    empty or a path."""
    import re

    cleaned = re.sub(r"[^A-Za-z0-9.+_-]", "_", str(text)).strip("._") or "input"
    return cleaned[:limit]


def probability_columns(explanation: Explanation, j: int, digits: int = 6) -> dict:
    return {f"p_{c}": round(float(p), digits) for c, p in zip(explanation.classes, explanation.probabilities[j],
                                                              strict=True)}


def science_rows(explanation: Explanation, data) -> list[dict]:
    """Per input, what the modality's science check measures on its map: spectra — the mean map in the Hβ core and
    wings and the share of |map| near the diagnostic lines; images with ground-truth masks — the share of |map| on
    each true component and its lift (:func:`astroxai.explain.components.component_scores`)."""
    if explanation.modality == "images":
        if not data.masks:
            return [{} for _ in range(len(explanation))]
        return [{k: (round(v, 5) if isinstance(v, float) else v) for k, v in row.items()}
                for row in component_scores(explanation.maps, data.masks, data.labels, defining_components(data))]
    checks = physics_checks(explanation.grid, explanation.maps)
    signs, share = checks["signs"], checks["share"]["saliency_share"]
    return [{"hbeta_core_mean": float(signs["core"][j]) if signs is not None else "",
             "hbeta_wing_mean": float(signs["wings"][j]) if signs is not None else "",
             "line_saliency_share": float(share[j])} for j in range(len(explanation))]


def maps_by_target(explanation: Explanation) -> dict:
    """The non-zero maps of each explained class (classes without any left out), for the per-class curves."""
    by_class = {c: explanation.maps[(explanation.targets == c) & ~explanation.zero_map] for c in explanation.classes}
    return {c: maps for c, maps in by_class.items() if len(maps)}


def caption(explanation: Explanation, j: int, label) -> tuple[str, str]:
    """Title (id, true and predicted class, probabilities, the target when it is not the prediction) and the note of
    a zero map, for input ``j``."""
    probs = dict(zip(explanation.classes, explanation.probabilities[j], strict=True))
    title = saliency_title(explanation.ids[j], label, explanation.predicted[j], probs, explanation.targets[j])
    return title, ZERO_MAP_NOTE if explanation.zero_map[j] else ""


def image_gallery(explanation: Explanation, data, rows: list[dict], count: int) -> list[dict]:
    """Entries of the image gallery figure for the first ``count`` images."""
    entries = []
    for j in range(min(count, len(explanation))):
        row = rows[j]
        note = ""
        if "defining" in row:
            note = (f"{row['defining_mass']:.0%} of |map| on the {row['defining']} "
                    f"(×{row['defining_lift']:.1f} its area)")
        p = dict(zip(explanation.classes, explanation.probabilities[j], strict=True))[explanation.targets[j]]
        entries.append({"image": data.images[j], "map": explanation.maps[j], "note": note,
                        "title": f"{plain(data.ids[j])}: {class_name(data.labels[j] or '?')} → "
                                 f"{class_name(explanation.predicted[j])} (p = {p:.2f})",
                        "masks": {name: mask[j] for name, mask in data.masks.items()}})
    return entries


def explain_set(model, data, out, *, method: str = "saliency", target="predicted", baseline="model", seed: int = 0,
                options: dict | None = None, max_figures: int = 50, fates: list[dict] | None = None,
                progress=None) -> dict:
    """Explain every input of ``data`` and write ``out/explanations.csv`` (one row per input of ``fates``, or per
    input of ``data``), ``out/explanations.h5`` (the :class:`~astroxai.explain.Explanation`) and figures: a colour-
    coded spectrum for each of the first ``max_figures`` spectra and the per-class curves, or an image gallery."""
    from astroxai.report.figures.images import plot_image_gallery

    out = Path(out)
    explainer = Explainer(model, method, baseline, seed=seed, progress=progress, **(options or {}))
    explanation = explainer.explain(data, target=target)
    science = science_rows(explanation, data)
    fates = fates if fates is not None else [fate(i, i, "kept", label=label) for i, label in zip(data.ids, data.labels,
                                                                                                 strict=True)]
    kept = [row for row in fates if row["status"] == "kept"]
    for j, row in enumerate(kept):
        row.update({"predicted": explanation.predicted[j], "target": explanation.targets[j],
                    **probability_columns(explanation, j), "zero_map": bool(explanation.zero_map[j]), **science[j]})
        if explanation.delta is not None:
            row["ig_convergence_delta"] = float(explanation.delta[j])
    columns = ["id", "input", "status", "label", "predicted", "target", *[f"p_{c}" for c in explanation.classes],
               "zero_map", *dict.fromkeys(k for row in science for k in row),
               *(["ig_convergence_delta"] if explanation.delta is not None else []), "reason"]
    write_table([{c: row.get(c, "") for c in columns} for row in fates], out / "explanations",
                {"method": explanation.method, "options": explanation.options, "baseline": explanation.baseline,
                 "target": str(target), "seed": seed, "seconds": round(explanation.seconds, 3),
                 "inputs": "prepared images (peak-scaled, stretched)" if model.modality == "images" else "spectra"})
    explanation.save(out / "explanations.h5")
    figures = []
    if model.modality == "images":
        shown = min(max_figures, len(explanation))
        if shown:
            figures = save_figure(plot_image_gallery(image_gallery(explanation, data, kept, shown), explanation.method),
                                  out / "figures" / f"gallery_{explanation.method}")
    else:
        for j, row in enumerate(kept[:max_figures]):
            title, note = caption(explanation, j, row.get("label") or "unknown")
            stem = out / "figures" / f"saliency_{j + 1:04d}_{safe_name(row['id'])}"
            figures += save_figure(plot_saliency(data.wavelength, data.flux[j], explanation.maps[j], title,
                                                 note=note), stem)
        by_class = maps_by_target(explanation)
        if by_class:
            figures += save_figure(plot_class_saliency(data.wavelength, by_class), out / "figures" / "class_saliency")
    log.info("explained %d %s with %s in %.1f s (%.0f ms each) → %s", len(explanation), model.modality,
             explanation.method, explanation.seconds, 1e3 * explanation.seconds / max(1, len(explanation)), out)
    return {"explanation": explanation, "rows": kept, "figures": [str(f) for f in figures]}


def explain_inputs(model_dir, inputs, out, *, method: str = "saliency", target="predicted", baseline="model",
                   options: dict | None = None, catalog=None, max_figures: int = 50, seed: int = 0,
                   workers: int | None = None, progress=None) -> dict:
    """``astroxai explain``: explain a saved model's outputs for files, folders, catalogues or data sets (see the
    module doc).  The command fails only if no input could be used."""
    model = load_model(model_dir)
    fates, data = gather(model, inputs, catalog, workers=workers, progress=progress)
    out = Path(out)
    rejected = [row for row in fates if row["status"] != "kept"]
    for row in rejected[:10]:
        log.warning("rejected %s: %s", row["input"], row["reason"])
    if data is None:
        write_table([{c: row.get(c, "") for c in ("id", "input", "status", "label", "reason")} for row in fates],
                    out / "explanations", {"model": str(model_dir), "method": method})
        raise ValueError(f"no usable input among the {len(fates)} given (reasons in {out / 'explanations.csv'})")
    result = explain_set(model, data, out, method=method, target=target, baseline=baseline, seed=seed,
                         options=options, max_figures=max_figures, fates=fates, progress=progress)
    log.info("explained %d of %d inputs (%d rejected, reasons in explanations.csv) → %s", len(data), len(fates),
             len(rejected), out)
    return {"n_inputs": len(fates), "n_explained": len(data), "n_rejected": len(rejected), **result}


def select_gallery(labels, predicted, n_correct: int = DEFAULT_N_CORRECT,
                   seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Indices of every misclassified spectrum and of ``n_correct`` correct ones drawn with ``seed``."""
    labels, predicted = np.asarray(labels).astype(str), np.asarray(predicted).astype(str)
    wrong = np.flatnonzero(labels != predicted)
    right = np.flatnonzero(labels == predicted)
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(right, size=min(n_correct, len(right)), replace=False)) if len(right) else right
    return wrong, sample


def _probability_rows(numbers, index, labels, explanation, signs) -> list[dict]:
    rows = []
    for number, i in zip(numbers, index, strict=True):
        rows.append({"number": int(number), "id": str(explanation.ids[i]), "label": str(labels[i]),
                     "predicted": str(explanation.predicted[i]), **probability_columns(explanation, i, digits=4),
                     "zero_map": bool(explanation.zero_map[i]),
                     "hbeta_core_mean": float(signs["core"][i]) if signs is not None else "",
                     "hbeta_wing_mean": float(signs["wings"][i]) if signs is not None else ""})
    return rows


def saliency_study(model, data, rows, out, *, broad=None, embedding=None, n_correct: int = DEFAULT_N_CORRECT,
                   seed: int = 0, data_file=None, method: str = "saliency") -> dict:
    """The paper's saliency study on ``data`` rows (normally the test part of the model's split).

    ``broad`` marks the rows with a broad Hβ (from the simulator's catalogue); without it type 1 and intermediate
    spectra count as broad.  ``embedding`` (an :class:`~astroxai.embed.EmbeddingMap`) places every gallery spectrum
    on the map.  Writes tables, figures and the explanation into ``data_file`` (default ``out/explanations.h5``)
    under the key ``saliency``.
    """
    out = Path(out)
    data = data.subset(rows)
    wavelength, labels = data.wavelength, data.labels
    explanation = Explainer(model, method).explain(data)
    broad = np.isin(labels, ("type1", "intermediate")) if broad is None else np.asarray(broad, dtype=bool)
    checks = physics_checks(wavelength, explanation.maps)
    signs = checks["signs"]
    physics = physics_summary(wavelength, explanation.maps, broad, explanation.targets, explanation.classes, checks)

    wrong, correct = select_gallery(labels, explanation.predicted, n_correct, seed)
    chosen = np.concatenate([wrong, correct])
    numbers = np.arange(1, len(chosen) + 1)
    write_table(_probability_rows(numbers[:len(wrong)], wrong, labels, explanation, signs), out / "misclassified",
                {"table": "Table 10 analogue: probabilities of misclassified test spectra"})
    write_table(_probability_rows(numbers[len(wrong):], correct, labels, explanation, signs), out / "correct_sample",
                {"table": "Table 11 analogue: a seeded random sample of correct spectra", "seed": seed})
    write_table([{"quantity": k, "value": v} for k, v in physics.items()], out / "physics",
                {"description": "Hβ core (|v|<500 km/s) vs wings (1000–4000 km/s) sign test on spectra with a "
                                "broad Hβ, and the share of |saliency| within ±2000 km/s of the marked lines"})
    figures = save_figure(plot_class_saliency(wavelength, maps_by_target(explanation),
                                              title="Saliency of the test spectra by explained class (median, "
                                                    "16–84 %)"), out / "figures" / "class_saliency")
    position = {} if embedding is None else {str(i): k for k, i in enumerate(embedding.ids)}
    gallery = []
    for number, i in zip(numbers, chosen, strict=True):
        title, note = caption(explanation, i, labels[i])
        title = f"{number}.  {title}"
        stem = out / "figures" / "saliency" / f"{number:02d}_{safe_name(data.ids[i])}"
        correct_i = bool(labels[i] == explanation.predicted[i])
        if embedding is not None and str(data.ids[i]) in position:
            fig = plot_saliency_with_map(wavelength, data.flux[i], explanation.maps[i], title, embedding.coords,
                                         embedding.labels, embedding.coords[position[str(data.ids[i])]], number,
                                         correct_i, note=note)
        else:
            fig = plot_saliency(wavelength, data.flux[i], explanation.maps[i], title, note=note)
        # PNG only: these are the report's gallery entries; the gallery pages below hold every map as PDF
        figures += save_figure(fig, stem, formats=("png",))
        gallery.append({"number": int(number), "id": str(data.ids[i]), "correct": correct_i, "figure": f"{stem}.png",
                        "flux": data.flux[i], "saliency": explanation.maps[i], "title": title, "note": note})
    if embedding is not None:
        marked = [{"position": embedding.coords[position[g["id"]]], "number": g["number"], "correct": g["correct"]}
                  for g in gallery if g["id"] in position]
        figures += save_figure(plot_tsne(embedding.coords, embedding.labels, marked=marked,
                                         title="Explained spectra on the t-SNE map (green: correct, red: "
                                               f"misclassified)\n{embedding.spec.key}"),
                               out / "figures" / "tsne_explained")
    for name, part in (("misclassified", [g for g in gallery if not g["correct"]]),
                       ("correct", [g for g in gallery if g["correct"]])):
        for page in range(0, len(part), 12):
            figures += save_figure(plot_gallery(wavelength, part[page:page + 12]),
                                   out / "figures" / f"gallery_{name}_{page // 12 + 1}")
    data_file = Path(data_file) if data_file else out / "explanations.h5"
    explanation.save(data_file, key="saliency")
    log.info("explained %d spectra (%d with a saturated, all-zero map); %s%.0f%% of |saliency| on %.0f%% of the "
             "wavelengths near the lines → %s", len(data), physics["n_zero_maps"],
             f"Hβ core/wing signs opposite in {physics['opposite_fraction']:.0%} of broad-Hβ maps; "
             if "opposite_fraction" in physics else "no Hβ sign test (grid or sample without broad Hβ); ",
             100 * physics["line_saliency_share_median"], 100 * physics["line_wavelength_share"], out)
    return {"physics": physics, "explanation": explanation,
            "gallery": [{k: g[k] for k in ("number", "id", "correct", "figure")} for g in gallery],
            "figures": [str(p) for p in figures], "data_file": str(data_file), "n": len(data)}
