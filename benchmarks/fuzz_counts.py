"""Counts of the fuzz corpus (issue 18): every malformed or hostile input of ``tests/fuzz.py`` through every command
that takes it, and what went wrong.

Usage:  python benchmarks/fuzz_counts.py [--work DIR]

Not a timing: the figures the issue asks to show.  Simulates a small sample, trains a quick SVM and a 1-epoch radio
CNN, writes the corpus (spectrum files, catalogue rows, HDF5 sets, images, model folders), runs ``reduce``,
``predict``, ``explain``, ``train``, ``evaluate`` and ``embed`` on it through the command line (in process), and
prints per kind: corpus size, calls, crashes (a traceback or an exception other than a clean exit), inputs lost (an
input missing from the output table, or listed twice), inputs with the wrong fate (a bad one kept, a good one
rejected), files written outside ``--out``, hostile files accepted (a damaged model folder or data set that a command
used), and secrets echoed (a line of a file the corpus points at, found in any output).  About two minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.fuzz, the corpus generator

from click.testing import CliRunner  # noqa: E402
from tests import fuzz  # noqa: E402

from astroxai.cli import main as cli  # noqa: E402


def _call(args) -> tuple[int, bool, str]:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    crashed = (result.exception is not None and not isinstance(result.exception, SystemExit)) or \
        "Traceback" in result.output
    return result.exit_code, crashed, result.output


def _table(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8", errors="replace") as handle:
        return list(csv.DictReader(handle))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=None, help="Folder to work in (default: a temporary one).")
    options = parser.parse_args()
    work = options.work or Path(tempfile.mkdtemp(prefix="astroxai-fuzz-"))
    from astroxai.data.base import utf8_text
    from astroxai.simulate import simulate_sample
    from astroxai.simulate.images import simulate_image_sample

    catalog = simulate_sample(work / "sim", {"type1": 16, "type2": 16, "intermediate": 16}, seed=18, workers=1)
    good = sorted((catalog.parent / "spectra").glob("*.fits"))
    _call(["reduce", catalog, "--out", work / "set.h5", "--n-wave", "150"])
    _call(["train", work / "set.h5", "--out", work / "svm", "--quick", "--timing-repeats", "0"])
    radio = simulate_image_sample(work / "radio", "radio", dict.fromkeys(("compact", "FRI", "FRII", "bent"), 8),
                                  seed=18, workers=1)
    _call(["train", radio, "--out", work / "cnn", "--max-epochs", "1"])

    stats: dict[str, Counter] = {}
    sandbox = work / "sandbox"
    sandbox.mkdir()

    def record(kind, **counts):
        stats.setdefault(kind, Counter()).update(counts)

    def outside(out: Path, before: set[str]) -> int:
        """Paths that appeared in the sandbox during a call, outside its --out."""
        return sum(1 for p in fuzz.tree(sandbox) - before if not p.startswith(str(out)))

    # spectrum files and catalogue rows
    spectra = fuzz.spectrum_corpus(good[:5], sandbox / "corpus", seed=18)
    catalogue = fuzz.catalogue_corpus(good[5:10], spectra)
    record("spectrum", size=len(spectra.of("spectrum")))
    record("catalogue", size=len(spectra.of("catalogue")))
    n_inputs = len(spectra.cases)
    for command in ("reduce", "predict", "explain"):
        out = sandbox / f"out-{command}"
        args, table = fuzz.command_line(command, out, [spectra.root, catalogue], model=work / "svm")
        before = fuzz.tree(sandbox)
        code, crashed, output = _call(args)
        rows = _table(table)
        names = Counter(row["input"] for row in rows)
        expected = {utf8_text(os.fsdecode(case.path)) for case in spectra.of("spectrum")}
        kept = {name for name in names if any(r["input"] == name and r["status"] == "kept" for r in rows)}
        wrong = sum(1 for case in spectra.of("spectrum") if case.name != "good-a.fits.gz"  # a twin: see the test
                    and (utf8_text(os.fsdecode(case.path)) in kept) != (case.expect == "kept"))
        record("spectrum", calls=1, crashes=int(crashed or code != 0),
               lost=sum(1 for name in expected if names.get(name) != 1) + abs(n_inputs - len(rows)),
               wrong_fate=wrong, outside=outside(out, before),
               secrets=int(fuzz.SECRET in table.read_text(errors="replace")) if table.exists() else 0)
        record("catalogue", calls=1)

    # HDF5 data sets
    sets = fuzz.dataset_corpus(work / "set.h5", sandbox / "sets")
    record("dataset", size=len(sets.cases))
    for case in sets.cases:
        for command in ("train", "evaluate", "embed", "explain", "predict"):
            out = sandbox / f"out-{case.name}-{command}"
            inputs = [case.path, good[0]] if command in ("explain", "predict") else [case.path]
            args, table = fuzz.command_line(command, out, inputs, model=work / "svm", figures=4)
            before = fuzz.tree(sandbox)
            code, crashed, output = _call(args)
            accepted = case.expect == "refused" and (
                code == 0 if command in ("train", "evaluate", "embed") else
                any(r["status"] == "kept" and r["input"] == str(case.path) for r in _table(table)))
            text = "".join(p.read_text(errors="replace") for p in out.rglob("*.csv")) if out.exists() else ""
            record("dataset", calls=1, crashes=int(crashed), accepted=int(accepted),
                   outside=outside(out, before) + int(Path("/tmp/escaped").exists()),
                   secrets=int(fuzz.SECRET in text or fuzz.SECRET in output))

    # images
    images = fuzz.image_corpus(sorted((radio.parent).rglob("*.fits")), sandbox / "images",
                               int(__import__("h5py").File(radio)["images"].shape[-1]), seed=18)
    record("image", size=len(images.cases))
    for command in ("predict", "explain"):
        out = sandbox / f"out-images-{command}"
        args, table = fuzz.command_line(command, out, [images.root], model=work / "cnn")
        before = fuzz.tree(sandbox)
        code, crashed, output = _call(args)
        rows = _table(table)
        names = Counter(row["input"] for row in rows)
        wrong = sum(1 for case in images.cases if any(r["input"] == str(case.path) and r["status"] != case.expect
                                                      for r in rows))
        record("image", calls=1, crashes=int(crashed or code != 0),
               lost=sum(1 for case in images.cases if names.get(str(case.path)) != 1), wrong_fate=wrong,
               outside=outside(out, before))

    # model folders
    models = fuzz.model_corpus(work / "svm", sandbox / "models")
    record("model", size=len(models.cases))
    for case in models.cases:
        for command in ("predict", "explain", "evaluate"):
            out = sandbox / f"out-{case.name}-{command}"
            before = fuzz.tree(sandbox)
            code, crashed, output = _call(fuzz.command_line(command, out, [work / "set.h5"], model=case.path)[0])
            record("model", calls=1, crashes=int(crashed), accepted=int(code == 0), outside=outside(out, before),
                   secrets=int(fuzz.SECRET in output))

    columns = ["size", "calls", "crashes", "lost", "wrong_fate", "outside", "accepted", "secrets"]
    print(f"{'kind':10s} " + " ".join(f"{c:>10s}" for c in columns))
    total = Counter()
    for kind, counts in stats.items():
        total.update(counts)
        print(f"{kind:10s} " + " ".join(f"{counts.get(c, 0):10d}" for c in columns))
    print(f"{'all':10s} " + " ".join(f"{total.get(c, 0):10d}" for c in columns))
    if options.work is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
