"""Reader for DESI ``coadd-*.fits`` files, with redshifts from the ``redrock-*.fits`` file beside them.

A coadd holds one spectrum per target (``FIBERMAP.TARGETID``) in three arms, each with its own linear vacuum
wavelength grid (``B_WAVELENGTH``, ``R_WAVELENGTH``, ``Z_WAVELENGTH``, Å) and flux, inverse variance and mask images
(``<ARM>_FLUX`` in 10⁻¹⁷ erg s⁻¹ cm⁻² Å⁻¹, ``<ARM>_IVAR``, ``<ARM>_MASK``, one row per target).  The arms share
one 0.8 Å lattice and overlap by a few tens of Å; :func:`join_arms` makes one spectrum, averaging the overlap by
inverse variance.  Redshifts come from ``REDSHIFTS`` (``TARGETID``, ``Z``, ``ZWARN``, ``SPECTYPE``) of the matching
``redrock`` file (the same name with ``coadd`` → ``redrock``); a redshift flagged by redrock (``ZWARN`` ≠ 0) is not
used, so the spectrum needs one from a catalogue.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from astroxai.io.sdss import file_stamp, open_fits
from astroxai.spectrum import Spectrum, SpectrumError

ARMS = ("B", "R", "Z")


def is_desi_coadd(path: Path, head: bytes) -> bool:
    """A DESI coadd: FITS with no primary image and the spectral-grouping cards DESI writes first."""
    return head.startswith(b"SIMPLE  =") and (b"SPGRP   =" in head or b"INFIL000=" in head)


@lru_cache(maxsize=2)
def _coadd(stamp: tuple[str, int, int]) -> dict:
    """Every target of a coadd, read once per process (its hundreds of spectra are read one at a time, twice)."""
    path = Path(stamp[0])
    with open_fits(path) as hdul:
        if "FIBERMAP" not in hdul:
            raise SpectrumError("no FIBERMAP table (not a DESI coadd)", path)
        fibermap = hdul["FIBERMAP"].data
        arms, missing = {}, []
        for arm in ARMS:
            if not all(f"{arm}_{part}" in hdul for part in ("WAVELENGTH", "FLUX", "IVAR")):
                missing.append(arm)
                continue
            arms[arm] = {part: hdul[f"{arm}_{part}"].data for part in ("WAVELENGTH", "FLUX", "IVAR", "MASK")
                         if f"{arm}_{part}" in hdul}
        return {"targets": np.asarray(fibermap["TARGETID"]), "arms": arms, "missing": missing,
                "position": {key.lower(): np.asarray(fibermap[key], dtype=np.float64)
                             for key in ("TARGET_RA", "TARGET_DEC") if key in fibermap.columns.names}}


@lru_cache(maxsize=2)
def _redshifts(stamp: tuple[str, int, int]):
    """The REDSHIFTS table of a redrock file (None when it has none), read once per process."""
    with open_fits(Path(stamp[0])) as hdul:
        return hdul["REDSHIFTS"].data if "REDSHIFTS" in hdul else None


def coadd_targets(path: str | Path) -> list[str]:
    """The ``TARGETID`` of every spectrum in a coadd, in file order."""
    return [str(int(t)) for t in _coadd(file_stamp(Path(path)))["targets"]]


def join_arms(arms: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]):
    """One spectrum from overlapping arms ``(wavelength, flux, ivar, mask)``: pixels at the same wavelength (to
    0.001 Å) are averaged with inverse-variance weights over their unmasked values; the mask of a joined pixel is 0
    when any arm had it good, else the OR of the arms' masks."""
    wave = np.concatenate([a[0] for a in arms]).astype(np.float64)
    flux = np.concatenate([a[1] for a in arms]).astype(np.float64)
    ivar = np.concatenate([a[2] for a in arms]).astype(np.float64)
    mask = np.concatenate([a[3] for a in arms]).astype(np.int64)
    good = (mask == 0) & (ivar > 0) & np.isfinite(flux)
    keys, inverse = np.unique(np.round(wave, 3), return_inverse=True)
    weight = np.where(good, ivar, 0.0)
    total = np.bincount(inverse, weight, keys.size)
    summed = np.bincount(inverse, weight * np.where(good, flux, 0.0), keys.size)
    any_good = np.bincount(inverse, good, keys.size) > 0
    counts = np.bincount(inverse, minlength=keys.size)
    plain = np.bincount(inverse, np.where(np.isfinite(flux), flux, 0.0), keys.size) / counts
    # (a pixel no arm has good keeps the plain mean, so the joined spectrum has no holes; its ivar is 0)
    joined_flux = np.where(total > 0, summed / np.where(total > 0, total, 1.0), plain)
    joined_mask = np.zeros(keys.size, dtype=np.int64)
    np.bitwise_or.at(joined_mask, inverse, mask)
    joined_mask[any_good] = 0
    return np.bincount(inverse, wave, keys.size) / counts, joined_flux, total, joined_mask


def _redrock(path: Path, target: int) -> tuple[float | None, dict]:
    partner = path.with_name(path.name.replace("coadd", "redrock", 1))
    if partner == path or not partner.is_file():
        return None, {"z_note": f"no redrock file beside it ({partner.name})"}
    table = _redshifts(file_stamp(partner))
    if table is None:
        return None, {"z_note": f"{partner.name} has no REDSHIFTS table"}
    rows = np.flatnonzero(np.asarray(table["TARGETID"]) == target)
    if rows.size == 0:
        return None, {"z_note": f"target not in {partner.name}"}
    row = table[rows[0]]
    meta = {"zwarn": int(row["ZWARN"]), "spectype": str(row["SPECTYPE"]).strip(), "z_redrock": float(row["Z"])}
    if meta["zwarn"] != 0:
        return None, {**meta, "z_note": f"redrock ZWARN = {meta['zwarn']} (redshift not trusted)"}
    return float(row["Z"]), meta


def read_desi_coadd(path: str | Path, member: str) -> Spectrum:
    """Read target ``member`` (a ``TARGETID``) of a DESI coadd, its arms joined, its redshift from redrock."""
    path = Path(path)
    try:
        target = int(member)
    except (TypeError, ValueError):
        raise SpectrumError(f"TARGETID {member!r} is not a number", path) from None
    coadd = _coadd(file_stamp(path))
    rows = np.flatnonzero(coadd["targets"] == target)
    if rows.size == 0:
        raise SpectrumError(f"TARGETID {target} is not in this coadd", path)
    row = int(rows[0])
    if not coadd["arms"]:
        raise SpectrumError("no complete arm (B/R/Z _WAVELENGTH, _FLUX, _IVAR)", path)
    arms = [(a["WAVELENGTH"], a["FLUX"][row], a["IVAR"][row],
             a["MASK"][row] if "MASK" in a else np.zeros(a["WAVELENGTH"].size, dtype=np.int64))
            for a in coadd["arms"].values()]
    missing = coadd["missing"]
    position = {key: float(values[row]) for key, values in coadd["position"].items()}
    wave, flux, ivar, mask = join_arms(arms)
    z, meta = _redrock(path, target)
    meta.update({"format": "desi-coadd", "targetid": target, "arms": "".join(a for a in ARMS if a not in missing),
                 **position})
    if missing:
        meta["missing_arms"] = "".join(missing)
    return Spectrum(wavelength=wave, flux=flux, ivar=ivar, mask=mask, z=z, id=f"desi-{target}", source=str(path),
                    meta=meta)

