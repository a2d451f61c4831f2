"""Checks of saliency maps against the physics a human classifier uses.

Two measurements, both on the common rest-frame grid:

* :func:`core_wing_signs` — the paper's central finding (Sect. 5.4, Figs. 5–6): around a broad Balmer line the
  map has opposite signs in the line core and in its wings, i.e. the classifier reads the *width* of Hβ.  For
  each map: mean saliency in the core (|v| < 500 km/s) and in the wings (1000 < |v| < 4000 km/s, both sides).
* :func:`line_share` — how concentrated the map is on the diagnostic lines: the share of total |saliency| within
  ±2000 km/s of the marked lines against the share of the wavelength grid those windows cover (a map that
  ignored the lines would give equal shares).
"""

from __future__ import annotations

import numpy as np

from astroxai.errors import InputError
from astroxai.lines import BALMER, C_KMS, DIAGNOSTIC_LINES

HBETA = BALMER["Hβ"]
CORE_KMS = 500.0
WING_KMS = (1000.0, 4000.0)
LINE_WINDOW_KMS = 2000.0


def velocity(wavelength, line: float) -> np.ndarray:
    """Line-of-sight velocity (km/s) of each wavelength relative to ``line`` (non-relativistic Doppler)."""
    return C_KMS * (np.asarray(wavelength, dtype=np.float64) / line - 1.0)


def core_wing_signs(wavelength, maps, line: float = HBETA, core_kms: float = CORE_KMS,
                    wing_kms: tuple[float, float] = WING_KMS) -> dict:
    """Mean saliency in a line's core and wings, per map, and whether their signs are opposite.

    Returns arrays ``core``, ``wings`` (means per map), ``opposite`` (bool: signs differ) and ``zero`` (bool: a
    map that is exactly zero there, e.g. a saturated probability, which has no sign and counts as neither).
    """
    v = np.abs(velocity(wavelength, line))
    core = v < core_kms
    wings = (v > wing_kms[0]) & (v < wing_kms[1])
    if not core.any() or not wings.any():
        raise InputError(f"the grid does not cover the core and wings of the line at {line} Å")
    maps = np.atleast_2d(maps)
    core_mean = maps[:, core].mean(axis=1)
    wing_mean = maps[:, wings].mean(axis=1)
    zero = (core_mean == 0) | (wing_mean == 0)
    return {"core": core_mean, "wings": wing_mean, "opposite": (np.sign(core_mean) * np.sign(wing_mean) < 0),
            "zero": zero}


def line_windows(wavelength, lines=DIAGNOSTIC_LINES, half_width_kms: float = LINE_WINDOW_KMS) -> np.ndarray:
    """Boolean mask of grid points within ±``half_width_kms`` of any of ``lines``."""
    mask = np.zeros(len(wavelength), dtype=bool)
    for centre in lines.values():
        mask |= np.abs(velocity(wavelength, centre)) <= half_width_kms
    return mask


def line_share(wavelength, maps, lines=DIAGNOSTIC_LINES, half_width_kms: float = LINE_WINDOW_KMS) -> dict:
    """Share of each map's total |saliency| inside the line windows, and the share of wavelength they cover.

    The wavelength share is measured in Å (the grid need not be uniform); all-zero maps give NaN.
    """
    wavelength = np.asarray(wavelength, dtype=np.float64)
    mask = line_windows(wavelength, lines, half_width_kms)
    widths = np.gradient(wavelength)
    weight = np.abs(np.atleast_2d(maps)) * widths
    total = weight.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(total > 0, weight[:, mask].sum(axis=1) / total, np.nan)
    return {"saliency_share": share, "wavelength_share": float(widths[mask].sum() / widths.sum()), "mask": mask}


def physics_checks(wavelength, maps) -> dict:
    """The per-map measurements behind :func:`physics_summary`: core/wing signs, line share, and which maps are
    not all zero (a saturated probability gives a zero map, which says nothing about physics)."""
    maps = np.atleast_2d(maps)
    v = np.abs(velocity(wavelength, HBETA))
    covered = (v < CORE_KMS).any() and ((v > WING_KMS[0]) & (v < WING_KMS[1])).any()
    # a grid without Hβ (e.g. a blue-only range) has no sign test: ``signs`` is None, the line share still applies
    return {"signs": core_wing_signs(wavelength, maps) if covered else None, "share": line_share(wavelength, maps),
            "usable": np.any(maps != 0, axis=1)}


def physics_summary(wavelength, maps, broad, target=None, classes=(), checks: dict | None = None) -> dict:
    """The two checks over a set of maps, all-zero maps left out (and counted).

    ``broad`` marks spectra with a broad Hβ (used for the sign test); with ``target`` (the explained class of each
    map) the line share and the sign test are also given per class in ``classes``.  ``checks`` are the
    measurements of :func:`physics_checks` when the caller has them already.
    """
    checks = physics_checks(wavelength, maps) if checks is None else checks
    signs, share, usable = checks["signs"], checks["share"], checks["usable"]
    broad = np.asarray(broad, dtype=bool) & usable
    summary = {
        "n_maps": int(usable.sum()),
        "n_broad_hbeta": int(broad.sum()),
        "line_window_kms": LINE_WINDOW_KMS,
        "line_saliency_share_median": float(np.nanmedian(share["saliency_share"][usable])) if usable.any()
        else float("nan"),
        "line_wavelength_share": share["wavelength_share"],
    }
    if signs is not None and broad.any():
        counted = broad & ~signs["zero"]
        summary.update({
            "core_kms": CORE_KMS, "wing_kms": list(WING_KMS),
            "n_broad_zero_maps": int((broad & signs["zero"]).sum()),
            "n_opposite": int((broad & signs["opposite"]).sum()),
            "opposite_fraction": float(signs["opposite"][counted].mean()) if counted.any() else float("nan"),
        })
    summary["n_zero_maps"] = int((~usable).sum())
    for c in classes if target is not None else ():
        hit = (np.asarray(target) == c) & usable
        if hit.any():
            summary[f"line_saliency_share_median_{c}"] = float(np.nanmedian(share["saliency_share"][hit]))
            if signs is not None:
                opposite = signs["opposite"][hit & broad]
                summary[f"opposite_fraction_broad_{c}"] = float(opposite.mean()) if opposite.size else None
                summary[f"n_broad_{c}"] = int(opposite.size)
    return summary
