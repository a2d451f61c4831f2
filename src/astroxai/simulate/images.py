"""Simulated image samples on disk: FITS cutouts with a WCS, a catalogue of every true parameter, and the ImageSet.

``simulate_image_sample(out, 'radio' | 'galaxy', counts, seed)`` writes

* ``out/cutouts/<id>.fits`` — one cutout per image, in mJy/beam (radio) or in units of the galaxy's peak
  brightness (galaxy), with a TAN WCS centred on a random position (radio: inside the FIRST footprint at
  δ = 0°–60°, 1.8″ pixels; galaxies: SDSS-like, 0.792″ pixels) and ``SIMULATD = T``;
* ``out/catalog.csv`` — ``file, id, label`` and every drawn parameter (bar lengths in px and arcsec, S/N, …);
* ``out/images.h5`` — the :class:`~astroxai.images.ImageSet` with the ground-truth masks, ready for training;
* ``out/simulation.json`` — counts, seed and versions.

Image *i* uses child *i* of ``SeedSequence(seed)``, so an image does not depend on how many others are made.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from astroxai.errors import InputError
from astroxai.provenance import write_run_record

DEFAULT_IMAGE_SEED = 20230707
DEFAULT_IMAGE_COUNTS = {
    "radio": {"compact": 300, "FRI": 300, "FRII": 300, "bent": 300},
    "galaxy": {"unbarred": 600, "barred": 600},
}


def _radio():
    from astroxai.simulate.radio import BEAM_FWHM_ARCSEC, COMPONENTS, PIXEL_ARCSEC, RADIO_CLASSES, simulate_radio

    info = {"pixel_arcsec": PIXEL_ARCSEC, "beam_fwhm_arcsec": BEAM_FWHM_ARCSEC, "unit": "mJy/beam",
            "survey": "FIRST-like"}
    return RADIO_CLASSES, COMPONENTS, simulate_radio, info


def _galaxy():
    from astroxai.simulate.galaxy import GALAXY_CLASSES, PIXEL_ARCSEC, simulate_galaxy

    return GALAXY_CLASSES, ("bar",), simulate_galaxy, {"pixel_arcsec": PIXEL_ARCSEC, "unit": "peak brightness",
                                                      "survey": "SDSS-like"}


#: Kind of image → its simulator's classes, components, function and description.
SIMULATORS = {"radio": _radio, "galaxy": _galaxy}


def _simulators(kind: str):
    if kind in SIMULATORS:
        return SIMULATORS[kind]()
    raise InputError(f"unknown image kind {kind!r}; choose 'radio' or 'galaxy'")


def _wcs_header(rng: np.random.Generator, size: int, pixel_arcsec: float, dec_range=(0.0, 60.0)):
    from astropy.wcs import WCS

    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [float(rng.uniform(120.0, 240.0)), float(rng.uniform(*dec_range))]
    wcs.wcs.crpix = [size / 2 + 0.5, size / 2 + 0.5]
    wcs.wcs.cdelt = [-pixel_arcsec / 3600.0, pixel_arcsec / 3600.0]
    return wcs.to_header()


def _simulate_task(task):
    """Simulate image number ``index`` (and write its FITS cutout when ``cutouts`` is a folder); returns its
    catalogue row and the simulation."""
    index, kind, label, seed_sequence, cutouts = task
    _, _, simulate, info = _simulators(kind)
    rng = np.random.default_rng(seed_sequence)
    sim = simulate(label, rng)
    image_id = f"{kind}-{index + 1:06d}"
    params = {k: v for k, v in sim.params.items() if k != "label"}
    if cutouts is None:
        return {"file": "", "id": image_id, "label": label, **params}, sim
    header = _wcs_header(rng, sim.image.shape[0], info["pixel_arcsec"])
    header["BUNIT"] = info["unit"]
    header["SIMULATD"] = (True, "astroxai simulated image")
    header["OBJECT"] = label
    from astropy.io import fits

    path = Path(cutouts) / f"{image_id}.fits"
    fits.PrimaryHDU(sim.image, header=header).writeto(path, overwrite=True)
    return {"file": f"cutouts/{path.name}", "id": image_id, "label": label, **params}, sim


def simulate_images(kind: str, counts: dict | None = None, seed: int = DEFAULT_IMAGE_SEED, *, cutouts=None,
                    workers: int | None = None, progress=None):
    """Simulate ``counts`` images of ``kind`` and return ``(ImageSet, catalogue rows)``; with ``cutouts`` (a folder)
    each image is also written there as a FITS file with a WCS."""
    from astroxai.data import ImageSet
    from astroxai.parallel import ordered_map
    from astroxai.progress import track
    from astroxai.simulate import seeded_labels

    classes, components, _, info = _simulators(kind)
    counts = dict(DEFAULT_IMAGE_COUNTS[kind] if counts is None else counts)
    labels, children = seeded_labels(counts, classes, seed, kind)
    tasks = [(i, kind, labels[i], children[i], None if cutouts is None else str(cutouts)) for i in range(len(labels))]
    rows, images, masks = [], [], {c: [] for c in components}
    for row, sim in track(progress, ordered_map(_simulate_task, tasks, workers), f"simulating {kind} images",
                          len(tasks)):
        rows.append(row)
        images.append(sim.image)
        for c in components:
            masks[c].append(sim.masks[c])
    columns = list(dict.fromkeys(key for row in rows for key in row))
    meta = {key: [row.get(key) for row in rows] for key in columns if key not in ("id", "label")}
    data = ImageSet(np.stack(images), labels, [r["id"] for r in rows],
                    masks={c: np.stack(m) for c, m in masks.items()}, meta=meta,
                    attrs={"kind": kind, "seed": seed, "counts": counts, **info})
    return data, rows


def simulate_image_sample(out, kind: str, counts: dict | None = None, seed: int = DEFAULT_IMAGE_SEED,
                          progress=None, workers: int | None = None) -> Path:
    """Simulate ``counts`` (class → number) images of ``kind`` and write them (see the module doc); returns the path
    of ``images.h5``."""
    out = Path(out)
    cutouts = out / "cutouts"
    cutouts.mkdir(parents=True, exist_ok=True)
    counts = dict(DEFAULT_IMAGE_COUNTS[kind] if counts is None else counts)
    data, rows = simulate_images(kind, counts, seed, cutouts=cutouts, workers=workers, progress=progress)
    columns = list(dict.fromkeys(key for row in rows for key in row))
    with open(out / "catalog.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    path = data.save(out / "images.h5")
    write_run_record(out, {"command": "simulate", "kind": kind, "counts": counts, "seed": seed},
                     name="simulation.json")
    return path
