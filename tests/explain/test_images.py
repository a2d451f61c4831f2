"""The explain machinery on images: every method against closed forms on an additive image model, superpixels,
and the trust metrics on (N, C, H, W) inputs."""

import numpy as np
import pytest

from astroxai.explain.methods import attribute
from astroxai.explain.metrics import deletion_insertion, mass_in_mask, predictor, rank_correlation, stability
from astroxai.explain.segments import superpixels
from astroxai.simulate.radio import simulate_radio
from tests.helpers import AdditiveImage


@pytest.fixture
def additive():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(1, 24, 24)) * 1e-4
    X = 1.0 + rng.random((3, 1, 24, 24))
    base = np.full((1, 24, 24), 1.2)
    return AdditiveImage(w), w, X, base


def test_saliency_and_occlusion_on_images(additive):
    model, w, X, base = additive
    np.testing.assert_allclose(attribute(model, X, 0, "saliency").maps, np.broadcast_to(w, X.shape))
    maps = attribute(model, X, 0, "occlusion", baseline=base, window=6, stride=3).maps
    contribution = w * (X - base)
    expected, count = np.zeros_like(X), np.zeros((24, 24))
    for i in range(0, 24 - 6 + 1, 3):
        for j in range(0, 24 - 6 + 1, 3):
            expected[:, :, i:i + 6, j:j + 6] += contribution[:, :, i:i + 6, j:j + 6].sum(axis=(1, 2, 3))[:, None,
                                                                                                         None, None]
            count[i:i + 6, j:j + 6] += 1
    np.testing.assert_allclose(maps, expected / count, rtol=1e-6, atol=1e-10)


def test_kernelshap_and_lime_on_superpixels_recover_segment_sums(additive):
    model, w, X, base = additive
    masks = superpixels(X[:, 0], n_segments=8)
    assert masks.shape == (3, 24, 24) and all(np.unique(m).size >= 3 for m in masks)
    contribution = (w * (X - base))[:, 0]
    expected = np.stack([np.bincount(m.ravel(), weights=c.ravel())[m] for m, c in zip(masks, contribution,
                                                                                        strict=True)])
    shap = attribute(model, X, 0, "kernelshap", baseline=base, feature_mask=masks[:, None], n_samples=300).maps
    np.testing.assert_allclose(shap[:, 0], expected, atol=1e-6)
    lime = attribute(model, X, 0, "lime", baseline=base, feature_mask=masks[:, None], n_samples=300).maps
    np.testing.assert_allclose(lime[:, 0], expected, atol=0.05 * np.abs(expected).max())
    # without a mask, images get SLIC superpixels
    default = attribute(model, X[:1], 0, "kernelshap", baseline=base, n_segments=8, n_samples=200)
    assert default.options["n_features"] >= 3 and default.maps.shape == (1, 1, 24, 24)


def test_superpixels_follow_radio_structure():
    sim = simulate_radio("FRII", np.random.default_rng(5))
    labels = superpixels(sim.image[None], n_segments=50)[0]
    assert labels.min() == 0 and np.unique(labels).size > 20
    # the hot spots are not split over many superpixels: each one lies mostly in one segment
    spots = sim.masks["hotspots"]
    dominant = max(np.bincount(labels[spots]).max() / spots.sum(), 0)
    assert dominant > 0.3


def test_trust_metrics_on_images(additive):
    model, w, X, base = additive
    exact = w * (X - base)
    target = np.zeros(len(X), int)
    faith = deletion_insertion(predictor(model), X, exact, target, np.broadcast_to(base, X.shape), n_random=3)
    assert np.all(faith["deletion_auc"] < faith["random_deletion_auc"])
    assert np.all(faith["insertion_auc"] > faith["random_insertion_auc"])
    assert rank_correlation(exact, exact).tolist() == pytest.approx([1.0, 1.0, 1.0])
    moved = stability(lambda s, t: s, X, None, 0.0)
    np.testing.assert_array_equal(moved, 0.0)
    masks = np.zeros((3, 24, 24), bool)
    masks[:, :12] = True
    mass = mass_in_mask(np.ones_like(X), masks)
    np.testing.assert_allclose(mass["mass"], 0.5)
    np.testing.assert_allclose(mass["lift"], 1.0)
