"""Optical cutouts of disc galaxies with and without bars, with the true bar length recorded per image.

Bhambra, Joachimi & Lahav (2022, MNRAS 511, 5032) measure bar lengths from SmoothGrad maps of a Galaxy Zoo CNN; to
score such a measurement the true length must be known, so the galaxies are built from analytic components (all surface
brightness in arbitrary flux units):

* **disc** — exponential, I ∝ exp(−r/h), scale length h = 4–8 px, optionally with m = 2 logarithmic spiral arms
  (pitch angle 12–25°, amplitude 0.2–0.5) outside the bar;
* **bulge** — Sérsic profile (n = 1–4, effective radius 1–3 px), bulge-to-total 0.05–0.35;
* **bar** (barred galaxies) — a Ferrers ellipsoid I ∝ (1 − m²)ⁿ for m < 1, m² = (x/a)² + (y/b)², the usual model of
  photometric bars (e.g. Laurikainen et al. 2005), semi-major axis a = 1.2–2.5 h, axis ratio b/a = 0.2–0.35, at a
  random angle in the disc plane.  The index n = 0.5–1 gives the flat profiles with a marked end that bright bars
  show (Elmegreen & Elmegreen 1985), and the bar's brightness is set by its *contrast* with the disc: at 0.7 a
  along the bar, before the PSF, it is 1.5–4 times as bright as the disc there, as bars are seen to be.  Its share
  of the light follows (11–29 % for 90 % of the bars; recorded as ``bar_fraction``), in the range measured for SDSS
  bars (Gadotti 2011), on the strong side.

  Until November 2026 n was 2 and the bar held a fixed 8–25 % of the light whatever its size: a long
  bar then spread its light so thin that in 32 % of the barred galaxies it was nowhere brighter than the disc and
  bulge along its own axis, and the extent where it did followed the true length at r = 0.55 only — no
  measurement, by eye, isophotes or a network, could recover the length (``docs/images.md``,
  ``docs/bars_diagnosis.py``).

The disc plane is seen at inclination i (cos i uniform in 0.45–1, so the bar stays visible) and position angle PA;
the bar is projected with it.  The model is convolved with a Gaussian PSF (FWHM 1.5–2.5 px) and given Gaussian noise
(sky plus source Poisson noise) for a central S/N of 20–100.

Ground truth: ``bar_length_px`` — the *projected* full length of the bar on the image, 2a·√(cos²φ + sin²φ cos²i) for
a bar at angle φ from the line of nodes — and ``bar_length_arcsec`` with the pixel scale (0.792″: SDSS pixels binned
2 × 2; a 64-pixel cutout spans 51″); the bar's projected position angle; and a ``bar`` mask where the convolved bar
holds more than a quarter of the model's brightness (empty for unbarred galaxies).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import gammaincinv

from astroxai.errors import InputError

GALAXY_CLASSES = ("unbarred", "barred")
PIXEL_ARCSEC = 0.792
SIZE = 64
MASK_SHARE = 0.25


@dataclass
class GalaxyImage:
    image: np.ndarray  # (H, W)
    model: np.ndarray  # (H, W), noiseless, PSF-convolved
    masks: dict  # 'bar' → (H, W) bool
    params: dict


def draw_galaxy_parameters(label: str, rng: np.random.Generator, size: int = SIZE) -> dict:
    if label not in GALAXY_CLASSES:
        raise InputError(f"unknown galaxy class {label!r}; choose from {GALAXY_CLASSES}")
    h = float(rng.uniform(4.0, 8.0))
    p = {"label": label, "x0": float(size / 2 - 0.5 + rng.normal(0, 0.7)),
         "y0": float(size / 2 - 0.5 + rng.normal(0, 0.7)), "disc_scale_px": h,
         "cos_incl": float(rng.uniform(0.45, 1.0)), "pa": float(rng.uniform(0, np.pi)),
         "bulge_n": float(rng.uniform(1.0, 4.0)), "bulge_re_px": float(rng.uniform(1.0, 3.0)),
         "bulge_to_total": float(rng.uniform(0.05, 0.35)), "psf_fwhm_px": float(rng.uniform(1.5, 2.5)),
         "central_snr": float(rng.uniform(20, 100)), "spiral": bool(rng.random() < 0.6),
         "spiral_pitch_deg": float(rng.uniform(12, 25)), "spiral_amplitude": float(rng.uniform(0.2, 0.5)),
         "spiral_phase": float(rng.uniform(0, 2 * np.pi))}
    barred = label == "barred"
    p.update({"barred": barred,
              "bar_a_px": float(rng.uniform(1.2, 2.5) * h) if barred else 0.0,
              "bar_axis_ratio": float(rng.uniform(0.2, 0.35)),
              "bar_fraction": 0.0,  # set by galaxy_model from the contrast
              "bar_angle": float(rng.uniform(0, np.pi)),  # in the disc plane, from the line of nodes
              "bar_ferrers_n": float(rng.uniform(0.5, 1.0)),
              "bar_contrast": float(rng.uniform(1.5, 4.0)) if barred else 0.0})
    return p


def _disc(p: dict, u, v):
    """The exponential disc at in-plane coordinates (u along the line of nodes, v de-projected), with its spiral
    arms outside the bar."""
    r = np.hypot(u, v)
    disc = np.exp(-r / p["disc_scale_px"])
    if p["spiral"]:
        winding = np.log(np.maximum(r, 1e-3)) / np.tan(np.radians(p["spiral_pitch_deg"]))
        arms = 1 + p["spiral_amplitude"] * np.cos(2 * (np.arctan2(v, u) - winding) + p["spiral_phase"])
        outside = 1 / (1 + np.exp(-(r - max(p["bar_a_px"], 1.5 * p["disc_scale_px"])) / 1.5))
        disc = disc * (1 + (arms - 1) * outside)
    return disc


def _sersic(r, re, n):
    b = gammaincinv(2 * n, 0.5)
    return np.exp(-b * ((r / re) ** (1.0 / n) - 1.0))


def galaxy_model(p: dict, size: int = SIZE) -> dict:
    """Noiseless PSF-convolved components (``disc``, ``bulge``, ``bar``), each normalised to its share of the light."""
    from scipy.ndimage import gaussian_filter

    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    dx, dy = x - p["x0"], y - p["y0"]
    c, s = np.cos(p["pa"]), np.sin(p["pa"])
    u = c * dx + s * dy  # along the line of nodes
    v = (-s * dx + c * dy) / p["cos_incl"]  # de-projected
    disc = _disc(p, u, v)
    bulge = _sersic(np.hypot(dx, dy), p["bulge_re_px"], p["bulge_n"])
    parts = {"disc": disc, "bulge": bulge, "bar": np.zeros_like(disc)}
    if p["barred"]:
        cb, sb = np.cos(p["bar_angle"]), np.sin(p["bar_angle"])
        ub, vb = cb * u + sb * v, -sb * u + cb * v
        m2 = (ub / p["bar_a_px"]) ** 2 + (vb / (p["bar_a_px"] * p["bar_axis_ratio"])) ** 2
        parts["bar"] = np.where(m2 < 1, np.clip(1 - m2, 0, None) ** p["bar_ferrers_n"], 0.0)
        if p.get("bar_contrast"):
            # the bar's share of the light that makes it bar_contrast × as bright as the disc at 0.7 a along its
            # major axis (per unit light: each part's value there over its sum on the image); recorded in p.
            # (Without a contrast the given bar_fraction holds: the simulator before November 2026.)
            at = 0.7 * p["bar_a_px"] * np.array([cb, sb])  # (u, v) in the disc plane
            bar_per_light = (1 - 0.7**2) ** p["bar_ferrers_n"] / parts["bar"].sum()
            disc_per_light = float(_disc(p, at[0], at[1])) / disc.sum()
            ratio = p["bar_contrast"] * disc_per_light / bar_per_light  # bar light / disc light
            p["bar_fraction"] = float(ratio * (1 - p["bulge_to_total"]) / (1 + ratio))
    shares = {"bulge": p["bulge_to_total"], "bar": p["bar_fraction"]}
    shares["disc"] = 1.0 - shares["bulge"] - shares["bar"]
    sigma = p["psf_fwhm_px"] / (2 * np.sqrt(2 * np.log(2)))
    out = {}
    for name, part in parts.items():
        total = part.sum()
        out[name] = gaussian_filter(part / total * shares[name], sigma) if total > 0 else part
    return out


def projected_bar(p: dict) -> tuple[float, float]:
    """Projected full length (pixels) and position angle (radians, from +x) of the bar on the image."""
    if not p["barred"]:
        return 0.0, float("nan")
    ends = p["bar_a_px"] * np.array([np.cos(p["bar_angle"]), np.sin(p["bar_angle"]) * p["cos_incl"]])
    c, s = np.cos(p["pa"]), np.sin(p["pa"])
    on_sky = np.array([c * ends[0] - s * ends[1], s * ends[0] + c * ends[1]])
    return float(2 * np.hypot(*on_sky)), float(np.arctan2(on_sky[1], on_sky[0]) % np.pi)


def noise_sigma(model: np.ndarray, central_snr: float) -> np.ndarray:
    """The noise of each pixel: sky plus source Poisson noise, variance ∝ 1 + model/peak (the source equals the sky
    at the centre), scaled so that the centre has the drawn S/N."""
    peak = model.max()
    return peak / central_snr * np.sqrt((1 + model / peak) / 2)


def simulate_galaxy(label: str, rng: np.random.Generator, size: int = SIZE) -> GalaxyImage:
    """Draw and render one noisy cutout of a barred or unbarred disc galaxy."""
    p = draw_galaxy_parameters(label, rng, size)
    parts = galaxy_model(p, size)
    model = sum(parts.values())
    peak = model.max()
    image = model + noise_sigma(model, p["central_snr"]) * rng.standard_normal(model.shape)
    length, angle = projected_bar(p)
    p.update(bar_length_px=length, bar_length_arcsec=length * PIXEL_ARCSEC, bar_pa=angle)
    bar = parts["bar"] > MASK_SHARE * model if p["barred"] else np.zeros(model.shape, dtype=bool)
    scale = 1.0 / peak  # images in units of the model's peak brightness
    return GalaxyImage((image * scale).astype(np.float32), (model * scale).astype(np.float32), {"bar": bar}, p)
