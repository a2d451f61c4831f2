"""Image workflows with the verbs of the spectra: train, evaluate and explain image CNNs, and score the maps.

``train_image_study``
    the paper's 64/16/20 split (stratified, seeded) over every image, so that a classifier and a regressor trained
    on the same set share their test images; a classifier (``task='classify'``) on the labels, or a regressor
    (``task='regress'``) of one catalogue column (default ``bar_length_px``) on the images where it is positive
    (the barred galaxies); early stopping on the validation part; test metrics, confusion matrix or scatter,
    training history; the model folder (``model.pt`` state_dict + ``model.json``, never pickle).
``evaluate_image_model``
    the same tables for a saved model on another (or the same) labelled ImageSet.
``explain_image_set``
    maps by any method of :mod:`astroxai.explain.methods`, with, where the simulator's masks are present, the share
    of |attribution| on the true components (:func:`astroxai.explain.metrics.mass_in_mask`).
``image_trust``
    deletion/insertion against random orders and the model-randomisation test on images.

Images are explained as the network sees them (:meth:`ImageCNN.prepare`: divided by their own peak, then the
asinh stretch): the prediction is the same, SmoothGrad's noise and the maps are in one unit for every image,
bright or faint, and a map is not swamped by the stretch's steep Jacobian in the empty sky.  Perturbation methods
use 0 — empty sky — as their baseline.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from astroxai.models.evaluate import classification_metrics, confusion, confusion_rows, metrics_rows
from astroxai.models.split import Split, paper_split
from astroxai.plots import save_figure
from astroxai.tables import write_table

DEFAULT_IMAGE_TRAIN_SEED = 20220613
#: The ground-truth component that defines each class (seed 002: the hot spots make an FR II, the jets fading
#: from the core an FR I; seed 003: the bar).  Scores use these; every component's share is also written.
DEFINING_COMPONENT = {"compact": "core", "FRI": "jets", "FRII": "hotspots", "bent": "jets", "barred": "bar"}
#: Explanation settings for peak-normalised images (see the module doc).
IMAGE_OPTIONS = {"smoothgrad": {"noise": 0.1, "n_samples": 25}, "occlusion": {"window": 8, "stride": 4},
                 "lime": {"n_samples": 300, "n_segments": 50}, "kernelshap": {"n_samples": 300, "n_segments": 50},
                 "integrated-gradients": {"n_steps": 32}}


@dataclass
class ImageTrainConfig:
    """Settings of ``astroxai train`` on an ImageSet."""

    task: str = "classify"
    target: str = "bar_length_px"  # regress: the catalogue column to predict
    seed: int = DEFAULT_IMAGE_TRAIN_SEED
    max_epochs: int = 100
    patience: int = 10
    stretch: str = "asinh"
    augment: bool = False  # random quarter turns and flips of the training batches
    max_measured: int | None = None  # regress: learn from only the first N training values (and N/4 validation)


def prepared(model, images) -> tuple:
    """``(module, Z)``: the classifier as a module of prepared images and the images prepared (see the module doc)."""
    import torch

    with torch.no_grad():
        Z = model.module.prepare(torch.as_tensor(np.asarray(images, dtype=np.float32))).double().numpy()
    return model.module.on_prepared().eval(), Z


def image_split(data, seed: int) -> Split:
    """The stratified 64/16/20 split of every labelled image (the same for a classifier and a regressor)."""
    labelled = np.flatnonzero(data.labels != "")
    split = paper_split(data.labels[labelled], seed)
    return Split(labelled[split.train], labelled[split.validation], labelled[split.test], seed=seed, stratified=True)


def _regression_rows(data, column: str, rows: np.ndarray) -> np.ndarray:
    values = data.meta[column].astype(np.float64)
    return rows[np.isfinite(values[rows]) & (values[rows] > 0)]


def training_rows(data, cfg: ImageTrainConfig) -> tuple[Split, np.ndarray, np.ndarray, np.ndarray]:
    """The split and the train / validation / test rows a network of ``cfg`` uses: every labelled image for a
    classifier; for a regressor the images with a positive ``cfg.target``, and with ``max_measured`` only the first
    N training values and N/4 validation values."""
    split = image_split(data, cfg.seed)
    parts = [split.train, split.validation, split.test]
    if cfg.task == "regress":
        parts = [_regression_rows(data, cfg.target, rows) for rows in parts]
        if cfg.max_measured is not None:
            parts = [parts[0][:cfg.max_measured], parts[1][:max(2, cfg.max_measured // 4)], parts[2]]
    return (split, *parts)


def regression_metrics(true, predicted) -> dict:
    """Pearson r, RMSE, mean absolute error and mean offset of a regression."""
    true, predicted = np.asarray(true, dtype=np.float64), np.asarray(predicted, dtype=np.float64)
    return {"n": int(true.size), "r": float(np.corrcoef(true, predicted)[0, 1]) if true.size > 1 else float("nan"),
            "rmse": float(np.sqrt(np.mean((predicted - true) ** 2))),
            "mae": float(np.mean(np.abs(predicted - true))), "bias": float(np.mean(predicted - true))}


def train_image_study(data, out, cfg: ImageTrainConfig | None = None, progress=None, echo=print,
                      dataset_path: str | None = None) -> dict:
    """Train, test and save an image CNN (see the module doc); returns a summary."""
    from astroxai.models.cnn import CNNConfig
    from astroxai.models.image_cnn import fit_image_cnn
    from astroxai.models.persist import save_cnn
    from astroxai.plots.classification import plot_confusions, plot_training_history
    from astroxai.plots.images import plot_bar_scatter

    cfg = cfg or ImageTrainConfig()
    out = Path(out)
    if cfg.task == "classify" and len(data.classes) < 2:
        raise ValueError(f"a classifier needs at least two labelled classes; the set has {data.classes}")
    if cfg.task == "regress" and cfg.target not in data.meta:
        raise ValueError(f"the set has no column {cfg.target!r} to regress (columns: {sorted(data.meta)})")
    split, train, val, test = training_rows(data, cfg)
    if cfg.task == "regress" and min(train.size, val.size, test.size) < 2:
        raise ValueError(f"too few images with a positive {cfg.target!r} to train a regressor")
    net = CNNConfig(kernel_size=3, max_epochs=cfg.max_epochs, patience=cfg.patience, seed=cfg.seed)
    X = data.images
    y = data.labels if cfg.task == "classify" else data.meta[cfg.target].astype(np.float32)
    what = "classifier" if cfg.task == "classify" else f"regressor of {cfg.target}"
    echo(f"image {what}: {train.size} train, {val.size} validation (early stopping), {test.size} test images")
    start = time.perf_counter()
    model, history = fit_image_cnn(X[train], y[train], X[val], y[val], cfg.task, classes=data.classes, cfg=net,
                                   progress=progress, stretch=cfg.stretch, augment=cfg.augment)
    fit_s = time.perf_counter() - start
    out.mkdir(parents=True, exist_ok=True)
    split.save(out / "split.json", data.ids)
    write_table(history, out / "history", {"config": net.to_dict(), "stretch": cfg.stretch, "augment": cfg.augment})
    figures = save_figure(plot_training_history(_history_for_plot(history, cfg.task)), out / "figures" / "history")
    predicted = model.predict(X[test])
    if cfg.task == "classify":
        test_metrics = classification_metrics(y[test], predicted, data.classes)
        cm = confusion(y[test], predicted, data.classes)
        write_table(metrics_rows(test_metrics), out / "test_metrics",
                    {"model": "image-cnn", "accuracy": test_metrics["accuracy"]})
        write_table(confusion_rows(cm, model="image-cnn"), out / "confusion", {"matrices": {"image-cnn": cm}})
        title = f"image CNN (test accuracy {test_metrics['accuracy']:.3f})"
        figures += save_figure(plot_confusions({title: cm}), out / "figures" / "confusion")
        headline = f"test accuracy {test_metrics['accuracy']:.4f}, macro F {test_metrics['macro']['f1']:.4f}"
    else:
        test_metrics = regression_metrics(y[test], predicted)
        write_table([{"id": data.ids[i], "true": round(float(y[i]), 4), "predicted": round(float(p), 4)}
                     for i, p in zip(test, predicted, strict=True)], out / "test_predictions", {"column": cfg.target})
        write_table([{k: round(v, 4) if isinstance(v, float) else v for k, v in test_metrics.items()}],
                    out / "test_metrics", {"model": "image-cnn", "column": cfg.target})
        figures += save_figure(plot_bar_scatter(y[test], {"direct regression CNN": predicted},
                                                data.attrs.get("pixel_arcsec")), out / "figures" / "test_scatter")
        headline = f"test r {test_metrics['r']:.3f}, RMSE {test_metrics['rmse']:.3f}"
    best = min(history, key=lambda h: h["val_loss"])
    metadata = {
        "model": "image-cnn", "task": cfg.task, "target": cfg.target if cfg.task == "regress" else None,
        "image_shape": list(data.shape), "architecture": {**net.architecture(), "stretch": cfg.stretch},
        "n_parameters": int(sum(p.numel() for p in model.module.parameters())),
        "images": {k: data.attrs.get(k) for k in ("kind", "survey", "pixel_arcsec", "unit", "beam_fwhm_arcsec")},
        "training": {"dataset": dataset_path, "n_images": int(train.size), "early_stopping": "validation",
                     "epochs": len(history), "best_epoch": best["epoch"], "split": "split.json", "seed": cfg.seed},
        "config": asdict(cfg), "network": net.to_dict(),
        "metrics": {"validation": {"loss": best["val_loss"], "score": best.get("val_score")}, "test": test_metrics},
        "timings": {"fit_s": round(fit_s, 2), "epoch_s": round(float(np.median([h["seconds"] for h in history])), 3)},
    }
    save_cnn(out, model, metadata, kind="torch-image-cnn")
    echo(f"image CNN: {len(history)} epochs in {fit_s:.1f} s; {headline} → {out}")
    return {"model_dir": str(out), "task": cfg.task, "test": test_metrics, "fit_s": round(fit_s, 2),
            "epochs": len(history), "figures": [str(p) for p in figures]}


def _history_for_plot(history: list[dict], task: str) -> list[dict]:
    """The training-history figure's columns (it plots a validation score named ``val_f1``)."""
    return [{**h, "val_f1": h["val_score"] if task == "classify" else np.nan} for h in history]


def evaluate_image_model(model_dir, data, out, *, part: str | None = None, echo=print) -> dict:
    """Test tables of a saved image model on ``data`` (optionally one part of the model's own split)."""
    from astroxai.models.persist import load_model
    from astroxai.plots.classification import plot_confusions
    from astroxai.plots.images import plot_bar_scatter

    model, meta = load_model(model_dir)
    _check_shape(meta, data)
    rows = np.arange(len(data))
    if part is not None:
        saved = json.loads((Path(model_dir) / "split.json").read_text())
        rows = rows[np.isin(data.ids, saved[part])]
    out = Path(out)
    if meta["task"] == "classify":
        classes = list(meta["classes"])
        rows = rows[np.isin(data.labels[rows], classes)]
        if rows.size == 0:
            raise ValueError(f"no image of the set is labelled with the model's classes {classes}")
        probabilities = model.predict_proba(data.images[rows])
        predicted = np.asarray(classes, dtype=object)[probabilities.argmax(axis=1)].astype(str)
        metrics = classification_metrics(data.labels[rows], predicted, classes)
        cm = confusion(data.labels[rows], predicted, classes)
        write_table(metrics_rows(metrics, digits=None), out / "metrics",
                    {"accuracy": metrics["accuracy"], "model": str(model_dir), "part": part})
        write_table(confusion_rows(cm), out / "confusion", {"matrix": cm})
        write_table([{"id": data.ids[i], "label": data.labels[i], "predicted": predicted[j],
                      **{f"p_{c}": round(float(p), 6) for c, p in zip(classes, probabilities[j], strict=True)}}
                     for j, i in enumerate(rows)], out / "predictions")
        save_figure(plot_confusions({f"image CNN (accuracy {metrics['accuracy']:.3f})": cm}),
                    out / "figures" / "confusion")
        echo(f"{rows.size} images: accuracy {metrics['accuracy']:.4f}, macro F {metrics['macro']['f1']:.4f} → {out}")
        return {"n": int(rows.size), "metrics": metrics, "confusion": cm}
    column = meta["target"]
    if column not in data.meta:
        raise ValueError(f"the set has no column {column!r}, which the model predicts")
    rows = _regression_rows(data, column, rows)
    if rows.size == 0:
        raise ValueError(f"no image of the set has a positive {column!r}")
    predicted = model.predict(data.images[rows])
    true = data.meta[column][rows].astype(np.float64)
    metrics = regression_metrics(true, predicted)
    write_table([{"id": data.ids[i], "true": round(float(t), 4), "predicted": round(float(p), 4)}
                 for i, t, p in zip(rows, true, predicted, strict=True)], out / "predictions", {"column": column})
    write_table([metrics], out / "metrics", {"model": str(model_dir), "part": part, "column": column})
    save_figure(plot_bar_scatter(true, {"regression CNN": predicted}), out / "figures" / "scatter")
    echo(f"{rows.size} images: r {metrics['r']:.3f}, RMSE {metrics['rmse']:.3f} → {out}")
    return {"n": int(rows.size), "metrics": metrics}


def image_attribute(module, X, raw, targets, method: str, *, seed: int = 0, progress=None, options=None):
    """:func:`astroxai.explain.methods.attribute` on prepared images ``X`` with the image settings
    (:data:`IMAGE_OPTIONS`, baseline 0 = empty sky); LIME and KernelSHAP get SLIC superpixels of the ``raw`` images."""
    from astroxai.explain.methods import attribute

    opts = {**IMAGE_OPTIONS.get(method, {}), **(options or {})}
    mask = None
    if method in ("lime", "kernelshap"):
        from astroxai.images.segments import superpixels

        mask = np.broadcast_to(superpixels(raw, opts.get("n_segments", 50))[:, None], X.shape)
    return attribute(module, X, targets, method, baseline="zero", seed=seed, batch_size=64, progress=progress,
                     feature_mask=mask, **opts)


def _check_shape(meta: dict, data) -> None:
    if tuple(meta["image_shape"]) != tuple(data.shape):
        c, h, w = meta["image_shape"]
        raise ValueError(f"the images are {data.shape[0]} × {data.shape[1]} × {data.shape[2]} (C × H × W), the model "
                         f"needs {c} × {h} × {w}")


def component_scores(maps, masks: dict, labels) -> list[dict]:
    """Per image, the share of |attribution| on each ground-truth component present in it, its lift over the
    component's area share, and the same for the component that defines the image's class
    (:data:`DEFINING_COMPONENT`) under ``defining_*``."""
    from astroxai.explain.metrics import mass_in_mask

    rows = [{} for _ in range(len(maps))]
    for name, mask in masks.items():
        mass = mass_in_mask(maps, mask)
        for j, row in enumerate(rows):
            if mask[j].any():
                row[f"mass_{name}"] = float(mass["mass"][j])
                row[f"lift_{name}"] = float(mass["lift"][j])
    for row, label in zip(rows, labels, strict=True):
        name = DEFINING_COMPONENT.get(str(label))
        if name is not None and f"mass_{name}" in row:
            row.update(defining=name, defining_mass=row[f"mass_{name}"], defining_lift=row[f"lift_{name}"])
    return rows


def explain_image_set(model, meta: dict, data, out, *, method: str = "smoothgrad", target=None, seed: int = 0,
                      max_figures: int = 12, progress=None, echo=print, options: dict | None = None) -> dict:
    """Explain every image of ``data`` with ``method``: ``explanations.csv`` (per image: prediction, target, and the
    ground-truth shares where the set has masks), ``explanations.h5`` (the maps) and a gallery figure of the first
    ``max_figures`` images.  ``target`` is a class name, or None for each image's predicted class."""
    import h5py

    from astroxai.plots.images import plot_image_gallery

    if meta.get("task") != "classify":
        raise ValueError("only classifiers are explained (a regressor has no class probability to attribute)")
    _check_shape(meta, data)
    classes = list(meta["classes"])
    module, X = prepared(model, data.images)
    probabilities = model.predict_proba(data.images)
    predicted = probabilities.argmax(axis=1)
    if target is None:
        targets = predicted
    elif target in classes:
        targets = np.full(len(X), classes.index(target))
    else:
        raise ValueError(f"unknown target class {target!r}; the model's classes are {classes}")
    start = time.perf_counter()
    result = image_attribute(module, X, data.images, targets, method, seed=seed, progress=progress, options=options)
    seconds = time.perf_counter() - start
    scores = component_scores(result.maps, data.masks, data.labels) if data.masks else [{} for _ in X]
    rows = []
    for j in range(len(X)):
        row = {"id": data.ids[j], "label": data.labels[j], "predicted": classes[predicted[j]],
               "target": classes[targets[j]], "p_target": round(float(probabilities[j, targets[j]]), 6)}
        row.update({k: (round(v, 5) if isinstance(v, float) else v) for k, v in scores[j].items()})
        rows.append(row)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_table(rows, out / "explanations", {"method": method, "options": result.options, "seed": seed,
                                             "seconds": round(seconds, 3), "model_kind": meta.get("kind"),
                                             "inputs": "prepared images (peak-scaled, stretched)"})
    with h5py.File(out / "explanations.h5", "w") as handle:
        handle.attrs["method"] = method
        handle.create_dataset("maps", data=result.maps.astype(np.float32), compression="gzip", compression_opts=1)
        handle.create_dataset("ids", data=data.ids.astype(object), dtype=h5py.string_dtype())
        handle.create_dataset("targets", data=np.asarray(targets, dtype=np.int64))
    figures = []
    shown = min(max_figures, len(X))
    if shown:
        entries = [_gallery_entry(data, j, rows[j], result.maps[j]) for j in range(shown)]
        figures = save_figure(plot_image_gallery(entries, method), out / "figures" / f"gallery_{method}")
    echo(f"explained {len(X)} images with {method} in {seconds:.1f} s ({1e3 * seconds / max(1, len(X)):.0f} ms per "
         f"image) → {out}")
    return {"rows": rows, "maps": result.maps, "seconds": seconds, "targets": targets, "figures": figures}


def _gallery_entry(data, j: int, row: dict, saliency) -> dict:
    note = ""
    if "defining" in row:
        note = f"{row['defining_mass']:.0%} of |map| on the {row['defining']} (×{row['defining_lift']:.1f} its area)"
    title = f"{data.ids[j]}: {row['label'] or '?'} → {row['predicted']} (p = {row['p_target']:.2f})"
    masks = {name: mask[j] for name, mask in data.masks.items()}
    return {"image": data.images[j], "map": saliency, "title": title, "masks": masks, "note": note}


def image_trust(model, data, rows, *, methods=("saliency", "smoothgrad", "integrated-gradients", "occlusion", "lime"),
                seed: int = 0, echo=print) -> list[dict]:
    """Faithfulness (deletion/insertion areas against random orders, baseline 0 = empty sky), model-randomisation
    sanity and the share of attribution on the class-defining component, per method, on ``rows`` of ``data``."""
    from astroxai.explain.metrics import deletion_insertion, predictor, randomisation_sanity, randomised_model

    module, X = prepared(model, data.images[rows])
    predict = predictor(module)
    targets = predict(X).argmax(axis=1)
    shuffled = randomised_model(module, seed=seed)
    table = []
    for method in methods:
        start = time.perf_counter()
        maps = image_attribute(module, X, data.images[rows], targets, method, seed=seed).maps
        seconds = time.perf_counter() - start
        curves = deletion_insertion(predict, X, maps, targets, np.zeros_like(X), seed=seed)
        random_maps = image_attribute(shuffled, X, data.images[rows], targets, method, seed=seed).maps
        sanity = randomisation_sanity(maps, random_maps)
        row = {"method": method, "n_images": len(X), "ms_per_image": round(1e3 * seconds / len(X), 2),
               "deletion_auc": round(float(np.median(curves["deletion_auc"])), 4),
               "random_deletion_auc": round(float(np.median(curves["random_deletion_auc"])), 4),
               "deletion_beats_random": round(float(np.mean(curves["deletion_auc"] < curves["random_deletion_auc"])),
                                              3),
               "insertion_auc": round(float(np.median(curves["insertion_auc"])), 4),
               "random_insertion_auc": round(float(np.median(curves["random_insertion_auc"])), 4),
               "sanity_rho": round(float(sanity["median_rho"]), 3), "sanity_passes": bool(sanity["passes"])}
        if data.masks:
            scores = component_scores(maps, {k: v[rows] for k, v in data.masks.items()}, data.labels[rows])
            defining = [s for s in scores if "defining" in s]
            if defining:
                row["defining_mass"] = round(float(np.median([s["defining_mass"] for s in defining])), 3)
                row["defining_lift"] = round(float(np.median([s["defining_lift"] for s in defining])), 2)
        table.append(row)
        echo(f"  {method}: beats random deletion on {row['deletion_beats_random']:.0%}, sanity ρ "
             f"{row['sanity_rho']:.2f}" + (f", {row['defining_mass']:.0%} on the defining component"
                                            if "defining_mass" in row else ""))
    return table


#: Seed 003's bar-length results against human measurements (Galaxy Zoo images; a different data set and unit, so
#: only the ordering of the two methods is comparable).
PAPER_BARS = {"smoothgrad": {"r": 0.76, "rmse": 1.69}, "direct": {"r": 0.59, "rmse": 2.10}}


def bar_length_study(classifier, regressors: dict, data, split: Split, out, *, column: str = "bar_length_px",
                     seed: int = 0, n_figures: int = 6, echo=print) -> dict:
    """Seed 003's comparison on simulated galaxies: bar lengths from the classifier's SmoothGrad maps of the barred
    class (:func:`astroxai.explain.bars.bar_from_moments`, and thresholding for reference), calibrated by a line
    fitted on barred *training* galaxies, against a CNN that regresses the length directly, on the same barred
    test galaxies.

    ``regressors`` maps N → a regression CNN trained on the first N barred training galaxies' lengths (N = all of
    them, and e.g. a small "measured by hand" subset); the SmoothGrad lines are fitted on the same N lengths, so
    each pair of rows learned from the same measurements — the classifier needs only the cheap barred/unbarred
    labels (seed 003 credits its larger training set for SmoothGrad's advantage).  Writes ``bars.csv/json`` (r and
    RMSE in pixels and arcsec beside the paper's), per-galaxy ``bar_predictions.csv``, the scatter figure and a
    gallery of measurements."""
    from astroxai.explain.bars import bar_from_moments, bar_lengths, calibrate
    from astroxai.plots.images import plot_bar_measurements, plot_bar_scatter

    out = Path(out)
    barred = data.meta[column].astype(np.float64) > 0
    train, test = split.train[barred[split.train]], split.test[barred[split.test]]
    if train.size < 3 or test.size < 3:
        raise ValueError("too few barred galaxies in the training or test part for the bar-length study")
    target = list(classifier.classes_).index("barred")
    start = time.perf_counter()
    maps = {}
    for part, rows in (("train", train), ("test", test)):
        module, X = prepared(classifier, data.images[rows])
        maps[part] = image_attribute(module, X, data.images[rows], np.full(rows.size, target), "smoothgrad",
                                     seed=seed).maps
    explain_ms = 1e3 * (time.perf_counter() - start) / (train.size + test.size)
    true = {part: data.meta[column][rows].astype(np.float64) for part, rows in (("train", train), ("test", test))}
    measured = {method: {part: bar_lengths(maps[part], method=method) for part in ("train", "test")}
                for method in ("moments", "threshold")}
    estimates, calibrations, used = {}, {}, {}
    for n, regressor in sorted(regressors.items(), key=lambda item: -item[0]):
        n = min(int(n), train.size)
        for method, name in (("moments", "SmoothGrad + moments"), ("threshold", "SmoothGrad + threshold")):
            slope, intercept = calibrate(measured[method]["train"][:n], true["train"][:n])
            label = f"{name} ({n} lengths)"
            calibrations[label] = {"slope": round(slope, 5), "intercept": round(intercept, 5)}
            estimates[label], used[label] = slope * measured[method]["test"] + intercept, n
        label = f"direct regression CNN ({n} lengths)"
        estimates[label], used[label] = regressor.predict(data.images[test]), n
    pixel = float(data.attrs.get("pixel_arcsec") or np.nan)
    rows = []
    for label, values in estimates.items():
        m = regression_metrics(true["test"], values)
        paper = PAPER_BARS["direct" if label.startswith("direct") else "smoothgrad"]
        rows.append({"method": label, "lengths_used": used[label], "n_test": m["n"], "r": round(m["r"], 3),
                     "rmse_px": round(m["rmse"], 3),
                     "rmse_arcsec": round(m["rmse"] * pixel, 3), "bias_px": round(m["bias"], 3),
                     "paper_r": None if "threshold" in label else paper["r"],
                     "paper_rmse": None if "threshold" in label else paper["rmse"]})
    out.mkdir(parents=True, exist_ok=True)
    write_table(rows, out / "bars", {"column": column, "calibration": calibrations, "n_train": int(train.size),
                                     "explain_ms_per_image": round(explain_ms, 2), "seed": seed,
                                     "paper": "seed 003: r and RMSE against human measurements (other data, units)"})
    write_table([{"id": data.ids[i], "true_px": round(float(t), 5),
                  **{label.replace(" ", "_"): round(float(v[j]), 5) for label, v in estimates.items()}}
                 for j, (i, t) in enumerate(zip(test, true["test"], strict=True))], out / "bar_predictions")
    everything = max(used.values())
    shown = {k: v for k, v in estimates.items() if used[k] == everything and "threshold" not in k}
    figures = save_figure(plot_bar_scatter(true["test"], shown, data.attrs.get("pixel_arcsec")),
                          out / "figures" / "bar_scatter")
    entries = []
    for j in range(min(n_figures, test.size)):
        found = bar_from_moments(maps["test"][j])
        cal = calibrations[f"SmoothGrad + moments ({everything} lengths)"]
        entries.append({"image": data.images[test[j]], "map": maps["test"][j], "mask": found["mask"],
                        "true_mask": data.masks["bar"][test[j]] if "bar" in data.masks else None,
                        "centre": ((data.shape[2] - 1) / 2, (data.shape[1] - 1) / 2),
                        "length": cal["slope"] * found["length_px"] + cal["intercept"], "pa": found["pa"],
                        "true_length": true["test"][j]})
    if entries:
        figures += save_figure(plot_bar_measurements(entries), out / "figures" / "bar_measurements")
    for row in rows:
        echo(f"  {row['method']}: r {row['r']:.3f}, RMSE {row['rmse_px']:.2f} px ({row['rmse_arcsec']:.2f}″)")
    return {"rows": rows, "calibration": calibrations, "explain_ms_per_image": explain_ms,
            "figures": [str(p) for p in figures]}


def _concatenate(sets: list):
    """One ImageSet from several (a set without a component's mask gets an empty one: no ground truth there)."""
    from astroxai.images.imageset import ImageSet

    if len(sets) == 1:
        return sets[0]
    components = sorted(set().union(*(set(s.masks) for s in sets)))
    columns = set.intersection(*(set(s.meta) for s in sets))
    return ImageSet(np.concatenate([s.images for s in sets]), np.concatenate([s.labels for s in sets]),
                    np.concatenate([s.ids for s in sets]),
                    masks={k: np.concatenate([s.masks.get(k, np.zeros((len(s), *s.shape[1:]), dtype=bool))
                                              for s in sets]) for k in components},
                    meta={k: np.concatenate([s.meta[k] for s in sets]) for k in columns},
                    wcs=np.concatenate([s.wcs for s in sets]), attrs=dict(sets[0].attrs))


def explain_image_inputs(model_dir, inputs, out, *, method: str = "smoothgrad", target=None, seed: int = 0,
                         max_figures: int = 12, echo=print) -> dict:
    """``astroxai explain`` for an image classifier: ``inputs`` are image sets (``.h5``), FITS/PNG/JPEG files or
    folders of them.  Every input gets a row in ``out/inputs.csv`` (kept, or rejected with the reason); the kept
    images are explained by :func:`explain_image_set`."""
    from astroxai.images.imageset import FITS_SUFFIXES, RASTER_SUFFIXES, ImageSet, read_images
    from astroxai.models.persist import load_model

    model, meta = load_model(model_dir)
    files, sets, fates = [], [], []
    suffixes = FITS_SUFFIXES + RASTER_SUFFIXES
    for item in map(Path, inputs):
        if item.is_dir():
            files += sorted(p for p in item.rglob("*") if p.is_file() and p.name.lower().endswith(suffixes))
        elif item.suffix.lower() in (".h5", ".hdf5"):
            try:
                found = ImageSet.load(item)
            except (OSError, ValueError, KeyError) as error:
                fates.append({"input": str(item), "id": item.stem, "status": "rejected",
                              "reason": f"{item}: not an astroxai image set ({error})"})
                continue
            try:
                _check_shape(meta, found)
            except ValueError as error:
                fates.append({"input": str(item), "id": item.stem, "status": "rejected", "reason": f"{item}: {error}"})
                continue
            sets.append(found)
            fates += [{"input": str(item), "id": i, "status": "kept", "reason": ""} for i in found.ids]
        else:
            files.append(item)
    if files:
        found, file_fates = read_images(files, shape=tuple(meta["image_shape"][1:]), channels=meta["image_shape"][0])
        fates += file_fates
        if found is not None:
            sets.append(found)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_table(fates, out / "inputs", {"model": str(model_dir)})
    rejected = [f for f in fates if f["status"] != "kept"]
    for fate in rejected[:10]:
        echo(f"rejected: {fate['reason']}")
    if not sets:
        raise ValueError(f"no usable image among the inputs (reasons in {out / 'inputs.csv'})")
    data = _concatenate(sets)
    result = explain_image_set(model, meta, data, out, method=method, target=target, seed=seed,
                               max_figures=max_figures, echo=echo)
    if rejected:
        echo(f"{len(rejected)} inputs rejected: reasons in {out / 'inputs.csv'}")
    return {**result, "fates": fates}
