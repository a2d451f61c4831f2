"""Hostile inputs that cost nothing (they are refused, never followed or read whole): HDF5 sets that point at other
files (external or virtual datasets) or declare far more data than they hold, images whose header claims billions of
pixels, and table cells that a spreadsheet would run as formulas. Each is refused (or neutralised) with a reason, and
the good inputs of the same call go on."""

from __future__ import annotations

import csv
import os
import struct
import zlib

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from astroxai.cli import main
from astroxai.data import SpectraSet, csv_safe
from astroxai.io.images import ImageError, read_image
from astroxai.spectrum import SpectrumError


def _spectra_set(path, n=4, n_wave=50):
    grid = np.linspace(4000, 5000, n_wave)
    return SpectraSet(np.ones((n, n_wave)), grid, np.array([f"s{i}" for i in range(n)]),
                      np.array(["type1"] * n)).save(path)


def test_an_hdf5_set_with_external_storage_is_refused(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"root:x:0:0:root:/root:/bin/bash\n" * 40)
    path = _spectra_set(tmp_path / "set.h5")
    with h5py.File(path, "a") as handle:
        del handle["flux"]
        handle.create_dataset("flux", shape=(4, 50), dtype="u1", external=[(str(secret), 0, 200)])
    with pytest.raises(ValueError, match="external"):
        SpectraSet.load(path)


def test_an_hdf5_set_with_a_virtual_dataset_is_refused(tmp_path):
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as handle:
        handle["data"] = np.ones((4, 50))
    path = _spectra_set(tmp_path / "set.h5")
    layout = h5py.VirtualLayout(shape=(4, 50), dtype="f8")
    layout[:] = h5py.VirtualSource(str(other), "data", shape=(4, 50))
    with h5py.File(path, "a") as handle:
        del handle["flux"]
        handle.create_virtual_dataset("flux", layout)
    with pytest.raises(ValueError, match="virtual"):
        SpectraSet.load(path)


def test_an_hdf5_set_declaring_gigabytes_it_does_not_hold_is_refused(tmp_path):
    path = _spectra_set(tmp_path / "set.h5")
    with h5py.File(path, "a") as handle:
        del handle["flux"]
        handle.create_dataset("flux", shape=(4_000_000, 1000), dtype="f4", chunks=(1000, 1000))  # nothing written
    assert path.stat().st_size < 100_000
    with pytest.raises(ValueError, match="declares"):
        SpectraSet.load(path)


def _png_header_only(path, width, height):
    """A PNG whose header claims width × height grey pixels, with one tiny compressed row of data."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 10))
                     + chunk(b"IEND", b""))
    return path


def test_an_image_claiming_too_many_pixels_costs_one_row(tmp_path, radio_model):
    bomb = _png_header_only(tmp_path / "bomb.png", 20000, 20000)
    with pytest.raises(ImageError, match="pixels"):
        read_image(bomb)
    from PIL import Image

    good = tmp_path / "good.png"
    Image.fromarray((np.random.default_rng(0).random((64, 64)) * 255).astype(np.uint8)).save(good)
    out = tmp_path / "predictions.csv"
    result = CliRunner().invoke(main, ["predict", str(radio_model), str(bomb), str(good), "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = {r["input"].rsplit("/", 1)[-1]: r for r in csv.DictReader(open(out, newline=""))}
    assert rows["bomb.png"]["status"] == "rejected" and "pixels" in rows["bomb.png"]["reason"]
    assert rows["good.png"]["status"] == "kept"


@pytest.mark.parametrize("text", ["=HYPERLINK(\"http://x\")", "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"])
def test_formula_like_cells_are_neutralised(text):
    row = csv_safe({"id": text, "reason": "ok", "p": -0.5, "z": "-0.0001", "n": 3})
    assert row["id"] == "'" + text and row["reason"] == "ok"
    assert row["p"] == -0.5 and row["z"] == "-0.0001" and row["n"] == 3  # numbers, and numbers as text, untouched


def test_predictions_escape_formula_ids(tmp_path, trained_model):
    spectrum = tmp_path / "=cmd.txt"
    spectrum.write_text("# z = 0.1\n" + "".join(f"{3000 + i} 1.0 0.1\n" for i in range(4000)))
    out = tmp_path / "predictions.csv"
    result = CliRunner().invoke(main, ["predict", str(trained_model), str(spectrum), "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(open(out, newline="")))
    assert len(rows) == 1 and rows[0]["id"] == "'=cmd"
    assert not any(line.startswith("=") or ",=" in line for line in out.read_text().splitlines())


def test_a_reason_never_quotes_the_file_it_rejects(tmp_path):
    from astroxai.io import collect_inputs
    from astroxai.workflows.reduce import reduce_inputs

    secret = "agent7:x:0:0:agent7:/home/agent7:/bin/zsh"
    passwd = tmp_path / "passwd"
    passwd.write_text(f"{secret}\ndaemon:x:1:1::/usr/sbin:/usr/sbin/nologin\n")
    table = tmp_path / "table.csv"
    table.write_text(f"{secret},b\n1,2\n3,4\n")
    numbers = tmp_path / "numbers.csv"
    numbers.write_text(f"wavelength,flux\n4000,1\n4001,{secret}\n")
    catalogue = tmp_path / "catalogue.csv"
    catalogue.write_text(f"file,z\n{passwd},0.1\n{table},0.1\n{numbers},0.1\n")
    with pytest.raises(SpectrumError, match="no input"):  # nothing survives: the call fails, its manifest is written
        reduce_inputs(collect_inputs([catalogue]), tmp_path / "out.h5", workers=1)
    manifest = (tmp_path / "out.manifest.csv").read_text()
    assert manifest.count("rejected") == 3 and "agent7" not in manifest and "zsh" not in manifest


def test_the_same_spectrum_twice_is_kept_once(small_sample, tmp_path):
    import gzip
    import shutil

    from astroxai.io import collect_inputs
    from astroxai.workflows.reduce import reduce_inputs

    folder = tmp_path / "spectra"
    shutil.copytree(small_sample.parent / "spectra", folder)
    first = sorted(folder.glob("*.fits"))[0]
    with open(first, "rb") as source, gzip.open(folder / (first.name + ".gz"), "wb") as target:
        target.write(source.read())  # the same spectrum as .fits and .fits.gz
    for inputs, n_duplicates in (([folder], 1), ([folder, small_sample], 19)):  # + the originals, by catalogue
        summary = reduce_inputs(collect_inputs(inputs), tmp_path / "set.h5", workers=1)
        rows = list(csv.DictReader(open(summary["manifest"], newline="")))
        duplicates = [r for r in rows if "duplicate id" in r["reason"]]
        assert len(duplicates) == n_duplicates and {r["status"] for r in duplicates} == {"rejected"}
        data = SpectraSet.load(tmp_path / "set.h5")
        assert len(set(data.ids)) == len(data.ids) == sum(r["status"] == "kept" for r in rows) == 18


def test_outputs_never_overwrite_inputs_or_each_other(tmp_path):
    spectrum = tmp_path / "a.txt"
    text = "# z = 0.1\n" + "".join(f"{3000 + i} 1.0 0.1\n" for i in range(4000))
    spectrum.write_text(text)
    result = CliRunner().invoke(main, ["reduce", str(spectrum), "--out", str(spectrum)])
    assert result.exit_code == 1 and "would overwrite an input" in result.output
    assert spectrum.read_text() == text
    for name in ("run.v1.h5", "run.v2.h5", "x.manifest.csv"):
        result = CliRunner().invoke(main, ["reduce", str(spectrum), "--out", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
    assert (tmp_path / "run.v1.manifest.csv").exists() and (tmp_path / "run.v2.manifest.csv").exists()
    assert SpectraSet.load(tmp_path / "x.manifest.csv").ids.tolist() == ["a"]  # the data set, not its manifest


def test_a_run_that_keeps_nothing_leaves_no_older_data_set_beside_its_manifest(tmp_path):
    good = tmp_path / "a.txt"
    good.write_text("# z = 0.1\n" + "".join(f"{3000 + i} 1.0 0.1\n" for i in range(4000)))
    assert CliRunner().invoke(main, ["reduce", str(good), "--out", str(tmp_path / "set.h5")]).exit_code == 0
    bad = tmp_path / "b.txt"
    bad.write_text("not a spectrum\n")
    result = CliRunner().invoke(main, ["reduce", str(bad), "--out", str(tmp_path / "set.h5")])
    assert result.exit_code == 1 and not (tmp_path / "set.h5").exists()
    assert "rejected" in (tmp_path / "set.manifest.csv").read_text()


def test_figure_texts_from_data_are_drawn_plain_and_short(tmp_path):
    """An id that is a broken formula and a megabyte-long label end up in figure titles: the figure is written, the
    text drawn literally and cut (before the fix: a mathtext ParseException, and memory spent laying out 1e6 glyphs)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from astroxai.report.figures import MAX_TEXT, save_figure

    fig, ax = plt.subplots()
    ax.plot([1, 10], [1, 100])
    ax.set_yscale("log")  # its tick labels are mathtext on purpose and stay so
    ax.set_title(r"$\frac{x$")
    ax.text(0.5, 0.5, "L" * 1_000_000)
    ax.plot([1, 2], [3, 4], label="=" + "x" * 5000)
    ax.legend()
    written = save_figure(fig, tmp_path / "hostile")
    assert [p.suffix for p in written] == [".png", ".pdf"] and all(p.stat().st_size > 0 for p in written)
    assert ax.title.get_text() == r"$\frac{x$" and not ax.title.get_parse_math()
    assert len(ax.texts[0].get_text()) == MAX_TEXT and ax.texts[0].get_text().endswith("…")
    assert len(ax.get_legend().get_texts()[0].get_text()) == MAX_TEXT


def test_explaining_images_with_formula_ids_and_huge_labels_writes_every_row(tmp_path, radio_model, radio):
    from astroxai.data import ImageSet
    from astroxai.explain import ExplainSettings
    from astroxai.workflows.explain import explain_inputs

    data = ImageSet.load(radio).subset(np.arange(4))
    data.ids = np.array([r"$\frac{x$", "a" * 240, "=cmd|' /C calc'!A0", "ok"], dtype=object)
    data.labels = np.array(["y" * 1_000_000, "FRI", "", "FRII"], dtype=object)
    data.save(tmp_path / "odd.h5")
    result = explain_inputs(radio_model, [tmp_path / "odd.h5"], tmp_path / "out", ExplainSettings("saliency"))
    assert len(result["rows"]) == 4 and result["figures"]
    limit = csv.field_size_limit(1 << 24)  # the table keeps the whole label (it is the data)
    try:
        with open(tmp_path / "out" / "explanations.csv", newline="") as handle:
            rows = list(csv.DictReader(handle))
    finally:
        csv.field_size_limit(limit)
    assert len(rows) == 4 and all(r["status"] == "kept" for r in rows)
    assert all(p.resolve().is_relative_to((tmp_path / "out").resolve()) for p in (tmp_path / "out").rglob("*"))


@pytest.mark.skipif(os.name != "posix", reason="file names are bytes only on POSIX")
def test_a_file_name_that_is_not_utf8_costs_nothing(small_sample, trained_model, tmp_path):
    """A byte that is not UTF-8 in one file name: before, every writer refused the name (UnicodeEncodeError) and the
    whole batch was lost; now every input is kept and the odd name is written with a \\xNN escape."""
    import shutil

    spectra = sorted((small_sample.parent / "spectra").glob("*.fits"))[:3]
    folder = os.fsencode(tmp_path / "in")
    os.mkdir(folder)
    shutil.copy(os.fsencode(spectra[0]), folder + b"/spec-\xff.fits")
    for path in spectra[1:]:
        shutil.copy(path, os.fsdecode(folder) + "/" + path.name)
    runner = CliRunner()
    result = runner.invoke(main, ["reduce", os.fsdecode(folder), "--out", str(tmp_path / "set.h5")])
    assert result.exit_code == 0, result.output
    assert len(SpectraSet.load(tmp_path / "set.h5")) == 3
    with open(tmp_path / "set.manifest.csv", newline="", encoding="utf-8") as handle:
        inputs = [row["input"] for row in csv.DictReader(handle) if row["status"] == "kept"]
    assert len(inputs) == 3 and any(name.endswith("spec-\\xff.fits") for name in inputs)
    for command in (["predict", str(trained_model), os.fsdecode(folder), "--out", str(tmp_path / "p.csv")],
                    ["explain", str(trained_model), os.fsdecode(folder), "--out", str(tmp_path / "x")]):
        result = runner.invoke(main, command)
        assert result.exit_code == 0, result.output
    with open(tmp_path / "p.csv", newline="", encoding="utf-8") as handle:
        assert sum(row["status"] == "kept" for row in csv.DictReader(handle)) == 3


def test_broken_catalogue_rows_cost_one_row_each(small_sample, trained_model, tmp_path):
    """A cell over the csv module's field limit, a byte that is not UTF-8 late in the file, a 5 000-character label
    and a row without a file name: before, the first was a traceback and the second lost the whole catalogue, the
    last vanished without a row.  Now each is one rejected row naming the problem; the good rows are kept."""
    spectra = sorted((small_sample.parent / "spectra").glob("*.fits"))[:3]
    good = [f"{p},type1,0.5" for p in spectra]
    text = "\n".join(["file,label,z", good[0], "x" * 200_000 + ",type1,0.1", good[1],
                      f"{spectra[2]},{'y' * 5000},0.2", ",type2,0.3"]) + "\n"
    (tmp_path / "cat.csv").write_bytes(text.encode() + f"{spectra[2]},type\xff2,0.3\n".encode("latin-1") +
                                       f"{good[2]}\n".encode())
    runner = CliRunner()
    for command, table in ((["reduce", str(tmp_path / "cat.csv"), "--out", str(tmp_path / "s.h5")],
                            tmp_path / "s.manifest.csv"),
                           (["predict", str(trained_model), str(tmp_path / "cat.csv"), "--out",
                             str(tmp_path / "p.csv")], tmp_path / "p.csv")):
        result = runner.invoke(main, command)
        assert result.exit_code == 0, result.output
        with open(table, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        rejected = {row["input"].rsplit("#", 1)[-1]: row["reason"] for row in rows if row["status"] == "rejected"}
        assert sum(row["status"] == "kept" for row in rows) == 3
        assert "field limit" in rejected["row 3"] and "longer than 4096" in rejected["row 5"]
        assert "names no file" in rejected["row 6"] and "not UTF-8" in rejected["row 7"]
        assert len(rows) == 7


def test_an_out_that_cannot_be_written_is_refused_before_any_work(trained_model, reduced_sample, tmp_path):
    """--out under a file: before, six commands died with a raw OSError, explain only after all its work."""
    (tmp_path / "afile").write_text("not a folder")
    runner = CliRunner()
    for command in (["reduce", str(reduced_sample), "--out", str(tmp_path / "afile" / "x.h5")],
                    ["predict", str(trained_model), str(reduced_sample), "--out", str(tmp_path / "afile" / "p.csv")],
                    ["explain", str(trained_model), str(reduced_sample), "--out", str(tmp_path / "afile" / "x")],
                    ["evaluate", str(trained_model), str(reduced_sample), "--out", str(tmp_path / "afile" / "e")],
                    ["train", str(reduced_sample), "--out", str(tmp_path / "afile" / "m"), "--quick"]):
        result = runner.invoke(main, command)
        assert result.exit_code == 2 and "is a file, not a folder" in result.output, (command, result.output)
        assert "Traceback" not in result.output
    assert not list(tmp_path.glob("**/*.partial"))
    # an existing output file is still replaced as before
    (tmp_path / "p").write_text("old")
    result = runner.invoke(main, ["predict", str(trained_model), str(reduced_sample), "--out", str(tmp_path / "p")])
    assert result.exit_code == 0, result.output


def test_non_finite_rows_are_left_out_of_training_and_maps_with_their_ids_recorded(reduced_sample, tmp_path):
    """Two non-finite rows in a data set: before, `train --model cnn` died in load_state_dict (a traceback), the SVM
    and `embed --place` stopped on scikit-learn's NaN error; now both rows are left out, named, and recorded."""
    import json

    data = SpectraSet.load(reduced_sample)
    data.flux[3] = np.nan
    data.flux[8, 10] = np.inf
    data.save(tmp_path / "nan.h5")
    bad = sorted([str(data.ids[3]), str(data.ids[8])])
    runner = CliRunner()
    for extra in (["--model", "cnn", "--max-epochs", "2"], ["--quick", "--timing-repeats", "0"]):
        out = tmp_path / f"m{len(extra)}"
        result = runner.invoke(main, ["train", str(tmp_path / "nan.h5"), "--out", str(out), *extra])
        assert result.exit_code == 0, result.output
        assert "non-finite" in result.output and "Traceback" not in result.output
        assert sorted(json.loads((out / "model.json").read_text())["training"]["left_out_non_finite"]) == bad
        split = json.loads((out / "split.json").read_text())
        assert not set(bad) & set(split["train"] + split["validation"] + split["test"])
    result = runner.invoke(main, ["embed", str(tmp_path / "nan.h5"), "--out", str(tmp_path / "maps"),
                                  "--perplexity", "5", "--place", str(tmp_path / "nan.h5")])
    assert result.exit_code == 0, result.output
    with open(tmp_path / "maps" / "placed.csv", newline="") as handle:
        assert not set(bad) & {row["id"] for row in csv.DictReader(handle)}


def test_a_missing_input_path_costs_its_own_row(small_sample, trained_model, tmp_path):
    """One INPUT that does not exist among good ones: before, click refused the whole call; now it is a rejected row
    ("file not found") and the good inputs are reduced and classified."""
    spectra = sorted((small_sample.parent / "spectra").glob("*.fits"))[:2]
    missing = tmp_path / "not-here.fits"
    runner = CliRunner()
    result = runner.invoke(main, ["reduce", str(spectra[0]), str(missing), str(spectra[1]),
                                  "--out", str(tmp_path / "s.h5")])
    assert result.exit_code == 0, result.output
    result = runner.invoke(main, ["predict", str(trained_model), str(spectra[0]), str(missing),
                                  "--out", str(tmp_path / "p.csv")])
    assert result.exit_code == 0, result.output
    for table in (tmp_path / "s.manifest.csv", tmp_path / "p.csv"):
        with open(table, newline="") as handle:
            rows = {row["input"]: row for row in csv.DictReader(handle)}
        assert rows[str(missing)]["status"] == "rejected" and "not found" in rows[str(missing)]["reason"]
        assert sum(row["status"] == "kept" for row in rows.values()) == len(rows) - 1


def test_an_interrupted_table_write_leaves_the_old_table_whole(tmp_path, monkeypatch):
    """write_table stopped half-way (here: an error while writing the second row) keeps the previous complete table
    and leaves no temporary file; before, a short CSV stayed under the final name for a report to show."""
    from astroxai.report import tables

    tables.write_table([{"a": 1}, {"a": 2}], tmp_path / "t")
    before = (tmp_path / "t.csv").read_text()
    calls = []

    def failing(row):
        calls.append(row)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return row

    monkeypatch.setattr(tables, "csv_safe", failing)
    with pytest.raises(KeyboardInterrupt):
        tables.write_table([{"a": 3}, {"a": 4}, {"a": 5}], tmp_path / "t")
    assert (tmp_path / "t.csv").read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.csv", "t.json"]


def _deny_reading(paths, monkeypatch):
    """Make ``paths`` unreadable: chmod 000 as an ordinary user; as root (CI containers), whom file modes do not stop,
    ``open`` raises the PermissionError an ordinary user would get."""
    import builtins

    if os.geteuid() != 0:
        for path in paths:
            os.chmod(path, 0)
        return
    real_open, denied = builtins.open, {str(p) for p in paths}

    def guarded(file, *args, **kwargs):
        if str(file) in denied:
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded)
    import fitsio  # cfitsio opens files itself (the spec reader's fast path): refuse there as the OS would

    real_fits = fitsio.FITS

    def guarded_fits(file, *args, **kwargs):
        if str(file) in denied:
            raise OSError("FITSIO status = 104: could not open the named file")
        return real_fits(file, *args, **kwargs)

    monkeypatch.setattr(fitsio, "FITS", guarded_fits)


def test_an_unreadable_file_costs_one_row(small_sample, trained_model, radio, radio_model, tmp_path, monkeypatch):
    """Item 11: a spectrum, a catalogue and an image that this user may not read.  Before, the PermissionError
    ended reduce and predict with 'Error: [Errno 13]' and every input was lost; now each is one rejected row."""
    import shutil

    folder = tmp_path / "in"
    folder.mkdir()
    for path in sorted((small_sample.parent / "spectra").glob("*.fits"))[:3]:
        shutil.copy(path, folder / path.name)
    locked = sorted(folder.glob("*.fits"))[1]
    catalogue = tmp_path / "cat.csv"
    catalogue.write_text(f"file,z\n{sorted((small_sample.parent / 'spectra').glob('*.fits'))[5]},0.1\n")
    images = tmp_path / "images"
    images.mkdir()
    for path in sorted(radio.parent.rglob("*.fits"))[:3]:
        shutil.copy(path, images / path.name)
    image = sorted(images.iterdir())[0]
    _deny_reading([locked, catalogue, image], monkeypatch)
    runner = CliRunner()
    for command, table in ((["reduce", str(folder), str(catalogue), "--out", str(tmp_path / "s.h5")],
                            tmp_path / "s.manifest.csv"),
                           (["predict", str(trained_model), str(folder), str(catalogue), "--out",
                             str(tmp_path / "p.csv")], tmp_path / "p.csv"),
                           (["predict", str(radio_model), str(images), "--out", str(tmp_path / "i.csv")],
                            tmp_path / "i.csv")):
        result = runner.invoke(main, command)
        assert result.exit_code == 0, result.output
        with open(table, newline="") as handle:
            rows = {row["input"]: row for row in csv.DictReader(handle)}
        denied = {name for name, row in rows.items() if "Permission denied" in row["reason"]}
        assert denied == {str(p) for p in (locked, catalogue, image) if str(p) in rows} and denied
        assert all(row["status"] == "kept" for name, row in rows.items() if name not in denied)
