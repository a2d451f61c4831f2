"""FIRST-like radio cutouts of four morphologies, with ground-truth masks of every component.

The VLA FIRST survey (Becker, White & Helfand 1995) images the sky at 1.4 GHz with a 5.4″ FWHM beam on 1.8″
pixels, to a typical rms of 0.15 mJy/beam; morphology classifiers (and the LIME study of Liang et al. 2023,
arXiv:2307.03453) work on such cutouts.
Each image is built on the sky in mJy/beam:

* **compact** — an unresolved or barely resolved source (intrinsic FWHM 0–3″) at the centre;
* **FR I** (Fanaroff & Riley 1974, edge-darkened) — a core and two jets whose brightness falls with distance from
  the core and whose width grows along them (plumes), with a small random asymmetry;
* **FR II** (edge-brightened) — a faint core, two elongated lobes and a compact hot spot at the outer end of each;
  the hot spots are the brightest features far from the core;
* **bent tail** (narrow- and wide-angle tails of cluster radio galaxies) — a core and two FR I-like jets bent the same
  way along circular arcs, so that the source looks like a U or a V.

Every extended source gets a random position angle, a largest angular size (FR I/bent 25–80″, FR II 35–100″, the
range FIRST resolves inside a 115″ cutout) and a random peak S/N (log-uniform 10–300).  The sky model is a sum of
elliptical Gaussians convolved with the beam (a Gaussian of the same FWHM added in quadrature to each component's
width — exact for Gaussians, so no pixel-grid convolution is needed).  Noise is white noise convolved with the
beam and rescaled to the drawn rms, so neighbouring pixels are correlated as in an interferometric map.

Ground truth per image: a boolean mask per component (``core``, ``jets``, ``lobes``, ``hotspots``) where that
component's beam-convolved brightness exceeds 2 × rms — the pixels a radio astronomer would attribute to it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from astroxai.errors import InputError

RADIO_CLASSES = ("compact", "FRI", "FRII", "bent")
COMPONENTS = ("core", "jets", "lobes", "hotspots")
PIXEL_ARCSEC = 1.8
BEAM_FWHM_ARCSEC = 5.4
RMS_MJY = 0.15
SIZE = 64
FWHM_TO_SIGMA = 1.0 / (2.0 * np.sqrt(2.0 * np.log(2.0)))
MASK_SIGMA = 2.0  # a component's pixels: where its convolved brightness exceeds this many rms


@dataclass
class RadioImage:
    """One simulated cutout: the noisy image, the noiseless model, masks and the drawn parameters."""

    image: np.ndarray  # (H, W) mJy/beam
    model: np.ndarray  # (H, W) mJy/beam, noiseless
    masks: dict  # component → (H, W) bool
    params: dict


def _gaussian(x, y, x0, y0, sigma_major, sigma_minor, angle):
    """Unit-peak elliptical Gaussian on the pixel grid (angle of the major axis from +x, radians)."""
    c, s = np.cos(angle), np.sin(angle)
    dx, dy = x - x0, y - y0
    u = c * dx + s * dy
    v = -s * dx + c * dy
    return np.exp(-0.5 * ((u / sigma_major) ** 2 + (v / sigma_minor) ** 2))


class _Sky:
    """Accumulates beam-convolved Gaussian components (in pixels) per named component."""

    def __init__(self, size: int, beam_sigma_px: float):
        self.y, self.x = np.mgrid[0:size, 0:size].astype(np.float64)
        self.beam = beam_sigma_px
        self.parts = {name: np.zeros((size, size)) for name in COMPONENTS}

    def add(self, component: str, x0, y0, flux, sigma_major=0.0, sigma_minor=0.0, angle=0.0):
        """A Gaussian of intrinsic widths σ (pixels) convolved with the beam; ``flux`` is its integrated flux in
        units of a point source's peak, so the convolved peak is ``flux × beam area / convolved area``."""
        major = np.hypot(sigma_major, self.beam)
        minor = np.hypot(sigma_minor, self.beam)
        peak = flux * self.beam**2 / (major * minor)  # the convolution conserves the integrated flux
        self.parts[component] += peak * _gaussian(self.x, self.y, x0, y0, major, minor, angle)


def _correlated_noise(rng, size: int, beam_sigma_px: float, rms: float) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    noise = gaussian_filter(rng.standard_normal((size, size)), beam_sigma_px, mode="wrap")
    return noise * (rms / noise.std())


def draw_radio_parameters(label: str, rng: np.random.Generator, size: int = SIZE) -> dict:
    """Position angle, size, S/N and shape parameters of one source of class ``label``."""
    if label not in RADIO_CLASSES:
        raise InputError(f"unknown radio class {label!r}; choose from {RADIO_CLASSES}")
    p = {"label": label, "angle": float(rng.uniform(0, np.pi)), "peak_snr": float(np.exp(rng.uniform(np.log(10),
                                                                                                          np.log(300)))),
         "x0": float(size / 2 - 0.5 + rng.normal(0, 1.0)), "y0": float(size / 2 - 0.5 + rng.normal(0, 1.0)),
         "rms_mjy": float(RMS_MJY * rng.uniform(0.8, 1.3))}
    if label == "compact":
        p["las_arcsec"] = float(rng.uniform(0.0, 3.0))
    elif label == "FRII":
        p["las_arcsec"] = float(rng.uniform(35, 100))
        p["core_fraction"] = float(rng.uniform(0.02, 0.15))
        p["asymmetry"] = float(rng.uniform(0.7, 1.0))
    else:
        p["las_arcsec"] = float(rng.uniform(25, 80))
        p["core_fraction"] = float(rng.uniform(0.3, 0.7))
        p["asymmetry"] = float(rng.uniform(0.6, 1.0))
        if label == "bent":
            p["bend_deg"] = float(rng.uniform(40, 150))  # angle turned by each jet along its arc
    return p


def radio_model(p: dict, size: int = SIZE, pixel_arcsec: float = PIXEL_ARCSEC,
                beam_fwhm_arcsec: float = BEAM_FWHM_ARCSEC) -> dict:
    """The noiseless beam-convolved components of a source (component → (H, W) arrays, unit peak before scaling)."""
    beam = beam_fwhm_arcsec * FWHM_TO_SIGMA / pixel_arcsec
    sky = _Sky(size, beam)
    x0, y0, angle = p["x0"], p["y0"], p["angle"]
    half = 0.5 * p["las_arcsec"] / pixel_arcsec  # half the largest angular size, pixels
    label = p["label"]
    if label == "compact":
        sigma = p["las_arcsec"] * FWHM_TO_SIGMA / pixel_arcsec
        sky.add("core", x0, y0, 1.0, sigma, sigma)
    elif label == "FRII":
        sky.add("core", x0, y0, p["core_fraction"])
        for side, weight in ((1, 1.0), (-1, p["asymmetry"])):
            direction = np.array([np.cos(angle), np.sin(angle)]) * side
            lobe = np.array([x0, y0]) + direction * 0.72 * half
            sky.add("lobes", *lobe, 0.9 * weight, 0.28 * half, 0.12 * half, angle)
            spot = np.array([x0, y0]) + direction * 0.95 * half
            sky.add("hotspots", *spot, 0.6 * weight, 0.6, 0.6)
    else:
        sky.add("core", x0, y0, p["core_fraction"])
        steps = 14
        for side, weight in ((1, 1.0), (-1, p["asymmetry"])):
            for k in range(1, steps + 1):
                t = k / steps  # fraction of the way along the jet
                distance = t * half
                if label == "bent":
                    # both jets turn towards the same side (the direction of the host's motion)
                    turn = np.radians(p["bend_deg"]) * t * (1 if side > 0 else -1)
                    heading = angle + (0 if side > 0 else np.pi) + turn
                    # integrate the arc: position = start + ∫ heading dl, done by the chord of a circular arc
                    if abs(turn) > 1e-6:
                        radius = distance / abs(turn)
                        base = angle + (0 if side > 0 else np.pi)
                        chord = 2 * radius * np.sin(abs(turn) / 2)
                        mid = base + turn / 2
                        pos = np.array([x0, y0]) + chord * np.array([np.cos(mid), np.sin(mid)])
                    else:
                        pos = np.array([x0, y0]) + distance * np.array([np.cos(heading), np.sin(heading)])
                else:
                    heading = angle + (0 if side > 0 else np.pi)
                    pos = np.array([x0, y0]) + distance * np.array([np.cos(heading), np.sin(heading)])
                brightness = weight * 0.25 * np.exp(-2.2 * t)  # edge-darkened: fades away from the core
                width = 0.3 + 0.14 * distance  # plumes widen downstream
                sky.add("jets", *pos, brightness, 0.08 * half + 0.5, width, heading)
    return sky.parts


def simulate_radio(label: str, rng: np.random.Generator, size: int = SIZE) -> RadioImage:
    """Draw and render one noisy FIRST-like cutout of class ``label`` with its component masks."""
    p = draw_radio_parameters(label, rng, size)
    parts = radio_model(p, size)
    total = sum(parts.values())
    scale = p["peak_snr"] * p["rms_mjy"] / total.max()
    model = total * scale
    beam = BEAM_FWHM_ARCSEC * FWHM_TO_SIGMA / PIXEL_ARCSEC
    image = model + _correlated_noise(rng, size, beam, p["rms_mjy"])
    masks = {name: part * scale > MASK_SIGMA * p["rms_mjy"] for name, part in parts.items()}
    p["peak_mjy"] = float(model.max())
    p["total_flux_mjy"] = float(model.sum() / (2 * np.pi * beam**2))  # Jy/beam summed over beam areas
    return RadioImage(image.astype(np.float32), model.astype(np.float32), masks, p)
