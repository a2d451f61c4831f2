"""The paper's reduction (Peruzzi et al. 2021, Sect. 2): rest frame → normalise at 5100 Å → common grid.

Each step is a function usable on its own; :func:`reduce_spectrum` chains them for one spectrum and
:func:`reduce_inputs` streams any number of files into a :class:`~astroxai.data.SpectraSet` on disk,
holding only one chunk of spectra in memory, and reports the fate of every input.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from astroxai.data import SpectraSet, fate
from astroxai.errors import InputError
from astroxai.io import InputItem, read_spectrum
from astroxai.lines import NORM_HALF_WIDTH, NORM_WAVELENGTH, PAPER_RANGE
from astroxai.spectrum import DEFAULT_BAD_MASK, Spectrum, SpectrumError

log = logging.getLogger(__name__)

#: Named wavelength ranges for ``--range``.
RANGE_PRESETS = {"paper": PAPER_RANGE}

#: A spectrum with more than this fraction of bad pixels inside the grid is rejected.
MAX_BAD_FRACTION = 0.5


@dataclass(frozen=True)
class ReductionSettings:
    """How spectra are reduced (rest frame → normalised at 5100 Å → resampled, as Peruzzi et al. 2021 did): the
    grid's rest-frame range (``None``: the overlap of the inputs) and number of points, the resampling method, the
    mask bits that mark a pixel bad, and the largest share of bad pixels a kept spectrum may have.

    :meth:`record` is what a data set's ``attrs["reduction"]`` and a model's ``reduction_`` hold (the JSON is written
    from it in one place); :meth:`from_record` reads one back, so a model reduces new inputs as it was trained."""

    wave_range: tuple[float, float] | None = None
    n_wave: int = 1000
    method: str = "linear"
    bad_mask: int = DEFAULT_BAD_MASK
    max_bad_fraction: float = MAX_BAD_FRACTION

    def record(self, wave_range=None) -> dict:
        """The stored form, on ``wave_range`` (the range found for the inputs) or the range of these settings."""
        low, high = self.wave_range if wave_range is None else wave_range
        return {"steps": ["rest_frame", "normalise_at_5100", "resample_to_grid"], "wave_range": [low, high],
                "n_wave": self.n_wave, "method": self.method, "norm_wavelength": NORM_WAVELENGTH,
                "norm_half_width": NORM_HALF_WIDTH, "bad_mask": self.bad_mask,
                "max_bad_fraction": self.max_bad_fraction}

    @classmethod
    def from_record(cls, record) -> ReductionSettings:
        """Settings from a stored record (missing keys: the defaults; an image model's record has none of them)."""
        record = record or {}
        wave = record.get("wave_range")
        return cls(None if not wave else (float(wave[0]), float(wave[1])), int(record.get("n_wave", 1000)),
                   str(record.get("method", "linear")), int(record.get("bad_mask", DEFAULT_BAD_MASK)),
                   float(record.get("max_bad_fraction", MAX_BAD_FRACTION)))


def rest_wavelength(wavelength: np.ndarray, z: float | None, source=None) -> np.ndarray:
    """Step 1: λ_rest = λ_obs / (1 + z).

    Flux densities are left as they are: the (1 + z) factor of f_λ cancels in the normalisation.
    """
    if z is None:
        raise SpectrumError("missing redshift (not in the file, and no catalogue gives one)", source)
    if not np.isfinite(z):
        raise SpectrumError(f"redshift is not a number (z={z})", source)
    if z < 0:
        raise SpectrumError(f"negative redshift (z={z:g})", source)
    return np.asarray(wavelength, dtype=np.float64) / (1.0 + z)


def flux_at(
    wavelength: np.ndarray,
    flux: np.ndarray,
    good: np.ndarray | None = None,
    at: float = NORM_WAVELENGTH,
    half_width: float = NORM_HALF_WIDTH,
    source=None,
) -> float:
    """Robust continuum flux at ``at`` Å: the median of the good pixels within ±``half_width`` Å.

    The paper divides by the flux of the single pixel at 5100 Å.  One pixel carries the full pixel
    noise (S/N 10–40 means a 2.5–10 % error on every normalised flux) and can be a cosmic ray or a
    masked pixel; the median over the ±20 Å window (≈ 40 SDSS pixels) has ~6× less noise and ignores
    outliers, while the window is narrow and free of strong lines, so the continuum level is the same.
    """
    good = np.isfinite(flux) if good is None else good & np.isfinite(flux)
    window = (wavelength >= at - half_width) & (wavelength <= at + half_width)
    if not np.any(window):
        lo, hi = wavelength[0], wavelength[-1]
        raise SpectrumError(
            f"does not cover {at:g} Å in the rest frame (covers {lo:.1f}–{hi:.1f} Å), cannot normalise",
            source,
        )
    usable = window & good
    if usable.sum() < 3:
        raise SpectrumError(f"fewer than 3 good pixels within ±{half_width:g} Å of {at:g} Å", source)
    value = float(np.median(flux[usable]))
    if not value > 0:
        raise SpectrumError(f"flux at {at:g} Å is zero or negative (median {value:.3g})", source)
    return value


def normalise_at(wavelength, flux, good=None, at=NORM_WAVELENGTH, half_width=NORM_HALF_WIDTH, source=None):
    """Step 2: divide the flux by its robust value at ``at`` Å; returns ``(flux / f_at, f_at)``."""
    value = flux_at(wavelength, flux, good, at, half_width, source)
    return np.asarray(flux) / value, value


def wavelength_grid(lo: float, hi: float, n_wave: int = 1000) -> np.ndarray:
    """``n_wave`` equally spaced rest wavelengths from ``lo`` to ``hi`` Å inclusive."""
    if not hi > lo:
        raise InputError(f"empty wavelength range {lo:g}–{hi:g} Å")
    if n_wave < 2:
        raise InputError("a grid needs at least two wavelengths")
    return np.linspace(lo, hi, n_wave)


def overlap_range(ranges: Iterable[tuple[float, float]]) -> tuple[float, float]:
    """The paper's common range: from the largest of the minima to the smallest of the maxima."""
    ranges = np.asarray(list(ranges), dtype=np.float64).reshape(-1, 2)
    if ranges.size == 0:
        raise InputError("no spectra to take the overlap of")
    lo, hi = float(ranges[:, 0].max()), float(ranges[:, 1].min())
    if not hi > lo:
        raise InputError(f"the spectra share no wavelength range (max of minima {lo:.1f} ≥ min of maxima {hi:.1f})")
    return lo, hi


def resample_to_grid(wavelength, flux, good, grid, method: str = "linear", source=None):
    """Step 3: put one spectrum on ``grid``; returns ``(resampled_flux, fraction_of_bad_pixels)``.

    Bad pixels never enter the result: they are dropped and the flux is linearly interpolated across
    them from the good neighbours.  The fraction of the spectrum's pixels inside the grid that were bad
    is returned.  ``method='linear'`` interpolates like the paper; ``'flux-conserving'`` rebins with
    ``spectres`` (Carnall 2017), which averages rather than samples when the grid is coarser.
    """
    wavelength = np.asarray(wavelength, dtype=np.float64)
    grid = np.asarray(grid, dtype=np.float64)
    tolerance = 1e-6 * grid[-1]
    if wavelength[0] > grid[0] + tolerance or wavelength[-1] < grid[-1] - tolerance:
        raise SpectrumError(
            f"does not cover the grid: rest-frame coverage {wavelength[0]:.2f}–{wavelength[-1]:.2f} Å, "
            f"grid {grid[0]:.2f}–{grid[-1]:.2f} Å",
            source,
        )
    inside = (wavelength >= grid[0] - tolerance) & (wavelength <= grid[-1] + tolerance)
    good = good & np.isfinite(flux)
    frac_bad = float(1.0 - good[inside].mean()) if inside.any() else 1.0
    if good.sum() < 2:
        raise SpectrumError("no good pixels (ivar = 0, NaN flux or masked everywhere)", source)
    filled = np.interp(wavelength, wavelength[good], flux[good])
    if method == "linear":
        result = np.interp(grid, wavelength, filled)
    elif method == "flux-conserving":
        from spectres import spectres

        # spectres needs the new bins inside the old ones: pad the spectrum by one edge pixel.
        edges = np.concatenate([[wavelength[0] - (wavelength[1] - wavelength[0])], wavelength,
                                [wavelength[-1] + (wavelength[-1] - wavelength[-2])]])
        result = spectres(grid, edges, np.concatenate([[filled[0]], filled, [filled[-1]]]), verbose=False)
    else:
        raise InputError(f"unknown resampling method {method!r} (use 'linear' or 'flux-conserving')")
    return result, frac_bad


def snr_at(wavelength, flux, good, at=NORM_WAVELENGTH, half_width=NORM_HALF_WIDTH) -> float:
    """The paper's S/N: mean flux over standard deviation in the window around ``at`` Å (NaN if empty)."""
    sel = good & (np.abs(wavelength - at) <= half_width) & np.isfinite(flux)
    if sel.sum() < 3:
        return float("nan")
    std = float(np.std(flux[sel], ddof=1))
    return float(np.mean(flux[sel]) / std) if std > 0 else float("nan")


@dataclass
class Reduced:
    """One spectrum after the three steps, with what the reduction measured."""

    flux: np.ndarray
    norm: float
    frac_bad: float
    snr: float


def check_spectrum(spectrum: Spectrum, bad_mask: int = DEFAULT_BAD_MASK) -> np.ndarray:
    """Reject spectra that no reduction can use; return the good-pixel mask."""
    if not np.any(np.isfinite(spectrum.flux)):
        raise SpectrumError("flux is NaN or infinite everywhere", spectrum.source)
    good = spectrum.good_pixels(bad_mask)
    if not good.any():
        raise SpectrumError("no good pixels (ivar = 0, NaN flux or masked everywhere)", spectrum.source)
    return good


def reduce_spectrum(
    spectrum: Spectrum,
    grid: np.ndarray,
    *,
    method: str = "linear",
    bad_mask: int = DEFAULT_BAD_MASK,
    max_bad_fraction: float = MAX_BAD_FRACTION,
) -> Reduced:
    """Rest frame, normalisation at 5100 Å and resampling onto ``grid`` for one spectrum.

    Parameters
    ----------
    spectrum : Spectrum
        An observed-frame spectrum with its redshift.
    grid : ndarray
        Rest-frame wavelengths (Å) to resample onto.
    method : ``'linear'`` or ``'flux-conserving'``
    bad_mask : int
        SDSS mask bits that mark a pixel bad.
    max_bad_fraction : float
        Largest share of bad pixels inside the grid.

    Returns
    -------
    Reduced
        The normalised fluxes on the grid, the flux at 5100 Å, the share of bad pixels and the S/N at 5100 Å.

    Raises
    ------
    SpectrumError
        With the reason a spectrum cannot be reduced.

    Examples
    --------
    >>> import numpy as np
    >>> from astroxai import Spectrum, reduce_spectrum
    >>> wave = np.linspace(4000, 7000, 3000)
    >>> reduced = reduce_spectrum(Spectrum(wave, np.full(3000, 4.0), np.ones(3000), z=0.1), np.linspace(4000, 6000, 5))
    >>> reduced.flux.tolist(), reduced.norm
    ([1.0, 1.0, 1.0, 1.0, 1.0], 4.0)
    """
    source = spectrum.source or spectrum.id
    good = check_spectrum(spectrum, bad_mask)
    rest = rest_wavelength(spectrum.wavelength, spectrum.z, source)
    normalised, norm = normalise_at(rest, spectrum.flux, good, source=source)
    flux, frac_bad = resample_to_grid(rest, normalised, good, grid, method, source)
    if frac_bad > max_bad_fraction:
        raise SpectrumError(
            f"{100 * frac_bad:.0f}% of the pixels inside the grid are bad (limit {100 * max_bad_fraction:.0f}%)",
            source,
        )
    return Reduced(flux, norm, frac_bad, snr_at(rest, spectrum.flux, good))


def input_fate(item: InputItem, spectrum: Spectrum | None, status: str, reason: str = "") -> dict:
    """The manifest row of one input file: kept, or rejected with the reason."""
    fallback = item.path.stem if item.member is None else f"{item.path.stem}#{item.member}"
    return fate(item.name, spectrum.id if spectrum is not None else fallback, status, reason,
                label=item.label or "", z="" if spectrum is None or spectrum.z is None else spectrum.z,
                z_source="" if spectrum is None else spectrum.meta.get("z_source", ""))


def read_item(item: InputItem) -> Spectrum:
    """The spectrum an input names; :class:`SpectrumError` with the reason for an input already known to be unusable
    (a catalogue row that could not be parsed)."""
    if item.problem:
        raise SpectrumError(item.problem, item.name)
    try:
        return read_spectrum(item.path, z=item.z, member=item.member)
    except SpectrumError:
        raise
    except Exception as error:  # noqa: BLE001 - a reader's failure costs its own input, never the batch
        # the type only: a message may quote the file's content, which a reason never does
        log.debug("reading %s failed", item.name, exc_info=error)
        raise SpectrumError(f"the reader failed on this file ({type(error).__name__}; -v shows the traceback)",
                            item.name) from None


def coverage_task(task) -> tuple[tuple[float, float] | None, dict | None]:
    """First pass for one file: its rest-frame coverage, or its rejection."""
    item, bad_mask = task
    spectrum = None
    try:
        spectrum = read_item(item)
        good = check_spectrum(spectrum, bad_mask)
        rest = rest_wavelength(spectrum.wavelength, spectrum.z, spectrum.source)
        flux_at(rest, spectrum.flux, good, source=spectrum.source)
        return (float(rest[0]), float(rest[-1])), None
    except SpectrumError as error:
        return None, input_fate(item, spectrum, "rejected", error.reason)


def reduce_item(task) -> tuple[np.ndarray | None, dict, dict | None]:
    """Read and reduce one input: ``task = (item, grid, method, bad_mask, max_bad_fraction)``.

    Returns ``(flux, manifest row, metadata)``; a spectrum that cannot be used gives ``(None, row with the
    reason, None)`` instead of raising, so a batch goes on with the rest.  One argument, so that it can be
    mapped over processes.
    """
    item, grid, method, bad_mask, max_bad_fraction = task
    spectrum = None
    try:
        spectrum = read_item(item)
        reduced = reduce_spectrum(spectrum, grid, method=method, bad_mask=bad_mask,
                                  max_bad_fraction=max_bad_fraction)
    except SpectrumError as error:
        return None, input_fate(item, spectrum, "rejected", error.reason), None
    row = input_fate(item, spectrum, "kept")
    row.update(frac_bad=round(reduced.frac_bad, 5), snr_5100=round(reduced.snr, 2))
    meta = {
        "z": spectrum.z, "source": item.name, "norm_5100": reduced.norm, "frac_bad": reduced.frac_bad,
        "snr_5100": reduced.snr, "z_source": spectrum.meta.get("z_source", ""), "id": spectrum.id,
    }
    return reduced.flux, row, meta




def reduce_spectra(spectra, grid=None, *, labels=None, method: str = "linear", bad_mask: int = DEFAULT_BAD_MASK,
                   max_bad_fraction: float = MAX_BAD_FRACTION, n_wave: int = 1000) -> tuple[SpectraSet, list[dict]]:
    """Reduce :class:`~astroxai.spectrum.Spectrum` objects held in memory into a :class:`~astroxai.data.SpectraSet`.

    Parameters
    ----------
    spectra : sequence of Spectrum
        Observed-frame spectra with their redshifts.
    grid : ndarray, optional
        Rest-frame wavelengths; by default ``n_wave`` points over the overlap of the spectra that can be used.
    labels : sequence of str, optional
        One label per spectrum.

    Returns
    -------
    data : SpectraSet
        The spectra that could be reduced.
    fates : list of dict
        One row per spectrum: kept, or rejected with the reason.

    Examples
    --------
    >>> import numpy as np
    >>> from astroxai import Spectrum, reduce_spectra
    >>> wave = np.linspace(4000, 7000, 3000)
    >>> data, fates = reduce_spectra([Spectrum(wave, np.ones(3000), np.ones(3000), z=0.1, id="flat")], n_wave=50)
    >>> data.flux.shape, float(data.flux[0, 10]), fates[0]["status"]
    ((1, 50), 1.0, 'kept')
    """
    spectra = list(spectra)
    labels = [""] * len(spectra) if labels is None else [str(label) for label in labels]
    items = [InputItem(Path(s.source or s.id), label, s.z) for s, label in zip(spectra, labels, strict=True)]
    fates: list[dict] = [{} for _ in spectra]
    if grid is None:
        ranges = {}
        for i, spectrum in enumerate(spectra):
            try:
                good = check_spectrum(spectrum, bad_mask)
                rest = rest_wavelength(spectrum.wavelength, spectrum.z, spectrum.source)
                flux_at(rest, spectrum.flux, good, source=spectrum.source)
                ranges[i] = (float(rest[0]), float(rest[-1]))
            except SpectrumError as error:
                fates[i] = input_fate(items[i], spectrum, "rejected", error.reason)
        if not ranges:
            raise SpectrumError("no spectrum could be read and normalised")
        grid = wavelength_grid(*overlap_range(ranges.values()), n_wave)
    grid = np.asarray(grid, dtype=np.float64)
    kept, meta = [], {"z": [], "norm_5100": [], "frac_bad": [], "snr_5100": []}
    for i, spectrum in enumerate(spectra):
        if fates[i]:
            continue
        try:
            reduced = reduce_spectrum(spectrum, grid, method=method, bad_mask=bad_mask,
                                      max_bad_fraction=max_bad_fraction)
        except SpectrumError as error:
            fates[i] = input_fate(items[i], spectrum, "rejected", error.reason)
            continue
        fates[i] = input_fate(items[i], spectrum, "kept")
        kept.append((i, reduced))
        for key, value in (("z", spectrum.z), ("norm_5100", reduced.norm), ("frac_bad", reduced.frac_bad),
                           ("snr_5100", reduced.snr)):
            meta[key].append(value)
    rows = [i for i, _ in kept]
    data = SpectraSet(np.array([r.flux for _, r in kept]).reshape(len(kept), grid.size), grid,
                      [labels[i] for i in rows], [spectra[i].id for i in rows], meta,
                      {"reduction": ReductionSettings(None, int(grid.size), method, bad_mask,
                                                      max_bad_fraction).record((float(grid[0]), float(grid[-1])))})
    return data, fates
