"""Physically calibrated simulator of type 1, type 2 and intermediate AGN spectra as SDSS would record them.

Every spectrum is built in the rest frame from analytic components, reddened, redshifted onto the SDSS
log-λ pixel grid (3800–9200 Å, Δlog10 λ = 1e-4), given sky- and photon-noise with a matching ``ivar`` and
a few masked pixels, and written as an SDSS ``spec-lite`` FITS file.  The model, component by component:

* **Type 1** (Marziani et al. 2013 sample, 0.4 ≤ z ≤ 0.745): power law f_λ ∝ λ^α (α around the quasar
  composite's −1.56) plus a small host-galaxy share; optical Fe II multiplets scaled to
  R_FeII = EW(Fe II 4434–4684)/EW(Hβ_broad); broad Balmer lines (Hα…H8, Balmer decrement of the broad-line
  region) with FWHM(Hβ) from 1000 to 12000 km/s and, for FWHM > 4000 km/s (Population B), a redshifted
  very broad component; weak narrow lines ([O III], [O II], [Ne III], narrow Balmer).
* **Type 2** (Vaona et al. 2012 Seyfert 2s, 0.02 ≤ z ≤ 0.1): host-galaxy stellar continuum, a mix of an old
  and a young population, each with its 4000 Å break and absorption lines (Ca II H&K, G band, Ca I 4227,
  Fe 4383/4531/5270/5335, Mg b, Na D, Balmer series) broadened by the stellar velocity dispersion σ*; a
  weak featureless AGN continuum; narrow emission lines with Seyfert 2 ratios.
* **Intermediate** (1.2 / 1.5 / 1.8 / 1.9): a type 2 plus a stronger AGN continuum and a broad Balmer
  component.  For 63 % a broad Hβ is drawn (width and broad/narrow flux ratio from the measured
  distributions) and the subtype follows Winkler (1992) from R = [O III] 5007 / Hβ_total (R < 1 → 1.2,
  1 ≤ R < 4 → 1.5, R ≥ 4 → 1.8); the other 37 % are type 1.9: broad Hα only.

Widths, line ratios, S/N, σ*, E(B−V) and redshifts are drawn from two-piece log-normals (or normals)
matched to the 5 / 50 / 95 % quantiles measured on the real intermediate sample (``docs/simulator.md``
lists every number and its source).  Gas is reddened with the CCM89 curve (R_V = 3.1) at E(B−V), the
stellar continuum at 0.44 E(B−V) (Calzetti 1997).  Noise: variance ∝ (object + sky)/throughput, scaled to
the drawn per-pixel S/N at rest 5100 Å; sky continuum and lines ([O I] 5577, Na D, [O I] 6300, a stylised
OH forest) make the red end noisier, a falling throughput the blue end.

All randomness comes from one seed: spectrum *i* of a run uses the *i*-th child of
``numpy.random.SeedSequence(seed)``, so a spectrum does not depend on how many others are made.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.special import erf

from astroxai.errors import InputError
from astroxai.lines import BALMER, C_KMS
from astroxai.simulate.distributions import (
    correlated_normals,
    quantile_from_normal,
    split_lognormal,
    split_normal,
)
from astroxai.simulate.dust import transmission

CLASSES = ("type1", "type2", "intermediate")

#: SDSS spectrograph pixel grid: log10 λ from log10(3800) in steps of 1e-4 up to 9200 Å.
LOGLAM_START = 3.5798
LOGLAM_STEP = 1e-4
N_PIXELS = int(np.floor((np.log10(9200.0) - LOGLAM_START) / LOGLAM_STEP)) + 1
LOGLAM = LOGLAM_START + LOGLAM_STEP * np.arange(N_PIXELS)

#: Instrumental resolution: R ≈ 2000 → σ ≈ 64 km/s (FWHM ≈ 150 km/s), ~0.93 pixel.
SIGMA_INSTRUMENT_KMS = 64.0
FWHM_TO_SIGMA = 1.0 / (2.0 * np.sqrt(2.0 * np.log(2.0)))

# ---------------------------------------------------------------------------------------------------
# Calibration numbers.  Quantiles 5/50/95 % of the real intermediate sample (Vaona et al. 2012, as
# tabulated in shared/docs/agn-spectra.md §4) unless marked "assumed" (then the source is in the docs).
# ---------------------------------------------------------------------------------------------------
Q_Z_SEYFERT = (0.034, 0.074, 0.097)
Q_SNR_SEYFERT = (17.6, 28.7, 45.6)
Q_SIGMA_STAR = (73.0, 126.0, 220.0)
Q_EBV = (0.04, 0.31, 0.65)
Q_FWHM_HB_NARROW = (145.0, 302.0, 547.0)
Q_FWHM_OIII = (115.0, 227.0, 427.0)
Q_OIII_HB = (1.3, 4.3, 9.7)
Q_OII_HB = (1.15, 2.4, 5.8)
Q_NEIII_HB = (0.37, 0.87, 1.8)
Q_FWHM_HB_BROAD_INT = (590.0, 2700.0, 6300.0)
Q_BROAD_NARROW_HB = (0.6, 3.6, 11.5)
Q_FWHM_HA_BROAD = (2050.0, 3160.0, 6610.0)
FRACTION_BROAD_HB = 327 / 521
# Assumed (see docs/simulator.md): type 1 and quantities the intermediate table does not give.
Q_SNR_TYPE1 = (11.0, 20.0, 38.0)
Q_FWHM_HB_TYPE1 = (1800.0, 4300.0, 9000.0)
Q_EW_HB_BROAD_TYPE1 = (40.0, 85.0, 160.0)
Q_R_FEII = (0.1, 0.5, 1.3)
Q_EW_OIII_TYPE1 = (3.0, 12.0, 45.0)
Q_OIII_HB_TYPE1 = (3.0, 8.0, 14.0)
Q_EW_HB_NARROW = (1.5, 5.0, 15.0)
Q_BROAD_NARROW_HA_19 = (0.5, 1.5, 4.0)
Q_ALPHA_LAMBDA = (-2.2, -1.56, -0.9)
Z_TYPE1 = (0.4, 0.745)  # 0.745: Hβ+[O III] (to 5266 Å) stays inside the 9200 Å red edge
Z_SEYFERT = (0.02, 0.1)

#: Case B intrinsic Balmer ratios to Hβ (narrow lines, T = 10^4 K) and a broad-line-region decrement.
CASE_B = {"Hα": 2.86, "Hβ": 1.0, "Hγ": 0.468, "Hδ": 0.259, "Hε": 0.159, "H8": 0.105, "H9": 0.0731}
BLR_DECREMENT = {"Hα": 3.1, "Hβ": 1.0, "Hγ": 0.45, "Hδ": 0.26, "Hε": 0.16, "H8": 0.10}

#: Narrow forbidden and helium lines other than [O III]/[O II]/[Ne III], as ratios to narrow Hβ
#: typical of Seyfert 2s (Osterbrock & Ferland 2006; Vanden Berk et al. 2001); assumed, see the docs.
OTHER_NARROW = {
    "[Ne V] 3427": (3426.85, 0.5),
    "[Ne III] 3968": (3968.59, None),  # tied to [Ne III] 3869 (ratio 0.31)
    "He I 3889": (3889.75, 0.10),
    "[O III] 4363": (4364.44, 0.15),
    "He II 4686": (4687.02, 0.20),
    "[N I] 5200": (5201.70, 0.12),
    "He I 5876": (5877.25, 0.13),
    "[O I] 6300": (6302.05, 0.6),
    "[O I] 6364": (6365.54, 0.2),
    "[N II] 6548": (6549.86, 0.9),
    "[N II] 6584": (6585.27, 2.7),
    "[S II] 6717": (6718.29, 0.9),
    "[S II] 6731": (6732.67, 0.8),
}


def _air_to_vacuum(air: np.ndarray) -> np.ndarray:
    """IAU standard conversion (Morton 2000); a three-line formula is not worth a dependency."""
    s2 = (1e4 / air) ** 2
    return air * (1 + 8.34254e-5 + 2.406147e-2 / (130 - s2) + 1.5998e-4 / (38.9 - s2))


#: Optical Fe II (multiplets 27, 28, 37, 38, 41, 42, 43, 48, 49, 55), air wavelengths and relative
#: strengths after the template decomposition of Kovačević et al. (2010); builds the 4450–4700 Å and
#: 5100–5400 Å blends.
_FEII_AIR = np.array([
    4233.17, 4296.57, 4303.17, 4351.76, 4385.38, 4416.83, 4472.92, 4489.18, 4491.40, 4508.28, 4515.34,
    4520.22, 4522.63, 4534.17, 4541.52, 4549.47, 4555.89, 4576.33, 4582.84, 4583.83, 4620.51, 4629.34,
    4666.75, 4731.44, 4923.92, 5018.44, 5169.03, 5197.57, 5234.62, 5254.92, 5264.80, 5275.99, 5284.10,
    5316.61, 5325.55, 5337.73, 5362.86, 5414.07, 5425.25, 5534.85,
])
_FEII_STRENGTH = np.array([
    0.4, 0.3, 0.5, 0.6, 0.3, 0.4, 0.3, 0.5, 0.4, 0.8, 0.7, 0.6, 1.0, 0.2, 0.3, 1.0, 0.6, 0.5, 0.5, 1.0,
    0.4, 0.7, 0.2, 0.2, 1.0, 1.2, 1.3, 0.8, 0.8, 0.3, 0.4, 0.6, 0.3, 1.0, 0.3, 0.3, 0.6, 0.3, 0.3, 0.4,
])
FEII_WAVE = _air_to_vacuum(_FEII_AIR)

#: Stellar absorption features: vacuum centre, intrinsic σ (Å), EW (Å) in an old (~10 Gyr) and a young
#: (~0.5 Gyr, A-star dominated) population; values representative of Lick-index measurements.
STELLAR_LINES = [
    # name, centre, sigma_intrinsic, EW_old, EW_young
    ("H10", 3798.98, 3.0, 0.8, 3.0),
    ("H9", 3836.47, 3.0, 1.0, 4.0),
    ("H8", 3890.17, 3.0, 1.5, 5.0),
    ("Ca II K", 3934.78, 5.0, 12.0, 2.0),
    ("Ca II H", 3969.59, 5.0, 10.0, 1.5),
    ("Hε", 3971.20, 3.0, 1.5, 6.0),
    ("Hδ", 4102.89, 3.0, 1.5, 8.0),
    ("Ca I 4227", 4227.92, 1.5, 1.5, 0.2),
    ("G band", 4305.5, 8.0, 5.0, 0.5),
    ("Hγ", 4341.68, 3.0, 1.5, 7.0),
    ("Fe 4383", 4384.78, 3.0, 3.0, 0.4),
    ("Fe 4531", 4532.6, 5.0, 2.0, 0.3),
    ("Hβ", 4862.68, 3.0, 1.8, 6.0),
    ("Mg b 5167", 5168.76, 1.0, 1.2, 0.1),
    ("Mg b 5173", 5174.13, 1.0, 1.5, 0.1),
    ("Mg b 5184", 5185.05, 1.0, 1.6, 0.1),
    ("Fe 5270", 5271.83, 3.0, 2.5, 0.3),
    ("Fe 5335", 5336.5, 3.0, 2.0, 0.2),
    ("Na D2", 5891.58, 1.0, 2.0, 0.3),
    ("Na D1", 5897.56, 1.0, 1.5, 0.3),
    ("Hα", 6564.61, 3.0, 2.0, 5.0),
]
_STELLAR = np.array([[c, s, eo, ey] for _, c, s, eo, ey in STELLAR_LINES])

#: Night-sky emission (vacuum Å, flux in 1e-17 erg/s/cm²·fibre): [O I], Na D, [O I] 6300/6364 and a
#: stylised OH forest above 6800 Å (fixed positions and strengths, drawn once from a fixed seed).
_SKY_FIXED = np.array([[5578.9, 200.0], [5891.6, 40.0], [5897.6, 40.0], [6302.0, 60.0], [6365.5, 20.0]])
_oh = np.random.default_rng(20_120_101)
_SKY_OH = np.column_stack([np.sort(_oh.uniform(6800, 9250, 70)), _oh.uniform(15, 150, 70)])
SKY_LINES = np.vstack([_SKY_FIXED, _SKY_OH])


def _planck_shape(wave: np.ndarray, temperature: float) -> np.ndarray:
    """Black-body B_λ shape normalised to 1 at 5100 Å."""
    hc_k = 1.438777e8  # h c / k in Å·K

    def b(lam):
        return lam**-5 / np.expm1(hc_k / (lam * temperature))

    return b(wave) / b(5100.0)


def _break(wave: np.ndarray, depth: float, centre: float = 4000.0, width: float = 12.0) -> np.ndarray:
    """Smooth step that lowers the flux blueward of ``centre`` by ``depth`` (the 4000 Å break)."""
    return 1.0 - depth / (1.0 + np.exp((wave - centre) / width))


@dataclass
class PixelGrid:
    """Rest-frame pixel geometry of the SDSS grid at redshift z."""

    z: float

    def __post_init__(self):
        self.wave = 10.0**LOGLAM / (1 + self.z)
        half = 0.5 * LOGLAM_STEP
        self.lo = 10.0 ** (LOGLAM - half) / (1 + self.z)
        self.hi = 10.0 ** (LOGLAM + half) / (1 + self.z)
        self.ln_lo, self.ln_hi = np.log(self.lo), np.log(self.hi)
        self.width = self.hi - self.lo

    def gaussians(self, centres, sigma_kms, fluxes) -> np.ndarray:
        """Sum of Gaussian lines (integrated ``fluxes``, widths σ in km/s) averaged over each pixel.

        Integrating the profile over the pixel (through erf) keeps line fluxes exact even for lines
        narrower than a pixel.  Only pixels within ±8σ of a line are evaluated; all lines at once (one erf call
        over every line's window, summed per pixel in line order: the numbers of a loop over the lines).
        """
        centres = np.atleast_1d(np.asarray(centres, float))
        sigma = np.broadcast_to(np.asarray(sigma_kms, float), centres.shape)
        fluxes = np.broadcast_to(np.asarray(fluxes, float), centres.shape)
        log_c = np.log(centres)
        half = 8 * sigma / C_KMS
        i0 = np.searchsorted(self.ln_hi, log_c - half)
        i1 = np.searchsorted(self.ln_lo, log_c + half)
        used = (fluxes != 0) & (i1 > i0)
        if not used.any():
            return np.zeros_like(self.wave)
        i0, i1, log_c, fluxes = i0[used], i1[used], log_c[used], fluxes[used]
        scale = np.sqrt(2.0) * sigma[used] / C_KMS
        lengths = i1 - i0
        line = np.repeat(np.arange(lengths.size), lengths)
        pixel = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths) + i0[line]
        u_hi = (self.ln_hi[pixel] - log_c[line]) / scale[line]
        u_lo = (self.ln_lo[pixel] - log_c[line]) / scale[line]
        values = fluxes[line] * 0.5 * (erf(u_hi) - erf(u_lo)) / self.width[pixel]
        return np.bincount(pixel, weights=values, minlength=self.wave.size)


def _sigma(fwhm_kms: float) -> float:
    """Observed σ (km/s): intrinsic FWHM converted and convolved with the instrument."""
    return float(np.hypot(fwhm_kms * FWHM_TO_SIGMA, SIGMA_INSTRUMENT_KMS))


def _stellar_population(grid: PixelGrid, temperature: float, break_depth: float, ew_column: int,
                        sigma_star: float) -> np.ndarray:
    """One stellar population: black body × 4000 Å break × absorption lines, normalised at 5100 Å."""
    continuum = _planck_shape(grid.wave, temperature) * _break(grid.wave, break_depth)
    norm = _planck_shape(np.array([5100.0]), temperature)[0] * _break(np.array([5100.0]), break_depth)[0]
    centres, sig_intr, ews = _STELLAR[:, 0], _STELLAR[:, 1], _STELLAR[:, ew_column]
    # Intrinsic widths in Å → km/s, combined with σ* and the instrument.
    sig = np.sqrt((C_KMS * sig_intr / centres) ** 2 + sigma_star**2 + SIGMA_INSTRUMENT_KMS**2)
    depth = grid.gaussians(centres, sig, ews)
    return continuum / norm * np.clip(1.0 - depth, 0.05, None)


def host_galaxy(grid: PixelGrid, young_fraction: float, sigma_star: float) -> np.ndarray:
    """Host-galaxy spectrum: old (4300 K-like, deep break) + young (9500 K-like, Balmer lines) mix.

    ``young_fraction`` is the young population's share of the flux at 5100 Å.
    """
    old = _stellar_population(grid, 4300.0, 0.36, 2, sigma_star)
    young = _stellar_population(grid, 9500.0, 0.08, 3, sigma_star)
    return (1 - young_fraction) * old + young_fraction * young


def d4000(wave: np.ndarray, flux: np.ndarray) -> float:
    """Narrow 4000 Å break (Balogh et al. 1999): ⟨f_ν⟩ 4000–4100 Å over ⟨f_ν⟩ 3850–3950 Å."""
    fnu = flux * wave**2
    red = (wave >= 4000) & (wave <= 4100)
    blue = (wave >= 3850) & (wave <= 3950)
    return float(fnu[red].mean() / fnu[blue].mean())


def _continuum(grid, host_fraction, alpha, ebv_gas, sigma_star, young_fraction):
    """Host + AGN power law, each reddened, mixed so the host has ``host_fraction`` of the 5100 Å flux."""
    at = np.array([5100.0])
    power = (grid.wave / 5100.0) ** alpha * transmission(grid.wave, ebv_gas) / transmission(at, ebv_gas)
    if host_fraction > 0:
        host = host_galaxy(grid, young_fraction, sigma_star)
        ebv_star = 0.44 * ebv_gas
        host = host * transmission(grid.wave, ebv_star) / transmission(at, ebv_star)
    else:
        host = 0.0
    return host_fraction * host + (1 - host_fraction) * power


def _narrow_lines(grid, cont_at, p, ebv):
    """Narrow emission lines with the drawn ratios; Balmer lines from Case B through the reddening."""
    hb = p["ew_hb_narrow"] * cont_at(BALMER["Hβ"])
    t_hb = transmission(np.array([BALMER["Hβ"]]), ebv)[0]
    sig_b, sig_f = _sigma(p["fwhm_hb_narrow"]), _sigma(p["fwhm_oiii"])
    centres, sigmas, fluxes = [], [], []

    def add(wave, flux, sigma):
        centres.append(wave)
        sigmas.append(sigma)
        fluxes.append(flux)

    for name in ("Hα", "Hγ", "Hδ", "Hε", "H8", "H9"):
        ratio = CASE_B[name] * transmission(np.array([BALMER[name]]), ebv)[0] / t_hb
        add(BALMER[name], hb * ratio, sig_b)
    add(BALMER["Hβ"], hb, sig_b)
    oiii = p["oiii_hb"] * hb
    add(5008.24, oiii, sig_f)
    add(4960.30, oiii / 2.98, sig_f)
    oii = p["oii_hb"] * hb
    add(3727.09, oii / 2.3, sig_f)  # doublet, 3729/3726 ≈ 1.3 at n_e ~ 10² cm⁻³
    add(3729.88, oii * 1.3 / 2.3, sig_f)
    neiii = p["neiii_hb"] * hb
    add(3869.86, neiii, sig_f)
    for name, (wave, ratio) in OTHER_NARROW.items():
        flux = 0.31 * neiii if name == "[Ne III] 3968" else ratio * hb
        add(wave, flux, sig_b if name.startswith("He") else sig_f)
    return grid.gaussians(centres, sigmas, fluxes)


def _broad_balmer(grid, hb_flux, fwhm, ebv, names=("Hα", "Hβ", "Hγ", "Hδ", "Hε", "H8"), ha_flux=None,
                  fwhm_ha=None):
    """Broad Balmer lines with the BLR decrement, reddened relative to Hβ."""
    t_hb = transmission(np.array([BALMER["Hβ"]]), ebv)[0]
    centres, sigmas, fluxes = [], [], []
    for name in names:
        flux = hb_flux * BLR_DECREMENT[name] * transmission(np.array([BALMER[name]]), ebv)[0] / t_hb
        if name == "Hα" and ha_flux is not None:
            flux = ha_flux
        centres.append(BALMER[name])
        sigmas.append(_sigma(fwhm_ha if (name == "Hα" and fwhm_ha) else fwhm))
        fluxes.append(flux)
    return grid.gaussians(centres, sigmas, fluxes)


def draw_parameters(label: str, rng: np.random.Generator) -> dict:
    """Draw every physical parameter of one spectrum of class ``label``."""
    if label not in CLASSES:
        raise InputError(f"unknown class {label!r}; choose from {CLASSES}")
    p: dict = {"label": label, "subtype": {"type1": "1.0", "type2": "2.0"}.get(label, "")}
    g_hb, g_oiii = correlated_normals(rng, 0.7)  # narrow Balmer and [O III] widths go together
    p["fwhm_hb_narrow"] = quantile_from_normal(g_hb, *Q_FWHM_HB_NARROW)
    p["fwhm_oiii"] = quantile_from_normal(g_oiii, *Q_FWHM_OIII)
    p["oii_hb"] = float(split_lognormal(rng, *Q_OII_HB))
    p["neiii_hb"] = float(split_lognormal(rng, *Q_NEIII_HB))
    p["alpha_lambda"] = float(split_normal(rng, *Q_ALPHA_LAMBDA))
    for key in ("fwhm_hb_broad", "broad_narrow_hb", "ew_hb_broad", "fwhm_ha_broad", "broad_narrow_ha",
                "r_feii", "sigma_star", "young_fraction", "vbc_fraction"):
        p[key] = 0.0
    p["has_broad_hb"] = label == "type1"
    if label == "type1":
        p["z"] = float(rng.uniform(*Z_TYPE1))
        p["snr_5100"] = float(np.clip(split_lognormal(rng, *Q_SNR_TYPE1), 8, 80))
        p["ebv"] = float(np.clip(split_normal(rng, 0.0, 0.05, 0.15), 0, None))
        p["host_fraction"] = float(np.clip(rng.beta(1.5, 7.0), 0, 0.5))
        p["fwhm_hb_broad"] = float(np.clip(split_lognormal(rng, *Q_FWHM_HB_TYPE1), 1000, 12000))
        p["ew_hb_broad"] = float(split_lognormal(rng, *Q_EW_HB_BROAD_TYPE1))
        p["r_feii"] = float(np.clip(split_lognormal(rng, *Q_R_FEII), 0.02, 2.0))
        p["vbc_fraction"] = float(rng.uniform(0.2, 0.4)) if p["fwhm_hb_broad"] > 4000 else 0.0
        p["ew_oiii"] = float(split_lognormal(rng, *Q_EW_OIII_TYPE1))
        p["oiii_hb"] = float(split_lognormal(rng, *Q_OIII_HB_TYPE1))
        p["sigma_star"] = float(split_lognormal(rng, *Q_SIGMA_STAR))
        p["young_fraction"] = float(rng.uniform(0.0, 0.6))
        p["f5100"] = float(np.exp(rng.uniform(np.log(3), np.log(30))))
        return p
    # Seyfert hosts (type 2 and intermediate)
    p["z"] = float(np.clip(split_normal(rng, *Q_Z_SEYFERT), *Z_SEYFERT))
    p["snr_5100"] = float(np.clip(split_lognormal(rng, *Q_SNR_SEYFERT), 8, 80))
    p["ebv"] = float(np.clip(split_normal(rng, *Q_EBV), 0, None))
    p["sigma_star"] = float(split_lognormal(rng, *Q_SIGMA_STAR))
    p["young_fraction"] = float(rng.uniform(0.0, 0.6))
    p["oiii_hb"] = float(split_lognormal(rng, *Q_OIII_HB))
    p["ew_hb_narrow"] = float(split_lognormal(rng, *Q_EW_HB_NARROW))
    p["f5100"] = float(np.exp(rng.uniform(np.log(5), np.log(60))))
    if label == "type2":
        p["host_fraction"] = float(1 - rng.uniform(0.0, 0.2))
        return p
    p["host_fraction"] = float(1 - rng.uniform(0.05, 0.45))
    if rng.random() < FRACTION_BROAD_HB:
        p["has_broad_hb"] = True
        p["fwhm_hb_broad"] = float(max(split_lognormal(rng, *Q_FWHM_HB_BROAD_INT), 400.0))
        p["broad_narrow_hb"] = float(split_lognormal(rng, *Q_BROAD_NARROW_HB))
        p["fwhm_ha_broad"] = float(max(split_lognormal(rng, *Q_FWHM_HA_BROAD), p["fwhm_hb_broad"]))
        ratio = p["oiii_hb"] / (1 + p["broad_narrow_hb"])  # R = [O III] / (Hβ_narrow + Hβ_broad)
        p["subtype"] = "1.2" if ratio < 1 else ("1.5" if ratio < 4 else "1.8")
    else:
        p["subtype"] = "1.9"
        p["fwhm_ha_broad"] = float(split_lognormal(rng, *Q_FWHM_HA_BROAD))
        p["broad_narrow_ha"] = float(split_lognormal(rng, *Q_BROAD_NARROW_HA_19))
    return p


@lru_cache(maxsize=1)
def _sky_lines_observed() -> np.ndarray:
    """Night-sky emission lines on the SDSS pixels (observed frame: the same for every spectrum)."""
    return PixelGrid(0.0).gaussians(SKY_LINES[:, 0], SIGMA_INSTRUMENT_KMS, SKY_LINES[:, 1])


def _sky_continuum_observed() -> np.ndarray:
    return 1.5 * (10**LOGLAM / 5000.0) ** 1.5


def _sky() -> np.ndarray:
    """Sky in the fibre on the SDSS pixels: a continuum rising to the red plus the sky lines."""
    return _sky_continuum_observed() + _sky_lines_observed()


def _throughput(obs_wave: np.ndarray) -> np.ndarray:
    """Relative throughput of the SDSS spectrographs: falling below ~4200 Å and above ~8700 Å."""
    blue = 1.0 / (1.0 + np.exp(-(obs_wave - 4000.0) / 120.0))
    red = 1.0 / (1.0 + np.exp((obs_wave - 9000.0) / 150.0))
    return 0.1 + 0.9 * blue * red


@dataclass
class SimulatedSpectrum:
    """One simulated spectrum on the SDSS grid: noisy flux, ivar, mask, sky and noiseless model."""

    flux: np.ndarray
    ivar: np.ndarray
    and_mask: np.ndarray
    sky: np.ndarray
    model: np.ndarray
    params: dict


def model_spectrum(p: dict) -> tuple[PixelGrid, np.ndarray, np.ndarray]:
    """Noiseless rest-frame model on the SDSS pixels of redshift ``p['z']``, in units of the 5100 Å
    continuum; returns ``(grid, model, continuum)``."""
    grid = PixelGrid(p["z"])
    label = p["label"]
    ebv_agn = p["ebv"]
    continuum = _continuum(grid, p["host_fraction"], p["alpha_lambda"], ebv_agn, p["sigma_star"],
                           p["young_fraction"])

    def cont_at(wave):
        return float(np.interp(wave, grid.wave, continuum))

    if label == "type1":
        hb_broad = p["ew_hb_broad"] * cont_at(BALMER["Hβ"])
        core = hb_broad * (1 - p["vbc_fraction"])
        lines = _broad_balmer(grid, core, p["fwhm_hb_broad"], ebv_agn)
        if p["vbc_fraction"] > 0:
            vbc = hb_broad * p["vbc_fraction"]
            shift = 1 + 2000.0 / C_KMS  # redshifted very broad component (Population B)
            lines += grid.gaussians([BALMER["Hβ"] * shift, BALMER["Hα"] * shift, BALMER["Hγ"] * shift],
                                    _sigma(10000.0), [vbc, vbc * 3.1, vbc * 0.45])
        lines += grid.gaussians([4687.02], _sigma(1.3 * p["fwhm_hb_broad"]), [0.08 * hb_broad])
        # Fe II scaled so that EW(4434–4684) = R_FeII × EW(Hβ broad).
        feii = grid.gaussians(FEII_WAVE, _sigma(p["fwhm_hb_broad"]), _FEII_STRENGTH)
        window = (grid.wave >= 4434) & (grid.wave <= 4684)
        ew_template = np.sum(feii[window] * grid.width[window]) / cont_at(4559.0)
        lines += feii * (p["r_feii"] * p["ew_hb_broad"] / ew_template)
        narrow = dict(p)
        narrow["ew_hb_narrow"] = p["ew_oiii"] / p["oiii_hb"]
        lines += _narrow_lines(grid, cont_at, narrow, ebv_agn)
    else:
        lines = _narrow_lines(grid, cont_at, p, p["ebv"])
        hb_narrow = p["ew_hb_narrow"] * cont_at(BALMER["Hβ"])
        if p["has_broad_hb"]:
            lines += _broad_balmer(grid, p["broad_narrow_hb"] * hb_narrow, p["fwhm_hb_broad"], p["ebv"],
                                   fwhm_ha=p["fwhm_ha_broad"])
        elif label == "intermediate":  # type 1.9: broad Hα only
            t = transmission(np.array([BALMER["Hα"], BALMER["Hβ"]]), p["ebv"])
            ha_narrow = hb_narrow * CASE_B["Hα"] * t[0] / t[1]
            lines += grid.gaussians([BALMER["Hα"]], _sigma(p["fwhm_ha_broad"]),
                                    [p["broad_narrow_ha"] * ha_narrow])
    return grid, continuum + lines, continuum


def simulate_spectrum(label: str, rng: np.random.Generator) -> SimulatedSpectrum:
    """Draw parameters and make one noisy observed-frame spectrum of class ``label``."""
    p = draw_parameters(label, rng)
    grid, model, _ = model_spectrum(p)
    model = model * p["f5100"]
    sky = _sky()
    throughput = _throughput(grid.wave * (1 + grid.z))
    shape = (np.clip(model, 0, None) + sky) / throughput  # photon + sky variance, up to a constant
    window = np.abs(grid.wave - 5100.0) <= 20.0
    # Choose the constant so that the median per-pixel S/N in the 5100 Å window is the drawn S/N.
    k = np.median(model[window] ** 2 / shape[window]) / p["snr_5100"] ** 2
    sigma = np.sqrt(k * shape)
    flux = model + sigma * rng.standard_normal(model.size)
    ivar = 1.0 / sigma**2
    and_mask = np.zeros(model.size, np.int64)
    and_mask[_sky_lines_observed() > 2 * _sky_continuum_observed()] |= 1 << 23  # BRIGHTSKY (a warning)
    p["n_bad_pixels"] = 0
    if rng.random() < 0.15:  # a run of rejected pixels (cosmic ray / bad column), as in real coadds
        length = int(rng.integers(3, 25))
        start = int(rng.integers(0, model.size - length))
        ivar[start:start + length] = 0.0
        flux[start:start + length] = 0.0
        and_mask[start:start + length] |= (1 << 18) | (1 << 24)  # FULLREJECT | NODATA
        p["n_bad_pixels"] = length
    p["d4000_model"] = d4000(grid.wave, model)
    return SimulatedSpectrum(flux, ivar, and_mask, sky, model, p)
