"""Readers for tabular spectra: the CSV the SDSS Science Archive Server serves, and plain text columns."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np

from astroxai.spectrum import Spectrum, SpectrumError

# Column names seen in SDSS CSV downloads (SAS web app: Wavelength,Flux,BestFit,SkyFlux; older
# services: wavelength,flux,error/inverse_variance,and_mask); matched case-insensitively.
_WAVE = ("wavelength", "wave", "lambda", "loglam")
_FLUX = ("flux",)
_IVAR = ("ivar", "inverse_variance")
_ERROR = ("error", "err", "sigma", "flux_err", "noise")
_MASK = ("and_mask", "mask")
_Z_COMMENT = re.compile(r"^#\s*(?:z|redshift)\s*[=:]\s*([-+0-9.eE]+)", re.IGNORECASE)


def _where(error: Exception) -> str:
    """Where a text file failed to parse, without quoting its content: a reason must never copy a file's text
    into astroxai's tables (a catalogue row may name any readable file, /etc/passwd included)."""
    found = re.search(r"(at row \d+, column \d+|line \d+|row \d+)", str(error))
    return f"{type(error).__name__}{' ' + found.group(1) if found else ''}: not numbers as expected"


def _pick(header: list[str], candidates) -> int | None:
    lowered = [h.strip().lower() for h in header]
    for name in candidates:
        if name in lowered:
            return lowered.index(name)
    return None


def _finish(path: Path, wave, flux, ivar, mask, z, fmt) -> Spectrum:
    meta = {"format": fmt}
    if ivar is None:
        # No uncertainties in the file: every finite pixel is treated as equally good.
        ivar = np.where(np.isfinite(flux), 1.0, 0.0)
        meta["ivar_unknown"] = True
    return Spectrum(wave, flux, ivar, mask, z=z, id=path.stem, source=str(path), meta=meta)


def read_sdss_csv(path: str | Path) -> Spectrum:
    """Read a spectrum saved as CSV from the SDSS archive (a header row naming the columns).

    Needs a wavelength column (``Wavelength``; ``loglam`` is converted) and ``Flux``; uses
    ``ivar``/``inverse_variance`` or ``error`` (1σ) and ``and_mask`` when present.  These CSV files carry
    no redshift: it must come from a catalogue.
    """
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            rows = [row for row in csv.reader(handle) if row and not row[0].lstrip().startswith("#")]
    except (OSError, UnicodeDecodeError) as error:
        raise SpectrumError(f"cannot read CSV ({error})", path) from None
    except csv.Error as error:  # e.g. a field over the csv module's limit (131 072 characters)
        raise SpectrumError(f"not a readable CSV table ({_where(error)})", path) from None
    if len(rows) < 3:
        raise SpectrumError("CSV holds fewer than two data rows", path)
    header, body = rows[0], rows[1:]
    iw, iflux = _pick(header, _WAVE), _pick(header, _FLUX)
    if iw is None or iflux is None:
        raise SpectrumError(f"CSV lacks a wavelength or flux column (none of the {len(header)} header names is "
                            "wavelength/loglam/lambda or flux)", path)
    try:
        table = np.array([[float(v) if v.strip() else np.nan for v in row] for row in body], dtype=np.float64)
    except ValueError as error:
        raise SpectrumError(f"non-numeric value in CSV ({_where(error)})", path) from None
    except Exception:
        raise SpectrumError("CSV rows have different numbers of columns", path) from None
    if table.ndim != 2 or table.shape[1] != len(header):
        raise SpectrumError("CSV rows have different numbers of columns", path)
    wave = table[:, iw]
    if header[iw].strip().lower() == "loglam":
        wave = 10.0**wave
    flux = table[:, iflux]
    ivar = None
    if (i := _pick(header, _IVAR)) is not None:
        ivar = table[:, i]
    elif (i := _pick(header, _ERROR)) is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            ivar = np.where(table[:, i] > 0, 1.0 / table[:, i] ** 2, 0.0)
    mask = table[:, i].astype(np.int64) if (i := _pick(header, _MASK)) is not None else None
    return _finish(path, wave, flux, ivar, mask, None, "sdss-csv")


def read_text_spectrum(path: str | Path) -> Spectrum:
    """Read a whitespace-separated text spectrum: ``wavelength flux [error]`` per line.

    The optional third column is the 1σ flux error (0 or negative = bad pixel).  Lines starting with
    ``#`` are comments; a comment ``# z = 0.05`` (or ``# redshift: 0.05``) gives the redshift.
    """
    path = Path(path)
    z = None
    try:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                if not line.startswith("#"):
                    continue
                if match := _Z_COMMENT.match(line.strip()):
                    z = float(match.group(1))
        table = np.loadtxt(path, comments="#", ndmin=2)
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise SpectrumError(f"cannot parse text spectrum ({_where(error)})", path) from None
    if table.shape[0] < 2 or table.shape[1] not in (2, 3):
        raise SpectrumError(f"expected 2 or 3 columns (wavelength flux [error]), found {table.shape[1]}", path)
    ivar = None
    if table.shape[1] == 3:
        with np.errstate(divide="ignore", invalid="ignore"):
            ivar = np.where(table[:, 2] > 0, 1.0 / table[:, 2] ** 2, 0.0)
    return _finish(path, table[:, 0], table[:, 1], ivar, None, z, "text")
