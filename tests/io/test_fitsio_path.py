"""The fitsio fast path of the DR8+ spec reader gives exactly the spectrum astropy's path gives, and leaves every
broken file to astropy's path and its reasons."""

from pathlib import Path

import numpy as np
import pytest

from astroxai.io import read_spectrum
from astroxai.io.sdss import _spec_from_hdul, _spec_with_fitsio, open_fits
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
        fast = _spec_with_fitsio(path)
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
    assert _spec_with_fitsio(cut) is None
    with pytest.raises(SpectrumError, match="truncated|damaged|readable"):
        read_spectrum(cut)
