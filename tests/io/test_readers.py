import numpy as np
import pytest
from astropy.io import fits

from astroxai.io import collect_inputs, read_catalog, read_spectrum
from astroxai.spectrum import SpectrumError
from tests.helpers import flat_spectrum, write_spspec


def test_spec_lite_round_trip(write_spec):
    loglam, flux, ivar = flat_spectrum(z=0.08)
    mask = np.zeros(loglam.size, np.int64)
    mask[100:105] = 1 << 24
    path = write_spec(loglam, flux, ivar, z=0.08, and_mask=mask)
    s = read_spectrum(path)
    assert s.z == pytest.approx(0.08)
    assert s.meta["z_source"] == "file"
    np.testing.assert_allclose(s.wavelength, 10 ** loglam.astype(np.float32), rtol=1e-6)
    np.testing.assert_allclose(s.flux, flux, rtol=1e-6)
    assert s.id == "9999-61000-0001"
    assert not s.good_pixels()[100:105].any() and s.good_pixels()[:100].all()


def test_full_spec_file_with_exposure_hdus(write_spec, tmp_path):
    path = write_spec()
    with fits.open(path) as hdul:
        extra = fits.BinTableHDU.from_columns([fits.Column("flux", "E", array=np.ones(10))], name="B1-0001")
        fits.HDUList([*hdul, extra]).writeto(tmp_path / "full.fits")
    assert read_spectrum(tmp_path / "full.fits").z == pytest.approx(0.05)


def test_real_dr18_file_matches_what_sdss_reports(dr18_file):
    s = read_spectrum(dr18_file)
    with fits.open(dr18_file) as hdul:
        row = hdul[2].data[0]
        z_sdss, wmin, wmax = float(row["Z"]), float(row["WAVEMIN"]), float(row["WAVEMAX"])
        plate, mjd, fiber = int(row["PLATE"]), int(row["MJD"]), int(row["FIBERID"])
    assert s.z == pytest.approx(z_sdss, abs=1e-9)
    assert 0.003 < s.z < 0.005  # NGC 3073, a nearby dwarf lenticular
    assert s.wavelength[0] == pytest.approx(wmin, abs=0.01)
    assert s.wavelength[-1] == pytest.approx(wmax, abs=0.01)
    assert s.id == f"{plate:04d}-{mjd:05d}-{fiber:04d}" == "0945-52652-0470"
    assert s.good_pixels().mean() > 0.99


def test_dr7_spspec(tmp_path):
    n = 3000
    error = np.full(n, 0.5)
    error[10:20] = 0.0  # SDSS DR7 marks bad pixels with zero error
    path = write_spspec(tmp_path / "spSpec-51630-0266-012.fit", error=error, z=0.07)
    s = read_spectrum(path)
    assert s.meta["format"] == "sdss-spspec"
    assert s.z == pytest.approx(0.07)
    assert s.id == "0266-51630-0012"
    np.testing.assert_allclose(s.wavelength, 10 ** (3.5798 + 1e-4 * np.arange(n)))
    assert (s.ivar[10:20] == 0).all() and s.ivar[0] == pytest.approx(4.0)


def test_sas_csv_needs_catalogue_redshift(tmp_path):
    wave = np.linspace(3800, 9200, 500)
    path = tmp_path / "spec.csv"
    lines = ["Wavelength,Flux,BestFit,SkyFlux"] + [f"{w:.3f},{2.0 + w / 1e4:.4f},2.0,1.0" for w in wave]
    path.write_text("\n".join(lines) + "\n")
    s = read_spectrum(path)
    assert s.z is None and s.meta["ivar_unknown"]
    np.testing.assert_allclose(s.flux, 2.0 + np.round(wave, 3) / 1e4, atol=1e-4)
    assert read_spectrum(path, z=0.03).z == 0.03


def test_csv_with_ivar_and_mask(tmp_path):
    path = tmp_path / "spec.csv"
    path.write_text("loglam,flux,ivar,and_mask\n3.6,1.0,4.0,0\n3.6001,2.0,0.0,16777216\n3.6002,3.0,1.0,0\n")
    s = read_spectrum(path)
    np.testing.assert_allclose(s.wavelength, 10 ** np.array([3.6, 3.6001, 3.6002]))
    assert list(s.good_pixels()) == [True, False, True]


def test_text_two_and_three_columns(tmp_path):
    two = tmp_path / "a.txt"
    two.write_text("# my spectrum\n# z = 0.042\n4000 1.0\n4001 1.1\n4002 1.2\n")
    s = read_spectrum(two)
    assert s.z == pytest.approx(0.042) and s.meta["ivar_unknown"]
    three = tmp_path / "b.dat"
    three.write_text("4000 1.0 0.5\n4001 1.1 0\n4002 1.2 0.25\n")
    s = read_spectrum(three)
    np.testing.assert_allclose(s.ivar, [4.0, 0.0, 16.0])
    assert s.z is None


@pytest.mark.parametrize(
    "content, reason",
    [
        (b"", "empty file"),
        (b"this is not a FITS file at all" * 10, "not a FITS file"),
    ],
)
def test_not_fits(tmp_path, content, reason):
    path = tmp_path / "bad.fits"
    path.write_bytes(content)
    with pytest.raises(SpectrumError, match=reason) as info:
        read_spectrum(path)
    assert info.value.source == str(path)


def test_truncated_fits(write_spec, tmp_path):
    good = write_spec()
    data = good.read_bytes()
    bad = tmp_path / "truncated.fits"
    bad.write_bytes(data[: len(data) // 3])
    with pytest.raises(SpectrumError, match="FITS|damaged|truncated"):
        read_spectrum(bad)


def test_fits_without_expected_columns(tmp_path):
    table = fits.BinTableHDU.from_columns([fits.Column("wave", "E", array=np.ones(5))])
    path = tmp_path / "spec-odd.fits"
    fits.HDUList([fits.PrimaryHDU(), table]).writeto(path)
    with pytest.raises(SpectrumError, match="lacks column"):
        read_spectrum(path)


def test_missing_file(tmp_path):
    with pytest.raises(SpectrumError, match="not found"):
        read_spectrum(tmp_path / "nope.fits")


def test_collect_inputs_applies_catalogue(small_sample):
    folder = small_sample.parent
    items = collect_inputs([folder])
    assert len(items) == 18
    assert {i.label for i in items} == {"type1", "type2", "intermediate"}
    assert all(i.z is not None for i in items)
    # The same catalogue given directly lists the same files with the same labels.
    direct = {i.path.resolve(): i.label for i in collect_inputs([small_sample])}
    assert direct == {i.path.resolve(): i.label for i in items}
    assert len(read_catalog(small_sample)) == 18


def test_a_catalogue_may_name_the_fibre_of_a_one_spectrum_file(write_spec, tmp_path):
    """``fetch`` writes catalogues with ``plate,mjd,fiber`` beside each spec file: its own fibre is accepted, another
    one is refused with both numbers."""
    from astroxai.io import read_spectrum

    path = write_spec()  # fibre 1
    assert read_spectrum(path, member="1").id.endswith("-0001")
    with pytest.raises(SpectrumError, match="fibre 1\\), but member '7' was asked for"):
        read_spectrum(path, member="7")
