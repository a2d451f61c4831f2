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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DEFAULT_COMPONENTS = 10
DEFAULT_QUANTILE = 0.995


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
    >>> bool(reference.score(train)["outside"].mean() < 0.02), bool(reference.score(train[:3] + 50)["outside"].all())
    (True, True)
    """

    mean: np.ndarray
    components: np.ndarray
    variances: np.ndarray
    t2_limit: float
    q_limit: float
    quantile: float = DEFAULT_QUANTILE
    n_train: int = 0

    @classmethod
    def fit(cls, X, n_components: int = DEFAULT_COMPONENTS, quantile: float = DEFAULT_QUANTILE) -> TrainingReference:
        """PCA of the training inputs (rows of ``X``, flattened) and the two statistics' limits at ``quantile``."""
        from sklearn.decomposition import PCA

        X = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
        if len(X) < 3:
            raise ValueError(f"a training reference needs at least 3 inputs, got {len(X)}")
        k = int(min(n_components, len(X) - 1, X.shape[1]))
        pca = PCA(n_components=k, svd_solver="full").fit(X)
        variances = np.where(pca.explained_variance_ > 0, pca.explained_variance_, np.finfo(float).tiny)
        reference = cls(pca.mean_, pca.components_, variances, 1.0, 1.0, float(quantile), len(X))
        t2, q = reference._statistics(X)
        reference.t2_limit = float(max(np.quantile(t2, quantile), np.finfo(float).tiny))
        reference.q_limit = float(max(np.quantile(q, quantile), np.finfo(float).tiny))
        return reference

    def _statistics(self, X) -> tuple[np.ndarray, np.ndarray]:
        X = np.asarray(X, dtype=np.float64).reshape(len(X), -1) - self.mean
        scores = X @ self.components.T
        t2 = (scores**2 / self.variances).sum(axis=1)
        q = ((X - scores @ self.components) ** 2).sum(axis=1)
        return t2, q

    def score(self, X) -> dict:
        """Per input: ``t2`` and ``q`` (each ÷ its training limit), ``score`` (the larger) and ``outside``
        (score > 1)."""
        t2, q = self._statistics(X)
        t2, q = t2 / self.t2_limit, q / self.q_limit
        score = np.maximum(t2, q)
        return {"t2": t2, "q": q, "score": score, "outside": score > 1.0}

    def to_json(self) -> dict:
        return {"method": "PCA Hotelling T² and Q residual", "quantile": self.quantile, "n_train": self.n_train,
                "t2_limit": self.t2_limit, "q_limit": self.q_limit, "mean": self.mean.tolist(),
                "components": self.components.tolist(), "variances": self.variances.tolist()}

    @classmethod
    def from_json(cls, state: dict) -> TrainingReference:
        mean = np.asarray(state["mean"], dtype=np.float64)
        components = np.asarray(state["components"], dtype=np.float64)
        variances = np.asarray(state["variances"], dtype=np.float64)
        if components.ndim != 2 or components.shape[1] != mean.size or variances.size != components.shape[0]:
            raise ValueError("training reference: inconsistent shapes")
        values = np.concatenate([mean, components.ravel(), variances, [state["t2_limit"], state["q_limit"]]])
        if not np.all(np.isfinite(values)) or np.any(variances <= 0):
            raise ValueError("training reference: non-finite or non-positive values")
        return cls(mean, components, variances, float(state["t2_limit"]), float(state["q_limit"]),
                   float(state.get("quantile", DEFAULT_QUANTILE)), int(state.get("n_train", 0)))
