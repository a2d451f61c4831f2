"""The paper's SVM study in one call: split → search → validation → refit → test, noise, timing → saved model.

``train_study`` writes, into one model folder, the persisted model (``model.skops`` + ``model.json``) and
every table (CSV + JSON) and figure (PNG + PDF) of Sects. 3 and 5.1–5.2.  ``evaluate_model`` applies a
saved model to another labelled data set and writes the same metrics for it.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from astroxai.dataset import SpectraSet
from astroxai.models.evaluate import (
    PAPER_NOISE_LEVELS,
    classification_metrics,
    confusion,
    confusion_rows,
    metrics_rows,
    noise_robustness,
    time_fits,
)
from astroxai.models.persist import check_grid, load_model, save_cnn, save_model
from astroxai.models.split import Split, paper_split
from astroxai.models.svm import KERNELS, SearchSpace, fit_quietly, make_svm, search_svm
from astroxai.plots import save_figure
from astroxai.plots.classification import plot_confusions, plot_noise, plot_search, plot_training_history
from astroxai.tables import write_table

#: The two problems of the paper.
PROBLEMS = {3: ("type1", "type2", "intermediate"), 2: ("type1", "type2")}
DEFAULT_TRAIN_SEED = 20210706


@dataclass
class TrainConfig:
    """Settings of one SVM study (``astroxai train``)."""

    classes: int = 3
    kernels: tuple = tuple(KERNELS)
    quick: bool = False
    seed: int = DEFAULT_TRAIN_SEED
    stratify: bool = True
    standardise: bool = True  # False: the SVM sees the normalised fluxes unscaled
    n_jobs: int | None = None
    timing_repeats: int = 10
    noise_repeats: int = 5
    noise_levels: tuple = PAPER_NOISE_LEVELS

    def space(self) -> SearchSpace:
        return SearchSpace.quick(self.kernels) if self.quick else SearchSpace(kernels=tuple(self.kernels))


def training_hash(flux, labels, ids) -> str:
    """SHA-256 of what a model was fitted on: the float32 fluxes, labels and ids, taken in id order so that
    the same spectra give the same hash however they are ordered in a file."""
    ids = np.asarray(ids).astype(str)
    order = np.argsort(ids, kind="stable")
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(np.asarray(flux, dtype=np.float32)[order]).tobytes())
    digest.update("\n".join(np.asarray(labels).astype(str)[order]).encode())
    digest.update("\n".join(ids[order]).encode())
    return digest.hexdigest()


def _split(data: SpectraSet, cfg) -> Split:
    """The paper's split over every labelled spectrum, so that the two- and three-class problems share it;
    each part is then restricted to the problem's classes."""
    labelled = np.flatnonzero(data.labels != "")
    split = paper_split(data.labels[labelled], cfg.seed, stratify=cfg.stratify)
    keep = np.isin(data.labels, PROBLEMS[cfg.classes])
    parts = [labelled[part] for part in (split.train, split.validation, split.test)]
    return Split(*[part[keep[part]] for part in parts], seed=cfg.seed, stratified=cfg.stratify)


def _macro_row(prefix: str, metrics: dict) -> dict:
    return {f"{prefix}_{key}": round(metrics["macro"][key], 4) for key in ("precision", "recall", "f1")}


def train_study(data: SpectraSet, out, cfg: TrainConfig | None = None, progress=None, echo=print,
                dataset_path: str | None = None) -> dict:
    """Run the whole study on ``data`` and write it into the model folder ``out``; return a summary."""
    cfg = cfg or TrainConfig()
    out = Path(out)
    classes = _check_classes(data, cfg.classes, cfg.space().folds)
    split = _split(data, cfg)
    X = data.flux.astype(np.float64)
    y = data.labels
    fit_rows = np.concatenate([split.train, split.validation])
    n_features = X.shape[1]
    timings: dict[str, float] = {}
    echo(f"{cfg.classes}-class problem: {split.train.size} train, {split.validation.size} validation, "
         f"{split.test.size} test spectra")

    search = search_svm(X[split.train], y[split.train], cfg.space(), seed=cfg.seed, n_jobs=cfg.n_jobs,
                        progress=progress, standardise=cfg.standardise)
    timings["search_s"] = round(search.seconds, 2)
    echo(f"search: {search.n_fits} SVM fits in {search.seconds:.1f} s")

    kernel_rows, confusions, noise, kernel_test = [], {}, {}, {}
    for kernel, best in search.best.items():
        def make(probability=False, kernel=kernel, best=best):
            return make_svm(kernel, best["C"], best["gamma"], n_features=n_features, probability=probability,
                            seed=cfg.seed, standardise=cfg.standardise)

        start = time.perf_counter()
        on_train = make().fit(X[split.train], y[split.train])
        validation = classification_metrics(y[split.validation], on_train.predict(X[split.validation]), classes)
        refit = make().fit(X[fit_rows], y[fit_rows])
        predicted = refit.predict(X[split.test])
        test = classification_metrics(y[split.test], predicted, classes)
        kernel_test[kernel] = test
        confusions[kernel] = confusion(y[split.test], predicted, classes)
        noise[kernel] = noise_robustness(refit, X[split.test], y[split.test], data.wavelength, classes,
                                         cfg.noise_levels, cfg.noise_repeats, cfg.seed)
        timing = time_fits(make, X[fit_rows], y[fit_rows], cfg.timing_repeats) if cfg.timing_repeats else {}
        kernel_rows.append({
            "kernel": kernel, "C": best["C"], "gamma": best["gamma"],
            "svc_gamma": refit.named_steps["svm"].gamma if kernel != "linear" else None,
            "cv_f1": round(best["cv_f1"], 4), "cv_f1_std": round(best["cv_f1_std"], 4),
            **_macro_row("validation", validation), **_macro_row("test", test),
            "n_support": int(refit.named_steps["svm"].n_support_.sum()),
            "fit_mean_s": round(timing.get("mean_s", float("nan")), 4),
            "fit_std_s": round(timing.get("std_s", float("nan")), 4),
        })
        timings[f"evaluate_{kernel}_s"] = round(time.perf_counter() - start, 2)
        echo(f"  {kernel:6s} C={best['C']:<10.4g} CV F={best['cv_f1']:.4f}  validation F="
             f"{validation['macro']['f1']:.4f}  test F={test['macro']['f1']:.4f}")

    # The paper chose its kernel on the validation set; ties go to the cross-validated score.
    chosen = max(kernel_rows, key=lambda r: (r["validation_f1"], r["cv_f1"]))
    kernel, best = chosen["kernel"], search.best[chosen["kernel"]]
    start = time.perf_counter()
    final = fit_quietly(make_svm(kernel, best["C"], best["gamma"], n_features=n_features, probability=True,
                                 seed=cfg.seed, standardise=cfg.standardise), X[fit_rows], y[fit_rows])
    timings["final_fit_with_probabilities_s"] = round(time.perf_counter() - start, 2)
    predicted = final.predict(X[split.test])
    test = classification_metrics(y[split.test], predicted, classes)
    argmax = np.asarray(final.classes_)[final.predict_proba(X[split.test]).argmax(axis=1)]

    out.mkdir(parents=True, exist_ok=True)
    split.save(out / "split.json", data.ids)
    write_table(search.rows, out / "search", {"space": cfg.space().to_dict(), "seed": cfg.seed})
    write_table(kernel_rows, out / "kernels", {"chosen": kernel})
    write_table(metrics_rows(test), out / "test_metrics", {"kernel": kernel, "accuracy": test["accuracy"]})
    write_table([row for k, metrics in kernel_test.items() for row in metrics_rows(metrics, kernel=k)],
                out / "test_metrics_by_kernel")
    write_table([row for k, cm in confusions.items() for row in confusion_rows(cm, kernel=k)],
                out / "confusion", {"matrices": confusions})
    write_table([{"kernel": k, **row} for k, rows in noise.items() for row in rows], out / "noise",
                {"units": "sigma in units of each spectrum's flux at 5100 Å"})
    titles = {f"{k} (test F = {kernel_test[k]['macro']['f1']:.3f})": cm for k, cm in confusions.items()}
    figures = []
    figures += save_figure(plot_confusions(titles), out / "figures" / "confusion")
    figures += save_figure(plot_confusions(titles, normalised=True), out / "figures" / "confusion_normalised")
    figures += save_figure(plot_noise(noise, classes, kernel), out / "figures" / "noise")
    figures += save_figure(plot_search(search.rows, search.best), out / "figures" / "search")

    metadata = {
        "model": "svm", "problem": f"{cfg.classes}-class", "kernel": kernel,
        "params": {"C": best["C"], "gamma": best["gamma"], "svc_gamma": final.named_steps["svm"].gamma},
        "wavelength": data.wavelength.tolist(),
        "reduction": data.attrs.get("reduction", {}),
        "training": {
            "dataset": dataset_path, "n_spectra": int(fit_rows.size), "rows": "train + validation",
            "sha256": training_hash(data.flux[fit_rows], y[fit_rows], data.ids[fit_rows]),
            "split": "split.json", "seed": cfg.seed, "stratified": cfg.stratify,
        },
        "config": asdict(cfg),
        "metrics": {"cv_f1": best["cv_f1"], "validation": chosen, "test": test,
                    "test_argmax_probability_disagreements": int((argmax != predicted).sum())},
        "timings": timings,
    }
    metadata["median_spectrum"] = np.median(X[fit_rows], axis=0).round(6).tolist()  # explainers' baseline
    save_model(out, final, metadata)
    summary = {"model_dir": str(out), "kernel": kernel, "C": best["C"], "gamma": best["gamma"],
               "test_macro_f1": round(test["macro"]["f1"], 4), "kernels": kernel_rows, "timings": timings,
               "figures": [str(p) for p in figures]}
    echo(f"chosen: {kernel} (validation F {chosen['validation_f1']:.4f}); test macro F "
         f"{test['macro']['f1']:.4f} → {out}")
    return summary


def _check_classes(data: SpectraSet, n_classes: int, folds: int) -> tuple:
    """The problem's classes, after checking that the data set has enough spectra of each."""
    classes = PROBLEMS[n_classes]
    missing = [c for c in classes if c not in data.classes]
    if missing:
        raise ValueError(f"the data set has no spectra labelled {missing}; a {n_classes}-class model needs "
                         f"{list(classes)} (labels come from the catalogue given to `astroxai reduce`)")
    counts = {c: int((data.labels == c).sum()) for c in classes}
    needed = int(np.ceil(folds / 0.64)) + 1  # every CV fold of the 64 % train part needs each class
    if min(counts.values()) < needed:
        raise ValueError(f"too few spectra for a {folds}-fold search: {counts}; each class needs at least {needed}")
    return classes


def train_cnn_study(data: SpectraSet, out, cfg: TrainConfig | None = None, cnn=None, progress=None, echo=print,
                    dataset_path: str | None = None) -> dict:
    """Train the 1-D CNN on the same split as the SVM study (same seed → same test spectra), with early stopping
    on the validation part, and write the same test tables and figures plus the training history."""
    from astroxai.models.cnn import CNNConfig, fit_cnn

    cfg = cfg or TrainConfig()
    cnn = cnn or CNNConfig(seed=cfg.seed)
    out = Path(out)
    classes = _check_classes(data, cfg.classes, 2)
    split = _split(data, cfg)
    X, y = data.flux.astype(np.float32), data.labels
    echo(f"{cfg.classes}-class CNN: {split.train.size} train, {split.validation.size} validation (early stopping), "
         f"{split.test.size} test spectra")
    start = time.perf_counter()
    model, history = fit_cnn(X[split.train], y[split.train], X[split.validation], y[split.validation], classes, cnn,
                             progress=progress, echo=echo)
    fit_s = time.perf_counter() - start
    predicted = model.predict(X[split.test])
    test = classification_metrics(y[split.test], predicted, classes)
    noise = noise_robustness(model, X[split.test], y[split.test], data.wavelength, classes, cfg.noise_levels,
                             cfg.noise_repeats, cfg.seed)
    cm = confusion(y[split.test], predicted, classes)
    out.mkdir(parents=True, exist_ok=True)
    split.save(out / "split.json", data.ids)
    write_table(history, out / "history", {"config": cnn.to_dict()})
    write_table(metrics_rows(test), out / "test_metrics", {"model": "cnn", "accuracy": test["accuracy"]})
    write_table(confusion_rows(cm, model="cnn"), out / "confusion", {"matrices": {"cnn": cm}})
    write_table([{"model": "cnn", **row} for row in noise], out / "noise",
                {"units": "sigma in units of each spectrum's flux at 5100 Å"})
    title = f"CNN (test F = {test['macro']['f1']:.3f})"
    figures = []
    figures += save_figure(plot_confusions({title: cm}), out / "figures" / "confusion")
    figures += save_figure(plot_confusions({title: cm}, normalised=True), out / "figures" / "confusion_normalised")
    figures += save_figure(plot_noise({"cnn": noise}, classes, "cnn"), out / "figures" / "noise")
    figures += save_figure(plot_training_history(history), out / "figures" / "history")
    best_epoch = min(history, key=lambda h: h["val_loss"])
    metadata = {
        "model": "cnn", "problem": f"{cfg.classes}-class", "architecture": cnn.architecture(),
        "n_parameters": int(sum(p.numel() for p in model.module.parameters())),
        "wavelength": data.wavelength.tolist(), "reduction": data.attrs.get("reduction", {}),
        "training": {"dataset": dataset_path, "n_spectra": int(split.train.size), "rows": "train",
                     "early_stopping": "validation", "epochs": len(history), "best_epoch": best_epoch["epoch"],
                     "sha256": training_hash(data.flux[split.train], y[split.train], data.ids[split.train]),
                     "split": "split.json", "seed": cfg.seed, "stratified": cfg.stratify},
        "config": {"train": asdict(cfg), "cnn": cnn.to_dict()},
        "metrics": {"validation": {"f1": best_epoch["val_f1"], "loss": best_epoch["val_loss"]}, "test": test},
        "timings": {"fit_s": round(fit_s, 2)},
        "median_spectrum": np.median(X[np.concatenate([split.train, split.validation])], axis=0).round(6).tolist(),
    }
    save_cnn(out, model, metadata)
    echo(f"CNN: {len(history)} epochs in {fit_s:.1f} s; test macro F {test['macro']['f1']:.4f} → {out}")
    return {"model_dir": str(out), "kernel": "cnn", "test_macro_f1": round(test["macro"]["f1"], 4),
            "fit_s": round(fit_s, 2), "epochs": len(history), "noise": noise, "timings": {"fit_s": round(fit_s, 2)},
            "figures": [str(p) for p in figures]}


def evaluate_model(model_dir, data: SpectraSet, out, *, part: str | None = None, noise_repeats: int = 5,
                   seed: int = 0, echo=print) -> dict:
    """Metrics, confusion matrix, noise robustness and per-spectrum predictions of a saved model on ``data``.

    Spectra whose label is not one of the model's classes are left out and counted.  ``part='test'`` (or
    ``'validation'``/``'train'``) restricts to the ids of that part of the model's own split.
    """
    model, meta = load_model(model_dir)
    check_grid(meta, data.wavelength)
    classes = list(meta["classes"])
    labelled = np.isin(data.labels, classes)
    rows = np.flatnonzero(labelled)
    if part is not None:
        saved = json.loads((Path(model_dir) / "split.json").read_text())
        rows = rows[np.isin(data.ids[rows], saved[part])]
    if rows.size == 0:
        raise ValueError(f"no spectrum of the data set is labelled with the model's classes {classes}")
    out = Path(out)
    X, y = data.flux[rows].astype(np.float64), data.labels[rows]
    predicted = model.predict(X)
    probabilities = model.predict_proba(X)
    metrics = classification_metrics(y, predicted, classes)
    cm = confusion(y, predicted, classes)
    noise = noise_robustness(model, X, y, data.wavelength, classes, repeats=noise_repeats, seed=seed)
    write_table(metrics_rows(metrics, digits=None), out / "metrics",
                {"accuracy": metrics["accuracy"], "model": str(model_dir), "part": part})
    write_table(confusion_rows(cm), out / "confusion", {"matrix": cm})
    write_table(noise, out / "noise", {"units": "sigma in units of each spectrum's flux at 5100 Å"})
    write_table([{"id": data.ids[i], "label": y[j], "predicted": predicted[j],
                  **{f"p_{c}": round(float(p), 6) for c, p in zip(model.classes_, probabilities[j], strict=True)}}
                 for j, i in enumerate(rows)], out / "predictions")
    title = f"{meta.get('kernel', 'model')} (F = {metrics['macro']['f1']:.3f})"
    save_figure(plot_confusions({title: cm}), out / "figures" / "confusion")
    save_figure(plot_confusions({title: cm}, normalised=True), out / "figures" / "confusion_normalised")
    save_figure(plot_noise({meta.get("kernel", "model"): noise}, classes, meta.get("kernel", "model")),
                out / "figures" / "noise")
    skipped = int(len(data) - labelled.sum())
    echo(f"{rows.size} spectra: macro F {metrics['macro']['f1']:.4f}, accuracy {metrics['accuracy']:.4f}"
         + (f" ({skipped} without one of the model's labels left out)" if skipped else "") + f" → {out}")
    return {"n": int(rows.size), "skipped": skipped, "metrics": metrics, "confusion": cm, "noise": noise}


def refit_kernel(model_dir, data: SpectraSet, kernel: str):
    """Another kernel of a saved SVM study, refitted with probabilities as the chosen one was: the kernel's best
    C and γ from the folder's ``kernels`` table, fitted on the same train + validation spectra (``split.json``),
    with the same scaling and seed.  Used to compare explanations of the linear and RBF SVMs side by side."""
    from astroxai.models.split import Split
    from astroxai.tables import read_table

    model_dir = Path(model_dir)
    meta = json.loads((model_dir / "model.json").read_text())
    rows = {r["kernel"]: r for r in read_table(model_dir / "kernels")}
    if kernel not in rows:
        raise ValueError(f"{model_dir}: the search has no {kernel!r} kernel (it has {sorted(rows)})")
    check_grid(meta, data.wavelength)
    split = Split.load(model_dir / "split.json", data.ids)
    fit_rows = np.concatenate([split.train, split.validation])
    cfg = meta["config"]
    row = rows[kernel]
    model = make_svm(kernel, row["C"], row["gamma"], n_features=data.flux.shape[1], probability=True,
                     seed=cfg["seed"], standardise=cfg.get("standardise", True))
    return fit_quietly(model, data.flux[fit_rows].astype(np.float64), data.labels[fit_rows])
