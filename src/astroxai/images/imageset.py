"""``ImageSet`` and the image readers.

Storage (HDF5 through h5py, like ``SpectraSet``): ``images`` (N × C × H × W float32, gzip), ``labels``, ``ids``,
``masks/<component>`` (N × H × W booleans: where each ground-truth component lies, for simulated images), ``meta/<col>``
(one value per image: numbers or text), ``wcs`` (each image's FITS WCS header as text, empty when there is none) and
the set's description as JSON.  Nothing is pickled.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from astroxai.dataset import _STR, meta_columns, open_hdf5, read_meta_group

FORMAT_NAME = "astroxai.ImageSet"
FORMAT_VERSION = 1
FITS_SUFFIXES = (".fits", ".fit", ".fts", ".fits.gz", ".fit.gz")
RASTER_SUFFIXES = (".png", ".jpg", ".jpeg")


class ImageError(ValueError):
    """An image file that cannot be used; the message names the file and the reason."""


@dataclass
class ImageSet:
    """N images of C channels, H × W pixels each.

    Attributes
    ----------
    images : (N, C, H, W) float32
    labels, ids : (N,) str (``""`` for an unknown label)
    masks : component name → (N, H, W) bool, the simulator's ground truth (empty for real images)
    meta : column name → (N,) array (numbers as float64, text as str)
    wcs : (N,) str, each image's WCS as a FITS header string (``""`` where there is none)
    attrs : JSON-serialisable description (pixel scale, simulator settings, seed, versions)
    """

    images: np.ndarray
    labels: np.ndarray
    ids: np.ndarray
    masks: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)
    wcs: np.ndarray | None = None
    attrs: dict = field(default_factory=dict)

    def __post_init__(self):
        self.images = np.asarray(self.images, dtype=np.float32)
        if self.images.ndim == 3:  # N × H × W: one channel
            self.images = self.images[:, None]
        if self.images.ndim != 4:
            raise ValueError(f"images must be N × C × H × W, got shape {self.images.shape}")
        n, _, h, w = self.images.shape
        self.labels = np.asarray(self.labels, dtype=object).astype(str)
        self.ids = np.asarray(self.ids, dtype=object).astype(str)
        if self.labels.shape != (n,) or self.ids.shape != (n,):
            raise ValueError("labels and ids need one entry per image")
        self.wcs = (np.full(n, "", dtype=object) if self.wcs is None
                    else np.asarray(self.wcs, dtype=object).astype(str))
        self.masks = {k: np.asarray(v, dtype=bool) for k, v in self.masks.items()}
        for key, mask in self.masks.items():
            if mask.shape != (n, h, w):
                raise ValueError(f"mask {key!r} must be {(n, h, w)}, got {mask.shape}")
        self.meta = meta_columns(self.meta, n, "images")

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def shape(self) -> tuple[int, int, int]:
        """(C, H, W) of every image."""
        return tuple(self.images.shape[1:])

    @property
    def classes(self) -> list[str]:
        return sorted(set(self.labels) - {""})

    def subset(self, index) -> ImageSet:
        index = np.asarray(index)
        return ImageSet(self.images[index], self.labels[index], self.ids[index],
                        {k: v[index] for k, v in self.masks.items()}, {k: v[index] for k, v in self.meta.items()},
                        self.wcs[index], dict(self.attrs))

    def save(self, path: str | Path) -> Path:
        """Write the set to an HDF5 file (overwritten if it exists)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with h5py.File(path, "w") as handle:
            handle.attrs["format"] = FORMAT_NAME
            handle.attrs["format_version"] = FORMAT_VERSION
            handle.attrs["attrs_json"] = json.dumps(self.attrs, default=str)
            handle.create_dataset("images", data=self.images, compression="gzip", compression_opts=1, shuffle=True,
                                  chunks=(1, *self.images.shape[1:]) if len(self) else None)
            for name, values in (("labels", self.labels), ("ids", self.ids), ("wcs", self.wcs)):
                handle.create_dataset(name, data=values.astype(object), dtype=_STR)
            masks = handle.create_group("masks")
            for key, mask in self.masks.items():
                masks.create_dataset(key, data=mask, compression="gzip", compression_opts=1)
            meta = handle.create_group("meta")
            for key, column in self.meta.items():
                if column.dtype == object or column.dtype.kind in "US":
                    meta.create_dataset(key, data=column.astype(str).astype(object), dtype=_STR)
                else:
                    meta.create_dataset(key, data=column)
        return path

    @classmethod
    def load(cls, path: str | Path) -> ImageSet:
        """Read a set written by :meth:`save`."""
        with open_hdf5(Path(path), FORMAT_NAME) as handle:
            meta = read_meta_group(handle["meta"])
            return cls(images=handle["images"][()], labels=handle["labels"].asstr()[()],
                       ids=handle["ids"].asstr()[()], masks={k: v[()] for k, v in handle["masks"].items()},
                       meta=meta, wcs=handle["wcs"].asstr()[()], attrs=json.loads(handle.attrs["attrs_json"]))


@dataclass
class Image:
    """One image as read from a file: (C, H, W) float32 data, its WCS header text ('' if none), its source."""

    data: np.ndarray
    wcs: str
    source: str


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
            array = np.asarray(handle.convert("L" if handle.mode in ("1", "L", "I", "I;16", "F") else "RGB"))
    except (OSError, UnidentifiedImageError) as error:
        raise ImageError(f"{path}: not a readable PNG/JPEG image ({error})") from None
    data = array.astype(np.float32) / 255.0
    data = data[None] if data.ndim == 2 else np.moveaxis(data, -1, 0)
    return Image(data, "", str(path))


def read_image(path: str | Path) -> Image:
    """Read a FITS cutout (first HDU with 2-D/3-D data; its celestial WCS kept as header text) or a PNG/JPEG
    (scaled to 0–1; grey images get one channel, colour images three).  Raises :class:`ImageError`."""
    path = Path(path)
    name = path.name.lower()
    if name.endswith(FITS_SUFFIXES):
        image = _read_fits(path)
    elif name.endswith(RASTER_SUFFIXES):
        image = _read_raster(path)
    else:
        raise ImageError(f"{path}: unknown image format (FITS, PNG or JPEG expected)")
    if not np.isfinite(image.data).any():
        raise ImageError(f"{path}: no finite pixel")
    return image


def read_images(paths, labels=None, shape: tuple[int, int] | None = None,
                channels: int | None = None) -> tuple[ImageSet, list[dict]]:
    """Read many image files into an ImageSet, keeping the ones that can be used.

    Every input gets a fate row ``{input, id, status, reason}``: a file that cannot be read, has non-finite pixels
    (NaN pixels are set to 0 and counted in the ``n_nan`` column instead when fewer than 10 %), or whose size or
    channel count differs from the first kept image (or from ``shape`` and ``channels``) is rejected with the reason.
    """
    paths = [Path(p) for p in paths]
    labels = [""] * len(paths) if labels is None else list(labels)
    kept, fates, meta = [], [], {"source": [], "n_nan": []}
    expected = None if shape is None else tuple(shape)
    for path, label in zip(paths, labels, strict=True):
        fate = {"input": str(path), "id": path.name.split(".")[0], "status": "rejected", "reason": ""}
        fates.append(fate)
        try:
            image = read_image(path)
        except ImageError as error:
            fate["reason"] = str(error)
            continue
        data = image.data
        bad = ~np.isfinite(data)
        if bad.mean() > 0.1:
            fate["reason"] = f"{path}: {bad.mean():.0%} of the pixels are not finite"
            continue
        size = data.shape[1:]
        if expected is not None and size != expected:
            fate["reason"] = f"{path}: image is {size[0]}×{size[1]} px, the set needs {expected[0]}×{expected[1]}"
            continue
        if channels is not None and data.shape[0] != channels:
            fate["reason"] = f"{path}: {data.shape[0]} channels, the set needs {channels}"
            continue
        expected, channels = size, data.shape[0]
        kept.append((np.where(bad, 0.0, data), label, fate["id"], image.wcs))
        meta["source"].append(str(path))
        meta["n_nan"].append(int(bad.sum()))
        fate.update(status="kept", reason="")
    if not kept:
        return None, fates
    images, labs, ids, wcs = zip(*kept, strict=True)
    return ImageSet(np.stack(images), list(labs), list(ids), meta=meta, wcs=list(wcs)), fates
