"""t-SNE maps of a spectra set with openTSNE (Peruzzi et al. 2021, Sect. 4.2, 5.3 and App. A; van der Maaten &
Hinton 2008, JMLR 9, 2579; Poličar, Stražar & Zupan 2024, J. Stat. Softw. 109, 3, for openTSNE).

A map is fitted on raw or standardised fluxes (every wavelength scaled to zero mean and unit variance over the
spectra mapped, the paper's Eq. A.1), for one set of classes and one perplexity.  openTSNE is used rather than
scikit-learn's ``TSNE`` because it reaches a lower KL divergence in the same time here and because it can place new
spectra on an existing map (``transform``): the new points are optimised against the fixed map.

An :class:`EmbeddingMap` carries what it needs to place new points (openTSNE's ``TSNEEmbedding`` does the same): its
coordinates, the spectra it was fitted on and, when fitted in this session, their affinities.  Maps are stored
without pickle: coordinates, ids and settings in HDF5; a map read back from a file places new points once it is
given the data set it was made from (the affinities are rebuilt, same perplexity and seed).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import h5py
import numpy as np

from astroxai.data.base import atomic_path
from astroxai.errors import InputError
from astroxai.progress import track
from astroxai.results import json_text

log = logging.getLogger(__name__)

#: Perplexities of the paper's figures (A.2, A.3, A.5) and its main value, 50.
PAPER_PERPLEXITIES = (5, 10, 20, 30, 40, 50)
#: Class sets of the paper's maps: type 1 + type 2 (Figs. A.1–A.2), and every spectrum of the set (``None``: all
#: three classes of the paper's sample, Figs. 4, A.3–A.5, or whatever classes a user's sample has).
SUBSETS = {"type1+type2": ("type1", "type2"), "all": None}
FEATURES = ("raw", "standardised")
#: Up to this many spectra the neighbours are found exactly (faster than approximate search at this size, here
#: 9 s instead of 11 s for a 3346-spectrum map, and without its approximation); above it openTSNE chooses.
EXACT_NEIGHBOURS_MAX = 20_000


@dataclass(frozen=True)
class MapSpec:
    """Which map: the class set, raw or standardised fluxes, the perplexity.

    Parameters
    ----------
    subset : ``'all'`` or ``'type1+type2'``
        The classes whose spectra are mapped.
    features : ``'raw'`` or ``'standardised'``
        Fluxes as they are, or every wavelength scaled to zero mean and unit variance (the paper's Eq. A.1).
    perplexity : float
        t-SNE's perplexity (capped at (n − 1) / 3 for small sets).

    Examples
    --------
    >>> from astroxai import MapSpec
    >>> MapSpec("all", "standardised", 30).key
    'all/standardised/perplexity_30'
    """

    subset: str = "all"
    features: str = "raw"
    perplexity: float = 50.0

    def __post_init__(self):
        if self.subset not in SUBSETS:
            raise InputError(f"unknown class set {self.subset!r}; choose from {list(SUBSETS)}")
        if self.features not in FEATURES:
            raise InputError(f"features must be one of {FEATURES}")
        if not self.perplexity > 0:
            raise InputError("the perplexity must be positive")

    @property
    def key(self) -> str:
        return f"{self.subset}/{self.features}/perplexity_{self.perplexity:g}"


def _features(X, features: str, reference=None):
    X = np.asarray(X, dtype=np.float64)
    if features == "raw":
        return X
    ref = X if reference is None else np.asarray(reference, dtype=np.float64)
    mean, std = ref.mean(axis=0), ref.std(axis=0)
    return (X - mean) / np.where(std > 0, std, 1.0)


def _neighbours(n: int) -> str:
    return "exact" if n <= EXACT_NEIGHBOURS_MAX else "auto"


@dataclass
class EmbeddingMap:
    """One fitted t-SNE map.

    Attributes
    ----------
    spec : MapSpec
    coords : (n, 2) ndarray
    ids, labels : (n,) str
        The spectra on the map.
    kl : float
        The final KL divergence.
    seconds : float
        Time to fit.
    perplexity_used : float
        The perplexity, capped at (n − 1) / 3 for small sets.
    reference : (n, F) ndarray or None
        The fluxes the map was fitted on (needed by :meth:`place`).
    wavelength : (F,) ndarray or None
        Their wavelength grid, when known.
    source : str or None
        The data set file they were read from, when read from one (:func:`reference_map`).

    Examples
    --------
    >>> import numpy as np
    >>> from astroxai import EmbeddingMap, MapSpec
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(0, 1, (30, 5)), rng.normal(8, 1, (30, 5))])
    >>> fitted = EmbeddingMap.fit(X, MapSpec("all", "raw", 10), seed=1)
    >>> fitted.coords.shape, fitted.place(X[:2] + 0.01).shape
    ((60, 2), (2, 2))
    """

    spec: MapSpec
    coords: np.ndarray
    ids: np.ndarray
    labels: np.ndarray
    kl: float = float("nan")
    seconds: float = 0.0
    perplexity_used: float = float("nan")
    reference: np.ndarray | None = None
    _affinities: object = field(default=None, repr=False)
    wavelength: np.ndarray | None = None
    source: str | None = None

    @classmethod
    def fit(cls, X, spec: MapSpec, ids=None, labels=None, *, seed: int = 0, n_jobs: int = -1) -> EmbeddingMap:
        """Fit a map of the rows of ``X`` (raw normalised fluxes; standardised here if ``spec`` says so)."""
        from openTSNE import TSNE

        start = time.perf_counter()
        X = np.asarray(X, dtype=np.float64)
        Z = _features(X, spec.features)
        perplexity = min(spec.perplexity, (len(Z) - 1) / 3)  # openTSNE needs 3·perplexity < n
        embedding = TSNE(perplexity=perplexity, n_jobs=n_jobs, random_state=seed, verbose=False,
                         neighbors=_neighbours(len(Z))).fit(Z)
        ids = np.arange(len(X)).astype(str) if ids is None else np.asarray(ids).astype(str)
        labels = np.full(len(X), "") if labels is None else np.asarray(labels).astype(str)
        return cls(spec, np.asarray(embedding), ids, labels, float(embedding.kl_divergence),
                   time.perf_counter() - start, float(perplexity), X, embedding.affinities)

    def drop_reference(self) -> None:
        """Forget the fitted spectra and their affinities (to send the map to another process light); the map can
        no longer :meth:`place` new spectra until :func:`load_maps` gives it its data set again."""
        self.reference, self._affinities = None, None

    def place(self, X_new, *, seed: int = 0, n_jobs: int = -1) -> np.ndarray:
        """Coordinates of new spectra on this map (openTSNE ``transform``: the map stays fixed).  Standardised maps
        scale the new spectra with the map's own means and deviations."""
        from openTSNE import TSNEEmbedding
        from openTSNE.affinity import PerplexityBasedNN

        if self.reference is None:
            raise InputError(f"map {self.spec.key} was read without its spectra: load it with the data set it was "
                             "made from to place new points")
        affinities = self._affinities
        if affinities is None:
            Z = _features(self.reference, self.spec.features)
            affinities = PerplexityBasedNN(Z, perplexity=self.perplexity_used, n_jobs=n_jobs, random_state=seed,
                                           verbose=False, method=_neighbours(len(Z)))
            self._affinities = affinities
        coords = np.array(self.coords, dtype=np.float64)
        embedding = TSNEEmbedding(coords.copy(), affinities, random_state=seed, n_jobs=n_jobs)
        new = np.asarray(embedding.transform(_features(X_new, self.spec.features, reference=self.reference)))
        # openTSNE re-centres the reference map in place while it places the new points; move them back into the
        # frame of the stored coordinates.
        return new - (np.asarray(embedding) - coords).mean(axis=0)


def fit_maps(data, specs, *, seed: int = 0, n_jobs: int = -1, progress=None) -> list[EmbeddingMap]:
    """Fit every map in ``specs`` on the spectra of its class set (a :class:`~astroxai.data.SpectraSet`)."""
    maps = []
    for spec in track(progress, list(specs), "t-SNE maps", len(specs)):
        classes = SUBSETS[spec.subset]
        rows = np.arange(len(data)) if classes is None else np.flatnonzero(np.isin(data.labels, classes))
        if len(rows) < 4:
            raise InputError(f"{spec.key}: {len(rows)} spectra of the classes {classes or data.classes}, t-SNE needs "
                             "≥ 4")
        fitted = EmbeddingMap.fit(data.flux[rows], spec, data.ids[rows], data.labels[rows], seed=seed, n_jobs=n_jobs)
        log.info("t-SNE %s: KL %.4f in %.1f s", spec.key, fitted.kl, fitted.seconds)
        maps.append(fitted)
    return maps


def save_maps(path, maps: list[EmbeddingMap], attrs: dict | None = None) -> Path:
    """All maps in one HDF5 file, ``/embeddings/<subset>/<features>/perplexity_<p>/{coords, ids, labels}`` with the
    settings as attributes (other groups of the file are kept); the file is rewritten atomically."""
    path = Path(path)
    with atomic_path(path) as temporary:
        if path.exists():
            temporary.write_bytes(path.read_bytes())
        with h5py.File(temporary, "a") as handle:
            for name, value in (attrs or {}).items():
                handle.attrs[name] = json_text(value, indent=None) if isinstance(value, (dict, list)) else value
            for fitted in maps:
                key = "embeddings/" + fitted.spec.key
                if key in handle:
                    del handle[key]
                group = handle.create_group(key)
                group["coords"] = fitted.coords.astype(np.float32)
                group["ids"] = np.asarray(fitted.ids).astype("S")
                group["labels"] = np.asarray(fitted.labels).astype("S")
                for name, value in asdict(fitted.spec).items():
                    group.attrs[name] = value
                group.attrs["kl_divergence"] = fitted.kl
                group.attrs["seconds"] = fitted.seconds
                group.attrs["perplexity_used"] = fitted.perplexity_used
    return path


def _map_groups(handle, path) -> list:
    """The HDF5 groups of a maps file that hold one map each."""
    if "embeddings" not in handle:
        raise InputError(f"{path} holds no t-SNE maps")
    groups = []
    handle["embeddings"].visititems(
        lambda name, item: groups.append(item) if isinstance(item, h5py.Group) and "coords" in item else None)
    return groups


def _group_spec(group) -> MapSpec:
    return MapSpec(str(group.attrs["subset"]), str(group.attrs["features"]), float(group.attrs["perplexity"]))


def map_specs(path) -> list[MapSpec]:
    """Which maps a file holds, read from their attributes alone (no coordinates)."""
    with h5py.File(path, "r") as handle:
        return [_group_spec(group) for group in _map_groups(handle, path)]


def load_maps(path, data=None, specs=None) -> list[EmbeddingMap]:
    """The maps stored in a file (those of ``specs`` when given).  With ``data`` (the data set the maps were made
    from) each map gets its spectra back and can :meth:`~EmbeddingMap.place` new ones."""
    found = []
    with h5py.File(path, "r") as handle:
        for group in _map_groups(handle, path):
            spec = _group_spec(group)
            if specs is not None and spec not in specs:
                continue
            ids = group["ids"][()].astype(str)
            reference = None
            if data is not None:
                position = {i: row for row, i in enumerate(data.ids)}
                missing = [i for i in ids if i not in position]
                if missing:
                    raise InputError(f"map {spec.key}: {len(missing)} of its spectra are not in the data set")
                reference = data.flux[[position[i] for i in ids]].astype(np.float64)
            found.append(EmbeddingMap(spec, group["coords"][()].astype(np.float64), ids,
                                      group["labels"][()].astype(str), float(group.attrs["kl_divergence"]),
                                      float(group.attrs.get("seconds", 0.0)),
                                      float(group.attrs.get("perplexity_used", spec.perplexity)), reference,
                                      wavelength=None if data is None else np.asarray(data.wavelength)))
    if specs is not None and len(found) < len(list(specs)):
        raise KeyError(f"{path} lacks some of the maps asked for")
    return found


def reference_map(path, data_path=None, key: str | None = None) -> EmbeddingMap:
    """One map of a maps file (``embeddings.h5`` of ``astroxai embed``, ``explanations.h5`` of ``astroxai run``)
    with the spectra it was fitted on, ready to :meth:`~EmbeddingMap.place` new ones.

    ``data_path``: the data set the map was made from (default: the one the file records, relative to the file);
    ``key``: which map, e.g. ``'all/raw/perplexity_50'`` (default: all three classes, raw fluxes, the largest
    perplexity stored — the paper's main map when ``astroxai run`` made the file).
    """
    from astroxai.data import SpectraSet

    path = Path(path)
    with h5py.File(path, "r") as handle:
        if "embeddings" not in handle:
            raise InputError(f"{path} holds no t-SNE maps (make them with astroxai embed or astroxai run)")
        recorded = json.loads(handle.attrs.get("tsne", "{}")).get("dataset")
    if data_path is None:
        if not recorded:
            raise InputError(f"{path} does not record the data set its maps were made from: name it")
        data_path = path.parent / recorded
    data_path = Path(data_path)
    if not data_path.is_file():
        raise InputError(f"the maps of {path} were made from {data_path}, which is not there: name the data set")
    stored = map_specs(path)  # attributes only: the chosen map's coordinates are read once, below
    if key is None:
        key = max(stored, key=lambda s: (s.subset == "all", s.features == "raw", s.perplexity)).key
    chosen = [s for s in stored if s.key == key]
    if not chosen:
        raise InputError(f"{path} has no map {key!r}; it has {', '.join(s.key for s in stored)}")
    fitted = load_maps(path, SpectraSet.load(data_path), chosen)[0]
    fitted.source = str(data_path)
    return fitted


def paper_specs(perplexities=PAPER_PERPLEXITIES, subsets=tuple(SUBSETS), features=FEATURES) -> list[MapSpec]:
    """Every map of the paper's Sect. 5.3 and App. A: each class set × scaling × perplexity."""
    return [MapSpec(s, f, float(p)) for s in subsets for f in features for p in perplexities]
