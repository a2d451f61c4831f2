"""Simulated survey data with known ground truth: the embedded default data set of astroxai.

``simulate_sample`` writes AGN spectra as SDSS ``spec-lite`` FITS files plus a catalogue CSV of every true
parameter (the physics: :mod:`astroxai.simulate.agn` and ``docs/simulator.md``); ``spectra_set`` gives the same
spectra reduced, in memory; ``image_set`` and :func:`astroxai.simulate.images.simulate_image_sample` do the same for
radio galaxies and barred discs; ``read_truth`` reads a simulated sample's truth back for the trust scores.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from astroxai.errors import InputError
from astroxai.io.sdss import SpecObj, write_sdss_spec
from astroxai.progress import track
from astroxai.provenance import write_run_record
from astroxai.simulate.agn import CLASSES, LOGLAM, SimulatedSpectrum, simulate_spectrum

__all__ = ["CLASSES", "DEFAULT_COUNTS", "SimulatedSpectrum", "image_set", "read_truth", "simulate_sample",
           "simulate_spectrum", "spectra_set", "survey_store"]

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
    columns = {"loglam": LOGLAM, "flux": sim.flux, "ivar": sim.ivar, "and_mask": sim.and_mask, "sky": sim.sky,
               "model": sim.model, "wdisp": np.full(LOGLAM.size, 0.93)}
    write_sdss_spec(Path(spectra_dir) / name, columns,
                    SpecObj(plate, mjd, fiber, sim.params["z"], "QSO" if label == "type1" else "GALAXY"),
                    header_cards={"SIMULATD": (True, "astroxai simulated spectrum"), "SIMSEED": seed})
    row = {key: sim.params.get(key, "") for key in CATALOG_COLUMNS}
    row.update(file=f"spectra/{name}", id=f"{plate:04d}-{mjd:05d}-{fiber:04d}")
    return row


def seeded_labels(counts: dict, classes, seed: int, what: str = "") -> tuple[list, list]:
    """Labels in class order and one child ``SeedSequence`` per object, after checking the class names: object *i*
    uses child *i* of ``SeedSequence(seed)``, so it does not depend on how many others are made."""
    unknown = set(counts) - set(classes)
    if unknown:
        raise InputError(f"unknown {what + ' ' if what else ''}classes {sorted(unknown)}; choose from {tuple(classes)}")
    labels = [label for label in classes for _ in range(counts.get(label, 0))]
    return labels, np.random.SeedSequence(seed).spawn(len(labels))


def simulate_sample(
    out: str | Path,
    counts: dict[str, int] | None = None,
    seed: int = DEFAULT_SEED,
    progress=None,
    workers: int | None = None,
) -> Path:
    """Simulate a sample and write ``out/spectra/spec-*.fits``, ``out/catalog.csv``, ``out/simulation.json``.

    Returns the path of the catalogue.  Spectrum *i* uses child *i* of ``SeedSequence(seed)``: the same
    seed and counts always give the same files, whatever the number of ``workers``.
    """
    from astroxai.parallel import ordered_map

    counts = dict(DEFAULT_COUNTS if counts is None else counts)
    labels, children = seeded_labels(counts, CLASSES, seed)
    out = Path(out)
    spectra_dir = out / "spectra"
    spectra_dir.mkdir(parents=True, exist_ok=True)
    tasks = [(i, labels[i], children[i], str(spectra_dir), seed) for i in range(len(labels))]
    rows = list(track(progress, ordered_map(_simulate_task, tasks, workers), "simulating", len(tasks)))
    catalog = out / "catalog.csv"
    with open(catalog, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=CATALOG_COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    write_run_record(out, {"command": "simulate", "counts": counts, "seed": seed}, name="simulation.json")
    return catalog


def spectra_set(counts: dict[str, int] | None = None, seed: int = DEFAULT_SEED, *, grid=None, n_wave: int = 1000):
    """Simulated spectra reduced in memory, without files: the same spectra :func:`simulate_sample` writes with the
    same seed and counts (stored at the float32 precision of the FITS files), reduced by
    :func:`astroxai.reduce.reduce_spectra` onto ``grid`` (default: ``n_wave`` points over their common range).

    Examples
    --------
    >>> from astroxai import simulate
    >>> data = simulate.spectra_set({"type1": 3, "type2": 3}, seed=4, n_wave=200)
    >>> len(data), data.classes, data.flux.shape[1]
    (6, ['type1', 'type2'], 200)
    """
    from astroxai.reduce import reduce_spectra
    from astroxai.simulate.agn import LOGLAM
    from astroxai.spectrum import Spectrum

    counts = dict(DEFAULT_COUNTS if counts is None else counts)
    labels, children = seeded_labels(counts, CLASSES, seed)
    wavelength = 10.0 ** LOGLAM.astype(np.float32).astype(np.float64)
    spectra = []
    for index, (label, child) in enumerate(zip(labels, children, strict=True)):
        sim = simulate_spectrum(label, np.random.default_rng(child))
        plate, mjd, fiber = _plate_mjd_fiber(index)
        spectra.append(Spectrum(wavelength, sim.flux.astype(np.float32), sim.ivar.astype(np.float32),
                                sim.and_mask.astype(np.int32), z=float(np.float32(sim.params["z"])),
                                id=f"{plate:04d}-{mjd:05d}-{fiber:04d}"))
    data, _ = reduce_spectra(spectra, grid, labels=labels, n_wave=n_wave)
    data.attrs.update(seed=seed, counts=counts, simulated=True)
    return data


def image_set(kind: str, counts: dict[str, int] | None = None, seed: int | None = None):
    """Simulated image cutouts in memory (``kind`` ``'radio'`` or ``'galaxy'``): the :class:`~astroxai.data.ImageSet`
    :func:`astroxai.simulate.images.simulate_image_sample` writes with the same seed and counts, without the files.

    Examples
    --------
    >>> from astroxai import simulate
    >>> data = simulate.image_set("galaxy", {"barred": 2, "unbarred": 2}, seed=5)
    >>> data.shape, sorted(data.masks)
    ((1, 64, 64), ['bar'])
    """
    from astroxai.simulate.images import DEFAULT_IMAGE_SEED, simulate_images

    return simulate_images(kind, counts, DEFAULT_IMAGE_SEED if seed is None else seed)[0]


def read_truth(catalog, ids) -> dict | None:
    """The simulator's per-spectrum truth (label, broad Hβ, its FWHM, R_FeII) in the order of ``ids``, from a
    simulated sample's ``catalog.csv``; None when the catalogue does not list every id (real data)."""
    with open(catalog, newline="", encoding="utf-8", errors="surrogateescape") as handle:
        reader = csv.DictReader(handle)
        if not {"id", "has_broad_hb"} <= set(reader.fieldnames or ()):  # not a simulated sample's catalogue
            return None
        rows = {row["id"]: row for row in reader}
    if not all(i in rows for i in ids):
        return None

    def number(value):
        try:
            return float(value)
        except (TypeError, ValueError):
            return np.nan

    pick = [rows[i] for i in ids]
    return {"label": np.array([r["label"] for r in pick]),
            "broad": np.array([r["has_broad_hb"] == "True" for r in pick]),
            "fwhm": np.array([number(r.get("fwhm_hb_broad")) for r in pick]),
            "r_feii": np.array([number(r.get("r_feii")) for r in pick])}


def survey_store(path, n: int, seed: int = DEFAULT_SEED, *, distinct: int = 3000, counts: dict | None = None,
                 grid=None, n_wave: int = 1000, chunk: int = 16384, progress=None) -> Path:
    """A reduced store of ``n`` spectra (up to millions) for the survey benchmarks, written straight to HDF5.

    The simulator makes about 200 spectra per second per core, so a million would take hours: instead ``distinct``
    spectra are simulated (the class shares of ``counts``, default the paper's), and each stored spectrum is one of
    them, drawn at random, with fresh Gaussian noise of a drawn level (σ = 0.01–0.1 of the flux at 5100 Å, the
    simulated sample's range).  Memory is one ``chunk`` of spectra; ids are ``survey-<number>``.
    """
    from astroxai.data import SpectraSetWriter

    counts = dict(DEFAULT_COUNTS if counts is None else counts)
    total = sum(counts.values())
    base_counts = {c: max(1, round(distinct * k / total)) for c, k in counts.items()}
    base = spectra_set(base_counts, seed, grid=grid, n_wave=n_wave)
    rng = np.random.default_rng([seed, n])
    attrs = {**base.attrs, "survey_store": {"n": n, "distinct": len(base), "noise": "gaussian, sigma 0.01-0.1",
                                            "seed": seed}}
    width = len(str(n - 1))
    with SpectraSetWriter(path, base.wavelength, attrs, chunk_rows=1024) as writer:
        for start in track(progress, range(0, n, chunk), "writing the store", -(-n // chunk)):
            k = min(chunk, n - start)
            pick = rng.integers(0, len(base), k)
            sigma = rng.uniform(0.01, 0.1, k).astype(np.float32)
            flux = base.flux[pick] + sigma[:, None] * rng.standard_normal((k, base.flux.shape[1]), dtype=np.float32)
            ids = [f"survey-{i:0{width}d}" for i in range(start, start + k)]
            writer.append(flux, base.labels[pick], ids, {"noise_sigma": sigma.astype(np.float64),
                                                         "template": base.ids[pick]})
    return Path(path)
