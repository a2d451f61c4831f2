"""What ``astroxai view`` shows, computed with numpy on a survey's columns held in memory.

The survey's Parquet parts are read once with pyarrow (:class:`SurveyTable`): numbers as float32 arrays, classes as
small integer codes, ids and inputs as Arrow strings (no Python object per row; an id becomes a Python ``str`` only
when a row is listed, so 64-bit ids are never turned into numbers).  Re-reading the columns through Dask per redraw
costs 0.3 s at 10⁶ rows and 1.4 s at 10⁷, so every browser session shares this one copy.
"""

from __future__ import annotations

import csv
import json
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from astroxai.data.base import atomic_path
from astroxai.errors import InputError
from astroxai.workflows.survey_outputs import MAPS, PARTS, RECORD, read_survey

#: Columns every survey table has (``astroxai survey`` writes them since the Parquet layout of issue 25).
REQUIRED = ("index", "id", "input", "status", "reason", "label", "z", "predicted", "novelty", "tsne_x", "tsne_y")
#: Numeric columns offered as map axes and colours, besides the class probabilities ``p_<class>``.
NUMERIC = ("tsne_x", "tsne_y", "margin", "novelty", "line_saliency_share", "hbeta_core_mean", "hbeta_wing_mean", "z")
#: The sign patterns of the attribution around Hβ (core mean, wing mean), as the report's explorer names them.
HBETA_PATTERNS = ("core + / wing +", "core + / wing −", "core − / wing +", "core − / wing −")
#: The inspection queues, each at most :data:`QUEUE_LENGTH` objects long.
QUEUES = ("most novel", "least confident", "label ≠ predicted")
QUEUE_LENGTH = 1000
VERDICTS = ("agree", "relabel", "bad data")


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


class SurveyTable:
    """A survey folder's rows in memory (see the module doc), with the filters, selections and queues of the views.

    Raises :class:`ViewError` with a one-line reason for a folder that is missing, holds no survey, is still being
    written (or was interrupted), or was written by a version of astroxai whose table lacks a column."""

    def __init__(self, folder):
        self.folder = Path(folder)
        self.record = self._record()
        parts = sorted((self.folder / PARTS).glob("part-*.parquet"))
        if not parts:
            raise ViewError(f"{self.folder}: the survey has no results yet (no {PARTS}/part-*.parquet)")
        import pyarrow as pa

        try:
            table = read_survey(self.folder)
        except (OSError, pa.ArrowInvalid) as error:
            raise ViewError(f"{self.folder}: the survey's table cannot be read ({error})") from None
        missing = [c for c in REQUIRED if c not in table.column_names]
        if missing:
            raise ViewError(f"{self.folder}: written by another version of astroxai (its table has no "
                            f"{', '.join(missing)}); run astroxai survey again with this version")
        self.n = table.num_rows
        self.classes = [c[2:] for c in table.column_names if c.startswith("p_")]
        self.ids, self.inputs, self.reasons = (table.column(c).combine_chunks() for c in ("id", "input", "reason"))
        self.index = table.column("index").to_numpy()
        self.status, _ = _codes(table.column("status"), ["kept", "rejected"])
        self.predicted, _ = _codes(table.column("predicted"), self.classes)
        self.label, self.labels = _codes(table.column("label"), self.classes)
        self.probabilities = np.column_stack([self._number(table, f"p_{c}") for c in self.classes]) \
            if self.classes else np.zeros((self.n, 0), np.float32)
        self.numbers = {name: self._number(table, name) for name in NUMERIC if name in table.column_names}
        ordered = np.sort(self.probabilities, axis=1)
        self.numbers["margin"] = (ordered[:, -1] - ordered[:, -2]) if len(self.classes) > 1 \
            else np.full(self.n, np.nan, np.float32)
        for number, name in enumerate(self.classes):
            self.numbers[f"p_{name}"] = self.probabilities[:, number]
        core, wing = self.numbers.get("hbeta_core_mean"), self.numbers.get("hbeta_wing_mean")
        self.hbeta = np.full(self.n, -1, np.int16)
        if core is not None and wing is not None:
            known = np.isfinite(core) & np.isfinite(wing) & (core != 0) & (wing != 0)
            self.hbeta[known] = (2 * (core[known] < 0) + (wing[known] < 0)).astype(np.int16)
        self.disagree = (self.label >= 0) & (self.predicted >= 0) & (self.label != self.predicted)
        self.kept = self.status == 0
        self.placed = np.isfinite(self.numbers["tsne_x"]) & np.isfinite(self.numbers["tsne_y"])
        self.axes = ("tsne_x", "tsne_y") if self.placed.any() else self._two_numeric()

    def _record(self) -> dict:
        if not self.folder.is_dir():
            raise ViewError(f"{self.folder}: no such folder")
        path = self.folder / RECORD
        if not path.is_file():
            raise ViewError(f"{self.folder}: not a survey folder (no {RECORD}; astroxai survey writes one)")
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            raise ViewError(f"{path}: unreadable ({error})") from None
        if not isinstance(record, dict) or record.get("command") != "survey" or "settings" not in record:
            raise ViewError(f"{path}: written by another version of astroxai (no survey settings in it)")
        if record.get("status") == "running":
            raise ViewError(f"{self.folder}: the survey is half-written (still running, or interrupted): run the "
                            "same astroxai survey command again to finish it")
        return record

    def _number(self, table, name: str) -> np.ndarray:
        column = table.column(name)
        return np.asarray(column.to_numpy(zero_copy_only=False) if column.null_count == 0
                          else column.fill_null(np.nan).to_numpy(zero_copy_only=False), dtype=np.float32)

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
        x, y = self.numbers[axes[0]], self.numbers[axes[1]]
        inside = shown & (x >= min(x0, x1)) & (x <= max(x0, x1)) & (y >= min(y0, y1)) & (y <= max(y0, y1))
        return np.flatnonzero(inside)

    def in_polygon(self, shown: np.ndarray, axes, xs, ys) -> np.ndarray:
        """Row numbers of the shown rows inside a lasso polygon (matplotlib's point-in-polygon test, on the rows
        inside the polygon's bounding box only)."""
        from matplotlib.path import Path as Polygon

        candidates = self.in_box(shown, axes, min(xs), max(xs), min(ys), max(ys))
        points = np.column_stack([self.numbers[axes[0]][candidates], self.numbers[axes[1]][candidates]])
        return candidates[Polygon(np.column_stack([xs, ys])).contains_points(points)] if len(candidates) else \
            candidates

    def nearest(self, shown: np.ndarray, axes, x: float, y: float, k: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` shown rows nearest to (x, y) on the map's ``axes``, nearest first, and their distances."""
        rows = np.flatnonzero(shown & np.isfinite(self.numbers[axes[0]]) & np.isfinite(self.numbers[axes[1]]))
        if not len(rows):
            return rows, np.zeros(0)
        distance = np.hypot(self.numbers[axes[0]][rows] - x, self.numbers[axes[1]][rows] - y)
        k = min(k, len(rows))
        best = np.argpartition(distance, k - 1)[:k]
        best = best[np.argsort(distance[best], kind="stable")]
        return rows[best], distance[best]

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

    # -- rows as people read them ---------------------------------------------------------------------------------
    def rows(self, numbers) -> list[dict]:
        """The listed rows: id and input as strings, classes, probabilities, novelty, margin and reason."""
        import pyarrow as pa

        numbers = np.asarray(numbers, dtype=np.int64)
        take = pa.array(numbers, type=pa.int64())
        ids, inputs, reasons = (column.take(take).to_pylist() for column in (self.ids, self.inputs, self.reasons))
        out = []
        for j, row in enumerate(numbers):
            entry = {"row": int(row), "id": str(ids[j]), "input": str(inputs[j]),
                     "status": ("kept", "rejected")[self.status[row]] if self.status[row] >= 0 else "",
                     "label": self.labels[self.label[row]] if self.label[row] >= 0 else "",
                     "predicted": self.classes[self.predicted[row]] if self.predicted[row] >= 0 else "",
                     "reason": reasons[j] or "", "index": int(self.index[row])}
            for name in ("novelty", "margin", "z"):
                value = self.numbers.get(name, np.full(self.n, np.nan))[row]
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

        rows = np.flatnonzero(shown & (self.status == 1))
        if not len(rows):
            return []
        counts = pc.value_counts(self.reasons.take(pa.array(rows)))
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
    wins) that
    ``astroxai run --data … --catalog`` and ``astroxai predict/explain`` take as a catalogue: columns ``file``,
    ``z``, ``label`` (the predicted class when agreed, the new class when relabelled, empty for bad data) and the
    verdict's record.  Rewritten atomically after every verdict; shared by every browser session (a lock)."""

    COLUMNS = ("file", "z", "label", "id", "verdict", "predicted", "survey_label", "model_sha256", "time")

    def __init__(self, path):
        self.path = Path(path)
        self.lock = threading.Lock()
        self.entries: dict[tuple[str, str], Verdict] = {}
        if self.path.is_file():
            with open(self.path, newline="", encoding="utf-8") as handle:
                for row in csv.DictReader(handle):
                    z = row.get("z") or ""
                    self.entries[row["id"], row["file"]] = Verdict(row["id"], row["file"], float(z) if z else None,
                                                      row.get("predicted", ""), row.get("survey_label", ""),
                                                      row.get("verdict", ""),
                                                      row.get("label", "") if row.get("verdict") == "relabel"
                                                      else "", row.get("model_sha256", ""), row.get("time", ""))

    def record(self, verdict: Verdict) -> None:
        if verdict.verdict not in VERDICTS:
            raise ValueError(f"a verdict is one of {', '.join(VERDICTS)}, not {verdict.verdict!r}")
        if verdict.verdict == "relabel" and not verdict.new_label:
            raise ValueError("a relabel verdict needs the new class")
        with self.lock:
            self.entries[verdict.id, verdict.file] = verdict
            with atomic_path(self.path) as temporary, open(temporary, "w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                writer.writerow(self.COLUMNS)
                for entry in self.entries.values():
                    row = {**asdict(entry), "label": entry.label, "z": "" if entry.z is None else repr(entry.z)}
                    writer.writerow([row[c] for c in self.COLUMNS])

    def __len__(self) -> int:
        return len(self.entries)
