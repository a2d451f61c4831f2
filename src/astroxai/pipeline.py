"""The end-to-end run on the embedded default data, driven by a small JSON-able config."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from astroxai.dataset import SpectraSet
from astroxai.explain.compare import read_truth, trust_models
from astroxai.explain.embed import PAPER_PERPLEXITIES, MapSpec, embed_study
from astroxai.explain.methods import METHODS as ATTRIBUTION_METHODS
from astroxai.explain.study import DEFAULT_N_CORRECT, explain_study
from astroxai.io import collect_inputs
from astroxai.models.persist import load_model
from astroxai.models.results import write_results_markdown
from astroxai.models.study import TrainConfig, train_cnn_study, train_study
from astroxai.plots import save_figure
from astroxai.plots.spectra import plot_class_examples
from astroxai.provenance import write_run_record
from astroxai.reduce import RANGE_PRESETS, reduce_inputs
from astroxai.report import check_report, write_report
from astroxai.simulate import CLASSES, DEFAULT_COUNTS, DEFAULT_SEED, simulate_sample


@dataclass
class RunConfig:
    """Settings of ``astroxai run``; any subset can be given in a JSON file."""

    counts: dict = field(default_factory=lambda: dict(DEFAULT_COUNTS))
    seed: int = DEFAULT_SEED
    n_wave: int = 1000
    range: list | str | None = None  # None = overlap of all spectra; "paper" = the paper's range
    problems: list = field(default_factory=lambda: [3, 2])  # classifiers to train: 3-class, 2-class
    kernels: list = field(default_factory=lambda: ["linear", "rbf", "poly2", "poly3"])
    quick: bool = False  # coarse search grid (see `astroxai train --quick`)
    stratify: bool = True
    standardise: bool = True  # standardise features inside the SVM pipeline
    timing_repeats: int = 3  # fits timed per kernel (`astroxai train` times 10; the run keeps to 8 minutes)
    explain: bool = True  # saliency maps, t-SNE maps and report.html
    perplexities: list = field(default_factory=lambda: list(PAPER_PERPLEXITIES))
    n_correct: int = DEFAULT_N_CORRECT  # correct test spectra drawn for the saliency gallery
    cnn: bool = True  # also train the 1-D CNN on the 3-class problem (same split)
    trust_spectra: int = 24  # test spectra of the methods × models trust table (`astroxai trust` defaults to 100)
    trust_methods: list = field(default_factory=lambda: list(ATTRIBUTION_METHODS))

    @classmethod
    def from_file(cls, path) -> RunConfig:
        data = json.loads(Path(path).read_text())
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"{path}: unknown config keys {sorted(unknown)}")
        return cls(**data)

    def wave_range(self):
        if self.range is None:
            return None
        return RANGE_PRESETS[self.range] if isinstance(self.range, str) else tuple(self.range)


def run_pipeline(cfg: RunConfig, out, progress=None, echo=print, task_progress=None) -> dict:
    """Simulate → reduce → figure → train and evaluate the SVMs → ``results.md``; returns a summary and
    writes ``out/run.json`` (config, seed, versions, timings)."""
    out = Path(out)
    timings = {}
    start = time.perf_counter()
    catalog = simulate_sample(out / "simulated", cfg.counts, cfg.seed, progress=progress)
    timings["simulate_s"] = round(time.perf_counter() - start, 2)
    echo(f"simulated {sum(cfg.counts.values())} spectra in {timings['simulate_s']} s")
    start = time.perf_counter()
    summary = reduce_inputs(collect_inputs([catalog]), out / "dataset.h5", wave_range=cfg.wave_range(),
                            n_wave=cfg.n_wave, progress=progress, extra_attrs={"seed": cfg.seed})
    timings["reduce_s"] = round(time.perf_counter() - start, 2)
    echo(f"reduced: kept {summary['n_kept']} of {summary['n_inputs']} in {timings['reduce_s']} s")
    data = SpectraSet.load(out / "dataset.h5")
    rng = np.random.default_rng(cfg.seed)
    examples, titles = {}, {}
    for label in [c for c in CLASSES if c in data.classes]:
        index = rng.choice(np.flatnonzero(data.labels == label))
        examples[label] = data.flux[index]
        titles[label] = f"{label}  {data.ids[index]}  z={data.meta['z'][index]:.3f}"
    figures = save_figure(plot_class_examples(data.wavelength, examples, titles), out / "figures" / "classes")
    models = {}
    for n_classes in cfg.problems:
        start = time.perf_counter()
        train_cfg = TrainConfig(classes=n_classes, kernels=tuple(cfg.kernels), quick=cfg.quick, seed=cfg.seed,
                                stratify=cfg.stratify, standardise=cfg.standardise,
                                timing_repeats=cfg.timing_repeats)
        models[f"{n_classes}-class"] = train_study(data, out / "models" / f"svm-{n_classes}class", train_cfg,
                                                   progress=task_progress, echo=echo,
                                                   dataset_path=str(out / "dataset.h5"))
        timings[f"train_{n_classes}class_s"] = round(time.perf_counter() - start, 2)
    if cfg.cnn and 3 in cfg.problems:
        start = time.perf_counter()
        models["3-class CNN"] = train_cnn_study(data, out / "models" / "cnn-3class",
                                                TrainConfig(classes=3, seed=cfg.seed, stratify=cfg.stratify),
                                                echo=echo, dataset_path=str(out / "dataset.h5"))
        timings["train_cnn_3class_s"] = round(time.perf_counter() - start, 2)
    report = write_results_markdown(out)
    echo(f"results: {report}")
    result = {**summary, "timings": timings, "figures": [str(p) for p in figures],
              "classes": {c: int((data.labels == c).sum()) for c in data.classes},
              "models": {name: {k: v for k, v in m.items() if k != "kernels"} for name, m in models.items()},
              "results": str(report)}
    explaining = cfg.explain and 3 in cfg.problems  # the saliency study explains the 3-class model
    if explaining:
        result["explain"] = _explain_and_embed(cfg, data, out, catalog, timings, progress, echo)
        if cfg.trust_spectra and cfg.trust_methods:
            start = time.perf_counter()
            folders = [out / "models" / "svm-3class", *([out / "models" / "cnn-3class"] if cfg.cnn else [])]
            trusted = trust_models(data, folders, out / "trust", kernels=["linear", "rbf"],
                                   methods=cfg.trust_methods, n_spectra=cfg.trust_spectra, catalog=catalog,
                                   seed=cfg.seed, echo=echo)
            timings["trust_s"] = round(time.perf_counter() - start, 2)
            result["trust"] = {"table": str(out / "trust" / "trust.csv"), "example": trusted["example"]}
    write_run_record(out, {"config": asdict(cfg), "summary": result})
    if explaining:
        page = write_report(out)
        problems = check_report(page)
        result["report"] = str(page)
        echo(f"report: {page}" + (f" ({len(problems)} problems: {problems[:3]})" if problems else ""))
    return result


def _broad_hbeta(catalog, ids) -> np.ndarray | None:
    """The simulator's record of which spectra have a broad Hβ, in the order of ``ids`` (None if unknown)."""
    truth = read_truth(catalog, ids)
    return None if truth is None else truth["broad"]


def _explain_and_embed(cfg: RunConfig, data, out: Path, catalog, timings: dict, progress, echo) -> dict:
    """t-SNE maps of the data set, then saliency maps of the 3-class model's test spectra, all arrays in
    ``out/explanations.h5``."""
    data_file = out / "explanations.h5"
    data_file.unlink(missing_ok=True)
    start = time.perf_counter()
    embedded = embed_study(data.flux, data.labels, data.ids, out / "embed", perplexities=cfg.perplexities,
                           seed=cfg.seed, data_file=data_file, echo=echo)
    timings["embed_s"] = round(time.perf_counter() - start, 2)
    main = MapSpec("all", "raw", float(max(cfg.perplexities)))
    embedding = next(r for r in embedded["results"] if r["spec"] == main)
    start = time.perf_counter()
    model_dir = out / "models" / "svm-3class"
    model, meta = load_model(model_dir)
    split = json.loads((model_dir / "split.json").read_text())
    rows = np.flatnonzero(np.isin(data.ids, split["test"]))
    explained = explain_study(model, meta, data, rows, out / "explain", broad=_broad_hbeta(catalog, data.ids[rows]),
                              embedding=embedding, n_correct=cfg.n_correct, seed=cfg.seed, data_file=data_file,
                              echo=echo)
    timings["explain_s"] = round(time.perf_counter() - start, 2)
    return {"physics": explained["physics"], "n_gallery": len(explained["gallery"]),
            "tsne": embedded["maps"], "data_file": str(data_file)}
