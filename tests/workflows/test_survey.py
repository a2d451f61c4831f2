"""``astroxai survey``: Dask partitions of a saved model's decisions and maps, checked against ``astroxai explain`` on
the same inputs, across schedulers, worker counts and partition sizes, after an interrupted run and after a worker
was killed mid-partition."""

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from astroxai.cli import main
from astroxai.data import SpectraSet
from astroxai.explain import ExplainSettings, Explanation
from astroxai.workflows.survey import PARTS, SurveyRun, open_maps, read_survey, survey
from astroxai.workflows.survey_outputs import COLUMNS, load_columns, read_columns


@pytest.fixture(scope="module")
def survey_inputs(reduced_sample, tmp_path_factory):
    """The simulated FITS files of the reduced sample, and beside them inputs that must be rejected: a truncated
    FITS file, an all-NaN spectrum, a text file, and catalogue rows with a bad redshift and a missing file."""
    folder = tmp_path_factory.mktemp("survey_inputs")
    spectra = sorted((reduced_sample.parent / "sim" / "spectra").glob("*.fits"))
    files = folder / "files"
    files.mkdir()
    for path in spectra:
        shutil.copy(path, files / path.name)
    (files / "spec-0000-00000-0001.fits").write_bytes(spectra[0].read_bytes()[:3000])
    from astropy.io import fits

    with fits.open(spectra[1]) as handle:
        handle[1].data["flux"][:] = np.nan
        handle.writeto(files / "spec-0000-00000-0002.fits")
    (files / "notes.txt").write_text("not a spectrum\n")
    catalog = folder / "extra.csv"
    catalog.write_text(f"file,z\n{spectra[2]},abc\n{folder / 'missing.fits'},0.1\n")
    return [files, catalog]


def _rows(out):
    return read_survey(out).to_pylist()


def _reference(trained_model, inputs, tmp_path):
    """``astroxai explain`` on the same inputs: the independent result the survey must reproduce."""
    out = tmp_path / "explain"
    result = CliRunner().invoke(main, ["explain", str(trained_model), *map(str, inputs), "--out", str(out),
                                       "--max-figures", "0"])
    assert result.exit_code == 0, result.output
    with open(out / "explanations.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return rows, Explanation.load(out / "explanations.h5")


def test_survey_equals_explain_and_keeps_every_input(trained_model, survey_inputs, tmp_path):
    out = tmp_path / "survey"
    result = CliRunner().invoke(main, ["survey", str(trained_model), *map(str, survey_inputs), "--out", str(out),
                                       "--workers", "2", "--partition-size", "7", "--maps"])
    assert result.exit_code == 0, result.output
    rows = _rows(out)
    reference, explanation = _reference(trained_model, survey_inputs, tmp_path)
    assert len(rows) == len(reference) == 48 + 5
    assert [r["index"] for r in rows] == list(range(len(rows)))
    assert sorted(r["input"] for r in rows) == sorted(r["input"] for r in reference)
    by_input = {r["input"]: r for r in reference}
    for row in rows:
        other = by_input[row["input"]]
        assert row["status"] == other["status"], row["input"]
        if row["status"] == "kept":
            assert row["predicted"] == other["predicted"]
            for c in ("type1", "type2", "intermediate"):
                assert row[f"p_{c}"] == pytest.approx(float(other[f"p_{c}"]), abs=1e-6)
            assert row["line_saliency_share"] == pytest.approx(float(other["line_saliency_share"]), rel=1e-5)
            assert row["novelty"] > 0 and row["z"] > 0
        else:
            assert row["reason"] and row["predicted"] is None
    reasons = {Path(r["input"]).name: r["reason"] for r in rows if r["status"] != "kept"}
    assert "FITS" in reasons["spec-0000-00000-0001.fits"] or "truncated" in reasons["spec-0000-00000-0001.fits"]
    assert "abc" in " ".join(reasons.values()) and "file not found" in " ".join(reasons.values())
    maps, ids = open_maps(out)
    assert maps.shape == (48, explanation.maps.shape[1])
    position = {i: k for k, i in enumerate(explanation.ids)}
    np.testing.assert_array_equal(maps.compute(), explanation.maps[[position[i] for i in ids]].astype(np.float32))
    record = json.loads((out / "survey.json").read_text())
    assert record["status"] == "complete" and record["n_kept"] == 48 and record["n_rejected"] == 5
    assert record["settings"]["seed"] == 0 and "torch" in record["versions"]


def _table(out):
    table = read_survey(out)
    return table.drop_columns(["partition"]).to_pylist()


def _same_results(a, b, rtol=1e-9):
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert {k: v for k, v in x.items() if not isinstance(v, float)} == \
               {k: v for k, v in y.items() if not isinstance(v, float)}
        for k, v in x.items():
            if isinstance(v, float):
                assert y[k] == pytest.approx(v, rel=rtol, abs=1e-12), k


def test_same_result_whatever_the_workers_and_partitions(trained_model, reduced_sample, survey_inputs, tmp_path):
    inputs = [reduced_sample, *survey_inputs]
    survey(trained_model, inputs, tmp_path / "a", run=SurveyRun(workers=1, partition_size=100))
    survey(trained_model, inputs, tmp_path / "b", run=SurveyRun(workers=2, partition_size=5))
    a, b = _table(tmp_path / "a"), _table(tmp_path / "b")
    assert len(a) == 48 + 48 + 5 and sum(r["status"] == "kept" for r in a) == 96
    _same_results(a, b)
    # the store's rows and the raw files they were reduced from get the same decisions
    store = {r["id"]: r for r in a if r["input"] == str(reduced_sample)}
    raw = {r["id"]: r for r in a if r["input"] != str(reduced_sample) and r["status"] == "kept"}
    assert set(store) == set(raw) and all(store[i]["predicted"] == raw[i]["predicted"] for i in store)


def test_a_column_file_it_cannot_write_leaves_the_survey_complete(trained_model, reduced_sample, dask_scheduler,
                                                                  tmp_path, monkeypatch, caplog):
    """The view's column file is a shortcut: a survey that cannot write it (a full disk) completes, says why, and
    leaves no file; the view then reads the parts."""
    import astroxai.workflows.survey as surveying

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(surveying, "write_columns", full)
    caplog.set_level("WARNING")
    out = tmp_path / "s"
    record = survey(trained_model, [reduced_sample], out, run=SurveyRun(scheduler=dask_scheduler, partition_size=24))
    assert record["status"] == "complete" and record["n_kept"] == 48
    assert not (out / COLUMNS).exists() and "No space left on device" in caplog.text
    assert load_columns(out, sorted((out / PARTS).glob("part-*.parquet")), 48) is None


def test_resumes_and_refuses_other_settings(trained_model, reduced_sample, dask_scheduler, tmp_path):
    out = tmp_path / "s"
    first = survey(trained_model, [reduced_sample], out, run=SurveyRun(scheduler=dask_scheduler, partition_size=10))
    assert first["partitions_run"] == 5 and first["n_kept"] == 48
    before = _table(out)
    parts = sorted((out / PARTS).glob("part-*.parquet"))
    parts[1].unlink(), parts[3].unlink()  # as if the run had died before these two
    (out / PARTS / f".{parts[1].name}.1234.partial").write_bytes(b"half a file")  # a dead writer's leftover
    again = survey(trained_model, [reduced_sample], out, run=SurveyRun(scheduler=dask_scheduler, partition_size=10))
    assert again["partitions_run"] == 2 and again["partitions_skipped"] == 3
    assert _table(out) == before
    # the view's column file, written again once the survey completed, holds the parts' columns as they are now
    parts = sorted((out / PARTS).glob("part-*.parquet"))
    stored, read = load_columns(out, parts, 48), read_columns(parts, 48)
    assert stored is not None
    for name in ("index", "status", "predicted", "label", "probabilities", "part_starts"):
        np.testing.assert_array_equal(getattr(stored, name), getattr(read, name), err_msg=name)
    with pytest.raises(ValueError, match="other inputs or settings"):
        survey(trained_model, [reduced_sample], out, ExplainSettings("smoothgrad"),
               run=SurveyRun(scheduler=dask_scheduler, partition_size=10))
    assert _table(out) == before
    survey(trained_model, [reduced_sample], out, ExplainSettings("smoothgrad", options={"n_samples": 4}),
           run=SurveyRun(scheduler=dask_scheduler, partition_size=10, restart=True))
    assert json.loads((out / "survey.json").read_text())["settings"]["method"] == "smoothgrad"


def test_parquet_catalogue(trained_model, reduced_sample, dask_scheduler, tmp_path):
    spectra = sorted((reduced_sample.parent / "sim" / "spectra").glob("*.fits"))[:4]
    catalogue = tmp_path / "cat.parquet"
    pq.write_table(pa.table({"file": [str(p) for p in spectra] + ["", str(spectra[0])],
                             "z": [None, None, 0.1, None, None, None], "label": ["type1"] * 6}), catalogue)
    survey(trained_model, [catalogue], tmp_path / "s", run=SurveyRun(scheduler=dask_scheduler))
    rows = _rows(tmp_path / "s")
    assert [r["status"] for r in rows] == ["kept"] * 4 + ["rejected"] * 2
    assert "names no file" in rows[4]["reason"] and "same spectrum as row 1" in rows[5]["reason"]
    assert rows[2]["z"] == pytest.approx(0.1) or rows[2]["z"] > 0  # the file's own z wins over the catalogue's


def _big_store(reduced_sample, path, copies):
    data = SpectraSet.load(reduced_sample)
    ids = [f"{i}-copy{k}" for k in range(copies) for i in data.ids]
    SpectraSet(np.tile(data.flux, (copies, 1)), data.wavelength, np.tile(data.labels, copies), ids).save(path)
    return path


def _start(command, **kwargs):
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
                            **kwargs)


def _wait_for_parts(out, count, process=None, limit=120.0):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if len(list((out / PARTS).glob("part-*.parquet"))) >= count:
            return
        assert process is None or process.poll() is None, process.stderr.read().decode()
        time.sleep(0.05)
    raise AssertionError(f"no {count} parts after {limit} s")


SLOW = ["--method", "smoothgrad"]  # 50 noisy gradients per spectrum: partitions that last long enough to be hit


@pytest.fixture(scope="module")
def smoothgrad_survey(trained_model, reduced_sample, tmp_path_factory):
    """A store of 20 × 48 spectra and its whole survey with SmoothGrad on a cluster of its own (two workers,
    partitions of 48): the reference that an interrupted run and a run that lost a worker must both reproduce."""
    folder = tmp_path_factory.mktemp("smoothgrad_survey")
    store = _big_store(reduced_sample, folder / "big.h5", 20)
    survey(trained_model, [store], folder / "whole", ExplainSettings("smoothgrad"),
           run=SurveyRun(workers=2, partition_size=48))
    return store, _table(folder / "whole")


def test_interrupted_run_resumes_to_the_same_result(trained_model, smoothgrad_survey, tmp_path):
    store, whole = smoothgrad_survey
    command = [sys.executable, "-m", "astroxai.cli", "survey", str(trained_model), str(store), "--workers", "2",
               "--partition-size", "48", *SLOW]
    out = tmp_path / "cut"
    process = _start([*command, "--out", str(out)])
    _wait_for_parts(out, 3, process)
    os.killpg(process.pid, signal.SIGKILL)  # the whole process group: the command and its Dask workers
    process.wait()
    cut = len(list((out / PARTS).glob("part-*.parquet")))
    assert 3 <= cut < 20
    again = subprocess.run([*command, "--out", str(out)], capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert f"{20 - cut} partitions run, {cut} already done" in again.stdout
    _same_results(whole, _table(out))  # the command line's run, cut and resumed, equals the library's whole run


def test_killed_worker_on_an_external_cluster(trained_model, smoothgrad_survey, tmp_path):
    """A real cluster on loopback (``dask scheduler`` + two ``dask worker`` processes); one worker is killed while
    it runs a partition, the scheduler gives its partitions to the other, and nothing is lost or doubled."""
    store, whole = smoothgrad_survey
    dask = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
    address_file = tmp_path / "scheduler.json"
    processes = [_start([*dask, "--host", "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file",
                         str(address_file)])]
    try:
        end = time.monotonic() + 60
        while not address_file.is_file() and time.monotonic() < end:
            time.sleep(0.1)
        address = json.loads(address_file.read_text())["address"]
        for _ in range(2):
            processes.append(_start([sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads",
                                     "1", "--no-nanny", "--no-dashboard"]))
        out = tmp_path / "cluster"
        error = []

        def run():
            try:
                error.append(survey(trained_model, [store], out, ExplainSettings("smoothgrad"),
                                    run=SurveyRun(scheduler=address, partition_size=48)))
            except Exception as failure:  # noqa: BLE001 - reported by the assertion below
                error.append(failure)

        thread = threading.Thread(target=run)
        thread.start()
        _wait_for_parts(out, 2)
        victim = processes[1]
        from distributed import Client

        with Client(address, timeout="30s") as observer:  # what the scheduler says the victim is running now
            worker = next(w for w, pid in observer.run(os.getpid).items() if pid == victim.pid)
            busy = observer.processing()[worker]
            victim.send_signal(signal.SIGKILL)
        assert busy, "the victim had no partition to lose"
        victim.wait()
        killed_at = len(list((out / PARTS).glob("part-*.parquet")))
        thread.join(300)
        assert not thread.is_alive()
        assert isinstance(error[0], dict), error[0]
        assert killed_at < 20 and error[0]["partitions_run"] == 20
        _same_results(whole, _table(out))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()


def test_survey_store_is_noisy_copies_of_simulated_spectra(tmp_path):
    from astroxai.simulate import spectra_set, survey_store

    counts = {"type1": 1, "type2": 2, "intermediate": 1}
    path = survey_store(tmp_path / "store.h5", 2500, 4, distinct=120, counts=counts, chunk=1000)
    data = SpectraSet.load(path)
    assert len(data) == 2500 and len(set(data.ids)) == 2500
    base = spectra_set({"type1": 30, "type2": 60, "intermediate": 30}, seed=4)
    position = {i: k for k, i in enumerate(base.ids)}
    template = [position[t] for t in data.meta["template"]]
    np.testing.assert_array_equal(data.labels, base.labels[template])
    residual = data.flux - base.flux[template]
    # each stored spectrum is its template plus Gaussian noise of the recorded sigma
    np.testing.assert_allclose(residual.std(axis=1), data.meta["noise_sigma"], rtol=0.15)
    assert abs(float(np.mean(residual))) < 1e-3
    again = survey_store(tmp_path / "again.h5", 2500, 4, distinct=120, counts=counts, chunk=1000)
    np.testing.assert_array_equal(SpectraSet.load(again).flux, data.flux)


def test_the_same_spectrum_twice_is_kept_once(trained_model, reduced_sample, dask_scheduler, tmp_path):
    spectra = sorted((reduced_sample.parent / "sim" / "spectra").glob("*.fits"))[:3]
    folder = tmp_path / "files"
    folder.mkdir()
    for path in spectra:
        shutil.copy(path, folder / path.name)
    shutil.copy(spectra[0], folder / "zz-copy.fits")  # another name, the same spectrum (and id)
    survey(trained_model, [folder], tmp_path / "s", run=SurveyRun(scheduler=dask_scheduler))
    rows = {Path(r["input"]).name: r for r in _rows(tmp_path / "s")}
    assert rows[spectra[0].name]["status"] == "kept"
    assert rows["zz-copy.fits"]["status"] == "rejected"
    assert rows["zz-copy.fits"]["reason"].startswith("duplicate id ") and spectra[0].name in rows["zz-copy.fits"][
        "reason"]
    assert not (tmp_path / "s" / "duplicates.csv").exists()
    # in two partitions (run apart, each final once written) both copies are kept, and the survey lists them
    survey(trained_model, [folder], tmp_path / "apart", run=SurveyRun(scheduler=dask_scheduler, partition_size=2))
    rows = {Path(r["input"]).name: r for r in _rows(tmp_path / "apart")}
    assert rows[spectra[0].name]["partition"] != rows["zz-copy.fits"]["partition"]
    assert rows[spectra[0].name]["status"] == rows["zz-copy.fits"]["status"] == "kept"
    with open(tmp_path / "apart" / "duplicates.csv", newline="") as handle:
        listed = list(csv.DictReader(handle))
    assert [(Path(r["input"]).name, int(r["index"])) for r in listed] == \
        [(name, rows[name]["index"]) for name in (spectra[0].name, "zz-copy.fits")]
    assert {r["id"] for r in listed} == {rows[spectra[0].name]["id"]}
    record = json.loads((tmp_path / "apart" / "survey.json").read_text())
    assert record["n_ids_kept_twice"] == 1


def test_survey_placed_on_a_tsne_map(trained_model, reduced_sample, tmp_path):
    """--place-on: every kept spectrum gets coordinates on the reference map (openTSNE transform inside each
    partition) equal to placing all of them at once, near reference spectra of its own class, and the density
    figure counts each of them once; a map that is not in the file is refused before anything runs."""
    from astroxai.embed.tsne import reference_map
    from astroxai.workflows.survey import survey_density

    runner = CliRunner()
    embed = tmp_path / "embed"
    result = runner.invoke(main, ["embed", str(reduced_sample), "--out", str(embed), "--perplexity", "8", "--raw",
                                  "--classes", "all"])
    assert result.exit_code == 0, result.output
    out = tmp_path / "survey"
    result = runner.invoke(main, ["survey", str(trained_model), str(reduced_sample), "--out", str(out),
                                  "--workers", "2", "--partition-size", "7", "--place-on",
                                  str(embed / "embeddings.h5")])
    assert result.exit_code == 0, result.output
    assert "survey_map.png" in result.output and (out / "survey_map.png").stat().st_size > 10_000
    rows = _rows(out)
    data = SpectraSet.load(reduced_sample)
    assert [r["id"] for r in rows] == list(data.ids)
    placed = np.array([[r["tsne_x"], r["tsne_y"]] for r in rows])
    fitted = reference_map(embed / "embeddings.h5")
    assert fitted.spec.key == "all/raw/perplexity_8"
    np.testing.assert_allclose(placed, fitted.place(data.flux, n_jobs=1), rtol=1e-9, atol=1e-9)
    nearest = np.linalg.norm(placed[:, None] - fitted.coords[None], axis=2).argmin(axis=1)
    assert (fitted.labels[nearest] == data.labels).mean() >= 0.8
    edges = [np.linspace(-1e4, 1e4, 11)] * 2
    counts, outside = survey_density(out, edges)
    assert counts.sum() == len(rows) and outside == 0
    assert json.loads((out / "survey.json").read_text())["settings"]["tsne"]["key"] == "all/raw/perplexity_8"
    refused = runner.invoke(main, ["survey", str(trained_model), str(reduced_sample), "--out", str(tmp_path / "x"),
                                   "--place-on", str(embed / "embeddings.h5"), "--map", "all/raw/perplexity_50"])
    assert refused.exit_code != 0 and "has no map 'all/raw/perplexity_50'" in refused.output
    assert not (tmp_path / "x" / PARTS).exists()
