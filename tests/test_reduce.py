import csv

import numpy as np
import pytest

from astroxai import SpectraSet
from astroxai.dataset import SpectraSetWriter
from astroxai.io import InputItem, collect_inputs
from astroxai.lines import PAPER_RANGE
from astroxai.reduce import (
    flux_at,
    normalise_at,
    overlap_range,
    reduce_inputs,
    resample_to_grid,
    rest_wavelength,
    wavelength_grid,
)
from astroxai.spectrum import SpectrumError

from .conftest import flat_spectrum


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


def _items(paths, z=None, label="type2"):
    return [InputItem(p, label, z) for p in paths]


def test_reduce_inputs_every_bad_case_gets_its_reason(write_spec, tmp_path):
    loglam, flux, ivar = flat_spectrum(z=0.05)
    good = [write_spec(loglam, flux * (i + 1), ivar, z=0.05) for i in range(3)]
    nan = write_spec(loglam, np.full(loglam.size, np.nan), ivar, z=0.05)
    negative = write_spec(loglam, -flux, ivar, z=0.05)
    no_z = write_spec(loglam, flux, ivar, z=None)
    neg_z = write_spec(loglam, flux, ivar, z=-0.2)
    short_loglam = loglam[loglam < np.log10(5000 * 1.05)]  # ends blueward of 5100 Å rest
    short = write_spec(short_loglam, flux[: short_loglam.size], ivar[: short_loglam.size], z=0.05)
    corrupt = tmp_path / "spec-corrupt.fits"
    corrupt.write_bytes(good[0].read_bytes()[:5000])
    masked_ivar = ivar.copy()
    masked_ivar[:] = 0
    all_masked = write_spec(loglam, flux, masked_ivar, z=0.05)
    paths = [*good, nan, negative, no_z, neg_z, short, corrupt, all_masked]
    out = tmp_path / "data.h5"
    summary = reduce_inputs(_items(paths), out, wave_range=(3800, 5200), n_wave=300, workers=1)
    assert summary["n_kept"] == 3 and summary["n_rejected"] == len(paths) - 3
    with open(summary["manifest"]) as handle:
        rows = list(csv.DictReader(handle))
    assert [r["input"] for r in rows] == [str(p) for p in paths]
    reason = {r["input"]: r["reason"] for r in rows}
    status = {r["input"]: r["status"] for r in rows}
    assert all(status[str(p)] == "kept" for p in good)
    assert "NaN" in reason[str(nan)]
    assert "zero or negative" in reason[str(negative)]
    assert "missing redshift" in reason[str(no_z)]
    assert "negative redshift" in reason[str(neg_z)]
    assert "5100" in reason[str(short)]
    assert "FITS" in reason[str(corrupt)] or "damaged" in reason[str(corrupt)]
    assert "no good pixels" in reason[str(all_masked)]
    data = SpectraSet.load(out)
    assert data.flux.shape == (3, 300)
    np.testing.assert_allclose(data.flux, 1.0, rtol=1e-5)  # flat spectra normalise to exactly 1
    np.testing.assert_allclose(data.meta["norm_5100"], [10.0, 20.0, 30.0], rtol=1e-5)


def test_spectrum_missing_the_grid_is_rejected(write_spec, tmp_path):
    loglam, flux, ivar = flat_spectrum(z=0.3)  # rest coverage starts at 3800/1.3 ≈ 2923 Å, ends ≈ 5276 Å
    path = write_spec(loglam, flux, ivar, z=0.3)
    ok = write_spec(*flat_spectrum(z=0.05), z=0.05)
    summary = reduce_inputs(_items([path, ok]), tmp_path / "d.h5", wave_range=(3800, 6000), workers=1)
    with open(summary["manifest"]) as handle:
        rows = list(csv.DictReader(handle))
    assert rows[0]["status"] == "rejected" and "does not cover the grid" in rows[0]["reason"]
    assert rows[1]["status"] == "kept"


def test_catalogue_redshift_used_when_file_has_none(write_spec, tmp_path):
    loglam, flux, ivar = flat_spectrum(z=0.05)
    path = write_spec(loglam, flux, ivar, z=None)
    summary = reduce_inputs([InputItem(path, "type2", 0.05)], tmp_path / "d.h5", workers=1)
    assert summary["n_kept"] == 1
    data = SpectraSet.load(tmp_path / "d.h5")
    assert data.meta["z_source"][0] == "catalog" and data.meta["z"][0] == 0.05


def test_nothing_readable_raises(tmp_path):
    bad = tmp_path / "x.fits"
    bad.write_text("nonsense")
    with pytest.raises(SpectrumError, match="no input"):
        reduce_inputs(_items([bad]), tmp_path / "d.h5", workers=1)
    assert (tmp_path / "d.manifest.csv").is_file()


def test_streaming_holds_at_most_one_chunk(small_sample, tmp_path, monkeypatch):
    sizes = []
    original = SpectraSetWriter.append

    def spy(self, flux, *args, **kwargs):
        sizes.append(len(flux))
        return original(self, flux, *args, **kwargs)

    monkeypatch.setattr(SpectraSetWriter, "append", spy)
    items = collect_inputs([small_sample])
    reduce_inputs(items, tmp_path / "chunked.h5", chunk_size=4, workers=1)
    assert max(sizes) <= 4 and sum(sizes) == 18
    monkeypatch.setattr(SpectraSetWriter, "append", original)
    reduce_inputs(items, tmp_path / "whole.h5", chunk_size=1000, workers=1)
    a, b = SpectraSet.load(tmp_path / "chunked.h5"), SpectraSet.load(tmp_path / "whole.h5")
    np.testing.assert_array_equal(a.flux, b.flux)
    np.testing.assert_array_equal(a.ids, b.ids)


def test_parallel_reduction_equals_serial(small_sample, tmp_path, monkeypatch):
    import astroxai.parallel

    items = collect_inputs([small_sample])
    reduce_inputs(items, tmp_path / "serial.h5", workers=1)
    monkeypatch.setattr(astroxai.parallel, "MIN_TASKS_FOR_POOL", 1)
    reduce_inputs(items, tmp_path / "pool.h5", workers=2, chunk_size=5)
    a, b = SpectraSet.load(tmp_path / "serial.h5"), SpectraSet.load(tmp_path / "pool.h5")
    np.testing.assert_array_equal(a.flux, b.flux)
    np.testing.assert_array_equal(a.labels, b.labels)
