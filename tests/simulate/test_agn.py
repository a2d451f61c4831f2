import csv

import numpy as np
import pytest

from astroxai.io import read_spectrum
from astroxai.lines import BALMER, C_KMS
from astroxai.reduce import snr_at
from astroxai.simulate import simulate_sample
from astroxai.simulate.agn import (
    FRACTION_BROAD_HB,
    LOGLAM,
    Q_FWHM_HB_BROAD_INT,
    PixelGrid,
    draw_parameters,
    model_spectrum,
    simulate_spectrum,
)
from astroxai.simulate.distributions import split_lognormal


def test_sdss_pixel_grid():
    assert 10 ** LOGLAM[0] == pytest.approx(3800, abs=0.5)
    assert 9190 < 10 ** LOGLAM[-1] <= 9200
    np.testing.assert_allclose(np.diff(LOGLAM), 1e-4)


def test_split_lognormal_reproduces_its_quantiles():
    draws = split_lognormal(np.random.default_rng(0), 590, 2700, 6300, size=200_000)
    np.testing.assert_allclose(np.percentile(draws, [5, 50, 95]), [590, 2700, 6300], rtol=0.02)


def test_line_flux_is_conserved_by_pixel_integration():
    grid = PixelGrid(0.05)
    for sigma in (30.0, 64.0, 3000.0):  # narrower than a pixel, about one pixel, very broad
        profile = grid.gaussians([4862.68], sigma, [7.5])
        assert np.sum(profile * grid.width) == pytest.approx(7.5, rel=1e-6)


def test_all_lines_at_once_equal_each_line_integrated_over_each_pixel():
    """The vectorised line sum against an independent brute force: scipy's normal CDF in ln λ over every pixel,
    line by line (lines overlapping, one of zero flux, one off the grid)."""
    from scipy.stats import norm

    grid = PixelGrid(0.1)
    centres, sigmas, fluxes = [4862.68, 4960.3, 5008.24, 4870.0, 9999.0, 4341.0], [60.0, 90.0, 90.0, 3000.0, 50.0,
                                                                                  40.0], [1.0, 2.0, 6.0, 4.0, 1.0, 0.0]
    reference = np.zeros_like(grid.wave)
    for c, s, f in zip(centres, sigmas, fluxes, strict=True):
        spread = s / C_KMS
        inside = norm.cdf(grid.ln_hi, np.log(c), spread) - norm.cdf(grid.ln_lo, np.log(c), spread)
        reference += f * inside / grid.width
    np.testing.assert_allclose(grid.gaussians(centres, sigmas, fluxes), reference, rtol=1e-7, atol=1e-12)


def test_remembered_extinction_is_ccm89():
    from dust_extinction.parameter_averages import CCM89

    from astroxai.simulate.dust import transmission as _transmission

    for wave in (np.array([4862.68]), np.linspace(3500, 9000, 50)):
        expected = 10.0 ** (-0.4 * 3.1 * 0.3 * CCM89.evaluate(1e4 / wave, 3.1))
        np.testing.assert_array_equal(_transmission(wave, 0.3), expected)
        np.testing.assert_array_equal(_transmission(wave, 0.3), expected)  # the second call: remembered


def _fwhm_kms(wave, flux, centre):
    """Brute-force FWHM of the single peak nearest ``centre`` in a noiseless profile."""
    peak = np.argmax(np.where(np.abs(wave - centre) < 30, flux, -np.inf))
    half = flux[peak] / 2
    left = peak
    while flux[left] > half:
        left -= 1
    right = peak
    while flux[right] > half:
        right += 1
    lo = np.interp(half, [flux[left], flux[left + 1]], [wave[left], wave[left + 1]])
    hi = np.interp(half, [flux[right], flux[right - 1]], [wave[right], wave[right - 1]])
    return (hi - lo) / centre * C_KMS


def test_broad_hbeta_width_in_the_spectrum_is_the_drawn_one():
    rng = np.random.default_rng(3)
    checked = 0
    while checked < 5:
        p = draw_parameters("intermediate", rng)
        if not p["has_broad_hb"] or p["fwhm_hb_broad"] < 1500:
            continue
        grid, model, _ = model_spectrum(p)
        _, without, _ = model_spectrum({**p, "has_broad_hb": False})
        broad = model - without  # the broad Balmer component alone
        sel = np.abs(grid.wave - BALMER["Hβ"]) < 150
        expected = np.hypot(p["fwhm_hb_broad"], 2.3548 * 64.0)  # intrinsic ⊕ instrument
        assert _fwhm_kms(grid.wave[sel], broad[sel], BALMER["Hβ"]) == pytest.approx(expected, rel=0.04)
        checked += 1


def test_type2_has_no_broad_balmer_wings():
    p = draw_parameters("type2", np.random.default_rng(5))
    grid, model, continuum = model_spectrum(p)
    v = (grid.wave / BALMER["Hβ"] - 1) * C_KMS
    wings = (np.abs(v) > 1500) & (np.abs(v) < 4000)
    assert np.max(np.abs(model[wings] - continuum[wings])) < 0.02


def test_drawn_populations_follow_the_measured_ones():
    rng = np.random.default_rng(11)
    params = [draw_parameters("intermediate", rng) for _ in range(4000)]
    broad = np.array([p["has_broad_hb"] for p in params])
    assert broad.mean() == pytest.approx(FRACTION_BROAD_HB, abs=0.025)
    assert {p["subtype"] for p in params} == {"1.2", "1.5", "1.8", "1.9"}
    fwhm = np.array([p["fwhm_hb_broad"] for p in params])[broad]
    np.testing.assert_allclose(np.percentile(fwhm, [50, 95]), Q_FWHM_HB_BROAD_INT[1:], rtol=0.08)
    z1 = [draw_parameters("type1", rng)["z"] for _ in range(500)]
    assert 0.4 <= min(z1) and max(z1) <= 0.75


def test_noise_matches_the_drawn_snr():
    rng = np.random.default_rng(2)
    ratios = []
    for _ in range(30):
        sim = simulate_spectrum("type2", rng)
        rest = 10**LOGLAM / (1 + sim.params["z"])
        good = sim.ivar > 0
        pulls = (sim.flux - sim.model)[good] * np.sqrt(sim.ivar[good])
        assert np.std(pulls) == pytest.approx(1.0, abs=0.05)  # ivar describes the noise
        ratios.append(snr_at(rest, sim.flux, good) / sim.params["snr_5100"])
    assert np.median(ratios) == pytest.approx(1.0, abs=0.12)


def test_sample_is_reproducible_and_written_in_sdss_format(small_sample, tmp_path):
    again = simulate_sample(tmp_path, {"type1": 6, "type2": 6, "intermediate": 6}, seed=7, workers=1)
    with open(small_sample) as a, open(again) as b:
        rows_a, rows_b = list(csv.DictReader(a)), list(csv.DictReader(b))
    assert rows_a == rows_b
    first_a = read_spectrum(small_sample.parent / rows_a[0]["file"])
    first_b = read_spectrum(again.parent / rows_b[0]["file"])
    np.testing.assert_array_equal(first_a.flux, first_b.flux)
    assert first_a.z == pytest.approx(float(rows_a[0]["z"]), rel=1e-6)
    other = simulate_sample(tmp_path / "other", {"type1": 1}, seed=8, workers=1)
    with open(other) as handle:
        row = next(csv.DictReader(handle))
    assert read_spectrum(other.parent / row["file"]).flux[100] != first_a.flux[100]
    labels = [r["label"] for r in rows_a]
    assert labels.count("type1") == labels.count("type2") == labels.count("intermediate") == 6
    for r in rows_a:
        z = float(r["z"])
        assert (0.4 <= z <= 0.75) if r["label"] == "type1" else (0.02 <= z <= 0.1)
