"""``ImageSet``: N survey cutouts (C × H × W each) with labels, ground-truth masks, metadata and WCS, in HDF5.

Storage (HDF5 through h5py, like ``SpectraSet``): ``images`` (N × C × H × W float32, gzip), ``labels``, ``ids``,
``masks/<component>`` (N × H × W booleans: where each ground-truth component lies, for simulated images), ``meta/<col>``
(one value per image: numbers or text), ``wcs`` (each image's FITS WCS header as text, empty when there is none) and
the set's description as JSON.  Nothing is pickled.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from astroxai.data.base import STRING, LabelledSet, read_meta_group, utf8_texts, write_meta_group
from astroxai.errors import InputError


@dataclass
class ImageSet(LabelledSet):
    """N images of C channels, H × W pixels each.

    Attributes
    ----------
    images : (N, C, H, W) float32
    labels, ids : (N,) str (``""`` for an unknown label)
    masks : component name → (N, H, W) bool, the simulator's ground truth (empty for real images)
    meta : column name → (N,) array (numbers as float64, text as str)
    wcs : (N,) str, each image's WCS as a FITS header string (``""`` where there is none)
    attrs : JSON-serialisable description (pixel scale, simulator settings, seed, versions)

    Examples
    --------
    >>> import numpy as np
    >>> from astroxai import ImageSet
    >>> data = ImageSet(np.zeros((3, 8, 8)), ["FRI", "FRII", "FRI"], ["a", "b", "c"])
    >>> data.shape, data.classes
    ((1, 8, 8), ['FRI', 'FRII'])
    """

    images: np.ndarray
    labels: np.ndarray
    ids: np.ndarray
    masks: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)
    wcs: np.ndarray | None = None
    attrs: dict = field(default_factory=dict)

    FORMAT, NOUN, modality = "astroxai.ImageSet", "images", "images"

    def __post_init__(self):
        self.images = np.asarray(self.images, dtype=np.float32)
        if self.images.ndim == 3:  # N × H × W: one channel
            self.images = self.images[:, None]
        if self.images.ndim != 4:
            raise InputError(f"images must be N × C × H × W, got shape {self.images.shape}")
        n, _, h, w = self.images.shape
        self._check_rows(n)
        self.wcs = (np.full(n, "", dtype=object) if self.wcs is None
                    else np.asarray(self.wcs, dtype=object).astype(str))
        self.masks = {k: np.asarray(v, dtype=bool) for k, v in self.masks.items()}
        for key, mask in self.masks.items():
            if mask.shape != (n, h, w):
                raise InputError(f"mask {key!r} must be {(n, h, w)}, got {mask.shape}")

    @property
    def inputs(self) -> np.ndarray:
        return self.images

    @property
    def shape(self) -> tuple[int, int, int]:
        """(C, H, W) of every image."""
        return tuple(self.images.shape[1:])

    @property
    def grid(self) -> tuple[int, int, int]:
        return self.shape

    def subset(self, index) -> ImageSet:
        index = np.asarray(index)
        return ImageSet(self.images[index], self.labels[index], self.ids[index],
                        {k: v[index] for k, v in self.masks.items()}, {k: v[index] for k, v in self.meta.items()},
                        self.wcs[index], dict(self.attrs))

    @classmethod
    def concatenate(cls, sets: list[ImageSet]) -> ImageSet:
        """One set from several of the same image shape: a set without a component's mask gets an empty one (no
        ground truth there), metadata columns that some set lacks are dropped."""
        if len(sets) == 1:
            return sets[0]
        components = sorted(set().union(*(set(s.masks) for s in sets)))
        columns = set.intersection(*(set(s.meta) for s in sets))
        return cls(np.concatenate([s.images for s in sets]), np.concatenate([s.labels for s in sets]),
                   np.concatenate([s.ids for s in sets]),
                   masks={k: np.concatenate([s.masks.get(k, np.zeros((len(s), *s.shape[1:]), dtype=bool))
                                             for s in sets]) for k in components},
                   meta={k: np.concatenate([s.meta[k] for s in sets]) for k in sorted(columns)},
                   wcs=np.concatenate([s.wcs for s in sets]), attrs=dict(sets[0].attrs))

    def _write(self, handle) -> None:
        handle.create_dataset("images", data=self.images, compression="gzip", compression_opts=1, shuffle=True,
                              chunks=(1, *self.images.shape[1:]) if len(self) else None)
        for name, values in (("labels", self.labels), ("ids", self.ids), ("wcs", self.wcs)):
            handle.create_dataset(name, data=utf8_texts(values), dtype=STRING)
        masks = handle.create_group("masks")
        for key, mask in self.masks.items():
            masks.create_dataset(key, data=mask, compression="gzip", compression_opts=1)
        write_meta_group(handle.create_group("meta"), self.meta)

    @classmethod
    def _read(cls, handle) -> ImageSet:
        return cls(images=handle["images"][()], labels=handle["labels"].asstr()[()], ids=handle["ids"].asstr()[()],
                   masks={k: v[()] for k, v in handle["masks"].items()}, meta=read_meta_group(handle["meta"]),
                   wcs=handle["wcs"].asstr()[()], attrs=json.loads(handle.attrs["attrs_json"]))
