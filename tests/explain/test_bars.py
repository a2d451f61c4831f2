"""Bar length from an attribution map: ellipses of known size and orientation, detached features ignored, and the
simulator's own bar recovered from its noiseless bar image."""

import numpy as np
import pytest

from astroxai.explain.bars import bar_from_isophotes, bar_from_map, bar_from_profile, bar_lengths, component_moments
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
    """A Ferrers bar I ∝ (1 − m²)ⁿ is above t × its peak where m² < 1 − t^(1/n): a thresholded bar is shorter than
    the true one by √(1 − t^(1/n)) (the PSF changes that by up to ten per cent for the flattest bars, whose sharp
    end it rounds)."""
    for seed in range(8):
        p = simulate_galaxy("barred", np.random.default_rng(seed)).params
        expected = np.sqrt(1 - threshold ** (1 / p["bar_ferrers_n"]))
        bar = galaxy_model(p)["bar"]
        measured = bar_from_map(bar, (p["x0"], p["y0"]), threshold=threshold, smooth=0)["length_px"]
        assert measured / p["bar_length_px"] == pytest.approx(expected, rel=0.1), seed


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


def _ellipse(a, axis_ratio, angle, n=64):
    y, x = np.mgrid[0:n, 0:n] - (n - 1) / 2
    u, v = np.cos(angle) * x + np.sin(angle) * y, -np.sin(angle) * x + np.cos(angle) * y
    return (u / a) ** 2 + (v / (axis_ratio * a)) ** 2, np.hypot(x, y)


@pytest.mark.parametrize("a,angle", [(8, 0.3), (12, 2.0), (17, 1.1)])
def test_the_profile_route_follows_a_bar_to_its_end_under_round_contamination(a, angle):
    """A uniform elongated region of half-length a (the bar in a map) under a round Gaussian (the bulge) and a ring
    (the disc around the bar's end): the moments of the centre measure it short, the profile to its end."""
    m2, r = _ellipse(a, 0.3, angle)
    saliency = (m2 < 1) + 0.8 * np.exp(-0.5 * (r / 4) ** 2) + 0.4 * np.exp(-0.5 * ((r - a - 3) / 1.5) ** 2)
    found = bar_from_profile(saliency)
    assert found["length_px"] == pytest.approx(2 * a, rel=0.1)
    assert abs((found["pa"] - angle + np.pi / 2) % np.pi - np.pi / 2) < np.radians(3)


def test_isophotes_read_the_ellipticity_and_find_a_bar_inside_a_round_disc():
    """photutils' isophotes of an elliptical exponential (axis ratio 0.5) have ellipticity 0.5 at its angle; a flat
    bar in a round disc is found at its angle, its end at the radius of maximum ellipticity, which lies inside the
    bar (the usual underestimate of that criterion, here 0.35–1 of the true length)."""
    from scipy.ndimage import gaussian_filter

    m2, _ = _ellipse(1.0, 0.5, 0.6)
    found = bar_from_isophotes(np.exp(-np.sqrt(m2) / 6), smooth=0)
    assert found["ellipticity"] == pytest.approx(0.5, abs=0.03)
    assert abs((found["pa"] - 0.6 + np.pi / 2) % np.pi - np.pi / 2) < np.radians(3)
    for a, angle in ((10, 0.5), (15, 2.2)):
        m2, r = _ellipse(a, 0.3, angle)
        bar = np.where(m2 < 1, np.sqrt(np.clip(1 - m2, 0, None)), 0)
        disc = np.exp(-r / 6)
        image = gaussian_filter(0.8 * disc / disc.sum() + 0.2 * bar / bar.sum(), 1.0)
        found = bar_from_isophotes(image)
        assert 0.35 <= found["length_px"] / (2 * a) <= 1.0
        assert abs((found["pa"] - angle + np.pi / 2) % np.pi - np.pi / 2) < np.radians(5)
    assert np.isnan(bar_from_isophotes(np.zeros((64, 64)))["length_px"])  # nothing to fit


def _signed_bar_map(a, angle, arm=False):
    """A classifier's map of a barred galaxy as the study sees them: a blue bar of half-length a, red flanks along it,
    a red ring of disc beyond its ends, and (``arm``) a blue spiral arm leaving one end."""
    m2, r = _ellipse(a, 0.3, angle)
    y, x = np.mgrid[0:64, 0:64] - 31.5
    u, v = np.cos(angle) * x + np.sin(angle) * y, -np.sin(angle) * x + np.cos(angle) * y
    saliency = np.sqrt(np.clip(1 - m2, 0, None))
    saliency -= 0.6 * np.exp(-0.5 * ((r - a - 3) / 1.5) ** 2)
    saliency -= 0.5 * (np.abs(u) < a) * np.exp(-0.5 * ((np.abs(v) - 0.3 * a - 2) / 1.2) ** 2)
    if arm:  # the start of a blue arm that carries on from the +u end
        saliency += np.exp(-0.5 * (((u - a - 5) / 4) ** 2 + (v / 1.5) ** 2))
    return saliency


@pytest.mark.parametrize("a,angle", [(6, 0.3), (10, 2.0), (15, 1.1)])
def test_the_blue_profile_measures_the_bar_and_not_its_red_surroundings(a, angle):
    from astroxai.explain.bars import bar_from_blue_profile, bar_from_moments

    saliency = _signed_bar_map(a, angle)
    found = bar_from_blue_profile(saliency)
    assert found["length_px"] == pytest.approx(2 * a, rel=0.1)
    assert found["sides"][0] == pytest.approx(found["sides"][1], abs=0.5)
    assert abs((found["pa"] - angle + np.pi / 2) % np.pi - np.pi / 2) < np.radians(3)
    # the same map through |map|: the red ring beyond the ends adds a round part, the moments shrink the bar
    assert bar_from_moments(saliency, radius=a + 6)["length_px"] < 0.8 * found["length_px"]
    # a map with no blue in it measures nothing
    assert bar_from_blue_profile(-np.abs(saliency))["length_px"] == 0.0


def test_the_blue_profile_takes_the_shorter_side_when_an_arm_carries_one_on():
    from astroxai.explain.bars import bar_from_blue_profile

    found = bar_from_blue_profile(_signed_bar_map(10, 0.7, arm=True))
    assert max(found["sides"]) > 1.2 * min(found["sides"])  # the arm lengthened one side …
    assert found["length_px"] == pytest.approx(20, rel=0.1)  # … and the length kept the other
