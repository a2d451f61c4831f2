"""What spectra and images share: a labelled set of N inputs stored in HDF5 without pickle, and the fate of every
input a command was given (kept, or rejected with the reason).

:class:`LabelledSet` is the base of :class:`~astroxai.data.SpectraSet` and :class:`~astroxai.data.ImageSet`: ids,
labels, per-row metadata, a JSON description, ``subset``, ``classes`` and ``save``/``load`` with a format tag, so
that an estimator, an explainer or a workflow can take either without asking which it is.  Files are written under a
temporary name and renamed when complete, so an interrupted write never leaves a file that a later ``load`` accepts.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar

import h5py
import numpy as np

from astroxai.errors import InputError
from astroxai.results import json_text

#: HDF5 type of every text column (UTF-8, variable length).
STRING = h5py.string_dtype(encoding="utf-8")
#: Columns every table of input fates starts with; ``input`` is the path (or name) the user gave.
FATE_COLUMNS = ("input", "id", "status", "reason")


def fate(input_name, input_id, status: str, reason: str = "", **extra) -> dict:
    """One row of an input-fate table: ``status`` is ``'kept'`` or ``'rejected'`` (then ``reason`` says why)."""
    if status not in ("kept", "rejected"):
        raise InputError(f"status must be 'kept' or 'rejected', not {status!r}")
    return {"input": str(input_name), "id": str(input_id), "status": status, "reason": reason, **extra}


def as_column(values) -> np.ndarray:
    """A metadata column as float64 (numbers, None → NaN) or as str, whichever fits all values."""
    values = list(values)
    if all(v is None or isinstance(v, (bool, int, float, np.integer, np.floating)) for v in values):
        return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)
    return np.array(["" if v is None else str(v) for v in values], dtype=object)


def meta_columns(meta: dict, n: int, what: str) -> dict:
    """Per-row metadata as arrays (lists through :func:`as_column`), each checked to have ``n`` entries."""
    columns = {key: value if isinstance(value, np.ndarray) else as_column(value) for key, value in meta.items()}
    for key, column in columns.items():
        if len(column) != n:
            raise InputError(f"meta column {key!r} has {len(column)} entries for {n} {what}")
    return columns


def read_meta_group(group, rows=slice(None)) -> dict:
    """Per-row metadata columns of an HDF5 group (``rows``: which of them): text as str arrays, numbers as they
    are."""
    return {key: data.asstr()[rows].astype(object) if data.dtype.kind == "O" else data[rows]
            for key, data in group.items()}


def write_meta_group(group, meta: dict) -> None:
    """The inverse of :func:`read_meta_group`."""
    for key, column in meta.items():
        if column.dtype == object or column.dtype.kind in "US":
            group.create_dataset(key, data=utf8_texts(column), dtype=STRING)
        else:
            group.create_dataset(key, data=column)


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` that replaces ``path`` when the block ends without an error, and is removed
    when it raises: readers never see a half-written file under the final name."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


@contextmanager
def atomic_folder(path: str | Path) -> Iterator[Path]:
    """A temporary folder beside ``path`` that replaces ``path`` (a folder) as a whole when the block ends without an
    error, and is removed when it raises: a folder is replaced completely or not at all."""
    import shutil

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.partial")
    old = path.with_name(f".{path.name}.{os.getpid()}.old")
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir()
    try:
        yield temporary
        if path.exists():
            os.replace(path, old)
        os.replace(temporary, path)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


#: A dataset may declare more bytes than it stores (compression, unwritten chunks) up to this ratio, beyond
#: :data:`UNSTORED_FLOOR` bytes; more is refused before any read (a small file declaring gigabytes is a memory bomb).
UNSTORED_RATIO = 200
UNSTORED_FLOOR = 256 * 2**20
#: Spreadsheets run a cell that starts with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def hostile_datasets(handle) -> list[str]:
    """Why an open HDF5 file must not be read: datasets stored in other files (external raw storage or virtual
    datasets: reading them would copy local files into astroxai's outputs) or declaring far more data than the
    file stores.  Empty when the file is safe to read."""
    problems = []

    def visit(name, item):
        if not isinstance(item, h5py.Dataset):
            return
        if item.external:
            problems.append(f"dataset '{name}' is stored in external file(s), not in this file")
        elif item.is_virtual:
            problems.append(f"dataset '{name}' is a virtual dataset mapping other files")
        else:
            declared = int(np.prod(item.shape, dtype=np.float64) * item.dtype.itemsize) if item.shape else 0
            stored = item.id.get_storage_size()
            if declared > UNSTORED_FLOOR and declared > UNSTORED_RATIO * max(stored, 1):
                problems.append(f"dataset '{name}' declares {declared / 2**30:.1f} GiB but the file stores "
                                f"{stored / 2**10:.0f} KiB of it")

    handle.visititems(visit)
    return problems


def is_utf8(text: str) -> bool:
    """Whether UTF-8 can hold ``text``: a file name or a catalogue cell with bytes that are not UTF-8 reaches Python
    as lone surrogates (``os.fsdecode``, ``errors='surrogateescape'``), which every UTF-8 writer refuses."""
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def utf8_text(value) -> str:
    """``value`` as text that UTF-8 can hold (:func:`is_utf8`): bytes that are not UTF-8 are written as ``\\xNN``
    escapes, so that a name stays readable and its row is not lost."""
    text = str(value)
    return text if is_utf8(text) else text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def utf8_texts(values) -> np.ndarray:
    """:func:`utf8_text` of every value, as an object array (what h5py writes as UTF-8 strings)."""
    return np.array([utf8_text(v) for v in np.asarray(values, dtype=object).ravel()], dtype=object)


def cut_text(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, the last one an ellipsis when it was longer: how a figure title or
    a rejection reason names data it must not repeat whole."""
    return text if len(text) <= limit else text[:limit - 1] + "…"


def csv_safe(row: dict) -> dict:
    """A table row whose text cells cannot run as spreadsheet formulas: a cell that starts with ``= + - @``, a tab
    or a carriage return gets a leading ``'`` (OWASP's advice), unless it reads as a number; text that UTF-8 cannot
    hold is escaped (:func:`utf8_text`)."""
    def safe(value):
        if not isinstance(value, str):
            return value
        value = utf8_text(value)
        if value.startswith(FORMULA_STARTS):
            try:
                float(value)
            except ValueError:
                return "'" + value
        return value

    return {key: safe(value) for key, value in row.items()}


def open_hdf5(path: str | Path, format_name: str | None = None):
    """An astroxai HDF5 file opened for reading; ``ValueError`` naming the file when it is not one, when its
    ``format`` attribute is not ``format_name`` (any astroxai data set when ``None``), or when it is hostile
    (:func:`hostile_datasets`)."""
    path = Path(path)
    what = (format_name or "data set").split(".")[-1]
    try:
        handle = h5py.File(path, "r")
    except OSError as error:
        raise InputError(f"{path}: not an astroxai {what} HDF5 file ({error})") from None
    found = handle.attrs.get("format")
    if (format_name is None and found not in LabelledSet.FORMATS) or (format_name and found != format_name):
        handle.close()
        raise InputError(f"{path}: HDF5 file is not an astroxai {what}")
    problems = hostile_datasets(handle)
    if problems:
        handle.close()
        raise InputError(f"{path}: refused: {problems[0]}" + (f" (and {len(problems) - 1} more)"
                                                             if len(problems) > 1 else ""))
    return handle


class LabelledSet:
    """Base of the labelled data sets: ``N`` inputs with ``ids``, ``labels`` (``""`` = unknown), ``meta`` (one array
    of N values per column) and ``attrs`` (a JSON description of how the set was made).

    Subclasses hold the inputs themselves (:attr:`inputs`, shaped ``(N, ...)``) and their :attr:`grid`: the wavelengths
    of a :class:`~astroxai.data.SpectraSet`, the ``(C, H, W)`` shape of an :class:`~astroxai.data.ImageSet`.

    Attributes
    ----------
    labels, ids : (N,) ndarray of str
    meta : dict of str → (N,) ndarray
    attrs : dict
    modality : ``'spectra'`` or ``'images'``

    Examples
    --------
    >>> import numpy as np
    >>> from astroxai import LabelledSet, SpectraSet
    >>> path = SpectraSet(np.ones((2, 3)), [1.0, 2.0, 3.0], ["a", "b"], ["x", "y"]).save("two.h5")
    >>> type(LabelledSet.load(path)).__name__, LabelledSet.load(path).modality
    ('SpectraSet', 'spectra')
    """

    #: HDF5 ``format`` attribute of each subclass, filled in by :meth:`__init_subclass__`.
    FORMATS: ClassVar[dict[str, type]] = {}
    FORMAT: ClassVar[str] = ""
    FORMAT_VERSION: ClassVar[int] = 1
    #: What one input is called in messages ("spectra", "images").
    NOUN: ClassVar[str] = "inputs"
    modality: ClassVar[str] = ""
    #: The units of added-noise robustness curves (``""``: the inputs have none, e.g. images of any brightness).
    NOISE_UNITS: ClassVar[str] = ""

    labels: np.ndarray
    ids: np.ndarray
    meta: dict
    attrs: dict

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.FORMAT:
            LabelledSet.FORMATS[cls.FORMAT] = cls

    def _check_rows(self, n: int) -> None:
        """Labels and ids as str arrays of ``n`` entries, metadata columns of ``n`` values."""
        self.labels = np.asarray(self.labels, dtype=object).astype(str)
        self.ids = np.asarray(self.ids, dtype=object).astype(str)
        if self.labels.shape != (n,) or self.ids.shape != (n,):
            raise InputError(f"labels and ids need one entry per {self.NOUN[:-1] if self.NOUN.endswith('s') else 'row'}"
                             f" ({n}), got {self.labels.shape} and {self.ids.shape}")
        self.meta = meta_columns(self.meta, n, self.NOUN)

    @property
    def inputs(self) -> np.ndarray:
        """The (N, ...) array a model takes."""
        raise NotImplementedError

    @property
    def grid(self):
        """What every input is sampled on (wavelengths, or the image shape)."""
        raise NotImplementedError

    def finite(self) -> np.ndarray:
        """Which inputs hold only finite values (one NaN or infinity makes an input unusable to every model)."""
        return np.isfinite(np.asarray(self.inputs).reshape(len(self), -1)).all(axis=1)

    def __len__(self) -> int:
        return len(self.ids)

    def content_sha256(self) -> str:
        """SHA-256 of what a model learns from: the inputs (as float32), the grid, the ids and the labels, in order
        (the same for the same data whichever file or reader it came through)."""
        digest = hashlib.sha256()
        digest.update(np.ascontiguousarray(np.asarray(self.inputs, dtype=np.float32)).tobytes())
        digest.update(np.ascontiguousarray(np.asarray(self.grid, dtype=np.float64)).tobytes())
        for column in (self.ids, self.labels):
            digest.update("\x1f".join(str(value) for value in column.tolist()).encode("utf-8", "surrogateescape"))
            digest.update(b"\x1e")
        return digest.hexdigest()

    @property
    def classes(self) -> list[str]:
        """Sorted distinct non-empty labels."""
        return sorted(str(label) for label in set(self.labels.tolist()) - {""})

    def subset(self, index):
        """A new set with the rows selected by ``index`` (boolean mask or integer indices)."""
        raise NotImplementedError

    def _write(self, handle) -> None:
        raise NotImplementedError

    def save(self, path: str | Path) -> Path:
        """Write the set to an HDF5 file (atomically: a complete file or none under ``path``)."""
        path = Path(path)
        with atomic_path(path) as temporary, h5py.File(temporary, "w") as handle:
            handle.attrs["format"] = self.FORMAT
            handle.attrs["format_version"] = self.FORMAT_VERSION
            handle.attrs["attrs_json"] = json_text(self.attrs, indent=None)
            self._write(handle)
        return path

    @classmethod
    def _read(cls, handle):
        raise NotImplementedError

    @classmethod
    def load(cls, path: str | Path):
        """Read a set written by :meth:`save`.  Called on :class:`LabelledSet` itself, returns whichever kind of set
        the file holds; called on a subclass, refuses any other kind."""
        own = cls.FORMAT or None
        with open_hdf5(path, own) as handle:
            kind = LabelledSet.FORMATS[handle.attrs["format"]]
            try:
                return kind._read(handle)
            except (KeyError, TypeError, json.JSONDecodeError) as error:
                raise InputError(f"{path}: damaged astroxai {kind.__name__} "
                                 f"({type(error).__name__}: {error})") from None


def load_set(path: str | Path) -> LabelledSet:
    """A :class:`~astroxai.data.SpectraSet` or :class:`~astroxai.data.ImageSet` from its HDF5 file, whichever it is.

    Parameters
    ----------
    path : path-like
        A file written by ``save`` (or by ``astroxai reduce`` / ``astroxai simulate --kind radio|galaxy``).

    Returns
    -------
    LabelledSet

    Raises
    ------
    ValueError
        Naming the file, when it is not an astroxai data set or is damaged.

    Examples
    --------
    >>> from astroxai import load_set, simulate
    >>> _ = simulate.spectra_set({"type1": 3, "type2": 3}, seed=0, n_wave=40).save("six.h5")
    >>> data = load_set("six.h5")
    >>> type(data).__name__, len(data)
    ('SpectraSet', 6)
    """
    return LabelledSet.load(path)
