import numpy as np
import pytest
import torch

from astroxai.models.bridge import SVCProbability
from astroxai.models.svm import fit_quietly, make_svm


def _data(n_classes, n=150, d=25, seed=0):
    rng = np.random.default_rng(seed)
    y = np.array(["type1", "type2", "intermediate"][:n_classes])[rng.integers(0, n_classes, size=n)]
    X = rng.normal(size=(n, d)) * rng.uniform(0.3, 2.0, size=d) + 1.0
    X[y == "type1", :5] += 1.0
    X[y == "intermediate", 5:9] -= 0.8
    return X[:100], y[:100], X[100:]


def _fit(kernel, n_classes, standardise=True, seed=0):
    X, y, held_out = _data(n_classes, seed=seed)
    if kernel == "sigmoid":
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import StandardScaler
        from sklearn.svm import SVC

        svc = SVC(kernel="sigmoid", gamma=0.01, coef0=0.5, probability=True, random_state=0)
        model = Pipeline([("scale", StandardScaler() if standardise else "passthrough"), ("svm", svc)])
    else:
        model = make_svm(kernel, 1.0, 0.02, n_features=X.shape[1], probability=True, standardise=standardise)
    return fit_quietly(model, X, y), held_out


@pytest.mark.parametrize("standardise", [True, False])
@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("kernel", ["linear", "rbf", "poly2", "poly3", "sigmoid"])
def test_probabilities_equal_scikit_learn(kernel, n_classes, standardise):
    model, held_out = _fit(kernel, n_classes, standardise)
    bridge = SVCProbability.from_pipeline(model)
    assert bridge.classes == list(model.classes_)
    np.testing.assert_allclose(bridge.predict_proba(held_out), model.predict_proba(held_out), atol=1e-9)
    exact = SVCProbability.from_pipeline(model, coupling="exact").predict_proba(held_out)
    np.testing.assert_allclose(exact.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(exact, model.predict_proba(held_out), atol=5e-3)  # the iteration's tolerance


def _cosine(a, b):
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("kernel", ["linear", "rbf", "poly3"])
def test_gradients_agree_with_central_differences(kernel, n_classes):
    """Autograd through the exact coupling against central differences of the same smooth function, and
    autograd through libsvm's iterations against central differences of scikit-learn's predict_proba."""
    model, held_out = _fit(kernel, n_classes, seed=1)
    x = torch.tensor(held_out[:10], requires_grad=True)
    step = 1e-4
    for coupling, reference in (("exact", None), ("libsvm", model.predict_proba)):
        bridge = SVCProbability.from_pipeline(model, coupling=coupling)
        reference = reference or bridge.predict_proba
        probabilities = bridge(x)
        target = probabilities.argmax(dim=1)
        (grad,) = torch.autograd.grad(probabilities.gather(1, target[:, None]).sum(), x)
        for row in range(x.shape[0]):
            shifted = held_out[row] + step * np.eye(held_out.shape[1])
            numeric = (reference(shifted) - reference(held_out[row] - step * np.eye(held_out.shape[1]))) / (2 * step)
            assert _cosine(grad[row].numpy(), numeric[:, target[row]]) >= 0.99


def test_captum_saliency_is_the_autograd_gradient():
    from captum.attr import Saliency

    model, held_out = _fit("rbf", 3)
    bridge = SVCProbability.from_pipeline(model)
    x = torch.tensor(held_out[:5], requires_grad=True)
    attribution = Saliency(bridge).attribute(x, target=1, abs=False)
    (grad,) = torch.autograd.grad(bridge(x)[:, 1].sum(), x)
    torch.testing.assert_close(attribution, grad)


def test_refuses_what_it_cannot_convert():
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MinMaxScaler

    X, y, _ = _data(3)
    with pytest.raises(ValueError, match="probability=True"):
        SVCProbability(make_svm("linear", 1.0, n_features=X.shape[1]).fit(X, y))
    with pytest.raises(ValueError, match="3 Platt sigmoids"):
        SVCProbability(make_svm("linear", 1.0, n_features=X.shape[1]).fit(X, y), np.ones(2), np.ones(2))
    other = fit_quietly(make_pipeline(MinMaxScaler(), make_svm("linear", 1.0, n_features=X.shape[1],
                                                               probability=True).named_steps["svm"]), X, y)
    with pytest.raises(TypeError, match="StandardScaler"):
        SVCProbability(other)


def test_an_undecided_model_has_gradient_zero_not_a_broken_graph():
    """Platt sigmoids that give every pair 1/2 on these spectra (here B = 0 and a tiny A): libsvm's coupling has
    converged at its starting point 1/k.  Before, the output then had no autograd graph and captum's Saliency raised
    "element 0 of tensors does not require grad" (found by the fuzz corpus on a model trained on 18 spectra); the
    exact derivative of libsvm's answer there is zero, and that is what comes back."""
    from captum.attr import Saliency

    model, held_out = _fit("rbf", 3)
    bridge = SVCProbability.from_pipeline(model, np.full(3, 1e-9), np.zeros(3))
    x = torch.tensor(held_out[:4], requires_grad=True)
    probabilities = bridge(x)
    torch.testing.assert_close(probabilities, torch.full_like(probabilities, 1 / 3))
    attribution = Saliency(bridge).attribute(x, target=0, abs=False)
    assert torch.equal(attribution, torch.zeros_like(attribution))
