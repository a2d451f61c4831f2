"""The fuzz corpus of ``tests/fuzz.py`` through every command that takes each kind of input (each input costs its own
row, never the command).

For every call: no traceback; exit code 0 whenever one input was good; every input in the output table exactly once,
kept or rejected as the corpus expects, with a reason; no line of a file the corpus points at in any output; no
cell a spreadsheet would run; nothing written outside ``--out``.  Model folders and data sets that cannot be used stop
the command with an error naming them, and leave no output behind.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from astroxai.cli import main
from astroxai.data.base import utf8_text
from tests import fuzz


def _invoke(*args: str):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), (args, result.exception)
    assert "Traceback" not in result.output, result.output
    return result


def _rows(table: Path) -> list[dict]:
    with open(table, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _formula(cell: str) -> bool:
    """Would a spreadsheet run this cell?  (A number such as -0.5 is a number, not a formula.)"""
    if not cell or cell[0] not in "=+-@\t\r":
        return False
    try:
        float(cell)
    except ValueError:
        return True
    return False


def _check_table(table: Path, expected: dict[str, str]) -> None:
    """Every expected input once, with the expected fate; no secret, no formula cell."""
    text = table.read_text(encoding="utf-8")
    assert fuzz.SECRET not in text and "agent7" not in text
    rows = _rows(table)
    fates: dict[str, list[str]] = {}
    for row in rows:
        fates.setdefault(row["input"], []).append(row["status"])
        assert row["status"] in ("kept", "rejected"), row
        assert row["status"] == "kept" or len(row["reason"]) > 5, row
        assert not any(_formula(cell) for cell in row.values()), row
    wrong = {name: (want, fates.get(name)) for name, want in expected.items() if fates.get(name) != [want]}
    assert not wrong, wrong
    assert len(rows) == len(expected), sorted(set(fates) - set(expected))


def _expected_spectra(corpus: fuzz.Corpus, catalogue: Path, good: list[Path]) -> dict[str, str]:
    expected = {utf8_text(os.fsdecode(case.path)): case.expect for case in corpus.of("spectrum")}
    rows = {int(case.path.split()[1]): case for case in corpus.of("catalogue")}
    files = {number: line.split(b",")[0].decode("utf-8", "replace")
             for number, line in enumerate(catalogue.read_bytes().splitlines()[1:], start=2)}
    for number, case in rows.items():
        name = files[number] if case.expect == "kept" else f"{catalogue}#{case.path}"
        if case.damage == "missing file" or case.damage == "a text file":
            name = files[number]  # the row is parsed: the file's own row says why it is rejected
        expected[name] = case.expect
    return expected


@pytest.fixture(scope="module")
def spectra_corpus(small_sample, tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz-spectra")
    good = sorted((small_sample.parent / "spectra").glob("*.fits"))
    corpus = fuzz.spectrum_corpus(good[:5], root, seed=18)
    catalogue = fuzz.catalogue_corpus(good[5:10], corpus)
    return corpus, catalogue, _expected_spectra(corpus, catalogue, good)


@pytest.mark.parametrize("command", ["reduce", "predict", "explain"])
def test_the_spectrum_corpus_costs_one_row_per_bad_input(spectra_corpus, trained_model, tmp_path, monkeypatch,
                                                          command):
    corpus, catalogue, expected = spectra_corpus
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    before = fuzz.tree(corpus.root.parent)
    args, table = fuzz.command_line(command, out, [corpus.root, catalogue], model=trained_model)
    result = _invoke(*args)
    assert result.exit_code == 0, result.output
    if command == "reduce":  # one copy of each spectrum: the .gz twin of good-a is the duplicate
        expected = {**expected, utf8_text(str(corpus.root / "good-a.fits.gz")): "rejected"}
    else:  # predict and explain classify each file they are given, a twin too
        expected = {**expected, utf8_text(str(corpus.root / "good-a.fits.gz")): "kept"}
    _check_table(table, expected)
    assert fuzz.tree(corpus.root.parent) == before  # the inputs' folder is untouched
    assert {p for p in fuzz.tree(tmp_path) if not p.startswith(str(out))} == set()
    if command == "reduce":
        from astroxai.data import SpectraSet

        data = SpectraSet.load(out / "set.h5")
        assert len(data) == sum(v == "kept" for v in expected.values()) and len(set(data.ids)) == len(data)


@pytest.fixture(scope="module")
def data_corpus(reduced_sample, tmp_path_factory):
    return fuzz.dataset_corpus(reduced_sample, tmp_path_factory.mktemp("fuzz-sets"))


@pytest.mark.parametrize("command", ["train", "evaluate", "embed", "explain", "predict"])
def test_damaged_and_hostile_data_sets_are_refused_by_every_command(data_corpus, trained_model, small_sample,
                                                                    tmp_path, monkeypatch, command):
    monkeypatch.chdir(tmp_path)
    good = sorted((small_sample.parent / "spectra").glob("*.fits"))[0]
    for case in data_corpus.of("dataset"):
        out = tmp_path / case.name
        inputs = [case.path, good] if command in ("explain", "predict") else [case.path]
        args, table = fuzz.command_line(command, out, inputs, model=trained_model, figures=4)
        result = _invoke(*args)
        if command in ("explain", "predict"):  # the set is one input among others: one rejected row, or its rows
            assert result.exit_code == 0, (case, result.output)
            rows = [row for row in _rows(table) if row["input"] == str(case.path)]
            if case.expect == "refused":
                assert len(rows) == 1 and rows[0]["status"] == "rejected" and rows[0]["reason"], (case, rows)
            else:
                assert sum(row["status"] == "kept" for row in rows) >= len(rows) - 2 > 0, case
            assert fuzz.SECRET not in table.read_text()
        elif case.expect == "refused":
            assert result.exit_code != 0 and case.name in result.output, (case, result.output)
            assert not out.exists(), case  # nothing half-made is left for a later command
        else:
            assert result.exit_code == 0, (case, result.output)
    assert not Path("/tmp/escaped").exists() and not list(tmp_path.rglob("escaped*"))
    assert not list(tmp_path.rglob("*.partial"))


@pytest.fixture(scope="module")
def model_corpus(trained_model, tmp_path_factory):
    return fuzz.model_corpus(trained_model, tmp_path_factory.mktemp("fuzz-models"))


@pytest.mark.parametrize("command", ["predict", "explain", "evaluate"])
def test_damaged_and_hostile_model_folders_are_refused(model_corpus, reduced_sample, tmp_path, command):
    for case in model_corpus.of("model"):
        out = tmp_path / case.name
        result = _invoke(*fuzz.command_line(command, out, [reduced_sample], model=case.path)[0])
        assert result.exit_code in (1, 2) and case.name in result.output, (case, result.output)
        assert fuzz.SECRET not in result.output and not out.exists(), case


def test_the_image_corpus_costs_one_row_per_bad_image(radio, radio_model, tmp_path, monkeypatch):
    from astroxai.data import ImageSet

    monkeypatch.chdir(tmp_path)
    files = sorted(radio.parent.rglob("*.fits"))
    size = ImageSet.load(radio).images.shape[-1]
    corpus = fuzz.image_corpus(files, tmp_path / "images", size, seed=18)
    expected = {str(case.path): case.expect for case in corpus.of("image")}
    out = tmp_path / "out"
    for command in ("predict", "explain"):
        args, table = fuzz.command_line(command, out / command, [corpus.root], model=radio_model)
        result = _invoke(*args)
        assert result.exit_code == 0, result.output
        _check_table(table, expected)
    assert {p for p in fuzz.tree(tmp_path) if not p.startswith((str(out), str(corpus.root)))} == set()


def test_the_corpus_covers_every_kind(spectra_corpus, data_corpus, model_corpus):
    """The sizes quoted in the issue's closing note, and a guard that a refactor does not shrink the corpus."""
    corpus, _, _ = spectra_corpus
    counts = {**corpus.counts(), **data_corpus.counts(), **model_corpus.counts()}
    assert counts["spectrum"] >= 30 and counts["catalogue"] >= 12 and counts["dataset"] >= 12
    assert counts["model"] >= 15
    assert len({case.damage for case in corpus.cases}) == len(corpus.cases)  # no damage counted twice
    assert np.all([case.expect in ("kept", "rejected", "refused") for case in corpus.cases])
