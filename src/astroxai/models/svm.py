"""The paper's SVM classifier and its hyper-parameter search (Peruzzi et al. 2021, A&A 652, A19, Sect. 3;
doi:10.1051/0004-6361/202038911).

:class:`SVMClassifier` is the estimator: ``fit`` draws the paper's split, searches every kernel, chooses the kernel on
the validation part and refits it on train + validation with astroxai's own probability model
(:mod:`astroxai.models.probability`).  Every model is ``Pipeline(scaler, SVC(class_weight='balanced'))``, where the
scaler is ``'passthrough'`` by default (the SVM sees the normalised fluxes, as the paper's evidently did:
``docs/results.md``) or, with ``standardise=True``, a ``StandardScaler`` fitted on the training part only, so that
nothing leaks from validation or test spectra.

The search is the paper's (:mod:`astroxai.models.svm_search`), the kernel comparison of its tables
:mod:`astroxai.models.svm_study`, and what loading a folder checks :mod:`astroxai.models.svm_folder`.
"""

from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path

import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from astroxai.errors import InputError
from astroxai.models.base import Estimator, SpectraModel
from astroxai.models.bridge import SVCProbability
from astroxai.models.evaluate import classification_metrics
from astroxai.models.persist import META_FILE, SKOPS_FILE, check_stored_grid, checked_file, dump_skops, load_skops
from astroxai.models.probability import pairwise_platt
from astroxai.models.reference import TrainingReference
from astroxai.models.split import Split, labelled_split
from astroxai.models.svm_folder import check_pipeline_type, check_svm_folder
from astroxai.models.svm_search import (
    GAMMA_GRID,
    KERNELS,
    MAX_GRAM_SAMPLES,
    PAPER_C_GRID,
    QUICK_C_GRID,
    QUICK_GAMMA_GRID,
    SearchResult,
    SearchSpace,
    fit_quietly,
    make_svm,
    search_svm,
    svm_gamma,
)

log = logging.getLogger(__name__)

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


class SVMClassifier(SpectraModel, Estimator):
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


__all__ = ["GAMMA_GRID", "KERNELS", "MAX_GRAM_SAMPLES", "PAPER_C_GRID", "PROBLEMS", "QUICK_C_GRID", "QUICK_GAMMA_GRID",
           "FastVotes", "SVMClassifier", "SearchResult", "SearchSpace", "check_classes", "check_pipeline_type",
           "check_svm_folder", "fit_quietly", "make_svm", "problem_classes", "search_svm", "svm_gamma",
           "training_hash"]
