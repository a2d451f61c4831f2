"""``astroxai survey``: a saved spectra model's decisions and explanations for a whole survey, streamed over Dask.

The inputs (folders, catalogues of up to millions of rows in CSV or Parquet, reduced ``.h5`` stores) are cut into
partitions of a fixed number of inputs.  Each partition is one pure task, :func:`run_partition`: read each file once
→ reduce it with the model's own grid and settings → ``model.predict`` / ``Explainer.explain`` (the calls of
``astroxai explain``, nothing copied) → one Parquet part with a row per input (kept, or rejected with the reason)
and, with ``maps=True``, one Zarr array of its maps.  Both are written under a temporary name and renamed, and the
Parquet part is written last, so its presence is the record that the partition is done: re-running the same command
skips finished partitions, and a partition whose worker died is simply run again by the scheduler.

Dask's ``distributed`` owns the scheduling: a ``LocalCluster`` with one single-threaded worker process per core by
default, or any running cluster (``scheduler="tcp://host:port"``).  Every partition's result depends only on its
inputs and the settings, so the output is the same whatever the scheduler and the number of workers.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import resource
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from astroxai.data import SpectraSet, fate
from astroxai.data.base import atomic_path, cut_text
from astroxai.embed.tsne import reference_map
from astroxai.errors import InputError
from astroxai.explain import Explainer, ExplainSettings
from astroxai.explain.methods import get_method
from astroxai.io import collect_inputs
from astroxai.models import load_model
from astroxai.models.persist import GridMismatchError
from astroxai.parallel import default_workers
from astroxai.progress import track
from astroxai.provenance import versions
from astroxai.report.arrays import write_parquet_part, write_zarr_maps
from astroxai.results import json_text
from astroxai.workflows.explain import science_rows
from astroxai.workflows.inputs import SET_SUFFIXES, keep_first_of_each_id, reduced_chunks
from astroxai.workflows.survey_outputs import (  # noqa: F401 - the survey's readers, where they used to be
    COLUMNS,
    MAPS,
    PARTS,
    RECORD,
    draw_survey_map,
    open_maps,
    read_columns,
    read_survey,
    summarise,
    survey_density,
    write_columns,
)

log = logging.getLogger(__name__)

#: What the output folder holds.
#: Inputs per partition: large enough that a partition's fixed costs (a task, two files) vanish, small enough that
#: a worker holds only a few megabytes of spectra and maps, and that a lost worker costs little.
DEFAULT_PARTITION = 2048
SCIENCE = ("hbeta_core_mean", "hbeta_wing_mean", "line_saliency_share")
#: glibc's trim and mmap thresholds for the local cluster's workers (bytes; see :func:`_client`).
KEEP_FREED_MEMORY = 4 << 30


@dataclass(frozen=True)
class SurveyRun:
    """How a survey runs: inputs per partition (each written and resumed as a whole), the Dask cluster (``workers``
    local processes, or the running cluster at ``scheduler``), inputs per attribution call (None: the model's
    ``explain_batch``), whether every map is kept (``maps``: Zarr), and ``restart`` to replace a survey of other
    inputs or settings in the same folder."""

    partition_size: int = DEFAULT_PARTITION
    workers: int | None = None
    scheduler: str | None = None
    batch_size: int | None = None
    maps: bool = False
    restart: bool = False


@dataclass(frozen=True)
class Placement:
    """The t-SNE map every kept spectrum is placed on: a maps file (``embeddings.h5`` of ``astroxai embed``,
    ``explanations.h5`` of ``astroxai run``), its map ``key`` (default: all classes, raw fluxes, the largest
    perplexity) and the data set of that map (``data``) when the file does not record it."""

    file: str | Path
    key: str | None = None
    data: str | Path | None = None


@dataclass
class Partition:
    """One task: ``number``, the index of its first input in the survey, and either raw input files (``items``) or
    rows ``start:stop`` of a reduced store, or the fate rows of inputs refused before any reading (``refused``)."""

    number: int
    first: int
    items: list = field(default_factory=list)
    store: str | None = None
    rows: tuple[int, int] = (0, 0)
    refused: list = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.items) + (self.rows[1] - self.rows[0]) + len(self.refused)

    @property
    def name(self) -> str:
        return f"part-{self.number:06d}"


@dataclass
class SurveySettings:
    """What every partition needs besides its inputs (sent to every worker; small)."""

    model_dir: str
    model_sha: str
    method: str = "saliency"
    options: dict = field(default_factory=dict)
    target: str = "predicted"
    baseline: str = "model"
    seed: int = 0
    maps: bool = False
    out: str = ""
    #: Inputs per attribution call (None: the model's ``explain_batch``).
    batch_size: int | None = None
    #: The t-SNE map the spectra are placed on: ``{"file", "data", "key"}`` (absolute paths), or None.
    tsne: dict | None = None

    def key(self) -> dict:
        """What must be equal for a re-run to reuse finished partitions."""
        return {"model_sha": self.model_sha, "method": self.method, "options": self.options, "target": self.target,
                "baseline": self.baseline, "seed": self.seed, "maps": self.maps, "batch_size": self.batch_size,
                "tsne": self.tsne}


def plan_partitions(model, inputs, catalog=None, partition_size: int = DEFAULT_PARTITION) -> list[Partition]:
    """Cut the inputs into partitions of ``partition_size`` inputs, in a fixed order: reduced stores row by row
    (each store checked against the model's grid here, once), then raw files as :func:`astroxai.io.collect_inputs`
    lists them.  A store that cannot be used becomes one refused input."""
    partitions: list[Partition] = []
    first = 0

    def add(**what):
        nonlocal first
        partitions.append(Partition(len(partitions), first, **what))
        first += len(partitions[-1])

    # absolute: a worker of a cluster may run in another folder (every worker must see the same file system)
    inputs = [Path(p).absolute() for p in inputs]
    catalog = None if catalog is None else Path(catalog).absolute()
    for path in [p for p in inputs if p.suffix.lower() in SET_SUFFIXES]:
        try:
            n, grid, _ = SpectraSet.describe(path)
            model.check_grid_of(grid)
        except (ValueError, GridMismatchError) as error:
            add(refused=[fate(path, path.stem, "rejected", str(error), label="")])
            continue
        for start in range(0, n, partition_size):
            add(store=str(path), rows=(start, min(n, start + partition_size)))
    raw = [p for p in inputs if p.suffix.lower() not in SET_SUFFIXES]
    items = collect_inputs(raw, catalog) if raw else []
    for start in range(0, len(items), partition_size):
        add(items=items[start:start + partition_size])
    return partitions


def plan_digest(partitions: list[Partition]) -> str:
    """A fingerprint of what each partition holds (its inputs, in order), so that a re-run with other inputs is
    never mistaken for the same survey."""
    digest = hashlib.sha256()
    for part in partitions:
        digest.update(f"{part.number}:{part.first}:{part.store}:{part.rows}:{len(part.refused)}\n".encode())
        for item in part.items:
            digest.update(f"{item.name}|{item.label}|{item.z}|{item.problem}\n".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def parquet_schema(classes):
    """The columns of every Parquet part, whatever the partition holds (a part of rejected inputs only included)."""
    import pyarrow as pa

    return pa.schema([("index", pa.int64()), ("partition", pa.int32()), ("id", pa.string()), ("input", pa.string()),
                      ("status", pa.string()), ("reason", pa.string()), ("label", pa.string()), ("z", pa.float64()),
                      ("predicted", pa.string()), ("target", pa.string()),
                      *[(f"p_{c}", pa.float64()) for c in classes], ("zero_map", pa.bool_()),
                      *[(name, pa.float64()) for name in SCIENCE], ("novelty", pa.float64()),
                      ("tsne_x", pa.float64()), ("tsne_y", pa.float64())])


#: A worker keeps the model of the partitions it runs (loaded once per process, not once per partition).
_MODELS: dict[tuple[str, str], object] = {}


def _model(settings: SurveySettings):
    key = (settings.model_dir, settings.model_sha)
    if key not in _MODELS:
        _MODELS.clear()
        model = load_model(settings.model_dir)
        if model.metadata_.get("sha256") != settings.model_sha:
            raise InputError(f"{settings.model_dir} changed while the survey ran (its checksum differs)")
        _MODELS[key] = model
    return _MODELS[key]


#: ... and the t-SNE map it places spectra on (with its reference spectra and, after the first placement, their
#: affinities: rebuilding them costs seconds, placing a partition a few more).
_EMBEDDINGS: dict[tuple, object] = {}


def _embedding(settings: SurveySettings):
    key = tuple(sorted(settings.tsne.items()))
    if key not in _EMBEDDINGS:
        _EMBEDDINGS.clear()
        _EMBEDDINGS[key] = reference_map(settings.tsne["file"], settings.tsne["data"], settings.tsne["key"])
    return _EMBEDDINGS[key]


def _partition_inputs(model, part: Partition) -> tuple[list[dict], SpectraSet | None]:
    """The fate rows of a partition's inputs in order, and the usable spectra (one per kept row) as one set."""
    if part.refused:
        return [dict(row) for row in part.refused], None
    if part.store is not None:
        data = SpectraSet.read_rows(part.store, *part.rows)
        good = data.finite()
        fates = [fate(part.store, i, "kept" if ok else "rejected", "" if ok else "holds NaN or infinite values",
                      label=label) for i, label, ok in zip(data.ids, data.labels, good, strict=True)]
        return fates, (data.subset(np.flatnonzero(good)) if not good.all() else data)
    # one chunk, reduced in this worker (no pool inside a Dask worker)
    fates, data = next(reduced_chunks(model, part.items, workers=1, chunk_size=len(part.items)))
    return fates, keep_first_of_each_id(fates, data)


def run_partition(part: Partition, settings: SurveySettings) -> dict:
    """One partition, start to finish (see the module doc); returns its counts.  Pure: the same partition and
    settings always write the same files, so running it twice (a retry after a lost worker) is harmless."""
    import torch

    torch.set_num_threads(1)  # one single-threaded worker per core: threads inside a worker would compete
    start = time.perf_counter()
    model = _model(settings)
    fates, data = _partition_inputs(model, part)
    out = Path(settings.out)
    for j, row in enumerate(fates):
        row.update(index=part.first + j, partition=part.number)
    kept = [row for row in fates if row["status"] == "kept"]
    maps = np.zeros((0, len(model.grid_)), dtype=np.float32)
    if data is not None and len(data):
        # seeded by the partition's first input: random methods draw other noise in every partition (one seed
        # for all would give every partition the same draws), and the same noise whatever the scheduler
        explanation = Explainer(model, settings.method, settings.baseline, seed=settings.seed + part.first,
                                batch_size=settings.batch_size, **settings.options).explain(data,
                                                                                              target=settings.target)
        science = science_rows(explanation, data)
        novelty = model.novelty(data)
        redshift = data.meta.get("z")
        # each spectrum is placed against the fixed map alone (openTSNE moves no two new points together), so the
        # coordinates do not depend on the partition a spectrum falls in
        placed = _embedding(settings).place(data.flux, seed=settings.seed, n_jobs=1) if settings.tsne else None
        for j, row in enumerate(kept):
            row.update(predicted=str(explanation.predicted[j]), target=str(explanation.targets[j]),
                       zero_map=bool(explanation.zero_map[j]),
                       z=None if redshift is None or not np.isfinite(redshift[j]) else float(redshift[j]),
                       **{f"p_{c}": float(p) for c, p in zip(explanation.classes, explanation.probabilities[j],
                                                            strict=True)},
                       **{k: (float(v) if v != "" else None) for k, v in science[j].items()},
                       novelty=None if novelty is None else float(novelty.score[j]),
                       **({} if placed is None else {"tsne_x": float(placed[j, 0]), "tsne_y": float(placed[j, 1])}))
        maps = explanation.maps
    if settings.maps:
        write_zarr_maps(out / MAPS / f"{part.name}.zarr", maps,
                        {"ids": [row["id"] for row in kept], "index": [row["index"] for row in kept],
                         "method": settings.method})
    for row in fates:
        row["reason"] = cut_text(row["reason"], 500) if row.get("reason") else None
        row["input"], row["id"] = str(row["input"]), str(row["id"])
    write_parquet_part(fates, parquet_schema([str(c) for c in model.classes_]), out / PARTS / f"{part.name}.parquet")
    return {"number": part.number, "inputs": len(fates), "kept": len(kept), "seconds": time.perf_counter() - start,
            "worker": os.getpid(), "peak_rss_mb": peak_memory_mb()}


def peak_memory_mb() -> float:
    """This process's peak resident memory: Linux's VmHWM (getrusage's figure carries over the parent's peak into a
    forked and exec'd worker), else getrusage."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def finished_partitions(out: Path, partitions: list[Partition]) -> set[int]:
    """The partitions whose Parquet part is under its final name (written last, atomically: the done record)."""
    names = {p.name: p.number for p in partitions}
    folder = out / PARTS
    if not folder.is_dir():
        return set()
    return {names[f.stem] for f in folder.glob("part-*.parquet") if f.stem in names}


def _client(scheduler: str | None, workers: int | None):
    """A Dask client: on the cluster at ``scheduler``, or on a new LocalCluster of single-threaded worker processes
    (one per core unless ``workers`` says otherwise)."""
    import dask
    from distributed import Client, LocalCluster

    if scheduler:
        return Client(scheduler, timeout="30s"), None
    # Dask starts workers with MALLOC_TRIM_THRESHOLD_=65536 (glibc hands freed memory back at once); a partition
    # allocates and frees arrays of tens of MB, so every partition then pays the page faults of fresh memory again.
    # Keeping freed memory in the heap makes a partition of 8192 spectra ~1.7x faster (0.40 s against 0.60 s,
    # median of 11) at the same peak memory, which is what bounds a worker.
    keep = {f"distributed.nanny.pre-spawn-environ.{name}": str(KEEP_FREED_MEMORY)
            for name in ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_")}
    with dask.config.set(keep):
        cluster = LocalCluster(n_workers=workers or default_workers(), threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=logging.ERROR)
    return Client(cluster), cluster


def _read_record(out: Path) -> dict | None:
    try:
        return json.loads((out / RECORD).read_text())
    except (OSError, ValueError):
        return None


def _write_record(out: Path, record: dict) -> None:
    with atomic_path(out / RECORD) as temporary:
        temporary.write_text(json_text(record, indent=2))


def survey(model_dir, inputs, out, settings: ExplainSettings | None = None, *, catalog=None,
           run: SurveyRun | None = None, place: Placement | None = None, progress=None) -> dict:
    """Classify and explain every input with a saved spectra model, partition by partition (see the module doc);
    ``settings`` says how to explain (default: saliency of the predicted class), ``run`` how to run
    (:class:`SurveyRun`), ``place`` the t-SNE map every kept spectrum is placed on (columns ``tsne_x``, ``tsne_y``;
    drawn as a density image in ``survey_map.png``).

    Returns a summary: counts (inputs, kept, rejected, partitions run and skipped), the seconds, the spectra per
    second, and the paths of the Parquet data set and the maps.  Raises ``ValueError`` when ``out`` holds a survey
    of other inputs or settings (``SurveyRun(restart=True)`` starts it again) and when a partition failed (the
    others are kept: the same command goes on from there).
    """
    started = time.perf_counter()
    out = Path(out)
    run = run or SurveyRun()
    partition_size = run.partition_size
    model, settings, embedding = _settings(model_dir, out, settings or ExplainSettings(), run, place)
    partitions = plan_partitions(model, inputs, catalog, partition_size)
    n_inputs = sum(len(p) for p in partitions)
    if not n_inputs:
        raise InputError("no input: the folders, catalogues and stores given hold no spectrum file or spectrum")
    record, done = _resume(out, partitions, settings, partition_size, run.restart)
    todo = [p for p in partitions if p.number not in done]
    failed, reports = [], []
    if todo:
        failed, reports = _run_partitions(todo, settings, run, progress, n_inputs)
    summary = summarise(out, partitions, model)
    if not failed and summary["n_rows"]:
        # the parts' columns as astroxai view holds them, in one mapped file: its start reads that instead of
        # every part (1.3 → 0.1 s at 10⁶ rows); a file that no longer matches the parts is not read (its fingerprint)
        parts = sorted((out / PARTS).glob("part-*.parquet"))
        try:
            write_columns(out, read_columns(parts, summary["n_rows"]), parts, summary["n_rows"])
        except OSError as error:  # only a shortcut for the view: the survey itself is complete
            log.warning("%s not written (%s): astroxai view will read the Parquet parts", out / COLUMNS, error)
    seconds = time.perf_counter() - started
    workers_seen = {r["worker"] for r in reports}
    record.update(status="failed" if failed else "complete", seconds=round(seconds, 2), **summary,
                  partitions_run=len(reports), partitions_skipped=len(done), workers_used=len(workers_seen),
                  peak_worker_rss_mb=round(max((r["peak_rss_mb"] for r in reports), default=0.0), 1),
                  partition_seconds=round(sum(r["seconds"] for r in reports), 2),
                  failed=[{"partition": number, "error": error} for number, error in failed])
    _write_record(out, record)
    if failed:
        raise InputError(f"{len(failed)} of {len(partitions)} partitions failed (first: {failed[0][1]}); the others "
                         f"are kept in {out / PARTS}: run the same command again to retry them")
    if embedding is not None:
        record["map_figure"] = str(draw_survey_map(out, embedding))
        _write_record(out, record)
    run_inputs = sum(r["inputs"] for r in reports)
    log.info("surveyed %d inputs (%d kept, %d rejected) in %.1f s → %s", n_inputs, summary["n_kept"],
             summary["n_rejected"], seconds, out)
    return {**record, "out": str(out), "inputs_per_second": run_inputs / seconds if seconds else float("nan")}


def _settings(model_dir, out: Path, explain: ExplainSettings, run: SurveyRun, place: Placement | None):
    """The model, the survey's settings (checked: a wrong method, option or map fails before any partition runs)
    and the reference map to place the spectra on (or None)."""
    model = load_model(model_dir)
    if model.modality != "spectra" or model.task != "classify":
        raise InputError(f"{model_dir}: astroxai survey takes a spectra classifier, this is a {model.modality} "
                         f"{model.task} model")
    chosen = get_method(explain.method)
    embedding = None
    if place is not None:
        embedding = reference_map(place.file, place.data, place.key)
        model.check_grid_of(embedding.wavelength)
    settings = SurveySettings(str(Path(model_dir).resolve()), model.metadata_.get("sha256", ""), chosen.name,
                              dict(explain.options), str(explain.target), str(explain.baseline), int(explain.seed),
                              bool(run.maps), str(out.absolute()), run.batch_size,
                              None if embedding is None else {"file": str(Path(place.file).resolve()),
                                                              "data": str(Path(embedding.source).resolve()),
                                                              "key": embedding.spec.key})
    explain.explainer(model)  # the method, its options and the baseline are checked before any partition runs
    return model, settings, embedding


def _resume(out: Path, partitions, settings, partition_size: int, restart: bool) -> tuple[dict, set]:
    """The survey's record, written as running, and the partitions already done by an earlier run of the same
    survey (none after a restart); refuses a folder holding another survey."""
    digest = plan_digest(partitions)
    record = _read_record(out)
    same = record is not None and record.get("plan") == digest and record.get("settings") == settings.key() \
        and record.get("partition_size") == partition_size
    if record is not None and not same and not restart:
        raise InputError(f"{out} holds a survey of other inputs or settings: give another --out, or --restart "
                         "to start this one there (its results are replaced)")
    (out / COLUMNS).unlink(missing_ok=True)  # written again when the survey completes
    if restart or not same:
        shutil.rmtree(out / PARTS, ignore_errors=True)
        shutil.rmtree(out / MAPS, ignore_errors=True)
    done = finished_partitions(out, partitions)
    record = {"command": "survey", "model": settings.model_dir, "settings": settings.key(), "plan": digest,
              "partition_size": partition_size, "n_inputs": sum(len(p) for p in partitions),
              "n_partitions": len(partitions), "status": "running", "versions": versions()}
    _write_record(out, record)
    if done:
        log.info("%s: %d of %d partitions already done, running the other %d", out, len(done), len(partitions),
                 len(partitions) - len(done))
    return record, done


def _run_partitions(todo, settings, run: SurveyRun, progress, n_inputs: int):
    """The partitions left, on the Dask cluster (a local one unless ``run.scheduler`` names another); returns the
    failed partitions and the reports of those that ran."""
    client, cluster = _client(run.scheduler, run.workers)
    try:
        n_workers = len(client.scheduler_info()["workers"])
        log.info("surveying %d inputs in %d partitions of %d on %d Dask workers (%s)", n_inputs, len(todo),
                 run.partition_size, n_workers, run.scheduler or "local cluster")
        futures = client.map(run_partition, todo, settings=settings, pure=False)
        return _collect(futures, todo, progress)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _collect(futures, todo: list[Partition], progress) -> tuple[list, list]:
    """Wait for every partition, counting inputs as they finish (the progress bar shows spectra/s and an ETA);
    a partition that raised is recorded, not fatal."""
    from distributed import as_completed

    size = {p.number: len(p) for p in todo}
    number_of = {future.key: p.number for future, p in zip(futures, todo, strict=True)}
    failed, reports = [], []

    def finished():
        for future in as_completed(futures):
            try:
                report = future.result()
            except Exception as error:  # a bug or a broken store in one partition: the others go on
                number = number_of[future.key]
                failed.append((number, f"{type(error).__name__}: {cut_text(str(error), 300)}"))
                log.warning("partition %d failed: %s", number, failed[-1][1])
                yield from range(size[number])
                continue
            reports.append(report)
            yield from range(report["inputs"])

    for _ in track(progress, finished(), "surveying", sum(size.values())):
        pass
    return failed, reports
