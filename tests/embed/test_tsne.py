"""t-SNE maps: fitted maps separate clusters, place new spectra among their class, and survive storage."""

import numpy as np
import pytest

from astroxai.data import SpectraSet
from astroxai.embed import EmbeddingMap, MapSpec, fit_maps, load_maps, save_maps
from astroxai.embed.tsne import map_specs, reference_map


def _clusters(n=60, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.array(["type1", "type2", "intermediate"] * (n // 3))
    centres = {"type1": 0.0, "type2": 3.0, "intermediate": 6.0}
    X = np.array([centres[lab] + rng.normal(scale=0.3, size=40) for lab in labels])
    return X, labels, np.array([f"s{i}" for i in range(n)])


def _neighbour_agreement(coords, labels, k=5):
    from scipy.spatial import cKDTree

    nn = cKDTree(coords).query(coords, k=k + 1)[1][:, 1:]
    return (labels[nn] == labels[:, None]).mean()


@pytest.mark.parametrize("features", ["raw", "standardised"])
def test_tsne_separates_clusters_and_places_new_points(features, tmp_path):
    X, labels, ids = _clusters()
    spec = MapSpec("all", features, 10)
    fitted = EmbeddingMap.fit(X, spec, ids, labels, seed=1)
    assert fitted.coords.shape == (60, 2) and fitted.kl > 0
    assert _neighbour_agreement(fitted.coords, labels) > 0.95
    # the map's own spectra land where they are; new spectra land among their class
    same = fitted.place(X[:6], seed=1)
    spread = np.ptp(fitted.coords, axis=0).max()
    assert np.linalg.norm(same - fitted.coords[:6], axis=1).max() < 0.05 * spread
    X_new, labels_new, _ = _clusters(12, seed=9)
    placed = fitted.place(X_new, seed=1)
    from scipy.spatial import cKDTree

    nearest = cKDTree(fitted.coords).query(placed, k=3)[1]
    assert (labels[nearest] == labels_new[:, None]).mean() > 0.9
    # deterministic for a seed; stored and read back; a map read back places new points once given its spectra
    again = EmbeddingMap.fit(X, spec, seed=1)
    np.testing.assert_allclose(again.coords, fitted.coords)
    data = SpectraSet(X, np.arange(X.shape[1], dtype=float), labels, ids)
    maps = fit_maps(data, [spec, MapSpec("type1+type2", features, 5)], seed=1)
    assert len(maps[1].ids) == 40 and set(maps[1].labels) == {"type1", "type2"}
    path = save_maps(tmp_path / "maps.h5", maps)
    (loaded,) = load_maps(path, data, specs=[maps[1].spec])
    np.testing.assert_allclose(loaded.coords, maps[1].coords, rtol=1e-6)
    np.testing.assert_array_equal(loaded.ids, maps[1].ids)
    np.testing.assert_allclose(loaded.place(X_new[:4], seed=1), maps[1].place(X_new[:4], seed=1), atol=1e-4)
    with pytest.raises(ValueError, match="without its spectra"):
        load_maps(path)[0].place(X_new)
    with pytest.raises(KeyError):
        load_maps(path, specs=[MapSpec("all", features, 99)])
    # which maps a file holds, from their attributes alone; the reference map is the all-class one
    assert map_specs(path) == [m.spec for m in load_maps(path)] and set(map_specs(path)) == {m.spec for m in maps}
    chosen = reference_map(path, data_path=data.save(tmp_path / "data.h5"))
    assert chosen.spec == spec and chosen.reference is not None


