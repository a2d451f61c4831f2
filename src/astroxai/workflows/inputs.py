"""What a command was given, turned into the data set a model takes, with the fate of every input.

:func:`gather` takes a fitted model and a list of inputs (files, folders, catalogue CSVs, ``.h5`` data sets) and
returns one fate row per input — kept, or rejected with the reason — and the kept inputs as one data set on the
model's grid.  The model decides how: raw spectra are reduced with its own grid and settings, image files are read
and checked against its image shape.  A broken input costs one row, never the batch.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from astroxai.data import ImageSet, LabelledSet, SpectraSet, fate
from astroxai.errors import InputError
from astroxai.io import collect_inputs, read_image_inputs
from astroxai.io.images import CutoutPreparation
from astroxai.models.persist import GridMismatchError
from astroxai.parallel import ordered_map
from astroxai.progress import track
from astroxai.reduce import ReductionSettings, reduce_item

log = logging.getLogger(__name__)

SET_SUFFIXES = (".h5", ".hdf5")


def load_dataset(path, kind: type | None = None, finite: bool = False) -> LabelledSet:
    """A data set file (SpectraSet or ImageSet; ``kind`` to insist on one), with a message naming the file when it
    is not one.

    ``finite=True`` (for the commands that fit to or compare whole sets: train, evaluate, embed, trust) leaves out
    every input with a non-finite value — one NaN row would otherwise stop the fit — says so, and records their ids
    in ``attrs['left_out_non_finite']``."""
    kind = kind or LabelledSet
    try:
        data = kind.load(path)
    except (OSError, ValueError, KeyError) as error:
        message = str(error)
        raise InputError(message if str(path) in message else f"{path}: not an astroxai data set ({message})") from None
    if finite:
        good = data.finite()
        if not good.all():
            left = [str(i) for i in data.ids[~good]]
            log.warning("%s: %d of %d inputs hold non-finite values and are left out (first: %s)", path, len(left),
                        len(data), ", ".join(left[:5]))
            data = data.subset(np.flatnonzero(good))
            data.attrs["left_out_non_finite"] = left
            if not len(data):
                raise InputError(f"{path}: every input holds non-finite values")
    return data


#: Data sets a command can name instead of giving a file: name → what it is.
NAMED_SETS = {"first": "the real FIRST radio galaxies of Griese et al. (2023), from the firstgalaxydata package"}


def named_or_file_dataset(name_or_path, finite: bool = False, progress=None) -> LabelledSet:
    """A data set named in :data:`NAMED_SETS` (``first``: :func:`astroxai.io.first.first_galaxies` with its default
    cut and binning), or else the data set file at that path (:func:`load_dataset`)."""
    if str(name_or_path) in NAMED_SETS and not Path(name_or_path).exists():
        from astroxai.io.first import first_galaxies

        data, fates = first_galaxies(progress=progress)
        rejected = [row for row in fates if row["status"] != "kept"]
        if rejected:
            log.warning("first: %d of %d cutouts rejected (first: %s: %s)", len(rejected), len(fates),
                        rejected[0]["input"], rejected[0]["reason"])
        return data
    return load_dataset(name_or_path, finite=finite)


def reduction_tasks(model, items) -> list[tuple]:
    """:func:`astroxai.reduce.reduce_item` tasks that prepare each input exactly as the model's training set was
    prepared (its grid, resampling method and bad-pixel settings)."""
    settings = ReductionSettings.from_record(model.reduction_)
    return [(item, np.asarray(model.grid_, dtype=float), settings.method, settings.bad_mask, settings.max_bad_fraction)
            for item in items]


def _reject(path, input_id, reason) -> dict:
    return fate(path, input_id, "rejected", reason, label="")


def _load_set(model, path: Path) -> tuple[LabelledSet | None, dict | None]:
    """A data set file checked against the model, or the fate row saying why it cannot be used."""
    try:
        data = load_dataset(path)
        if data.modality != model.modality:
            raise InputError(f"{path} holds {data.modality}, the model takes {model.modality}")
        model.check_grid_of(data.grid)
    except (ValueError, GridMismatchError) as error:
        return None, _reject(path, path.stem, str(error))
    return data, None


def _usable_set(model, path: Path, fates: list[dict]) -> LabelledSet | None:
    """A data set file's inputs the model can take, each with a kept row in ``fates``; the file gets one rejected row
    when it cannot be used, an input one when it holds NaN or infinite values."""
    data, rejection = _load_set(model, path)
    if data is None:
        fates.append(rejection)
        return None
    bad = ~data.finite()
    for i in np.flatnonzero(bad):
        fates.append(_reject(path, data.ids[i], "holds NaN or infinite values"))
    data = data.subset(np.flatnonzero(~bad)) if bad.any() else data
    fates += [fate(path, i, "kept", label=label) for i, label in zip(data.ids, data.labels, strict=True)]
    return data


def reduced_chunks(model, items, *, workers: int | None = None, chunk_size: int = 256, progress=None):
    """Raw spectrum files reduced for ``model``, ``chunk_size`` at a time: yields ``(fates, SpectraSet or None)`` per
    chunk, so memory does not grow with the number of files (one process pool serves every chunk)."""
    grid = np.asarray(model.grid_, dtype=np.float64)
    tasks = reduction_tasks(model, items)
    fates, fluxes, labels, ids, redshifts = [], [], [], [], []

    def flush():
        data = None
        if fluxes:
            data = SpectraSet(np.asarray(fluxes, dtype=np.float32).reshape(-1, grid.size), grid, labels, ids,
                              {"z": list(redshifts)})
        chunk = (list(fates), data)
        fates.clear(), fluxes.clear(), labels.clear(), ids.clear(), redshifts.clear()
        return chunk

    results = ordered_map(reduce_item, tasks, workers, chunk_size)
    for flux, row, meta in track(progress, results, "reducing", len(tasks)):
        fates.append(fate(row["input"], row["id"], row["status"], row["reason"], label=row["label"]))
        if flux is None:
            log.debug("rejected %s: %s", row["input"], row["reason"])
        else:
            fluxes.append(flux)
            labels.append(row["label"])
            ids.append(row["id"])
            redshifts.append(meta["z"])
        if len(fates) >= chunk_size:
            yield flush()
    if fates:
        yield flush()


def duplicate_reason(input_id, first_input) -> str:
    """Why an input whose id an earlier input already gave is rejected: a table row must name one spectrum."""
    return f"duplicate id {input_id} (already kept from {first_input})"


def keep_first_of_each_id(fates: list[dict], data: SpectraSet | None) -> SpectraSet | None:
    """Turn every kept input whose id an earlier kept input has into a rejection (:func:`duplicate_reason`), in
    ``fates`` (in place), and return ``data`` (one row per kept fate, in order) without those rows."""
    first_of, keep = {}, []
    for row in fates:
        if row["status"] != "kept":
            continue
        keep.append(row["id"] not in first_of)
        if keep[-1]:
            first_of[row["id"]] = row["input"]
        else:
            row.update(status="rejected", reason=duplicate_reason(row["id"], first_of[row["id"]]))
    return data.subset(np.flatnonzero(keep)) if data is not None and not all(keep) else data


def gather_spectra(model, inputs, catalog=None, *, workers: int | None = None, progress=None):
    """Spectra for a spectra model: data set files as they are (grid checked), raw files reduced with the model's
    settings.  Returns ``(fates, SpectraSet or None)``; the fluxes are float32, as a data set stores them, so a raw
    file gets exactly the result it gets after ``astroxai reduce``."""
    fates, parts = [], []
    inputs = [Path(p) for p in inputs]
    for path in [p for p in inputs if p.suffix.lower() in SET_SUFFIXES]:
        kept = _usable_set(model, path, fates)
        if kept is not None:
            parts.append((kept.flux, kept.labels, kept.ids))
    raw = [p for p in inputs if p.suffix.lower() not in SET_SUFFIXES]
    items = collect_inputs(raw, catalog) if raw else []
    for chunk_fates, chunk in reduced_chunks(model, items, workers=workers, progress=progress):
        fates += chunk_fates
        if chunk is not None:
            parts.append((chunk.flux, chunk.labels, chunk.ids))
    if not parts:
        return fates, None
    grid = np.asarray(model.grid_, dtype=np.float64)
    return fates, SpectraSet(np.concatenate([p[0] for p in parts]).reshape(-1, grid.size), grid,
                             np.concatenate([np.asarray(p[1], dtype=object) for p in parts]),
                             np.concatenate([np.asarray(p[2], dtype=object) for p in parts]))


def gather_images(model, inputs, catalog=None, *, workers: int | None = None, progress=None):
    """Images for an image model: image sets as they are (shape checked), FITS/PNG/JPEG files, folders of them and
    catalogues naming them read, cut and binned as the model's training images were (when its ``model.json`` says how)
    and checked against the model's image shape, with their labels (and other columns) from ``catalog``.
    Returns ``(fates, ImageSet or None)``."""
    fates, sets, files = [], [], []
    for path in map(Path, inputs):
        if path.suffix.lower() in SET_SUFFIXES:
            kept = _usable_set(model, path, fates)
            if kept is not None:
                sets.append(kept)
        else:
            files.append(path)
    if files:
        channels, height, width = model.grid_
        # a model that records how its training images were cut from a survey's cutouts takes those cutouts as
        # they come (io.images.CutoutPreparation); others take images of their own size only
        preparation = CutoutPreparation.from_record((getattr(model, "reduction_", None) or {}).get("preparation"))
        found, file_fates = read_image_inputs(files, catalog, shape=(height, width), channels=channels,
                                              preparation=preparation)
        fates += file_fates
        if found is not None:
            sets.append(found)
    return fates, (ImageSet.concatenate(sets) if sets else None)


def gather(model, inputs, catalog=None, *, workers: int | None = None, progress=None):
    """:func:`gather_spectra` or :func:`gather_images`, whichever the model takes."""
    how = GATHERERS.get(model.modality)
    if how is None:
        raise InputError(f"no reader of {model.modality} inputs is known (known: {', '.join(GATHERERS)})")
    return how(model, inputs, catalog, workers=workers, progress=progress)


#: Modality → how the inputs of a command become the data set a model of that modality takes.
GATHERERS = {"spectra": gather_spectra, "images": gather_images}
