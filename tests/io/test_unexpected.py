"""A reader that fails in a way nobody foresaw costs its own input, never the batch: the input gets a rejection row
naming the error's type (never its message, which may quote the file), and every other input is kept; the command
line shows astroxai's own errors as one line and a bug as a traceback."""

from __future__ import annotations

import csv
import dataclasses

from click.testing import CliRunner

from astroxai.cli import main
from astroxai.errors import AstroxaiError


def rows_of(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_a_field_over_the_csv_limit_is_that_files_rejection(trained_model, reduced_sample, tmp_path):
    """An SDSS archive CSV with one field of 200 000 characters stopped predict and explain with a csv traceback."""
    spectra = sorted((reduced_sample.parent / "sim" / "spectra").glob("*.fits"))[:2]
    huge = tmp_path / "huge.csv"
    huge.write_text("Wavelength,Flux\n4000,1\n4001," + "9" * 200_000 + "\n4002,1\n")
    for command in ("predict", "explain"):
        out = tmp_path / command
        target = ["--out", str(out / "predictions.csv")] if command == "predict" else ["--out", str(out)]
        result = CliRunner().invoke(main, [command, str(trained_model), *map(str, spectra), str(huge), *target])
        assert result.exit_code == 0, result.output
        table = rows_of(out / "predictions.csv") if command == "predict" else rows_of(out / "explanations.csv")
        assert [r["status"] for r in table] == ["kept", "kept", "rejected"]
        assert "not a readable CSV table" in table[2]["reason"] and "9999" not in table[2]["reason"]


def test_an_unforeseen_reader_error_is_one_rejection(trained_model, reduced_sample, tmp_path, monkeypatch):
    from astroxai.io import registry

    spectra = sorted((reduced_sample.parent / "sim" / "spectra").glob("*.fits"))[:3]
    text = tmp_path / "odd.txt"
    text.write_text("4000 1\n4001 1\n")
    def broken(path, *args, **kwargs):
        raise ZeroDivisionError("secret content of the file")

    # fewer inputs than a process pool takes: the reduction runs here, with the patched registry
    monkeypatch.setattr(registry, "READERS", [dataclasses.replace(r, read=broken) if r.name == "text" else r
                                              for r in registry.READERS])
    out = tmp_path / "p.csv"
    result = CliRunner().invoke(main, ["predict", str(trained_model), *map(str, spectra), str(text), "--out",
                                       str(out)])
    assert result.exit_code == 0, result.output
    table = rows_of(out)
    assert [r["status"] for r in table] == ["kept"] * 3 + ["rejected"]
    assert "ZeroDivisionError" in table[3]["reason"] and "secret" not in table[3]["reason"]


def test_every_exception_class_of_the_package_is_an_astroxai_error():
    import importlib
    import inspect
    import pkgutil

    import astroxai

    found = {}
    for module in pkgutil.walk_packages(astroxai.__path__, "astroxai."):
        if module.name.startswith("astroxai.cli"):  # the command line's own click exceptions
            continue
        loaded = importlib.import_module(module.name)
        for name, value in vars(loaded).items():
            if inspect.isclass(value) and issubclass(value, BaseException) and value.__module__ == module.name:
                found[f"{module.name}.{name}"] = value
    outside = [name for name, value in found.items() if not issubclass(value, AstroxaiError)
               and not name.rsplit(".", 1)[1].startswith("_")]
    assert len(found) >= 8 and not outside, outside
    assert all(issubclass(value, (ValueError, RuntimeError)) for value in found.values()
               if value is not AstroxaiError)


def test_the_command_line_shows_astroxai_errors_as_one_line_and_bugs_as_tracebacks(tmp_path, monkeypatch):
    import importlib.metadata

    real = importlib.metadata.distribution

    def missing(name):
        if name == "firstgalaxydata":
            raise importlib.metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(importlib.metadata, "distribution", missing)
    result = CliRunner().invoke(main, ["run", "--kind", "radio", "--data", "first", "--out", str(tmp_path / "r")])
    assert result.exit_code == 1 and "pip install --no-deps firstgalaxydata==0.2.1" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)  # one line, not a traceback
    from astroxai.workflows import run as run_module

    monkeypatch.setattr(run_module, "run", lambda *a, **k: (_ for _ in ()).throw(ValueError("a bug")))
    result = CliRunner().invoke(main, ["run", "--out", str(tmp_path / "s")])
    assert result.exit_code == 1 and isinstance(result.exception, ValueError)  # a bug keeps its traceback
