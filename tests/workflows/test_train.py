"""Training into model folders, evaluation and prediction: tables against recomputation, every input's fate."""

import csv
import json
import shutil
from collections.abc import Mapping

import numpy as np
import pytest
from click.testing import CliRunner

from astroxai.cli import main
from astroxai.data import SpectraSet
from astroxai.models import GridMismatchError, SVMClassifier, load_model
from astroxai.models.svm import training_hash
from astroxai.report.tables import read_table
from astroxai.workflows.train import evaluate_folder, predict_inputs, train
from tests.helpers import flat_spectrum


def test_study_writes_model_split_tables_and_figures(trained_model, reduced_sample):
    data = SpectraSet.load(reduced_sample)
    split = json.loads((trained_model / "split.json").read_text())
    parts = [set(split[p]) for p in ("train", "validation", "test")]
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    assert set.union(*parts) == set(data.ids)
    assert len(parts[2]) == int(0.2 * len(data))  # the paper's floor(20 %) test set
    for table in ("search", "kernels", "test_metrics", "test_metrics_by_kernel", "confusion", "noise"):
        assert (trained_model / f"{table}.csv").stat().st_size > 50
        assert read_table(trained_model / table)
    for figure in ("confusion", "confusion_normalised", "noise", "search"):
        for suffix in ("png", "pdf"):
            assert (trained_model / "figures" / f"{figure}.{suffix}").stat().st_size > 5000
    kernels = read_table(trained_model / "kernels")
    assert {r["kernel"] for r in kernels} == {"linear", "rbf"}
    noise = read_table(trained_model / "noise")
    assert [r["sigma"] for r in noise if r["kernel"] == "linear"] == [0.0, 0.1, 0.2, 0.3, 0.4, 1.0, 2.0, 3.0, 4.0]


def test_model_metadata_describes_what_it_was_trained_on(trained_model, reduced_sample):
    data = SpectraSet.load(reduced_sample)
    meta = load_model(trained_model).metadata_
    assert meta["classes"] == ["intermediate", "type1", "type2"]
    np.testing.assert_array_equal(meta["wavelength"], data.wavelength)
    assert meta["reduction"]["n_wave"] == 150 and meta["reduction"]["method"] == "linear"
    split = json.loads((trained_model / "split.json").read_text())
    rows = np.flatnonzero(np.isin(data.ids, split["train"] + split["validation"]))
    assert meta["training"]["n_spectra"] == rows.size
    assert meta["training"]["sha256"] == training_hash(data.flux[rows], data.labels[rows], data.ids[rows])
    assert meta["params"]["seed"] == 5 and meta["versions"]["scikit-learn"]
    assert meta["metrics"]["test"]["macro"]["f1"] > 0.5  # far better than chance (1/3) even on 48 spectra


def _flat(nested: Mapping, prefix: str = "") -> dict:
    """A nested mapping of numbers (dicts read from JSON, or typed results) as one flat dict (``a/b`` keys), for
    pytest.approx."""
    flat = {}
    for key, value in nested.items():
        if isinstance(value, Mapping):
            flat.update(_flat(value, f"{prefix}{key}/"))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def test_evaluating_the_test_part_reproduces_the_training_report(trained_model, reduced_sample, tmp_path):
    data = SpectraSet.load(reduced_sample)
    meta = load_model(trained_model).metadata_
    result = evaluate_folder(trained_model, data, tmp_path / "eval", part="test")
    assert _flat(result["metrics"]) == pytest.approx(_flat(meta["metrics"]["test"]), rel=1e-12)
    predictions = read_table(tmp_path / "eval" / "predictions")
    assert len(predictions) == result["n"]
    assert all(abs(sum(r[k] for r in [row] for k in row if k.startswith("p_")) - 1) < 1e-5 for row in predictions)
    for name in ("metrics", "confusion", "noise"):
        assert (tmp_path / "eval" / f"{name}.csv").is_file() and (tmp_path / "eval" / f"{name}.json").is_file()


def test_a_data_set_on_another_grid_is_refused(trained_model, reduced_sample, tmp_path):
    data = SpectraSet.load(reduced_sample)
    shifted = SpectraSet(data.flux, data.wavelength + 1.0, data.labels, data.ids)
    with pytest.raises(GridMismatchError, match="astroxai reduce --range"):
        evaluate_folder(trained_model, shifted, tmp_path / "eval")


def test_too_small_a_sample_gets_a_clear_error(reduced_sample, tmp_path):
    data = SpectraSet.load(reduced_sample)
    small = data.subset(np.flatnonzero(data.labels != "intermediate")[:20].tolist()
                        + np.flatnonzero(data.labels == "intermediate")[:4].tolist())
    with pytest.raises(ValueError, match="each class needs at least"):
        train(small, SVMClassifier(quick=True), tmp_path / "m")
    assert not (tmp_path / "m").exists()  # a failed training leaves no folder


def _raw_folder(tmp_path, reduced_sample, write_spec):
    """Eight simulated FITS files plus one file per kind of bad input, all in one folder."""
    raw = tmp_path / "raw"
    raw.mkdir()
    simulated = sorted((reduced_sample.parent / "sim" / "spectra").glob("*.fits"))[::6]
    for path in simulated:
        shutil.copy(path, raw / path.name)
    good = simulated[0].read_bytes()
    (raw / "spec-0001-00001-0001.fits").write_bytes(good[: len(good) // 3])  # truncated download
    (raw / "spec-0001-00001-0002.fits").write_text("<html>404 Not Found</html>")  # not FITS at all
    loglam, flux, ivar = flat_spectrum()
    write_spec(loglam, np.full_like(flux, np.nan), ivar, name="raw/spec-0001-00001-0003.fits")
    write_spec(loglam, flux, ivar, z=None, name="raw/spec-0001-00001-0004.fits")
    write_spec(*flat_spectrum(z=0.9), z=0.9, name="raw/spec-0001-00001-0005.fits")  # 5100 Å redshifted out
    write_spec(loglam, flux, ivar, name="raw/spec-0001-00001-0006.fits")  # valid, just not an AGN
    return raw, simulated


def test_predict_gives_every_input_a_row(trained_model, reduced_sample, write_spec, tmp_path):
    raw, simulated = _raw_folder(tmp_path, reduced_sample, write_spec)
    summary = predict_inputs(trained_model, [raw], tmp_path / "predictions.csv", workers=1, chunk_size=4)
    with open(tmp_path / "predictions.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["id", "input", "status", "predicted", "p_intermediate", "p_type1", "p_type2",
                             "ood_score", "out_of_distribution", "reason"]
    assert len(rows) == summary["n_inputs"] == len(simulated) + 6
    fate = {row["input"].rsplit("/", 1)[-1]: row for row in rows}
    for name, reason in [("0001", "truncated"), ("0002", "not a FITS"), ("0003", "NaN"), ("0004", "redshift"),
                         ("0005", "5100")]:
        row = fate[f"spec-0001-00001-{name}.fits"]
        assert row["status"] == "rejected" and reason in row["reason"] and row["predicted"] == ""
    assert fate["spec-0001-00001-0006.fits"]["status"] == "kept"
    # a line-free flat continuum must not come out as a confident AGN class: it is either flagged as unlike the
    # training set or given no confident class.  Measured: ood_score 0.36, not flagged; largest p 0.70 from this
    # 48-spectrum model on unscaled fluxes (0.61 when it was standardised); the default run's model gives 0.45
    # (standardised: 0.82), so the bound is set for the small model, well below an AGN's typical p > 0.95
    flat = fate["spec-0001-00001-0006.fits"]
    largest = max(float(flat[f"p_{c}"]) for c in ("intermediate", "type1", "type2"))
    assert flat["out_of_distribution"] == "True" or largest < 0.75
    assert summary["n_out_of_distribution"] == sum(row.get("out_of_distribution") == "True" for row in rows)
    assert summary["n_classified"] == len(simulated) + 1 and summary["n_rejected"] == 5
    # A raw file gets exactly the answer its reduced copy in the data set gets from the same model.
    data = SpectraSet.load(reduced_sample)
    model = load_model(trained_model)
    kept = [row for row in rows if row["status"] == "kept" and row["id"] in set(data.ids)]
    assert len(kept) == len(simulated)
    index = [int(np.flatnonzero(data.ids == row["id"])[0]) for row in kept]
    X = data.flux[index].astype(np.float64)
    assert [row["predicted"] for row in kept] == list(model.predict(X))
    probabilities = np.array([[float(row[f"p_{c}"]) for c in model.classes_] for row in kept])
    np.testing.assert_allclose(probabilities, model.predict_proba(X), atol=1e-6)


def test_cli_train_evaluate_predict(reduced_sample, tmp_path):
    runner = CliRunner()
    model_dir = tmp_path / "m2"
    result = runner.invoke(main, ["train", str(reduced_sample), "--out", str(model_dir), "--classes", "2",
                                  "--kernels", "linear", "--quick", "--timing-repeats", "1"])
    assert result.exit_code == 0, result.output
    assert "(linear kernel)" in result.output and "chosen: linear" in result.output
    assert json.loads((model_dir / "model.json").read_text())["classes"] == ["type1", "type2"]
    result = runner.invoke(main, ["evaluate", str(model_dir), str(reduced_sample), "--out", str(tmp_path / "e"),
                                  "--part", "test"])
    assert result.exit_code == 0, result.output
    assert "without one of the model's labels left out" in result.output  # the intermediates
    out = tmp_path / "p.csv"
    result = runner.invoke(main, ["predict", str(model_dir), str(reduced_sample.parent / "sim" / "catalog.csv"),
                                  "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "classified 48 of 48" in result.output
    result = runner.invoke(main, ["train", str(reduced_sample), "--out", str(tmp_path / "x"), "--kernels", "cubic"])
    assert result.exit_code == 1 and "unknown kernels" in result.output  # refused by the estimator itself
    result = runner.invoke(main, ["evaluate", str(tmp_path), str(reduced_sample), "--out", str(tmp_path / "e2")])
    assert result.exit_code == 1 and "not a model folder" in result.output


def test_the_estimator_in_a_notebook_equals_the_command_line(trained_model, reduced_sample, tmp_path):
    """The same model, method and spectra give identical maps through Python and through the CLI."""
    from astroxai.explain import Explainer, Explanation

    data = SpectraSet.load(reduced_sample)
    result = CliRunner().invoke(main, ["explain", str(trained_model), str(reduced_sample), "--out",
                                       str(tmp_path / "cli"), "--method", "occlusion", "--max-figures", "0"])
    assert result.exit_code == 0, result.output
    from_cli = Explanation.load(tmp_path / "cli" / "explanations.h5")
    in_python = Explainer(load_model(trained_model), "occlusion").explain(data)
    np.testing.assert_array_equal(from_cli.ids, in_python.ids)
    np.testing.assert_array_equal(from_cli.maps, in_python.maps.astype(np.float32))
    np.testing.assert_array_equal(from_cli.targets, in_python.targets)
