import warnings

import numpy as np
import pytest
from sklearn.datasets import make_circles
from sklearn.model_selection import StratifiedKFold, cross_val_score

from astroxai.data import SpectraSet
from astroxai.models import GridMismatchError, NotFittedError, SVMClassifier, svm, svm_search
from astroxai.models.svm import KERNELS, SearchSpace, fit_quietly, make_svm, search_svm
from tests.helpers import libsvm_probability_svm
from tests.helpers import three_classes as _three_classes


@pytest.mark.parametrize("standardise", [True, False])
@pytest.mark.parametrize("kernel, gamma, C", [("linear", None, 0.05), ("linear", None, 5.0), ("rbf", 0.01, 3.0),
                                              ("rbf", 0.05, 0.5), ("poly2", None, 2.0), ("poly3", None, 20.0)])
def test_cached_kernel_scores_equal_pipeline_cross_validation(kernel, gamma, C, standardise):
    """The search's precomputed-kernel CV must give what scikit-learn's CV of the real pipeline gives."""
    X, y = _three_classes()
    space = SearchSpace(kernels=(kernel,), c_grid=(C,), gamma_grid=(gamma or 0.01,), refine_rounds=0)
    result = search_svm(X, y, space, seed=3, n_jobs=2, standardise=standardise)
    (row,) = [r for r in result.rows if gamma is None or r["gamma"] == gamma]
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=3)
    model = make_svm(kernel, C, gamma, n_features=X.shape[1], standardise=standardise)
    reference = cross_val_score(model, X, y, cv=folds, scoring="f1_macro")
    np.testing.assert_allclose(row["fold_f1"], reference, atol=1e-6)
    assert row["cv_f1"] == pytest.approx(reference.mean(), abs=1e-9)


@pytest.mark.parametrize("degree", [2, 3])
def test_poly_gamma_only_rescales_C(degree):
    """Why the search fixes γ for poly kernels: (γ, C) and (γ', C·(γ/γ')^d) give the same classifier."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    X, y = _three_classes()
    g1, g2, C = 0.02, 0.5, 4.0
    first = make_pipeline(StandardScaler(), SVC(kernel="poly", degree=degree, gamma=g1, C=C)).fit(X, y)
    second = make_pipeline(StandardScaler(),
                           SVC(kernel="poly", degree=degree, gamma=g2, C=C * (g1 / g2) ** degree)).fit(X, y)
    np.testing.assert_array_equal(first.predict(X), second.predict(X))
    np.testing.assert_allclose(first.decision_function(X), second.decision_function(X), atol=1e-3)


def test_search_picks_the_kernel_the_data_need():
    X, y = make_circles(n_samples=200, noise=0.08, factor=0.4, random_state=1)
    X = np.hstack([X, np.random.default_rng(1).normal(scale=0.01, size=(200, 3))])
    space = SearchSpace(kernels=("linear", "rbf"), c_grid=(0.1, 1.0, 10.0), gamma_grid=(0.1, 1.0), refine_rounds=0)
    result = search_svm(X, y.astype(str), space, seed=0)
    assert result.best["rbf"]["cv_f1"] > 0.95
    assert result.best["linear"]["cv_f1"] < 0.75
    assert result.n_fits == 5 * (3 + 3 * 2)
    assert len(result.rows) == 3 + 6


def test_refinement_searches_around_the_best_C_and_never_loses():
    X, y = _three_classes(seed=4)
    space = SearchSpace(kernels=("linear",), c_grid=svm.QUICK_C_GRID, refine_rounds=3, refine_points=4)
    result = search_svm(X, y, space, seed=0)
    coarse = max((r for r in result.rows if r["round"] == 0), key=lambda r: r["cv_f1"])
    refined = [r for r in result.rows if r["round"] > 0]
    assert refined, "the best C was not refined"
    assert result.best["linear"]["cv_f1"] >= coarse["cv_f1"]
    # The first refinement lies between the best coarse C's grid neighbours (one decade apart here).
    first = [r["C"] for r in refined if r["round"] == 1]
    assert all(coarse["C"] / 10.0001 <= c <= coarse["C"] * 10.0001 for c in first)
    assert len({(r["C"], r["gamma"]) for r in result.rows}) == len(result.rows), "a configuration was refitted"


def test_search_is_reproducible_and_seeded():
    X, y = _three_classes(seed=5)
    space = SearchSpace.quick(("linear", "rbf"))
    a, b = search_svm(X, y, space, seed=1), search_svm(X, y, space, seed=1)
    c = search_svm(X, y, space, seed=2)
    assert [r["fold_f1"] for r in a.rows] == [r["fold_f1"] for r in b.rows]
    assert [r["fold_f1"] for r in a.rows] != [r["fold_f1"] for r in c.rows]


def test_too_many_spectra_for_cached_kernels(monkeypatch):
    monkeypatch.setattr(svm_search, "MAX_GRAM_SAMPLES", 50)
    X, y = _three_classes()
    with pytest.raises(ValueError, match="subsample"):
        search_svm(X, y, SearchSpace.quick(("linear",)))


def test_make_svm_settings_and_no_deprecation_noise():
    X, y = _three_classes()
    for kernel in KERNELS:
        model = make_svm(kernel, 1.0, 0.01, n_features=X.shape[1])
        svc = model.named_steps["svm"]
        assert svc.class_weight == "balanced" and model.steps[0][0] == "scale"
        assert svc.gamma == {"linear": "scale", "rbf": 0.01}.get(kernel, 1 / X.shape[1])
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            model.fit(X, y)
    with pytest.raises(ValueError, match="unknown kernel"):
        make_svm("sigmoidal", 1.0, n_features=3)
    with pytest.raises(ValueError, match="needs a γ"):
        make_svm("rbf", 1.0, None, n_features=3)


def test_the_libsvm_reference_pipeline_still_fits_while_scikit_learn_has_it():
    X, y = _three_classes()
    probabilistic = fit_quietly(libsvm_probability_svm("linear", 1.0, n_features=X.shape[1]), X, y)
    assert probabilistic.predict_proba(X).shape == (X.shape[0], 3)
    with warnings.catch_warnings():  # scikit-learn 1.9 deprecates the attribute along with the option
        warnings.simplefilter("ignore", FutureWarning)
        assert probabilistic.named_steps["svm"].probA_.size == 3  # one Platt sigmoid per pair of classes


def _spectra(n=150, d=40, seed=0):
    X, y = _three_classes(n, d, seed)
    return SpectraSet(X - X.min() + 1, np.linspace(3800, 5200, d), y, [f"s{i}" for i in range(n)])


def test_constructor_refuses_typos_before_any_training():
    with pytest.raises(ValueError, match="unknown kernels"):
        SVMClassifier(kernels=["linear", "rbff"])
    with pytest.raises(ValueError, match="classes must be"):
        SVMClassifier(classes=4)
    with pytest.raises(TypeError, match="SearchSpace"):
        SVMClassifier(search={"kernels": ["linear"]})
    with pytest.raises(NotFittedError):
        SVMClassifier().predict(np.ones((1, 3)))


def test_fit_returns_self_with_learned_state_and_checks_inputs():
    data = _spectra()
    model = SVMClassifier(kernels=("linear", "rbf"), quick=True, seed=2)
    assert model.fit(data) is model
    assert model.kernel_ in ("linear", "rbf") and set(model.validation_) == {"linear", "rbf"}
    assert model.classes_.tolist() == ["intermediate", "type1", "type2"]
    np.testing.assert_array_equal(model.grid_, data.wavelength)
    fit_ids = np.concatenate([model.split_.train, model.split_.validation])
    rows = np.isin(data.ids, fit_ids)
    np.testing.assert_allclose(model.baseline_, np.median(data.flux[rows].astype(float), axis=0).round(6))
    assert len(set(model.split_.test) & set(fit_ids)) == 0
    shifted = SpectraSet(data.flux, data.wavelength + 1.0, data.labels, data.ids)
    with pytest.raises(GridMismatchError, match="reduce them with"):
        model.predict(shifted)
    with pytest.raises(GridMismatchError, match="shape"):
        model.predict(np.ones((2, 10)))
    bad = data.flux[:3].copy()
    bad[1, 4] = np.nan
    with pytest.raises(ValueError, match="1 of 3 inputs hold NaN"):
        model.predict_proba(bad)
    assert "kernels=('linear', 'rbf')" in repr(model) and "quick=True" in repr(model)


def test_another_kernel_is_fitted_as_the_chosen_one_was():
    data = _spectra(seed=3)
    model = SVMClassifier(kernels=("linear", "rbf"), quick=True, seed=1).fit(data)
    other = "rbf" if model.kernel_ == "linear" else "linear"
    refit = model.with_kernel(data, other)
    best = model.validation_[other]
    rows = np.concatenate([model.split_.rows(data.ids, p) for p in ("train", "validation")])
    reference = make_svm(other, best["C"], best["gamma"], n_features=data.flux.shape[1], seed=1,
                         standardise=model.standardise).fit(
        data.flux[rows].astype(float), data.labels[rows])
    np.testing.assert_array_equal(refit.predict(data), reference.predict(data.flux.astype(float)))
    assert refit.kernel_ == other and model.with_kernel(data, model.kernel_) is model


@pytest.mark.parametrize("kernel", ["linear", "rbf", "poly2", "poly3"])
def test_fast_votes_are_libsvms_decisions(kernel):
    """Votes from one matrix product equal libsvm's predict, also on noisy copies and on inputs placed exactly
    between two classes (where the round-off of the two summations could differ, libsvm itself decides)."""
    from astroxai.models.svm import FastVotes

    X, y = _three_classes(n=200, d=40, seed=9)
    pipeline = make_svm(kernel, 1.0, 0.01, n_features=X.shape[1]).fit(X, y)
    rng = np.random.default_rng(0)
    noisy = np.vstack([X + rng.normal(scale=s, size=X.shape) for s in (0.1, 1.0, 3.0)])
    fast = FastVotes(pipeline)
    np.testing.assert_array_equal(fast.predict(noisy), pipeline.predict(noisy))
    # points on the boundary of the first pair: bisect the segment between two differently classified inputs
    a, b = noisy[pipeline.predict(noisy) == "intermediate"][0], noisy[pipeline.predict(noisy) == "type1"][0]
    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if pipeline.predict(((1 - mid) * a + mid * b)[None])[0] == "intermediate" else (lo, mid)
    edge = np.array([(1 - t) * a + t * b for t in np.linspace(lo - 1e-12, hi + 1e-12, 9)])
    np.testing.assert_array_equal(fast.predict(edge), pipeline.predict(edge))
