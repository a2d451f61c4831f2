"""The paper's saliency study (Peruzzi et al. 2021, Sect. 5.4) computed on a labelled set of spectra, nothing
written: every spectrum explained, each map's science columns (Hβ core/wing means and their sign pattern, the share
of |map| near the lines), the physics summary over the set, and the gallery — every misclassified spectrum and a
seeded sample of correct ones (the paper's Tables 10–11).  :func:`astroxai.report.writers.write_saliency_study`
writes it."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from astroxai.explain.explainer import Explainer, Explanation
from astroxai.explain.physics import CoreWingSigns, PhysicsSummary, physics_checks, physics_summary

#: Correct spectra drawn at random for the gallery (the paper showed 7 beside its misclassified ones).
DEFAULT_N_CORRECT = 7
#: The paper's broad-line classes: spectra with a broad Hβ when the sample carries no per-spectrum truth.
PAPER_BROAD = ("type1", "intermediate")


def select_gallery(labels, predicted, n_correct: int = DEFAULT_N_CORRECT,
                   seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Indices of every misclassified spectrum and of ``n_correct`` correct ones drawn with ``seed``."""
    labels, predicted = np.asarray(labels).astype(str), np.asarray(predicted).astype(str)
    wrong = np.flatnonzero(labels != predicted)
    right = np.flatnonzero(labels == predicted)
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(right, size=min(n_correct, len(right)), replace=False)) if len(right) else right
    return wrong, sample


def gallery_first(labels, predicted, rows, per_class: int, wrong: int) -> tuple[np.ndarray, int]:
    """``rows`` reordered so that a gallery comes first — ``per_class`` correctly classified inputs of each class,
    class by class, then up to ``wrong`` misclassified ones — and the gallery's size."""
    labels, predicted, rows = np.asarray(labels), np.asarray(predicted), np.asarray(rows, dtype=np.int64)
    right = predicted[rows] == labels[rows]
    chosen = [r for cls in sorted(set(labels[rows])) for r in rows[right & (labels[rows] == cls)][:per_class]]
    chosen += list(rows[~right][:wrong])
    order = np.concatenate([np.asarray(chosen, dtype=np.int64), np.setdiff1d(rows, chosen, assume_unique=False)])
    return order, len(chosen)


def sign_pattern(signs: CoreWingSigns | None, n: int) -> np.ndarray:
    """Per map, the Hβ core/wing sign pattern as text: ``opposite signs``, ``same sign``, ``zero map`` or ``no Hβ on
    the grid``."""
    if signs is None:
        return np.full(n, "no Hβ on the grid", dtype=object)
    pattern = np.where(signs.zero, "zero map", np.where(signs.opposite, "opposite signs", "same sign"))
    return pattern.astype(object)


@dataclass
class SaliencyStudy:
    """A saliency study's results.

    Attributes
    ----------
    explanation : Explanation
        Every spectrum's map (``inputs`` dropped once written, to travel light).
    labels : (n,) str
        The true classes.
    broad : (n,) bool or None
        Which spectra count as broad-line for the Hβ sign test; ``None`` when no class was declared broad-line, and
        then ``physics`` is empty and ``skipped`` says why.
    science : list of dict
        Per spectrum: ``hbeta_core_mean``, ``hbeta_wing_mean``, ``hbeta_signs``, ``line_saliency_share``.
    physics : PhysicsSummary
        :func:`~astroxai.explain.physics.physics_summary` over the set (empty when skipped).
    wrong, correct : ndarray
        Rows of the gallery: every misclassified spectrum, and the seeded sample of correct ones.
    """

    explanation: Explanation
    labels: np.ndarray
    broad: np.ndarray | None
    science: list = field(default_factory=list)
    physics: PhysicsSummary | dict = field(default_factory=dict)
    wrong: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    correct: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    skipped: str = ""
    seed: int = 0
    model: str = ""  # which model the maps explain, as the report names it (``SVM linear``)

    @property
    def gallery(self) -> np.ndarray:
        """The gallery's rows, misclassified first, numbered 1… in this order."""
        return np.concatenate([self.wrong, self.correct]).astype(np.int64)

    def __len__(self) -> int:
        return len(self.explanation)


def saliency_study(model, data, *, broad=None, n_correct: int = DEFAULT_N_CORRECT, seed: int = 0,
                   method: str = "saliency") -> SaliencyStudy:
    """Explain every spectrum of ``data`` (normally the test part of the model's split) and measure the physics.

    ``broad`` marks the spectra with a broad Hβ: per spectrum (the simulator's truth), or ``None`` for none
    declared, in which case the Hβ and line-share checks are skipped (they compare broad- and narrow-line maps).
    """
    explanation = Explainer(model, method).explain(data)
    labels, wavelength = np.asarray(data.labels), np.asarray(data.wavelength, dtype=np.float64)
    checks = physics_checks(wavelength, explanation.maps)
    science = checks.rows(sign_pattern(checks.signs, len(explanation)))
    wrong, correct = select_gallery(labels, explanation.predicted, n_correct, seed)
    name = f"SVM {model.kernel_}" if hasattr(model, "kernel_") else type(model).__name__
    study = SaliencyStudy(explanation, labels, None, science, {}, wrong, correct, seed=seed, model=name)
    if broad is None:
        study.skipped = ("no class of the sample is declared broad-line (--broad CLASS,...): the Hβ core/wing and "
                         "line-share checks compare broad- with narrow-line spectra")
        return study
    study.broad = np.asarray(broad, dtype=bool)
    study.physics = physics_summary(wavelength, explanation.maps, study.broad, explanation.targets,
                                    explanation.classes, checks)
    return study


def broad_rows(labels, broad_classes) -> np.ndarray | None:
    """Which spectra count as broad-line, from the classes declared broad (``None`` when none is)."""
    if not broad_classes:
        return None
    return np.isin(np.asarray(labels).astype(str), [str(c) for c in broad_classes])


__all__ = ["DEFAULT_N_CORRECT", "PAPER_BROAD", "SaliencyStudy", "broad_rows", "gallery_first", "saliency_study",
           "select_gallery", "sign_pattern"]
