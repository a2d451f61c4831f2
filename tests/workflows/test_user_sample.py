"""The whole study on a user's own labelled sample: ``astroxai run --data`` on spectra written another way than the
simulator writes them, under the user's class names, mixed with real survey files; on a user's image cutouts with a
catalogue; and in Python on a set built from specutils spectra.  Every input's fate is in the manifest, the class
names are the user's everywhere, a stage the sample cannot support is skipped with its reason, a sample too small is
refused before any training, and ``astroxai report`` rebuilds the run's page byte for byte."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from astroxai.cli import main
from astroxai.data import ImageSet, SpectraSet
from astroxai.models import load_model
from astroxai.report.html import check_report
from tests.helpers import real_spectra, user_spectra

#: Every stage of the spectra study in well under a minute.
SMALL = {"n_wave": 100, "quick": True, "timing_repeats": 1, "perplexities": [4, 8], "n_correct": 2,
         "trust_spectra": 6, "trust_methods": ["saliency", "occlusion"]}
CLASSES = ("Sy1", "Sy1.9", "Sy2")


def rows_of(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    folder = tmp_path_factory.mktemp("user-sample")
    catalogue = user_spectra(folder / "sample", {"Sy1": 12, "Sy1.9": 12, "Sy2": 14}, seed=3, real=real_spectra())
    (folder / "small.json").write_text(json.dumps(SMALL))
    return folder, catalogue


@pytest.fixture(scope="module")
def user_run(sample):
    folder, catalogue = sample
    out = folder / "run"
    result = CliRunner().invoke(main, ["run", "--data", str(catalogue), "--classes", ",".join(CLASSES),
                                       "--broad", "Sy1,Sy1.9", "--out", str(out), "--workers", "1", "--config",
                                       str(folder / "small.json")])
    assert result.exit_code == 0, result.output
    return out


def test_a_users_spectra_run_through_the_whole_study(user_run, sample):
    _, catalogue = sample
    record = json.loads((user_run / "run.json").read_text())
    assert record["kind"] == "spectra" and record["data"] == "user" and record["config"]["classes"] == list(CLASSES)
    stages = {s["name"]: s for s in record["stages"]}
    for name in ("reduce", "svm-3class", "cnn-3class", "saliency", "trust-SVM linear", "tsne-all-raw-8"):
        assert stages[name]["status"] == "done", name
    assert stages["paper-tables"]["status"] == "skipped" and "own sample" in stages["paper-tables"]["reason"]
    assert not (user_run / "results.md").exists()
    # every catalogue row has a fate: the simulated spectra kept, the real galaxies left out by --classes
    manifest = rows_of(user_run / "dataset.manifest.csv")
    assert len(manifest) == len(rows_of(catalogue)) - 1 + 20  # the spPlate row stands for its 20 fibres
    kept = [r for r in manifest if r["status"] == "kept"]
    assert sorted({r["label"] for r in kept}) == sorted(CLASSES) and len(kept) == 38
    assert all("not among --classes" in r["reason"] for r in manifest if r["status"] == "rejected")
    # the user's class names everywhere: models, tables, explanations
    for name in ("svm-3class", "cnn-3class"):
        assert sorted(load_model(user_run / "models" / name).classes_) == sorted(CLASSES)
    spectra = rows_of(user_run / "explain" / "spectra.csv")
    assert {r["label"] for r in spectra} <= set(CLASSES) and {"p_Sy1", "p_Sy1.9", "p_Sy2"} <= set(spectra[0])
    physics = {r["quantity"]: r["value"] for r in rows_of(user_run / "explain" / "physics.csv")}
    assert int(physics["n_broad_hbeta"]) == sum(r["label"] in ("Sy1", "Sy1.9") for r in spectra)
    assert "n_broad_Sy1" in physics and "opposite_fraction_broad_Sy2" in physics
    # the page: no comparison with the paper, the skipped stage said, every link and figure sound
    text = (user_run / "report.html").read_text()
    assert check_report(user_run / "report.html") == []
    assert "the user&#x27;s spectra explained" in text and "paper validation F" not in text
    assert "Stages skipped" in text and "paper-tables" in text


def test_astroxai_report_rebuilds_the_page_byte_for_byte(user_run, small_run, tmp_path):
    """In a fresh process, as a user would, from nothing but the run folder; and in this process after another
    run's page (Bokeh numbers its models process-wide)."""
    from astroxai.report.html import write_report

    before = (user_run / "report.html").read_bytes()
    (user_run / "report.html").unlink()
    done = subprocess.run([sys.executable, "-m", "astroxai.cli", "report", str(user_run)], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (user_run / "report.html").read_bytes() == before
    write_report(small_run)
    assert write_report(user_run).read_bytes() == before


def test_a_sample_too_small_is_refused_before_any_training(sample, tmp_path):
    folder, catalogue = sample
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["run", "--data", str(catalogue), "--out", str(out), "--config",
                                       str(folder / "small.json")])
    assert result.exit_code == 1
    assert "'galaxy' has 5" in result.output and "--classes" in result.output  # 6 real spectra, 5 reducible
    assert not (out / "models").exists() and not (out / "run.json").exists()
    one = tmp_path / "one.csv"
    one.write_text("file,label,z\n" + "".join(f"{catalogue.parent / r['file']},Sy1,{r['z']}\n"
                                              for r in rows_of(catalogue)[:12]))
    result = CliRunner().invoke(main, ["run", "--data", str(one), "--out", str(tmp_path / "one")])
    assert result.exit_code == 1 and "at least two classes" in result.output and "'Sy1': 12" in result.output
    assert not (tmp_path / "one" / "dataset.h5").exists()  # refused before any file was read


def test_a_set_built_in_python_from_specutils_spectra(tmp_path):
    """The same study on a SpectraSet made from specutils objects (observed frame, each with its redshift), under
    names that declare no broad-line class: the physics checks are skipped with the reason, on the page too."""
    import astropy.units as u
    from astropy.nddata import InverseVariance
    from specutils import Spectrum as SpecutilsSpectrum

    from astroxai.simulate.agn import LOGLAM, simulate_spectrum
    from astroxai.workflows.run import run

    rng = np.random.default_rng(11)
    spectra, labels = [], []
    for name, kind in (("broad", "type1"), ("narrow", "type2")):
        for _ in range(12):
            sim = simulate_spectrum(kind, rng)
            spectra.append(SpecutilsSpectrum(spectral_axis=10**LOGLAM * u.AA, flux=sim.flux * u.Jy,
                                             uncertainty=InverseVariance(sim.ivar), redshift=sim.params["z"]))
            labels.append(name)
    data = SpectraSet.from_spectra(spectra, labels, n_wave=100)
    assert len(data) == 24 and data.classes == ["broad", "narrow"]
    result = run("spectra", tmp_path / "run", data=data, workers=1, **{**SMALL, "trust_methods": ["saliency"],
                                                                        "cnn": False})
    study = result["saliency"]
    assert study.physics == {} and "--broad" in study.skipped
    assert result.record.data == "user" and sorted(result["svm-2class"].model.classes_) == ["broad", "narrow"]
    np.testing.assert_array_equal(study.explanation.ids, result.data.ids[
        result["svm-2class"].model.split_.rows(result.data.ids, "test")])
    text = result.report.read_text()
    assert "Skipped: no class of the sample is declared broad-line" in text and check_report(result.report) == []
    assert "cnn-2class" in [s.name for s in result.record.skipped()]


def _write_cutouts(folder, data, names: dict, column: str | None):
    """The images of ``data`` as FITS cutouts with a user's catalogue (labels renamed, the bar lengths under
    ``column``)."""
    from astropy.io import fits

    (folder / "cutouts").mkdir(parents=True)
    rows = []
    for image, label, image_id, length in zip(data.images, data.labels, data.ids, data.meta["bar_length_px"],
                                               strict=True):
        fits.PrimaryHDU(image[0]).writeto(folder / "cutouts" / f"{image_id}.fits")
        row = {"file": f"cutouts/{image_id}.fits", "label": names[label]}
        if column:
            row[column] = f"{length:.3f}" if np.isfinite(length) and length > 0 else ""
        rows.append(row)
    with open(folder / "labels.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return folder / "labels.csv"


@pytest.mark.parametrize("column", ["bar_px", None])
def test_a_users_galaxy_cutouts_with_a_catalogue(column, tmp_path):
    """A user's cutouts and catalogue under other names: the bar stage runs when the catalogue has the bar-length
    column named by --target, and is skipped with the reason when it has none."""
    from astroxai import simulate

    names = {"barred": "SB", "unbarred": "SA"}
    catalogue = _write_cutouts(tmp_path, simulate.image_set("galaxy", {"barred": 16, "unbarred": 12}, seed=9),
                               names, column)
    (tmp_path / "small.json").write_text(json.dumps({"max_epochs": 2, "trust_images": 4, "trust_methods": ["saliency"],
                                                     "bar_lengths_few": 0, "bar_learning_curve": []}))
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["run", "--kind", "galaxy", "--data", str(tmp_path / "cutouts"), "--catalog",
                                       str(catalogue), "--target", "bar_px", "--out", str(out), "--workers", "1",
                                       "--config", str(tmp_path / "small.json")])
    assert result.exit_code == 0, result.output
    data = ImageSet.load(out / "dataset.h5")
    assert sorted(data.classes) == ["SA", "SB"] and len(data) == 28
    assert sorted(load_model(out / "models" / "galaxy-classifier").classes_) == ["SA", "SB"]
    record = json.loads((out / "run.json").read_text())
    bars = next(s for s in record["stages"] if s["name"] == "bars")
    overlap = next(s for s in record["stages"] if s["name"] == "overlap")
    assert overlap["status"] == "skipped" and "masks" in overlap["reason"]
    text = (out / "report.html").read_text()
    if column:
        assert bars["status"] == "done" and (out / "bars" / "bars.csv").is_file()
        assert json.loads((out / "bars" / "bars.json").read_text())["column"] == "bar_px"
        assert "Bar lengths from SmoothGrad maps" in text
    else:
        assert bars["status"] == "skipped" and "'bar_px'" in bars["reason"] and not (out / "bars").exists()
        assert "Bar lengths from SmoothGrad maps" not in text and "bar_px" in text
    assert check_report(out / "report.html") == []
