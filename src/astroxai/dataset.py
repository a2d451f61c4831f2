"""``SpectraSet``: the reduced data set (N spectra on one rest-frame grid), stored in one HDF5 file.

HDF5 (through h5py) keeps the float32 flux matrix, the grid, labels, ids, per-spectrum metadata columns
and the run's settings as JSON; nothing is pickled, so a file from anyone can be opened safely.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

_STR = h5py.string_dtype(encoding="utf-8")
FORMAT_NAME = "astroxai.SpectraSet"
FORMAT_VERSION = 1


def _as_column(values) -> np.ndarray:
    """A metadata column as float64 (numbers, None → NaN) or as str, whichever fits all values."""
    values = list(values)
    if all(v is None or isinstance(v, (bool, int, float, np.integer, np.floating)) for v in values):
        return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)
    return np.array(["" if v is None else str(v) for v in values], dtype=object)


def meta_columns(meta: dict, n: int, what: str) -> dict:
    """Per-row metadata as arrays (lists through :func:`_as_column`), each checked to have ``n`` entries."""
    columns = {key: value if isinstance(value, np.ndarray) else _as_column(value) for key, value in meta.items()}
    for key, column in columns.items():
        if len(column) != n:
            raise ValueError(f"meta column {key!r} has {len(column)} entries for {n} {what}")
    return columns


def open_hdf5(path: Path, format_name: str):
    """An HDF5 file opened for reading whose ``format`` attribute is ``format_name``; ValueError naming the file
    otherwise.  Shared by SpectraSet and ImageSet."""
    what = format_name.split(".")[-1]
    try:
        handle = h5py.File(path, "r")
    except OSError as error:
        raise ValueError(f"{path}: not an astroxai {what} HDF5 file ({error})") from None
    if handle.attrs.get("format") != format_name:
        handle.close()
        raise ValueError(f"{path}: HDF5 file is not an astroxai {what}")
    return handle


def read_meta_group(group) -> dict:
    """Per-row metadata columns of an HDF5 group: text as str arrays, numbers as they are."""
    return {key: data.asstr()[()].astype(object) if data.dtype.kind == "O" else data[()] for key, data in group.items()}


@dataclass
class SpectraSet:
    """N reduced spectra on a common rest-frame wavelength grid.

    Attributes
    ----------
    flux : ndarray, shape (N, n_wave), float32
        Normalised fluxes (1 at 5100 Å by construction).
    wavelength : ndarray, shape (n_wave,)
        Rest-frame vacuum wavelengths in Å.
    labels : ndarray of str, shape (N,)
        Class labels (``""`` where unknown).
    ids : ndarray of str, shape (N,)
        Spectrum identifiers.
    meta : dict of str → ndarray, each of shape (N,)
        Per-spectrum metadata (redshift, source file, normalisation, fraction of bad pixels, ...).
    attrs : dict
        JSON-serialisable description of how the set was made (settings, versions, seed).
    """

    flux: np.ndarray
    wavelength: np.ndarray
    labels: np.ndarray
    ids: np.ndarray
    meta: dict = field(default_factory=dict)
    attrs: dict = field(default_factory=dict)

    def __post_init__(self):
        self.flux = np.asarray(self.flux, dtype=np.float32)
        self.wavelength = np.asarray(self.wavelength, dtype=np.float64)
        self.labels = np.asarray(self.labels, dtype=object).astype(str)
        self.ids = np.asarray(self.ids, dtype=object).astype(str)
        n = self.flux.shape[0]
        if self.flux.ndim != 2 or self.flux.shape[1] != self.wavelength.size:
            raise ValueError(f"flux must be N × {self.wavelength.size}, got {self.flux.shape}")
        if self.labels.shape != (n,) or self.ids.shape != (n,):
            raise ValueError("labels and ids need one entry per spectrum")
        self.meta = meta_columns(self.meta, n, "spectra")

    def __len__(self) -> int:
        return self.flux.shape[0]

    @property
    def classes(self) -> list[str]:
        """Sorted distinct non-empty labels."""
        return sorted(set(self.labels) - {""})

    def subset(self, index) -> SpectraSet:
        """A new set with the rows selected by ``index`` (boolean mask or integer indices)."""
        index = np.asarray(index)
        return SpectraSet(
            self.flux[index], self.wavelength, self.labels[index], self.ids[index],
            {k: v[index] for k, v in self.meta.items()}, dict(self.attrs),
        )

    def save(self, path: str | Path) -> Path:
        """Write the set to an HDF5 file (overwritten if it exists)."""
        path = Path(path)
        with SpectraSetWriter(path, self.wavelength, self.attrs) as writer:
            writer.append(self.flux, self.labels, self.ids, self.meta)
        return path

    @classmethod
    def load(cls, path: str | Path) -> SpectraSet:
        """Read a set written by :meth:`save` or :class:`SpectraSetWriter`."""
        path = Path(path)
        with open_hdf5(path, FORMAT_NAME) as handle:
            meta = read_meta_group(handle["meta"])
            return cls(
                flux=handle["flux"][()],
                wavelength=handle["wavelength"][()],
                labels=handle["labels"].asstr()[()],
                ids=handle["ids"].asstr()[()],
                meta=meta,
                attrs=json.loads(handle.attrs["attrs_json"]),
            )


class SpectraSetWriter:
    """Append reduced spectra chunk by chunk to an HDF5 SpectraSet, so memory stays bounded.

    Metadata columns are fixed by the first chunk; later chunks must give the same keys.
    """

    def __init__(self, path: str | Path, wavelength, attrs: dict | None = None, chunk_rows: int = 256):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.wavelength = np.asarray(wavelength, dtype=np.float64)
        self._file = h5py.File(self.path, "w")
        self._file.attrs["format"] = FORMAT_NAME
        self._file.attrs["format_version"] = FORMAT_VERSION
        self._file.attrs["attrs_json"] = json.dumps(attrs or {}, default=str)
        self._file.create_dataset("wavelength", data=self.wavelength)
        m = self.wavelength.size
        self._file.create_dataset(
            "flux", shape=(0, m), maxshape=(None, m), dtype=np.float32,
            chunks=(min(chunk_rows, 1024), m), compression="gzip", compression_opts=1, shuffle=True,
        )
        for name in ("labels", "ids"):
            self._file.create_dataset(name, shape=(0,), maxshape=(None,), dtype=_STR, chunks=(1024,))
        self._meta = self._file.create_group("meta")
        self.n = 0

    def set_attrs(self, attrs: dict) -> None:
        """Replace the stored description (e.g. with final counts once the run is over)."""
        self._file.attrs["attrs_json"] = json.dumps(attrs, default=str)

    def append(self, flux, labels, ids, meta: dict) -> None:
        flux = np.asarray(flux, dtype=np.float32).reshape(-1, self.wavelength.size)
        k = flux.shape[0]
        if k == 0:
            return
        start, stop = self.n, self.n + k
        for name, values in (("flux", flux), ("labels", labels), ("ids", ids)):
            data = self._file[name]
            data.resize(stop, axis=0)
            data[start:stop] = values if name == "flux" else np.asarray(values, dtype=object).astype(str)
        if self.n == 0:
            for key, values in meta.items():
                column = _as_column(values)
                dtype = _STR if column.dtype == object else np.float64
                self._meta.create_dataset(key, shape=(0,), maxshape=(None,), dtype=dtype, chunks=(1024,))
        if set(meta) != set(self._meta):
            raise ValueError(f"metadata keys changed between chunks: {sorted(meta)} vs {sorted(self._meta)}")
        for key, values in meta.items():
            column = _as_column(values)
            data = self._meta[key]
            data.resize(stop, axis=0)
            data[start:stop] = column.astype(str) if data.dtype.kind == "O" else column
        self.n = stop

    def close(self) -> None:
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
