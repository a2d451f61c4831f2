"""The run folder is named in one place: no module of the package spells a run's file names (the report, the
workflows and the writers ask :class:`~astroxai.report.layout.RunLayout`), and ``run.json`` has one schema that also
reads the two layouts written before it."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import astroxai
from astroxai.report.layout import RunLayout, RunRecord, StageRecord

PACKAGE = Path(astroxai.__file__).parent
#: Modules that name the files of *other* folders: a model folder (persist), the simulator's sample, a survey's
#: folder, the reduction's manifest beside any data set, the simulator's record, ``simulate --store``.
OTHER_FOLDERS = {"report/layout.py", "models/persist.py", "simulate/__init__.py", "simulate/images.py",
                 "workflows/survey.py", "workflows/survey_outputs.py", "workflows/reduce.py", "provenance.py",
                 "cli/data.py"}
FILE_NAME = re.compile(r"^[A-Za-z0-9_.-]+\.(csv|json|h5|html|md|png|pdf)$")


def path_literals(path: Path) -> list[tuple[int, str]]:
    """String constants joined onto a path with ``/`` and constants that name a file (a stem and a suffix)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div) and isinstance(node.right, ast.Constant) \
                and isinstance(node.right.value, str):
            found.append((node.lineno, node.right.value))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and FILE_NAME.match(node.value):
            found.append((node.lineno, node.value))
    return found


def test_no_module_spells_a_run_files_name():
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        name = path.relative_to(PACKAGE).as_posix()
        if name not in OTHER_FOLDERS:
            problems += [f"{name}:{line} {text!r}" for line, text in path_literals(path)]
    assert not problems, "\n".join(problems)


def test_the_guard_finds_what_it_guards(tmp_path):
    fake = tmp_path / "fake.py"
    fake.write_text('root = "r"\nx = Path(root) / "trust"\ny = "trust.csv"\nz = "not a file"\n')
    assert path_literals(fake) == [(2, "trust"), (3, "trust.csv")]


def test_every_path_lies_in_its_run_folder(tmp_path):
    layout = RunLayout(tmp_path)
    paths = [layout.record, layout.report, layout.results, layout.dataset, layout.manifest, layout.explanations,
             layout.examples, layout.truth, layout.overlap, layout.trust.table, layout.trust.maps, layout.bars.table,
             layout.embed.table, layout.explain.table("physics"), layout.explain.method("lime").maps,
             layout.model("svm-3class").table("kernels"), layout.peers, layout.by_group]
    assert all(p.is_relative_to(tmp_path) for p in paths) and len(set(paths)) == len(paths)


def test_run_record_round_trip_and_the_older_layouts(tmp_path):
    layout = RunLayout(tmp_path)
    record = RunRecord("spectra", "user", {"seed": 3}, 3, {"dataset": {"path": "dataset.h5", "sha256": "x"}},
                       [StageRecord("reduce", seconds=1.5, cpu_seconds=2.0), StageRecord("bars", "skipped", "none")],
                       {"n_spectra": 10})
    record.save(layout)
    again = RunRecord.load(layout)
    assert again == record and again.ran("reduce") and not again.ran("bars") and again.skipped()[0].reason == "none"
    assert again.timings == {"reduce_s": 1.5, "reduce_cpu_s": 2.0}
    # the spectra run's and the image runs' run.json before the one schema
    layout.record.write_text(json.dumps({"config": {"config": {"seed": 7}, "summary": {"timings": {"svm-3class_s": 4.0,
                                                                                                    "total_s": 9}}},
                                         "versions": {"numpy": "2"}}))
    old = RunRecord.load(layout)
    assert (old.kind, old.data, old.seed, old.schema) == ("spectra", "simulated", 7, 1) and old.ran("svm-3class")
    layout.record.write_text(json.dumps({"config": {"command": "run", "kind": "radio", "data": "first",
                                                    "timings": {"trust_s": 3.0}}}))
    old = RunRecord.load(layout)
    assert (old.kind, old.data) == ("radio", "first") and old.stage("trust").seconds == 3.0
