"""How good a model is: the paper's metrics, confusion matrices, noise robustness and training time, and
:func:`evaluate`, which applies a fitted model to a labelled data set and returns an :class:`Evaluation` (no files:
the writers in :mod:`astroxai.report` render it)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

from astroxai.errors import InputError
from astroxai.lines import NORM_HALF_WIDTH, NORM_WAVELENGTH
from astroxai.results import Result

#: The paper's noise levels (Sect. 3.1), in units of each spectrum's flux at 5100 Å.
PAPER_NOISE_LEVELS = (0.1, 0.2, 0.3, 0.4, 1.0, 2.0, 3.0, 4.0)


@dataclass(eq=False)
class ClassScores(Result):
    """Precision, recall, F and support of one class (or their unweighted means over the classes)."""

    precision: float
    recall: float
    f1: float
    support: int


@dataclass(eq=False)
class ClassificationMetrics(Result):
    """:func:`classification_metrics`: per class, their unweighted means (``macro``, the paper's "mean over the
    different classes") and the accuracy."""

    per_class: dict[str, ClassScores]
    macro: ClassScores
    accuracy: float


@dataclass(eq=False)
class Confusion(Result):
    """:func:`confusion`: raw counts (rows = true class, columns = predicted) and the row-normalised matrix."""

    classes: list
    raw: list
    normalised: list


@dataclass(eq=False)
class RegressionMetrics(Result):
    """:func:`regression_metrics`: the number of values, Pearson r, RMSE, mean absolute error and mean offset."""

    n: int
    r: float
    rmse: float
    mae: float
    bias: float


@dataclass(eq=False)
class FitTimes(Result):
    """:func:`time_fits`: wall time of repeated fits (s)."""

    repeats: int
    mean_s: float
    std_s: float
    median_s: float
    min_s: float


def classification_metrics(y_true, y_pred, classes) -> ClassificationMetrics:
    """Per-class and macro precision, recall, F and support, plus accuracy.

    Macro values are the unweighted means over ``classes`` (the paper's "mean over the different classes");
    a class that is never predicted gets precision 0, not a warning.
    """
    classes = list(classes)
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=classes, zero_division=0)
    per_class = {c: ClassScores(float(p), float(r), float(f), int(s))
                 for c, p, r, f, s in zip(classes, precision, recall, f1, support, strict=True)}
    macro = ClassScores(float(np.mean(precision)), float(np.mean(recall)), float(np.mean(f1)), int(np.sum(support)))
    return ClassificationMetrics(per_class, macro, float(np.mean(np.asarray(y_true) == np.asarray(y_pred))))


def confusion(y_true, y_pred, classes) -> Confusion:
    """Raw counts (rows = true class, columns = predicted) and the row-normalised matrix."""
    raw = confusion_matrix(y_true, y_pred, labels=list(classes))
    totals = raw.sum(axis=1, keepdims=True)
    normalised = np.divide(raw, totals, out=np.zeros(raw.shape, dtype=float), where=totals > 0)
    return Confusion(list(classes), raw.tolist(), normalised.round(6).tolist())


def metrics_rows(metrics: ClassificationMetrics, digits: int | None = 4, **fixed) -> list[dict]:
    """One table row per class plus a ``macro`` row, from :func:`classification_metrics`; ``fixed`` columns
    (e.g. ``kernel=...``) come first; floats are rounded to ``digits`` (``None`` keeps them exact)."""
    def tidy(value):
        return round(value, digits) if digits is not None and isinstance(value, float) else value

    return [{**fixed, "class": c, **{key: tidy(v) for key, v in m.items()}}
            for c, m in {**metrics["per_class"], "macro": metrics["macro"]}.items()]


def confusion_rows(cm: Confusion, **fixed) -> list[dict]:
    """One table row per true class of a :func:`confusion` result, with a count column per predicted class."""
    classes = cm["classes"]
    return [{**fixed, "true": t, **{f"predicted_{p}": int(v) for p, v in zip(classes, row, strict=True)}}
            for t, row in zip(classes, cm["raw"], strict=True)]


def continuum_at_5100(wavelength, flux) -> np.ndarray:
    """Each reduced spectrum's flux at 5100 Å: the median over the same ±20 Å window the reduction uses."""
    window = np.abs(np.asarray(wavelength) - NORM_WAVELENGTH) <= NORM_HALF_WIDTH
    if not window.any():
        raise InputError("the grid does not reach 5100 Å: the noise levels are defined relative to it")
    return np.median(np.asarray(flux)[:, window], axis=1)


def noise_robustness(model, X, y, wavelength, classes, levels=PAPER_NOISE_LEVELS, repeats: int = 5,
                     seed: int = 0) -> list[dict]:
    """Macro and per-class F on ``X`` plus Gaussian noise of σ = level × flux(5100 Å), per level.

    The paper added one noise draw per level; here ``repeats`` seeded draws are averaged and their
    standard deviation is reported, so a difference between levels can be told from draw-to-draw scatter.
    A level of 0 (no noise) is always included as the reference.
    """
    rng = np.random.default_rng(seed)
    X = np.asarray(X, dtype=np.float64)
    scale = continuum_at_5100(wavelength, X)[:, None]
    rows = []
    for level in (0.0, *levels):
        draws = 1 if level == 0 else repeats
        per_draw = []
        for _ in range(draws):
            noisy = X + rng.normal(size=X.shape) * level * scale if level else X
            predicted = model.predict(noisy)
            f = f1_score(y, predicted, labels=list(classes), average=None, zero_division=0)
            per_draw.append([float(np.mean(f)), *map(float, f)])
        values = np.array(per_draw)
        row = {"sigma": float(level), "repeats": draws, "f1_mean": float(values[:, 0].mean()),
               "f1_mean_std": float(values[:, 0].std(ddof=1)) if draws > 1 else 0.0}
        for j, c in enumerate(classes):
            row[f"f1_{c}"] = float(values[:, j + 1].mean())
        rows.append(row)
    return rows


def time_fits(make_model, X, y, repeats: int = 10) -> FitTimes:
    """Wall time of ``repeats`` fits of fresh models from ``make_model()``: mean, std, median, min."""
    X = np.asarray(X, dtype=np.float64)
    times = []
    for _ in range(repeats):
        model = make_model()
        start = time.perf_counter()
        model.fit(X, y)
        times.append(time.perf_counter() - start)
    times = np.array(times)
    return FitTimes(repeats, float(times.mean()), float(times.std(ddof=1)) if repeats > 1 else 0.0,
                    float(np.median(times)), float(times.min()))


def regression_metrics(true, predicted) -> RegressionMetrics:
    """Pearson r, RMSE, mean absolute error and mean offset of a regression."""
    true, predicted = np.asarray(true, dtype=np.float64), np.asarray(predicted, dtype=np.float64)
    return RegressionMetrics(int(true.size), float(np.corrcoef(true, predicted)[0, 1]) if true.size > 1
                             else float("nan"), float(np.sqrt(np.mean((predicted - true) ** 2))),
                             float(np.mean(np.abs(predicted - true))), float(np.mean(predicted - true)))


@dataclass
class NoiseCurve:
    """Macro and per-class F at each added-noise level (:func:`noise_robustness`), one row per level."""

    rows: list[dict]


@dataclass
class Evaluation:
    """A fitted model applied to labelled inputs.

    ``task`` is ``classify`` (``metrics`` from :func:`classification_metrics`, ``confusion``, ``probabilities``) or
    ``regress`` (``metrics`` from :func:`regression_metrics`; ``true`` and ``predicted`` are numbers).
    """

    task: str
    ids: np.ndarray
    true: np.ndarray
    predicted: np.ndarray
    metrics: ClassificationMetrics | RegressionMetrics
    classes: list = field(default_factory=list)
    probabilities: np.ndarray | None = None
    confusion: Confusion | None = None
    noise: NoiseCurve | None = None
    skipped: int = 0

    def prediction_rows(self, digits: int = 6) -> list[dict]:
        """One row per input: id, label (or true value), prediction and the probability of each class."""
        if self.task == "regress":
            return [{"id": i, "true": round(float(t), 4), "predicted": round(float(p), 4)}
                    for i, t, p in zip(self.ids, self.true, self.predicted, strict=True)]
        return [{"id": i, "label": t, "predicted": p,
                 **{f"p_{c}": round(float(v), digits) for c, v in zip(self.classes, probabilities, strict=True)}}
                for i, t, p, probabilities in zip(self.ids, self.true, self.predicted, self.probabilities,
                                                  strict=True)]


def evaluate(model, data, rows=None, *, noise_repeats: int = 5, noise_levels=PAPER_NOISE_LEVELS, seed: int = 0,
             noise: bool = True) -> Evaluation:
    """Apply a fitted model to ``data`` (or its ``rows``) and score it against the labels (or, for a regressor, its
    target column).

    Parameters
    ----------
    model : Estimator
        A fitted astroxai model.
    data : SpectraSet or ImageSet
        Labelled inputs on the model's grid.
    rows : array of int, optional
        The rows to score (default: all).
    noise_repeats, noise_levels, seed :
        The noise test of spectra classifiers (σ in units of the flux at 5100 Å, the paper's levels by default).
    noise : bool
        Whether to run the noise test.

    Returns
    -------
    Evaluation
        Metrics, confusion matrix, predictions and probabilities, the noise curve; inputs whose label is not one of a
        classifier's classes (or whose target is missing or not positive, for a regressor) are left out and counted
        in ``skipped``.

    Examples
    --------
    >>> from astroxai import SVMClassifier, evaluate, simulate
    >>> data = simulate.spectra_set({"type1": 20, "type2": 20}, seed=3, n_wave=100)
    >>> model = SVMClassifier(classes=2, kernels=["linear"], quick=True).fit(data)
    >>> result = evaluate(model, data, model.split_.rows(data.ids, "test"), noise=False)
    >>> result.task, len(result.ids), result.confusion["classes"]
    ('classify', 8, ['type1', 'type2'])
    """
    rows = np.arange(len(data)) if rows is None else np.asarray(rows, dtype=np.int64)
    inputs = model.check_inputs(data)
    total = rows.size
    if model.task == "regress":
        column = model.target
        if column not in data.meta:
            raise InputError(f"the set has no column {column!r}, which the model predicts")
        values = data.meta[column].astype(np.float64)
        rows = rows[np.isfinite(values[rows]) & (values[rows] > 0)]
        if rows.size == 0:
            raise InputError(f"no input of the set has a positive {column!r}")
        predicted = model.predict(inputs[rows])
        true = values[rows]
        return Evaluation("regress", data.ids[rows], true, predicted, regression_metrics(true, predicted),
                          skipped=int(total - rows.size))
    classes = [str(c) for c in model.classes_]
    rows = rows[np.isin(data.labels[rows], classes)]
    if rows.size == 0:
        raise InputError(f"no input of the set is labelled with the model's classes {classes}")
    X, y = inputs[rows], data.labels[rows]
    if data.NOISE_UNITS:  # normalised inputs (spectra): scored in float64, as the noise curve perturbs them
        X = X.astype(np.float64)
    probabilities = model.predict_proba(X)
    predicted = model.predict(X)
    curve = None
    if noise and data.NOISE_UNITS:
        curve = NoiseCurve(noise_robustness(model, X, y, data.wavelength, classes, noise_levels, noise_repeats, seed))
    return Evaluation("classify", data.ids[rows], y, predicted, classification_metrics(y, predicted, classes), classes,
                      probabilities, confusion(y, predicted, classes), curve, skipped=int(total - rows.size))


def recall_by_group(labels, predicted, groups, group: str = "group") -> list[dict]:
    """Recall per class *and* per group of the inputs (e.g. the literature catalogue that gave each label), with
    what the wrong ones were taken for: where the errors sit.  One row per (class, group) present, sorted.

    Examples
    --------
    >>> from astroxai.models.evaluate import recall_by_group
    >>> rows = recall_by_group(["a", "a", "b"], ["a", "b", "b"], ["x", "y", "y"], group="catalogue")
    >>> [(r["class"], r["catalogue"], r["recall"], r["wrong_as"]) for r in rows]
    [('a', 'x', 1.0, ''), ('a', 'y', 0.0, 'b 1'), ('b', 'y', 1.0, '')]
    """
    labels, predicted, groups = (np.asarray(v, dtype=object) for v in (labels, predicted, groups))
    table = []
    for label, source in sorted(set(zip(labels.tolist(), groups.tolist(), strict=True))):
        here = (labels == label) & (groups == source)
        wrong = predicted[here][predicted[here] != label]
        taken = {c: int((wrong == c).sum()) for c in sorted(set(wrong.tolist()))}
        table.append({"class": label, group: source, "n_test": int(here.sum()),
                      "recall": round(float(np.mean(predicted[here] == label)), 3),
                      "wrong_as": "; ".join(f"{c} {n}" for c, n in taken.items())})
    return table

