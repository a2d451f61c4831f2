"""astroxai's own probability model for SVMs: libsvm's pairwise Platt calibration, fitted outside libsvm.

scikit-learn deprecates ``SVC(probability=True)`` (removed in 1.11) and offers ``CalibratedClassifierCV`` instead,
whose one-vs-rest calibration of the vote-based decision function is not differentiable.  astroxai's saliency maps
are gradients of libsvm's probability model (pairwise sigmoids coupled by Wu, Lin & Weng 2004, method 2), so the
model is kept and fitted here, step for step as libsvm 3.x does it inside ``svm_train`` (Chang & Lin 2011, LIBSVM,
ACM TIST 2, 27, Sect. 8; Platt 2000; Lin, Lin & Weng 2007, Machine Learning 68, 267, for the sigmoid fit):

1. for every pair of classes (i < j), the pair's training inputs (class i first, then class j, each in training
   order) are shuffled and cut into 5 folds;
2. on each fold, a binary SVM with the same kernel and with C replaced by the class-weighted C of the two classes is
   fitted on the other four folds; its decision values on the fold are kept (positive = class i);
3. a sigmoid ``1 / (1 + exp(A f + B))`` is fitted to those cross-validated decision values by the regularised Newton
   method of Lin, Lin & Weng (targets (N₊ + 1)/(N₊ + 2) and 1/(N₋ + 2)).

The shuffle is seeded as scikit-learn's libsvm seeds it (``std::mt19937`` seeded with
``RandomState(random_state).randint(2**31 − 1)``, bounded draws by Lemire's method, the generator re-seeded at every
inner fit), so with the same data and seed the sigmoids equal ``SVC(probability=True)``'s to round-off (tested);
the decisions do not depend on them.  No library exposes this calibration on its own, which is why it is written
here.
"""

from __future__ import annotations

import numpy as np
from sklearn.svm import SVC

FOLDS = 5
_MASK32 = 0xFFFFFFFF


class LibsvmRandom:
    """The random integers scikit-learn's libsvm draws: ``std::mt19937`` (numpy's legacy seeding is the same
    ``init_genrand``) and Lemire's bounded post-processing of each 32-bit draw."""

    def __init__(self, seed: int):
        self._state = np.random.RandomState(seed)
        self._buffer = np.empty(0, dtype=np.uint64)
        self._next = 0

    def _raw(self) -> int:
        if self._next >= self._buffer.size:
            self._buffer = self._state.randint(0, 2**32, size=1024, dtype=np.uint32).astype(np.uint64)
            self._next = 0
        value = int(self._buffer[self._next])
        self._next += 1
        return value

    def below(self, bound: int) -> int:
        """A uniform integer in [0, ``bound``)."""
        product = self._raw() * bound
        low = product & _MASK32
        if low < bound:
            threshold = (-bound) & _MASK32
            threshold %= bound
            while low < threshold:
                product = self._raw() * bound
                low = product & _MASK32
        return product >> 32

    def permutation(self, n: int) -> np.ndarray:
        """libsvm's in-place shuffle of 0 … n−1."""
        perm = np.arange(n)
        for i in range(n):
            j = i + self.below(n - i)
            perm[i], perm[j] = perm[j], perm[i]
        return perm


def libsvm_seed(random_state: int) -> int:
    """The seed scikit-learn hands to libsvm for ``SVC(random_state=random_state)``."""
    return int(np.random.RandomState(random_state).randint(np.iinfo("i").max))


def fit_sigmoid(decision, positive) -> tuple[float, float]:
    """Platt's ``A``, ``B`` for decision values and whether each input is of the positive class, by the Newton method
    with backtracking of Lin, Lin & Weng (2007), libsvm's ``sigmoid_train``."""
    decision = np.asarray(decision, dtype=np.float64)
    positive = np.asarray(positive, dtype=bool)
    n_pos = float(positive.sum())
    n_neg = positive.size - n_pos
    target = np.where(positive, (n_pos + 1.0) / (n_pos + 2.0), 1.0 / (n_neg + 2.0))
    max_iter, min_step, sigma, eps = 100, 1e-10, 1e-12, 1e-5

    def loss(a: float, b: float) -> float:
        z = decision * a + b
        tail = np.log1p(np.exp(-np.abs(z)))
        return float(np.sum(np.where(z >= 0, target * z + tail, (target - 1.0) * z + tail)))

    a, b = 0.0, float(np.log((n_neg + 1.0) / (n_pos + 1.0)))
    value = loss(a, b)
    for _ in range(max_iter):
        z = decision * a + b
        e = np.exp(-np.abs(z))
        p = np.where(z >= 0, e / (1.0 + e), 1.0 / (1.0 + e))  # 1 − sigmoid(z), computed without cancellation
        q = 1.0 - p
        d2 = p * q
        h11 = sigma + np.sum(decision * decision * d2)
        h22 = sigma + np.sum(d2)
        h21 = np.sum(decision * d2)
        d1 = target - p
        g1, g2 = np.sum(decision * d1), np.sum(d1)
        if abs(g1) < eps and abs(g2) < eps:
            break
        det = h11 * h22 - h21 * h21
        da, db = -(h22 * g1 - h21 * g2) / det, -(-h21 * g1 + h11 * g2) / det
        slope = g1 * da + g2 * db
        step = 1.0
        while step >= min_step:
            new_a, new_b = a + step * da, b + step * db
            new_value = loss(new_a, new_b)
            if new_value < value + 1e-4 * step * slope:
                a, b, value = new_a, new_b, new_value
                break
            step /= 2.0
        if step < min_step:
            break
    return float(a), float(b)


def pairwise_platt(Z, y, svc_params: dict, random_state: int) -> tuple[np.ndarray, np.ndarray]:
    """``A`` and ``B`` of every pair of classes (i < j in sorted class order), as ``SVC(probability=True,
    class_weight='balanced', random_state=random_state, **svc_params)`` would fit them on ``(Z, y)``.

    ``Z`` are the features the SVC sees (already scaled); ``svc_params`` its other arguments (``kernel``, ``C``,
    ``gamma``, ``degree``, ``coef0``).
    """
    Z = np.asarray(Z, dtype=np.float64)
    y = np.asarray(y)
    classes = np.unique(y)
    index = np.searchsorted(classes, y)
    weight = len(y) / (len(classes) * np.bincount(index, minlength=len(classes)))  # class_weight='balanced'
    C = float(svc_params.get("C", 1.0))
    inner = {key: value for key, value in svc_params.items() if key not in ("C", "probability", "class_weight",
                                                                         "random_state")}
    seed = libsvm_seed(random_state)
    random = LibsvmRandom(seed)
    prob_a, prob_b = [], []
    for i in range(len(classes)):
        for j in range(i + 1, len(classes)):
            members = np.concatenate([np.flatnonzero(index == i), np.flatnonzero(index == j)])
            sign = np.where(index[members] == i, 1, -1)
            order = random.permutation(members.size)
            decision = np.empty(members.size)
            for fold in range(FOLDS):
                begin, end = fold * members.size // FOLDS, (fold + 1) * members.size // FOLDS
                held = order[begin:end]
                rest = np.concatenate([order[:begin], order[end:]])
                counts = (int((sign[rest] > 0).sum()), int((sign[rest] < 0).sum()))
                if counts[0] == 0 or counts[1] == 0:  # libsvm's rule for a fold with one class
                    decision[held] = 1.0 if counts[0] else (-1.0 if counts[1] else 0.0)
                    continue
                svc = SVC(C=1.0, class_weight={1: C * weight[i], -1: C * weight[j]}, **inner)
                svc.fit(Z[members[rest]], sign[rest])
                random = LibsvmRandom(seed)  # every inner libsvm fit re-seeds the generator with the same seed
                decision[held] = svc.decision_function(Z[members[held]])
            a, b = fit_sigmoid(decision, sign > 0)
            prob_a.append(a)
            prob_b.append(b)
    return np.array(prob_a), np.array(prob_b)
