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

from dataclasses import dataclass, field

import numpy as np

from astroxai.errors import InputError
from astroxai.lines import BALMER, C_KMS, DIAGNOSTIC_LINES
from astroxai.results import Result

HBETA = BALMER["Hβ"]
CORE_KMS = 500.0
WING_KMS = (1000.0, 4000.0)
LINE_WINDOW_KMS = 2000.0


@dataclass(eq=False)
class CoreWingSigns(Result):
    """:func:`core_wing_signs`: per map, the mean saliency in the line's ``core`` and ``wings``, whether their signs
    are ``opposite``, and whether the map is ``zero`` there (a saturated probability: no sign, counted as neither)."""

    core: np.ndarray
    wings: np.ndarray
    opposite: np.ndarray
    zero: np.ndarray


@dataclass(eq=False)
class LineShare(Result):
    """:func:`line_share`: per map, the share of |saliency| in the line windows; the windows' share of the
    wavelengths (Å) and the windows themselves."""

    saliency_share: np.ndarray
    wavelength_share: float
    mask: np.ndarray


@dataclass(eq=False)
class PhysicsCheck(Result):
    """:func:`physics_checks`: the Hβ sign test (``None`` on a grid without Hβ's core and wings), the line share, and
    which maps are not all zero."""

    signs: CoreWingSigns | None
    share: LineShare
    usable: np.ndarray

    def rows(self, pattern=None) -> list[dict]:
        """One row per map: the mean saliency in Hβ's core and wings (empty without the sign test), the sign
        ``pattern`` of each map when given, and the line share."""
        rows = []
        for j, share in enumerate(self.share.saliency_share):
            row = {"hbeta_core_mean": float(self.signs.core[j]) if self.signs is not None else "",
                   "hbeta_wing_mean": float(self.signs.wings[j]) if self.signs is not None else ""}
            if pattern is not None:
                row["hbeta_signs"] = str(pattern[j])
            rows.append({**row, "line_saliency_share": float(share)})
        return rows


@dataclass(eq=False)
class ClassPhysics(Result):
    """The physics checks of the maps of one explained class: the median line share and, with the sign test, the
    share of its broad-line maps with opposite Hβ core and wing signs (``None`` without any) and their number."""

    line_saliency_share_median: float
    opposite_fraction_broad: float | None = None
    n_broad: int | None = None


@dataclass(eq=False)
class PhysicsSummary(Result):
    """:func:`physics_summary`: the two checks over a set of maps.  Its columns (a table's rows) name the per-class
    values ``<name>_<class>`` and leave out the sign test's when there was none."""

    n_maps: int
    n_broad_hbeta: int
    line_saliency_share_median: float
    line_wavelength_share: float
    n_zero_maps: int
    n_broad_zero_maps: int | None = None
    n_opposite: int | None = None
    opposite_fraction: float | None = None
    per_class: dict[str, ClassPhysics] = field(default_factory=dict)

    def columns(self) -> dict:
        out = {"n_maps": self.n_maps, "n_broad_hbeta": self.n_broad_hbeta, "line_window_kms": LINE_WINDOW_KMS,
               "line_saliency_share_median": self.line_saliency_share_median,
               "line_wavelength_share": self.line_wavelength_share}
        if self.n_opposite is not None:
            out.update(core_kms=CORE_KMS, wing_kms=list(WING_KMS), n_broad_zero_maps=self.n_broad_zero_maps,
                       n_opposite=self.n_opposite, opposite_fraction=self.opposite_fraction)
        out["n_zero_maps"] = self.n_zero_maps
        for name, values in self.per_class.items():
            out.update({f"{key}_{name}": value for key, value in values.columns().items()
                        if key == "line_saliency_share_median" or values.n_broad is not None})
        return out


def velocity(wavelength, line: float) -> np.ndarray:
    """Line-of-sight velocity (km/s) of each wavelength relative to ``line`` (non-relativistic Doppler)."""
    return C_KMS * (np.asarray(wavelength, dtype=np.float64) / line - 1.0)


def core_wing_signs(wavelength, maps, line: float = HBETA, core_kms: float = CORE_KMS,
                    wing_kms: tuple[float, float] = WING_KMS) -> CoreWingSigns:
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
    return CoreWingSigns(core_mean, wing_mean, np.sign(core_mean) * np.sign(wing_mean) < 0, zero)


def line_windows(wavelength, lines=DIAGNOSTIC_LINES, half_width_kms: float = LINE_WINDOW_KMS) -> np.ndarray:
    """Boolean mask of grid points within ±``half_width_kms`` of any of ``lines``."""
    mask = np.zeros(len(wavelength), dtype=bool)
    for centre in lines.values():
        mask |= np.abs(velocity(wavelength, centre)) <= half_width_kms
    return mask


def line_share(wavelength, maps, lines=DIAGNOSTIC_LINES, half_width_kms: float = LINE_WINDOW_KMS) -> LineShare:
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
    return LineShare(share, float(widths[mask].sum() / widths.sum()), mask)


def physics_checks(wavelength, maps) -> PhysicsCheck:
    """The per-map measurements behind :func:`physics_summary`: core/wing signs, line share, and which maps are
    not all zero (a saturated probability gives a zero map, which says nothing about physics)."""
    maps = np.atleast_2d(maps)
    v = np.abs(velocity(wavelength, HBETA))
    covered = (v < CORE_KMS).any() and ((v > WING_KMS[0]) & (v < WING_KMS[1])).any()
    # a grid without Hβ (e.g. a blue-only range) has no sign test: ``signs`` is None, the line share still applies
    return PhysicsCheck(core_wing_signs(wavelength, maps) if covered else None, line_share(wavelength, maps),
                        np.any(maps != 0, axis=1))


def _median_share(share, rows) -> float:
    return float(np.nanmedian(share[rows])) if rows.any() else float("nan")


def physics_summary(wavelength, maps, broad, target=None, classes=(), checks: PhysicsCheck | None = None
                    ) -> PhysicsSummary:
    """The two checks over a set of maps, all-zero maps left out (and counted).

    ``broad`` marks spectra with a broad Hβ (used for the sign test); with ``target`` (the explained class of each
    map) the line share and the sign test are also given per class in ``classes``.  ``checks`` are the
    measurements of :func:`physics_checks` when the caller has them already.
    """
    checks = physics_checks(wavelength, maps) if checks is None else checks
    signs, share, usable = checks.signs, checks.share, checks.usable
    broad = np.asarray(broad, dtype=bool) & usable
    summary = PhysicsSummary(int(usable.sum()), int(broad.sum()), _median_share(share.saliency_share, usable),
                             share.wavelength_share, int((~usable).sum()))
    tested = signs is not None and broad.any()
    if tested:
        counted = broad & ~signs.zero
        summary.n_broad_zero_maps = int((broad & signs.zero).sum())
        summary.n_opposite = int((broad & signs.opposite).sum())
        summary.opposite_fraction = float(signs.opposite[counted].mean()) if counted.any() else float("nan")
    for c in classes if target is not None else ():
        hit = (np.asarray(target) == c) & usable
        if hit.any():
            values = ClassPhysics(_median_share(share.saliency_share, hit))
            if signs is not None:
                opposite = signs.opposite[hit & broad]
                values.opposite_fraction_broad = float(opposite.mean()) if opposite.size else None
                values.n_broad = int(opposite.size)
            summary.per_class[str(c)] = values
    return summary
