"""A survey folder read back: the summary of its Parquet parts (with the ids kept twice), its table, its maps and
its density on a t-SNE map.  :mod:`astroxai.workflows.survey` writes the folder; these read it."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from astroxai.data.base import atomic_path
from astroxai.errors import InputError

log = logging.getLogger(__name__)

#: The survey folder's record, Parquet data set and Zarr maps.
RECORD, PARTS, MAPS = "survey.json", "survey.parquet", "maps"
#: ... and what ``astroxai view`` adds to it: the inspection's verdicts and the exported selections.
VERDICTS, SELECTIONS = "verdicts.csv", "selections"


def summarise(out: Path, partitions: list, model) -> dict:
    """Counts over the Parquet parts on disk, and the check that every input is there exactly once."""
    import pyarrow.dataset as ds

    folder = out / PARTS
    if not folder.is_dir() or not any(folder.glob("part-*.parquet")):
        return {"n_kept": 0, "n_rejected": 0, "n_rows": 0}
    import pyarrow.compute as pc

    table = ds.dataset(folder, format="parquet").to_table(columns=["index", "status", "id", "input"])
    index = table.column("index").to_numpy()
    kept = table.filter(pc.equal(table["status"], "kept"))  # in Arrow: no Python string per row
    expected = sum(len(p) for p in partitions if (folder / f"{p.name}.parquet").is_file())
    if len(np.unique(index)) != len(index) or len(index) != expected:
        raise InputError(f"{folder}: {len(index)} rows for {expected} inputs, {len(index) - len(np.unique(index))} "
                         "twice: the parts are inconsistent (run again with --restart)")
    return {"n_rows": int(len(index)), "n_kept": kept.num_rows, "n_rejected": int(len(index)) - kept.num_rows,
            "classes": [str(c) for c in model.classes_], "n_ids_kept_twice": repeated_ids(out, kept)}


def repeated_ids(out: Path, kept) -> int:
    """Ids kept in more than one partition (a partition drops its own repeats, but partitions run apart, so the
    same spectrum under two file names in two partitions is surveyed twice): listed in ``duplicates.csv`` — id,
    survey index and input of each copy — so that a catalogue built from the survey can keep one; returns how many
    ids.  The rows themselves stay as they are (every partition's part is final once written).  Counted in Arrow,
    so that millions of rows cost no Python objects.  ``kept``: the kept rows of the survey's table."""
    import csv

    import pyarrow.compute as pc

    counts = pc.value_counts(kept["id"])
    repeated = counts.field("values").filter(pc.greater(counts.field("counts"), 1))
    target = out / "duplicates.csv"
    if len(repeated) == 0:
        target.unlink(missing_ok=True)
        return 0
    copies = kept.filter(pc.is_in(kept["id"], value_set=repeated)).sort_by([("id", "ascending"),
                                                                             ("index", "ascending")])
    with atomic_path(target) as temporary, open(temporary, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "index", "input"])
        writer.writerows(zip(*(copies[c].to_pylist() for c in ("id", "index", "input")), strict=True))
    log.warning("%d ids were kept in more than one partition (the same spectrum under another name): listed in %s",
                len(repeated), target)
    return len(repeated)


def survey_density(out, edges) -> tuple[np.ndarray, int]:
    """The 2-D histogram of a survey's placed spectra on ``edges`` (x edges, y edges), read part by part (two
    columns), and how many fell outside them."""
    import pyarrow.dataset as ds

    counts = np.zeros((len(edges[0]) - 1, len(edges[1]) - 1))
    outside = 0
    for batch in ds.dataset(Path(out) / PARTS, format="parquet").to_batches(columns=["tsne_x", "tsne_y"]):
        x = batch.column("tsne_x").to_numpy(zero_copy_only=False)
        y = batch.column("tsne_y").to_numpy(zero_copy_only=False)
        placed = np.isfinite(x) & np.isfinite(y)
        inside = placed & (x >= edges[0][0]) & (x <= edges[0][-1]) & (y >= edges[1][0]) & (y <= edges[1][-1])
        counts += np.histogram2d(x[inside], y[inside], bins=edges)[0]
        outside += int((placed & ~inside).sum())
    return counts, outside


def draw_survey_map(out, embedding, bins: int = 160) -> Path:
    """``survey_map.png``: the reference map beside the survey as a density image on it (see
    :func:`~astroxai.report.figures.explain.plot_survey_density`)."""
    from astroxai.report.figures import save_figure
    from astroxai.report.figures.explain import plot_survey_density

    low, high = embedding.coords.min(axis=0), embedding.coords.max(axis=0)
    pad = 0.08 * (high - low)
    edges = [np.linspace(low[d] - pad[d], high[d] + pad[d], bins + 1) for d in range(2)]
    counts, outside = survey_density(out, edges)
    source = f"{len(embedding.coords):,d} spectra of {Path(embedding.source).name}" if embedding.source else None
    figure = plot_survey_density(embedding.coords, embedding.labels, counts, edges, outside=outside,
                                 title=f"t-SNE map {embedding.spec.key}", **({"reference": source} if source else {}))
    return save_figure(figure, Path(out) / "survey_map", formats=("png",))[0]


def read_survey(out, columns=None):
    """The survey's table (one row per input, ordered by ``index``) as a ``pyarrow.Table`` (``.to_pandas()`` where
    pandas is installed); ``columns``: only these."""
    import pyarrow.dataset as ds

    columns = None if columns is None else list(dict.fromkeys(["index", *columns]))
    return ds.dataset(Path(out) / PARTS, format="parquet").to_table(columns=columns).sort_by("index")


def open_maps(out):
    """Every stored map of a survey as one lazy Dask array (rows in the order of :func:`read_survey`'s kept rows)
    and the ids of its rows."""
    import dask.array as da
    import zarr

    arrays, ids = [], []
    for folder in sorted((Path(out) / MAPS).glob("part-*.zarr")):
        array = zarr.open_array(str(folder), mode="r")
        ids += list(array.attrs["ids"])
        if array.shape[0]:
            arrays.append(da.from_zarr(array))
    if not arrays:
        raise InputError(f"{out}: no maps stored (run the survey with --maps)")
    return da.concatenate(arrays, axis=0), np.asarray(ids, dtype=object)
