"""The paper's reduction steps, each against a known answer, and the in-memory reduction against the file path."""

import numpy as np
import pytest

from astroxai import simulate
from astroxai.io import collect_inputs
from astroxai.lines import PAPER_RANGE
from astroxai.reduce import (
    ReductionSettings,
    flux_at,
    normalise_at,
    overlap_range,
    reduce_spectra,
    resample_to_grid,
    rest_wavelength,
    wavelength_grid,
)
from astroxai.spectrum import Spectrum, SpectrumError


def test_rest_wavelength():
    np.testing.assert_allclose(rest_wavelength(np.array([5100.0, 6120.0]), 0.2), [4250.0, 5100.0])
    with pytest.raises(SpectrumError, match="missing redshift"):
        rest_wavelength(np.ones(3), None)
    with pytest.raises(SpectrumError, match="negative redshift"):
        rest_wavelength(np.ones(3), -0.01)


def test_normalisation_is_robust_to_a_cosmic_ray():
    wave = np.linspace(5000, 5200, 201)
    flux = np.full(wave.size, 3.0)
    flux[100] = 300.0  # a cosmic ray right at 5100 Å: the paper's single pixel would be ruined
    normalised, value = normalise_at(wave, flux, np.ones(wave.size, bool))
    assert value == pytest.approx(3.0)
    assert np.median(normalised) == pytest.approx(1.0)


def test_normalisation_errors():
    wave = np.linspace(3000, 4000, 100)
    with pytest.raises(SpectrumError, match="does not cover 5100"):
        flux_at(wave, np.ones(100))
    wave = np.linspace(5000, 5200, 201)
    with pytest.raises(SpectrumError, match="zero or negative"):
        flux_at(wave, -np.ones(201))


def test_resampling_linear_function_is_exact_and_bad_pixels_do_not_leak():
    wave = np.linspace(3700, 5300, 1601)
    flux = 1 + (wave - 3700) / 1000
    good = np.ones(wave.size, bool)
    flux_bad = flux.copy()
    flux_bad[500:520] = 1e6  # garbage under ivar = 0
    good[500:520] = False
    grid = wavelength_grid(3800, 5200, 700)
    out, frac_bad = resample_to_grid(wave, flux_bad, good, grid)
    np.testing.assert_allclose(out, 1 + (grid - 3700) / 1000, rtol=1e-10)
    inside = (wave >= 3800) & (wave <= 5200)
    assert frac_bad == pytest.approx(20 / inside.sum())


def test_flux_conserving_resampling_preserves_the_mean():
    rng = np.random.default_rng(0)
    wave = np.linspace(3700, 5300, 3201)
    flux = 1 + 0.1 * rng.standard_normal(wave.size)
    grid = wavelength_grid(3800, 5200, 500)
    out, _ = resample_to_grid(wave, flux, np.ones(wave.size, bool), grid, method="flux-conserving")
    inside = (wave >= 3800) & (wave <= 5200)
    assert out.mean() == pytest.approx(flux[inside].mean(), abs=2e-3)
    # Averaging over ~3 pixels per bin lowers the noise, as linear sampling does not.
    linear, _ = resample_to_grid(wave, flux, np.ones(wave.size, bool), grid)
    assert out.std() < 0.75 * linear.std()


def test_grid_not_covered():
    wave = np.linspace(4000, 5300, 100)
    with pytest.raises(SpectrumError, match="does not cover the grid"):
        resample_to_grid(wave, np.ones(100), np.ones(100, bool), wavelength_grid(3800, 5200, 10))


def test_overlap_reproduces_the_papers_adopted_range():
    # Table 1 of Peruzzi et al. (2021): per-class extremes → the adopted range.
    table = [(2713.93, 5265.95), (3727.07, 6955.6), (3728.91, 8318.88)]
    assert overlap_range(table) == PAPER_RANGE
    with pytest.raises(ValueError, match="share no wavelength"):
        overlap_range([(3000, 4000), (4500, 5000)])


def test_in_memory_simulation_and_reduction_equal_the_files_read_back(tmp_path):
    """simulate.spectra_set (no files) must give what simulate_sample + the FITS reader + the streaming reduction
    give: the same spectra, the same grid, the same fluxes."""
    from astroxai.data import SpectraSet
    from astroxai.workflows.reduce import reduce_inputs

    counts = {"type1": 3, "type2": 3, "intermediate": 2}
    catalog = simulate.simulate_sample(tmp_path / "sim", counts, seed=9, workers=1)
    reduce_inputs(collect_inputs([catalog]), tmp_path / "d.h5", ReductionSettings(n_wave=120), workers=1)
    from_files = SpectraSet.load(tmp_path / "d.h5")
    in_memory = simulate.spectra_set(counts, seed=9, n_wave=120)
    np.testing.assert_array_equal(in_memory.ids, from_files.ids)
    np.testing.assert_array_equal(in_memory.labels, from_files.labels)
    np.testing.assert_allclose(in_memory.wavelength, from_files.wavelength, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(in_memory.flux, from_files.flux)


def test_reduce_spectra_rejects_with_reasons_and_keeps_the_rest():
    wave = np.linspace(4000, 7000, 3000)
    good = Spectrum(wave, np.full(3000, 2.0), np.ones(3000), z=0.1, id="good")
    no_z = Spectrum(wave, np.ones(3000), np.ones(3000), id="no-z")
    data, fates = reduce_spectra([good, no_z], labels=["type2", "type1"], n_wave=40)
    assert data.ids.tolist() == ["good"] and data.labels.tolist() == ["type2"]
    np.testing.assert_allclose(data.flux, 1.0, rtol=1e-6)
    assert [f["status"] for f in fates] == ["kept", "rejected"] and "redshift" in fates[1]["reason"]
    with pytest.raises(SpectrumError, match="no spectrum"):
        reduce_spectra([no_z])
