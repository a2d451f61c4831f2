"""Read survey files: spectra into :class:`~astroxai.spectrum.Spectrum` objects, cutouts into an
:class:`~astroxai.data.ImageSet`.

``read_spectrum`` recognises a file by its content (FITS magic bytes, CSV header) through the reader registry
(:mod:`astroxai.io.registry`) rather than by its name; ``collect_inputs`` turns command-line inputs (files,
directories, catalogue CSVs) into a list of :class:`InputItem` carrying each file's catalogue label and redshift;
``read_image`` / ``read_images`` read FITS, PNG and JPEG cutouts.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from astroxai.data.base import cut_text, fate, is_utf8
from astroxai.io.desi import coadd_targets, is_desi_coadd, read_desi_coadd
from astroxai.io.images import IMAGE_SUFFIXES, ImageError, read_image, read_images
from astroxai.io.registry import READERS, file_head, find_reader, register_reader
from astroxai.io.sdss import (
    is_spplate,
    read_complete_spec,
    read_sdss_fits,
    read_sdss_spec,
    read_sdss_spplate,
    read_sdss_spspec,
    spplate_fibres,
    write_sdss_spec,
)
from astroxai.io.text import read_sdss_csv, read_text_spectrum
from astroxai.spectrum import Spectrum, SpectrumError

__all__ = [
    "IMAGE_SUFFIXES",
    "READERS",
    "ImageError",
    "InputItem",
    "collect_inputs",
    "read_catalog",
    "read_desi_coadd",
    "read_image",
    "read_image_inputs",
    "read_images",
    "register_reader",
    "read_sdss_csv",
    "read_sdss_fits",
    "read_sdss_spec",
    "read_sdss_spplate",
    "read_sdss_spspec",
    "read_spectrum",
    "read_text_spectrum",
    "write_sdss_spec",
]

SPECTRUM_SUFFIXES = (".fits", ".fit", ".fits.gz", ".fit.gz", ".csv", ".txt", ".dat")
#: Catalogue columns that name one spectrum of a multi-spectrum file (spPlate fibre, DESI TARGETID).
MEMBER_COLUMNS = ("fiber", "fiberid", "fibre", "targetid")


def _is_fits(path: Path, head: bytes) -> bool:
    return head.startswith(b"SIMPLE  =")


register_reader("desi-coadd", is_desi_coadd, priority=30, members=coadd_targets)(read_desi_coadd)
register_reader("sdss-spplate", is_spplate, priority=20, members=spplate_fibres)(read_sdss_spplate)
register_reader("sdss-fits", _is_fits, priority=10)(read_sdss_fits)
register_reader("sdss-csv", lambda path, head: path.suffix.lower() == ".csv", priority=5)(read_sdss_csv)
register_reader("text", lambda path, head: True, priority=0)(read_text_spectrum)


def read_spectrum(path: str | Path, z: float | None = None, member: str | None = None) -> Spectrum:
    r"""Read one spectrum file of any supported format.

    Parameters
    ----------
    path : path-like
        SDSS ``spec``/``spec-lite`` (DR8+, BOSS), ``spSpec`` (DR7), ``spPlate``, DESI ``coadd`` (with its
        ``redrock`` file beside it), SDSS CSV, or a text file.
    z : float, optional
        Redshift to use when the file has none (e.g. from a catalogue).
    member : str, optional
        Which spectrum of a file that holds several: the fibre of an ``spPlate`` (1-based), the ``TARGETID`` of a
        DESI coadd.  Required for those files.

    Returns
    -------
    Spectrum
        The spectrum in the observed frame, with its redshift (``meta['z_source']`` says whether from the file or
        the catalogue).

    Raises
    ------
    SpectrumError
        With a specific reason when the file is missing, unreadable or not a spectrum.

    Examples
    --------
    >>> from pathlib import Path
    >>> from astroxai import read_spectrum
    >>> _ = Path("flat.txt").write_text("# z = 0.1\n" + "".join(f"{4000 + i} 1.0 0.1\n" for i in range(3000)))
    >>> spectrum = read_spectrum("flat.txt")
    >>> spectrum.z, spectrum.meta["format"], spectrum.wavelength.size
    (0.1, 'text', 3000)
    """
    path = Path(path)
    try:
        return _read_spectrum(path, z, member)
    except OSError as error:  # no permission, a disk error: this file only (strerror: never the file's content)
        raise SpectrumError(f"cannot be read ({error.strerror or type(error).__name__})", path) from None


def _read_spectrum(path: Path, z: float | None, member: str | None) -> Spectrum:
    if not path.is_file():
        raise SpectrumError("file not found", path)
    if path.stat().st_size == 0:
        raise SpectrumError("empty file", path)
    spectrum = None
    if member is None and path.suffix.lower() in (".fits", ".fit"):
        # the survey's common case in one open: a complete, ordinary DR8+/BOSS spec file, read by cfitsio (which
        # takes nothing else); any other file is sniffed below and goes to the reader the registry picks
        spectrum = read_complete_spec(path)
    if spectrum is None:
        spectrum = _read_by_format(path, member)
    if spectrum.z is None and z is not None:
        spectrum.z = float(z)
        spectrum.meta["z_source"] = "catalog"
    elif spectrum.z is not None:
        spectrum.meta["z_source"] = "file"
    return spectrum


def _read_by_format(path: Path, member: str | None) -> Spectrum:
    head = file_head(path)
    if not _is_fits(path, head) and path.suffix.lower() in (".fits", ".fit", ".gz"):
        raise SpectrumError("not a FITS file (no 'SIMPLE' card at the start)", path)
    reader = find_reader(path, head)
    if reader is None:
        raise SpectrumError("no reader recognises this file", path)
    if reader.members is not None:
        if member is None:
            reader.members(path)  # a file that cannot be listed (truncated, damaged) says so here
            raise SpectrumError(f"holds several spectra ({reader.name}): name one (catalogue column 'fiber' or "
                                "'targetid')", path)
        spectrum = reader.read(path, str(member))
    else:
        spectrum = reader.read(path)
        # a catalogue may name the fibre of a one-spectrum SDSS file (fetch's catalogues do): fine when it is its own
        own = re.fullmatch(r"\d+-\d+-(\d+)", spectrum.id or "")
        if member is not None and (own is None or _float_or_none(member) != float(own.group(1))):
            fibre = f", fibre {int(own.group(1))}" if own else ""
            raise SpectrumError(f"holds one spectrum ({reader.name}{fibre}), but member {member!r} was asked for",
                                path)
    return spectrum


@dataclass
class InputItem:
    """One input file with what a catalogue says about it."""

    path: Path
    label: str | None = None
    z: float | None = None
    extra: dict | None = None
    #: Which spectrum of a multi-spectrum file (an spPlate fibre, a DESI TARGETID); None for one-spectrum files.
    member: str | None = None
    #: Why this input cannot be used before any file is read (a catalogue row that cannot be parsed); None if it can.
    problem: str | None = None

    @property
    def name(self) -> str:
        """How tables name this input: the path, with ``#member`` for one spectrum of a multi-spectrum file."""
        return str(self.path) if self.member is None else f"{self.path}#{self.member}"

    @property
    def key(self) -> tuple:
        return (self.path.resolve(), self.member)


def _is_catalog(path: Path) -> bool:
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        try:
            return "file" in [name.strip().lower() for name in pq.read_schema(path).names]
        except Exception:  # not Parquet after all: it is read (and refused) as a spectrum file
            return False
    if path.suffix.lower() != ".csv":
        return False
    try:
        # surrogateescape: a stray byte further down must not hide that the file is a catalogue
        with open(path, newline="", encoding="utf-8-sig", errors="surrogateescape") as handle:
            header = next(csv.reader(handle), [])
    except (OSError, csv.Error):
        return False
    return "file" in [h.strip().lower() for h in header]


def _float_or_none(text) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value


#: Longest catalogue cell (characters): far beyond any path or label; a longer one makes its row a rejected input.
MAX_CELL = 4096


def read_catalog(path: str | Path) -> list[InputItem]:
    """Read a catalogue (CSV, or Parquet for survey-sized ones) with a ``file`` column and optional ``label``, ``z``
    and ``fiber``/``targetid`` (which spectrum of an spPlate or a DESI coadd) columns.

    Relative file paths are taken relative to the catalogue's folder.  Other columns are kept in
    ``InputItem.extra`` (the simulator's true parameters, for instance).  A row that cannot be used — no file name,
    bytes that are not UTF-8, a cell over :data:`MAX_CELL` characters, a row the CSV parser refuses — becomes an
    input named ``catalogue#row N`` whose ``problem`` says why, so that it costs its own row and no other.
    """
    path = Path(path)
    rows = _parquet_rows(path) if path.suffix.lower() == ".parquet" else _csv_rows(path)
    return _catalog_items(path, rows)


def _csv_rows(path: Path):
    """``(line, cells as a dict, or the reason the row cannot be parsed)`` of a catalogue CSV."""
    # surrogateescape: a stray byte decodes (to a lone surrogate) instead of stopping the whole file
    with open(path, newline="", encoding="utf-8-sig", errors="surrogateescape") as handle:
        reader = csv.reader(handle)
        try:
            columns = [h.strip().lower() for h in next(reader, [])]
        except csv.Error as error:
            raise SpectrumError(f"unreadable catalogue header ({error})", path) from None
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                break
            except csv.Error as error:  # e.g. a field over the csv module's limit; the reader goes on after it
                yield reader.line_num, f"cannot be parsed ({error})"
                continue
            if not any(cell.strip() for cell in cells):
                continue  # a blank line is not a row
            if len(cells) > len(columns) and any(cell.strip() for cell in cells[len(columns):]):
                # more cells than the header names: most often a comma inside a path, so no cell can be trusted
                yield reader.line_num, f"has {len(cells)} cells, the header names {len(columns)}"
                continue
            yield reader.line_num, {k: v.strip() for k, v in zip(columns, cells, strict=False) if k}


def _parquet_rows(path: Path):
    """``(row number, cells as text)`` of a Parquet catalogue, read one row group at a time."""
    import pyarrow.parquet as pq

    try:
        table = pq.ParquetFile(path)
    except Exception as error:  # pyarrow raises its own ArrowInvalid, OSError and more for a damaged file
        raise SpectrumError(f"unreadable Parquet catalogue ({cut_text(str(error), 200)})", path) from None
    number = 0
    for group in range(table.num_row_groups):
        batch = table.read_row_group(group).to_pylist()
        for row in batch:
            number += 1
            yield number, {str(k).strip().lower(): "" if v is None else str(v).strip() for k, v in row.items()}


def _catalog_items(path: Path, rows) -> list[InputItem]:
    """The inputs of a catalogue's rows (see :func:`read_catalog`); each row that cannot be used is an input whose
    ``problem`` says why."""
    items = []
    first_row: dict[tuple, int] = {}
    for line, row in rows:
        problem = row if isinstance(row, str) else _row_problem(row)
        item = None
        if problem is None:
            item = _row_item(path, row)
            if isinstance(item, str):
                problem, item = item, None
            elif item.key in first_row:  # two rows for one spectrum: which label and z would be meant?
                problem = f"names the same spectrum as row {first_row[item.key]}"
        if problem is not None:
            items.append(InputItem(path, member=f"row {line}", problem=f"catalogue row {line}: {problem}"))
            continue
        first_row[item.key] = line
        items.append(item)
    return items


def _row_problem(row: dict) -> str | None:
    if not all(is_utf8(v) for v in row.values()):
        return "holds bytes that are not UTF-8"
    if any(len(v) > MAX_CELL for v in row.values()):
        return f"holds a cell longer than {MAX_CELL} characters"
    name = row.get("file", "")
    if not name:
        return "names no file"
    if "\x00" in name:  # no file system allows it; Path.resolve would raise on it
        return "file name holds a NUL character"
    return None


def _row_item(path: Path, row: dict) -> InputItem | str:
    """The input a valid catalogue row names, or why its redshift cannot be used."""
    row = dict(row)
    file = Path(row.pop("file"))
    if not file.is_absolute():
        file = path.parent / file
    label = row.pop("label", "") or None
    z_text = row.pop("z", "")
    z = _float_or_none(z_text)
    if z_text and (z is None or not math.isfinite(z)):
        # a typo must not silently hand the spectrum the redshift in its file
        return f"z {cut_text(z_text, 41)!r} is not a finite number"  # 40 + "…"
    member = next((row.pop(k) for k in MEMBER_COLUMNS if row.get(k)), None)
    if member is not None:
        number = _float_or_none(member)
        member = str(int(number)) if number is not None and number == int(number) else member
    return InputItem(file, label, z, row, member)


def collect_inputs(inputs, catalog: str | Path | None = None) -> list[InputItem]:
    r"""Expand files, directories and catalogue CSVs into a de-duplicated, ordered list of inputs.

    A CSV whose header has a ``file`` column is a catalogue: its rows are inputs, and its labels and
    redshifts also apply to the same files given another way.  A directory contributes every spectrum
    file below it (sorted) and any catalogue CSV it holds.

    Parameters
    ----------
    inputs : sequence of path-like
        Files, folders and catalogue CSVs.
    catalog : path-like, optional
        A catalogue that only adds labels and redshifts to the inputs it names.

    Returns
    -------
    list of InputItem
        One per distinct file, with its label and redshift where a catalogue gives them.

    Examples
    --------
    >>> from pathlib import Path
    >>> from astroxai import collect_inputs
    >>> _ = Path("a.txt").write_text("4000 1\n4001 1\n")
    >>> _ = Path("cat.csv").write_text("file,label,z\na.txt,type2,0.05\n")
    >>> [(item.path.name, item.label, item.z) for item in collect_inputs(["a.txt"], catalog="cat.csv")]
    [('a.txt', 'type2', 0.05)]
    """
    items: dict[tuple, InputItem] = {}
    known: dict[tuple, InputItem] = {}

    def remember(entries):
        for entry in entries:
            known[entry.key] = entry

    if catalog is not None:
        remember(read_catalog(catalog))
    for raw in inputs:
        path = Path(raw)
        if path.is_dir():
            files = sorted(
                # a dangling link is listed too: it costs a "file not found" row instead of vanishing
                p for p in path.rglob("*")
                if (p.is_file() or p.is_symlink() and not p.exists()) and p.name.lower().endswith(SPECTRUM_SUFFIXES)
            )
            for file in files:
                if _is_catalog(file):
                    remember(read_catalog(file))
                else:
                    items.setdefault(InputItem(file).key, InputItem(file))
        elif _is_catalog(path):
            entries = read_catalog(path)
            remember(entries)
            for entry in entries:
                items.setdefault(entry.key, entry)
        else:
            items.setdefault(InputItem(path).key, InputItem(path))
    result: dict[tuple, InputItem] = {}
    for item in items.values():
        members = _members(item.path) if item.member is None and item.problem is None else None
        for one in ([item] if members is None else
                    [InputItem(item.path, item.label, item.z, item.extra, m) for m in members]):
            info = known.get(one.key)
            if info is not None:
                one = InputItem(one.path, one.label or info.label, one.z if one.z is not None else info.z,
                                info.extra, one.member, one.problem or info.problem)
            result.setdefault(one.key, one)
    return list(result.values())


def _members(path: Path) -> list[str] | None:
    """The spectra of a multi-spectrum file (spPlate fibres, DESI targets), or None for any other file (and for a
    file that cannot be read: its reading fails later with the reason)."""
    if not path.is_file() or not path.name.lower().endswith((".fits", ".fit", ".fits.gz", ".fit.gz")):
        return None
    try:
        reader = find_reader(path, file_head(path))
        return reader.members(path) if reader is not None and reader.members is not None else None
    except (SpectrumError, OSError):
        return None


def _image_files(inputs, known: dict) -> tuple[list[Path], list[dict]]:
    """The image files of ``inputs`` (files, folders searched for FITS/PNG/JPEG, catalogues naming files), each
    catalogue row remembered in ``known`` by resolved path; and the fate rows of catalogue rows that cannot be used."""
    files, rejected = [], []
    for raw in inputs:
        path = Path(raw)
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.is_file() and p.name.lower().endswith(IMAGE_SUFFIXES))
        elif _is_catalog(path):
            for item in read_catalog(path):
                if item.problem is not None:
                    rejected.append(fate(item.name, item.path.stem, "rejected", item.problem, label=""))
                    continue
                known[item.path.resolve()] = item
                files.append(item.path)
        else:
            files.append(path)
    return list(dict.fromkeys(files)), rejected


def _catalogue_columns(items: list) -> dict:
    """The catalogue's other columns for the kept images, as metadata: numbers where every given value is one (an
    empty cell is NaN: e.g. the bar length of an unbarred galaxy), text otherwise."""
    names = list(dict.fromkeys(k for item in items if item is not None for k in (item.extra or {})))
    columns = {}
    for name in names:
        values = ["" if item is None else str((item.extra or {}).get(name, "")) for item in items]
        numbers = [_float_or_none(v) for v in values]
        if all(n is not None or v == "" for n, v in zip(numbers, values, strict=True)):
            columns[name] = np.array([np.nan if n is None else n for n in numbers], dtype=np.float64)
        else:
            columns[name] = np.array(values, dtype=object)
    return columns


def read_image_inputs(inputs, catalog=None, shape=None, channels=None, preparation=None):
    """Image cutouts given as files, folders or catalogues (CSV/Parquet with a ``file`` column), read into an
    :class:`~astroxai.data.ImageSet` with one fate row per input.

    ``catalog`` (or a catalogue among the inputs) gives each file its ``label`` and any other columns, which become
    the set's metadata (numbers where every value is one: a bar length to regress, say).  ``shape`` and ``channels``
    are those every image must have (default: the first kept image's), after ``preparation`` (a
    :class:`~astroxai.io.images.CutoutPreparation`: a model's own cut and binning of the survey's cutouts) if given.
    An id (the file name without its suffixes) given by two files keeps the first and rejects the second.
    Returns ``(ImageSet or None, fates)``."""
    known: dict = {}
    if catalog is not None:
        for item in read_catalog(catalog):
            if item.problem is None:
                known[item.path.resolve()] = item
    files, fates = _image_files(inputs, known)
    info = [known.get(f.resolve()) for f in files]
    labels = ["" if item is None else (item.label or "") for item in info]
    data, read = read_images(files, labels, shape=shape, channels=channels, preparation=preparation)
    for row, label in zip(read, labels, strict=True):
        row["label"] = label if row["status"] == "kept" else ""
    fates += read
    if data is None:
        return None, fates
    kept_info = [item for item, row in zip(info, read, strict=True) if row["status"] == "kept"]
    data.meta.update(_catalogue_columns(kept_info))
    first, keep, kept_rows = {}, [], [row for row in read if row["status"] == "kept"]
    for j, (image_id, row) in enumerate(zip(data.ids, kept_rows, strict=True)):
        if image_id in first:
            row.update(status="rejected", label="", reason=f"duplicate id {image_id} (already kept from "
                                                          f"{first[image_id]})")
        else:
            first[image_id] = row["input"]
            keep.append(j)
    return (data if len(keep) == len(data) else data.subset(np.asarray(keep))), fates
