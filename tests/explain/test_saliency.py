"""Saliency maps: vectorised finite differences against the paper's loop, exact gradients against finite
differences and analytic derivatives, target resolution."""


import numpy as np
import pytest

from astroxai.data import SpectraSet
from astroxai.explain.saliency import (
    cosine_similarity,
    finite_difference_saliency,
    gradient_saliency,
    paper_loop_saliency,
    resolve_targets,
)
from astroxai.models import load_model
from astroxai.models.svm import fit_quietly
from tests.helpers import Softmax, libsvm_probability_svm


@pytest.fixture
def softmax_model():
    rng = np.random.default_rng(3)
    W, b = rng.normal(size=(3, 20)) * 0.3, rng.normal(size=3)
    X = 1.0 + 0.2 * rng.random((5, 20))
    return Softmax(W, b), W, X


def analytic_gradient(W, b_model, X, target, log=False):
    p = b_model.predict_proba(X)
    out = []
    for x_p, t in zip(p, target, strict=True):
        d_log = W[t] - x_p @ W  # ∂ log p_t / ∂x
        out.append(d_log if log else x_p[t] * d_log)
    return np.array(out)


@pytest.mark.parametrize("log", [False, True])
def test_gradient_saliency_equals_analytic_gradient(softmax_model, log):
    model, W, X = softmax_model
    target = np.array([0, 1, 2, 0, 1])
    exact = gradient_saliency(model, X, target, log=log, batch_size=2)
    np.testing.assert_allclose(exact, analytic_gradient(W, model, X, target, log), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("log", [False, True])
def test_central_differences_converge_to_the_gradient(softmax_model, log):
    model, W, X = softmax_model
    target = np.array([2, 1, 0, 0, 2])
    truth = analytic_gradient(W, model, X, target, log)
    central = finite_difference_saliency(model.predict_proba, X, target, eps=1e-4, log=log, scheme="central")
    forward = finite_difference_saliency(model.predict_proba, X, target, eps=1e-4, log=log)
    np.testing.assert_allclose(central, truth, rtol=1e-6, atol=1e-9)
    # forward differences are first-order: close, but clearly less accurate than central ones
    assert np.abs(forward - truth).max() > 10 * np.abs(central - truth).max()
    np.testing.assert_allclose(forward, truth, rtol=1e-2, atol=1e-5)


def test_vectorised_differences_equal_the_paper_loop(softmax_model):
    """Same perturbations, same formula: the batched version must give the loop's numbers (blocks of pixels
    smaller than a spectrum included)."""
    model, _, X = softmax_model
    target = resolve_targets(None, [0, 1, 2], model.predict_proba(X).argmax(axis=1))
    loop = np.array([paper_loop_saliency(model.predict_proba, x, t) for x, t in zip(X, target, strict=True)])
    for max_rows in (7, 40, 10_000):
        vector = finite_difference_saliency(model.predict_proba, X, target, max_rows=max_rows)
        np.testing.assert_allclose(vector, loop, rtol=1e-12, atol=1e-15)


def test_zero_flux_gets_a_finite_step():
    calls = []

    def predict_proba(X):
        calls.append(X.copy())
        s = X.sum(axis=1)
        return np.column_stack([1 / (1 + np.exp(-s)), 1 - 1 / (1 + np.exp(-s))])

    x = np.array([[1.0, 0.0, 2.0]])
    out = finite_difference_saliency(predict_proba, x, [0], scheme="central")
    s = x.sum()
    expected = np.exp(-s) / (1 + np.exp(-s)) ** 2
    np.testing.assert_allclose(out, expected, rtol=1e-4)  # every pixel has the same derivative here


def test_resolve_targets():
    classes = ["intermediate", "type1", "type2"]
    np.testing.assert_array_equal(resolve_targets(None, classes, ["type2", "type1"]), [2, 1])
    np.testing.assert_array_equal(resolve_targets("predicted", classes, ["type1"]), [1])
    np.testing.assert_array_equal(resolve_targets("type2", classes, ["type1", "type1"]), [2, 2])
    np.testing.assert_array_equal(resolve_targets(0, classes, ["type1", "type1"]), [0, 0])
    np.testing.assert_array_equal(resolve_targets(["type1", 2], classes, ["a", "b"]), [1, 2])
    with pytest.raises(ValueError, match="unknown class"):
        resolve_targets("type3", classes, ["type1"])
    with pytest.raises(ValueError, match="outside"):
        resolve_targets(5, classes, ["type1"])
    with pytest.raises(ValueError, match="2 targets for 1"):
        resolve_targets(["type1", "type2"], classes, ["type1"])


def test_cosine_similarity():
    a = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
    b = np.array([[2.0, 0.0], [-1.0, -1.0], [1.0, 0.0]])
    out = cosine_similarity(a, b)
    np.testing.assert_allclose(out[:2], [1.0, -1.0])
    assert np.isnan(out[2])


def test_exact_saliency_of_a_trained_svm_agrees_with_central_differences(trained_model, reduced_sample):
    """The issue's criterion on held-out spectra: cosine ≥ 0.99 between autograd through the replica of
    libsvm and central differences of scikit-learn's own predict_proba; maps that are zero (probability at
    libsvm's clip) must be zero both ways."""
    model = load_model(trained_model)
    data = SpectraSet.load(reduced_sample)
    X = data.flux[model.split_.contains(data.ids, "test") | model.split_.contains(data.ids, "validation")]
    X = X.astype(np.float64)
    target = resolve_targets(None, model.classes_, model.predict(X))
    exact = gradient_saliency(model.as_module(), X, target)
    # the reference: scikit-learn's libsvm with its own probabilities, fitted on the same spectra
    rows = np.concatenate([model.split_.rows(data.ids, part) for part in ("train", "validation")])
    reference = fit_quietly(libsvm_probability_svm(model.kernel_, model.params_["C"], model.params_["gamma"],
                                                   n_features=X.shape[1], seed=model.seed,
                                                   standardise=model.standardise),
                            data.flux[rows].astype(float), data.labels[rows])
    numeric = finite_difference_saliency(reference.predict_proba, X, target, scheme="central")
    zero = ~np.any(exact != 0, axis=1)
    assert np.abs(numeric[zero]).max(initial=0.0) < 1e-9
    assert (~zero).sum() >= 5
    assert cosine_similarity(exact[~zero], numeric[~zero]).min() >= 0.99


@pytest.mark.parametrize("log", [False, True])
def test_one_backward_pass_equals_captum_saliency_on_every_model_kind(trained_model, cnn_model, radio_model, radio,
                                                                      reduced_sample, log):
    """row_gradients differentiates the sum of the selected outputs instead of captum's one root per output; the
    numbers must be captum's own on each kind of astroxai model (SVM bridges, spectrum CNN, image CNN), with
    per-input targets, in batches where a row coupling to another row would show."""
    import torch
    from captum.attr import Saliency

    from astroxai.data import ImageSet
    from astroxai.explain.saliency import row_gradients

    spectra = SpectraSet.load(reduced_sample).flux[:24].astype(np.float64)
    images = ImageSet.load(radio).images[:6].astype(np.float64)
    svm = load_model(trained_model)
    cases = [(svm.as_module(), spectra), (svm.with_kernel(SpectraSet.load(reduced_sample), "rbf").as_module(),
                                          spectra),
             (load_model(cnn_model).as_module(), spectra), (load_model(radio_model).as_module(prepared=True),
                                                            load_model(radio_model).prepare(images))]
    for module, X in cases:
        dtype = next(module.buffers(), next(module.parameters(), None)).dtype
        x = torch.as_tensor(X, dtype=dtype).requires_grad_(True)
        k = module(x).shape[1]
        target = torch.as_tensor(np.arange(len(X)) % k)
        ours = row_gradients(module, x, target, log=log)
        wrapped = module if not log else _Log(module)
        theirs = Saliency(wrapped).attribute(x, target=target, abs=False)
        assert ours.abs().max() > 0
        torch.testing.assert_close(ours, theirs, rtol=1e-5 if dtype == torch.float32 else 1e-12,
                                   atol=1e-7 if dtype == torch.float32 else 1e-15)


class _Log:
    """log of a module's output, as captum should see it for log=True."""

    def __init__(self, module):
        self.module = module

    def __call__(self, x):
        import torch

        return torch.log(self.module(x).clamp_min(1e-300))


def test_decide_is_predict_and_predict_proba(trained_model, cnn_model, reduced_sample):
    data = SpectraSet.load(reduced_sample)
    for folder in (trained_model, cnn_model):
        model = load_model(folder)
        predicted, probabilities = model.decide(data)
        np.testing.assert_array_equal(predicted, model.predict(data))
        np.testing.assert_allclose(probabilities, model.predict_proba(data), rtol=1e-12, atol=1e-15)


def test_one_pass_saliency_of_a_network_equals_its_decision_and_the_two_pass_map(cnn_model, radio_model, radio,
                                                                                 reduced_sample, trained_model):
    """A network decides for its most probable class, so Explainer takes the decision and the saliency map from one
    forward pass.  Its decisions must be ``predict``'s, its probabilities ``predict_proba``'s and its maps those of
    the separate attribution at the decided classes (float32 networks: to float32 tolerance).  The SVM, which
    decides by vote, keeps the two passes."""
    from astroxai.data import ImageSet
    from astroxai.explain import Explainer

    spectra = SpectraSet.load(reduced_sample).subset(np.arange(40))
    images = ImageSet.load(radio).subset(np.arange(12))
    for folder, data in ((cnn_model, spectra), (radio_model, images)):
        model = load_model(folder)
        explainer = Explainer(model, "saliency")
        assert explainer._one_pass("predicted") and not explainer._one_pass(["type1"] * len(data))
        one = explainer.explain(data)
        np.testing.assert_array_equal(one.predicted, model.predict(data))
        np.testing.assert_array_equal(one.targets, one.predicted)
        np.testing.assert_allclose(one.probabilities, model.predict_proba(data), rtol=1e-5, atol=1e-6)
        index = [list(one.classes).index(c) for c in one.predicted]
        two = explainer.explain(data, target=index)  # explicit targets: the decision and the map apart
        assert np.abs(one.maps).max() > 0
        np.testing.assert_allclose(one.maps, two.maps, rtol=1e-4, atol=1e-6 * np.abs(two.maps).max())
    svm = load_model(trained_model)
    assert not Explainer(svm, "saliency")._one_pass("predicted")
    assert not Explainer(load_model(cnn_model), "saliency", log=True)._one_pass("predicted")
