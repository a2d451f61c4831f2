"""The paper's SVM classifier and its hyper-parameter search (Peruzzi et al. 2021, A&A 652, A19, Sect. 3;
doi:10.1051/0004-6361/202038911).

:class:`SVMClassifier` is the estimator: ``fit`` draws the paper's split, searches every kernel, chooses the kernel on
the validation part and refits it on train + validation with astroxai's own probability model
(:mod:`astroxai.models.probability`).  Every model is ``Pipeline(scaler, SVC(class_weight='balanced'))``, where the
scaler is ``'passthrough'`` by default (the SVM sees the normalised fluxes, as the paper's evidently did:
``docs/results.md``) or, with ``standardise=True``, a ``StandardScaler`` fitted on the training part only, so that
nothing leaks from validation or test spectra.

The search is the paper's: a log grid of C (and of γ for the RBF kernel) scored by 5-fold cross-validated
macro F, then refined around the best C until the score stops improving in its fourth decimal.  It is made
fast without changing its result: inside each fold the scaled features' Gram matrix is computed once and
every (kernel, γ, C) is fitted on the precomputed kernel built from it, so the 1000-dimensional dot
products are done once per fold instead of once per fit (≈ 7× faster per fit, same predictions, checked by
the tests against scikit-learn's own ``cross_val_score`` on the pipeline).  scikit-learn's ``GridSearchCV``
cannot share kernels between fits, which is why this loop is written here.

Polynomial kernels: scikit-learn's ``(γ x·y + coef0)^d`` with ``coef0 = 0`` is ``γ^d (x·y)^d``; scaling a
kernel by s is undone exactly by scaling C by 1/s (the dual variables scale with it and the decision
function is unchanged).  So for poly kernels γ and C are one parameter, and the search fixes
γ = 1 / n_features (scikit-learn's ``gamma='scale'`` on standardised data) and searches C only.
"""

from __future__ import annotations

import hashlib
import logging
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from astroxai.errors import InputError
from astroxai.models.base import Estimator
from astroxai.models.bridge import SVCProbability
from astroxai.models.evaluate import (
    PAPER_NOISE_LEVELS,
    NoiseCurve,
    classification_metrics,
    confusion,
    noise_robustness,
    time_fits,
)
from astroxai.models.persist import META_FILE, SKOPS_FILE, check_stored_grid, checked_file, dump_skops, load_skops
from astroxai.models.probability import pairwise_platt
from astroxai.models.reference import TrainingReference
from astroxai.models.split import Split, labelled_split
from astroxai.parallel import default_workers
from astroxai.progress import track

log = logging.getLogger(__name__)

#: The four kernels of the paper: name → SVC arguments.
KERNELS = {
    "linear": {"kernel": "linear"},
    "rbf": {"kernel": "rbf"},
    "poly2": {"kernel": "poly", "degree": 2},
    "poly3": {"kernel": "poly", "degree": 3},
}

#: The paper's C range, 5e-4 … 5e4, on a half-decade log grid (17 values).
PAPER_C_GRID = tuple(float(f"{5e-4 * 10 ** (k / 2):.4g}") for k in range(17))
#: The paper's γ range was 0.005 … 5, yet its best RBF γ was 0.003 (below it).  On 1000 standardised fluxes
#: the squared distance between two spectra is ~2000, so γ ≥ 0.05 makes every kernel entry ~0.  The grid
#: therefore runs from 5e-6 to 5 in half decades (13 values), containing the paper's range; on the default
#: simulated sample the best γ is 5e-5, an interior point of this grid.
GAMMA_GRID = tuple(float(f"{5e-6 * 10 ** (k / 2):.4g}") for k in range(13))
#: ``--quick``: one value per decade, three γ, three folds, no refinement.
QUICK_C_GRID = tuple(float(f"{5e-4 * 10 ** k:.4g}") for k in range(9))
QUICK_GAMMA_GRID = (5e-5, 5e-4, 5e-3)

#: Above this many training spectra per fold the Gram matrices (N² doubles each) get too big to cache.
MAX_GRAM_SAMPLES = 20000


def svm_gamma(kernel: str, gamma: float | None, n_features: int) -> float | str:
    """The γ passed to SVC: the searched value for RBF, 1/n_features for poly, unused for linear."""
    if kernel == "rbf":
        if gamma is None:
            raise InputError("the RBF kernel needs a γ")
        return float(gamma)
    if kernel.startswith("poly"):
        return 1.0 / n_features
    return "scale"


def make_svm(kernel: str, C: float, gamma: float | None = None, *, n_features: int, probability: bool = False,
             seed: int = 0, cache_size: float = 500, standardise: bool = True) -> Pipeline:
    """``Pipeline(StandardScaler or 'passthrough', SVC)`` with the paper's settings for one kernel and its parameters.

    ``standardise=False`` puts ``'passthrough'`` in the scaler's place: the SVM then sees the normalised
    fluxes themselves, which is what the paper's noise-robustness figures suggest it did (docs/results.md).

    ``probability=True`` asks libsvm for its own Platt scaling; astroxai does not need it any more (its own
    calibration, :mod:`astroxai.models.probability`, gives the same sigmoids), and the tests use it only as a
    reference while scikit-learn still offers it (deprecated in 1.9, removed in 1.11).
    """
    if kernel not in KERNELS:
        raise InputError(f"unknown kernel {kernel!r}; choose from {sorted(KERNELS)}")
    # ``probability`` is passed only when wanted: scikit-learn ≥ 1.9 warns whenever it is given at all.
    extra = {"probability": True} if probability else {}
    svc = SVC(C=float(C), gamma=svm_gamma(kernel, gamma, n_features), class_weight="balanced",
              random_state=seed, cache_size=cache_size, **KERNELS[kernel], **extra)
    return Pipeline([("scale", StandardScaler() if standardise else "passthrough"), ("svm", svc)])


def fit_quietly(model, X, y):
    """Fit, silencing only scikit-learn's deprecation of ``SVC(probability=True)`` (reference fits in the tests)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*probability.*deprecated", category=FutureWarning)
        return model.fit(X, y)


@dataclass
class _Fold:
    """One CV fold's scaled Gram matrices (train × train and validation × train) and labels."""

    gram: np.ndarray
    gram_val: np.ndarray
    sq: np.ndarray
    sq_val: np.ndarray
    y: np.ndarray
    y_val: np.ndarray

    @classmethod
    def make(cls, X, y, train, val, standardise: bool = True) -> _Fold:
        A, B = X[train], X[val]
        if standardise:
            scaler = StandardScaler().fit(A)
            A, B = scaler.transform(A), scaler.transform(B)
        return cls(A @ A.T, B @ A.T, np.einsum("ij,ij->i", A, A), np.einsum("ij,ij->i", B, B), y[train], y[val])

    def kernels(self, kernel: str, gamma: float | None, n_features: int) -> tuple[np.ndarray, np.ndarray]:
        """The train and validation kernel matrices, as libsvm computes them from the scaled features."""
        if kernel == "linear":
            return self.gram, self.gram_val
        if kernel == "rbf":
            def rbf(gram, sq_rows):
                distance = np.maximum(sq_rows[:, None] + self.sq[None, :] - 2.0 * gram, 0.0)
                return np.exp(-gamma * distance)

            return rbf(self.gram, self.sq), rbf(self.gram_val, self.sq_val)
        degree = KERNELS[kernel]["degree"]
        g = 1.0 / n_features
        return (g * self.gram) ** degree, (g * self.gram_val) ** degree


def _score_task(fold: _Fold, kernel: str, gamma: float | None, Cs, n_features: int) -> list[float]:
    """Macro F on one fold for each C, sharing one kernel matrix."""
    K, K_val = fold.kernels(kernel, gamma, n_features)
    scores = []
    for C in Cs:
        svc = SVC(kernel="precomputed", C=float(C), class_weight="balanced").fit(K, fold.y)
        scores.append(float(f1_score(fold.y_val, svc.predict(K_val), average="macro")))
    return scores


@dataclass
class SearchSpace:
    """What the search tries: kernels, C and γ grids, folds, refinement rounds and the stop tolerance."""

    kernels: tuple = tuple(KERNELS)
    c_grid: tuple = PAPER_C_GRID
    gamma_grid: tuple = GAMMA_GRID
    folds: int = 5
    refine_rounds: int = 4
    refine_points: int = 6
    tol: float = 1e-4

    @classmethod
    def quick(cls, kernels=tuple(KERNELS)) -> SearchSpace:
        return cls(tuple(kernels), QUICK_C_GRID, QUICK_GAMMA_GRID, folds=3, refine_rounds=0)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class SearchResult:
    """Every configuration tried (one row each) and the best per kernel."""

    rows: list[dict] = field(default_factory=list)
    best: dict = field(default_factory=dict)
    seconds: float = 0.0
    n_fits: int = 0


def _best(rows: list[dict]) -> dict:
    """Highest mean CV F; ties go to the smaller C (wider margin), then the smaller γ."""
    return max(rows, key=lambda r: (round(r["cv_f1"], 10), -r["C"], -(r["gamma"] or 0.0)))


def search_svm(X, y, space: SearchSpace | None = None, *, seed: int = 0, n_jobs: int | None = None,
               progress=None, standardise: bool = True) -> SearchResult:
    """Grid search with C refinement, per kernel, by ``space.folds``-fold CV macro F on ``(X, y)``.

    The folds are stratified and seeded.  Work is spread over ``n_jobs`` threads (libsvm releases the
    GIL); ``None`` means all cores.  ``progress`` (:mod:`astroxai.progress`) follows the first (largest) round.
    """
    from joblib import Parallel, delayed

    space = space or SearchSpace()
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    n, n_features = X.shape
    if n * (space.folds - 1) / space.folds > MAX_GRAM_SAMPLES:
        raise InputError(f"{n} training spectra: too many for the cached-kernel search (limit "
                         f"{MAX_GRAM_SAMPLES} per fold); train on a random subsample")
    n_jobs = default_workers() if n_jobs is None else n_jobs
    start = time.perf_counter()
    splitter = StratifiedKFold(n_splits=space.folds, shuffle=True, random_state=seed)
    folds = [_Fold.make(X, y, train, val, standardise) for train, val in splitter.split(X, y)]
    result = SearchResult()
    tried: set[tuple] = set()  # (kernel, γ, C) already scored

    def run(configs: dict[tuple, list[float]], round_: int, wrap: bool = False):
        """Score every (kernel, γ) → list of C on every fold; record one row per (kernel, γ, C)."""
        tasks = [(fold_no, key) for key in configs for fold_no in range(len(folds))]
        jobs = (delayed(_score_task)(folds[f], key[0], key[1], configs[key], n_features) for f, key in tasks)
        outputs = Parallel(n_jobs=n_jobs, prefer="threads", return_as="generator")(jobs)
        if wrap:
            outputs = track(progress, outputs, "SVM search", len(tasks))
        per_key: dict[tuple, list] = {}
        for (_, key), scores in zip(tasks, outputs, strict=True):
            per_key.setdefault(key, []).append(scores)
            result.n_fits += len(scores)
        for key, fold_scores in per_key.items():
            matrix = np.array(fold_scores)  # folds × C
            for j, C in enumerate(configs[key]):
                row = {"kernel": key[0], "C": float(C), "gamma": key[1], "round": round_,
                       "cv_f1": float(matrix[:, j].mean()), "cv_f1_std": float(matrix[:, j].std(ddof=1)),
                       "fold_f1": [round(float(v), 6) for v in matrix[:, j]]}
                tried.add((key[0], key[1], float(C)))
                result.rows.append(row)

    first = {}
    for kernel in space.kernels:
        gammas = space.gamma_grid if kernel == "rbf" else (None,)
        for gamma in gammas:
            first[(kernel, None if gamma is None else float(gamma))] = [float(c) for c in space.c_grid]
    run(first, 0, wrap=True)

    c_grid = np.log10(np.asarray(space.c_grid, dtype=float))
    step0 = float(np.median(np.diff(c_grid))) if c_grid.size > 1 else 0.5
    for kernel in space.kernels:
        rows = [r for r in result.rows if r["kernel"] == kernel]
        best = _best(rows)
        step = step0
        for round_ in range(1, space.refine_rounds + 1):
            # Restrict around the best C: points between its grid neighbours, a finer step each round.
            offsets = np.linspace(-step, step, space.refine_points + 1)
            Cs = [float(f"{best['C'] * 10 ** o:.6g}") for o in offsets]
            Cs = sorted({c for c in Cs if (kernel, best["gamma"], c) not in tried})
            if not Cs:
                break
            run({(kernel, best["gamma"]): Cs}, round_)
            candidate = _best([r for r in result.rows if r["kernel"] == kernel])
            improved = candidate["cv_f1"] - best["cv_f1"]
            best = candidate
            step /= space.refine_points / 2
            if improved < space.tol:
                break
        result.best[kernel] = best
    result.seconds = time.perf_counter() - start
    return result


class FastVotes:
    """A fitted SVM pipeline whose ``predict`` gives libsvm's decisions from one matrix product.

    libsvm predicts one spectrum at a time in scalar loops over the support vectors; the same decision values come
    from a BLAS product (:meth:`SVCProbability.votes`), several times faster for the hundreds of predictions of the
    noise test.  Spectra whose vote round-off could flip (a decision value within 1e-9 of zero) are predicted by
    libsvm itself, so every decision is libsvm's (tested against ``pipeline.predict``).
    """

    def __init__(self, pipeline, module: SVCProbability | None = None):
        svc = pipeline.named_steps["svm"] if isinstance(pipeline, Pipeline) else pipeline
        self.pipeline = pipeline
        self.classes_ = np.asarray([str(c) for c in svc.classes_], dtype=object)
        if module is None:
            pairs = len(svc.classes_) * (len(svc.classes_) - 1) // 2  # the sigmoids are not used for votes
            module = SVCProbability.from_pipeline(pipeline, np.zeros(pairs), np.zeros(pairs))
        self.module = module

    def predict(self, X) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        return self.labels(X, *self.module.votes(X))

    def labels(self, X, index, unsure) -> np.ndarray:
        """Class names of the votes ``index``; libsvm itself decides the ``unsure`` inputs."""
        labels = self.classes_[index].astype(str)
        if unsure.any():
            labels[unsure] = np.asarray(self.pipeline.predict(X[unsure])).astype(str)
        return labels


#: The two problems of the paper.
PROBLEMS = {3: ("type1", "type2", "intermediate"), 2: ("type1", "type2")}
DEFAULT_TRAIN_SEED = 20210706  # publication date of Peruzzi et al. (2021)


def problem_classes(classes) -> tuple[str, ...]:
    """The class names of a problem: 3 (type 1 / type 2 / intermediate), 2 (type 1 / type 2) or explicit names."""
    if isinstance(classes, (int, np.integer)) and not isinstance(classes, bool):
        if int(classes) not in PROBLEMS:
            raise InputError(f"classes must be 2, 3 or a list of class names, not {classes}")
        return PROBLEMS[int(classes)]
    if isinstance(classes, str) or len(classes) < 2 or len(set(map(str, classes))) != len(classes):
        raise InputError(f"classes must be 2, 3 or a list of at least two distinct names, not {classes!r}")
    return tuple(str(c) for c in classes)


def check_classes(data, classes, folds: int) -> None:
    """Refuse a data set without enough spectra of each class for a ``folds``-fold search on the 64 % train part."""
    missing = [c for c in classes if c not in data.classes]
    if missing:
        raise InputError(f"the data set has no spectra labelled {missing}; this model needs {list(classes)} (labels "
                         "come from the catalogue given to `astroxai reduce`)")
    counts = {c: int((data.labels == c).sum()) for c in classes}
    needed = int(np.ceil(folds / 0.64)) + 1  # every CV fold of the 64 % train part needs each class
    if min(counts.values()) < needed:
        raise InputError(f"too few spectra for a {folds}-fold search: {counts}; each class needs at least {needed}")


def training_hash(flux, labels, ids) -> str:
    """SHA-256 of what a model was fitted on: the float32 inputs, labels and ids, taken in id order so that the same
    inputs give the same hash however they are ordered in a file."""
    ids = np.asarray(ids).astype(str)
    order = np.argsort(ids, kind="stable")
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(np.asarray(flux, dtype=np.float32)[order]).tobytes())
    digest.update("\n".join(np.asarray(labels).astype(str)[order]).encode())
    digest.update("\n".join(ids[order]).encode())
    return digest.hexdigest()


class SVMClassifier(Estimator):
    """The paper's SVM classifier of reduced spectra (Peruzzi et al. 2021).

    ``fit`` draws the 64/16/20 split (seeded; stratified unless ``stratify=False``), searches each kernel's C (and γ)
    by cross-validated macro F on the train part (:func:`search_svm`), picks the kernel with the best validation F,
    and refits it on train + validation with pairwise Platt probabilities (:mod:`astroxai.models.probability`).

    Parameters
    ----------
    classes : 3, 2 or list of str
        3: type 1 / type 2 / intermediate; 2: type 1 / type 2; or the class names.
    kernels : sequence of str
        Kernels to search, from ``linear``, ``rbf``, ``poly2``, ``poly3``.
    quick : bool
        A coarse grid (one C per decade, three γ, three folds, no refinement).
    search : SearchSpace, optional
        The whole search space (overrides ``kernels`` and ``quick``).
    seed : int
        Seed of the split, the folds, the noise draws and the probability model's shuffle.
    stratify : bool
        Keep class shares equal in the three parts (the paper drew a plain random split).
    standardise : bool
        Standardise every wavelength inside the pipeline.  The default, ``False``, gives the SVM the normalised
        fluxes as they are: on the paper's sample it reproduces the paper's test F, its noise curve (Table 5) and
        the saliency physics better than standardised features, which magnify noise most where every spectrum is
        1 by construction (near 5100 Å; ``docs/results.md``).
    n_jobs : int, optional
        Threads of the search (default: all cores).

    Attributes
    ----------
    classes_, grid_, reduction_, baseline_, split_ :
        see :mod:`astroxai.models.base`; ``baseline_`` is the median training spectrum.
    search_ : SearchResult
        Every configuration tried and the best per kernel.
    validation_ : dict
        Per kernel: its best C and γ, cross-validated F and validation metrics.
    kernel_ : str
        The chosen kernel; ``params_`` its C and γ; ``pipeline_`` the fitted scikit-learn pipeline.
    prob_a_, prob_b_ : ndarray
        The Platt sigmoid of each pair of classes.

    Examples
    --------
    >>> from astroxai import SVMClassifier, simulate
    >>> data = simulate.spectra_set({"type1": 30, "type2": 30, "intermediate": 30}, seed=1)
    >>> clf = SVMClassifier(kernels=["linear"], quick=True).fit(data)
    >>> clf.kernel_, clf.classes_.tolist()
    ('linear', ['intermediate', 'type1', 'type2'])
    >>> p = clf.predict_proba(data.subset([0, 1]))
    >>> p.shape, bool(abs(p.sum(axis=1) - 1).max() < 1e-9)
    ((2, 3), True)
    """

    kind = "svm"
    modality = "spectra"
    #: Exact saliency of an SVM needs memory of a few inputs per input, and libsvm's coupling iterations cost the
    #: same per batch whatever its size: batches of 4096 explain a linear SVM ~2.8× faster than batches of 256.
    single_pass_batch = 4096

    def __init__(self, classes=3, kernels=tuple(KERNELS), *, quick: bool = False, search: SearchSpace | None = None,
                 seed: int = DEFAULT_TRAIN_SEED, stratify: bool = True, standardise: bool = False,
                 n_jobs: int | None = None):
        problem_classes(classes)
        kernels = tuple(kernels)
        unknown = [k for k in kernels if k not in KERNELS]
        if unknown or not kernels:
            raise InputError(f"unknown kernels {unknown or '(none given)'}; choose from {', '.join(KERNELS)}")
        if search is not None and not isinstance(search, SearchSpace):
            raise TypeError(f"search must be a SearchSpace, not {type(search).__name__}")
        if n_jobs is not None and int(n_jobs) < 1:
            raise InputError("n_jobs must be at least 1")
        self.classes = classes
        self.kernels = kernels
        self.quick = bool(quick)
        self.search = search
        self.seed = int(seed)
        self.stratify = bool(stratify)
        self.standardise = bool(standardise)
        self.n_jobs = n_jobs

    def space(self) -> SearchSpace:
        """The search space these settings describe."""
        if self.search is not None:
            return self.search
        return SearchSpace.quick(self.kernels) if self.quick else SearchSpace(kernels=self.kernels)

    def make_pipeline(self, kernel: str, C: float, gamma, n_features: int) -> Pipeline:
        """An unfitted pipeline of this model's settings for one kernel and its parameters."""
        return make_svm(kernel, C, gamma, n_features=n_features, seed=self.seed, standardise=self.standardise)

    def fit(self, data, split: Split | None = None, progress=None) -> SVMClassifier:
        """Search, choose and refit on a labelled :class:`~astroxai.data.SpectraSet` (see the class doc); ``split``
        replaces the paper's split drawn with ``seed``.  Returns ``self``."""
        classes = problem_classes(self.classes)
        space = self.space()
        check_classes(data, classes, space.folds)
        split = split or labelled_split(data, self.seed, classes, self.stratify)
        train, validation = split.rows(data.ids, "train"), split.rows(data.ids, "validation")
        X, y = data.flux.astype(np.float64), data.labels
        n_features = X.shape[1]
        log.info("%d-class SVM: %d train, %d validation, %d test spectra", len(classes), train.size,
                 validation.size, split.test.size)
        search = search_svm(X[train], y[train], space, seed=self.seed, n_jobs=self.n_jobs, progress=progress,
                            standardise=self.standardise)
        log.info("search: %d SVM fits in %.1f s", search.n_fits, search.seconds)
        scores = {}
        for kernel, best in search.best.items():
            on_train = self.make_pipeline(kernel, best["C"], best["gamma"], n_features).fit(X[train], y[train])
            scores[kernel] = {"kernel": kernel, "C": best["C"], "gamma": best["gamma"], "cv_f1": best["cv_f1"],
                              "cv_f1_std": best["cv_f1_std"],
                              "validation": classification_metrics(y[validation], on_train.predict(X[validation]),
                                                                   classes)}
        # The paper chose its kernel on the validation set; ties go to the cross-validated score.
        kernel = max(scores, key=lambda k: (round(scores[k]["validation"]["macro"]["f1"], 4),
                                            round(scores[k]["cv_f1"], 4)))
        self.search_, self.validation_ = search, scores
        self.split_ = split
        self.grid_ = np.asarray(data.wavelength, dtype=np.float64)
        self.reduction_ = dict(data.attrs.get("reduction", {}))
        fit_rows = np.concatenate([train, validation])
        self._fit_kernel(kernel, X[fit_rows], y[fit_rows])
        # the explainers' baseline, rounded as model.json stores it so that a loaded model explains identically
        self.baseline_ = np.median(X[fit_rows], axis=0).round(6)
        self.training_ = {"n_spectra": int(fit_rows.size), "rows": "train + validation",
                          "sha256": training_hash(data.flux[fit_rows], y[fit_rows], data.ids[fit_rows])}
        self.reference_ = TrainingReference.fit(X[fit_rows])
        return self

    def _fit_kernel(self, kernel: str, X, y) -> None:
        """Fit ``kernel`` with its searched C and γ and its probability model on ``(X, y)``."""
        best = self.validation_[kernel]
        start = time.perf_counter()
        pipeline = self.make_pipeline(kernel, best["C"], best["gamma"], X.shape[1]).fit(X, y)
        svc = pipeline.named_steps["svm"]
        Z = pipeline[:-1].transform(X)
        params = {"kernel": svc.kernel, "C": svc.C, "gamma": svc.gamma, "degree": svc.degree, "coef0": svc.coef0,
                  "cache_size": svc.cache_size}
        self.prob_a_, self.prob_b_ = pairwise_platt(Z, y, params, self.seed)
        self.pipeline_, self.kernel_ = pipeline, kernel
        self.params_ = {"C": best["C"], "gamma": best["gamma"],
                        "svc_gamma": svc.gamma if isinstance(svc.gamma, float) else None}
        self.classes_ = np.asarray([str(c) for c in svc.classes_], dtype=object)
        self.fit_seconds_ = time.perf_counter() - start
        self._module = None

    def with_kernel(self, data, kernel: str) -> SVMClassifier:
        """Another kernel of this model's search, fitted as the chosen one was (its best C and γ, the same train +
        validation spectra, scaling and seed, its own probability model); used to explain two kernels side by
        side.  ``data`` must hold the model's train and validation spectra."""
        self.check_fitted()
        if kernel not in self.validation_:
            raise InputError(f"the search has no {kernel!r} kernel (it has {sorted(self.validation_)})")
        if kernel == self.kernel_:
            return self
        self.check_grid_of(data.wavelength)
        rows = np.concatenate([self.split_.rows(data.ids, "train"), self.split_.rows(data.ids, "validation")])
        other = SVMClassifier(**self.get_params())
        for name in ("search_", "validation_", "split_", "grid_", "reduction_", "baseline_", "training_",
                     "reference_"):
            setattr(other, name, getattr(self, name))
        other._fit_kernel(kernel, data.flux[rows].astype(np.float64), data.labels[rows])
        return other

    def predict(self, data) -> np.ndarray:
        """The SVM's decision (libsvm's one-vs-one vote), as the paper's metrics count it (computed by
        :class:`FastVotes`)."""
        X = np.asarray(self.check_inputs(data), dtype=np.float64)
        return FastVotes(self.pipeline_, self.as_module()).predict(X)

    def predict_proba(self, data) -> np.ndarray:
        """Class probabilities in the order of ``classes_`` (pairwise Platt sigmoids coupled as libsvm couples
        them); on rare borderline spectra they rank another class first than :meth:`predict`."""
        X = np.asarray(self.check_inputs(data), dtype=np.float64)
        return self.as_module().predict_proba(X)

    def decide(self, data) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`predict` and :meth:`predict_proba` from one pass over the inputs (one kernel evaluation)."""
        X = np.asarray(self.check_inputs(data), dtype=np.float64)
        module = self.as_module()
        index, unsure, probabilities = module.decide(X)
        return FastVotes(self.pipeline_, module).labels(X, index, unsure), probabilities

    def as_module(self, prepared: bool = False):
        """The pipeline and its probability model as a float64 torch module (:class:`SVCProbability`)."""
        self.check_fitted()
        if getattr(self, "_module", None) is None:
            self._module = SVCProbability.from_pipeline(self.pipeline_, self.prob_a_, self.prob_b_)
        return self._module

    def _state(self) -> dict:
        return {"model": "svm", "kernel": self.kernel_, "params_fitted": self.params_,
                "probability": {"method": "pairwise Platt sigmoids on 5-fold CV decision values (libsvm's recipe)",
                                "A": self.prob_a_.tolist(), "B": self.prob_b_.tolist(), "seed": self.seed},
                "wavelength": self.grid_.tolist(), "reduction": self.reduction_,
                "median_spectrum": self.baseline_.tolist(),
                "search": {"seconds": self.search_.seconds, "n_fits": self.search_.n_fits,
                           "space": self.space().to_dict(), "best": self.search_.best},
                "validation": self.validation_, "training": self.training_}

    def _save_model_file(self, folder: Path) -> str:
        # the grid also goes inside the checksummed file, so that model.json's grid can be checked against it
        self.pipeline_.astroxai_grid_ = [float(w) for w in self.grid_]
        return dump_skops(self.pipeline_, folder / SKOPS_FILE)

    @classmethod
    def _from_folder(cls, folder: Path, meta: dict, trusted) -> SVMClassifier:
        from astroxai.models.bridge import libsvm_sigmoids
        from astroxai.models.persist import require

        require(meta, folder, classes=list, wavelength=list)
        pipeline = load_skops(checked_file(folder, SKOPS_FILE, meta), trusted)
        check_pipeline_type(pipeline, folder)
        check_stored_grid(getattr(pipeline, "astroxai_grid_", None), meta["wavelength"], folder / META_FILE)
        params = dict(meta.get("params") or {})
        known = {k: v for k, v in params.items() if k in ("classes", "kernels", "quick", "seed", "stratify",
                                                          "standardise", "n_jobs")}
        if "config" in meta and not known:  # a folder written before the estimator API
            config = meta["config"]
            known = {"classes": config.get("classes", len(meta["classes"])), "seed": config.get("seed", 0),
                     "stratify": config.get("stratify", True)}
        # what the saved pipeline does is the truth, whatever the folder's settings say (or leave out)
        known["standardise"] = isinstance(pipeline.steps[0][1], StandardScaler)
        model = cls(**known)
        svc = pipeline.steps[1][1]  # check_pipeline_type: a Pipeline whose second step is the SVC
        probability = meta.get("probability")
        if probability:
            model.prob_a_, model.prob_b_ = (np.asarray(probability["A"], dtype=np.float64),
                                            np.asarray(probability["B"], dtype=np.float64))
        else:  # fitted by libsvm with probability=True
            model.prob_a_, model.prob_b_ = libsvm_sigmoids(svc)
        model.pipeline_, model.kernel_ = pipeline, meta.get("kernel", svc.kernel)
        model.params_ = meta.get("params_fitted") or meta.get("params") or {}
        model.classes_ = np.asarray([str(c) for c in svc.classes_], dtype=object)
        if model.classes_.tolist() != [str(c) for c in meta["classes"]]:
            raise InputError(f"the pipeline's classes {model.classes_.tolist()} differ from model.json's "
                             f"{meta['classes']}")
        model.grid_ = np.asarray(meta["wavelength"], dtype=np.float64)
        model.reduction_ = dict(meta.get("reduction") or {})
        model.baseline_ = np.asarray(meta.get("median_spectrum") or np.zeros(model.grid_.size), dtype=np.float64)
        model.validation_ = meta.get("validation", {})
        search = meta.get("search") or {}
        model.search_ = SearchResult(best=search.get("best", {}), seconds=search.get("seconds", 0.0),
                                     n_fits=search.get("n_fits", 0))
        model.training_ = dict(meta.get("training") or {})
        model._module = None
        check_svm_folder(model, svc, pipeline, folder)
        return model


def check_pipeline_type(pipeline, folder: Path) -> None:
    """Refuse a model file that does not hold what astroxai writes: ``Pipeline(StandardScaler | 'passthrough',
    SVC)`` (skops would load other scikit-learn estimators, e.g. a ``DummyClassifier`` answering one class)."""
    from astroxai.models.persist import ModelLoadError

    steps = pipeline.steps if isinstance(pipeline, Pipeline) else None
    if (steps is None or len(steps) != 2 or not isinstance(steps[1][1], SVC)
            or not (steps[0][1] == "passthrough" or isinstance(steps[0][1], StandardScaler))):
        raise ModelLoadError(f"{folder}: the model file holds a {type(pipeline).__name__}, not the "
                             "Pipeline(StandardScaler or 'passthrough', SVC) astroxai writes")


def check_svm_folder(model, svc, pipeline, folder: Path) -> None:
    """Refuse an SVM folder whose parts do not belong together (the checksum only says the model file is the one
    ``model.json`` names; anyone who can write the folder can change both, see persist's module doc):

    * the model file holds what astroxai writes (:func:`check_pipeline_type`) and, since this version, the grid
      (``model.json``'s must equal it);
    * every stored number must be finite (support vectors, dual coefficients, intercepts, the scaler, the Platt
      sigmoids, the grid, the baseline), the grid strictly increasing and as long as the SVM's inputs;
    * the grid must be where the fluxes were normalised: the reduction sets every spectrum to 1 at 5100 Å, so the
      training mean the scaler stores (or the baseline) must be ≈ 1 there; a grid shifted by hundreds of Å is not.
    """
    from astroxai.models.persist import ModelLoadError, check_spectral_grid

    where = folder / META_FILE
    scaler = pipeline.steps[0][1] if isinstance(pipeline.steps[0][1], StandardScaler) else None
    arrays = {"support vectors": svc.support_vectors_, "dual coefficients": svc.dual_coef_,
              "intercepts": svc.intercept_, "Platt A": model.prob_a_, "Platt B": model.prob_b_,
              "wavelength grid": model.grid_, "baseline": model.baseline_}
    if scaler is not None:
        arrays.update({"scaler mean": scaler.mean_, "scaler scale": scaler.scale_})
    for name, values in arrays.items():
        if not np.all(np.isfinite(np.asarray(values, dtype=np.float64))):
            raise ModelLoadError(f"{where}: non-finite {name}")
    check_spectral_grid(model.grid_, scaler.mean_ if scaler is not None else model.baseline_, model.reduction_,
                        where)
    if svc.support_vectors_.shape[1] != model.grid_.size:
        raise ModelLoadError(f"{where}: the grid has {model.grid_.size} wavelengths but the SVM takes "
                             f"{svc.support_vectors_.shape[1]}")


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
