"""The command line end to end: help texts, simulate → reduce with broken files, and the whole spectra run on a
small config (every stage, the report and its checker)."""

import base64
import csv
import hashlib
import io
import json

import h5py
import matplotlib.pyplot as plt
import numpy as np
import pytest
from click.testing import CliRunner

from astroxai.cli import main
from astroxai.data import SpectraSet
from astroxai.explain import Explanation
from astroxai.report.html import check_report


@pytest.mark.parametrize("command", [[], ["simulate"], ["reduce"], ["run"], ["explain"], ["embed"], ["trust"],
                                     ["train"], ["evaluate"], ["predict"]])
def test_help(command):
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output


def test_simulate_then_reduce_with_corrupt_files(tmp_path):
    runner = CliRunner()
    sim = tmp_path / "sim"
    result = runner.invoke(main, ["simulate", "--out", str(sim), "--n-type1", "3", "--n-type2", "3",
                                  "--n-intermediate", "2", "--seed", "5"])
    assert result.exit_code == 0, result.output
    (sim / "spectra" / "spec-broken.fits").write_bytes(b"SIMPLE  =                    T" + b"\0" * 100)
    (sim / "spectra" / "notes.txt").write_text("no numbers here\n")
    out = tmp_path / "data.h5"
    result = runner.invoke(main, ["reduce", str(sim), "--out", str(out), "--preset", "paper", "--n-wave", "200"])
    assert result.exit_code == 0, result.output
    assert "kept 8 of 10" in result.output
    data = SpectraSet.load(out)
    assert data.flux.shape == (8, 200)
    assert data.wavelength[0] == pytest.approx(3728.91) and data.wavelength[-1] == pytest.approx(5265.95)
    with open(tmp_path / "data.manifest.csv") as handle:
        rows = {r["input"].rsplit("/", 1)[-1]: r for r in csv.DictReader(handle)}
    assert rows["spec-broken.fits"]["status"] == "rejected" and rows["spec-broken.fits"]["reason"]
    assert rows["notes.txt"]["status"] == "rejected"


def test_reduce_fails_only_when_nothing_is_readable(tmp_path):
    bad = tmp_path / "bad.fits"
    bad.write_text("garbage")
    result = CliRunner().invoke(main, ["reduce", str(bad), "--out", str(tmp_path / "d.h5")])
    assert result.exit_code != 0 and "no input" in result.output


def test_run_small_config(small_run, tmp_path):
    run = small_run
    record = json.loads((run / "run.json").read_text())
    assert record["schema"] == 2 and record["kind"] == "spectra" and record["data"] == "simulated"
    assert record["config"]["seed"] == record["seed"] and record["config"]["counts"]["type1"] == 14
    for library in ("numpy", "captum", "openTSNE", "dask", "skops", "torch", "bokeh"):
        assert record["versions"][library] != "not installed", library
    assert record["inputs"]["dataset"]["sha256"] == hashlib.sha256((run / "dataset.h5").read_bytes()).hexdigest()
    assert (run / "figures" / "examples.png").stat().st_size > 10_000
    assert SpectraSet.load(run / "dataset.h5").flux.shape == (42, 100)
    for problem in ("svm-3class", "svm-2class"):
        meta = json.loads((run / "models" / problem / "model.json").read_text())
        assert meta["kernel"] in ("linear", "rbf", "poly2", "poly3") and len(meta["wavelength"]) == 100
        assert len(meta["probability"]["A"]) == (3 if problem == "svm-3class" else 1)
    results = (run / "results.md").read_text()
    assert "paper Table 3" in results and "paper Table 4" in results
    # explanations, maps and the report
    report = run / "report.html"
    assert check_report(report) == []
    text = report.read_text()
    for heading in ("1. Data", "2. Explore the test set", "3. Models, their search", "4. Robustness", "5. t-SNE",
                    "6. Saliency", "7. Every explanation method", "1-D CNN"):
        assert heading in text
    cnn = json.loads((run / "models" / "cnn-3class" / "model.json").read_text())
    assert cnn["kind"] == "torch-cnn" and cnn["training"]["split"] == "split.json"
    assert json.loads((run / "models" / "cnn-3class" / "split.json").read_text()) == json.loads(
        (run / "models" / "svm-3class" / "split.json").read_text())  # same test spectra as the SVM
    assert "1-D CNN next to the SVM" in results
    trust = json.loads((run / "trust" / "trust.json").read_text())["rows"]
    assert {r["model"] for r in trust} == {"SVM linear", "SVM rbf", "CNN"} and len(trust) == 18
    assert Explanation.load(run / "explanations.h5", "saliency").maps.shape[1] == 100
    with h5py.File(run / "explanations.h5") as handle:
        assert len(handle["embeddings/all/raw"]) == 2 and "embeddings/type1+type2/standardised" in handle
    assert record["summary"]["explain"]["n_gallery"] >= 2
    stages = {stage["name"]: stage for stage in record["stages"]}
    assert {"simulate", "reduce", "stages", "svm-3class", "saliency", "tsne-all-raw-8", "write"} <= set(stages)
    assert all(stage["status"] == "done" and stage["seconds"] >= 0 for stage in stages.values())
    # the summary's numbers are the model folders' own
    for name, model in record["summary"]["models"].items():
        f1 = json.loads((run / "models" / name / "model.json").read_text())["metrics"]["test"]["macro"]["f1"]
        assert model["test_macro_f1"] == pytest.approx(f1, abs=1e-4)
    # the checker notices a missing file and a blank image
    broken = tmp_path / "broken.html"
    blank = io.BytesIO()
    plt.imsave(blank, np.ones((5, 5, 3)), format="png")
    data = base64.b64encode(blank.getvalue()).decode()
    broken.write_text(text.replace('href="run.json"', 'href="missing.json"')
                      + f'<img src="data:image/png;base64,{data}">')
    problems = check_report(broken)
    assert any("missing.json" in p for p in problems) and any("blank" in p for p in problems)


def test_a_run_config_is_checked_before_any_work(tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"kernels": ["linear"]}))
    result = CliRunner().invoke(main, ["run", "--out", str(tmp_path / "run"), "--config", str(config)])
    assert result.exit_code == 1 and "trust_kernels ['rbf']" in result.output
    assert not (tmp_path / "run").exists()
    config.write_text(json.dumps({"kernal": ["linear"]}))
    result = CliRunner().invoke(main, ["run", "--config", str(config)])
    assert result.exit_code == 1 and "unknown config keys ['kernal']" in result.output


def test_the_command_line_offers_what_the_registries_hold():
    """The choices of --method, --baseline and trust's --methods come from astroxai.vocabulary (no torch at start-up);
    the method registry must hold exactly those names, so that a method registered is a method offered."""
    from astroxai.explain import BASELINES, method_names
    from astroxai.explain.methods import ALIASES
    from astroxai.vocabulary import METHOD_ALIASES, METHOD_NAMES, TRUST_METHODS

    assert tuple(method_names()) == METHOD_NAMES and ALIASES == METHOD_ALIASES
    options = {p.name: p for p in main.commands["explain"].params}
    assert list(options["method"].type.choices) == [*ALIASES, *method_names()]
    assert tuple(options["baseline"].type.choices) == tuple(BASELINES)
    trust = {p.name: p for p in main.commands["trust"].params}
    assert trust["methods"].default.split(",") == list(TRUST_METHODS) and set(TRUST_METHODS) <= set(method_names())
    assert tuple(trust["baseline"].type.choices) == tuple(BASELINES)
