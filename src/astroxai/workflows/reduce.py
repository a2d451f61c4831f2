"""The streaming reduction: any number of spectrum files into a :class:`~astroxai.data.SpectraSet` on disk, holding
only one chunk of spectra in memory, with a manifest that gives the fate of every input (kept, or rejected with the
reason).  The steps themselves are those of :mod:`astroxai.reduce`."""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import numpy as np

from astroxai.data import SpectraSetWriter, atomic_path, csv_safe
from astroxai.errors import InputError
from astroxai.io import InputItem
from astroxai.parallel import ordered_map
from astroxai.progress import track
from astroxai.provenance import versions
from astroxai.reduce import (
    ReductionSettings,
    coverage_task,
    overlap_range,
    reduce_item,
    wavelength_grid,
)
from astroxai.spectrum import SpectrumError
from astroxai.workflows.inputs import duplicate_reason

log = logging.getLogger(__name__)

MANIFEST_COLUMNS = ["input", "id", "status", "reason", "label", "z", "z_source", "row", "frac_bad", "snr_5100"]


def write_manifest(path: str | Path, rows: list[dict]) -> Path:
    """Write one row per input (kept or rejected, with the reason) as CSV (atomically)."""
    path = Path(path)
    with atomic_path(path) as temporary, open(temporary, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=MANIFEST_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(csv_safe(row) for row in rows)
    return path


def read_manifest(path: str | Path) -> list[dict]:
    """The rows of a manifest written by :func:`write_manifest`."""
    with open(path, newline="", encoding="utf-8", errors="surrogateescape") as handle:
        return list(csv.DictReader(handle))


def manifest_path_for(output: str | Path) -> Path:
    """Where the manifest of a run writing ``output`` goes: ``<output name without its last suffix>.manifest.csv``
    beside it (``run.v1.h5`` and ``run.v2.h5`` get one each)."""
    output = Path(output)
    return output.with_name(output.with_suffix("").name + ".manifest.csv")


def check_outputs(items: list[InputItem], out: Path) -> None:
    """Refuse, before any work, an output that would overwrite one of the inputs (the data set or its manifest)."""
    targets = {out.resolve(): "the output", manifest_path_for(out).resolve(): "its manifest"}
    for item in items:
        what = targets.get(item.path.resolve())
        if what is not None:
            raise InputError(f"{what} ({item.path}) would overwrite an input: choose another --out")


def reduce_inputs(items: list[InputItem], out: str | Path, settings: ReductionSettings | None = None, *,
                  chunk_size: int = 256, workers: int | None = None, progress=None, extra_attrs: dict | None = None,
                  rejected: list[dict] | None = None) -> dict:
    """Reduce many files into a SpectraSet on disk, streaming, and write the manifest beside it.

    With no ``wave_range`` the grid spans the overlap of all spectra that pass the checks (a first
    pass reads each file to learn its rest-frame coverage; only two floats per file are kept).
    The second pass reduces ``chunk_size`` spectra at a time on ``workers`` processes and appends them
    to the HDF5 file, so memory does not grow with the number of files.  ``rejected``: fate rows of inputs the
    caller already turned down, written into the manifest after those of ``items``.  Returns a summary dict
    (counts, grid, manifest path).  Raises :class:`SpectrumError` if no input survives.
    """
    out = Path(out)
    settings = settings or ReductionSettings()
    wave_range, n_wave = settings.wave_range, settings.n_wave
    check_outputs(items, out)
    fate: dict[int, dict] = {}
    candidates = list(range(len(items)))
    pass_settings = (settings.bad_mask, workers, chunk_size, progress)
    manifest = manifest_path_for(out)
    if wave_range is None:
        wave_range, candidates = _overlap(items, fate, *pass_settings)
        if wave_range is None:
            write_manifest(manifest, [fate[i] for i in range(len(items))] + list(rejected or []))
            out.unlink(missing_ok=True)  # no older data set beside this run's manifest
            raise SpectrumError(f"no input could be read and normalised; see {manifest}")
    grid = wavelength_grid(*wave_range, n_wave)
    attrs = {"reduction": settings.record(wave_range), "n_inputs": len(items) + len(rejected or []),
             "versions": versions(), **(extra_attrs or {})}
    tasks = [(items[i], grid, settings.method, settings.bad_mask, settings.max_bad_fraction) for i in candidates]
    kept = _write_reduced(out, grid, attrs, tasks, candidates, fate, workers, chunk_size, progress)
    manifest = write_manifest(manifest, [fate[i] for i in range(len(items))] + list(rejected or []))
    if kept == 0:
        raise SpectrumError(f"no input survived the reduction; see {manifest}")
    log.info("reduced: kept %d of %d on %d points %.2f–%.2f Å", kept, attrs["n_inputs"], n_wave, *wave_range)
    return {"n_inputs": attrs["n_inputs"], "n_kept": kept, "n_rejected": attrs["n_inputs"] - kept,
            "wave_range": wave_range, "n_wave": n_wave, "manifest": str(manifest), "out": str(out)}


def _overlap(items, fate: dict, bad_mask: int, workers, chunk_size: int, progress):
    """The first pass: every input's rest-frame coverage; returns their overlap (None when no input could be read,
    each with its rejection in ``fate``) and the inputs that passed."""
    coverage = {}
    results = ordered_map(coverage_task, [(item, bad_mask) for item in items], workers, chunk_size)
    for i, (cover, rejection) in enumerate(track(progress, results, "checking coverage", len(items))):
        if cover is None:
            fate[i] = rejection
        else:
            coverage[i] = cover
    if not coverage:
        return None, []
    return overlap_range(coverage.values()), sorted(coverage)


def _write_reduced(out: Path, grid, attrs: dict, tasks, candidates, fate: dict, workers, chunk_size: int,
                   progress) -> int:
    """The second pass: reduce ``tasks`` in chunks and append the kept spectra to the data set ``out`` (abandoned
    when none is kept); every input's row goes into ``fate``.  Returns how many were kept."""
    kept = 0
    results = ordered_map(reduce_item, tasks, workers, chunk_size)
    with SpectraSetWriter(out, grid, attrs, chunk_rows=chunk_size) as writer:
        fluxes, rows, metas = [], [], []

        def flush():
            if fluxes:
                columns = {key: [m[key] for m in metas] for key in metas[0] if key != "id"}
                writer.append(np.array(fluxes), [r["label"] for r in rows], [m["id"] for m in metas], columns)
                fluxes.clear(), rows.clear(), metas.clear()

        first_of: dict[str, str] = {}  # id → the input it came from: the same spectrum twice must not be kept twice
        for i, (flux, row, meta) in zip(candidates, track(progress, results, "reducing", len(candidates)),
                                        strict=True):
            if flux is not None and meta["id"] in first_of:
                row = {**row, "status": "rejected", "reason": duplicate_reason(meta["id"], first_of[meta["id"]])}
                flux = None
            fate[i] = row
            if flux is None:
                log.debug("rejected %s: %s", row["input"], row["reason"])
                continue
            first_of[meta["id"]] = row["input"]
            row["row"] = kept
            kept += 1
            fluxes.append(flux), rows.append(row), metas.append(meta)
            if len(fluxes) >= chunk_size:
                flush()
        flush()
        attrs["n_kept"] = kept
        attrs["n_rejected"] = attrs["n_inputs"] - kept
        writer.set_attrs(attrs)
        if kept == 0:
            writer.abandon()  # no empty data set under the final name
            out.unlink(missing_ok=True)  # nor an older one beside this run's manifest
    return kept
