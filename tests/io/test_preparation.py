"""A model carries its own input preparation (io.images.CutoutPreparation): survey cutouts as they come are cut and
binned as its training images were, and cutouts that cannot be (too small, another pixel scale) are refused with the
reason.  References: scikit-image's block_reduce for the binning, astropy's WCS for the coordinates."""

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS
from PIL import Image as Picture
from skimage.measure import block_reduce

from astroxai.errors import InputError
from astroxai.io.images import CutoutPreparation, Image, ImageError, read_images


def test_apply_is_the_central_crop_block_averaged():
    rng = np.random.default_rng(0)
    prep = CutoutPreparation(crop_px=8, binning=2, subtract_min=True)
    for h, w in ((8, 8), (11, 14), (30, 31)):
        data = rng.random((2, h, w)).astype(np.float32)
        top, left = h // 2 - 4, w // 2 - 4
        cut = data[:, top:top + 8, left:left + 8]
        expected = block_reduce(cut, (1, 2, 2), np.mean)
        expected -= expected.min(axis=(1, 2), keepdims=True)
        np.testing.assert_allclose(prep.apply(Image(data, "", "x")), expected, rtol=1e-6, atol=1e-7)
    kept_floor = CutoutPreparation(crop_px=4, binning=1, subtract_min=False).apply(Image(data + 5, "", "x"))
    assert kept_floor.min() > 4  # without subtract_min the floor stays
    with pytest.raises(ImageError, match="at least 8 × 8 px"):
        prep.apply(Image(np.ones((1, 7, 20), np.float32), "", "small.png"))
    with pytest.raises(InputError):
        CutoutPreparation(crop_px=9, binning=2)
    assert CutoutPreparation.from_record(prep.columns()).columns() == prep.columns()
    assert CutoutPreparation.from_record(None) is None and CutoutPreparation.from_record({"kind": "radio"}) is None


def _fits(path, side, arcsec):
    header = fits.Header({"CTYPE1": "RA---SIN", "CTYPE2": "DEC--SIN", "CRVAL1": 150.0, "CRVAL2": 30.0,
                          "CRPIX1": side / 2 + 0.5, "CRPIX2": side / 2 + 0.5, "CDELT1": -arcsec / 3600,
                          "CDELT2": arcsec / 3600, "CUNIT1": "deg", "CUNIT2": "deg"})
    data = np.random.default_rng(side).random((side, side)).astype(np.float32)
    fits.PrimaryHDU(data, header).writeto(path)
    return data, WCS(header)


def test_read_images_prepares_cutouts_and_refuses_the_others_with_the_reason(tmp_path):
    prep = CutoutPreparation(crop_px=32, binning=2, pixel_arcsec=1.8, survey="FIRST")
    Picture.fromarray(np.random.default_rng(1).integers(0, 255, (60, 60), dtype=np.uint8)).save(tmp_path / "a.png")
    Picture.fromarray(np.zeros((20, 20), np.uint8)).save(tmp_path / "small.png")
    raw, wcs = _fits(tmp_path / "good.fits", 40, 1.8)
    _fits(tmp_path / "coarse.fits", 40, 3.6)
    paths = [tmp_path / n for n in ("a.png", "small.png", "good.fits", "coarse.fits")]
    data, fates = read_images(paths, shape=(16, 16), channels=1, preparation=prep)
    status = {row["id"]: (row["status"], row["reason"]) for row in fates}
    assert [status[n][0] for n in ("a", "small", "good", "coarse")] == ["kept", "rejected", "kept", "rejected"]
    assert "20×20 px" in status["small"][1] and "at least 32 × 32 px" in status["small"][1]
    assert "3.6″" in status["coarse"][1] and "1.8″ pixels" in status["coarse"][1]
    assert data.shape == (1, 16, 16) and list(data.ids) == ["a", "good"]
    good = list(data.ids).index("good")
    expected = block_reduce(raw[4:36, 4:36], (2, 2), np.mean)
    np.testing.assert_allclose(data.images[good, 0], expected - expected.min(), rtol=1e-5, atol=1e-6)
    # the binned image's WCS: its pixel (0, 0) lies at the mean position of the four pixels it averages
    binned = WCS(fits.Header.fromstring(data.wcs[good]))
    ra, dec = binned.pixel_to_world_values(0, 0)
    corners = np.array(wcs.pixel_to_world_values([4, 5, 4, 5], [4, 4, 5, 5]))
    assert abs(ra - corners[0].mean()) * 3600 < 0.01 and abs(dec - corners[1].mean()) * 3600 < 0.01
    # without a preparation, a model of 16 × 16 images refuses the survey's cutouts
    _, fates = read_images(paths[:1], shape=(16, 16), channels=1)
    assert fates[0]["status"] == "rejected" and "60×60 px, the set needs 16×16" in fates[0]["reason"]


def test_image_ids_keep_the_decimal_points_of_survey_file_names():
    from astroxai.io.images import image_id_of

    assert image_id_of("0.01_-0.56_2_MiraBest.png") == "0.01_-0.56_2_MiraBest"
    assert image_id_of("dir/cut.fits.gz") == "cut" and image_id_of("CUT.FITS") == "CUT"
    assert image_id_of("a.b.jpeg") == "a.b" and image_id_of("noext") == "noext"
