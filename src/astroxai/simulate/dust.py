"""Dust reddening of the simulated spectra: the Cardelli, Clayton & Mathis (1989) curve at R_V = 3.1, from the
``dust-extinction`` package, with the transmission it gives."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

R_V = 3.1


def transmission(wave: np.ndarray, ebv: float) -> np.ndarray:
    """Fraction of flux transmitted through dust with E(B−V) = ``ebv`` (CCM89, R_V = 3.1)."""
    if ebv <= 0:
        return np.ones_like(wave)
    return 10.0 ** (-0.4 * R_V * ebv * _ccm89(np.asarray(wave, dtype=float)))


def _ccm89(wave: np.ndarray) -> np.ndarray:
    """A(λ)/A(V) of CCM89 at R_V = 3.1.  Single wavelengths (the lines, 5100 Å: most calls) are remembered, which
    halves the simulator's time; the numbers are those of one ``CCM89.evaluate`` call."""
    if wave.shape == (1,):
        return np.array([_ccm89_at(float(wave[0]))])
    return _ccm89_evaluate(wave)


@lru_cache(maxsize=256)
def _ccm89_at(wave: float) -> float:
    return float(_ccm89_evaluate(np.array([wave]))[0])


def _ccm89_evaluate(wave: np.ndarray) -> np.ndarray:
    from dust_extinction.parameter_averages import CCM89

    # CCM89 is defined for 1000 Å–3.3 µm; clip so far-red pixels of low-z spectra stay in range.
    return CCM89.evaluate(1e4 / np.clip(wave, 1100.0, 33000.0), R_V)
