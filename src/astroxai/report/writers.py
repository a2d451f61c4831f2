"""Result objects rendered into a folder: CSV + JSON tables (:func:`astroxai.report.tables.write_table`) and PNG + PDF
figures.  The computing functions return objects and write nothing; these functions write and compute nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from astroxai.models.evaluate import confusion_rows, metrics_rows
from astroxai.report.figures import save_figure
from astroxai.report.layout import BarFiles, EmbedFiles, EvaluationFiles, ModelFiles, RunLayout
from astroxai.report.tables import write_table

NOISE_UNITS = {"units": "sigma in units of each spectrum's flux at 5100 Å"}


def _figure(fig, stem: Path, formats=("png", "pdf")) -> list[Path]:
    return save_figure(fig, stem, formats=formats)


def _classification_figures(files, matrices: dict, noise: dict, classes, name: str) -> list[Path]:
    """The confusion matrices (title → matrix), their row-normalised versions and the noise curves (name → rows)
    of a model, ``name`` the one the noise figure marks."""
    from astroxai.report.figures.classification import plot_confusions, plot_noise

    figures = _figure(plot_confusions(matrices), files.figure("confusion"))
    figures += _figure(plot_confusions(matrices, normalised=True), files.figure("confusion_normalised"))
    return figures + _figure(plot_noise(noise, list(classes), name), files.figure("noise"))


def write_svm_study(folder, model, study) -> list[Path]:
    """An :class:`~astroxai.models.SVMClassifier`'s search and its kernel comparison (:func:`astroxai.models.
    kernel_study`) into its model folder: the tables ``search``, ``kernels``, ``test_metrics`` (the chosen kernel),
    ``test_metrics_by_kernel``, ``confusion``, ``noise`` and the figures ``search``, ``confusion``,
    ``confusion_normalised``, ``noise``."""
    from astroxai.report.figures.classification import plot_search

    files = ModelFiles(folder)
    chosen = study.chosen
    test = study.test[chosen]
    write_table(model.search_.rows, files.table("search"), {"space": model.space().to_dict(), "seed": model.seed})
    write_table(study.rows, files.table("kernels"), {"chosen": chosen})
    write_table(metrics_rows(test), files.table("test_metrics"), {"kernel": chosen, "accuracy": test["accuracy"]})
    write_table([row for k, metrics in study.test.items() for row in metrics_rows(metrics, kernel=k)],
                files.table("test_metrics_by_kernel"))
    write_table([row for k, cm in study.confusions.items() for row in confusion_rows(cm, kernel=k)],
                files.table("confusion"), {"matrices": study.confusions})
    write_table([{"kernel": k, **row} for k, curve in study.noise.items() for row in curve.rows],
                files.table("noise"), NOISE_UNITS)
    titles = {f"{k} (test F = {study.test[k]['macro']['f1']:.3f})": cm for k, cm in study.confusions.items()}
    classes = list(study.test[chosen]["per_class"].keys())
    figures = _classification_figures(files, titles, {k: c.rows for k, c in study.noise.items()}, classes, chosen)
    return figures + _figure(plot_search(model.search_.rows, model.search_.best), files.figure("search"))


def write_history(folder, model, extra: dict | None = None) -> list[Path]:
    """A network's training history (table and figure)."""
    from astroxai.report.figures.classification import plot_training_history

    files = ModelFiles(folder)
    write_table(model.history_, files.table("history"), extra)
    history = [{**h, "val_f1": h.get("val_f1", h.get("val_score") if model.task == "classify" else np.nan)}
               for h in model.history_]
    return _figure(plot_training_history(history), files.figure("history"))


def write_test_tables(folder, evaluation, name: str, pixel_arcsec=None, column: str | None = None) -> list[Path]:
    """A freshly trained network's test tables and figures: ``test_metrics``, ``confusion`` and for spectra ``noise``
    (classifiers), ``test_predictions`` and ``test_metrics`` (regressors)."""
    from astroxai.report.figures.classification import plot_confusions
    from astroxai.report.figures.images import plot_bar_scatter

    files = ModelFiles(folder)
    if evaluation.task == "regress":
        write_table(evaluation.prediction_rows(), files.table("test_predictions"), {"column": column})
        write_table([{k: round(v, 4) if isinstance(v, float) else v for k, v in evaluation.metrics.items()}],
                    files.table("test_metrics"), {"model": name, "column": column})
        return _figure(plot_bar_scatter(evaluation.true, {"direct regression CNN": evaluation.predicted},
                                        pixel_arcsec), files.figure("test_scatter"))
    metrics, cm = evaluation.metrics, evaluation.confusion
    write_table(metrics_rows(metrics), files.table("test_metrics"), {"model": name, "accuracy": metrics["accuracy"]})
    write_table(confusion_rows(cm, model=name), files.table("confusion"), {"matrices": {name: cm}})
    if evaluation.noise is None:
        title = f"image CNN (test accuracy {metrics['accuracy']:.3f})"
        return _figure(plot_confusions({title: cm}), files.figure("confusion"))
    write_table([{"model": name, **row} for row in evaluation.noise.rows], files.table("noise"), NOISE_UNITS)
    return _classification_figures(files, {f"CNN (test F = {metrics['macro']['f1']:.3f})": cm},
                                   {name: evaluation.noise.rows}, evaluation.classes, name)


def write_evaluation(out, evaluation, *, model_name: str, source: str, part: str | None = None,
                     pixel_arcsec=None, column: str | None = None) -> list[Path]:
    """``astroxai evaluate``'s output: ``metrics``, ``confusion``, ``noise`` (spectra), ``predictions`` and figures."""
    from astroxai.report.figures.classification import plot_confusions
    from astroxai.report.figures.images import plot_bar_scatter

    files = EvaluationFiles(out)
    if evaluation.task == "regress":
        write_table(evaluation.prediction_rows(), files.table("predictions"), {"column": column})
        write_table([evaluation.metrics], files.table("metrics"), {"model": source, "part": part, "column": column})
        return _figure(plot_bar_scatter(evaluation.true, {"regression CNN": evaluation.predicted}, pixel_arcsec),
                       files.figure("scatter"))
    metrics, cm = evaluation.metrics, evaluation.confusion
    write_table(metrics_rows(metrics, digits=None), files.table("metrics"),
                {"accuracy": metrics["accuracy"], "model": source, "part": part})
    write_table(confusion_rows(cm), files.table("confusion"), {"matrix": cm})
    if evaluation.noise is not None:
        write_table(evaluation.noise.rows, files.table("noise"), NOISE_UNITS)
    write_table(evaluation.prediction_rows(), files.table("predictions"))
    if evaluation.noise is None:
        return _figure(plot_confusions({f"image CNN (accuracy {metrics['accuracy']:.3f})": cm}),
                       files.figure("confusion"))
    return _classification_figures(files, {f"{model_name} (F = {metrics['macro']['f1']:.3f})": cm},
                                   {model_name: evaluation.noise.rows}, evaluation.classes, model_name)


def write_trust(files, table, *, ids, labels, extra: dict | None = None, side_by_side=None) -> list[Path]:
    """A :class:`~astroxai.explain.trust.TrustTable` into a trust folder (a :class:`~astroxai.report.layout.
    TrustFiles`, or a run's layout): the table, every map (an :class:`~astroxai.explain.Explanation` per key
    ``<model>/<method>``; the report's method switch reads them), the deletion curves and (spectra) one input
    explained by every method for every model (``side_by_side``: its row number and title)."""
    from astroxai.report.figures.explain import plot_deletion_curves, plot_methods_grid

    files = files.trust if isinstance(files, RunLayout) else files
    files.folder.mkdir(parents=True, exist_ok=True)
    # every map first, then one rename: an interrupted run leaves no short file
    partial = files.maps.with_name(files.maps.name + ".partial")
    partial.unlink(missing_ok=True)
    for (model, method), explanation in table.explanations.items():
        explanation.save(partial, key=f"{model}/{method}")
    partial.replace(files.maps)
    methods = sorted({row.method for row in table.rows}, key=[r.method for r in table.rows].index)
    write_table(table.to_rows(), files.table, {"baseline": table.baseline, "seed": table.seed,
                                          "ids": [str(i) for i in ids], "methods": methods,
                                          "models": list(table.curves), **(extra or {})})
    figures = save_figure(plot_deletion_curves(table.curves), files.figure("deletion_curves"))
    if side_by_side is not None:
        pick, title = side_by_side
        first = next(iter(table.explanations.values()))
        maps = {key: explanation.maps[pick] for key, explanation in table.explanations.items()}
        figures += save_figure(plot_methods_grid(first.grid, first.inputs[pick], maps, title),
                               files.figure("methods_side_by_side"))
    return figures


def write_bar_study(out, study, data, n_figures: int = 6, n_failures: int = 3) -> list[Path]:
    """A :class:`~astroxai.explain.bars.BarStudy`: ``bars.csv/json`` (r and RMSE of every route beside the paper's),
    per-galaxy ``bar_predictions``, the scatter figure, a gallery of measurements by the main route, and the
    ``n_failures`` worst galaxies of the earlier route (moments of |map|) and of the main one, both drawn on each."""
    from astroxai.explain.bars import BAR_METHODS, MAIN_ROUTE, MAP_ROUTES
    from astroxai.report.figures.images import plot_bar_failures, plot_bar_measurements, plot_bar_scatter

    files = out.bars if isinstance(out, RunLayout) else BarFiles(out)
    write_table(study.rows, files.table, {"column": study.column, "calibration": study.calibration,
                                           "n_train": study.n_train, "main_route": MAIN_ROUTE,
                                           "explain_ms_per_image": round(study.explain_ms_per_image, 2),
                                           "paper": "Bhambra et al. (2022): r and RMSE against human measurements "
                                                    "(other data, units)"})
    write_table(study.predictions, files.predictions)
    used = {row["method"]: row["lengths_used"] for row in study.rows}
    everything = max(used.values())
    shown = {k: v for k, v in study.estimates.items()
             if used[k] == everything and not k.startswith((MAP_ROUTES["threshold"], MAP_ROUTES["profile"]))}
    figures = save_figure(plot_bar_scatter(study.true, shown, data.attrs.get("pixel_arcsec")),
                          files.figure("bar_scatter"))
    centre = ((data.shape[2] - 1) / 2, (data.shape[1] - 1) / 2)
    routes = {key: f"{name} ({everything} lengths)" for key, name in MAP_ROUTES.items()}

    def measured(key, j):  # one test galaxy by one route: the study's calibrated length, the angle and region
        found = BAR_METHODS[key](study.test_maps[j])
        return float(study.estimates[routes[key]][j]), found["pa"], found["mask"]

    def base(j):
        row = study.test_rows[j]
        return {"image": data.images[row], "map": study.test_maps[j], "centre": centre, "true_length": study.true[j],
                "true_mask": data.masks["bar"][row] if "bar" in data.masks else None}

    entries = []
    for j in range(min(n_figures, len(study.test_rows))):
        length, pa, mask = measured("blue", j)
        entries.append({**base(j), "mask": mask, "length": length, "pa": pa})
    if entries:
        figures += save_figure(plot_bar_measurements(entries, MAIN_ROUTE), files.figure("bar_measurements"))
    # the failure cases before and after: the worst galaxies of the earlier route (moments of |map|) and of today's
    failures = []
    for key, why in (("moments", "worst for moments"), ("blue", "worst for blue profile")):
        error = np.abs(np.asarray(study.estimates[routes[key]]) - study.true)
        for j in np.argsort(-error)[:n_failures]:
            if all(f["index"] != j for f in failures):
                failures.append({**base(j), "index": int(j), "why": why, "before": measured("moments", j)[:2],
                                 "after": measured("blue", j)[:2]})
    if failures:
        figures += save_figure(plot_bar_failures(failures, MAP_ROUTES["moments"], MAIN_ROUTE),
                               files.figure("bar_failures"))
    return figures


def write_maps(out, maps, *, seed: int) -> list[Path]:
    """t-SNE maps: ``tsne.csv/json`` (size, KL divergence, time of each map), one grid figure per class set and
    scaling, and its largest-perplexity map on its own."""
    from astroxai.report.figures.explain import plot_tsne, plot_tsne_grid

    files = out if isinstance(out, EmbedFiles) else EmbedFiles(out)
    rows = [{"subset": m.spec.subset, "features": m.spec.features, "perplexity": m.spec.perplexity, "n": len(m.ids),
             "kl_divergence": round(m.kl, 4), "seconds": round(m.seconds, 2)} for m in maps]
    write_table(rows, files.table, {"library": "openTSNE", "seed": seed})
    figures = []
    for subset in dict.fromkeys(m.spec.subset for m in maps):
        for feature in dict.fromkeys(m.spec.features for m in maps):
            group = [m for m in maps if m.spec.subset == subset and m.spec.features == feature]
            if not group:
                continue
            title = f"t-SNE of {subset.replace('+', ' + ')} spectra, {feature} fluxes"
            figures += save_figure(plot_tsne_grid(group, title=title), files.figure(f"tsne_{subset}_{feature}"))
            main = max(group, key=lambda m: m.spec.perplexity)
            figures += save_figure(plot_tsne(main.coords, main.labels,
                                             title=f"{title}, perplexity {main.spec.perplexity:g}"),
                                   files.figure(f"tsne_{subset}_{feature}_main"))
    return figures
