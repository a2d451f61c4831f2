"""Readers for image cutouts: FITS (first HDU with 2-D or 3-D data, celestial WCS kept) and PNG/JPEG (Pillow).

``read_images`` reads many files into an :class:`~astroxai.data.ImageSet` and gives every file a fate: kept, or
rejected with the reason (unreadable, too many non-finite pixels, wrong size or channel count).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from astroxai.data import ImageSet, fate
from astroxai.errors import AstroxaiError, InputError
from astroxai.results import Result

FITS_SUFFIXES = (".fits", ".fit", ".fts", ".fits.gz", ".fit.gz")
RASTER_SUFFIXES = (".png", ".jpg", ".jpeg")
IMAGE_SUFFIXES = FITS_SUFFIXES + RASTER_SUFFIXES
#: Images with a larger share of non-finite pixels are rejected; fewer are set to 0 and counted.
MAX_NAN_FRACTION = 0.1
#: Largest image (pixels) a reader decodes: survey cutouts are far smaller; a header claiming more is refused before
#: decoding (a few-byte PNG can declare 20 000 × 20 000 pixels).
MAX_PIXELS = 50_000_000


class ImageError(AstroxaiError, ValueError):
    """An image file that cannot be used; the message names the file and the reason."""


@dataclass
class Image:
    """One image as read from a file: (C, H, W) float32 data, its WCS header text ('' if none), its source."""

    data: np.ndarray
    wcs: str
    source: str


#: A cutout's pixel scale (from its WCS) may differ this much (relative) from the one a preparation expects.
SCALE_TOLERANCE = 0.05


@dataclass(frozen=True, eq=False)
class CutoutPreparation(Result):
    """How a model's training images were made from a survey's cutouts, so that the model can take the survey's
    cutouts as they come: the central ``crop_px`` × ``crop_px`` pixels, binned ``binning`` × ``binning`` (mean), less
    their lowest value (``subtract_min``: the noise floor of cutouts clipped at a threshold, as FIRST's in Griese et
    al. 2023).  ``pixel_arcsec`` is the cutouts' own pixel scale: a FITS cutout whose WCS says otherwise is refused
    (a PNG carries no scale, so a PNG is taken as the survey's)."""

    crop_px: int
    binning: int = 1
    subtract_min: bool = True
    pixel_arcsec: float | None = None
    survey: str = ""

    def __post_init__(self):
        if self.binning < 1 or self.crop_px < self.binning or self.crop_px % self.binning:
            raise InputError(f"crop_px must be a positive multiple of binning (got {self.crop_px}, {self.binning})")

    @classmethod
    def from_record(cls, record) -> CutoutPreparation | None:
        """The preparation a model.json or data set records (None when it records none)."""
        if not isinstance(record, dict) or "crop_px" not in record:
            return None
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in record.items() if k in known})

    @property
    def size(self) -> int:
        """Side of a prepared image, in pixels."""
        return self.crop_px // self.binning

    def window(self, height: int, width: int) -> tuple[int, int]:
        """Top-left pixel (row, column) of the central ``crop_px`` square of a ``height`` × ``width`` cutout."""
        return height // 2 - self.crop_px // 2, width // 2 - self.crop_px // 2

    def describe(self) -> str:
        scale = f" at {self.pixel_arcsec:g}″ pixels" if self.pixel_arcsec else ""
        binned = f", binned {self.binning} × {self.binning}" if self.binning > 1 else ""
        return (f"{self.survey + ' ' if self.survey else ''}cutouts{scale} of at least {self.crop_px} × "
                f"{self.crop_px} px (cut to the central {self.crop_px} px{binned})")

    def apply(self, image: Image) -> np.ndarray:
        """The prepared (C, size, size) float32 image; :class:`ImageError` naming the file when it cannot be."""
        c, h, w = image.data.shape
        if min(h, w) < self.crop_px:
            raise ImageError(f"{image.source}: image is {h}×{w} px; the model takes {self.describe()}")
        self._check_scale(image)
        (top, left), side = self.window(h, w), self.size
        cut = image.data[:, top:top + self.crop_px, left:left + self.crop_px]
        prepared = cut.reshape(c, side, self.binning, side, self.binning).mean(axis=(2, 4))
        if self.subtract_min:
            prepared = prepared - prepared.min(axis=(1, 2), keepdims=True)
        return prepared.astype(np.float32)

    def _check_scale(self, image: Image) -> None:
        if not (self.pixel_arcsec and image.wcs):
            return
        from astropy.io import fits
        from astropy.wcs import WCS
        from astropy.wcs.utils import proj_plane_pixel_scales

        scale = float(np.mean(proj_plane_pixel_scales(WCS(fits.Header.fromstring(image.wcs))))) * 3600.0
        if abs(scale / self.pixel_arcsec - 1.0) > SCALE_TOLERANCE:
            raise ImageError(f"{image.source}: pixels of {scale:.3g}″ (from its WCS); the model takes "
                             f"{self.describe()}")


def _read_fits(path: Path) -> Image:
    from astropy.io import fits
    from astropy.wcs import WCS

    try:
        with fits.open(path, memmap=False) as hdus:
            hdu = next((h for h in hdus if getattr(h, "data", None) is not None and h.data.ndim >= 2), None)
            if hdu is None:
                raise ImageError(f"{path}: no image HDU (2-D or 3-D data) in the FITS file")
            data = np.asarray(hdu.data, dtype=np.float32)
            header = hdu.header
            wcs = ""
            if header.get("CTYPE1") and header.get("CTYPE2"):
                wcs = WCS(header).celestial.to_header_string()
    except ImageError:
        raise
    except (OSError, ValueError, TypeError) as error:
        raise ImageError(f"{path}: not a readable FITS image ({error})") from None
    data = np.squeeze(data)
    if data.ndim == 2:
        data = data[None]
    if data.ndim != 3:
        raise ImageError(f"{path}: image data has {data.ndim} dimensions after squeezing, expected 2 or 3")
    return Image(data, wcs, str(path))


def _read_raster(path: Path) -> Image:
    from PIL import Image as PILImage
    from PIL import UnidentifiedImageError

    try:
        with PILImage.open(path) as handle:
            width, height = handle.size
            if width * height > MAX_PIXELS:  # checked on the header, before any pixel is decoded
                raise ImageError(f"{path}: the image declares {width} × {height} pixels, more than the "
                                 f"{MAX_PIXELS:,} a cutout may have")
            array = np.asarray(handle.convert("L" if handle.mode in ("1", "L", "I", "I;16", "F") else "RGB"))
    except PILImage.DecompressionBombError as error:
        raise ImageError(f"{path}: the image declares too many pixels ({error})") from None
    except (OSError, UnidentifiedImageError) as error:
        raise ImageError(f"{path}: not a readable PNG/JPEG image ({error})") from None
    data = array.astype(np.float32) / 255.0
    data = data[None] if data.ndim == 2 else np.moveaxis(data, -1, 0)
    return Image(data, "", str(path))


def read_image(path: str | Path) -> Image:
    """Read a FITS cutout (first HDU with 2-D/3-D data; its celestial WCS kept as header text) or a PNG/JPEG
    (scaled to 0–1; grey images get one channel, colour images three).

    Parameters
    ----------
    path : path-like

    Returns
    -------
    Image
        ``data`` (C, H, W) float32, ``wcs`` (FITS header text, ``""`` when there is none), ``source``.

    Raises
    ------
    ImageError
        Naming the file and the reason (unknown format, unreadable, no image HDU, no finite pixel).

    Examples
    --------
    >>> import numpy as np
    >>> from astropy.io import fits
    >>> from astroxai import read_image
    >>> fits.PrimaryHDU(np.ones((8, 8), np.float32)).writeto("cutout.fits")
    >>> read_image("cutout.fits").data.shape
    (1, 8, 8)
    """
    path = Path(path)
    name = path.name.lower()
    try:
        if name.endswith(FITS_SUFFIXES):
            image = _read_fits(path)
        elif name.endswith(RASTER_SUFFIXES):
            image = _read_raster(path)
        else:
            raise ImageError(f"{path}: unknown image format (FITS, PNG or JPEG expected)")
    except OSError as error:  # no permission, a folder named like an image, a disk error: this file only
        raise ImageError(f"{path}: cannot be read ({error.strerror or type(error).__name__})") from None
    if not np.isfinite(image.data).any():
        raise ImageError(f"{path}: no finite pixel")
    return image


def image_id_of(path) -> str:
    """An image file's id: its name without the image suffix (``12.5_-3.1_2_LRG.png`` → ``12.5_-3.1_2_LRG``: survey
    file names carry coordinates with decimal points, so the id is not cut at the first dot)."""
    name = Path(path).name
    suffix = next((s for s in sorted(IMAGE_SUFFIXES, key=len, reverse=True) if name.lower().endswith(s)), None)
    return name[:-len(suffix)] if suffix and len(name) > len(suffix) else name.split(".")[0]


def read_images(paths, labels=None, shape: tuple[int, int] | None = None, channels: int | None = None,
                preparation: CutoutPreparation | None = None) -> tuple[ImageSet | None, list[dict]]:
    """Read many image files into an ImageSet, keeping the ones that can be used.

    Parameters
    ----------
    paths : sequence of path-like
        FITS, PNG or JPEG files.
    labels : sequence of str, optional
        One label per file (``""`` = unknown).
    shape, channels : optional
        The (H, W) size and channel count every image must have (default: those of the first image kept).
    preparation : CutoutPreparation, optional
        Cut and bin every image as a model's training images were (a file too small for the cut, or whose WCS gives
        another pixel scale, is rejected with the reason); ``shape`` then applies to the prepared images.

    Returns
    -------
    images : ImageSet or None
        The kept images (None when no file could be used).
    fates : list of dict
        One row per file: ``input, id, status, reason``; a file that cannot be read, has more than 10 % non-finite
        pixels (fewer are set to 0 and counted in the ``n_nan`` column), or whose size or channel count differs is
        rejected with the reason.

    Examples
    --------
    >>> import numpy as np
    >>> from PIL import Image as Picture
    >>> from astroxai import read_images
    >>> Picture.fromarray(np.zeros((8, 8), np.uint8)).save("a.png")
    >>> Picture.fromarray(np.zeros((4, 4), np.uint8)).save("b.png")
    >>> images, fates = read_images(["a.png", "b.png"])
    >>> len(images), [f["status"] for f in fates]
    (1, ['kept', 'rejected'])
    """
    paths = [Path(p) for p in paths]
    labels = [""] * len(paths) if labels is None else list(labels)
    kept, fates, meta = [], [], {"source": [], "n_nan": []}
    expected = None if shape is None else tuple(shape)
    for path, label in zip(paths, labels, strict=True):
        image_id = image_id_of(path)
        try:
            image = read_image(path)
        except ImageError as error:
            fates.append(fate(path, image_id, "rejected", str(error)))
            continue
        except Exception as error:  # noqa: BLE001 - a reader's failure costs its own input, never the batch
            fates.append(fate(path, image_id, "rejected", f"{path}: the reader failed on this file "
                                                          f"({type(error).__name__})"))
            continue
        data = image.data
        bad = ~np.isfinite(data)
        reason = ""
        if bad.mean() > MAX_NAN_FRACTION:
            reason = f"{path}: {bad.mean():.0%} of the pixels are not finite"
        elif preparation is not None:
            try:
                data = preparation.apply(Image(np.where(bad, 0.0, data).astype(np.float32), image.wcs, str(path)))
            except ImageError as error:
                reason = str(error)
            else:
                # the WCS of the cut and binned image (astropy's slicing with a step moves the reference pixel to
                # the binned pixels' centres)
                image = Image(data, _sliced_wcs(image.wcs, image.data.shape, preparation), str(path))
                bad = np.zeros(data.shape, dtype=bool)
        size = data.shape[1:]
        if not reason and expected is not None and size != expected:
            reason = f"{path}: image is {size[0]}×{size[1]} px, the set needs {expected[0]}×{expected[1]}"
        elif not reason and channels is not None and data.shape[0] != channels:
            reason = f"{path}: {data.shape[0]} channels, the set needs {channels}"
        if reason:
            fates.append(fate(path, image_id, "rejected", reason))
            continue
        expected, channels = size, data.shape[0]
        kept.append((np.where(bad, 0.0, data), label, image_id, image.wcs))
        meta["source"].append(str(path))
        meta["n_nan"].append(int(bad.sum()))
        fates.append(fate(path, image_id, "kept"))
    if not kept:
        return None, fates
    images, labs, ids, wcs = zip(*kept, strict=True)
    return ImageSet(np.stack(images), list(labs), list(ids), meta=meta, wcs=list(wcs)), fates


def _sliced_wcs(header: str, shape, preparation: CutoutPreparation) -> str:
    """The WCS header text of a cutout after :meth:`CutoutPreparation.apply` ('' when it had none)."""
    if not header:
        return ""
    from astropy.io import fits
    from astropy.wcs import WCS

    (top, left), crop = preparation.window(*shape[1:]), preparation.crop_px
    wcs = WCS(fits.Header.fromstring(header))
    return wcs.slice((slice(top, top + crop, preparation.binning),
                      slice(left, left + crop, preparation.binning))).to_header_string()
