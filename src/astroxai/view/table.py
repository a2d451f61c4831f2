"""What ``astroxai view`` shows, computed with numpy on a survey's columns held in memory.

The survey's Parquet parts are streamed once with pyarrow's scanner (:class:`SurveyTable`) into numbers as float32
arrays and classes as small integer codes.  Re-reading the columns through Dask per redraw costs 0.3 s at 10⁶ rows
and 1.4 s at 10⁷, so every browser session shares this one copy (about 60 bytes a row).  The ids and input paths
(the widest columns, only ever shown a page at a time) stay in the Parquet parts and are read, one row group at a
time, for the rows a person lists: as strings, so 64-bit ids are never turned into numbers.  The reasons are kept
for the rejected rows only.
"""

from __future__ import annotations

import csv
import json
import logging
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from astroxai.data.base import atomic_path
from astroxai.errors import InputError
from astroxai.workflows.survey_outputs import MAPS, PARTS, RECORD, load_columns, read_columns, write_columns

#: Columns every survey table has (``astroxai survey`` writes them since the Parquet layout of issue 25).
REQUIRED = ("index", "id", "input", "status", "reason", "label", "z", "predicted", "novelty", "tsne_x", "tsne_y")
#: The sign patterns of the attribution around Hβ (core mean, wing mean), as the report's explorer names them.
HBETA_PATTERNS = ("core + / wing +", "core + / wing −", "core − / wing +", "core − / wing −")
#: The inspection queues, each at most :data:`QUEUE_LENGTH` objects long.
QUEUES = ("most novel", "least confident", "label ≠ predicted")
QUEUE_LENGTH = 1000
#: How many row groups of the id and input columns, read on demand, stay in memory.
PART_CACHE = 8
VERDICTS = ("agree", "relabel", "bad data")


log = logging.getLogger(__name__)


class ViewError(InputError):
    """A survey folder ``astroxai view`` cannot show (missing, empty, half-written, another version)."""


@dataclass(frozen=True)
class Filter:
    """Which survey rows are shown: ``status`` ("kept", "rejected" or "all"), the predicted ``classes`` (None: all),
    ``novelty`` ("all", "inside": the model's training distribution, "outside": out of distribution), the
    probability margin between the two most probable classes in ``confidence`` (inclusive), and ``disagree``: only
    rows whose catalogue label differs from the prediction."""

    status: str = "kept"
    classes: tuple[str, ...] | None = None
    novelty: str = "all"
    confidence: tuple[float, float] = (0.0, 1.0)
    disagree: bool = False

    def query(self) -> str:
        """The filter as a pandas/pyarrow-style query on the survey's columns (``margin`` = top − second
        probability; ``novelty`` > 1 is out of distribution)."""
        terms = [] if self.status == "all" else [f"status == {self.status!r}"]
        if self.classes is not None:
            terms.append(f"predicted in {list(self.classes)!r}")
        if self.novelty != "all":
            terms.append("novelty > 1" if self.novelty == "outside" else "novelty <= 1")
        low, high = self.confidence
        if (low, high) != (0.0, 1.0):
            terms.append(f"{low:g} <= margin <= {high:g}")
        if self.disagree:
            terms.append("label != '' and label != predicted")
        return " and ".join(terms) or "all rows"


def find_sorted(values: np.ndarray, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each of ``wanted`` sits in the sorted array ``values`` (a binary search), and whether it is there."""
    if not len(values):
        return np.zeros(len(wanted), np.int64), np.zeros(len(wanted), bool)
    at = np.minimum(np.searchsorted(values, wanted), len(values) - 1)
    return at, values[at] == wanted


def finite_range(values: np.ndarray) -> tuple[float, float] | None:
    """The smallest and largest finite value, or None when there is none."""
    finite = values[np.isfinite(values)]
    return (float(finite.min()), float(finite.max())) if len(finite) else None


def rows_in_box(xs: np.ndarray, ys: np.ndarray, shown: np.ndarray, x0, x1, y0, y1) -> np.ndarray:
    """Row numbers of the shown rows with x0 ≤ xs ≤ x1 and y0 ≤ ys ≤ y1 (corners in any order; NaN never inside)."""
    inside = shown & (xs >= min(x0, x1)) & (xs <= max(x0, x1)) & (ys >= min(y0, y1)) & (ys <= max(y0, y1))
    return np.flatnonzero(inside)


#: The first box :func:`nearest_rows` looks in, as a fraction of the map's larger side (then 4× wider each time).
NEAREST_FIRST_BOX = 1 / 256


def nearest_rows(xs: np.ndarray, ys: np.ndarray, shown: np.ndarray, x: float, y: float, k: int = 1,
                 scale: tuple[float, float] = (1.0, 1.0), spans=None) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` shown rows whose (``xs``, ``ys``) are nearest to (x, y) — distances measured in units of ``scale``
    along each axis — nearest first, and their distances; rows with a NaN coordinate are never found.

    A click at 10⁷ rows cannot afford distances to every row (0.4 s per search, two searches per click), and a
    spatial index would have to be rebuilt for every filter and pair of axes, so the rows are first looked for in
    a box around (x, y), 4× wider each time until it holds ``k`` rows whose farthest is within half its half-width
    (the half keeps the box's float32 edges far from the answer): no row outside such a box can be nearer.  The
    answer is that of the brute-force search over every row.  ``spans``, the (min, max) of the finite ``xs`` and
    ``ys``, sets the first box (:data:`NEAREST_FIRST_BOX` of the larger side) and the last (every row)."""
    spans = spans or (finite_range(xs), finite_range(ys))
    if None in spans:  # no row has both coordinates
        return np.zeros(0, np.int64), np.zeros(0)
    sx, sy = float(scale[0]), float(scale[1])
    (x0, x1), (y0, y1) = spans
    # the half-width (in units of scale) beyond which the box holds every finite row
    whole = max(abs(x - x0) / sx, abs(x1 - x) / sx, abs(y - y0) / sy, abs(y1 - y) / sy)
    width = max((x1 - x0) / sx, (y1 - y0) / sy) * NEAREST_FIRST_BOX
    while np.isfinite(width) and 0 < width < whole:
        rows = rows_in_box(xs, ys, shown, x - width * sx, x + width * sx, y - width * sy, y + width * sy)
        if len(rows) >= k:
            found, distance = _nearest_among(xs, ys, rows, x, y, k, sx, sy)
            if distance[-1] <= width / 2:
                return found, distance
        width *= 4
    rows = np.flatnonzero(shown & np.isfinite(xs) & np.isfinite(ys))
    return _nearest_among(xs, ys, rows, x, y, k, sx, sy)


def _nearest_among(xs, ys, rows, x, y, k, sx, sy) -> tuple[np.ndarray, np.ndarray]:
    if not len(rows):
        return rows, np.zeros(0)
    distance = np.hypot((xs[rows] - x) / sx, (ys[rows] - y) / sy)
    k = min(k, len(rows))
    best = np.argpartition(distance, k - 1)[:k]
    best = best[np.argsort(distance[best], kind="stable")]
    return rows[best], distance[best]


def check_survey(folder: Path) -> tuple[dict, list[Path], list[str]]:
    """A survey folder's record (``survey.json``), its Parquet parts and its classes (the table's ``p_<class>``
    columns, in order), checked without reading the table: raises
    :class:`ViewError` with a one-line reason for a folder that is missing, holds no survey, is still being written
    (or was interrupted), or was written by a version whose table lacks a column (read from the first part's
    footer).  Cheap enough (milliseconds) to run before a server starts."""
    if not folder.is_dir():
        raise ViewError(f"{folder}: no such folder")
    path = folder / RECORD
    if not path.is_file():
        raise ViewError(f"{folder}: not a survey folder (no {RECORD}; astroxai survey writes one)")
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise ViewError(f"{path}: unreadable ({error})") from None
    if not isinstance(record, dict) or record.get("command") != "survey" or "settings" not in record:
        raise ViewError(f"{path}: written by another version of astroxai (no survey settings in it)")
    if record.get("status") == "running":
        raise ViewError(f"{folder}: the survey is half-written (still running, or interrupted): run the "
                        "same astroxai survey command again to finish it")
    parts = sorted((folder / PARTS).glob("part-*.parquet"))
    if not parts:
        raise ViewError(f"{folder}: the survey has no results yet (no {PARTS}/part-*.parquet)")
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        names = pq.read_schema(parts[0]).names
    except (OSError, pa.ArrowInvalid) as error:
        raise ViewError(f"{folder}: the survey's table cannot be read ({error})") from None
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise ViewError(f"{folder}: written by another version of astroxai (its table has no "
                        f"{', '.join(missing)}); run astroxai survey again with this version")
    return record, parts, [c[2:] for c in names if c.startswith("p_")]


class SurveyTable:
    """A survey folder's rows in memory (see the module doc), with the filters, selections and queues of the views.

    Raises :class:`ViewError` with a one-line reason for a folder that is missing, holds no survey, is still being
    written (or was interrupted), or was written by a version of astroxai whose table lacks a column."""

    def __init__(self, folder):
        self.folder = Path(folder)
        self.record, self.parts, _ = check_survey(self.folder)
        import pyarrow as pa

        try:
            self._read()
        except (OSError, pa.ArrowInvalid) as error:
            raise ViewError(f"{self.folder}: the survey's table cannot be read ({error})") from None
        core, wing = self.numbers.get("hbeta_core_mean"), self.numbers.get("hbeta_wing_mean")
        self.hbeta = np.full(self.n, -1, np.int8)
        if core is not None and wing is not None:
            known = np.isfinite(core) & np.isfinite(wing) & (core != 0) & (wing != 0)
            self.hbeta[known] = (2 * (core[known] < 0) + (wing[known] < 0)).astype(np.int8)
        self.disagree = (self.label >= 0) & (self.predicted >= 0) & (self.label != self.predicted)
        self.kept = self.status == 0
        self.placed = np.isfinite(self.numbers["tsne_x"]) & np.isfinite(self.numbers["tsne_y"])
        self.axes = ("tsne_x", "tsne_y") if self.placed.any() else self._two_numeric()

    def _read(self) -> None:
        """The survey's columns, from its column file when that was made from the parts as they are now (a mapped
        file: milliseconds), else from the parts themselves (:func:`~astroxai.workflows.survey_outputs.read_columns`:
        ≈ 1 s at 10⁶ rows, 5 s at 10⁷).  The ``id`` and ``input`` columns stay on disk: :meth:`strings` reads them
        for the rows a person lists (they are the widest columns, and only ever shown a page at a time)."""
        import pyarrow as pa

        recorded = self.record.get("n_rows")
        columns = load_columns(self.folder, self.parts, recorded)
        self.read_from = "column file"
        if columns is None:
            self.read_from = "parts"
            try:
                columns = read_columns(self.parts, recorded)
            except InputError as error:
                raise ViewError(f"{self.folder}: {error}") from None
        self.n = len(columns)
        self.classes, self.labels = columns.classes, columns.labels
        self.index, self.status, self.predicted, self.label = (columns.index, columns.status, columns.predicted,
                                                               columns.label)
        self.probabilities, self.numbers = columns.probabilities, dict(columns.numbers)
        self._reason_rows, self._reasons = columns.reason_rows, columns.reasons
        self._part_starts, self._part_paths = columns.part_starts, columns.part_paths
        # read from the parts: kept in the parts' order for :meth:`store_columns`, which writes them once
        self._columns, n = (columns if self.read_from == "parts" else None), self.n
        # the survey writes its parts in input order; should a part ever come out of order, sort the rows by
        # their input index (and remember where each row sits in the parts, for the columns read on demand)
        self._stored_at = None
        if n and np.any(np.diff(self.index) < 0):
            order = np.argsort(self.index, kind="stable")
            self._stored_at = order
            for name in ("index", "status", "predicted", "label", "probabilities"):
                setattr(self, name, getattr(self, name)[order])
            for name in list(self.numbers):
                self.numbers[name] = self.numbers[name][order]
            back = np.empty(n, np.int64)
            back[order] = np.arange(n)
            self._reason_rows = back[self._reason_rows]
            sort = np.argsort(self._reason_rows)
            self._reason_rows = self._reason_rows[sort]
            self._reasons = self._reasons.take(pa.array(sort))
        for number, name in enumerate(self.classes):  # views into the probabilities
            self.numbers[f"p_{name}"] = self.probabilities[:, number]
        self._cache: dict[tuple[str, int, int], object] = {}
        self._groups: dict[int, np.ndarray] = {}
        self._spans: dict[tuple[str, str], tuple] = {}  # the finite range of each pair of map axes

    def store_columns(self) -> Path | None:
        """Write the survey's column file when the columns were read from its parts (a survey written before
        ``astroxai survey`` wrote one, or whose file is stale), so that the next start maps it instead; a folder
        that cannot be written to is left as it is.  Returns the file written, if any."""
        if self.read_from != "parts" or self._columns is None:
            return None
        try:
            path = write_columns(self.folder, self._columns, self.parts, self.record.get("n_rows"))
        except OSError as error:
            log.info("%s: the column file was not written (%s); the next start reads the parts again", self.folder,
                     error)
            return None
        self.read_from, self._columns = "parts (column file written)", None
        return path

    def _two_numeric(self) -> tuple[str, str]:
        usable = [n for n, v in self.numbers.items() if np.isfinite(v).any()]
        return (usable + ["margin", "margin"])[0], (usable + ["novelty", "novelty"])[1]

    @property
    def model_sha(self) -> str:
        return str(self.record["settings"].get("model_sha", ""))

    @property
    def model_dir(self) -> str:
        return str(self.record.get("model", ""))

    @property
    def has_maps(self) -> bool:
        return any((self.folder / MAPS).glob("part-*.zarr"))

    # -- which rows ------------------------------------------------------------------------------------------------
    def mask(self, chosen: Filter) -> np.ndarray:
        """The rows ``chosen`` shows (boolean, one per survey row)."""
        shown = np.ones(self.n, bool) if chosen.status == "all" else (self.status == ("kept", "rejected").index(
            chosen.status))
        if chosen.classes is not None:
            codes = [self.classes.index(c) for c in chosen.classes if c in self.classes]
            shown &= np.isin(self.predicted, np.asarray(codes, dtype=np.int16))
        novelty = self.numbers["novelty"]
        if chosen.novelty == "outside":
            shown &= novelty > 1
        elif chosen.novelty == "inside":
            shown &= novelty <= 1
        low, high = chosen.confidence
        if (low, high) != (0.0, 1.0):
            margin = self.numbers["margin"]
            shown &= (margin >= low) & (margin <= high)
        if chosen.disagree:
            shown &= self.disagree
        return shown

    def in_box(self, shown: np.ndarray, axes, x0, x1, y0, y1) -> np.ndarray:
        """Row numbers of the shown rows inside the box (data coordinates of the map's ``axes``)."""
        return rows_in_box(self.numbers[axes[0]], self.numbers[axes[1]], shown, x0, x1, y0, y1)

    def in_polygon(self, shown: np.ndarray, axes, xs, ys) -> np.ndarray:
        """Row numbers of the shown rows inside a lasso polygon (matplotlib's point-in-polygon test, on the rows
        inside the polygon's bounding box only)."""
        from matplotlib.path import Path as Polygon

        candidates = self.in_box(shown, axes, min(xs), max(xs), min(ys), max(ys))
        points = np.column_stack([self.numbers[axes[0]][candidates], self.numbers[axes[1]][candidates]])
        return candidates[Polygon(np.column_stack([xs, ys])).contains_points(points)] if len(candidates) else \
            candidates

    def nearest(self, shown: np.ndarray, axes, x: float, y: float, k: int = 1,
                scale: tuple[float, float] = (1.0, 1.0)) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` shown rows nearest to (x, y) on the map's ``axes``, nearest first, and their distances, in
        units of ``scale`` along each axis (a screen pixel's size: distances in pixels); see :func:`nearest_rows`."""
        key = (axes[0], axes[1])
        if key not in self._spans:
            self._spans[key] = tuple(finite_range(self.numbers[a]) for a in key)
        return nearest_rows(self.numbers[key[0]], self.numbers[key[1]], shown, x, y, k, scale, self._spans[key])

    def queue(self, kind: str, shown: np.ndarray) -> np.ndarray:
        """Row numbers of an inspection queue among the shown kept rows: "most novel" (largest novelty first),
        "least confident" (smallest margin first) or "label ≠ predicted" (survey order); at most
        :data:`QUEUE_LENGTH`."""
        rows = np.flatnonzero(shown & self.kept)
        if kind == "label ≠ predicted":
            return rows[self.disagree[rows]][:QUEUE_LENGTH]
        if kind not in QUEUES:
            raise ValueError(f"no queue {kind!r}; the queues are {', '.join(QUEUES)}")
        key = -self.numbers["novelty"][rows] if kind == "most novel" else self.numbers["margin"][rows]
        rows = rows[np.isfinite(key)]
        key = key[np.isfinite(key)]
        if len(rows) > QUEUE_LENGTH:
            part = np.argpartition(key, QUEUE_LENGTH - 1)[:QUEUE_LENGTH]
            rows, key = rows[part], key[part]
        return rows[np.argsort(key, kind="stable")]

    # -- columns read on demand ----------------------------------------------------------------------------------
    def strings(self, name: str, numbers) -> list:
        """Column ``name`` ("id", "input" or "reason") of the given rows as Python strings (None where empty).
        Ids and inputs are read from the row groups of the Parquet parts that hold the rows (the last
        :data:`PART_CACHE` read are kept)."""
        import pyarrow as pa

        numbers = np.asarray(numbers, dtype=np.int64)
        if name == "reason":
            at, found = find_sorted(self._reason_rows, numbers)
            values = self._reasons.take(pa.array(at[found])).to_pylist() if found.any() else []
            out: list = [None] * len(numbers)
            for j, value in zip(np.flatnonzero(found), values, strict=True):
                out[j] = value
            return out
        stored = self._stored(numbers)
        starts, parts = self._part_starts, self._part_index(stored)
        out = [None] * len(numbers)
        for part in np.unique(parts):
            in_part = np.flatnonzero(parts == part)
            groups = self._row_groups(int(part))
            within = stored[in_part] - starts[part]
            group_of = np.searchsorted(groups, within, side="right") - 1
            for group in np.unique(group_of):
                chosen = in_part[group_of == group]
                column = self._group_column(name, int(part), int(group))
                values = column.take(pa.array(within[group_of == group] - groups[group])).to_pylist()
                for j, value in zip(chosen, values, strict=True):
                    out[j] = value
        return out

    def _stored(self, numbers: np.ndarray) -> np.ndarray:
        """Where rows sit in the parts read one after another (their row numbers unless the parts were out of
        input order)."""
        return numbers if self._stored_at is None else self._stored_at[numbers]

    def _part_index(self, stored: np.ndarray) -> np.ndarray:
        """The part that holds each place of :meth:`_stored`."""
        return np.searchsorted(self._part_starts, stored, side="right") - 1

    def part_of(self, numbers) -> np.ndarray:
        """The number of the Parquet part (the survey's partition) that holds each row."""
        return self._part_index(self._stored(np.asarray(numbers, dtype=np.int64)))

    def _row_groups(self, part: int) -> np.ndarray:
        """Where each row group of a Parquet part starts (read from its footer once)."""
        import pyarrow.parquet as pq

        if part not in self._groups:
            metadata = pq.ParquetFile(self._part_paths[part]).metadata
            sizes = [metadata.row_group(g).num_rows for g in range(metadata.num_row_groups)]
            self._groups[part] = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        return self._groups[part]

    def _group_column(self, name: str, part: int, group: int):
        """One column of one row group of one Parquet part (the last :data:`PART_CACHE` read are kept)."""
        import pyarrow.parquet as pq

        key = (name, part, group)
        if key not in self._cache:
            while len(self._cache) >= PART_CACHE:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = pq.ParquetFile(self._part_paths[part]).read_row_group(group, columns=[name]) \
                .column(name).combine_chunks()
        return self._cache[key]

    # -- rows as people read them ---------------------------------------------------------------------------------
    def rows(self, numbers) -> list[dict]:
        """The listed rows: id and input as strings, classes, probabilities, novelty, margin and reason."""
        numbers = np.asarray(numbers, dtype=np.int64)
        ids, inputs, reasons = (self.strings(name, numbers) for name in ("id", "input", "reason"))
        out = []
        for j, row in enumerate(numbers):
            entry = {"row": int(row), "id": str(ids[j]), "input": str(inputs[j] or ""),
                     "status": ("kept", "rejected")[self.status[row]] if self.status[row] >= 0 else "",
                     "label": self.labels[self.label[row]] if self.label[row] >= 0 else "",
                     "predicted": self.classes[self.predicted[row]] if self.predicted[row] >= 0 else "",
                     "reason": reasons[j] or "", "index": int(self.index[row])}
            for name in ("novelty", "margin", "z"):
                value = self.numbers[name][row] if name in self.numbers else np.nan
                entry[name] = float(value) if np.isfinite(value) else None
            for number, name in enumerate(self.classes):
                value = self.probabilities[row, number]
                entry[f"p_{name}"] = float(value) if np.isfinite(value) else None
            out.append(entry)
        return out

    def reason_counts(self, shown: np.ndarray, most: int = 10) -> list[tuple[str, int]]:
        """The commonest reasons among the shown rejected rows, with their counts."""
        import pyarrow as pa
        import pyarrow.compute as pc

        if not len(self._reason_rows):
            return []
        chosen = shown[self._reason_rows] & (self.status[self._reason_rows] == 1)
        if not chosen.any():
            return []
        counts = pc.value_counts(self._reasons.filter(pa.array(chosen)))
        pairs = sorted(zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True),
                       key=lambda pair: -pair[1])
        return [(str(reason or ""), int(count)) for reason, count in pairs[:most]]


@dataclass
class Verdict:
    """A person's verdict on one surveyed object."""

    id: str
    file: str
    z: float | None
    predicted: str
    survey_label: str
    verdict: str
    new_label: str = ""
    model_sha256: str = ""
    time: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S%z"))

    @property
    def label(self) -> str:
        """The label the next model learns: the predicted class when the person agreed, the new one when they
        relabelled, none for bad data (its row then says why)."""
        return {"agree": self.predicted, "relabel": self.new_label}.get(self.verdict, "")


class VerdictBook:
    """The verdicts of a survey's inspection, kept in a CSV (one row per object — id and file — the last verdict
    wins) that ``astroxai run --data … --catalog`` and ``astroxai predict/explain`` take as a catalogue: columns
    ``file``, ``z``, ``label`` (the predicted class when agreed, the new class when relabelled, empty for bad data)
    and the verdict's record.  A row of a reduced store is no file a catalogue can name: those objects' reduced
    spectra, with the label of their verdict (bad data left out), are kept in the CSV's ``.h5`` twin, a
    SpectraSet that ``astroxai train`` takes.  Both rewritten atomically after every verdict; shared by every
    browser session (a lock)."""

    COLUMNS = ("file", "z", "label", "id", "verdict", "predicted", "survey_label", "model_sha256", "time")

    def __init__(self, path):
        self.path = Path(path)
        self.reduced_path = self.path.with_suffix(".h5")
        self.lock = threading.Lock()
        self.entries: dict[tuple[str, str], Verdict] = {}
        self.reduced: dict[tuple[str, str], np.ndarray] = {}  # store rows' spectra, on ``self.grid``
        self.grid: np.ndarray | None = None
        if self.path.is_file():
            with open(self.path, newline="", encoding="utf-8") as handle:
                for row in csv.DictReader(handle):
                    z = row.get("z") or ""
                    self.entries[row["id"], row["file"]] = Verdict(row["id"], row["file"], float(z) if z else None,
                                                      row.get("predicted", ""), row.get("survey_label", ""),
                                                      row.get("verdict", ""),
                                                      row.get("label", "") if row.get("verdict") == "relabel"
                                                      else "", row.get("model_sha256", ""), row.get("time", ""))
        if self.reduced_path.is_file():
            from astroxai.data import SpectraSet

            kept = SpectraSet.load(self.reduced_path)
            self.grid = kept.wavelength
            for number, (spectrum_id, file) in enumerate(zip(kept.ids, kept.meta["file"], strict=True)):
                self.reduced[str(spectrum_id), str(file)] = kept.flux[number]

    def record(self, verdict: Verdict, spectrum: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        """Keep ``verdict``; ``spectrum`` (wavelength, reduced flux): the object is a row of a reduced store."""
        if verdict.verdict not in VERDICTS:
            raise ValueError(f"a verdict is one of {', '.join(VERDICTS)}, not {verdict.verdict!r}")
        if verdict.verdict == "relabel" and not verdict.new_label:
            raise ValueError("a relabel verdict needs the new class")
        with self.lock:
            key = (verdict.id, verdict.file)
            if spectrum is not None:
                wavelength = np.asarray(spectrum[0], dtype=np.float64)
                if self.grid is not None and not np.array_equal(wavelength, self.grid):
                    raise ValueError(f"{verdict.id}: its spectrum is on another grid than the verdicts in "
                                     f"{self.reduced_path}")
                self.grid = wavelength
                self.reduced[key] = np.asarray(spectrum[1], dtype=np.float32)
            self.entries[key] = verdict
            with atomic_path(self.path) as temporary, open(temporary, "w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                writer.writerow(self.COLUMNS)
                for entry in self.entries.values():
                    row = {**asdict(entry), "label": entry.label, "z": "" if entry.z is None else repr(entry.z)}
                    writer.writerow([row[c] for c in self.COLUMNS])
            if self.reduced:
                self._write_reduced()

    def _write_reduced(self) -> None:
        from astroxai.data import SpectraSet

        keys = [k for k in self.reduced if self.entries[k].label]  # bad data: not a training example
        if not keys:
            self.reduced_path.unlink(missing_ok=True)
            return
        entries = [self.entries[k] for k in keys]
        SpectraSet(np.stack([self.reduced[k] for k in keys]), self.grid, [e.label for e in entries],
                   [e.id for e in entries],
                   {"file": np.array([e.file for e in entries], dtype=object),
                    "verdict": np.array([e.verdict for e in entries], dtype=object),
                    "z": np.array([np.nan if e.z is None else e.z for e in entries], dtype=np.float64)},
                   {"source": "astroxai view: verdicts on rows of reduced stores",
                    "model_sha256": sorted({e.model_sha256 for e in entries})}).save(self.reduced_path)

    def __len__(self) -> int:
        return len(self.entries)
