"""Property-based tests (Hypothesis) for the readers and the reducer (whatever a file holds): whatever bytes a file
holds, a reader returns a spectrum or raises SpectrumError naming the file, never anything else; a catalogue gives one
input per row; the reduction is invariant to the flux scale, normalises to 1 at 5100 Å, undoes the redshift, and turns
any array it is handed into a finite spectrum or a SpectrumError."""

from __future__ import annotations

import csv
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from astroxai.io import read_catalog, read_spectrum
from astroxai.reduce import reduce_spectrum, wavelength_grid
from astroxai.spectrum import Spectrum, SpectrumError

#: ASTROXAI_EXAMPLES=600 for a longer hunt (the suite runs 60 examples per property, a few seconds in all)
SETTINGS = settings(max_examples=int(os.environ.get("ASTROXAI_EXAMPLES", 60)), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def _read_any(data: bytes, suffix: str):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"input{suffix}"
        path.write_bytes(data)
        try:
            return read_spectrum(path, z=0.1)
        except SpectrumError as error:
            assert str(path) in str(error)  # the reason names the file
            return None


@SETTINGS
@given(data=st.binary(max_size=6000), suffix=st.sampled_from([".txt", ".csv", ".fits", ".fits.gz", ".dat"]))
def test_any_bytes_give_a_spectrum_or_a_spectrum_error(data, suffix):
    spectrum = _read_any(data, suffix)
    if spectrum is not None:
        assert spectrum.wavelength.size == spectrum.flux.size >= 2


@pytest.fixture(scope="module")
def spec_lite(small_sample) -> bytes:
    return sorted((small_sample.parent / "spectra").glob("*.fits"))[0].read_bytes()


@SETTINGS
@given(edits=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=12),
       cut=st.one_of(st.none(), st.floats(0.01, 1.0)))
def test_a_damaged_sdss_file_is_read_or_refused_and_never_reduces_to_nan(spec_lite, edits, cut):
    """Random bytes overwritten anywhere in a real spec-lite layout (headers, tables, padding), optionally cut."""
    data = bytearray(spec_lite)
    for where, value in edits:
        data[int(where * len(data))] = value
    if cut is not None:
        data = data[: max(1, int(cut * len(data)))]
    spectrum = _read_any(bytes(data), ".fits")
    if spectrum is None:
        return
    try:
        reduced = reduce_spectrum(spectrum, wavelength_grid(3800, 5200, 200))
    except SpectrumError:
        return
    assert np.isfinite(reduced.flux).all() and np.isfinite(reduced.norm) and reduced.norm != 0


FINITE = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


@SETTINGS
@given(table=st.lists(st.tuples(FINITE, FINITE, st.floats(0.01, 100)), min_size=2, max_size=40),
       delimiter=st.sampled_from([" ", "\t", "  "]), comment=st.booleans(), z=st.floats(0, 2))
def test_a_text_spectrum_reads_back_what_was_written(table, delimiter, comment, z):
    wave = np.cumsum(np.abs([row[0] for row in table])) + 3000.0 + np.arange(len(table))  # strictly increasing
    lines = [f"# z = {z!r}"] if comment else []
    lines += [delimiter.join(repr(float(v)) for v in (w, row[1], row[2])) for w, row in zip(wave, table, strict=True)]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "s.txt"
        path.write_text("\n".join(lines) + "\n")
        spectrum = read_spectrum(path)
    np.testing.assert_array_equal(spectrum.wavelength, wave)
    np.testing.assert_array_equal(spectrum.flux, [row[1] for row in table])
    np.testing.assert_allclose(spectrum.ivar, [1 / row[2] ** 2 for row in table], rtol=1e-12)
    assert spectrum.z == (z if comment else None)


CELL = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=30)


@SETTINGS
@given(rows=st.lists(st.tuples(CELL, CELL, st.one_of(st.floats(0, 3).map(repr), CELL)), max_size=15))
def test_a_catalogue_gives_one_input_per_row(rows):
    """Any cells (commas, quotes, new lines, formulas, empty): one input per non-blank row, a rejected one with the
    row's number when the row cannot be used, never an exception; file, label and z read back as written."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "catalogue.csv"
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["file", "label", "z"])
            writer.writerows(rows)
        items = read_catalog(path)
    kept = [row for row in rows if any(cell.strip() for cell in row)]
    assert len(items) == len(kept)
    seen = set()
    for row, item in zip(kept, items, strict=True):
        name, label, z = (cell.strip() for cell in row)
        key = ((Path(folder) / name).resolve() if name and "\x00" not in name else None, None)
        if item.problem is not None:
            assert item.problem.startswith("catalogue row ")
            assert not name or _not_a_finite_number(z) or "\x00" in name or key in seen
            continue
        seen.add(key)
        assert item.path == Path(folder) / name and (item.label or "") == label
        assert item.z == (float(z) if z else None)


def _not_a_finite_number(text: str) -> bool:
    try:
        return not np.isfinite(float(text))
    except ValueError:
        return bool(text)


SMOOTH = st.lists(st.floats(-0.4, 0.4), min_size=3, max_size=3)


def _continuum(coefficients, wavelength):
    """A positive, smooth rest-frame spectrum: a continuum with two broad bumps."""
    a, b, c = coefficients
    x = (wavelength - 4500.0) / 1000.0
    return 2.0 + a * x + b * np.sin(3 * x) + c * np.exp(-0.5 * ((wavelength - 4861.0) / 40.0) ** 2)


@SETTINGS
@given(shape=SMOOTH, z=st.floats(0, 0.35), scale=st.floats(1e-3, 1e3),
       method=st.sampled_from(["linear", "flux-conserving"]))
def test_the_reduction_ignores_the_flux_scale_and_normalises_to_one(shape, z, scale, method):
    rest = np.linspace(3500, 6000, 2600)
    wave = rest * (1 + z)
    flux = _continuum(shape, rest)
    grid = wavelength_grid(3800, 5600, 300)
    one = reduce_spectrum(Spectrum(wave, flux, np.ones_like(flux), z=z), grid, method=method)
    other = reduce_spectrum(Spectrum(wave, scale * flux, np.ones_like(flux) / scale**2, z=z), grid, method=method)
    np.testing.assert_allclose(other.flux, one.flux, rtol=1e-9)
    np.testing.assert_allclose(other.norm, scale * one.norm, rtol=1e-9)
    at = np.argmin(np.abs(grid - 5100))
    assert abs(one.flux[at] - 1.0) < 0.02  # the continuum is smooth over the ±20 Å window and one grid step


@SETTINGS
@given(shape=SMOOTH, z=st.floats(0.001, 0.35))
def test_the_reduction_undoes_the_redshift(shape, z):
    """The same rest-frame spectrum observed at z and at 0 reduces to the same fluxes (to interpolation error)."""
    grid = wavelength_grid(3800, 5600, 300)
    log_rest = np.arange(np.log10(3500), np.log10(6000), 1e-4)  # SDSS's log-linear pixels
    at_rest = Spectrum(10**log_rest, _continuum(shape, 10**log_rest), np.ones(log_rest.size), z=0.0)
    wave = 10 ** np.arange(np.log10(3500 * (1 + z)), np.log10(6000 * (1 + z)), 1e-4)
    observed = Spectrum(wave, _continuum(shape, wave / (1 + z)), np.ones(wave.size), z=z)
    np.testing.assert_allclose(reduce_spectrum(observed, grid).flux, reduce_spectrum(at_rest, grid).flux,
                               rtol=1e-4)


ANY = st.floats(allow_nan=True, allow_infinity=True, width=32)


@SETTINGS
@given(n=st.integers(2, 400), flux=st.lists(ANY, min_size=1, max_size=8), ivar=st.lists(ANY, min_size=1, max_size=8),
       z=st.one_of(st.none(), ANY), start=st.floats(1000, 8000), step=st.floats(1e-3, 20))
def test_any_arrays_reduce_to_a_finite_spectrum_or_a_spectrum_error(n, flux, ivar, z, start, step):
    """Fluxes and inverse variances drawn from anything (NaN, inf, negative, huge), any redshift."""
    wave = start + step * np.arange(n)
    assume(np.all(np.diff(wave) > 0))
    spectrum = Spectrum(wave, np.resize(np.asarray(flux, float), n), np.resize(np.asarray(ivar, float), n), z=z)
    try:
        reduced = reduce_spectrum(spectrum, wavelength_grid(3800, 5200, 100))
    except SpectrumError:
        return
    assert np.isfinite(reduced.flux).all() and np.isfinite(reduced.norm) and reduced.norm > 0


@pytest.mark.skipif(os.name != "posix", reason="file names are bytes only on POSIX")
@SETTINGS
@given(name=st.binary(min_size=1, max_size=60).filter(lambda b: b"/" not in b and b"\x00" not in b
                                                      and b not in (b".", b"..")))
def test_any_file_name_reads_or_is_refused_with_the_name(name):
    with tempfile.TemporaryDirectory() as folder:
        path = os.fsencode(folder) + b"/" + name
        with open(path, "w") as handle:
            handle.write("# z = 0.1\n" + "".join(f"{4000 + i} 1.0 0.1\n" for i in range(2000)))
        spectrum = read_spectrum(os.fsdecode(path))
    assert spectrum.flux.size == 2000
