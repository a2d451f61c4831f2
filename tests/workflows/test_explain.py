"""The explain workflows: the paper's saliency study of test spectra, and ``astroxai explain`` / ``embed`` on files,
data sets and broken inputs."""

import csv

import numpy as np
from click.testing import CliRunner

from astroxai.cli import main
from astroxai.data import SpectraSet
from astroxai.embed import MapSpec, fit_maps
from astroxai.explain import Explanation
from astroxai.explain.study import PAPER_BROAD, broad_rows, saliency_study, select_gallery
from astroxai.models import load_model
from astroxai.report.layout import RunLayout
from astroxai.report.saliency import safe_name, write_saliency_study


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
    part = data.subset(rows)
    study = saliency_study(model, part, broad=broad_rows(part.labels, PAPER_BROAD), n_correct=3, seed=2)
    layout = RunLayout(tmp_path)
    write_saliency_study(layout, study, part, embedding=fitted)
    predicted = model.predict(data.flux[rows].astype(np.float64))
    n_wrong = int((predicted != data.labels[rows]).sum())
    assert len(study.gallery) == n_wrong + 3 and len(study.wrong) == n_wrong
    assert np.all(study.explanation.predicted[study.wrong] != part.labels[study.wrong])
    with open(tmp_path / "explain" / "misclassified.csv", newline="") as handle:
        table = list(csv.DictReader(handle))
    assert len(table) == n_wrong and all(r["label"] != r["predicted"] for r in table)
    for number, i in enumerate(study.gallery, start=1):
        figure = layout.explain.gallery / f"{number:02d}_{safe_name(part.ids[i])}.png"
        assert figure.stat().st_size > 20_000
    assert layout.explain.figure("tsne_explained").with_suffix(".png").is_file()
    # every spectrum's science columns, as the explorer reads them back
    with open(tmp_path / "explain" / "spectra.csv", newline="") as handle:
        spectra = list(csv.DictReader(handle))
    assert [r["id"] for r in spectra] == list(part.ids)
    opposite = [r["hbeta_signs"] == "opposite signs" for r in spectra]
    broad = study.broad & np.any(study.explanation.maps != 0, axis=1)
    assert study.physics["n_opposite"] == int(np.sum(np.array(opposite) & broad))
    physics = study.physics
    assert 0 <= physics["line_saliency_share_median"] <= 1 and physics["n_maps"] + physics["n_zero_maps"] == len(rows)


def test_saliency_study_without_broad_line_classes_skips_the_physics(trained_model, reduced_sample, tmp_path):
    model = load_model(trained_model)
    data = SpectraSet.load(reduced_sample)
    part = data.subset(model.split_.rows(data.ids, "test"))
    study = saliency_study(model, part, broad=None, n_correct=1)
    assert study.physics == {} and "--broad" in study.skipped
    write_saliency_study(RunLayout(tmp_path), study, part)
    assert not (tmp_path / "explain" / "physics.csv").exists() and (tmp_path / "explain" / "spectra.csv").is_file()


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
    study = saliency_study(model, cut, broad=broad_rows(cut.labels, PAPER_BROAD), n_correct=2)
    write_saliency_study(RunLayout(tmp_path), study, cut)
    assert "opposite_fraction" not in study.physics and 0 <= study.physics["line_saliency_share_median"] <= 1
    with open(tmp_path / "explain" / "correct_sample.csv", newline="") as handle:
        assert [r["hbeta_core_mean"] for r in csv.DictReader(handle)] == ["", ""]


def test_ids_never_become_paths():
    assert safe_name("/.." * 20 + "/some/dir/name") == "some_dir_name"
    assert safe_name("$\\frac{x$") == "frac_x" and safe_name("") == "input" and len(safe_name("x" * 300)) == 80
