"""The contract every estimator and every explanation method keeps (scikit-learn runs its common checks over every
estimator the same way): construction stores parameters, fit returns self with the learned state, predictions check
their inputs, save/load is exact, the torch module is the model; every method gives seeded maps shaped like the
inputs for every classifier."""

import numpy as np
import pytest
import torch

from astroxai import simulate
from astroxai.explain import Explainer, method_names
from astroxai.models import (
    EquivariantImageClassifier,
    Estimator,
    GridMismatchError,
    ImageCNNClassifier,
    ImageCNNRegressor,
    NotFittedError,
    SpectrumCNNClassifier,
    SVMClassifier,
)


@pytest.fixture(scope="module")
def spectra():
    return simulate.spectra_set({"type1": 12, "type2": 14, "intermediate": 12}, seed=21, n_wave=96)


@pytest.fixture(scope="module")
def galaxies():
    return simulate.image_set("galaxy", {"barred": 10, "unbarred": 10}, seed=22)


#: A typo'd or out-of-range hyper-parameter of each estimator: an error at construction, before any training.
BAD_PARAMETERS = {
    "svm": [({"kernel": ("linear",)}, TypeError), ({"classes": 4}, ValueError), ({"kernels": ("lin",)}, ValueError)],
    "spectrum-cnn": [({"clases": 3}, TypeError), ({"classes": 5}, ValueError)],
    "image-classifier": [({"max_epoch": 2}, TypeError), ({"max_epochs": -1}, ValueError)],
    "image-regressor": [({"learning_rate": -1.0}, ValueError), ({"batchsize": 8}, TypeError)],
    "image-equivariant": [({"kernel_size": 4}, ValueError), ({"chanels": (2, 4)}, TypeError)],
    "image-views": [({"dropout": 1.0}, ValueError), ({"average_view": True}, TypeError)],
}

ESTIMATORS = {
    "svm": (lambda: SVMClassifier(kernels=("linear", "rbf"), quick=True, seed=1), "spectra"),
    "spectrum-cnn": (lambda: SpectrumCNNClassifier(max_epochs=2, batch_size=16, seed=1), "spectra"),
    "image-classifier": (lambda: ImageCNNClassifier(max_epochs=2, seed=1), "images"),
    "image-regressor": (lambda: ImageCNNRegressor(max_epochs=2, seed=1), "images"),
    "image-equivariant": (lambda: EquivariantImageClassifier(channels=(2, 4, 4), max_epochs=2, seed=1), "images"),
    "image-views": (lambda: ImageCNNClassifier(max_epochs=2, seed=1, average_views=True), "images"),
}


@pytest.fixture(scope="module")
def fitted(spectra, galaxies):
    return {name: make().fit(spectra if kind == "spectra" else galaxies) for name, (make, kind) in ESTIMATORS.items()}


@pytest.mark.parametrize("name", ESTIMATORS)
def test_estimator_contract(name, fitted, spectra, galaxies, tmp_path):
    make, kind = ESTIMATORS[name]
    data = spectra if kind == "spectra" else galaxies
    fresh = make()
    for bad, error in BAD_PARAMETERS[name]:
        with pytest.raises(error):
            type(fresh)(**bad)
    assert type(fresh)(**fresh.get_params()).get_params() == fresh.get_params()
    with pytest.raises(NotFittedError):
        fresh.predict(data)
    model = fitted[name]
    for attribute in ("classes_", "grid_", "reduction_", "baseline_", "split_", "reference_"):
        assert hasattr(model, attribute), attribute
    assert hasattr(model, "search_") or hasattr(model, "history_")
    assert set(model.split_.train) | set(model.split_.validation) <= set(data.ids)
    predicted = model.predict(data)
    assert predicted.shape == (len(data),)
    if model.task == "classify":
        p = model.predict_proba(data)
        assert p.shape == (len(data), len(model.classes_)) and np.allclose(p.sum(axis=1), 1)
        assert set(predicted) <= set(model.classes_)
    else:
        assert not hasattr(model, "predict_proba") and np.isfinite(predicted).all()
    with pytest.raises(GridMismatchError):
        model.predict(np.ones((2, *[s + 1 for s in model.input_shape()])))
    model.save(tmp_path / name)
    loaded = Estimator.load(tmp_path / name)
    assert type(loaded) is type(model) and loaded.get_params() == model.get_params()
    np.testing.assert_array_equal(loaded.predict(data), predicted)
    np.testing.assert_array_equal(loaded.baseline_, model.baseline_)
    novelty = model.novelty(data)
    assert novelty["score"].shape == (len(data),) and np.isfinite(novelty["score"]).all()
    # the loaded reference holds the same float64 numbers (JSON keeps every digit) in the same memory order, so
    # the products differ at most by a BLAS kernel's round-off; the rank rules of models.reference keep any
    # variance divided by far above round-off, so that stays ~1e-15 relative (it was 1e-3 with a round-off Q limit)
    assert np.all(novelty["score"] < 1e6)  # no variance of round-off in the reference (scores of 1e28 before)
    np.testing.assert_allclose(loaded.novelty(data)["score"], novelty["score"], rtol=1e-12)
    module = model.as_module(prepared=True)
    with torch.no_grad():
        out = module(torch.as_tensor(model.prepare(data.inputs))).double().numpy()
    expected = model.predict_proba(data) if model.task == "classify" else predicted
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


CLASSIFIERS = [name for name in ESTIMATORS if name != "image-regressor"]
FAST = {"lime": {"n_samples": 40}, "kernelshap": {"n_samples": 40}, "smoothgrad": {"n_samples": 4},
        "integrated-gradients": {"n_steps": 8},
        "occlusion": {"window": 16, "stride": 16}}  # 16 windows of an image (225 by default: 26 s with 8 views)


@pytest.mark.parametrize("method", method_names())
@pytest.mark.parametrize("name", CLASSIFIERS)
def test_explainer_contract(name, method, fitted, spectra, galaxies):
    model = fitted[name]
    data = (spectra if model.modality == "spectra" else galaxies).subset(np.arange(3))
    if method not in method_names(model.modality):
        with pytest.raises(ValueError, match="spectra only"):
            Explainer(model, method)
        return
    explainer = Explainer(model, method, seed=4, **FAST.get(method, {}))
    first = explainer.explain(data)
    assert first.maps.shape == data.inputs.shape and np.isfinite(first.maps).all()
    np.testing.assert_array_equal(first.ids, data.ids)
    assert first.method == explainer.method and set(first.targets) <= set(model.classes_)
    assert (first.baseline is not None) == explainer.method_class.uses_baseline
    again = Explainer(model, method, seed=4, **FAST.get(method, {})).explain(data)
    np.testing.assert_array_equal(again.maps, first.maps)  # every random draw is seeded
