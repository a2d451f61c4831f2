"""A fitted scikit-learn SVM pipeline as a PyTorch module with the same ``predict_proba``.

With the model in torch, the gradient of a class probability with respect to every input flux comes from one
backward pass (autograd), and every attribution method of captum applies to SVMs as it does to neural nets.

The module reproduces, in float64:

1. the scaler (``StandardScaler`` or ``'passthrough'``): ``z = (x − mean) / scale``;
2. the kernel between ``z`` and the support vectors (linear, RBF, polynomial, sigmoid, with the fitted γ,
   coef0 and degree);
3. the one-vs-one decision values of libsvm, one per pair of classes (i < j):
   ``f_ij = Σ_{sv ∈ i} α^j_sv K(sv, z) + Σ_{sv ∈ j} α^i_sv K(sv, z) − ρ_ij`` (scikit-learn's private
   ``_dual_coef_`` / ``_intercept_`` hold libsvm's own signs, also for two classes);
4. Platt sigmoids ``r_ij = 1 / (1 + exp(A_ij f_ij + B_ij))``, clipped to [1e-7, 1 − 1e-7] as libsvm clips them
   (``A``, ``B`` from astroxai's own calibration, :mod:`astroxai.models.probability`, or from an SVC fitted with
   ``probability=True``);
5. libsvm's pairwise coupling (Wu, Lin & Weng 2004, method 2; scikit-learn's libsvm uses it for two classes
   too), replayed with libsvm's own fixed-point iterations and stopping rule (error < 0.005 / k, at most
   max(100, k) iterations), so the result matches ``predict_proba`` to rounding rather than to the ~1e-3 of
   the iteration's tolerance.  ``coupling='exact'`` instead solves the coupling's linear system exactly.

No maintained library converts an ``SVC`` with probabilities into torch (``sk2torch`` was last released in 2022
and targets TorchScript), which is why this is written here; the tests compare it with scikit-learn for every
kernel, for two and three classes, with and without scaling.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from torch import nn

from astroxai.errors import InputError

MIN_PROB = 1e-7


def _svc_parts(pipeline):
    """The scaler (or None) and the SVC of a fitted ``Pipeline([scaler|'passthrough', SVC])`` or a bare SVC."""
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    steps = [step for _, step in pipeline.steps] if isinstance(pipeline, Pipeline) else [pipeline]
    steps = [s for s in steps if s is not None and not (isinstance(s, str) and s == "passthrough")]
    svc = steps[-1]
    if not isinstance(svc, SVC):
        raise TypeError(f"the last step must be a fitted sklearn.svm.SVC, not {type(svc).__name__}")
    scalers = steps[:-1]
    if len(scalers) > 1 or (scalers and not isinstance(scalers[0], StandardScaler)):
        raise TypeError("only Pipeline(StandardScaler or 'passthrough', SVC) can be converted, got "
                        f"{[type(s).__name__ for s in steps]}")
    return (scalers[0] if scalers else None), svc


def libsvm_sigmoids(svc) -> tuple[np.ndarray, np.ndarray]:
    """``probA_`` / ``probB_`` of an SVC fitted with ``probability=True`` (empty arrays otherwise)."""
    with warnings.catch_warnings():  # probA_/probB_ are deprecated with the option in scikit-learn 1.9
        warnings.simplefilter("ignore", FutureWarning)
        prob_a = getattr(svc, "_probA", None)
        prob_a = prob_a if prob_a is not None and np.size(prob_a) else getattr(svc, "probA_", np.empty(0))
        prob_b = getattr(svc, "_probB", None)
        prob_b = prob_b if prob_b is not None and np.size(prob_b) else getattr(svc, "probB_", np.empty(0))
    return np.asarray(prob_a, dtype=np.float64), np.asarray(prob_b, dtype=np.float64)


class SVCProbability(nn.Module):
    """``forward(x)`` = ``pipeline.predict_proba(x)`` as a differentiable torch function (float64).

    Parameters
    ----------
    pipeline : fitted ``Pipeline(StandardScaler | 'passthrough', SVC)`` or ``SVC``
    prob_a, prob_b : array of one value per pair of classes, optional
        The Platt sigmoids; by default those of an SVC fitted with ``probability=True``.
    coupling : ``'libsvm'`` (default; replays libsvm's iterations) or ``'exact'`` (solves the coupling)
    """

    def __init__(self, pipeline, prob_a=None, prob_b=None, coupling: str = "libsvm"):
        super().__init__()
        if coupling not in ("libsvm", "exact"):
            raise InputError("coupling must be 'libsvm' or 'exact'")
        scaler, svc = _svc_parts(pipeline)
        if prob_a is None or prob_b is None:
            prob_a, prob_b = libsvm_sigmoids(svc)
        if np.size(prob_a) == 0:
            raise InputError("the SVC was fitted without probability=True and no Platt sigmoids were given")
        k = len(svc.classes_)
        if np.size(prob_a) != k * (k - 1) // 2 or np.size(prob_b) != np.size(prob_a):
            raise InputError(f"{k} classes need {k * (k - 1) // 2} Platt sigmoids, got {np.size(prob_a)} and "
                             f"{np.size(prob_b)}")
        if svc.kernel not in ("linear", "rbf", "poly", "sigmoid"):
            raise InputError(f"kernel {svc.kernel!r} cannot be converted (precomputed or callable)")
        self.classes = [str(c) for c in svc.classes_]
        self.coupling = coupling
        self.kernel = svc.kernel
        self.gamma = float(svc._gamma)
        self.coef0 = float(svc.coef0)
        self.degree = int(svc.degree)
        k = len(self.classes)
        self.pairs = [(i, j) for i in range(k) for j in range(i + 1, k)]
        n_features = svc.support_vectors_.shape[1]
        mean = np.zeros(n_features) if scaler is None or scaler.mean_ is None else scaler.mean_
        scale = np.ones(n_features) if scaler is None or scaler.scale_ is None else scaler.scale_

        # Pairwise dual coefficients as one matrix (n_SV × n_pairs), zero where a vector is not in the pair.
        dual = np.asarray(svc._dual_coef_, dtype=np.float64)
        starts = np.concatenate([[0], np.cumsum(svc.n_support_)])
        weights = np.zeros((dual.shape[1], len(self.pairs)))
        for p, (i, j) in enumerate(self.pairs):
            weights[starts[i]:starts[i + 1], p] = dual[j - 1, starts[i]:starts[i + 1]]
            weights[starts[j]:starts[j + 1], p] = dual[i, starts[j]:starts[j + 1]]
        intercept = np.asarray(svc._intercept_, dtype=np.float64)
        vectors = np.asarray(svc.support_vectors_, dtype=np.float64)

        def buffer(name, value):
            self.register_buffer(name, torch.as_tensor(np.asarray(value, dtype=np.float64)))

        if self.kernel == "linear":
            # A linear kernel collapses into one weight matrix on the raw fluxes (the scaler folded in).
            direction = vectors.T @ weights  # n_features × n_pairs, in scaled units
            buffer("linear_weight", direction / scale[:, None])
            buffer("linear_bias", intercept - (mean / scale) @ direction)
        else:
            buffer("mean", mean)
            buffer("scale", scale)
            buffer("vectors", vectors)
            buffer("vector_sq", np.einsum("ij,ij->i", vectors, vectors))
            buffer("weights", weights)
            buffer("intercept", intercept)
        buffer("prob_a", np.ravel(prob_a))
        buffer("prob_b", np.ravel(prob_b))

    @classmethod
    def from_pipeline(cls, pipeline, prob_a=None, prob_b=None, coupling: str = "libsvm") -> SVCProbability:
        return cls(pipeline, prob_a, prob_b, coupling).eval()

    def decision_pairs(self, x: torch.Tensor) -> torch.Tensor:
        """libsvm's one-vs-one decision values, (N, n_pairs), pairs (i < j) in class order."""
        x = x.to(self.prob_a.dtype)  # float64, unless the module was cast (``.float()``, measured in the benchmark)
        if self.kernel == "linear":
            return x @ self.linear_weight + self.linear_bias
        z = (x - self.mean) / self.scale
        dot = z @ self.vectors.T
        if self.kernel == "rbf":
            distance = (z * z).sum(dim=1, keepdim=True) + self.vector_sq - 2.0 * dot
            gram = torch.exp(-self.gamma * distance.clamp_min(0.0))
        elif self.kernel == "poly":
            gram = (self.gamma * dot + self.coef0) ** self.degree
        else:
            gram = torch.tanh(self.gamma * dot + self.coef0)
        return gram @ self.weights + self.intercept

    def votes(self, X, margin: float = 1e-9) -> tuple[np.ndarray, np.ndarray]:
        """libsvm's one-vs-one vote for each input, from the decision values of one matrix product: the index of the
        winning class (ties to the first, as libsvm breaks them) and whether the vote is *unsure* — some decision
        value within ``margin`` of zero, where the round-off of a different summation order could flip it."""
        with torch.no_grad():
            decision = self.decision_pairs(torch.as_tensor(np.asarray(X, dtype=np.float64))).numpy()
        return self._vote(decision, margin)

    def decide(self, X, margin: float = 1e-9) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`votes` and :meth:`predict_proba` from one pass over the inputs (one matrix product)."""
        with torch.no_grad():
            decision = self.decision_pairs(torch.as_tensor(np.asarray(X, dtype=np.float64)))
            probabilities = self.couple(self.platt(decision)).numpy()
        return *self._vote(decision.numpy(), margin), probabilities

    def _vote(self, decision: np.ndarray, margin: float) -> tuple[np.ndarray, np.ndarray]:
        votes = np.zeros((len(decision), len(self.classes)), dtype=np.int64)
        for p, (i, j) in enumerate(self.pairs):
            positive = decision[:, p] > 0
            votes[:, i] += positive
            votes[:, j] += ~positive
        return votes.argmax(axis=1), (np.abs(decision) < margin).any(axis=1)

    def platt(self, decision: torch.Tensor) -> torch.Tensor:
        """Platt probabilities r_ij that class i beats class j from decision values, clipped as libsvm clips them."""
        return torch.sigmoid(-(self.prob_a * decision + self.prob_b)).clamp(MIN_PROB, 1 - MIN_PROB)

    def pairwise(self, x: torch.Tensor) -> torch.Tensor:
        """Platt probabilities r_ij that class i beats class j, (N, n_pairs), clipped as libsvm clips them."""
        return self.platt(self.decision_pairs(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.couple(self.pairwise(x))

    def couple(self, r: torch.Tensor) -> torch.Tensor:
        """Class probabilities (N, k) from the pairwise probabilities ``r`` (N, n_pairs)."""
        k = len(self.classes)
        # scikit-learn's libsvm couples two classes with the same iterations (newer libsvm releases return
        # r_01 directly, which differs by up to the iteration tolerance); exact coupling gives (r_01, r_10).
        # R[t][j] = probability that t beats j.
        R = [[None] * k for _ in range(k)]
        for p, (i, j) in enumerate(self.pairs):
            R[i][j], R[j][i] = r[:, p], 1 - r[:, p]
        Q = [[None] * k for _ in range(k)]
        for t in range(k):
            Q[t][t] = sum(R[j][t] ** 2 for j in range(k) if j != t)
            for j in range(k):
                if j != t:
                    Q[t][j] = -R[j][t] * R[t][j]
        return self._couple_exact(Q, k) if self.coupling == "exact" else self._couple_libsvm(Q, k)

    @staticmethod
    def _couple_exact(Q, k):
        """Minimise pᵀQp subject to Σp = 1: solve [[Q, 1], [1ᵀ, 0]] [p, b] = [0, 1]."""
        n = Q[0][0].shape[0]
        dtype, device = Q[0][0].dtype, Q[0][0].device
        ones = torch.ones(n, dtype=dtype, device=device)
        rows = [torch.stack([*Q[t], ones], dim=1) for t in range(k)]
        rows.append(torch.stack([ones] * k + [torch.zeros_like(ones)], dim=1))
        system = torch.stack(rows, dim=1)  # N × (k+1) × (k+1)
        rhs = torch.zeros(n, k + 1, dtype=dtype, device=device)
        rhs[:, k] = 1.0
        return torch.linalg.solve(system, rhs)[:, :k]

    @staticmethod
    def _couple_libsvm(Q, k):
        """libsvm's fixed-point iterations, batched: a spectrum that has converged gets a zero step."""
        # start from Q so that p stays on the autograd graph: a spectrum already converged at 1/k (every pairwise
        # probability 1/2) then has gradient zero, the exact derivative of libsvm's answer, instead of no graph
        p = [Q[0][0] * 0.0 + 1.0 / k for _ in range(k)]
        eps = 0.005 / k
        for _ in range(max(100, k)):
            Qp = [sum(Q[t][j] * p[j] for j in range(k)) for t in range(k)]
            pQp = sum(p[t] * Qp[t] for t in range(k))
            error = torch.stack([(Qp[t] - pQp).abs() for t in range(k)], dim=1).amax(dim=1)
            active = error >= eps
            if not bool(active.any()):
                break
            for t in range(k):
                diff = torch.where(active, (pQp - Qp[t]) / Q[t][t], torch.zeros_like(pQp))
                p[t] = p[t] + diff
                pQp = (pQp + diff * (diff * Q[t][t] + 2 * Qp[t])) / (1 + diff) ** 2
                Qp = [(Qp[j] + diff * Q[t][j]) / (1 + diff) for j in range(k)]
                p = [p[j] / (1 + diff) for j in range(k)]
        return torch.stack(p, dim=1)

    def predict_proba(self, X) -> np.ndarray:
        """NumPy in, NumPy out, like scikit-learn (no gradients)."""
        with torch.no_grad():
            return self(torch.as_tensor(np.asarray(X, dtype=np.float64))).numpy()
