"""Explain a saved model on files or data sets.

:func:`explain_inputs` is ``astroxai explain`` for any model: every input gets a row (kept, or rejected with the
reason), the kept inputs are explained by :class:`~astroxai.explain.Explainer`, and each row gets what the model's
science check says (spectra: Hβ core/wing means and the share of |map| near the lines; images with ground truth: the
share of |map| on each true component).  The paper's saliency study of a run's test spectra is
:func:`astroxai.explain.study.saliency_study`, written by :func:`astroxai.report.saliency.write_saliency_study`.
"""

from __future__ import annotations

import logging

from astroxai.data import fate
from astroxai.errors import InputError
from astroxai.explain import Explainer, Explanation
from astroxai.explain.components import component_scores, defining_components
from astroxai.explain.physics import physics_checks
from astroxai.models import load_model
from astroxai.report.figures import class_name, plain, save_figure
from astroxai.report.figures.explain import plot_class_saliency, plot_saliency
from astroxai.report.layout import ExplainFiles
from astroxai.report.saliency import caption, maps_by_target, probability_columns, safe_name
from astroxai.report.tables import write_table
from astroxai.workflows.inputs import gather

log = logging.getLogger(__name__)


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

    files = out if isinstance(out, ExplainFiles) else ExplainFiles(out)
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
    write_table([{c: row.get(c, "") for c in columns} for row in fates], files.table,
                {"method": explanation.method, "options": explanation.options, "baseline": explanation.baseline,
                 "target": str(target), "seed": seed, "seconds": round(explanation.seconds, 3),
                 "inputs": "prepared images (peak-scaled, stretched)" if model.modality == "images" else "spectra"})
    explanation.save(files.maps)
    figures = []
    if model.modality == "images":
        shown = min(max_figures, len(explanation))
        if shown:
            figures = save_figure(plot_image_gallery(image_gallery(explanation, data, kept, shown), explanation.method),
                                  files.figure(f"gallery_{explanation.method}"))
    else:
        for j, row in enumerate(kept[:max_figures]):
            title, note = caption(explanation, j, row.get("label") or "unknown")
            stem = files.figure(f"saliency_{j + 1:04d}_{safe_name(row['id'])}")
            figures += save_figure(plot_saliency(data.wavelength, data.flux[j], explanation.maps[j], title,
                                                 note=note), stem)
        by_class = maps_by_target(explanation)
        if by_class:
            figures += save_figure(plot_class_saliency(data.wavelength, by_class), files.figure("class_saliency"))
    log.info("explained %d %s with %s in %.1f s (%.0f ms each) → %s", len(explanation), model.modality,
             explanation.method, explanation.seconds, 1e3 * explanation.seconds / max(1, len(explanation)),
             files.folder)
    return {"explanation": explanation, "rows": kept, "figures": [str(f) for f in figures]}


def explain_inputs(model_dir, inputs, out, *, method: str = "saliency", target="predicted", baseline="model",
                   options: dict | None = None, catalog=None, max_figures: int = 50, seed: int = 0,
                   workers: int | None = None, progress=None) -> dict:
    """``astroxai explain``: explain a saved model's outputs for files, folders, catalogues or data sets (see the
    module doc).  The command fails only if no input could be used."""
    model = load_model(model_dir)
    fates, data = gather(model, inputs, catalog, workers=workers, progress=progress)
    files = ExplainFiles(out)
    rejected = [row for row in fates if row["status"] != "kept"]
    for row in rejected[:10]:
        log.warning("rejected %s: %s", row["input"], row["reason"])
    if data is None:
        write_table([{c: row.get(c, "") for c in ("id", "input", "status", "label", "reason")} for row in fates],
                    files.table, {"model": str(model_dir), "method": method})
        raise InputError(f"no usable input among the {len(fates)} given (reasons in "
                         f"{files.table.with_suffix('.csv')})")
    result = explain_set(model, data, out, method=method, target=target, baseline=baseline, seed=seed,
                         options=options, max_figures=max_figures, fates=fates, progress=progress)
    log.info("explained %d of %d inputs (%d rejected, reasons in explanations.csv) → %s", len(data), len(fates),
             len(rejected), out)
    return {"n_inputs": len(fates), "n_explained": len(data), "n_rejected": len(rejected), **result}
