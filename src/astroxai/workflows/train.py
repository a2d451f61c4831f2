"""Train, evaluate and predict with model folders: the glue between the estimators, the evaluation and the writers.

:func:`train` fits any estimator on a labelled data set, scores it on the test part of its own split and writes one
model folder (the model, ``model.json``, ``split.json``, every table and figure); the folder is built under a
temporary name and moved into place when complete, so an interrupted or failed training never leaves a half-new
folder beside an old model.  :func:`evaluate_folder` scores a saved model on any labelled set, :func:`predict_inputs`
classifies raw files or data sets with one row per input.
"""

from __future__ import annotations

import csv
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from astroxai.data import atomic_folder, atomic_path, csv_safe
from astroxai.errors import InputError
from astroxai.models import Estimator, SVMClassifier, evaluate, kernel_study, load_model
from astroxai.models.evaluate import PAPER_NOISE_LEVELS
from astroxai.models.persist import SPLIT_FILE
from astroxai.report.writers import write_evaluation, write_history, write_svm_study, write_test_tables
from astroxai.workflows.inputs import gather

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """What :func:`train` did: the fitted model, its folder, its test figures and timings."""

    model: Estimator
    folder: Path
    test: dict
    timings: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)  # validation figures recorded in model.json beside the test
    kernels: list = field(default_factory=list)
    figures: list = field(default_factory=list)

    @property
    def test_f1(self) -> float:
        return float(self.test.get("macro", {}).get("f1", float("nan")))


def _test_rows(model, data) -> np.ndarray:
    rows = model.split_.rows(data.ids, "test")
    return model.measured(data, rows) if model.task == "regress" else rows


def train(data, model: Estimator, out, *, dataset_path: str | None = None, timing_repeats: int = 10,
          noise_repeats: int = 5, noise_levels=PAPER_NOISE_LEVELS, progress=None,
          command: str | None = None) -> TrainResult:
    """Fit ``model`` on ``data``, score it on the test part of its split and write the model folder ``out``.

    SVMs get the paper's whole study (every kernel refitted and scored, noise robustness, training times:
    :func:`astroxai.models.kernel_study`); networks their training history and test tables (with the noise curve for
    spectra).  ``model.json`` records the data set (``dataset_path`` and the SHA-256 of its content), the seed and
    the ``command`` that trained it.  Returns a :class:`TrainResult`.
    """
    out = Path(out)
    start = time.perf_counter()
    model.fit(data, progress=progress)
    timings = {"fit_s": round(time.perf_counter() - start, 2)}
    with atomic_folder(out) as folder:
        if model.kind == SVMClassifier.kind:  # the paper's study: every kernel refitted, timed and scored
            result = _svm_tables(model, data, folder, timing_repeats, noise_repeats, noise_levels, progress)
        else:
            result = _network_tables(model, data, folder, noise_repeats, noise_levels)
        result.timings = {**timings, **result.timings}
        training = {"dataset": dataset_path, "dataset_sha256": data.content_sha256(), "command": command,
                    "split": SPLIT_FILE, "seed": model.seed,
                    "stratified": getattr(model, "stratify", True),
                    "left_out_non_finite": list(data.attrs.get("left_out_non_finite", []))}
        model.training_ = {**model.training_, **training}
        model.save(folder, {"metrics": {"test": result.test, **result.metrics}, "timings": result.timings})
    result.folder = out
    result.figures = [out / Path(figure).relative_to(folder) for figure in result.figures]
    return result


def _svm_tables(model, data, folder, timing_repeats, noise_repeats, noise_levels, progress) -> TrainResult:
    start = time.perf_counter()
    study = kernel_study(model, data, timing_repeats=timing_repeats, noise_repeats=noise_repeats,
                         noise_levels=noise_levels, progress=progress)
    test = study.test[study.chosen]
    rows = model.split_.rows(data.ids, "test")
    X = data.flux[rows].astype(np.float64)
    argmax = np.asarray(model.classes_)[model.predict_proba(X).argmax(axis=1)]
    disagreements = int((argmax != model.predict(X)).sum())
    figures = write_svm_study(folder, model, study)
    chosen = next(row for row in study.rows if row["kernel"] == study.chosen)
    log.info("chosen: %s (validation F %.4f); test macro F %.4f", study.chosen, chosen["validation_f1"],
             test["macro"]["f1"])
    timings = {"search_s": round(model.search_.seconds, 2),
               "final_fit_with_probabilities_s": round(model.fit_seconds_, 2),
               "kernel_study_s": round(time.perf_counter() - start, 2)}
    metrics = {"cv_f1": model.validation_[study.chosen]["cv_f1"], "validation": chosen,
               "test_argmax_probability_disagreements": disagreements}
    return TrainResult(model, folder, test, timings, metrics, study.rows, figures)


def _network_tables(model, data, folder, noise_repeats, noise_levels) -> TrainResult:
    name = model.table_name
    evaluation = evaluate(model, data, _test_rows(model, data), noise_repeats=noise_repeats, noise_levels=noise_levels,
                          seed=model.seed)
    figures = write_history(folder, model, {"params": model.get_params()})
    figures += write_test_tables(folder, evaluation, name, data.attrs.get("pixel_arcsec"),
                                 column=getattr(model, "target", None))
    epochs = [h["seconds"] for h in model.history_]
    timings = {"fit_s": round(model.fit_seconds_, 2), "epoch_s": round(float(np.median(epochs)), 3)}
    if evaluation.task == "regress":
        log.info("image CNN: test r %.3f, RMSE %.3f", evaluation.metrics["r"], evaluation.metrics["rmse"])
    else:
        log.info("%s: test macro F %.4f, accuracy %.4f", name, evaluation.metrics["macro"]["f1"],
                 evaluation.metrics["accuracy"])
    best = min(model.history_, key=lambda h: h["val_loss"])
    metrics = {"validation": {"loss": best["val_loss"], "score": best.get("val_f1", best.get("val_score"))}}
    return TrainResult(model, folder, evaluation.metrics, timings, metrics, [], figures)


def evaluate_folder(model_dir, data, out, *, part: str | None = None, noise_repeats: int = 5,
                    seed: int = 0) -> dict:
    """Metrics, confusion matrix, noise robustness (spectra) and per-input predictions of a saved model on ``data``
    (or on one ``part`` of the model's own split); inputs without one of the model's labels are left out and
    counted."""
    model = load_model(model_dir)
    rows = np.arange(len(data))
    if part is not None:
        if model.split_ is None:
            raise InputError(f"{model_dir} has no {SPLIT_FILE}: cannot select its {part} part")
        rows = rows[model.split_.contains(data.ids, part)]
        if rows.size == 0:
            raise InputError(f"no input of the data set is in the {part} part of {model_dir}'s split")
    evaluation = evaluate(model, data, rows, noise_repeats=noise_repeats, seed=seed)
    if model.task == "classify":  # the spectra of the set the model cannot score, whatever the part
        evaluation.skipped = int((~np.isin(data.labels, model.classes_)).sum())
    name = model.metadata_.get("kernel") or "model"
    write_evaluation(out, evaluation, model_name=name, source=str(model_dir), part=part,
                     pixel_arcsec=data.attrs.get("pixel_arcsec"), column=getattr(model, "target", None))
    log.debug("evaluated %d inputs (%d skipped) → %s", len(evaluation.ids), evaluation.skipped, out)
    return {"n": int(len(evaluation.ids)), "skipped": evaluation.skipped, "metrics": evaluation.metrics,
            "evaluation": evaluation}


def prediction_columns(model) -> list[str]:
    outputs = ["predicted"] if model.task == "regress" else ["predicted", *[f"p_{c}" for c in model.classes_]]
    if getattr(model, "reference_", None) is not None:
        outputs += ["ood_score", "out_of_distribution"]
    return ["id", "input", "status", *outputs, "reason"]


def predict_inputs(model_dir, inputs, out_csv, *, catalog=None, chunk_size: int = 256, workers: int | None = None,
                   progress=None) -> dict:
    """Classify (or regress) every input with a saved model, writing one CSV row per input: kept or rejected with
    the reason.

    Raw spectra are reduced with the model's own grid and settings, ``chunk_size`` at a time, and the rows are
    written as they come, so memory does not grow with the number of inputs; data sets and image files are read as
    :func:`astroxai.workflows.inputs.gather` reads them.  ``predicted`` is the model's decision (an SVM's vote);
    ``p_<class>`` its probabilities, which on rare borderline spectra can rank another class first;
    ``ood_score`` how far the input lies from the training inputs (:meth:`Estimator.novelty`; above 1 it is flagged
    ``out_of_distribution``: the probabilities then say which known class fits least badly, not that one fits).
    Inputs whose label (from a catalogue or a data set) is one of the model's classes are also counted as right or
    wrong: ``n_labelled`` and ``n_correct`` in the returned summary.
    """
    from astroxai.io import collect_inputs
    from astroxai.workflows.inputs import SET_SUFFIXES, reduced_chunks

    model = load_model(model_dir)
    counts = {"kept": 0, "rejected": 0, "outside": 0, "labelled": 0, "correct": 0}
    known = {str(c) for c in model.classes_} if model.task == "classify" else set()
    predicted_counts = dict.fromkeys(model.classes_, 0)
    inputs = [Path(p) for p in inputs]

    def batches():
        if not model.reduces_raw_files:  # images: read whole, as gather reads them
            yield gather(model, inputs, catalog, workers=workers)
            return
        sets = [p for p in inputs if p.suffix.lower() in SET_SUFFIXES]
        if sets:
            yield gather(model, sets, workers=workers)
        raw = [p for p in inputs if p.suffix.lower() not in SET_SUFFIXES]
        if raw:  # spectra: reduced a chunk at a time, so memory does not grow with the number of files
            yield from reduced_chunks(model, collect_inputs(raw, catalog), workers=workers, chunk_size=chunk_size,
                                      progress=progress)

    with atomic_path(Path(out_csv)) as temporary, open(temporary, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=prediction_columns(model), extrasaction="ignore")
        writer.writeheader()
        for fates, data in batches():
            values = iter(_outputs(model, data, counts))
            for row in fates:
                counts[row["status"]] += 1
                if row["status"] == "kept":
                    row = {**row, **next(values)}
                    if model.task == "classify":
                        predicted_counts[row["predicted"]] += 1
                    if row.get("label") in known:
                        counts["labelled"] += 1
                        counts["correct"] += row["label"] == row["predicted"]
                writer.writerow(csv_safe(row))
    return {"n_inputs": counts["kept"] + counts["rejected"], "n_classified": counts["kept"],
            "n_rejected": counts["rejected"], "n_out_of_distribution": counts["outside"],
            "predicted": predicted_counts, "n_labelled": counts["labelled"], "n_correct": counts["correct"],
            "out": str(out_csv)}


def _outputs(model, data, counts: dict) -> list[dict]:
    """One row of outputs per input of ``data`` (none for no data): the decision, the probabilities and the
    out-of-distribution score, as the predictions table writes them; ``counts['outside']`` counts the flagged."""
    if data is None or not len(data):
        return []
    if model.task == "regress":
        outputs = [{"predicted": f"{v:.6f}"} for v in model.predict(data)]
    else:
        labels, probabilities = model.predict(data), model.predict_proba(data)
        outputs = [{"predicted": str(label), **{f"p_{c}": f"{p:.6f}" for c, p in zip(model.classes_, row, strict=True)}}
                   for label, row in zip(labels, probabilities, strict=True)]
    novelty = model.novelty(data)
    if novelty is not None:
        counts["outside"] += int(novelty.outside.sum())
        for output, score, outside in zip(outputs, novelty.score, novelty.outside, strict=True):
            output.update(ood_score=f"{score:.4g}", out_of_distribution=str(bool(outside)))
    return outputs


@dataclass(frozen=True)
class ModelChoice:
    """What ``astroxai train`` fits: the family (``model``: None for the data's default, ``"svm"``, ``"cnn"`` or, for
    images, ``"equivariant"``),
    the ``task`` (``"classify"``, or ``"regress"`` of the image column ``target``) and the settings the CLI exposes;
    each family reads the ones it has."""

    model: str | None = None
    task: str = "classify"
    classes: int | str = 3
    kernels: tuple | None = None
    quick: bool = False
    seed: int | None = None
    stratify: bool = True
    standardise: bool = False
    n_jobs: int | None = None
    max_epochs: int | None = None
    target: str = "bar_length_px"
    augment: bool = False
    average_views: bool = False


def estimator_for(data, choice: ModelChoice | None = None) -> Estimator:
    """The estimator ``astroxai train`` fits on ``data``: the data set decides the family (spectra: the paper's SVM,
    or the 1-D CNN with ``ModelChoice(model='cnn')``; images: the 2-D CNN, classifier or regressor of ``target``)."""
    choice = choice or ModelChoice()
    if choice.task not in ("classify", "regress"):
        raise InputError(f"task must be 'classify' or 'regress', not {choice.task!r}")
    make = ESTIMATORS_BY_MODALITY.get(data.modality)
    if make is None:
        raise InputError(f"astroxai train has no model of {data.NOUN} (it trains on "
                         f"{', '.join(ESTIMATORS_BY_MODALITY)})")
    return make(choice, data)


def _image_estimator(choice: ModelChoice, data) -> Estimator:
    from astroxai.models import EquivariantImageClassifier, ImageCNNClassifier, ImageCNNRegressor
    from astroxai.models.image_cnn import DEFAULT_IMAGE_TRAIN_SEED, REGRESSOR_TRAINING

    if choice.model not in (None, "cnn", "equivariant"):
        raise InputError(f"images are learned by a CNN ('cnn' or 'equivariant'), not {choice.model!r}")
    settings = {"seed": DEFAULT_IMAGE_TRAIN_SEED if choice.seed is None else choice.seed,
                "average_views": choice.average_views}
    if choice.model == "equivariant":
        if choice.task != "classify":
            raise InputError("the equivariant network classifies (--task regress takes --model cnn)")
        # invariant by construction: turning the training images changes nothing it computes
        epochs = {"max_epochs": choice.max_epochs} if choice.max_epochs else {}
        return EquivariantImageClassifier(**epochs, **settings)
    settings["augment"] = choice.augment
    if choice.task == "classify" and data.attrs.get("survey") == "FIRST":
        # the real FIRST galaxies: the recipe of `astroxai run --kind radio --data first` (docs/images.md)
        from astroxai.workflows.studies.images import FIRST_TRAINING

        recipe = {**FIRST_TRAINING, **settings, "augment": True,
                  "average_views": choice.average_views or FIRST_TRAINING.get("average_views", False)}
        return ImageCNNClassifier(**{**recipe, "max_epochs": choice.max_epochs or FIRST_TRAINING["max_epochs"]})
    if choice.task == "classify":
        return ImageCNNClassifier(max_epochs=choice.max_epochs or 100, **settings)
    epochs = choice.max_epochs or REGRESSOR_TRAINING["max_epochs"]
    return ImageCNNRegressor(target=choice.target, **{**REGRESSOR_TRAINING, **settings, "max_epochs": epochs})


def _spectra_estimator(choice: ModelChoice, data) -> Estimator:
    from astroxai.models import SpectrumCNNClassifier
    from astroxai.models.svm import DEFAULT_TRAIN_SEED, KERNELS

    if choice.task != "classify":
        raise InputError("spectra models classify (--task regress is for image sets)")
    seed = DEFAULT_TRAIN_SEED if choice.seed is None else choice.seed
    if choice.model in (None, "svm"):
        return SVMClassifier(classes=choice.classes, kernels=tuple(choice.kernels or KERNELS), quick=choice.quick,
                             seed=seed, stratify=choice.stratify, standardise=choice.standardise,
                             n_jobs=choice.n_jobs)
    if choice.model == "cnn":
        return SpectrumCNNClassifier(classes=choice.classes, max_epochs=choice.max_epochs or 200, seed=seed,
                                     stratify=choice.stratify)
    raise InputError(f"model must be 'svm' or 'cnn', not {choice.model!r}")


#: Modality → the estimators ``astroxai train`` makes for it.
ESTIMATORS_BY_MODALITY = {"spectra": _spectra_estimator, "images": _image_estimator}
