import csv
import json

import pytest
from click.testing import CliRunner

from astroxai import SpectraSet
from astroxai.cli import main


@pytest.mark.parametrize("command", [[], ["simulate"], ["reduce"], ["run"]])
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


def test_run_small_config(tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"counts": {"type1": 14, "type2": 14, "intermediate": 14}, "n_wave": 100,
                                  "quick": True, "timing_repeats": 1}))
    result = CliRunner().invoke(main, ["run", "--out", str(tmp_path / "run"), "--config", str(config)])
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    assert record["config"]["config"]["seed"] and record["versions"]["numpy"]
    assert (tmp_path / "run" / "figures" / "classes.png").stat().st_size > 10_000
    assert SpectraSet.load(tmp_path / "run" / "dataset.h5").flux.shape == (42, 100)
    for problem in ("svm-3class", "svm-2class"):
        meta = json.loads((tmp_path / "run" / "models" / problem / "model.json").read_text())
        assert meta["kernel"] in ("linear", "rbf", "poly2", "poly3") and len(meta["wavelength"]) == 100
    results = (tmp_path / "run" / "results.md").read_text()
    assert "paper Table 3" in results and "paper Table 4" in results
