"""Sampling helpers that reproduce measured quantiles (5 / 50 / 95 %) of the real AGN samples."""

from __future__ import annotations

import numpy as np
from scipy.special import ndtri

from astroxai.errors import InputError

Z95 = float(ndtri(0.95))  # 1.6449


def split_lognormal(rng: np.random.Generator, q05: float, q50: float, q95: float, size=None):
    """Draw from a two-piece log-normal whose 5th, 50th and 95th percentiles are exactly the given ones.

    Below the median the log-width is set by the 5 % quantile, above it by the 95 % quantile, so a
    skewed measured distribution (e.g. broad-Hβ FWHM 590 / 2700 / 6300 km/s) is matched at all three
    points.  All three quantiles must be positive and increasing.
    """
    if not 0 < q05 < q50 < q95:
        raise InputError("need 0 < q05 < q50 < q95")
    lo = np.log(q50 / q05) / Z95
    hi = np.log(q95 / q50) / Z95
    g = rng.standard_normal(size)
    return q50 * np.exp(np.where(g < 0, g * lo, g * hi))


def split_normal(rng: np.random.Generator, q05: float, q50: float, q95: float, size=None):
    """Two-piece normal with the given 5 / 50 / 95 % quantiles (for quantities that may touch zero)."""
    g = rng.standard_normal(size)
    return q50 + np.where(g < 0, g * (q50 - q05) / Z95, g * (q95 - q50) / Z95)


def correlated_normals(rng: np.random.Generator, rho: float) -> tuple[float, float]:
    """Two standard normal deviates with correlation ``rho`` (a Gaussian copula for paired widths)."""
    a, b = rng.standard_normal(2)
    return float(a), float(rho * a + np.sqrt(1 - rho**2) * b)


def quantile_from_normal(g: float, q05: float, q50: float, q95: float) -> float:
    """Map a standard-normal deviate through the split log-normal defined by three quantiles."""
    lo = np.log(q50 / q05) / Z95
    hi = np.log(q95 / q50) / Z95
    return float(q50 * np.exp(g * (lo if g < 0 else hi)))
