"""One object's spectrum and attribution map, and the mean map of a selection, for ``astroxai view``.

Maps come from the survey's Zarr store when it was run with ``--maps``; otherwise they are computed on demand with
the survey's own model, method, target, baseline and options (``Explainer``, as ``astroxai explain`` does).  The
spectrum is read again from the survey's input (a reduced store's row, or the file, reduced with the model's own
grid and settings).  The model is loaded once per server and checked against the survey's checksum.
"""

from __future__ import annotations

import csv
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from astroxai.data.base import atomic_path
from astroxai.results import json_text
from astroxai.view.table import Filter, SurveyTable, ViewError, find_sorted
from astroxai.workflows.survey_outputs import MAPS

#: Objects averaged per side for a selection's mean map when maps are computed on demand (seeded sample).
ON_DEMAND_SAMPLE = 200
#: ... drawn from the survey parts (partitions of consecutive inputs) that hold most of a side's rows.
ON_DEMAND_PARTS = 4
#: ... and when they are read from the survey's maps (from at most this many partitions, the fullest first).
STORED_SAMPLE, STORED_PARTS = 4000, 8


@dataclass
class ObjectView:
    """What the spectrum panel draws for one object."""

    row: dict
    wavelength: np.ndarray
    flux: np.ndarray
    attribution: np.ndarray
    source: str  # "stored" (the survey's maps) or "computed" (on demand)


class Explained:
    """The survey's model and maps, shared by every session (loading is locked; reading is not)."""

    def __init__(self, table: SurveyTable):
        self.table = table
        self.lock = threading.Lock()
        self._model = None
        self._stored = None  # (part number per row, row within the part, part paths)
        self._stores: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # sorted ids, their rows
        self._offsets: dict[str, int | None] = {}  # a store's first row's place in the survey

    # -- the model ------------------------------------------------------------------------------------------------
    def model(self):
        with self.lock:
            if self._model is None:
                folder = Path(self.table.model_dir)
                if not folder.is_dir():
                    raise ViewError(f"the survey's model folder {folder} is gone: spectra and maps cannot be drawn")
                from astroxai.models import load_model

                model = load_model(folder)
                if model.metadata_.get("sha256") != self.table.model_sha:
                    raise ViewError(f"{folder} changed since the survey ran (its checksum differs): its maps would "
                                    "not be the survey's")
                self._model = model
            return self._model

    # -- spectra --------------------------------------------------------------------------------------------------
    def spectra(self, rows: list[dict]):
        """The reduced spectra of listed kept rows as one SpectraSet (in order), from their stores or files."""
        from astroxai.data import SpectraSet
        from astroxai.io import InputItem
        from astroxai.workflows.inputs import reduced_chunks

        model = self.model()
        fluxes: list = [None] * len(rows)
        stores: dict[str, list[int]] = {}
        for number, row in enumerate(rows):
            source = row["input"]
            if is_store(source):
                stores.setdefault(source, []).append(number)
                continue
            path, _, member = source.partition("#") if not Path(source).exists() else (source, "", "")
            item = InputItem(Path(path), z=row.get("z"), member=member or None)
            fates, data = next(reduced_chunks(model, [item], workers=1, chunk_size=1))
            if data is None or not len(data):
                raise ViewError(f"{source}: cannot be read again ({fates[0]['reason']})")
            fluxes[number] = data.flux[0]
        for store, numbers in stores.items():  # one opening and one read per store
            chosen = [rows[n] for n in numbers]
            for number, flux in zip(numbers, self._store_fluxes(store, [r["id"] for r in chosen],
                                                                 [r.get("index") for r in chosen]), strict=True):
                fluxes[number] = flux
        grid = np.asarray(model.grid_, dtype=np.float64)
        return SpectraSet(np.asarray(fluxes, dtype=np.float32).reshape(-1, grid.size), grid,
                          [r["label"] for r in rows], [r["id"] for r in rows], {"z": [r.get("z") for r in rows]})

    def _store_fluxes(self, store: str, spectrum_ids: list[str], indices=None) -> np.ndarray:
        """Spectra of a reduced store, found by their ids, read in one go (h5py reads increasing rows).

        A survey lists its stores first, each row by row (:func:`~astroxai.workflows.survey.plan_partitions`), so a
        row's place in its store is its survey index less that of the store's first row: that guess is checked
        against the store's own ids, read at those rows only.  Where the check fails (the store was rewritten, or
        listed twice), every id of the store is read once and sorted, and each id is a binary search — at 10⁷ rows
        that costs ~9 s and ~1 GB, which is why it is the fallback and not the rule."""
        from astroxai.data import SpectraSet
        from astroxai.data.base import open_hdf5

        wanted = np.asarray(spectrum_ids, dtype=str)
        with open_hdf5(store, SpectraSet.FORMAT) as handle:
            positions = self._positions_by_index(store, handle, wanted, indices)
            if positions is None:
                positions = self._positions_by_id(store, handle, wanted)
            unique, back = np.unique(positions, return_inverse=True)
            return np.asarray(handle["flux"][unique], dtype=np.float32)[back]

    def _positions_by_index(self, store: str, handle, wanted: np.ndarray, indices) -> np.ndarray | None:
        """The rows of ``wanted`` in the store from their survey indices, or None when that cannot be confirmed."""
        if indices is None or any(i is None for i in indices):
            return None
        if store not in self._offsets:
            self._offsets[store] = self._store_offset(store)
        offset = self._offsets[store]
        if offset is None:
            return None
        positions = np.asarray(indices, dtype=np.int64) - offset
        if (positions < 0).any() or (positions >= handle["ids"].shape[0]).any():
            return None
        unique, back = np.unique(positions, return_inverse=True)
        stored = np.asarray(handle["ids"].asstr()[unique], dtype=str)[back]
        return positions if np.array_equal(stored, wanted) else None

    def _store_offset(self, store: str, most: int = 1000) -> int | None:
        """The survey index of the store's first row: the survey's leading stores are walked from index 0, each
        one's length read from its file (a handful of one-row reads).  None when the walk meets anything else."""
        from astroxai.data import SpectraSet

        table, start = self.table, 0
        for _ in range(most):
            at, found = find_sorted(table.index, np.array([start]))
            if not found[0]:
                return None
            source = table.strings("input", at)[0] or ""
            if source == store:
                return start
            if not is_store(source):
                return None
            try:
                start += SpectraSet.describe(source)[0]
            except (OSError, ValueError):  # InputError is a ValueError
                return None
        return None

    def _positions_by_id(self, store: str, handle, wanted: np.ndarray) -> np.ndarray:
        """The rows of ``wanted`` in the store by a binary search over all its ids (read once, kept sorted)."""
        if store not in self._stores:  # as UTF-8 bytes: a quarter of the memory of numpy's str, sorted faster
            ids = np.asarray(handle["ids"][()], dtype=bytes)
            order = np.argsort(ids, kind="stable")
            self._stores[store] = (ids[order], order)
        ids, order = self._stores[store]
        at, found = find_sorted(ids, np.char.encode(wanted, "utf-8"))
        if not found.all():
            raise ViewError(f"{store}: holds no spectrum {wanted[~found][0]!r} any more")
        return order[at]

    # -- maps -----------------------------------------------------------------------------------------------------
    def _explain(self, data) -> np.ndarray:
        from astroxai.explain import Explainer

        settings = self.table.record["settings"]
        explainer = Explainer(self.model(), settings.get("method", "saliency"), settings.get("baseline", "model"),
                              seed=int(settings.get("seed", 0)), **(settings.get("options") or {}))
        return explainer.explain(data, target=settings.get("target", "predicted")).maps

    def _stored_index(self):
        with self.lock:
            if self._stored is None:
                import zarr

                part = np.full(self.table.n, -1, np.int32)
                within = np.full(self.table.n, -1, np.int32)
                paths = sorted((self.table.folder / MAPS).glob("part-*.zarr"))
                for number, path in enumerate(paths):
                    index = np.asarray(zarr.open_array(str(path), mode="r").attrs["index"], dtype=np.int64)
                    rows = np.searchsorted(self.table.index, index)
                    part[rows], within[rows] = number, np.arange(len(rows))
                self._stored = (part, within, paths)
            return self._stored

    def stored_maps(self, rows: np.ndarray) -> np.ndarray | None:
        """The survey's stored maps of these rows (None when the survey kept no maps or one of them lacks one)."""
        if not self.table.has_maps:
            return None
        import zarr

        part, within, paths = self._stored_index()
        rows = np.asarray(rows, dtype=np.int64)
        if (part[rows] < 0).any():
            return None
        maps = None
        for number in np.unique(part[rows]):
            chosen = np.flatnonzero(part[rows] == number)
            block = zarr.open_array(str(paths[number]), mode="r")[np.sort(within[rows[chosen]])]
            order = np.argsort(np.argsort(within[rows[chosen]]))
            maps = np.zeros((len(rows), block.shape[1]), np.float32) if maps is None else maps
            maps[chosen] = block[order]
        return maps

    def show(self, row_number: int) -> ObjectView:
        """One kept object: its spectrum and its map (stored, or computed now)."""
        row = self.table.rows([row_number])[0]
        if row["status"] != "kept":
            raise ViewError(f"{row['input']} was rejected by the survey ({row['reason']}): nothing to draw")
        data = self.spectra([row])
        stored = self.stored_maps(np.array([row_number]))
        attribution = stored[0] if stored is not None else self._explain(data)[0]
        return ObjectView(row, data.wavelength, data.flux[0], np.asarray(attribution, dtype=np.float64),
                          "stored" if stored is not None else "computed")

    def mean_maps(self, selected: np.ndarray, shown: np.ndarray, seed: int = 0):
        """The mean map of a selection and of the other shown kept rows: ``(wavelength, mean of the selection,
        mean of the rest, rows averaged in the selection, in the rest)``; a seeded sample of each side (all of a
        side when it is small), from the stored maps or computed on demand."""
        table = self.table
        selected = np.asarray(selected, dtype=np.int64)
        selected = selected[table.kept[selected]]
        rest = np.flatnonzero(shown & table.kept)
        rest = np.setdiff1d(rest, selected, assume_unique=True)
        rng = np.random.default_rng(seed)
        stored = table.has_maps
        size = STORED_SAMPLE if stored else ON_DEMAND_SAMPLE

        def sample(rows):
            # a cluster sample: the rows of the few parts that hold most of them, then a seeded sample of those.
            # Stored maps: one Zarr part read per part.  Computed maps: a survey part is 2 048 consecutive
            # inputs, i.e. a few chunks of a reduced store, where one spectrum read alone costs a whole gzip chunk
            # (4 MB, ~9 ms): 200 rows spread over a 10⁶-row store took 1.6 s, from 4 parts 0.1 s.
            part = self._stored_index()[0][rows] if stored else table.part_of(rows)
            fullest = np.unique(part, return_counts=True)
            keep = fullest[0][np.argsort(-fullest[1], kind="stable")[:STORED_PARTS if stored else ON_DEMAND_PARTS]]
            rows = rows[np.isin(part, keep)]
            return np.sort(rng.choice(rows, size, replace=False)) if len(rows) > size else rows

        means = []
        for rows in (sample(selected), sample(rest)):
            if not len(rows):
                means.append((None, 0))
                continue
            maps = self.stored_maps(rows) if stored else None
            if maps is None:
                maps = self._explain(self.spectra(table.rows(rows)))
            means.append((np.asarray(maps, dtype=np.float64).mean(axis=0), len(rows)))
        wavelength = np.asarray(self.model().grid_, dtype=np.float64)
        return wavelength, means[0][0], means[1][0], means[0][1], means[1][1]


def export_selection(table: SurveyTable, explained: Explained, rows, chosen: Filter, folder, *,
                     name: str | None = None, geometry: dict | None = None) -> list[Path]:
    """Save a selection so it can be re-run: ``<name>.csv``, a catalogue of its kept rows read from files (``file``,
    ``z``, ``id``, ``predicted``, ``label``), ``<name>.h5``, the reduced spectra of its kept rows that came from
    reduced stores (a SpectraSet), and ``<name>.json`` with the filter's query, the selection's shape on the map,
    the ids (strings) and the survey's model and its checksum.  ``astroxai explain MODEL <name>.csv <name>.h5``
    re-runs it.  Every file is written atomically; returns the paths written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if name is None:
        taken = {p.stem for p in folder.glob("selection-*.json")}
        name = next(f"selection-{k:03d}" for k in range(1, 10_000) if f"selection-{k:03d}" not in taken)
    listed = [r for r in table.rows(rows) if r["status"] == "kept"]
    from_stores = [r for r in listed if is_store(r["input"])]
    from_files = [r for r in listed if not is_store(r["input"])]
    written = []
    if from_files or not from_stores:
        path = folder / f"{name}.csv"
        with atomic_path(path) as temporary, open(temporary, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["file", "z", "id", "predicted", "label"])
            for row in from_files:
                writer.writerow([row["input"], "" if row["z"] is None else repr(row["z"]), row["id"],
                                 row["predicted"], row["label"]])
        written.append(path)
    if from_stores:
        path = folder / f"{name}.h5"
        explained.spectra(from_stores).save(path)  # SpectraSet.save writes atomically
        written.append(path)
    about = {"survey": str(table.folder.resolve()), "query": chosen.query(), "filter": asdict(chosen),
             "geometry": geometry, "n": len(listed), "ids": [r["id"] for r in listed], "model": table.model_dir,
             "model_sha256": table.model_sha, "inputs": [p.name for p in written]}
    path = folder / f"{name}.json"
    with atomic_path(path) as temporary:
        temporary.write_text(json_text(about, indent=1))
    return [*written, path]


def is_store(source: str) -> bool:
    """Whether a survey row's input is a reduced store (an HDF5 file of reduced spectra), not a spectrum file."""
    from astroxai.workflows.inputs import SET_SUFFIXES  # here: that module brings torch, the viewer's start need not

    return source.lower().endswith(SET_SUFFIXES) and Path(source).is_file()
