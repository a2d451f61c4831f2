"""Labelled data sets: reduced spectra (:class:`SpectraSet`) and survey cutouts (:class:`ImageSet`) on one base
(:class:`LabelledSet`), stored in HDF5 without pickle, and the fate of every input (kept, or rejected with why)."""

from astroxai.data.base import (
    FATE_COLUMNS,
    LabelledSet,
    atomic_folder,
    atomic_path,
    csv_safe,
    fate,
    hostile_datasets,
    load_set,
)
from astroxai.data.images import ImageSet
from astroxai.data.spectra import SpectraSet, SpectraSetWriter

__all__ = ["FATE_COLUMNS", "ImageSet", "LabelledSet", "SpectraSet", "SpectraSetWriter", "atomic_folder", "atomic_path",
           "csv_safe", "fate", "hostile_datasets", "load_set"]
