"""Simulated survey data with known ground truth: the embedded default data set of astroxai.

``simulate_sample`` writes AGN spectra as SDSS ``spec-lite`` FITS files plus a catalogue CSV of every true
parameter; the physics is documented in :mod:`astroxai.simulate.agn` and ``docs/simulator.md``.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from astroxai.io.sdss import write_sdss_spec
from astroxai.provenance import write_run_record
from astroxai.simulate.agn import CLASSES, LOGLAM, SimulatedSpectrum, simulate_spectrum

__all__ = ["CLASSES", "DEFAULT_COUNTS", "simulate_sample", "simulate_spectrum", "SimulatedSpectrum"]

#: The paper's sample: 680 type 1, 2145 type 2, 521 intermediate.
DEFAULT_COUNTS = {"type1": 680, "type2": 2145, "intermediate": 521}
DEFAULT_SEED = 20210706  # publication date of Peruzzi et al. (2021)

CATALOG_COLUMNS = [
    "file", "label", "z", "id", "subtype", "snr_5100", "f5100", "host_fraction", "alpha_lambda", "ebv",
    "sigma_star", "young_fraction", "d4000_model", "fwhm_hb_narrow", "fwhm_oiii", "oiii_hb", "oii_hb",
    "neiii_hb", "ew_hb_narrow", "ew_oiii", "has_broad_hb", "fwhm_hb_broad", "broad_narrow_hb", "ew_hb_broad",
    "vbc_fraction", "r_feii", "fwhm_ha_broad", "broad_narrow_ha", "n_bad_pixels",
]


def _plate_mjd_fiber(index: int) -> tuple[int, int, int]:
    # Simulated spectra get plate numbers from 9000 and MJD 61000, outside the ranges of real SDSS
    # legacy plates, so they are never mistaken for real spectra; 640 fibres per plate as in SDSS-I/II.
    return 9000 + index // 640, 61000, index % 640 + 1


def _simulate_task(task) -> dict:
    """Simulate and write spectrum number ``index``; returns its catalogue row."""
    index, label, seed_sequence, spectra_dir, seed = task
    sim = simulate_spectrum(label, np.random.default_rng(seed_sequence))
    plate, mjd, fiber = _plate_mjd_fiber(index)
    name = f"spec-{plate:04d}-{mjd:05d}-{fiber:04d}.fits"
    write_sdss_spec(
        Path(spectra_dir) / name, LOGLAM, sim.flux, sim.ivar, and_mask=sim.and_mask, sky=sim.sky,
        model=sim.model, wdisp=np.full(LOGLAM.size, 0.93), plate=plate, mjd=mjd, fiber=fiber,
        z=sim.params["z"], spec_class="QSO" if label == "type1" else "GALAXY",
        header_cards={"SIMULATD": (True, "astroxai simulated spectrum"), "SIMSEED": seed},
    )
    row = {key: sim.params.get(key, "") for key in CATALOG_COLUMNS}
    row.update(file=f"spectra/{name}", id=f"{plate:04d}-{mjd:05d}-{fiber:04d}")
    return row


def seeded_labels(counts: dict, classes, seed: int, what: str = "") -> tuple[list, list]:
    """Labels in class order and one child ``SeedSequence`` per object, after checking the class names: object *i*
    uses child *i* of ``SeedSequence(seed)``, so it does not depend on how many others are made."""
    unknown = set(counts) - set(classes)
    if unknown:
        raise ValueError(f"unknown {what + ' ' if what else ''}classes {sorted(unknown)}; choose from {tuple(classes)}")
    labels = [label for label in classes for _ in range(counts.get(label, 0))]
    return labels, np.random.SeedSequence(seed).spawn(len(labels))


def simulate_sample(
    out: str | Path,
    counts: dict[str, int] | None = None,
    seed: int = DEFAULT_SEED,
    progress: Callable[[Iterable, str, int], Iterable] | None = None,
    workers: int | None = None,
) -> Path:
    """Simulate a sample and write ``out/spectra/spec-*.fits``, ``out/catalog.csv``, ``out/simulation.json``.

    Returns the path of the catalogue.  Spectrum *i* uses child *i* of ``SeedSequence(seed)``: the same
    seed and counts always give the same files, whatever the number of ``workers``.
    """
    from astroxai.parallel import ordered_map

    counts = dict(DEFAULT_COUNTS if counts is None else counts)
    labels, children = seeded_labels(counts, CLASSES, seed)
    progress = progress or (lambda iterable, desc, total: iterable)
    out = Path(out)
    spectra_dir = out / "spectra"
    spectra_dir.mkdir(parents=True, exist_ok=True)
    tasks = [(i, labels[i], children[i], str(spectra_dir), seed) for i in range(len(labels))]
    rows = list(progress(ordered_map(_simulate_task, tasks, workers), "simulating", len(tasks)))
    catalog = out / "catalog.csv"
    with open(catalog, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=CATALOG_COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    write_run_record(out, {"command": "simulate", "counts": counts, "seed": seed}, name="simulation.json")
    return catalog
