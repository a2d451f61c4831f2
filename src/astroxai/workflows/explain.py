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
from astroxai.explain import ExplainSettings, Explanation
from astroxai.explain.modality import modality_of
from astroxai.models import load_model
from astroxai.report.layout import ExplainFiles
from astroxai.report.saliency import probability_columns, write_explanation_figures
from astroxai.report.tables import write_table
from astroxai.workflows.inputs import gather

log = logging.getLogger(__name__)


def science_rows(explanation: Explanation, data) -> list[dict]:
    """Per input, what its modality's science check measures on its map
    (:meth:`astroxai.explain.modality.Modality.science_rows`)."""
    return modality_of(explanation).science_rows(explanation, data)


def explain_set(model, data, out, settings: ExplainSettings | None = None, *, max_figures: int = 50,
                fates: list[dict] | None = None, progress=None) -> dict:
    """Explain every input of ``data`` with ``settings`` (default: saliency of the predicted class) and write
    ``out/explanations.csv`` (one row per input of ``fates``, or per input of ``data``), ``out/explanations.h5``
    (the :class:`~astroxai.explain.Explanation`) and figures: a colour-coded spectrum for each of the first
    ``max_figures`` spectra and the per-class curves, or an image gallery."""
    settings = settings or ExplainSettings()
    target, seed = settings.target, settings.seed
    files = out if isinstance(out, ExplainFiles) else ExplainFiles(out)
    explainer = settings.explainer(model, progress=progress)
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
                 "inputs": modality_of(model).explained_as})
    explanation.save(files.maps)
    figures = write_explanation_figures(files, explanation, data, kept, max_figures)
    log.info("explained %d %s with %s in %.1f s (%.0f ms each) → %s", len(explanation), model.modality,
             explanation.method, explanation.seconds, 1e3 * explanation.seconds / max(1, len(explanation)),
             files.folder)
    return {"explanation": explanation, "rows": kept, "figures": [str(f) for f in figures]}


def explain_inputs(model_dir, inputs, out, settings: ExplainSettings | None = None, *, catalog=None,
                   max_figures: int = 50, workers: int | None = None, progress=None) -> dict:
    """``astroxai explain``: explain a saved model's outputs for files, folders, catalogues or data sets (see the
    module doc).  The command fails only if no input could be used."""
    settings = settings or ExplainSettings()
    model = load_model(model_dir)
    fates, data = gather(model, inputs, catalog, workers=workers, progress=progress)
    files = ExplainFiles(out)
    rejected = [row for row in fates if row["status"] != "kept"]
    for row in rejected[:10]:
        log.warning("rejected %s: %s", row["input"], row["reason"])
    if data is None:
        write_table([{c: row.get(c, "") for c in ("id", "input", "status", "label", "reason")} for row in fates],
                    files.table, {"model": str(model_dir), "method": settings.method})
        raise InputError(f"no usable input among the {len(fates)} given (reasons in "
                         f"{files.table.with_suffix('.csv')})")
    result = explain_set(model, data, out, settings, max_figures=max_figures, fates=fates, progress=progress)
    log.info("explained %d of %d inputs (%d rejected, reasons in explanations.csv) → %s", len(data), len(fates),
             len(rejected), out)
    return {"n_inputs": len(fates), "n_explained": len(data), "n_rejected": len(rejected), **result}
