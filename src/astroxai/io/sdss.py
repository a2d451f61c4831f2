"""Readers (and the simulator's writer) for SDSS spectrum files: DR8+ and BOSS ``spec``/``spec-lite``, DR7
``spSpec`` and the per-plate ``spPlate``.

Layouts follow the SDSS data model: DR8+ files carry a ``COADD`` binary table (``flux``, ``loglam``,
``ivar``, ``and_mask``, ...) in HDU 1 and a one-row ``SPECOBJ`` table (``Z``, ``PLATE``, ``MJD``,
``FIBERID``, ``CLASS``, ...) in HDU 2 (``SPALL`` in early BOSS files); DR7 ``spSpec`` files keep the spectrum as
rows of the primary image (flux, continuum-subtracted flux, 1σ error, mask) with ``log10 λ = COEFF0 + i·COEFF1``.
An ``spPlate`` holds one row per fibre of the primary image on the same log-λ grid, the inverse variances in HDU 1
and the AND mask in HDU 2; it carries no redshifts, which come from a catalogue (``file``, ``fiber``, ``z``).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from astropy.io import fits

from astroxai.errors import InputError
from astroxai.spectrum import Spectrum, SpectrumError

COADD_REQUIRED = ("flux", "loglam", "ivar")


def _column(table, name, dtype=np.float64):
    """Case-insensitive access to a FITS table column; None if absent."""
    names = {n.lower(): n for n in table.columns.names}
    key = names.get(name.lower())
    return None if key is None else np.asarray(table[key], dtype=dtype)


def _scalar(value):
    """FITS scalar → plain Python scalar (JSON-friendly)."""
    if isinstance(value, bytes):
        value = value.decode(errors="replace")
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _redshift(value) -> float | None:
    if value is None:
        return None
    z = float(value)
    return z if np.isfinite(z) else None


@contextmanager
def open_fits(path: Path):
    """Open a FITS file fully, turning every way it can be broken into a :class:`SpectrumError`.

    astropy reads a truncated file partially and only warns ("may have been truncated", "Header size is
    not multiple of 2880"); here that is an error, so no spectrum is read from half a file.  Exceptions
    raised while the body reads the tables become "damaged file" errors naming the file.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            hdul = fits.open(path, memmap=False)
        except (OSError, ValueError) as error:
            raise SpectrumError(f"not a readable FITS file ({error})", path) from None
        with hdul:
            try:
                hdul.readall()
                broken = [str(w.message) for w in caught
                          if "truncated" in str(w.message) or "Header size" in str(w.message)]
                if broken:
                    raise SpectrumError(f"truncated or damaged FITS file ({broken[0].splitlines()[0]})", path)
                yield hdul
            except SpectrumError:
                raise
            except Exception as error:  # astropy raises many kinds on damaged headers and tables
                raise SpectrumError(f"damaged FITS file ({type(error).__name__}: {error})", path) from None


def _spec_from_hdul(hdul: fits.HDUList, path: Path) -> Spectrum:
    if len(hdul) < 2 or not isinstance(hdul[1], fits.BinTableHDU):
        raise SpectrumError("no COADD binary table in HDU 1 (not an SDSS spec file)", path)
    coadd = hdul[1].data
    missing = [c for c in COADD_REQUIRED if c not in {n.lower() for n in coadd.columns.names}]
    if missing:
        raise SpectrumError(f"COADD table lacks column(s) {', '.join(missing)}", path)
    row, names = None, set()
    if len(hdul) > 2 and isinstance(hdul[2], fits.BinTableHDU) and len(hdul[2].data) > 0:
        row, names = hdul[2].data[0], {n.upper() for n in hdul[2].columns.names}
    return _dr8_spectrum(path, _column(coadd, "loglam"), _column(coadd, "flux"), _column(coadd, "ivar"),
                         _column(coadd, "and_mask", np.int64), row, names)


SPECOBJ_KEYS = ("PLATE", "MJD", "FIBERID", "CLASS", "SUBCLASS", "ZWARNING", "SN_MEDIAN_ALL")


def _dr8_spectrum(path: Path, loglam, flux, ivar, mask, row, names: set) -> Spectrum:
    """A DR8+ spec file's spectrum from its COADD columns and the first SPECOBJ row (``names``: that row's column
    names, upper case; ``row`` None when the file has no SPECOBJ): what both reading paths return."""
    meta: dict = {"format": "sdss-spec"}
    z = None
    ident = path.stem.removeprefix("spec-")
    if row is not None:
        if "Z" in names:
            z = _redshift(row["Z"])
        meta.update({key.lower(): _scalar(row[key]) for key in SPECOBJ_KEYS if key in names})
        if {"PLATE", "MJD", "FIBERID"} <= names:
            ident = f"{int(row['PLATE']):04d}-{int(row['MJD']):05d}-{int(row['FIBERID']):04d}"
    return Spectrum(wavelength=10.0 ** np.asarray(loglam, dtype=np.float64), flux=np.asarray(flux, dtype=np.float64),
                    ivar=np.asarray(ivar, dtype=np.float64),
                    mask=None if mask is None else np.asarray(mask, dtype=np.int64), z=z, id=ident,
                    source=str(path), meta=meta)


def _spspec_from_hdul(hdul: fits.HDUList, path: Path) -> Spectrum:
    header, data = hdul[0].header, hdul[0].data
    if data is None or data.ndim != 2 or data.shape[0] < 4:
        raise SpectrumError("primary HDU is not a spSpec image (needs ≥ 4 rows: flux, -, error, mask)", path)
    if "COEFF0" not in header or "COEFF1" not in header:
        raise SpectrumError("header lacks COEFF0/COEFF1 (cannot build wavelengths)", path)
    loglam = header["COEFF0"] + header["COEFF1"] * np.arange(data.shape[1])
    error = np.asarray(data[2], dtype=np.float64)
    with np.errstate(divide="ignore"):
        ivar = np.where(error > 0, 1.0 / error**2, 0.0)
    meta = {"format": "sdss-spspec"}
    for key in ("PLATEID", "MJD", "FIBERID", "SPEC_CLN", "NAME"):
        if key in header:
            meta[key.lower()] = _scalar(header[key])
    ident = path.stem.removeprefix("spSpec-")
    if {"PLATEID", "MJD", "FIBERID"} <= set(header.keys()):
        ident = f"{int(header['PLATEID']):04d}-{int(header['MJD']):05d}-{int(header['FIBERID']):04d}"
    return Spectrum(
        wavelength=10.0**loglam,
        flux=np.asarray(data[0], dtype=np.float64),
        ivar=ivar,
        mask=np.asarray(data[3], dtype=np.int64),
        z=_redshift(header.get("Z")),
        id=ident,
        source=str(path),
        meta=meta,
    )


def _card(head: bytes, key: str):
    """The value of a header card in the first block of a FITS file (None when absent)."""
    for start in range(0, len(head) - 79, 80):
        card = head[start:start + 80].decode("ascii", errors="replace")
        if card[:8].strip() == key and card[8:10] == "= ":
            return card[10:].split("/", 1)[0].strip()
    return None


def is_spplate(path: Path, head: bytes) -> bool:
    """An ``spPlate``: a 2-D primary image with more rows than an ``spSpec`` has (5), i.e. one row per fibre."""
    try:
        return head.startswith(b"SIMPLE  =") and _card(head, "NAXIS") == "2" and int(_card(head, "NAXIS2")) > 5
    except (TypeError, ValueError):
        return False


def file_stamp(path: Path) -> tuple[str, int, int]:
    """A key that changes when the file does (path, modification time, size): for caching a file's contents."""
    stat = path.stat()
    return str(path.resolve()), stat.st_mtime_ns, stat.st_size


@lru_cache(maxsize=2)
def _plate(stamp: tuple[str, int, int]) -> dict:
    """Every fibre of an spPlate, read once per process: a plate's 640–1000 spectra are read one at a time (twice,
    by the coverage and the reduction passes), and each open would otherwise read the whole file again."""
    path = Path(stamp[0])
    with open_fits(path) as hdul:
        header, data = hdul[0].header, hdul[0].data
        if data is None or data.ndim != 2:
            raise SpectrumError("primary HDU is not an spPlate image (fibres × pixels)", path)
        if "COEFF0" not in header or "COEFF1" not in header:
            raise SpectrumError("header lacks COEFF0/COEFF1 (cannot build wavelengths)", path)
        extra = [h.data for h in hdul[1:3] if isinstance(h, fits.ImageHDU) and h.data is not None]
        return {"flux": data, "ivar": extra[0] if extra and extra[0].shape == data.shape else None,
                "mask": extra[1] if len(extra) > 1 and extra[1].shape == data.shape else None,
                "loglam": header["COEFF0"] + header["COEFF1"] * np.arange(data.shape[1]),
                "header": {key: _scalar(header[key]) for key in ("PLATEID", "MJD") if key in header}}


def spplate_fibres(path: str | Path) -> list[str]:
    """The fibre numbers (1-based, as SDSS counts them) of an ``spPlate`` file."""
    return [str(k + 1) for k in range(_plate(file_stamp(Path(path)))["flux"].shape[0])]


def read_sdss_spplate(path: str | Path, member: str) -> Spectrum:
    """Read fibre ``member`` (1-based) of an ``spPlate-PLATE-MJD.fits`` file.

    Without the inverse-variance HDU (cut-down files) every finite pixel gets the same weight and
    ``meta['ivar']`` says so; without the mask HDU no pixel is masked.  The id is ``PLATE-MJD-FIBER``; the redshift
    must come from a catalogue.
    """
    path = Path(path)
    plate = _plate(file_stamp(path))
    try:
        fibre = int(member)
    except (TypeError, ValueError):
        raise SpectrumError(f"fibre {member!r} is not a number", path) from None
    n_fibres = plate["flux"].shape[0]
    if not 1 <= fibre <= n_fibres:
        raise SpectrumError(f"fibre {fibre} is not on this plate (1–{n_fibres})", path)
    flux = np.array(plate["flux"][fibre - 1], dtype=np.float64)  # a copy: the plate is cached
    meta = {"format": "sdss-spplate", "fiberid": fibre}
    if plate["ivar"] is not None:
        ivar = np.array(plate["ivar"][fibre - 1], dtype=np.float64)
    else:
        ivar = np.where(np.isfinite(flux), 1.0, 0.0)
        meta["ivar"] = "absent (no HDU 1): every finite pixel weighted equally"
    mask = (np.array(plate["mask"][fibre - 1], dtype=np.int64) if plate["mask"] is not None
            else np.zeros(flux.size, dtype=np.int64))
    header = plate["header"]
    meta.update({key.lower(): value for key, value in header.items()})
    ident = f"{path.stem.removeprefix('spPlate-')}-{fibre:04d}"
    if {"PLATEID", "MJD"} <= set(header):
        ident = f"{int(header['PLATEID']):04d}-{int(header['MJD']):05d}-{fibre:04d}"
    return Spectrum(wavelength=10.0 ** plate["loglam"], flux=flux, ivar=ivar, mask=mask, z=None, id=ident,
                    source=str(path), meta=meta)


def read_sdss_spec(path: str | Path) -> Spectrum:
    """Read an SDSS DR8+ ``spec-PLATE-MJD-FIBER.fits`` (full or ``spec-lite``) file.

    The redshift comes from ``SPECOBJ.Z`` (HDU 2) when present; the id is ``PLATE-MJD-FIBER``.
    """
    path = Path(path)
    with open_fits(path) as hdul:
        return _spec_from_hdul(hdul, path)


def read_sdss_spspec(path: str | Path) -> Spectrum:
    """Read an SDSS DR7 ``spSpec-MJD-PLATE-FIBER.fit`` file.

    Row 0 of the primary image is the flux, row 2 the 1σ error (0 = bad pixel), row 3 the mask;
    wavelengths are ``10**(COEFF0 + i*COEFF1)`` (vacuum), the redshift is header ``Z``.
    """
    path = Path(path)
    with open_fits(path) as hdul:
        return _spspec_from_hdul(hdul, path)


def read_complete_spec(path: Path) -> Spectrum | None:
    """A complete, ordinary DR8+ ``spec`` file read with fitsio (cfitsio), which reads these tables 7–8 times faster
    than astropy (``benchmarks/bench_survey.py``: the survey's reading step); ``None`` for anything else — fitsio
    missing, a DR7 image, a file shorter than its headers declare, a table without the columns — which then goes
    through astropy's careful path and its specific reasons.  Both paths give the same spectrum (tested)."""
    try:
        import fitsio
    except ImportError:  # pragma: no cover - fitsio is a dependency; astropy alone still reads every file
        return None
    try:
        with fitsio.FITS(str(path)) as handle:
            if len(handle) < 2 or handle[0].has_data() or handle[1].get_exttype() != "BINARY_TBL":
                return None
            size = path.stat().st_size
            if size % 2880 or max(hdu.get_offsets()["data_end"] for hdu in handle) != size:
                return None  # truncated (perhaps between two HDUs) or followed by stray bytes: astropy's path says
            names = {n.lower(): n for n in handle[1].get_colnames()}
            if any(c not in names for c in COADD_REQUIRED):
                return None
            wanted = [names[c] for c in (*COADD_REQUIRED, "and_mask") if c in names]
            coadd = handle[1].read(columns=wanted)
            row, found = None, set()
            if len(handle) > 2 and handle[2].get_exttype() == "BINARY_TBL" and handle[2].get_nrows() > 0:
                columns = {n.upper(): n for n in handle[2].get_colnames()}
                found = {"Z", *SPECOBJ_KEYS} & set(columns)
                if found:
                    values = handle[2].read(columns=[columns[k] for k in sorted(found)], rows=[0])[0]
                    row = {k: values[columns[k]] for k in found}
    except Exception:  # cfitsio's errors on damaged files: astropy's path gives the reason
        return None
    return _dr8_spectrum(path, coadd[names["loglam"]], coadd[names["flux"]], coadd[names["ivar"]],
                         coadd[names["and_mask"]] if "and_mask" in names else None, row, found)


def read_sdss_fits(path: str | Path) -> Spectrum:
    """Read any SDSS spectrum FITS file, telling DR8+ ``spec`` (tables) from DR7 ``spSpec`` (an image)."""
    path = Path(path)
    fast = read_complete_spec(path)
    if fast is not None:
        return fast
    with open_fits(path) as hdul:
        if hdul[0].data is not None:
            return _spspec_from_hdul(hdul, path)
        return _spec_from_hdul(hdul, path)


#: The columns of a spec-lite COADD table, as the simulator writes them.
COADD_COLUMNS = ("flux", "loglam", "ivar", "and_mask", "or_mask", "wdisp", "sky", "model")


@dataclass(frozen=True)
class SpecObj:
    """The row of a spec-lite file's SPECOBJ table that the readers use: which fibre of which plate and night, the
    pipeline's redshift (None: not measured) and class."""

    plate: int
    mjd: int
    fiber: int
    z: float | None
    spec_class: str = "QSO"


def write_sdss_spec(path: str | Path, columns: Mapping[str, np.ndarray], specobj: SpecObj, *,
                    header_cards: dict | None = None, engine: str = "fitsio") -> Path:
    """Write a spectrum in the DR8+ ``spec-lite`` layout (primary header, COADD, SPECOBJ).

    ``columns`` are the COADD table's columns by name: ``loglam``, ``flux`` and ``ivar`` are needed; ``and_mask``,
    ``wdisp``, ``sky`` and ``model`` are zeros when absent, ``or_mask`` is ``and_mask``.  Used by the simulator
    so that simulated spectra go through exactly the reader real files use.  ``engine``: ``"fitsio"`` (cfitsio;
    ~4× faster, what ``astroxai simulate`` uses) or ``"astropy"``; the two files hold the same tables and header
    values (tested), fitsio's empty primary HDU says BITPIX = 16 where astropy's says 8.
    """
    unknown = set(columns) - set(COADD_COLUMNS)
    if unknown or not {"loglam", "flux", "ivar"} <= set(columns):
        raise InputError(f"a spec-lite COADD table has the columns {COADD_COLUMNS} and needs loglam, flux and ivar; "
                         f"got {sorted(columns)}")
    loglam = np.asarray(columns["loglam"])
    n = loglam.size
    coadd = np.zeros(n, dtype=[(name, ">i4" if name.endswith("_mask") else ">f4") for name in COADD_COLUMNS])
    for name in COADD_COLUMNS:
        if name in columns:
            coadd[name] = np.asarray(columns[name])
    if "or_mask" not in columns:
        coadd["or_mask"] = coadd["and_mask"]
    wave = 10.0 ** loglam
    z = np.nan if specobj.z is None else specobj.z
    table = np.array([(specobj.plate, specobj.mjd, specobj.fiber, z, 1e-4, 0, specobj.spec_class, wave[0], wave[-1])],
                     dtype=[("PLATE", ">i4"), ("MJD", ">i4"), ("FIBERID", ">i4"), ("Z", ">f4"), ("Z_ERR", ">f4"),
                            ("ZWARNING", ">i4"), ("CLASS", "S6"), ("WAVEMIN", ">f4"), ("WAVEMAX", ">f4")])
    cards = {"TELESCOP": "SDSS 2.5-M", "PLATEID": specobj.plate, "MJD": specobj.mjd, "FIBERID": specobj.fiber,
             **(header_cards or {})}
    path = Path(path)
    if engine == "fitsio":
        import fitsio

        header = [{"name": key, "value": value[0], "comment": value[1]} if isinstance(value, tuple)
                  else {"name": key, "value": value} for key, value in cards.items()]
        with fitsio.FITS(str(path), "rw", clobber=True) as handle:
            handle.write(None, header=header)
            handle.write(coadd, extname="COADD")
            handle.write(table, extname="SPECOBJ")
        return path
    if engine != "astropy":
        raise InputError(f"engine must be 'fitsio' or 'astropy', not {engine!r}")
    primary = fits.PrimaryHDU()
    for key, value in cards.items():
        primary.header[key] = value
    fits.HDUList([primary, fits.BinTableHDU(coadd, name="COADD"),
                  fits.BinTableHDU(table, name="SPECOBJ")]).writeto(path, overwrite=True)
    return path
