"""FITS and PNG cutouts: WCS kept, bad files rejected with their reasons."""

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from astroxai.io import read_image, read_images
from astroxai.io.images import ImageError
from astroxai.simulate.radio import PIXEL_ARCSEC


def test_readers_keep_wcs_and_reject_bad_files_with_reasons(tmp_path):
    from PIL import Image as PILImage

    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [150.0, 2.0]
    wcs.wcs.crpix = [32.5, 32.5]
    wcs.wcs.cdelt = [-PIXEL_ARCSEC / 3600, PIXEL_ARCSEC / 3600]
    image = np.random.default_rng(1).normal(size=(64, 64)).astype(np.float32)
    fits.PrimaryHDU(image, header=wcs.to_header()).writeto(tmp_path / "a.fits")
    read = read_image(tmp_path / "a.fits")
    np.testing.assert_array_equal(read.data[0], image)
    back = WCS(fits.Header.fromstring(read.wcs))
    assert back.wcs.ctype[0] == "RA---TAN" and np.allclose(back.wcs.crval, [150.0, 2.0])
    PILImage.fromarray((np.linspace(0, 255, 64 * 64).reshape(64, 64)).astype(np.uint8)).save(tmp_path / "b.png")
    assert read_image(tmp_path / "b.png").data.shape == (1, 64, 64)
    (tmp_path / "c.fits").write_text("not a fits file")
    fits.PrimaryHDU(np.zeros((32, 32), np.float32)).writeto(tmp_path / "d.fits")
    nan = np.full((64, 64), np.nan, np.float32)
    fits.PrimaryHDU(nan).writeto(tmp_path / "e.fits")
    with pytest.raises(ImageError, match="c.fits"):
        read_image(tmp_path / "c.fits")
    data, fates = read_images([tmp_path / n for n in ("a.fits", "b.png", "c.fits", "d.fits", "e.fits")])
    assert [f["status"] for f in fates] == ["kept", "kept", "rejected", "rejected", "rejected"]
    assert "32×32" in fates[3]["reason"] and "finite" in fates[4]["reason"]
    assert len(data) == 2 and data.wcs[0] and data.wcs[1] == ""




def test_read_images_rejects_a_channel_count_the_model_does_not_take(tmp_path):
    from PIL import Image

    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "rgb.png")
    Image.fromarray(np.full((8, 8), 7, np.uint8)).save(tmp_path / "grey.png")
    found, fates = read_images([tmp_path / "rgb.png", tmp_path / "grey.png"], shape=(8, 8), channels=1)
    assert [f["status"] for f in fates] == ["rejected", "kept"]
    assert "3 channels, the set needs 1" in fates[0]["reason"]
    assert found.shape == (1, 8, 8) and found.ids.tolist() == ["grey"]
