"""The explain workflows: the paper's saliency study of test spectra, and ``astroxai explain`` / ``embed`` on files,
data sets and broken inputs."""

import csv

import numpy as np
from click.testing import CliRunner

from astroxai.cli import main
from astroxai.data import SpectraSet
from astroxai.embed import MapSpec, fit_maps
from astroxai.explain import Explanation
from astroxai.models import load_model
from astroxai.workflows.explain import safe_name, saliency_study, select_gallery


def test_select_gallery():
    labels = np.array(["a", "b", "a", "b", "a", "a"])
    predicted = np.array(["a", "a", "a", "b", "b", "a"])
    wrong, right = select_gallery(labels, predicted, n_correct=2, seed=3)
    np.testing.assert_array_equal(wrong, [1, 4])
    assert len(right) == 2 and set(right) <= {0, 2, 3, 5}
    np.testing.assert_array_equal(right, select_gallery(labels, predicted, 2, seed=3)[1])


def test_saliency_study_outputs(trained_model, reduced_sample, tmp_path):
    model = load_model(trained_model)
    data = SpectraSet.load(reduced_sample)
    rows = np.flatnonzero(model.split_.contains(data.ids, "test") | model.split_.contains(data.ids, "validation"))
    fitted = fit_maps(data, [MapSpec("all", "raw", 5)], seed=0)[0]
    result = saliency_study(model, data, rows, tmp_path, embedding=fitted, n_correct=3, seed=2)
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
    stored = Explanation.load(result["data_file"], "saliency")
    assert stored.maps.shape == (len(rows), data.flux.shape[1])
    np.testing.assert_array_equal(stored.ids, data.ids[rows])
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
    assert "FITS" in rows[3]["reason"] and rows[3]["input"].endswith("broken.fits")
    assert len(list((out / "figures").glob("saliency_*.png"))) == 3
    # a raw file gets the same map as its entry in the reduced data set
    data = SpectraSet.load(reduced_sample)
    whole = tmp_path / "whole"
    result = runner.invoke(main, ["explain", str(trained_model), str(reduced_sample), "--out", str(whole),
                                  "--max-figures", "0"])
    assert result.exit_code == 0, result.output
    a, b = Explanation.load(out / "explanations.h5"), Explanation.load(whole / "explanations.h5")
    assert b.maps.shape == data.flux.shape
    ids_b = list(b.ids)
    for k, spec_id in enumerate(a.ids):
        np.testing.assert_allclose(a.maps[k], b.maps[ids_b.index(spec_id)], rtol=1e-6)
    fd = tmp_path / "fd"
    result = runner.invoke(main, ["explain", str(trained_model), str(reduced_sample), "--out", str(fd),
                                  "--method", "finite-difference", "--target", "type1", "--max-figures", "0"])
    assert result.exit_code == 0, result.output
    stored = Explanation.load(fd / "explanations.h5")
    assert set(stored.targets) == {"type1"} and stored.method == "finite-difference"
    # a broken data set file is rejected with its reason, the other inputs are still explained
    junk = tmp_path / "junk.h5"
    junk.write_text("not HDF5")
    mixed = tmp_path / "mixed"
    result = runner.invoke(main, ["explain", str(trained_model), str(junk), str(spectra[0]), "--out", str(mixed)])
    assert result.exit_code == 0, result.output
    with open(mixed / "explanations.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["status"] for r in rows] == ["rejected", "kept"]
    assert rows[0]["input"].endswith("junk.h5") and "not an astroxai" in rows[0]["reason"]
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
    from astroxai.explain.physics import physics_checks
    from astroxai.models import SVMClassifier

    data = SpectraSet.load(reduced_sample)
    blue = data.wavelength < 4600
    assert physics_checks(data.wavelength[blue], data.flux[:2, blue])["signs"] is None
    cut = SpectraSet(data.flux[:, blue], data.wavelength[blue], data.labels, data.ids)
    model = SVMClassifier(kernels=("linear",), quick=True, seed=0).fit(cut)
    result = saliency_study(model, cut, np.arange(len(data)), tmp_path, n_correct=2)
    assert "opposite_fraction" not in result["physics"] and 0 <= result["physics"]["line_saliency_share_median"] <= 1
    with open(tmp_path / "correct_sample.csv", newline="") as handle:
        assert [r["hbeta_core_mean"] for r in csv.DictReader(handle)] == ["", ""]


def test_ids_never_become_paths():
    assert safe_name("/.." * 20 + "/some/dir/name") == "some_dir_name"
    assert safe_name("$\\frac{x$") == "frac_x" and safe_name("") == "input" and len(safe_name("x" * 300)) == 80
