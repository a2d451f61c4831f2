"""Physics checks on maps with known answers, t-SNE maps (fit, place, store), the explain study and the CLI."""

import csv
import json

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from astroxai.cli import main
from astroxai.dataset import SpectraSet
from astroxai.explain.embed import MapSpec, embed_dataset, fit_map, load_map, place_on_map, save_maps
from astroxai.explain.physics import (
    HBETA,
    core_wing_signs,
    line_share,
    line_windows,
    physics_summary,
    velocity,
)
from astroxai.explain.study import explain_study, select_gallery
from astroxai.lines import C_KMS, DIAGNOSTIC_LINES
from astroxai.models.persist import load_model

WAVE = np.linspace(3700.0, 5300.0, 3201)


def test_velocity():
    np.testing.assert_allclose(velocity([HBETA, HBETA * (1 + 1000 / C_KMS)], HBETA), [0.0, 1000.0])


def test_core_wing_signs_on_constructed_maps():
    v = velocity(WAVE, HBETA)
    width = np.where(np.abs(v) < 500, -1.0, 0.0) + np.where((np.abs(v) > 1000) & (np.abs(v) < 4000), 2.0, 0.0)
    same = np.where(np.abs(v) < 4000, 1.0, 0.0)
    blue_only = np.where((v > 1000) & (v < 4000), 1.0, 0.0) - np.where(np.abs(v) < 500, 1.0, 0.0)
    zero = np.zeros_like(WAVE)
    out = core_wing_signs(WAVE, np.array([width, same, blue_only, zero]))
    np.testing.assert_allclose(out["core"], [-1, 1, -1, 0])
    np.testing.assert_allclose(out["wings"], [2, 1, 0.5, 0], rtol=0.02)  # half the wing pixels are positive
    np.testing.assert_array_equal(out["opposite"], [True, False, True, False])
    np.testing.assert_array_equal(out["zero"], [False, False, False, True])
    with pytest.raises(ValueError, match="does not cover"):
        core_wing_signs(np.linspace(3700, 4500, 100), width[None, :100])


def test_line_share_against_brute_force():
    mask = line_windows(WAVE)
    # brute force: a point is inside if it is within 2000 km/s of any line
    brute = np.array([any(abs(C_KMS * (w / c - 1)) <= 2000 for c in DIAGNOSTIC_LINES.values()) for w in WAVE])
    np.testing.assert_array_equal(mask, brute)
    uniform = np.ones((1, WAVE.size))
    inside_only = mask[None, :].astype(float) * np.random.default_rng(0).normal(size=WAVE.size)
    outside_only = (~mask)[None, :].astype(float)
    out = line_share(WAVE, np.vstack([uniform, inside_only, outside_only, np.zeros(WAVE.size)]))
    assert out["wavelength_share"] == pytest.approx(mask.mean(), abs=1e-3)
    np.testing.assert_allclose(out["saliency_share"][:3], [out["wavelength_share"], 1.0, 0.0], atol=1e-3)
    assert np.isnan(out["saliency_share"][3])
    summary = physics_summary(WAVE, np.vstack([uniform, inside_only]), np.array([True, False]))
    assert summary["n_broad_hbeta"] == 1 and summary["n_opposite"] == 0


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
    fitted = fit_map(X, spec, seed=1)
    assert fitted["coords"].shape == (60, 2) and fitted["kl"] > 0
    assert _neighbour_agreement(fitted["coords"], labels) > 0.95
    # the map's own spectra land where they are; new spectra land among their class
    same = place_on_map(X, fitted["coords"], X[:6], spec, seed=1)
    spread = np.ptp(fitted["coords"], axis=0).max()
    assert np.linalg.norm(same - fitted["coords"][:6], axis=1).max() < 0.05 * spread
    X_new, labels_new, _ = _clusters(12, seed=9)
    placed = place_on_map(X, fitted["coords"], X_new, spec, seed=1)
    from scipy.spatial import cKDTree

    nearest = cKDTree(fitted["coords"]).query(placed, k=3)[1]
    assert (labels[nearest] == labels_new[:, None]).mean() > 0.9
    # deterministic for a seed; stored and read back
    again = fit_map(X, spec, seed=1)
    np.testing.assert_allclose(again["coords"], fitted["coords"])
    results = embed_dataset(X, labels, ids, [spec, MapSpec("type1+type2", features, 5)], seed=1)
    assert len(results[1]["rows"]) == 40 and set(results[1]["labels"]) == {"type1", "type2"}
    path = save_maps(tmp_path / "maps.h5", results)
    loaded = load_map(path, results[1]["spec"])
    np.testing.assert_allclose(loaded["coords"], results[1]["coords"], rtol=1e-6)
    np.testing.assert_array_equal(loaded["ids"], results[1]["ids"])
    with pytest.raises(KeyError):
        load_map(path, MapSpec("all", features, 99))


def test_select_gallery():
    labels = np.array(["a", "b", "a", "b", "a", "a"])
    predicted = np.array(["a", "a", "a", "b", "b", "a"])
    wrong, right = select_gallery(labels, predicted, n_correct=2, seed=3)
    np.testing.assert_array_equal(wrong, [1, 4])
    assert len(right) == 2 and set(right) <= {0, 2, 3, 5}
    np.testing.assert_array_equal(right, select_gallery(labels, predicted, 2, seed=3)[1])


def test_explain_study_outputs(trained_model, reduced_sample, tmp_path):
    model, meta = load_model(trained_model)
    data = SpectraSet.load(reduced_sample)
    split = json.loads((trained_model / "split.json").read_text())
    rows = np.flatnonzero(np.isin(data.ids, split["test"] + split["validation"]))
    fitted = embed_dataset(data.flux, data.labels, data.ids, [MapSpec("all", "raw", 5)], seed=0)[0]
    result = explain_study(model, meta, data, rows, tmp_path, embedding=fitted, n_correct=3, seed=2,
                           echo=lambda *a: None)
    predicted = model.predict(data.flux[rows].astype(np.float64))
    n_wrong = int((predicted != data.labels[rows]).sum())
    assert len(result["gallery"]) == n_wrong + 3
    assert sum(not g["correct"] for g in result["gallery"]) == n_wrong
    with open(tmp_path / "misclassified.csv", newline="") as handle:
        table = list(csv.DictReader(handle))
    assert len(table) == n_wrong and all(r["label"] != r["predicted"] for r in table)
    for g in result["gallery"]:
        assert (tmp_path / "figures" / "saliency" / f"{g['number']:02d}_{g['id']}.png").stat().st_size > 20_000
    assert (tmp_path / "figures" / "tsne_explained.png").is_file()
    with h5py.File(result["data_file"]) as handle:
        maps = handle["saliency/maps"][()]
        assert maps.shape == (len(rows), data.flux.shape[1])
        ids = handle["saliency/ids"][()].astype(str)
    np.testing.assert_array_equal(ids, data.ids[rows])
    physics = result["physics"]
    assert 0 <= physics["line_saliency_share_median"] <= 1 and physics["n_maps"] + physics["n_zero_maps"] == len(rows)


def test_cli_explain_and_embed(trained_model, reduced_sample, tmp_path):
    spectra = sorted((reduced_sample.parent / "sim" / "spectra").glob("*.fits"))[:3]
    broken = tmp_path / "broken.fits"
    broken.write_bytes(spectra[0].read_bytes()[:2000])
    runner = CliRunner()
    out = tmp_path / "explained"
    result = runner.invoke(main, ["explain", str(trained_model), *map(str, spectra), str(broken), "--out", str(out)])
    assert result.exit_code == 0, result.output
    with open(out / "explanations.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["status"] for r in rows] == ["kept"] * 3 + ["rejected"]
    assert "FITS" in rows[3]["reason"] and rows[3]["file"].endswith("broken.fits")
    assert len(list((out / "figures").glob("saliency_*.png"))) == 3
    # a raw file gets the same map as its entry in the reduced data set
    data = SpectraSet.load(reduced_sample)
    whole = tmp_path / "whole"
    result = runner.invoke(main, ["explain", str(trained_model), str(reduced_sample), "--out", str(whole),
                                  "--max-figures", "0"])
    assert result.exit_code == 0, result.output
    with h5py.File(out / "explanations.h5") as a, h5py.File(whole / "explanations.h5") as b:
        assert b["saliency/maps"].shape == data.flux.shape
        ids_b = list(b["saliency/ids"][()].astype(str))
        for k, spec_id in enumerate(a["saliency/ids"][()].astype(str)):
            np.testing.assert_allclose(a["saliency/maps"][k], b["saliency/maps"][ids_b.index(spec_id)], rtol=1e-6)
    fd = tmp_path / "fd"
    result = runner.invoke(main, ["explain", str(trained_model), str(reduced_sample), "--out", str(fd),
                                  "--method", "finite-difference", "--target", "type1", "--max-figures", "0"])
    assert result.exit_code == 0, result.output
    with h5py.File(fd / "explanations.h5") as handle:
        assert set(handle["saliency/target"][()].astype(str)) == {"type1"}
        assert json.loads(handle["saliency"].attrs["settings"])["method"] == "finite-difference"
    # a broken data set file is rejected with its reason, the other inputs are still explained
    junk = tmp_path / "junk.h5"
    junk.write_text("not HDF5")
    mixed = tmp_path / "mixed"
    result = runner.invoke(main, ["explain", str(trained_model), str(junk), str(spectra[0]), "--out", str(mixed)])
    assert result.exit_code == 0, result.output
    with open(mixed / "explanations.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["status"] for r in rows] == ["rejected", "kept"]
    assert rows[0]["file"].endswith("junk.h5") and "not an astroxai SpectraSet" in rows[0]["reason"]
    bad = runner.invoke(main, ["explain", str(trained_model), str(reduced_sample), "--out", str(tmp_path / "x"),
                               "--target", "type7"])
    assert bad.exit_code == 1 and "unknown class" in bad.output
    emb = tmp_path / "embed"
    result = runner.invoke(main, ["embed", str(reduced_sample), "--out", str(emb), "--perplexity", "5",
                                  "--perplexity", "8", "--raw", "--classes", "all", "--place", str(reduced_sample)])
    assert result.exit_code == 0, result.output
    with open(emb / "tsne.csv", newline="") as handle:
        table = list(csv.DictReader(handle))
    assert [float(r["perplexity"]) for r in table] == [5, 8] and float(table[0]["kl_divergence"]) > 0
    assert (emb / "figures" / "tsne_all_raw.png").is_file() and (emb / "placed.csv").is_file()


def test_a_grid_without_hbeta_still_gets_explained(reduced_sample, tmp_path):
    """A model on a blue-only grid has no Hβ sign test; the line share and everything else still come out."""
    from types import SimpleNamespace

    from astroxai.explain.physics import physics_checks
    from astroxai.models.svm import fit_quietly, make_svm

    data = SpectraSet.load(reduced_sample)
    blue = data.wavelength < 4600
    assert physics_checks(data.wavelength[blue], data.flux[:2, blue])["signs"] is None
    model = make_svm("linear", 1.0, n_features=int(blue.sum()), probability=True, seed=0)
    fit_quietly(model, data.flux[:, blue].astype(np.float64), data.labels)
    cut = SimpleNamespace(wavelength=data.wavelength[blue], flux=data.flux[:, blue], ids=data.ids, labels=data.labels)
    result = explain_study(model, {"kernel": "linear"}, cut, np.arange(len(data)), tmp_path, n_correct=2,
                           echo=lambda *a: None)
    assert "opposite_fraction" not in result["physics"] and 0 <= result["physics"]["line_saliency_share_median"] <= 1
    with open(tmp_path / "correct_sample.csv", newline="") as handle:
        assert [r["hbeta_core_mean"] for r in csv.DictReader(handle)] == ["", ""]
