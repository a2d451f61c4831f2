"""The paper's comparison of its four kernels (Peruzzi et al. 2021, Tables 3–9): every kernel refitted with its
searched C and γ, scored on the test part, timed, and put under added noise."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np

from astroxai.models.evaluate import (
    PAPER_NOISE_LEVELS,
    NoiseCurve,
    classification_metrics,
    confusion,
    noise_robustness,
    time_fits,
)
from astroxai.models.svm import FastVotes, SVMClassifier, problem_classes
from astroxai.progress import track

log = logging.getLogger(__name__)


@dataclass
class KernelStudy:
    """The paper's comparison of kernels (Tables 3–4, 6–7 and 9, Fig. 3): each kernel of a fitted
    :class:`SVMClassifier`'s search refitted on train + validation and scored on the test part."""

    rows: list[dict]
    test: dict  # kernel → classification metrics
    confusions: dict  # kernel → confusion matrix
    noise: dict  # kernel → NoiseCurve
    chosen: str


def kernel_study(model: SVMClassifier, data, *, timing_repeats: int = 10, noise_repeats: int = 5,
                 noise_levels=PAPER_NOISE_LEVELS, progress=None) -> KernelStudy:
    """Every kernel of ``model``'s search, refitted on its train + validation spectra (the chosen kernel's fit is
    reused), scored on the test part: macro and per-class metrics, confusion, noise robustness (seeded by the model's
    seed) and the wall time of ``timing_repeats`` fits."""
    classes = list(problem_classes(model.classes))  # the paper's order, as every table and confusion matrix uses
    split = model.split_
    train, validation, test = (split.rows(data.ids, part) for part in ("train", "validation", "test"))
    fit_rows = np.concatenate([train, validation])
    X, y = data.flux.astype(np.float64), data.labels
    n_features = X.shape[1]
    rows, tests, confusions, noise = [], {}, {}, {}
    kernels = list(model.validation_)
    for kernel in track(progress, kernels, "kernels", len(kernels)):
        best = model.validation_[kernel]

        def make(kernel=kernel, best=best):
            return model.make_pipeline(kernel, best["C"], best["gamma"], n_features)

        start = time.perf_counter()
        refit = model.pipeline_ if kernel == model.kernel_ else make().fit(X[fit_rows], y[fit_rows])
        predicted = refit.predict(X[test])
        tests[kernel] = classification_metrics(y[test], predicted, classes)
        confusions[kernel] = confusion(y[test], predicted, classes)
        noise[kernel] = NoiseCurve(noise_robustness(FastVotes(refit), X[test], y[test], data.wavelength, classes,
                                                    noise_levels, noise_repeats, model.seed))
        timing = time_fits(make, X[fit_rows], y[fit_rows], timing_repeats) if timing_repeats else {}
        svc = refit.named_steps["svm"]
        rows.append({
            "kernel": kernel, "C": best["C"], "gamma": best["gamma"],
            "svc_gamma": svc.gamma if kernel != "linear" else None,
            "cv_f1": round(best["cv_f1"], 4), "cv_f1_std": round(best["cv_f1_std"], 4),
            **_macro_row("validation", best["validation"]), **_macro_row("test", tests[kernel]),
            "n_support": int(svc.n_support_.sum()),
            "fit_mean_s": round(timing.get("mean_s", float("nan")), 4),
            "fit_std_s": round(timing.get("std_s", float("nan")), 4),
        })
        log.info("  %-6s C=%-10.4g CV F=%.4f  validation F=%.4f  test F=%.4f  [%.0f s]", kernel, best["C"],
                 best["cv_f1"], best["validation"]["macro"]["f1"], tests[kernel]["macro"]["f1"],
                 time.perf_counter() - start)
    return KernelStudy(rows, tests, confusions, noise, model.kernel_)


def _macro_row(prefix: str, metrics: dict) -> dict:
    return {f"{prefix}_{key}": round(metrics["macro"][key], 4) for key in ("precision", "recall", "f1")}
