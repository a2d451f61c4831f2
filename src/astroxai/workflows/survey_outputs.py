"""A survey folder read back: the summary of its Parquet parts (with the ids kept twice), its table, its maps, its
density on a t-SNE map, and its columns in the compact form ``astroxai view`` holds in memory (also kept beside the
parts as one Arrow file, so that the view starts without reading every part).  :mod:`astroxai.workflows.survey`
writes the folder; these read it."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from astroxai.data.base import atomic_path
from astroxai.errors import InputError

log = logging.getLogger(__name__)

#: The survey folder's record, Parquet data set and Zarr maps.
RECORD, PARTS, MAPS = "survey.json", "survey.parquet", "maps"
#: ... and what ``astroxai view`` adds to it: the inspection's verdicts and the exported selections.
VERDICTS, SELECTIONS = "verdicts.csv", "selections"
#: ... and the compact columns of its parts in one Arrow IPC file (:func:`write_columns`).
COLUMNS = "survey.columns.arrow"
#: The format of that file; a file of another format is read as absent (the parts are read instead).
COLUMNS_FORMAT = "astroxai.survey-columns/1"
#: The numeric columns kept in memory besides the class probabilities ``p_<class>`` (``margin``, top − second
#: probability, is computed from them).
NUMERIC = ("tsne_x", "tsne_y", "margin", "novelty", "line_saliency_share", "hbeta_core_mean", "hbeta_wing_mean", "z")
#: Rows gathered from the survey's Parquet batches before they are converted to numpy.
CONVERT_ROWS = 65_536


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


@dataclass
class SurveyColumns:
    """A survey's columns as ``astroxai view`` holds them, in the order the parts store the rows: the input
    ``index`` (int64), ``status`` (0 kept, 1 rejected), ``predicted`` and ``label`` as codes into ``classes`` and
    ``labels`` (-1: none), the ``probabilities`` (rows × classes) and the :data:`NUMERIC` columns as float32 (NaN:
    none), the reasons of the rejected rows only (their row numbers and the strings), and where each part's rows
    start (``part_starts``, one more than ``part_paths``)."""

    classes: list
    labels: list
    index: np.ndarray
    status: np.ndarray
    predicted: np.ndarray
    label: np.ndarray
    probabilities: np.ndarray
    numbers: dict
    reason_rows: np.ndarray
    reasons: object  # a pyarrow string array
    part_starts: np.ndarray
    part_paths: list

    def __len__(self) -> int:
        return len(self.index)


def _floats(column) -> np.ndarray:
    """A numeric Arrow column as float32 with NaN for nulls."""
    if column.null_count:
        column = column.fill_null(np.nan)
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float32)


def _codes(column, categories: list[str]) -> tuple[np.ndarray, list[str]]:
    """A string column as int16 codes into ``categories`` (extended by values not in it; -1 for null/empty)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    encoded = pc.dictionary_encode(column).combine_chunks() if isinstance(column, pa.ChunkedArray) \
        else pc.dictionary_encode(column)
    values = [str(v) for v in encoded.dictionary.to_pylist()]
    categories = list(categories) + [v for v in values if v and v not in categories]
    lookup = np.array([categories.index(v) if v else -1 for v in values] + [-1], dtype=np.int16)
    indices = encoded.indices.to_numpy(zero_copy_only=False)
    indices = np.where(np.asarray(encoded.indices.is_null()), len(values), indices)
    return lookup[indices.astype(np.int64)], categories


def read_columns(parts: list[Path], n_rows: int | None = None) -> SurveyColumns:
    """Stream the Parquet ``parts`` once (pyarrow's scanner, a batch at a time) into preallocated compact arrays,
    so that the peak memory is the arrays plus a few batches, not the whole table in Arrow's float64 and strings.
    ``n_rows`` (the survey record's count) spares reading every part's footer first; the parts are checked against
    it (:class:`~astroxai.errors.InputError` when they hold another number of rows).  The ``id`` and ``input``
    columns are not read: they are the widest, and only ever shown a page at a time."""
    import pyarrow as pa
    import pyarrow.dataset as pads

    dataset = pads.dataset([str(p) for p in parts], format="parquet")
    names = dataset.schema.names  # the first part's
    n = n_rows if isinstance(n_rows, int) and n_rows >= 0 else dataset.count_rows()
    classes = [c[2:] for c in names if c.startswith("p_")]
    numeric = [c for c in NUMERIC if c in names and c != "margin"]
    index = np.empty(n, np.int64)
    status, predicted, label = np.empty(n, np.int8), np.empty(n, np.int8), np.empty(n, np.int16)
    probabilities = np.empty((n, len(classes)), np.float32)
    numbers = {name: np.empty(n, np.float32) for name in (*numeric, "margin")}
    reasons, reason_rows = [], []
    labels = list(classes)
    part_starts, part_paths, at = [], [], 0
    columns = ["index", "status", "reason", "label", "predicted", *numeric, *(f"p_{c}" for c in classes)]
    current, pending, waiting = None, [], 0

    def convert(start: int) -> int:
        """The pending batches, as one table, into the arrays from row ``start`` on (a few numpy calls per
        65 536 rows, not per batch: a survey's parts hold 2 048 rows each)."""
        nonlocal labels
        batch = pa.Table.from_batches(pending)
        size = batch.num_rows
        if start + size > n:
            raise InputError(f"its parts hold more rows than its {RECORD} says ({n:,}): run astroxai survey again")
        rows = slice(start, start + size)
        index[rows] = batch.column("index").to_numpy()
        status[rows] = _codes(batch.column("status"), ["kept", "rejected"])[0]
        predicted[rows] = _codes(batch.column("predicted"), classes)[0]
        label[rows], labels = _codes(batch.column("label"), labels)
        for name in numeric:
            numbers[name][rows] = _floats(batch.column(name))
        for number, name in enumerate(classes):
            probabilities[rows, number] = _floats(batch.column(f"p_{name}"))
        if len(classes) > 1:  # per batch: no sorted copy of all the probabilities at once
            top = np.sort(probabilities[rows], axis=1)
            numbers["margin"][rows] = top[:, -1] - top[:, -2]
        else:
            numbers["margin"][rows] = np.nan
        reason = batch.column("reason").combine_chunks()
        given = np.flatnonzero(np.asarray(reason.is_valid()))
        if len(given):
            reasons.append(reason.take(pa.array(given)))
            reason_rows.append(given + start)
        pending.clear()
        return start + size

    # little read-ahead: at 10⁷ rows pyarrow's default (4 parts, 16 batches in flight) adds 0.2 GB to the peak
    # memory and reads no faster on 2 cores
    scanner = dataset.scanner(columns=columns, fragment_readahead=1, batch_readahead=2)
    converted = 0
    for tagged in scanner.scan_batches():
        if tagged.fragment.path != current:  # the scanner yields each part's batches together, in order
            current = tagged.fragment.path
            part_starts.append(at)
            part_paths.append(current)
        pending.append(tagged.record_batch)
        at += tagged.record_batch.num_rows
        waiting += tagged.record_batch.num_rows
        if waiting >= CONVERT_ROWS:
            converted, waiting = convert(converted), 0
    if pending:
        converted = convert(converted)
    if converted != n:
        raise InputError(f"its parts hold {converted:,} rows, its {RECORD} says {n:,}: run astroxai survey again")
    return SurveyColumns(classes, labels, index, status, predicted, label, probabilities, numbers,
                         np.concatenate(reason_rows) if reason_rows else np.zeros(0, np.int64),
                         pa.concat_arrays(reasons) if reasons else pa.array([], pa.string()),
                         np.asarray([*part_starts, at], dtype=np.int64), part_paths)


def parts_fingerprint(parts: list[Path], n_rows) -> str:
    """What a column file must have been made from: each part's name, size and modification time (a part
    rewritten, added, removed or renamed changes it) and the record's row count."""
    digest = hashlib.sha256(f"{COLUMNS_FORMAT} {n_rows}".encode())
    for part in parts:
        stat = os.stat(part)
        digest.update(f"\n{Path(part).name} {stat.st_size} {stat.st_mtime_ns}".encode())
    return digest.hexdigest()


def write_columns(out, columns: SurveyColumns, parts: list[Path], n_rows) -> Path:
    """:data:`COLUMNS` in the survey folder ``out``: ``columns`` in one uncompressed Arrow IPC file (a reader maps
    it and takes its arrays without copying them), tagged with the :func:`parts_fingerprint` of the ``parts`` they
    were read from.  Written atomically."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(columns)
    fields = {"index": columns.index, "status": columns.status, "predicted": columns.predicted,
              "label": columns.label, **{f"number:{k}": v for k, v in columns.numbers.items()}}
    arrays = {name: pa.array(values) for name, values in fields.items()}
    arrays["probabilities"] = pa.FixedSizeListArray.from_arrays(
        pa.array(np.ascontiguousarray(columns.probabilities).reshape(-1)), max(len(columns.classes), 1)) \
        if columns.classes else pa.array(np.zeros(n, np.float32))
    # the reasons of rejected rows, dictionary-encoded (a survey's reasons repeat), null for the kept rows
    codes = np.full(n, -1, np.int32)
    encoded = pc.dictionary_encode(columns.reasons)
    codes[columns.reason_rows] = encoded.indices.to_numpy(zero_copy_only=False)
    arrays["reason"] = pa.DictionaryArray.from_arrays(pa.array(codes, mask=codes < 0), encoded.dictionary)
    metadata = {"format": COLUMNS_FORMAT, "fingerprint": parts_fingerprint(parts, n_rows),
                "classes": columns.classes, "labels": columns.labels,
                "parts": [Path(p).name for p in columns.part_paths],  # all in the survey's PARTS folder
                "part_starts": columns.part_starts.tolist()}
    table = pa.table(arrays).replace_schema_metadata({"astroxai": json.dumps(metadata)})
    target = Path(out) / COLUMNS
    with atomic_path(target) as temporary:
        with pa.OSFile(str(temporary), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
    return target


def load_columns(out, parts: list[Path], n_rows) -> SurveyColumns | None:
    """The survey's columns from its :data:`COLUMNS` file, memory-mapped; None when there is no such file or it does
    not belong to these ``parts`` (another format, parts rewritten since, unreadable): the caller then reads the
    parts (:func:`read_columns`)."""
    import pyarrow as pa

    path = Path(out) / COLUMNS
    if not path.is_file():
        return None
    try:
        reader = pa.ipc.open_file(pa.memory_map(str(path)))
        metadata = json.loads((reader.schema.metadata or {}).get(b"astroxai", b"{}"))
        if metadata.get("format") != COLUMNS_FORMAT or metadata.get("fingerprint") != parts_fingerprint(parts, n_rows):
            log.info("%s does not belong to the survey's parts as they are now: reading the parts", path)
            return None
        table = reader.read_all()
        column = {name: table.column(name).combine_chunks() for name in table.column_names}
        n, classes = table.num_rows, metadata["classes"]
        numbers = {name.split(":", 1)[1]: column[name].to_numpy() for name in column if name.startswith("number:")}
        probabilities = column["probabilities"].flatten().to_numpy().reshape(n, len(classes)) if classes \
            else np.zeros((n, 0), np.float32)
        reason = column["reason"]
        reason_rows = np.flatnonzero(np.asarray(reason.is_valid()))
        reasons = reason.take(pa.array(reason_rows, pa.int64())).dictionary_decode() if len(reason_rows) \
            else pa.array([], pa.string())
        folder = Path(out) / PARTS
        columns = SurveyColumns(list(classes), list(metadata["labels"]), column["index"].to_numpy(),
                                column["status"].to_numpy(), column["predicted"].to_numpy(),
                                column["label"].to_numpy(), probabilities, numbers, reason_rows, reasons,
                                np.asarray(metadata["part_starts"], dtype=np.int64),
                                [str(folder / name) for name in metadata["parts"]])
        _check_columns(columns, metadata["parts"], parts, n_rows)
        return columns
    except (OSError, ValueError, KeyError, TypeError, pa.ArrowException) as error:
        log.warning("%s cannot be read (%s): reading the survey's parts instead", path, error)
        return None


def _check_columns(columns: SurveyColumns, names: list, parts: list[Path], n_rows) -> None:
    """A column file whose fingerprint matches can still have been edited: its counts, codes and part boundaries
    are checked (milliseconds at 10⁷ rows); ``ValueError`` says what is wrong."""
    n, starts = len(columns), columns.part_starts
    if isinstance(n_rows, int) and n != n_rows:
        raise ValueError(f"{n:,} rows where the survey has {n_rows:,}")
    if columns.probabilities.shape != (n, len(columns.classes)) or any(len(v) != n for v in columns.numbers.values()):
        raise ValueError("columns of unequal lengths")
    if not set(names) <= {Path(p).name for p in parts}:
        raise ValueError("its parts are not the survey's")
    if len(starts) != len(names) + 1 or starts[0] != 0 or starts[-1] != n or np.any(np.diff(starts) < 0):
        raise ValueError("its part boundaries do not hold its rows")
    for codes, size, name in ((columns.status, 2, "status"), (columns.predicted, len(columns.classes), "predicted"),
                              (columns.label, len(columns.labels), "label")):
        if n and (codes.min() < -1 or codes.max() >= size):
            raise ValueError(f"{name} codes out of range")
    if len(columns.reason_rows) and columns.reason_rows[-1] >= n:
        raise ValueError("reasons of rows it does not have")
