"""The studies ``astroxai run`` runs, one protocol for all: each is a list of stages with declared inputs, run on the
scheduler (:mod:`astroxai.workflows.schedule`), whose results a writer puts into the run folder
(:class:`~astroxai.report.layout.RunLayout`) and the report draws from.

A study (:class:`Study`) does three things, each a method:

* ``prepare`` — the data set every stage reads (simulate and reduce, or the user's own inputs), checked before any
  work: too few inputs of a class for the cross-validation, fewer than two classes, a class without test inputs
  stop the run here with the class and the counts;
* ``tasks`` — the stages, each a :class:`~astroxai.workflows.schedule.Task` that computes and returns its result
  (a stage that cannot run on this sample is *skipped*, with the reason, instead);
* ``collect`` — writes what the main process writes from those results and returns them, typed.

:func:`run_study` drives any study the same way and writes ``run.json`` (:class:`~astroxai.report.layout.RunRecord`)
and ``report.html``; :data:`STUDIES` maps ``astroxai run --kind`` to the study.
"""

from __future__ import annotations

import json
import logging
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from astroxai.errors import InputError
from astroxai.report.layout import RunLayout, RunRecord, StageRecord, file_sha256
from astroxai.workflows.schedule import Task, run_tasks

log = logging.getLogger(__name__)

#: ``astroxai run --kind`` → the study class (filled by the study modules as they are imported).
STUDIES: dict[str, type] = {}


class RunConfig:
    """Base of the studies' settings (dataclasses): read from a JSON file with unknown keys refused, every value
    checked on construction, written into ``run.json`` as a dict."""

    @classmethod
    def from_file(cls, path, **fixed):
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as error:
            raise InputError(f"{path}: not a readable JSON config ({error})") from None
        if not isinstance(data, dict):
            raise InputError(f"{path}: a config is a JSON object of settings")
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise InputError(f"{path}: unknown config keys {sorted(unknown)} (known: "
                             f"{', '.join(sorted(cls.__dataclass_fields__))})")
        return cls(**{**data, **fixed})

    def to_dict(self) -> dict:
        return asdict(self)


def register(*kinds: str):
    """Class decorator: the study runs for each of ``kinds``."""

    def decorate(cls):
        for kind in kinds:
            STUDIES[kind] = cls
        return cls

    return decorate


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (worker processes of a pool), user + system."""
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class Stages:
    """The stage records of one run: timed in this process (:meth:`timed`), timed by the scheduler (:meth:`add`) or
    skipped with a reason (:meth:`skip`)."""

    def __init__(self):
        self.records: list[StageRecord] = []

    @contextmanager
    def timed(self, name: str):
        """Time a stage run here: its wall time and the CPU time it used (÷ the wall time: the cores it kept busy)."""
        start, cpu = time.perf_counter(), cpu_seconds()
        yield
        seconds, used = round(time.perf_counter() - start, 2), round(cpu_seconds() - cpu, 2)
        self.records.append(StageRecord(name, seconds=seconds, cpu_seconds=used))
        log.info("%s: %.1f s (%.1f cores busy)", name, seconds, used / max(seconds, 1e-9))

    def add(self, name: str, seconds: float) -> None:
        self.records.append(StageRecord(name, seconds=round(seconds, 2)))

    def skip(self, name: str, reason: str) -> None:
        self.records.append(StageRecord(name, status="skipped", reason=reason))
        log.info("%s: skipped (%s)", name, reason)


def model_summary(trained) -> dict:
    """A trained model in ``run.json``: its folder, kind, test macro F (a regressor's r) and timings; an SVM's
    kernel, C, γ."""
    model = trained.model
    summary = {"model_dir": str(trained.folder), "model": type(model).__name__, "timings": trained.timings}
    if model.task == "regress":
        summary["test_r"] = round(float(trained.test.get("r", float("nan"))), 4)
    else:
        summary["test_macro_f1"] = round(trained.test_f1, 4)
    if hasattr(model, "kernel_"):
        summary.update(kernel=model.kernel_, C=model.params_["C"], gamma=model.params_["gamma"])
    return summary


@dataclass
class StudyResult:
    """What a run returns: its folder, its record, the data set it studied and each stage's typed result by stage
    name (a :class:`~astroxai.workflows.train.TrainResult` per model, the saliency study, the t-SNE maps, the trust
    table, the bar study…), and the report's path."""

    layout: RunLayout
    record: RunRecord
    data: object
    results: dict = field(default_factory=dict)
    report: object = None

    def __getitem__(self, name: str):
        return self.results[name]


class Study:
    """Base of the studies (see the module doc).  Subclasses set ``kind`` and implement :meth:`prepare`,
    :meth:`tasks`, :meth:`collect` and :meth:`summary`."""

    kind = ""
    #: The study's settings (a :class:`RunConfig` dataclass).
    config_class: type = RunConfig

    @classmethod
    def default_folder(cls, kind: str) -> str:
        """The run folder's name under ``runs/`` on the embedded data."""
        return kind

    @classmethod
    def fixed_settings(cls, kind: str) -> dict:
        """Settings ``astroxai run --kind`` fixes in the config (an image study's kind)."""
        return {}

    @classmethod
    def given_data(cls, data):
        """``data`` as the config takes it: ``None`` or a built-in sample's name, or a list of the user's inputs."""
        if isinstance(data, tuple):
            return list(data)
        return data

    def __init__(self, config, layout: RunLayout, progress=None):
        self.config, self.layout, self.progress = config, layout, progress
        self.stages = Stages()

    @property
    def data_source(self) -> str:
        """``simulated``, ``first`` or ``user``."""
        return "simulated"

    def prepare(self):  # pragma: no cover - every study implements it
        raise NotImplementedError

    def tasks(self, data, workers: int) -> list[Task]:  # pragma: no cover
        raise NotImplementedError

    def collect(self, data, results: dict) -> dict:  # pragma: no cover
        raise NotImplementedError

    def summary(self, data, results: dict) -> dict:  # pragma: no cover
        raise NotImplementedError

    def inputs(self) -> dict:
        """What the run read, for ``run.json``: the data set and its manifest with their SHA-256."""
        found = {}
        for name, path in (("dataset", self.layout.dataset), ("manifest", self.layout.manifest)):
            if path.is_file():
                found[name] = {"path": path.relative_to(self.layout.root).as_posix(), "sha256": file_sha256(path)}
        return found


def run_study(study: Study, workers: int, progress=None, report: bool = True) -> StudyResult:
    """Run ``study``: prepare its data, run its stages on ``workers`` processes, collect and write their results,
    then ``run.json`` and (``report``) ``report.html``."""
    from astroxai.report.html import check_report, write_report

    start = time.perf_counter()
    data = study.prepare()
    tasks = study.tasks(data, workers)
    with study.stages.timed("stages"):
        results, seconds = run_tasks(tasks, workers, progress)
    for name, value in seconds.items():
        study.stages.add(name, value)
    with study.stages.timed("write"):
        results = study.collect(data, results)
    study.stages.add("total", time.perf_counter() - start)
    config = study.config
    record = RunRecord(kind=study.kind, data=study.data_source, config=config.to_dict(),
                       seed=getattr(config, "seed", None), inputs=study.inputs(), stages=study.stages.records,
                       summary=study.summary(data, results))
    record.save(study.layout)
    result = StudyResult(study.layout, record, data, results)
    if report:
        result.report = write_report(study.layout)
        problems = check_report(result.report)
        if problems:
            log.warning("report %s: %d problems: %s", result.report, len(problems), problems[:3])
    return result


__all__ = ["STUDIES", "RunConfig", "Stages", "model_summary", "Study", "StudyResult", "register", "run_study"]
