"""Bar length from an attribution map: ellipses of known size and orientation, detached features ignored, and the
simulator's own bar recovered from its noiseless bar image."""

import numpy as np
import pytest

from astroxai.explain.bars import bar_from_map, bar_lengths, component_moments
from astroxai.simulate.galaxy import galaxy_model, simulate_galaxy


def ellipse(a, b, angle, size=64, centre=(31.5, 31.5)):
    y, x = np.mgrid[0:size, 0:size].astype(float)
    dx, dy = x - centre[0], y - centre[1]
    u = np.cos(angle) * dx + np.sin(angle) * dy
    v = -np.sin(angle) * dx + np.cos(angle) * dy
    return (u / a) ** 2 + (v / b) ** 2 <= 1


@pytest.mark.parametrize("a,b,angle", [(12, 3, 0.3), (20, 5, 1.2), (8, 2.5, 2.8)])
def test_moments_of_an_ellipse_give_its_length_and_angle(a, b, angle):
    length, pa, ratio = component_moments(ellipse(a, b, angle))
    assert length == pytest.approx(2 * a, rel=0.05)
    assert abs((pa - angle + np.pi / 2) % np.pi - np.pi / 2) < np.radians(2)
    assert ratio == pytest.approx(b / a, rel=0.15)


def test_bar_from_map_keeps_the_central_component_only():
    bar = ellipse(14, 3, 0.7).astype(float)
    blob = ellipse(4, 4, 0.0, centre=(55, 10)).astype(float) * 1.5  # brighter, but detached from the centre
    rng = np.random.default_rng(0)
    saliency = bar + blob + 0.02 * rng.normal(size=bar.shape)
    result = bar_from_map(saliency, search_radius=64)
    assert result["length_px"] == pytest.approx(28, rel=0.1)
    assert not result["mask"][10, 55] and result["mask"][31, 31]
    assert bar_from_map(np.zeros((64, 64)))["length_px"] == 0.0
    lengths = bar_lengths([saliency, saliency], method="threshold", search_radius=64)
    np.testing.assert_allclose(lengths, result["length_px"])


@pytest.mark.parametrize("threshold", [0.1, 0.2, 0.3])
def test_the_simulators_bar_measures_as_a_thresholded_ferrers_profile(threshold):
    """A Ferrers bar I ∝ (1 − m²)² is above t × its peak where m² < 1 − √t: a thresholded bar is shorter than the
    true one by √(1 − √t) (the PSF changes that by a few per cent)."""
    expected = np.sqrt(1 - np.sqrt(threshold))
    for seed in range(8):
        p = simulate_galaxy("barred", np.random.default_rng(seed)).params
        bar = galaxy_model(p)["bar"]
        measured = bar_from_map(bar, (p["x0"], p["y0"]), threshold=threshold, smooth=0)["length_px"]
        assert measured / p["bar_length_px"] == pytest.approx(expected, rel=0.06), seed


def weighted_moments_length(a, b):
    return 2 * np.sqrt(a ** 2 - b ** 2)


@pytest.mark.parametrize("a,b,angle", [(8, 2, 0.4), (9, 3, 2.0)])
def test_moments_measure_an_elongated_region_and_ignore_a_round_one(a, b, angle):
    from astroxai.explain.bars import bar_from_moments

    bar = ellipse(a, b, angle).astype(float)
    alone = bar_from_moments(bar, radius=20, smooth=0)
    assert alone["length_px"] == pytest.approx(weighted_moments_length(a, b), rel=0.06)
    assert abs((alone["pa"] - angle + np.pi / 2) % np.pi - np.pi / 2) < np.radians(3)
    assert bar_from_moments(ellipse(7, 7, 0.0).astype(float), radius=20, smooth=0)["length_px"] < 1.0
    # a round component adds to both eigenvalues: the difference is only diluted by the bar's share of the weight
    disc = ellipse(6, 6, 0.0).astype(float)
    both = bar_from_moments(bar + disc, radius=20, smooth=0)
    share = bar.sum() / (bar + disc).sum()
    expected = weighted_moments_length(a, b) * np.sqrt(share)
    assert both["length_px"] == pytest.approx(expected, rel=0.08)
    # weight outside the radius is ignored
    far = ellipse(3, 3, 0.0, centre=(60, 60)).astype(float) * 5
    assert bar_from_moments(bar + far, radius=20, smooth=0)["length_px"] == pytest.approx(alone["length_px"])


def test_calibration_is_the_least_squares_line():
    from astroxai.explain.bars import calibrate

    measured = np.array([1.0, 2.0, 3.0, 4.0])
    slope, intercept = calibrate(measured, 2 * measured + 1)
    assert (slope, intercept) == pytest.approx((2.0, 1.0))
