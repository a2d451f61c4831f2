"""``SpectraSet``: N reduced spectra on one rest-frame grid, stored in one HDF5 file.

HDF5 (through h5py) keeps the float32 flux matrix, the grid, labels, ids, per-spectrum metadata columns and the
run's settings as JSON; nothing is pickled, so a file from anyone can be opened safely.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from astroxai.data.base import STRING, LabelledSet, as_column, open_hdf5, read_meta_group, utf8_texts
from astroxai.errors import InputError
from astroxai.results import json_text


@dataclass
class SpectraSet(LabelledSet):
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

    Examples
    --------
    >>> import numpy as np
    >>> from astroxai import SpectraSet
    >>> data = SpectraSet(np.ones((2, 3)), [5000.0, 5100.0, 5200.0], ["type1", "type2"], ["a", "b"])
    >>> len(data), data.classes, data.subset([1]).ids.tolist()
    (2, ['type1', 'type2'], ['b'])
    """

    flux: np.ndarray
    wavelength: np.ndarray
    labels: np.ndarray
    ids: np.ndarray
    meta: dict = field(default_factory=dict)
    attrs: dict = field(default_factory=dict)

    FORMAT, NOUN, modality = "astroxai.SpectraSet", "spectra", "spectra"
    #: Added noise is measured against the normalisation: σ in units of each spectrum's flux at 5100 Å.
    NOISE_UNITS = "each spectrum's flux at 5100 Å"

    def __post_init__(self):
        self.flux = np.asarray(self.flux, dtype=np.float32)
        self.wavelength = np.asarray(self.wavelength, dtype=np.float64)
        if self.flux.ndim != 2 or self.flux.shape[1] != self.wavelength.size:
            raise InputError(f"flux must be N × {self.wavelength.size}, got {self.flux.shape}")
        if self.wavelength.ndim != 1 or not np.isfinite(self.wavelength).all() or (
                self.wavelength.size > 1 and not (np.diff(self.wavelength) > 0).all()):
            # every model, map and figure reads the grid as increasing wavelength
            raise InputError("the wavelength grid must be finite and strictly increasing")
        self._check_rows(self.flux.shape[0])

    @property
    def inputs(self) -> np.ndarray:
        return self.flux

    @property
    def grid(self) -> np.ndarray:
        return self.wavelength

    def subset(self, index) -> SpectraSet:
        index = np.asarray(index)
        return SpectraSet(self.flux[index], self.wavelength, self.labels[index], self.ids[index],
                          {k: v[index] for k, v in self.meta.items()}, dict(self.attrs))

    def save(self, path: str | Path) -> Path:
        """Write the set to an HDF5 file (atomically, through :class:`SpectraSetWriter`)."""
        path = Path(path)
        with SpectraSetWriter(path, self.wavelength, self.attrs) as writer:
            writer.append(self.flux, self.labels, self.ids, self.meta)
        return path

    @classmethod
    def from_spectra(cls, spectra, labels=None, *, ids=None, z=None, grid=None, n_wave: int = 1000,
                     method: str = "linear") -> SpectraSet:
        """A set built in Python from observed-frame spectra, reduced as ``astroxai reduce`` reduces files (rest
        frame → normalised at 5100 Å → ``grid``, by default ``n_wave`` points over the spectra's overlap).

        Parameters
        ----------
        spectra : sequence
            :class:`~astroxai.spectrum.Spectrum` objects, ``specutils`` spectra (read by
            :meth:`~astroxai.spectrum.Spectrum.from_specutils`), or ``(wavelength, flux)`` / ``(wavelength, flux,
            ivar)`` arrays in Å.
        labels, ids, z : sequence, optional
            Per spectrum: the class (the user's names), the identifier (default: ``spectrum-<n>``) and the
            redshift (default: the spectrum's own).
        grid, n_wave, method
            As :func:`astroxai.reduce.reduce_spectra`.

        Returns
        -------
        SpectraSet
            The spectra that could be reduced; ``attrs['fates']`` gives every spectrum's fate (kept, or rejected
            with the reason), so a study's manifest can list it.

        Examples
        --------
        >>> import numpy as np
        >>> from astroxai import SpectraSet
        >>> wave = np.linspace(4000, 7000, 3000)
        >>> data = SpectraSet.from_spectra([(wave, np.ones(3000)), (wave, 2 * np.ones(3000))], ["A", "B"],
        ...                                z=[0.1, 0.05], n_wave=50)
        >>> data.flux.shape, data.labels.tolist(), float(data.flux[1, 10])
        ((2, 50), ['A', 'B'], 1.0)
        """
        # The reduction is the package's (astroxai.reduce, a layer above the containers) and so is the observed
        # spectrum (astroxai.spectrum, a sibling): both reached through the package's public face at call time, so
        # that this constructor can live where users look for it.
        from astroxai import Spectrum, reduce_spectra

        spectra = list(spectra)
        n = len(spectra)
        ids = [f"spectrum-{k + 1}" for k in range(n)] if ids is None else [str(i) for i in ids]
        redshifts = [None] * n if z is None else [None if v is None else float(v) for v in z]
        built = []
        for spectrum, name, redshift in zip(spectra, ids, redshifts, strict=True):
            if isinstance(spectrum, Spectrum):
                spectrum = Spectrum(spectrum.wavelength, spectrum.flux, spectrum.ivar, spectrum.mask,
                                    redshift if redshift is not None else spectrum.z, name, spectrum.source)
            elif isinstance(spectrum, (tuple, list)):
                wave, flux, *rest = spectrum
                spectrum = Spectrum(wave, flux, rest[0] if rest else np.ones(len(flux)), z=redshift, id=name)
            else:
                spectrum = Spectrum.from_specutils(spectrum, z=redshift, id=name)
            built.append(spectrum)
        data, fates = reduce_spectra(built, grid, labels=labels, method=method, n_wave=n_wave)
        data.attrs["fates"] = fates
        return data

    @classmethod
    def describe(cls, path: str | Path) -> tuple[int, np.ndarray, dict]:
        """The number of spectra, the grid and the attrs of a stored set, without reading its fluxes."""
        with open_hdf5(path, cls.FORMAT) as handle:
            try:
                return (int(handle["flux"].shape[0]), handle["wavelength"][()],
                        json.loads(handle.attrs["attrs_json"]))
            except (KeyError, TypeError, json.JSONDecodeError) as error:
                raise InputError(f"{path}: damaged astroxai SpectraSet ({type(error).__name__}: {error})") from None

    @classmethod
    def read_rows(cls, path: str | Path, start: int, stop: int) -> SpectraSet:
        """Spectra ``start:stop`` of a stored set (HDF5 reads only the chunks that hold them), for streaming a set
        larger than memory."""
        with open_hdf5(path, cls.FORMAT) as handle:
            try:
                return cls(flux=handle["flux"][start:stop], wavelength=handle["wavelength"][()],
                           labels=handle["labels"].asstr()[start:stop], ids=handle["ids"].asstr()[start:stop],
                           meta=read_meta_group(handle["meta"], slice(start, stop)),
                           attrs=json.loads(handle.attrs["attrs_json"]))
            except (KeyError, TypeError, json.JSONDecodeError) as error:
                raise InputError(f"{path}: damaged astroxai SpectraSet ({type(error).__name__}: {error})") from None

    @classmethod
    def _read(cls, handle) -> SpectraSet:
        return cls(flux=handle["flux"][()], wavelength=handle["wavelength"][()],
                   labels=handle["labels"].asstr()[()], ids=handle["ids"].asstr()[()],
                   meta=read_meta_group(handle["meta"]), attrs=json.loads(handle.attrs["attrs_json"]))


class SpectraSetWriter:
    """Append reduced spectra chunk by chunk to an HDF5 SpectraSet, so memory stays bounded.

    The file is written under a temporary name and renamed to ``path`` by :meth:`close`; a writer left by an error
    (``with`` block that raises) removes it, so no partial set is ever found under ``path``.  Metadata columns are
    fixed by the first chunk; later chunks must give the same keys.
    """

    def __init__(self, path: str | Path, wavelength, attrs: dict | None = None, chunk_rows: int = 256):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.partial")
        self.wavelength = np.asarray(wavelength, dtype=np.float64)
        self._file = None
        try:
            self._start(attrs, chunk_rows)
        except BaseException:  # an error or Ctrl-C before the ``with`` block: __exit__ would never remove the file
            self.abandon()
            raise

    def _start(self, attrs: dict | None, chunk_rows: int) -> None:
        self._file = h5py.File(self._temporary, "w")
        self._file.attrs["format"] = SpectraSet.FORMAT
        self._file.attrs["format_version"] = SpectraSet.FORMAT_VERSION
        self._file.attrs["attrs_json"] = json_text(attrs or {}, indent=None)
        self._file.create_dataset("wavelength", data=self.wavelength)
        m = self.wavelength.size
        self._file.create_dataset(
            "flux", shape=(0, m), maxshape=(None, m), dtype=np.float32,
            chunks=(min(chunk_rows, 1024), m), compression="gzip", compression_opts=1, shuffle=True,
        )
        for name in ("labels", "ids"):
            self._file.create_dataset(name, shape=(0,), maxshape=(None,), dtype=STRING, chunks=(1024,))
        self._meta = self._file.create_group("meta")
        self.n = 0

    def set_attrs(self, attrs: dict) -> None:
        """Replace the stored description (e.g. with final counts once the run is over)."""
        self._file.attrs["attrs_json"] = json_text(attrs, indent=None)

    def append(self, flux, labels, ids, meta: dict) -> None:
        flux = np.asarray(flux, dtype=np.float32).reshape(-1, self.wavelength.size)
        k = flux.shape[0]
        if k == 0:
            return
        start, stop = self.n, self.n + k
        for name, values in (("flux", flux), ("labels", labels), ("ids", ids)):
            data = self._file[name]
            data.resize(stop, axis=0)
            data[start:stop] = values if name == "flux" else utf8_texts(values)
        if self.n == 0:
            for key, values in meta.items():
                column = as_column(values)
                dtype = STRING if column.dtype == object else np.float64
                self._meta.create_dataset(key, shape=(0,), maxshape=(None,), dtype=dtype, chunks=(1024,))
        if set(meta) != set(self._meta):
            raise InputError(f"metadata keys changed between chunks: {sorted(meta)} vs {sorted(self._meta)}")
        for key, values in meta.items():
            column = as_column(values)
            data = self._meta[key]
            data.resize(stop, axis=0)
            data[start:stop] = utf8_texts(column) if data.dtype.kind == "O" else column
        self.n = stop

    def close(self) -> None:
        """Finish the file and move it to its final name."""
        if self._file:
            self._file.close()
            self._file = None
            os.replace(self._temporary, self.path)

    def abandon(self) -> None:
        """Close and delete the temporary file: nothing appears under the final name."""
        if self._file:
            self._file.close()
            self._file = None
        self._temporary.unlink(missing_ok=True)

    def __enter__(self):
        return self

    def __exit__(self, kind, error, trace):
        if kind is None:
            self.close()
        else:
            self.abandon()
