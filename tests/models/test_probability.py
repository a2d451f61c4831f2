"""astroxai's own SVM probability model: libsvm's pairwise Platt calibration, against scikit-learn's
SVC(probability=True) (while scikit-learn still has it) and against an independent optimiser."""

import warnings

import numpy as np
import pytest
from scipy.optimize import minimize
from sklearn.svm import SVC

from astroxai.models import SVMClassifier
from astroxai.models.probability import LibsvmRandom, fit_sigmoid, libsvm_seed, pairwise_platt
from astroxai.models.svm import fit_quietly
from tests.helpers import libsvm_probability_svm, three_classes


def _reference_svc(**params):
    """scikit-learn's own libsvm calibration, the reference; scikit-learn ≥ 1.11 no longer has it."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            return SVC(probability=True, class_weight="balanced", **params)
    except TypeError:  # pragma: no cover - scikit-learn without probability=True
        pytest.skip("this scikit-learn has no SVC(probability=True) to compare with")


def test_the_generator_is_std_mt19937_and_lemire_bounded():
    # std::mt19937 seeded with its default 5489 first gives 3499211612 (C++ standard, [rand.predef])
    assert LibsvmRandom(5489)._raw() == 3499211612
    draws = [LibsvmRandom(7).below(10) for _ in range(3)]
    assert draws[0] == draws[1] == draws[2]  # deterministic
    counts = np.bincount([b for b in (LibsvmRandom(11).permutation(1000))], minlength=1000)
    assert np.all(counts == 1)  # a permutation
    random = LibsvmRandom(3)
    values = np.array([random.below(6) for _ in range(6000)])
    assert set(values) == set(range(6)) and np.all(np.abs(np.bincount(values) - 1000) < 150)


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("kernel, extra", [("linear", {}), ("rbf", {"gamma": 0.01}),
                                           ("poly", {"degree": 3, "gamma": 0.02})])
@pytest.mark.parametrize("random_state", [0, 20210706])
def test_sigmoids_equal_libsvms_own(kernel, extra, n_classes, random_state):
    X, y = three_classes(n=150, d=20, seed=n_classes)
    if n_classes == 2:
        X, y = X[y != "intermediate"], y[y != "intermediate"]
    params = {"kernel": kernel, "C": 0.7, **extra}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        reference = _reference_svc(random_state=random_state, **params).fit(X, y)
        expected_a, expected_b = reference.probA_, reference.probB_
    prob_a, prob_b = pairwise_platt(X, y, params, random_state)
    np.testing.assert_allclose(prob_a, expected_a, rtol=0, atol=1e-10)
    np.testing.assert_allclose(prob_b, expected_b, rtol=0, atol=1e-10)


def test_sigmoid_fit_minimises_platts_regularised_likelihood():
    """The Newton iterations against scipy's optimiser on the same objective (Platt's targets)."""
    rng = np.random.default_rng(4)
    decision = np.concatenate([rng.normal(1.0, 1.0, 80), rng.normal(-1.2, 0.8, 120)])
    positive = np.arange(200) < 80
    a, b = fit_sigmoid(decision, positive)
    target = np.where(positive, 81 / 82, 1 / 122)

    def loss(params):
        z = decision * params[0] + params[1]
        return np.sum(np.logaddexp(0, z) - (1 - target) * z)  # −log likelihood with p = 1 / (1 + e^z)

    best = minimize(loss, [0.0, 0.0], method="BFGS", options={"gtol": 1e-10})
    np.testing.assert_allclose([a, b], best.x, atol=1e-4)
    assert loss([a, b]) <= best.fun + 1e-8


def test_the_estimators_probabilities_equal_the_libsvm_pipelines_on_simulated_spectra():
    """astroxai's probability model against SVC(probability=True) fitted on the same spectra: within 1e-3 (in fact
    to round-off) and the same decisions."""
    from astroxai import simulate

    data = simulate.spectra_set({"type1": 20, "type2": 40, "intermediate": 20}, seed=3, n_wave=200)
    for kernel in ("linear", "rbf"):
        model = SVMClassifier(kernels=(kernel,), quick=True, seed=8).fit(data)
        rows = np.concatenate([model.split_.rows(data.ids, p) for p in ("train", "validation")])
        reference = fit_quietly(libsvm_probability_svm(kernel, model.params_["C"], model.params_["gamma"],
                                                       n_features=200, seed=8, standardise=model.standardise),
                                data.flux[rows].astype(float), data.labels[rows])
        X = data.flux.astype(float)
        np.testing.assert_allclose(model.predict_proba(data), reference.predict_proba(X), atol=1e-9)
        np.testing.assert_array_equal(model.predict(data), reference.predict(X))


def test_the_seed_is_the_one_scikit_learn_hands_libsvm():
    assert libsvm_seed(0) == np.random.RandomState(0).randint(np.iinfo("i").max)
