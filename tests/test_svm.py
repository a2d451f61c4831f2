import warnings

import numpy as np
import pytest
from sklearn.datasets import make_circles
from sklearn.model_selection import StratifiedKFold, cross_val_score

from astroxai.models import svm
from astroxai.models.svm import KERNELS, SearchSpace, fit_quietly, make_svm, search_svm


def _three_classes(n=120, d=30, seed=0):
    """Three overlapping Gaussian classes, one of them small, like type 1 / type 2 / intermediate."""
    rng = np.random.default_rng(seed)
    y = np.array(["type2"] * (n // 2) + ["type1"] * (n // 3) + ["intermediate"] * (n - n // 2 - n // 3))
    X = rng.normal(size=(n, d))
    X[y == "type1", :6] += 1.2
    X[y == "intermediate", :6] += 0.6
    X *= rng.uniform(0.5, 3.0, size=d)  # unequal feature scales: the scaler matters
    return X, y


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
    monkeypatch.setattr(svm, "MAX_GRAM_SAMPLES", 50)
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
    probabilistic = fit_quietly(make_svm("linear", 1.0, n_features=X.shape[1], probability=True), X, y)
    assert probabilistic.predict_proba(X).shape == (X.shape[0], 3)
    with warnings.catch_warnings():  # scikit-learn 1.9 deprecates the attribute along with the option
        warnings.simplefilter("ignore", FutureWarning)
        assert probabilistic.named_steps["svm"].probA_.size == 3  # one Platt sigmoid per pair of classes
    with pytest.raises(ValueError, match="unknown kernel"):
        make_svm("sigmoidal", 1.0, n_features=3)
    with pytest.raises(ValueError, match="needs a γ"):
        make_svm("rbf", 1.0, None, n_features=3)
