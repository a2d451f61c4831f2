"""t-SNE maps of a spectra set with openTSNE (Peruzzi et al. 2021, Sect. 4.2, 5.3 and App. A).

A map is fitted on raw or standardised fluxes (every wavelength scaled to zero mean and unit variance over the
spectra mapped, the paper's Eq. A.1), for one set of classes and one perplexity.  openTSNE is used rather than
scikit-learn's ``TSNE`` because it reaches a lower KL divergence in the same time here and because it can place
new spectra on an existing map (``transform``): the new points are optimised against the fixed map.

Maps are stored without pickle: coordinates, ids and settings in HDF5.  To place new spectra, the map's
affinities are rebuilt from the original spectra (same perplexity, seed) and wrapped around the stored
coordinates, which is all openTSNE's ``transform`` needs.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import h5py
import numpy as np

#: Perplexities of the paper's figures (A.2, A.3, A.5) and its main value, 50.
PAPER_PERPLEXITIES = (5, 10, 20, 30, 40, 50)
#: Class sets of the paper's maps: type 1 + type 2 (Figs. A.1–A.2), all three (Figs. 4, A.3–A.5).
SUBSETS = {"type1+type2": ("type1", "type2"), "all": ("type1", "type2", "intermediate")}
FEATURES = ("raw", "standardised")


@dataclass(frozen=True)
class MapSpec:
    subset: str = "all"
    features: str = "raw"
    perplexity: float = 50.0

    @property
    def key(self) -> str:
        return f"{self.subset}/{self.features}/perplexity_{self.perplexity:g}"


def _features(X, features: str, reference=None):
    X = np.asarray(X, dtype=np.float64)
    if features == "raw":
        return X
    if features != "standardised":
        raise ValueError(f"features must be one of {FEATURES}")
    ref = X if reference is None else np.asarray(reference, dtype=np.float64)
    mean, std = ref.mean(axis=0), ref.std(axis=0)
    return (X - mean) / np.where(std > 0, std, 1.0)


#: Up to this many spectra the neighbours are found exactly (faster than approximate search at this size, here
#: 9 s instead of 11 s for a 3346-spectrum map, and without its approximation); above it openTSNE chooses.
EXACT_NEIGHBOURS_MAX = 20_000


def _neighbours(n: int) -> str:
    return "exact" if n <= EXACT_NEIGHBOURS_MAX else "auto"


def fit_map(X, spec: MapSpec, *, seed: int = 0, n_jobs: int = -1) -> dict:
    """Fit one t-SNE map of the rows of ``X``; returns coordinates, final KL divergence and the time taken."""
    from openTSNE import TSNE

    start = time.perf_counter()
    Z = _features(X, spec.features)
    perplexity = min(spec.perplexity, (len(Z) - 1) / 3)  # openTSNE needs 3·perplexity < n
    embedding = TSNE(perplexity=perplexity, n_jobs=n_jobs, random_state=seed, verbose=False,
                     neighbors=_neighbours(len(Z))).fit(Z)
    return {"coords": np.asarray(embedding), "kl": float(embedding.kl_divergence),
            "seconds": time.perf_counter() - start, "perplexity_used": float(perplexity)}


def place_on_map(X_map, coords, X_new, spec: MapSpec, *, seed: int = 0, n_jobs: int = -1) -> np.ndarray:
    """Coordinates of new spectra on an existing map (openTSNE ``transform``: the map stays fixed).

    ``X_map`` are the spectra the map was fitted on (in the same order as ``coords``); standardised maps scale
    the new spectra with the map's own means and deviations.
    """
    from openTSNE import TSNEEmbedding
    from openTSNE.affinity import PerplexityBasedNN

    Z = _features(X_map, spec.features)
    perplexity = min(spec.perplexity, (len(Z) - 1) / 3)
    affinities = PerplexityBasedNN(Z, perplexity=perplexity, n_jobs=n_jobs, random_state=seed, verbose=False,
                                   method=_neighbours(len(Z)))
    coords = np.array(coords, dtype=np.float64)
    embedding = TSNEEmbedding(coords.copy(), affinities, random_state=seed, n_jobs=n_jobs)
    new = np.asarray(embedding.transform(_features(X_new, spec.features, reference=X_map)))
    # openTSNE re-centres the reference map in place while it places the new points; move them back into the
    # frame of the stored coordinates.
    return new - (np.asarray(embedding) - coords).mean(axis=0)


def embed_dataset(flux, labels, ids, specs, *, seed: int = 0, n_jobs: int = -1, progress=None) -> list[dict]:
    """Fit every map in ``specs`` on the spectra of its class set; one result dict per map."""
    labels = np.asarray(labels).astype(str)
    results = []
    for spec in (progress(specs, total=len(specs)) if progress else specs):
        if spec.subset not in SUBSETS:
            raise ValueError(f"unknown class set {spec.subset!r}; choose from {list(SUBSETS)}")
        rows = np.flatnonzero(np.isin(labels, SUBSETS[spec.subset]))
        if len(rows) < 4:
            raise ValueError(f"{spec.key}: {len(rows)} spectra of the classes {SUBSETS[spec.subset]}, t-SNE needs ≥ 4")
        fitted = fit_map(flux[rows], spec, seed=seed, n_jobs=n_jobs)
        results.append({"spec": spec, "rows": rows, "ids": np.asarray(ids)[rows], "labels": labels[rows], **fitted})
    return results


def save_maps(path, results, attrs: dict | None = None) -> Path:
    """All maps in one HDF5 file: ``/<subset>/<features>/perplexity_<p>/{coords, ids, labels}`` + attributes."""
    import json

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "a") as handle:
        for name, value in (attrs or {}).items():
            handle.attrs[name] = json.dumps(value) if isinstance(value, (dict, list)) else value
        for result in results:
            key = "embeddings/" + result["spec"].key
            if key in handle:
                del handle[key]
            group = handle.create_group(key)
            group["coords"] = result["coords"].astype(np.float32)
            group["ids"] = np.asarray(result["ids"]).astype("S")
            group["labels"] = np.asarray(result["labels"]).astype("S")
            for name, value in asdict(result["spec"]).items():
                group.attrs[name] = value
            group.attrs["kl_divergence"] = result["kl"]
            group.attrs["seconds"] = result["seconds"]
    return path


def load_map(path, spec: MapSpec) -> dict:
    """One stored map: coordinates, ids, labels and KL divergence."""
    with h5py.File(path, "r") as handle:
        key = "embeddings/" + spec.key
        if key not in handle:
            raise KeyError(f"{path} has no map {spec.key}")
        group = handle[key]
        return {"spec": spec, "coords": group["coords"][()].astype(np.float64),
                "ids": group["ids"][()].astype(str), "labels": group["labels"][()].astype(str),
                "kl": float(group.attrs["kl_divergence"])}


def embed_study(flux, labels, ids, out, *, perplexities=PAPER_PERPLEXITIES, subsets=tuple(SUBSETS),
                features=FEATURES, seed: int = 0, n_jobs: int = -1, data_file=None, progress=None,
                echo=print) -> dict:
    """Every map of the paper's Sect. 5.3 and App. A: for each class set and feature scaling, one map per
    perplexity.  Writes the maps to ``data_file`` (default ``out/embeddings.h5``), the KL/time table and one
    grid figure per (class set, scaling), plus the main map (largest perplexity) on its own."""
    from astroxai.plots import save_figure
    from astroxai.plots.explain import plot_tsne, plot_tsne_grid
    from astroxai.tables import write_table

    out = Path(out)
    specs = [MapSpec(s, f, float(p)) for s in subsets for f in features for p in perplexities]
    results = embed_dataset(flux, labels, ids, specs, seed=seed, n_jobs=n_jobs, progress=progress)
    data_file = save_maps(Path(data_file) if data_file else out / "embeddings.h5", results,
                          {"tsne": {"seed": seed, "library": "openTSNE", "perplexities": list(perplexities)}})
    rows = [{"subset": r["spec"].subset, "features": r["spec"].features, "perplexity": r["spec"].perplexity,
             "n": len(r["rows"]), "kl_divergence": round(r["kl"], 4), "seconds": round(r["seconds"], 2)}
            for r in results]
    write_table(rows, out / "tsne", {"library": "openTSNE", "seed": seed})
    figures = []
    for subset in subsets:
        for feature in features:
            group = [r for r in results if r["spec"].subset == subset and r["spec"].features == feature]
            title = f"t-SNE of {subset.replace('+', ' + ')} spectra, {feature} fluxes"
            figures += save_figure(plot_tsne_grid(group, title=title), out / "figures" / f"tsne_{subset}_{feature}")
            main = max(group, key=lambda r: r["spec"].perplexity)
            figures += save_figure(plot_tsne(main["coords"], main["labels"],
                                             title=f"{title}, perplexity {main['spec'].perplexity:g}"),
                                   out / "figures" / f"tsne_{subset}_{feature}_main")
    echo(f"{len(results)} t-SNE maps in {sum(r['seconds'] for r in results):.0f} s → {data_file}")
    return {"maps": rows, "data_file": str(data_file), "figures": [str(p) for p in figures], "results": results}
