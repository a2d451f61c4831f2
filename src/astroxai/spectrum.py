"""The one in-memory type every reader returns: an observed-frame spectrum with its errors and mask."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

#: SDSS spectroscopic pixel-mask bits (``and_mask``) that mark data astroxai does not trust.
#: Bit numbers from the SDSS SPPIXMASK definition.  Sky-related warnings (BRIGHTSKY, ...) are
#: not included: they flag noisier pixels whose ``ivar`` already says so.
SDSS_BAD_BITS: dict[str, int] = {
    "NOPLUG": 0,
    "BADTRACE": 1,
    "BADFLAT": 2,
    "BADARC": 3,
    "MANYBADCOLUMNS": 4,
    "MANYREJECTED": 5,
    "FULLREJECT": 18,
    "NODATA": 24,
    "COMBINEREJ": 25,
    "BADFLUXFACTOR": 26,
    "BADSKYCHI": 27,
}
DEFAULT_BAD_MASK = sum(1 << bit for bit in SDSS_BAD_BITS.values())


class SpectrumError(ValueError):
    """A spectrum (or the file holding it) cannot be used; ``reason`` says why, ``source`` which file.

    Examples
    --------
    >>> from astroxai import SpectrumError
    >>> str(SpectrumError("empty file", "spec-1.fits"))
    'spec-1.fits: empty file'
    """

    def __init__(self, reason: str, source: str | Path | None = None):
        self.reason = reason
        self.source = None if source is None else str(source)
        super().__init__(f"{self.source}: {reason}" if self.source else reason)


@dataclass
class Spectrum:
    """One spectrum in the observed frame.

    Attributes
    ----------
    wavelength : ndarray
        Observed-frame (vacuum) wavelength in Å, strictly increasing.
    flux : ndarray
        Flux density, SDSS units of 1e-17 erg s⁻¹ cm⁻² Å⁻¹ unless the source says otherwise.
    ivar : ndarray
        Inverse variance of ``flux``; 0 means "no data".
    mask : ndarray of int64
        Bit mask (SDSS ``and_mask`` where available, else 0).
    z : float or None
        Redshift, if known (from the file or a catalogue).
    id : str
        Identifier (``PLATE-MJD-FIBER`` for SDSS files, else the file stem).
    source : str or None
        Path of the file it was read from.
    meta : dict
        Anything else the reader found (class, plate, ...), JSON-serialisable scalars.

    Examples
    --------
    >>> import numpy as np
    >>> from astroxai import Spectrum
    >>> spectrum = Spectrum(np.linspace(4000, 7000, 5), np.ones(5), [1, 1, 0, 1, 1], z=0.1)
    >>> spectrum.good_pixels().tolist(), round(float(spectrum.rest_wavelength[0]), 1)
    ([True, True, False, True, True], 3636.4)
    """

    wavelength: np.ndarray
    flux: np.ndarray
    ivar: np.ndarray
    mask: np.ndarray | None = None
    z: float | None = None
    id: str = ""
    source: str | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        self.wavelength = np.asarray(self.wavelength, dtype=np.float64)
        self.flux = np.asarray(self.flux, dtype=np.float64)
        self.ivar = np.asarray(self.ivar, dtype=np.float64)
        n = self.wavelength.size
        self.mask = np.zeros(n, np.int64) if self.mask is None else np.asarray(self.mask, dtype=np.int64)
        if not (self.flux.shape == self.ivar.shape == self.mask.shape == self.wavelength.shape):
            raise SpectrumError(
                f"wavelength, flux, ivar and mask differ in shape "
                f"({self.wavelength.shape}, {self.flux.shape}, {self.ivar.shape}, {self.mask.shape})",
                self.source,
            )
        if self.wavelength.ndim != 1 or n < 2:
            raise SpectrumError("a spectrum needs a 1-D array of at least two pixels", self.source)
        if not np.all(np.isfinite(self.wavelength)):
            raise SpectrumError("wavelength array contains NaN or infinite values", self.source)
        if np.any(np.diff(self.wavelength) <= 0):
            raise SpectrumError("wavelengths are not strictly increasing", self.source)

    def good_pixels(self, bad_mask: int = DEFAULT_BAD_MASK) -> np.ndarray:
        """Boolean array: finite flux, ``ivar > 0`` and none of the ``bad_mask`` bits set."""
        return (
            np.isfinite(self.flux)
            & np.isfinite(self.ivar)
            & (self.ivar > 0)
            & ((self.mask & bad_mask) == 0)
        )

    @property
    def rest_wavelength(self) -> np.ndarray:
        """Rest-frame wavelength λ_obs / (1 + z); needs ``z``."""
        if self.z is None:
            raise SpectrumError("no redshift: give one in the file or a catalogue", self.source)
        return self.wavelength / (1.0 + self.z)
