"""The streaming reduction: every input gets its fate, memory stays at one chunk, processes change nothing."""

import csv
import os

import numpy as np
import pytest

from astroxai.data import SpectraSet, SpectraSetWriter
from astroxai.io import InputItem, collect_inputs
from astroxai.reduce import ReductionSettings
from astroxai.spectrum import SpectrumError
from astroxai.workflows.reduce import reduce_inputs
from tests.helpers import flat_spectrum


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
    summary = reduce_inputs(_items(paths), out, ReductionSettings((3800, 5200), 300), workers=1)
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


def test_a_models_reduction_settings_are_those_its_data_set_was_reduced_with(trained_model, reduced_sample):
    """The settings go into the data set's record and come back from the model's copy of it unchanged, so new
    inputs are reduced as the training set was."""
    from astroxai.models import load_model

    record = SpectraSet.load(reduced_sample).attrs["reduction"]
    settings = ReductionSettings.from_record(record)
    assert settings.n_wave == 150 and settings.method == "linear" and settings.wave_range is not None
    assert ReductionSettings.from_record(load_model(trained_model).reduction_) == settings
    assert settings.record() == record
    assert ReductionSettings.from_record({}) == ReductionSettings()  # an image model's record: the defaults


def test_spectrum_missing_the_grid_is_rejected(write_spec, tmp_path):
    loglam, flux, ivar = flat_spectrum(z=0.3)  # rest coverage starts at 3800/1.3 ≈ 2923 Å, ends ≈ 5276 Å
    path = write_spec(loglam, flux, ivar, z=0.3)
    ok = write_spec(*flat_spectrum(z=0.05), z=0.05)
    summary = reduce_inputs(_items([path, ok]), tmp_path / "d.h5", ReductionSettings((3800, 6000)), workers=1)
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
    assert not (tmp_path / "d.h5").exists() and not [p for p in os.listdir(tmp_path) if "partial" in p]


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
