"""The one place that names the files of a run folder and of a model folder, and the one ``run.json`` schema.

Writers and readers both ask :class:`RunLayout` (``astroxai run``'s folder) and :class:`ModelFiles` (the tables and
figures a training writes beside a model) for their paths, so renaming an output is a change of one line here and
no module spells a run's file names itself (``tests/report/test_layout.py`` guards this).  Tables are *stems*:
:func:`astroxai.report.tables.write_table` writes ``stem.csv`` and ``stem.json``; figures are stems too
(``.png`` and ``.pdf``).  :class:`RunRecord` is ``run.json``: what ran, on what, with which settings, libraries and
seed, and how long each stage took.
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from astroxai.data import atomic_path
from astroxai.errors import InputError
from astroxai.provenance import versions
from astroxai.results import json_text

#: The kinds of study a run folder can hold (``astroxai run --kind``).
STUDY_KINDS = ("spectra", "radio", "galaxy")


@dataclass(frozen=True)
class _Folder:
    """A folder whose files one writer writes and the report reads; subclasses name them."""

    folder: Path

    def __post_init__(self):
        object.__setattr__(self, "folder", Path(self.folder))

    @property
    def name(self) -> str:
        return self.folder.name

    def figure(self, name: str) -> Path:
        """A figure stem (``.png`` and ``.pdf``) in the folder's ``figures``."""
        return self.folder / "figures" / name

    @property
    def figures(self) -> Path:
        return self.folder / "figures"


class ModelFiles(_Folder):
    """The files a training writes into a model folder beside the model itself (``model.json`` and the weights are
    :mod:`astroxai.models.persist`'s)."""

    def table(self, name: str) -> Path:
        """One of the model's tables: ``search``, ``kernels``, ``test_metrics``, ``test_metrics_by_kernel``,
        ``confusion``, ``noise``, ``history``, ``test_predictions``."""
        return self.folder / name


class EvaluationFiles(ModelFiles):
    """``astroxai evaluate``'s folder: the tables ``metrics``, ``confusion``, ``noise`` (spectra), ``predictions`` and
    their figures (``confusion``, ``confusion_normalised``, ``noise``, ``scatter``)."""


class ExplainFiles(_Folder):
    """The output of explaining a set with one method (``astroxai explain``; one method of an image study):
    ``explanations.csv/json`` (one row per input) and ``explanations.h5`` (the maps)."""

    @property
    def table(self) -> Path:
        return self.folder / "explanations"

    @property
    def maps(self) -> Path:
        return self.folder / "explanations.h5"


class SaliencyFiles(_Folder):
    """A spectra study's ``explain`` folder: the saliency study's tables and figures; an image study keeps one
    :class:`ExplainFiles` per method in it, and the ``overlap`` table."""

    def table(self, name: str) -> Path:
        """``misclassified``, ``correct_sample``, ``physics``, ``spectra`` (each test spectrum's classes,
        probabilities and science columns), ``overlap`` (images)."""
        return self.folder / name

    @property
    def gallery(self) -> Path:
        """The single-spectrum figures (map beside its t-SNE position)."""
        return self.folder / "figures" / "saliency"

    def method(self, method: str) -> ExplainFiles:
        return ExplainFiles(self.folder / method)

    def methods(self) -> list[str]:
        """The methods explained with (folders holding maps), in name order."""
        return sorted(p.parent.name for p in self.folder.glob("*/explanations.h5"))


class TrustFiles(_Folder):
    """A trust table's folder (a run's ``trust``, or ``astroxai trust --out``)."""

    @property
    def table(self) -> Path:
        return self.folder / "trust"

    @property
    def maps(self) -> Path:
        """Every map, an :class:`~astroxai.explain.Explanation` per key ``<model>/<method>``."""
        return self.folder / "trust.h5"


class EmbedFiles(_Folder):
    """t-SNE maps' folder: the table of every map's size, KL divergence and time, and the figures."""

    @property
    def table(self) -> Path:
        return self.folder / "tsne"

    @property
    def maps(self) -> Path:
        """Where ``astroxai embed`` keeps the maps (a run keeps them in its ``explanations.h5``)."""
        return self.folder / "embeddings.h5"

    @property
    def placed(self) -> Path:
        """Table stem: spectra of another set placed on the maps (``astroxai embed --place``)."""
        return self.folder / "placed"


class BarFiles(_Folder):
    """The bar study's folder: ``bars`` (r and RMSE of every route), ``bar_predictions`` and figures."""

    @property
    def table(self) -> Path:
        return self.folder / "bars"

    @property
    def predictions(self) -> Path:
        return self.folder / "bar_predictions"


class FetchFiles(_Folder):
    """``astroxai fetch``'s folder: the spectra by their archive names, ``catalog.csv`` (ready for ``reduce`` and
    ``run --data``) and ``fetch.manifest.csv`` (every catalogue row's fate)."""

    def spectrum(self, name: str) -> Path:
        return self.folder / name

    @property
    def catalog(self) -> Path:
        return self.folder / "catalog.csv"

    @property
    def manifest(self) -> Path:
        return self.folder / "fetch.manifest.csv"


@dataclass(frozen=True)
class RunLayout:
    """Every path of a run folder.

    Examples
    --------
    >>> from astroxai.report.layout import RunLayout
    >>> layout = RunLayout("runs/default")
    >>> layout.record.name, layout.model("svm-3class").table("kernels").as_posix()
    ('run.json', 'runs/default/models/svm-3class/kernels')
    """

    root: Path

    def __post_init__(self):
        object.__setattr__(self, "root", Path(self.root))

    @property
    def record(self) -> Path:
        """``run.json``: :class:`RunRecord`."""
        return self.root / "run.json"

    @property
    def report(self) -> Path:
        return self.root / "report.html"

    @property
    def results(self) -> Path:
        """``results.md``: the tables beside the paper's (the default simulated sample only)."""
        return self.root / "results.md"

    @property
    def dataset(self) -> Path:
        """The data set every stage reads: a reduced :class:`~astroxai.data.SpectraSet` or an
        :class:`~astroxai.data.ImageSet`."""
        return self.root / "dataset.h5"

    @property
    def manifest(self) -> Path:
        """The fate of every input (kept, or rejected with the reason)."""
        return self.root / "dataset.manifest.csv"

    @property
    def simulated(self) -> Path:
        """The simulated inputs (FITS files and their catalogue of true parameters) of a run on simulations."""
        return self.root / "simulated"

    @property
    def truth(self) -> Path:
        """The simulator's catalogue: every true parameter."""
        return self.simulated / "catalog.csv"

    @property
    def explanations(self) -> Path:
        """Every array of a spectra study: the saliency :class:`~astroxai.explain.Explanation` (key
        :attr:`SALIENCY_KEY`) and the t-SNE maps."""
        return self.root / "explanations.h5"

    SALIENCY_KEY = "saliency"

    @property
    def examples(self) -> Path:
        """Figure stem: a few inputs of each class."""
        return self.root / "figures" / "examples"

    @property
    def models(self) -> Path:
        return self.root / "models"

    def model(self, name: str) -> ModelFiles:
        return ModelFiles(self.models / name)

    def model_folders(self) -> list[Path]:
        """The model folders present (each holding a ``model.json``), in name order."""
        return sorted(f for f in self.models.glob("*") if (f / "model.json").is_file())

    @property
    def peers(self) -> Path:
        """Table stem: this run's test scores beside the published ones (the real FIRST galaxies)."""
        return self.root / "peers"

    @property
    def by_group(self) -> Path:
        """Table stem: test recall per class and per group of the inputs (the FIRST set's literature catalogues)."""
        return self.root / "by_catalogue"

    @property
    def embed(self) -> EmbedFiles:
        return EmbedFiles(self.root / "embed")

    @property
    def explain(self) -> SaliencyFiles:
        return SaliencyFiles(self.root / "explain")

    @property
    def overlap(self) -> Path:
        """Table stem: median share of each image map on the class-defining component, per method and class."""
        return self.explain.table("overlap")

    @property
    def trust(self) -> TrustFiles:
        return TrustFiles(self.root / "trust")

    @property
    def bars(self) -> BarFiles:
        return BarFiles(self.root / "bars")


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class StageRecord:
    """One stage of a run: done (with its wall and CPU seconds) or skipped (with the reason)."""

    name: str
    status: str = "done"
    reason: str = ""
    seconds: float | None = None
    cpu_seconds: float | None = None


@dataclass
class RunRecord:
    """``run.json``, one schema for every study: ``kind`` (spectra, radio, galaxy), ``data`` (simulated, first,
    user), the ``config``, the ``seed``, the ``inputs`` (paths with SHA-256, and the manifest), every stage done or
    skipped, a ``summary`` of the numbers, and the versions of every library that shaped them."""

    kind: str
    data: str = "simulated"
    config: dict = field(default_factory=dict)
    seed: int | None = None
    inputs: dict = field(default_factory=dict)
    stages: list[StageRecord] = field(default_factory=list)
    summary: dict = field(default_factory=dict)
    versions: dict = field(default_factory=versions)
    command: list = field(default_factory=lambda: [str(a) for a in sys.argv])
    finished: str = ""
    schema: int = 2

    def stage(self, name: str) -> StageRecord | None:
        return next((s for s in self.stages if s.name == name), None)

    def ran(self, name: str) -> bool:
        """Whether the stage ``name`` ran (and finished)."""
        stage = self.stage(name)
        return stage is not None and stage.status == "done"

    def skipped(self) -> list[StageRecord]:
        return [s for s in self.stages if s.status == "skipped"]

    @property
    def timings(self) -> dict:
        """``<stage>_s`` and ``<stage>_cpu_s`` of every stage that ran."""
        found = {}
        for s in self.stages:
            if s.seconds is not None:
                found[f"{s.name}_s"] = s.seconds
            if s.cpu_seconds is not None:
                found[f"{s.name}_cpu_s"] = s.cpu_seconds
        return found

    def save(self, layout: RunLayout) -> Path:
        """Write ``run.json`` atomically (the finishing time is set now)."""
        self.finished = datetime.now(timezone.utc).isoformat(timespec="seconds")
        layout.root.mkdir(parents=True, exist_ok=True)
        with atomic_path(layout.record) as temporary:
            temporary.write_text(json_text(self, indent=2), encoding="utf-8")
        return layout.record

    @classmethod
    def load(cls, layout: RunLayout) -> RunRecord:
        """Read ``run.json``; the two layouts written before this schema are read too (their stages from the
        recorded timings)."""
        try:
            state = json.loads(layout.record.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            raise InputError(f"{layout.record}: not a readable run record ({error})") from None
        if not isinstance(state, dict):
            raise InputError(f"{layout.record}: not a run record")
        if state.get("schema") == 2:
            stages = [StageRecord(**s) for s in state.pop("stages", [])]
            known = {k: v for k, v in state.items() if k in cls.__dataclass_fields__}
            return cls(**{**known, "stages": stages})
        return _older_record(state)


def _older_record(state: dict) -> RunRecord:
    """A ``run.json`` of the two earlier layouts: spectra ``{"config": {"config": …, "summary": …}}``, images
    ``{"config": {"command": "run", "kind": …, "timings": …}}``."""
    config = state.get("config", {})
    if "summary" in config:
        summary, settings, kind, data = config["summary"], config.get("config", {}), "spectra", "simulated"
        timings = summary.get("timings", {})
    else:
        settings, kind, data = config, config.get("kind", "spectra"), config.get("data", "simulated")
        summary, timings = {}, config.get("timings", {})
    names = [k[:-2] for k in timings if k.endswith("_s") and not k.endswith("_cpu_s")]
    stages = [StageRecord(n, seconds=timings[f"{n}_s"], cpu_seconds=timings.get(f"{n}_cpu_s")) for n in names]
    return RunRecord(kind=kind, data=data, config=settings, seed=settings.get("seed"), stages=stages,
                     summary=summary, versions=state.get("versions", {}), command=state.get("command", []),
                     finished=state.get("finished", ""), schema=1)


__all__ = ["STUDY_KINDS", "BarFiles", "EmbedFiles", "EvaluationFiles", "ExplainFiles", "FetchFiles", "ModelFiles",
           "RunLayout", "RunRecord", "SaliencyFiles", "StageRecord", "TrustFiles", "file_sha256"]
