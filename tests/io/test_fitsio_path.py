"""The fitsio fast path of the DR8+ spec reader gives exactly the spectrum astropy's path gives, and leaves every
broken file to astropy's path and its reasons."""

from pathlib import Path

import numpy as np
import pytest

from astroxai.io import read_spectrum
from astroxai.io.sdss import _spec_from_hdul, open_fits, read_complete_spec
from astroxai.spectrum import SpectrumError


def _real_spec_files():
    import bossbrain
    import ppxf

    return [Path(ppxf.__file__).parent / "spectra" / "NGC3073_SDSS_DR18.fits",
            *sorted(Path(bossbrain.__file__).parent.rglob("spec-*.fits"))]


def test_fitsio_and_astropy_read_the_same_spectrum(small_sample):
    files = [*sorted((small_sample.parent / "spectra").glob("*.fits"))[:6], *_real_spec_files()]
    assert len(files) >= 8
    for path in files:
        fast = read_complete_spec(path)
        assert fast is not None, path
        with open_fits(path) as hdul:
            slow = _spec_from_hdul(hdul, path)
        for name in ("wavelength", "flux", "ivar", "mask"):
            np.testing.assert_array_equal(getattr(fast, name), getattr(slow, name), err_msg=f"{path}: {name}")
        assert (fast.z, fast.id, fast.meta) == (slow.z, slow.id, slow.meta)


@pytest.mark.parametrize("keep", [0.3, 0.97])
def test_broken_files_take_astropys_path(small_sample, tmp_path, keep):
    good = sorted((small_sample.parent / "spectra").glob("*.fits"))[0]
    cut = tmp_path / "spec-cut.fits"
    data = good.read_bytes()
    cut.write_bytes(data[:int(len(data) * keep)])
    assert read_complete_spec(cut) is None
    with pytest.raises(SpectrumError, match="truncated|damaged|readable"):
        read_spectrum(cut)


def test_the_two_writers_give_the_same_file_contents(tmp_path):
    """write_sdss_spec with cfitsio (what the simulator uses) and with astropy: the same tables, the same header
    values, and the same spectrum through both reading paths."""
    from astropy.io import fits

    from astroxai.io.sdss import SpecObj, write_sdss_spec

    rng = np.random.default_rng(4)
    n = 500
    loglam = np.log10(3800.0) + 1e-4 * np.arange(n)
    arrays = {"flux": rng.normal(1, 0.1, n), "ivar": rng.uniform(1, 5, n), "sky": rng.uniform(0, 1, n),
              "model": rng.normal(1, 0.05, n), "wdisp": np.full(n, 0.93),
              "and_mask": rng.integers(0, 2, n) << 23}
    written = {}
    for engine in ("fitsio", "astropy"):
        (tmp_path / engine).mkdir()
        written[engine] = write_sdss_spec(tmp_path / engine / "spec-9000-61000-0007.fits",
                                          {"loglam": loglam, **arrays}, SpecObj(9000, 61000, 7, 0.123, "GALAXY"),
                                          engine=engine, header_cards={"SIMULATD": (True, "simulated"), "SIMSEED": 5})
    with fits.open(written["fitsio"]) as a, fits.open(written["astropy"]) as b:
        for key in ("TELESCOP", "PLATEID", "MJD", "FIBERID", "SIMULATD", "SIMSEED"):
            assert a[0].header[key] == b[0].header[key], key
        for hdu in ("COADD", "SPECOBJ"):
            assert a[hdu].columns.names == b[hdu].columns.names
            assert a[hdu].columns.formats == b[hdu].columns.formats
            for name in a[hdu].columns.names:
                np.testing.assert_array_equal(a[hdu].data[name], b[hdu].data[name], err_msg=f"{hdu}.{name}")
        np.testing.assert_array_equal(a["COADD"].data["flux"], arrays["flux"].astype(np.float32))
    spectra = [read_spectrum(path) for path in written.values()]
    with open_fits(written["fitsio"]) as hdul:
        spectra.append(_spec_from_hdul(hdul, written["fitsio"]))
    for other in spectra[1:]:
        for name in ("wavelength", "flux", "ivar", "mask"):
            np.testing.assert_array_equal(getattr(spectra[0], name), getattr(other, name))
        assert (other.z, other.id) == (spectra[0].z, spectra[0].id) == (np.float32(0.123), "9000-61000-0007")


def test_a_spec_file_is_opened_once(small_sample, monkeypatch, tmp_path):
    """The survey's common input, an ordinary spec file, is read by one cfitsio open: no sniffing of its first
    bytes, no astropy.  Any other file still goes through the sniffing registry (a DESI coadd among them)."""
    import fitsio
    from astropy.io import fits

    import astroxai.io as io

    path = sorted((small_sample.parent / "spectra").glob("*.fits"))[0]
    expected = read_spectrum(path, z=0.5)
    opened = []
    real = fitsio.FITS

    def counting(name, *args, **kwargs):
        opened.append(str(name))
        return real(name, *args, **kwargs)

    def refuse(*args, **kwargs):
        raise AssertionError("opened a second time")

    monkeypatch.setattr(fitsio, "FITS", counting)
    monkeypatch.setattr(io, "file_head", refuse)
    monkeypatch.setattr(fits, "open", refuse)
    spectrum = read_spectrum(path, z=0.5)
    assert opened == [str(path)]
    np.testing.assert_array_equal(spectrum.flux, expected.flux)
    assert (spectrum.z, spectrum.meta["z_source"]) == (expected.z, "file")
    monkeypatch.undo()
    text = tmp_path / "not-a-spec.fits"
    text.write_text("SIMPLE? no\n")
    with pytest.raises(SpectrumError, match="not a FITS file"):
        read_spectrum(text)


def test_the_writer_takes_the_coadd_columns_by_name_and_refuses_others(tmp_path):
    """A misspelt column (``ivars``) or a missing flux is an error naming the table's columns, not a file written
    with zeros in their place; ``or_mask`` defaults to ``and_mask``."""
    from astropy.io import fits

    from astroxai.errors import InputError
    from astroxai.io.sdss import SpecObj, write_sdss_spec

    loglam = np.log10(3800.0) + 1e-4 * np.arange(50)
    good = {"loglam": loglam, "flux": np.ones(50), "ivar": np.ones(50), "and_mask": np.full(50, 4)}
    misspelt = {("ivars" if key == "ivar" else key): value for key, value in good.items()}
    for columns in (misspelt, {key: value for key, value in good.items() if key != "flux"}):
        with pytest.raises(InputError, match="needs loglam, flux and ivar"):
            write_sdss_spec(tmp_path / "a.fits", columns, SpecObj(1, 2, 3, 0.1))
    assert not (tmp_path / "a.fits").exists()
    path = write_sdss_spec(tmp_path / "b.fits", good, SpecObj(1, 2, 3, 0.1))
    with fits.open(path) as hdus:
        np.testing.assert_array_equal(hdus["COADD"].data["or_mask"], 4)
        assert hdus["SPECOBJ"].data["FIBERID"][0] == 3
