"""The one in-memory type every reader returns: an observed-frame spectrum with its errors and mask."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from astroxai.errors import AstroxaiError

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


class SpectrumError(AstroxaiError, ValueError):
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

    @classmethod
    def from_specutils(cls, spectrum, *, z: float | None = None, id: str = "") -> Spectrum:
        """An astroxai spectrum from a ``specutils`` ``Spectrum`` (``Spectrum1D`` before specutils 2): its spectral
        axis in Å (any length unit is converted), its flux, its uncertainty as an inverse variance (from
        ``InverseVariance``, ``StdDevUncertainty`` or ``VarianceUncertainty``; none: every pixel weighs 1), its mask
        (``True`` = bad) and its redshift (``z`` overrides it).  specutils itself is not needed: any object with
        those attributes is read the same way (``pip install astroxai[specutils]`` installs it)."""
        import astropy.units as u

        try:
            wavelength = spectrum.spectral_axis.to_value(u.AA, equivalencies=u.spectral())
            flux = np.asarray(getattr(spectrum.flux, "value", spectrum.flux), dtype=np.float64)
        except (AttributeError, u.UnitsError) as error:
            raise SpectrumError(f"not a spectrum with a spectral axis in a length unit ({error})", id or None) from None
        uncertainty = getattr(spectrum, "uncertainty", None)
        ivar = np.ones_like(flux)
        if uncertainty is not None:
            values = np.asarray(getattr(uncertainty.array, "value", uncertainty.array), dtype=np.float64)
            kind = getattr(uncertainty, "uncertainty_type", "ivar")
            with np.errstate(divide="ignore", invalid="ignore"):
                ivar = {"std": 1 / values**2, "var": 1 / values}.get(kind, values)
            ivar = np.where(np.isfinite(ivar), ivar, 0.0)
        mask = getattr(spectrum, "mask", None)
        bad = np.zeros(flux.shape, np.int64) if mask is None else np.asarray(mask, dtype=bool).astype(np.int64)
        ivar = np.where(bad > 0, 0.0, ivar)
        redshift = z if z is not None else getattr(spectrum, "redshift", None)
        redshift = None if redshift is None else float(getattr(redshift, "value", redshift))
        meta = dict(getattr(spectrum, "meta", {}) or {})
        return cls(wavelength, flux, ivar, bad, z=redshift, id=id or str(meta.get("id", "")), meta={})

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
