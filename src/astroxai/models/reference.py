"""How far an input lies from what a model was trained on: an out-of-distribution flag for ``predict``.

A classifier trained on three kinds of AGN still answers for a star, a passive galaxy or a quasar whose lines fall
off the grid, and often with a high probability: the probability says which of the known classes fits best, not
whether any fits.  The reference here is the chemometricians' pair of PCA statistics (Jackson & Mudholkar 1979;
"Hotelling T² and Q residuals"), fitted on the model's training inputs:

* **T²**: the squared Mahalanobis distance inside the leading principal components (an input far along the
  directions the training set varies in);
* **Q**: the squared distance from that subspace (an input with shapes the training set never had).

Each is divided by its value at the ``quantile`` (default 99.5 %) of the training inputs themselves; the larger of
the two ratios is the ``ood_score`` and an input with a score above 1 is flagged ``out_of_distribution``.  By
construction about 0.5 % of the training set itself is flagged.  scikit-learn's PCA does the decomposition; only
the two statistics and their limits are written here (no library computes them).

The reference is well posed for any training set, however few its inputs or however many of them repeat:

* a component is kept in T² only above numpy's rank tolerance (``matrix_rank``: singular value above
  ``max(n, p) · eps`` times the largest).  A direction the training set does not vary in has a variance made of
  round-off, which differs between BLAS kernels (AVX2 or AVX-512); dividing by it gave T² values of 10²⁸;
* at least one direction of real variance is left to Q (at most ``rank − 1`` components in T²), so that the Q
  limit measures the training inputs' own residuals, not round-off.  With fewer inputs than ``n_components + 2``
  the T² subspace is smaller than asked for; ``n_kept`` and ``rank`` are recorded in the model;
* neither limit falls below the round-off level of the training matrix, so no score divides by a number
  round-off could make zero.

A model folder written before these rules may carry a degenerate reference (:func:`reference_problem` says why);
it still loads, without the reference and with a warning (retraining fits a sound one).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from astroxai.errors import InputError
from astroxai.results import Result

DEFAULT_COMPONENTS = 10
DEFAULT_QUANTILE = 0.995


@dataclass(eq=False)
class Novelty(Result):
    """How far each input lies from the training inputs (:meth:`TrainingReference.score`): ``t2`` and ``q``, each ÷
    its training limit, ``score`` (the larger; > 1: outside what the model was trained on) and ``outside``."""

    t2: np.ndarray
    q: np.ndarray
    score: np.ndarray
    outside: np.ndarray


@dataclass
class TrainingReference:
    """The training inputs summarised for the out-of-distribution score (see the module doc).

    Examples
    --------
    >>> import numpy as np
    >>> from astroxai.models.reference import TrainingReference
    >>> rng = np.random.default_rng(0)
    >>> train = rng.normal(size=(500, 20)) @ np.diag(np.linspace(3, 0.1, 20))
    >>> reference = TrainingReference.fit(train, n_components=5)
    >>> bool(reference.score(train).outside.mean() < 0.02), bool(reference.score(train[:3] + 50).outside.all())
    (True, True)
    """

    mean: np.ndarray
    components: np.ndarray
    variances: np.ndarray
    t2_limit: float
    q_limit: float
    quantile: float = DEFAULT_QUANTILE
    n_train: int = 0
    n_kept: int = 0
    rank: int = 0

    @classmethod
    def fit(cls, X, n_components: int = DEFAULT_COMPONENTS, quantile: float = DEFAULT_QUANTILE) -> TrainingReference:
        """PCA of the training inputs (rows of ``X``, flattened) and the two statistics' limits at ``quantile``.

        At most ``n_components`` components, and only those above the rank tolerance, with one direction of real
        variance left for Q (see the module doc); ``ValueError`` for fewer than 3 inputs or identical inputs."""
        from sklearn.decomposition import PCA

        X = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
        if len(X) < 3:
            raise InputError(f"a training reference needs at least 3 inputs, got {len(X)}")
        if not np.all(np.isfinite(X)):
            raise InputError("a training reference needs finite inputs")
        if np.all(X == X[0]):
            raise InputError(f"the {len(X)} training inputs are identical: no reference to measure novelty against")
        pca = PCA(n_components=None, svd_solver="full").fit(X)
        singular = pca.singular_values_
        tolerance = rank_tolerance(singular, X.shape)
        rank = max(int(np.count_nonzero(singular > tolerance)), 1)  # not all identical: at least one direction
        k = int(min(n_components, rank - 1))
        # the components are stored C-ordered, as a model folder gives them back: the same BLAS path before and
        # after save -> load
        components = np.ascontiguousarray(pca.components_[:k])
        variances = np.ascontiguousarray(pca.explained_variance_[:k])
        reference = cls(pca.mean_.copy(), components, variances, 1.0, 1.0, float(quantile), len(X), k, rank)
        t2, q = reference._statistics(X)
        # floors: T² is a sum of k unit-variance terms (0 when k == 0); Q at least the squared round-off of X
        reference.t2_limit = float(max(np.quantile(t2, quantile), np.finfo(float).tiny))
        reference.q_limit = float(max(np.quantile(q, quantile), tolerance**2, np.finfo(float).tiny))
        return reference

    def _statistics(self, X) -> tuple[np.ndarray, np.ndarray]:
        X = np.asarray(X, dtype=np.float64).reshape(len(X), -1) - self.mean
        scores = X @ self.components.T
        t2 = (scores**2 / self.variances).sum(axis=1)
        q = ((X - scores @ self.components) ** 2).sum(axis=1)
        return t2, q

    def score(self, X) -> Novelty:
        """Per input: T² and Q, each ÷ its training limit, the larger of the two and whether it is above 1."""
        t2, q = self._statistics(X)
        t2, q = t2 / self.t2_limit, q / self.q_limit
        score = np.maximum(t2, q)
        return Novelty(t2, q, score, score > 1.0)

    def to_json(self) -> dict:
        return {"method": "PCA Hotelling T² and Q residual", "quantile": self.quantile, "n_train": self.n_train,
                "n_kept": self.n_kept, "rank": self.rank,
                "t2_limit": self.t2_limit, "q_limit": self.q_limit, "mean": self.mean.tolist(),
                "components": self.components.tolist(), "variances": self.variances.tolist()}

    @classmethod
    def from_json(cls, state: dict) -> TrainingReference:
        mean = np.asarray(state["mean"], dtype=np.float64)
        components = np.asarray(state["components"], dtype=np.float64)
        variances = np.asarray(state["variances"], dtype=np.float64)
        if components.ndim != 2 or components.shape[1] != mean.size or variances.size != components.shape[0]:
            raise InputError(f"training reference: inconsistent shapes (mean {mean.shape}, components "
                             f"{components.shape}, variances {variances.shape})")
        values = np.concatenate([mean, components.ravel(), variances, [state["t2_limit"], state["q_limit"]]])
        if not np.all(np.isfinite(values)) or np.any(variances <= 0):
            raise InputError("training reference: non-finite or non-positive values")
        return cls(mean, np.ascontiguousarray(components), variances, float(state["t2_limit"]),
                   float(state["q_limit"]), float(state.get("quantile", DEFAULT_QUANTILE)),
                   int(state.get("n_train", 0)), int(state.get("n_kept", len(variances))), int(state.get("rank", 0)))

    def problem(self) -> str | None:
        """Why this reference cannot be trusted, or ``None``: only a reference written before the rank rules (see
        the module doc) can have one."""
        return reference_problem(self)


def rank_tolerance(singular_values, shape) -> float:
    """numpy's ``matrix_rank`` tolerance: singular values at or below it are round-off (``max(shape) · eps`` times
    the largest)."""
    largest = float(np.max(singular_values)) if len(singular_values) else 0.0
    return largest * max(shape) * np.finfo(np.float64).eps


def reference_problem(reference: TrainingReference) -> str | None:
    """Why a (stored) reference is degenerate, or ``None``.

    Two signs, both readable from the stored numbers alone: a kept variance below the rank tolerance (relative to
    the largest; T² then divides by round-off), or as many components as the training inputs have independent
    directions (``n_train − 1``: the training residuals left to Q are round-off, and so is the Q limit)."""
    variances, n, p = reference.variances, reference.n_train, reference.mean.size
    if len(variances):
        # a variance is a squared singular value / (n - 1): compare on the singular values' scale
        relative = np.sqrt(variances / variances.max())
        tolerance = max(n, p) * np.finfo(np.float64).eps
        if np.any(relative <= tolerance):
            return (f"{int(np.sum(relative <= tolerance))} of its {len(variances)} components have no variance "
                    "beyond round-off")
    if n and len(variances) >= n - 1:
        return (f"{len(variances)} components for {n} training inputs leave only round-off to the Q residual "
                f"(limit {reference.q_limit:.3g})")
    return None
