"""The Explainer: it takes grid, baseline, predictions and the explained space from the model, so a notebook and the
command line give the same maps; Explanation round-trips through its one HDF5 layout."""

import numpy as np
import pytest

from astroxai import simulate
from astroxai.data import SpectraSet
from astroxai.explain import Explainer, Explanation, attribute
from astroxai.explain.methods import continuum, wavelength_segments
from astroxai.models import GridMismatchError, SVMClassifier


@pytest.fixture(scope="module")
def fitted():
    data = simulate.spectra_set({"type1": 15, "type2": 20, "intermediate": 15}, seed=6, n_wave=160)
    return SVMClassifier(kernels=("rbf",), quick=True, seed=2).fit(data), data


def test_the_baseline_travels_with_the_model(fitted):
    """The notebook trap of the old API: perturbation methods used the *batch's* median unless the caller passed the
    model's.  Now the model's baseline is the default, whatever batch is explained."""
    model, data = fitted
    few = data.subset([0, 1, 2])
    why = Explainer(model, "occlusion").explain(few)
    by_hand = attribute(model.as_module(), few.flux, why.target_index(), "occlusion",
                        baseline=model.baseline_).maps
    np.testing.assert_array_equal(why.maps, by_hand)
    batch_median = attribute(model.as_module(), few.flux, why.target_index(), "occlusion",
                             baseline=np.median(few.flux, axis=0)).maps
    assert not np.allclose(why.maps, batch_median)
    explainer = Explainer(model, "integrated-gradients", baseline="continuum")
    np.testing.assert_allclose(explainer.reference(few.flux), continuum(few.flux))
    assert Explainer(model, "lime", baseline="median").baseline == "model"


def test_targets_predictions_and_zero_maps(fitted):
    model, data = fitted
    why = Explainer(model).explain(data)
    assert why.method == "saliency" and why.baseline is None  # saliency takes no baseline
    np.testing.assert_array_equal(why.predicted, model.predict(data))
    np.testing.assert_array_equal(why.targets, why.predicted)
    np.testing.assert_allclose(why.probabilities, model.predict_proba(data))
    np.testing.assert_array_equal(why.zero_map, ~np.any(why.maps != 0, axis=1))
    fixed = Explainer(model).explain(data, target="type1")
    assert set(fixed.targets) == {"type1"}
    probable = Explainer(model).explain(data, target="probable")
    np.testing.assert_array_equal(probable.targets, model.classes_[why.probabilities.argmax(axis=1)])
    with pytest.raises(ValueError, match="unknown class"):
        Explainer(model).explain(data, target="type3")


def test_the_grid_is_checked_and_options_are_the_methods(fitted):
    model, data = fitted
    shifted = SpectraSet(data.flux, data.wavelength + 5.0, data.labels, data.ids)
    with pytest.raises(GridMismatchError):
        Explainer(model).explain(shifted)
    with pytest.raises(ValueError, match="takes no options"):
        Explainer(model, "lime", n_steps=3)
    with pytest.raises(ValueError, match="unknown baseline"):
        Explainer(model, "lime", baseline="mean")
    lime = Explainer(model, "lime", lines=True, n_samples=100).explain(data.subset([0]))
    segments = wavelength_segments(data.wavelength, 40, lines=True)
    assert all(np.unique(lime.maps[0][segments == k]).size == 1 for k in range(segments.max() + 1))


def test_explanation_round_trip_in_one_layout(fitted, tmp_path):
    model, data = fitted
    why = Explainer(model, "integrated-gradients").explain(data.subset(np.arange(5)))
    path = why.save(tmp_path / "e.h5")
    Explainer(model, "smoothgrad").explain(data.subset(np.arange(5))).save(path)
    with pytest.raises(ValueError, match="several explanations"):
        Explanation.load(path)
    back = Explanation.load(path, "integrated-gradients")
    np.testing.assert_allclose(back.maps, why.maps.astype(np.float32))
    np.testing.assert_array_equal(back.ids, why.ids)
    np.testing.assert_array_equal(back.targets, why.targets)
    np.testing.assert_allclose(back.delta, why.delta)
    np.testing.assert_allclose(back.grid, data.wavelength)
    assert back.options == why.options and back.baseline == "model" and back.classes == why.classes


def test_images_are_explained_as_the_network_sees_them(radio_model, radio):
    from astroxai.data import ImageSet
    from astroxai.models import load_model

    model, data = load_model(radio_model), ImageSet.load(radio).subset(np.arange(4))
    why = Explainer(model, "lime", n_samples=60).explain(data)
    assert why.maps.shape == data.images.shape and why.modality == "images"
    np.testing.assert_allclose(why.inputs, model.prepare(data.images))
    np.testing.assert_array_equal(why.predicted, model.predict(data))
    assert why.features.shape == data.images.shape and why.baseline == "model"
    np.testing.assert_array_equal(Explainer(model, "occlusion").reference(why.inputs), 0.0)  # empty sky
    with pytest.raises(ValueError, match="spectra"):
        Explainer(model, "integrated-gradients", baseline="continuum")
