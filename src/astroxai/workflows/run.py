"""``astroxai run``: the studies on the embedded (simulated) default data, end to end, each driven by a small config.

``spectra`` (:class:`SpectraRunConfig`; Peruzzi et al. 2021)
    simulate the paper's sample → reduce → the SVM study for three and two classes, a 1-D CNN beside it →
    ``results.md`` → t-SNE maps → saliency study of the test spectra → every method × model with trust scores →
    ``report.html``.
``radio`` / ``galaxy`` (:class:`ImageRunConfig`; Liang et al. 2023, Bhambra et al. 2022)
    simulate cutouts → train the morphology CNN (and, for galaxies, the bar-length regressors) → explain every test
    image with the study's methods, scored against the true components → trust table → bar lengths (galaxies) →
    ``report.html``.  ``radio`` with ``data='first'`` reads the 2 158 real FIRST galaxies of Griese et al. (2023)
    instead (:mod:`astroxai.io.first`), keeps their literature split, and scores the maps on the source above the
    noise and its brightest part.

Everything is seeded; ``run.json`` holds the config, versions and the time of every stage.
"""

from __future__ import annotations

import json
import logging
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from astroxai.data import ImageSet, SpectraSet
from astroxai.embed import PAPER_PERPLEXITIES, MapSpec, fit_maps, paper_specs
from astroxai.explain.bars import bar_length_study
from astroxai.explain.components import defining_components, overlap_summary
from astroxai.explain.trust import TRUST_METHODS, trust_table
from astroxai.io import collect_inputs
from astroxai.models import CNNConfig, ImageCNNClassifier, ImageCNNRegressor, SpectrumCNNClassifier, SVMClassifier
from astroxai.models.image_cnn import DEFAULT_IMAGE_TRAIN_SEED, REGRESSOR_TRAINING
from astroxai.parallel import default_workers
from astroxai.provenance import write_run_record
from astroxai.reduce import RANGE_PRESETS
from astroxai.report.figures import save_figure
from astroxai.report.html import check_report, write_report
from astroxai.report.markdown import write_results_markdown
from astroxai.report.tables import write_table
from astroxai.report.writers import write_bar_study, write_trust
from astroxai.simulate import CLASSES, DEFAULT_COUNTS, DEFAULT_SEED, read_truth, simulate_sample
from astroxai.simulate.images import DEFAULT_IMAGE_COUNTS, DEFAULT_IMAGE_SEED, simulate_image_sample
from astroxai.workflows.explain import DEFAULT_N_CORRECT, explain_set, saliency_study
from astroxai.workflows.reduce import reduce_inputs
from astroxai.workflows.schedule import Task, run_tasks
from astroxai.workflows.train import train
from astroxai.workflows.trust import merge_tables, model_trust, trust_inputs, write_embedding, write_trust_folder

log = logging.getLogger(__name__)


class _Config:
    """Configs read from JSON files: unknown keys are refused, every value is checked on construction."""

    @classmethod
    def from_file(cls, path, **fixed):
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as error:
            raise ValueError(f"{path}: not a readable JSON config ({error})") from None
        if not isinstance(data, dict):
            raise ValueError(f"{path}: a config is a JSON object of settings")
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"{path}: unknown config keys {sorted(unknown)} (known: "
                             f"{', '.join(sorted(cls.__dataclass_fields__))})")
        return cls(**{**data, **fixed})


@dataclass
class SpectraRunConfig(_Config):
    """Settings of ``astroxai run`` (the spectra study); any subset can be given in a JSON file."""

    counts: dict = field(default_factory=lambda: dict(DEFAULT_COUNTS))
    seed: int = DEFAULT_SEED
    n_wave: int = 1000
    range: list | str | None = None  # None = overlap of all spectra; "paper" = the paper's range
    problems: list = field(default_factory=lambda: [3, 2])  # classifiers to train: 3-class, 2-class
    kernels: list = field(default_factory=lambda: ["linear", "rbf", "poly2", "poly3"])
    quick: bool = False  # coarse search grid (see `astroxai train --quick`)
    stratify: bool = True
    standardise: bool = False  # standardise features inside the SVM pipeline (default: unscaled, docs/results.md)
    timing_repeats: int = 3  # fits timed per kernel (`astroxai train` times 10)
    explain: bool = True  # saliency maps, t-SNE maps and report.html
    perplexities: list = field(default_factory=lambda: list(PAPER_PERPLEXITIES))
    n_correct: int = DEFAULT_N_CORRECT  # correct test spectra drawn for the saliency gallery
    cnn: bool = True  # also train the 1-D CNN on the 3-class problem (same split)
    trust_spectra: int = 24  # test spectra of the methods × models trust table (`astroxai trust` defaults to 100)
    trust_methods: list = field(default_factory=lambda: list(TRUST_METHODS))
    trust_kernels: list = field(default_factory=lambda: ["linear", "rbf"])  # SVM kernels compared in the trust table

    def __post_init__(self):
        unknown = [p for p in self.problems if p not in (2, 3)]
        if unknown or not self.problems:
            raise ValueError(f"problems must be 3 and/or 2, not {self.problems}")
        SVMClassifier(kernels=self.kernels)  # checks the kernel names
        missing = [k for k in self.trust_kernels if k not in self.kernels]
        if missing:
            raise ValueError(f"trust_kernels {missing} are not among the searched kernels {self.kernels}")
        if isinstance(self.range, str) and self.range not in RANGE_PRESETS:
            raise ValueError(f"range must be a [min, max] pair or one of {sorted(RANGE_PRESETS)}")

    def wave_range(self):
        if self.range is None:
            return None
        return RANGE_PRESETS[self.range] if isinstance(self.range, str) else tuple(self.range)


#: Explanation methods of each image study, the study's own first (Liang et al. 2023: LIME; Bhambra et al. 2022:
#: SmoothGrad).
STUDY_METHODS = {"radio": ("lime", "smoothgrad"), "galaxy": ("smoothgrad", "lime")}
#: Training of the radio CNN on the real FIRST galaxies (docs/images.md): augmented by quarter turns and flips, less
#: dropout and a faster start than on simulations — the network underfits the real set (training accuracy stays
#: near the validation accuracy), and still improves after 100 epochs.
FIRST_TRAINING = {"augment": True, "dropout": 0.1, "learning_rate": 2e-3, "max_epochs": 150, "patience": 25}
#: Where an image study's images come from.
IMAGE_DATA = ("simulated", "first")


@dataclass
class ImageRunConfig(_Config):
    """Settings of ``astroxai run --kind radio|galaxy`` (any subset in a JSON file)."""

    kind: str = "radio"
    data: str = "simulated"  # radio: "first" reads the real FIRST galaxies (firstgalaxydata) instead
    n_per_class: int | None = None  # None: the simulator's default (300 radio, 600 galaxy per class); real data: all
    seed: int | None = None  # simulation seed (None: the package's image seed)
    train_seed: int = DEFAULT_IMAGE_TRAIN_SEED
    max_epochs: int | None = None  # None: 100 for simulated images, 150 for the real FIRST galaxies
    augment: bool | None = None  # quarter turns and flips in training; None: galaxies yes, radio no (docs/images.md)
    gallery_per_class: int = 2
    bar_lengths_few: int = 64  # galaxy: also learn bar lengths from only this many measured galaxies (0: skip)
    bar_learning_curve: tuple = (16, 32, 128)  # galaxy: and from these many (the learning curve of docs/images.md)
    trust_images: int = 24
    trust_methods: tuple = ("saliency", "smoothgrad", "integrated-gradients", "occlusion", "lime")

    def __post_init__(self):
        if self.kind not in STUDY_METHODS:
            raise ValueError(f"unknown image study {self.kind!r}; choose from {sorted(STUDY_METHODS)}")
        if self.data not in IMAGE_DATA:
            raise ValueError(f"unknown image data {self.data!r}; choose from {sorted(IMAGE_DATA)}")
        if self.data == "first" and self.kind != "radio":
            raise ValueError("the real FIRST galaxies (data 'first') are radio images: use them with kind 'radio'")
        self.trust_methods = tuple(self.trust_methods)


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children (worker processes of a pool), user + system."""
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@contextmanager
def _stage(timings: dict, name: str):
    """Time a stage: its wall time (``<name>_s``) and the CPU time it used (``<name>_cpu_s``; divided by the wall
    time, the number of cores it kept busy)."""
    start, cpu = time.perf_counter(), _cpu_seconds()
    yield
    timings[f"{name}_s"] = round(time.perf_counter() - start, 2)
    timings[f"{name}_cpu_s"] = round(_cpu_seconds() - cpu, 2)
    log.info("%s: %.1f s (%.1f cores busy)", name, timings[f"{name}_s"],
             timings[f"{name}_cpu_s"] / max(timings[f"{name}_s"], 1e-9))


def run_spectra(cfg: SpectraRunConfig, out, progress=None, workers: int | None = None) -> dict:
    """The spectra study (see the module doc) into ``out``; returns a summary and writes ``out/run.json``.

    After the simulation and the reduction, the independent stages — the models, the t-SNE maps, the saliency study
    and the trust scores of each model — run side by side on ``workers`` processes (default: every core;
    :mod:`astroxai.workflows.schedule`); the numbers do not depend on how many.
    """
    from astroxai.report.figures.spectra import plot_class_examples

    out = Path(out)
    timings: dict = {}
    start = time.perf_counter()
    with _stage(timings, "simulate"):
        catalog = simulate_sample(out / "simulated", cfg.counts, cfg.seed, progress=progress)
    with _stage(timings, "reduce"):
        summary = reduce_inputs(collect_inputs([catalog]), out / "dataset.h5", wave_range=cfg.wave_range(),
                                n_wave=cfg.n_wave, progress=progress, extra_attrs={"seed": cfg.seed})
    dataset = out / "dataset.h5"
    data = SpectraSet.load(dataset)
    rng = np.random.default_rng(cfg.seed)
    examples, titles = {}, {}
    for label in [c for c in CLASSES if c in data.classes]:
        index = rng.choice(np.flatnonzero(data.labels == label))
        examples[label] = data.flux[index]
        titles[label] = f"{label}  {data.ids[index]}  z={data.meta['z'][index]:.3f}"
    figures = save_figure(plot_class_examples(data.wavelength, examples, titles), out / "figures" / "classes")
    explaining = cfg.explain and 3 in cfg.problems  # the saliency study explains the 3-class model
    trusting = explaining and cfg.trust_spectra and cfg.trust_methods
    workers = default_workers() if workers is None else max(1, int(workers))
    tasks = _spectra_tasks(cfg, out, catalog, explaining, trusting, threads=1 if workers > 1 else None)
    (out / "explanations.h5").unlink(missing_ok=True)
    with _stage(timings, "stages"):
        results, seconds = run_tasks(tasks, workers, progress)
    timings.update({f"{name}_s": round(value, 2) for name, value in seconds.items()})
    models = {name: results[task] for name, task in (("3-class", "svm-3class"), ("2-class", "svm-2class"),
                                                     ("3-class CNN", "cnn-3class")) if task in results}
    with _stage(timings, "write"):
        result_md = write_results_markdown(out)
        result = {**summary, "timings": timings, "figures": [str(p) for p in figures],
                  "classes": {c: int((data.labels == c).sum()) for c in data.classes}, "models": models,
                  "results": str(result_md)}
        if explaining:
            maps = [m for name in sorted(results) if name.startswith("tsne-") for m in results[name]]
            maps = sorted(maps, key=lambda m: paper_specs(cfg.perplexities).index(m.spec))
            write_embedding(out / "embed", maps, seed=cfg.seed, data_file=out / "explanations.h5",
                            dataset=dataset)
            explained = results["saliency"]
            explained["explanation"].save(out / "explanations.h5", key="saliency")
            result["explain"] = {"physics": explained["physics"], "n_gallery": len(explained["gallery"]),
                                 "tsne": [{"subset": m.spec.subset, "features": m.spec.features,
                                           "perplexity": m.spec.perplexity, "n": len(m.ids),
                                           "kl_divergence": round(m.kl, 4), "seconds": round(m.seconds, 2)}
                                          for m in maps], "data_file": str(out / "explanations.h5")}
        if trusting:
            inputs = results["trust-inputs"]
            table = merge_tables([results[f"trust-{name}"] for name in _trust_models(cfg)])
            trusted = write_trust_folder(out / "trust", table, data, inputs)
            result["trust"] = {"table": str(out / "trust" / "trust.csv"), "example": trusted["example"]}
    timings["total_s"] = round(time.perf_counter() - start, 2)
    write_run_record(out, {"config": asdict(cfg), "summary": result})
    if explaining:
        page = write_report(out)
        problems = check_report(page)
        result["report"] = str(page)
        if problems:
            log.warning("report %s: %d problems: %s", page, len(problems), problems[:3])
    return result


def _trust_models(cfg: SpectraRunConfig) -> dict:
    """Name → (model folder, kernel) of the models the trust table compares, in the table's order."""
    models = {f"SVM {kernel}": ("svm-3class", kernel) for kernel in sorted(cfg.trust_kernels)}
    if cfg.cnn:
        models["CNN"] = ("cnn-3class", None)
    return models


def _spectra_tasks(cfg: SpectraRunConfig, out: Path, catalog, explaining: bool, trusting: bool,
                   threads: int | None) -> list[Task]:
    """The run's stages after the reduction, the most urgent first (those that others wait for); ``threads`` is the
    SVM search's (one per worker when stages run side by side)."""
    dataset = str(out / "dataset.h5")
    folder = {name: out / "models" / name for name in ("svm-3class", "svm-2class", "cnn-3class")}
    svm = {"kernels": cfg.kernels, "quick": cfg.quick, "seed": cfg.seed, "stratify": cfg.stratify,
           "standardise": cfg.standardise, "n_jobs": threads}
    tasks = []
    if 3 in cfg.problems:
        tasks.append(Task("svm-3class", _train_task, (dataset, SVMClassifier(classes=3, **svm), folder["svm-3class"],
                                                      cfg.timing_repeats)))
    if cfg.cnn and 3 in cfg.problems:
        tasks.append(Task("cnn-3class", _train_task, (dataset, SpectrumCNNClassifier(
            classes=3, seed=cfg.seed, stratify=cfg.stratify), folder["cnn-3class"], cfg.timing_repeats)))
    if trusting:
        tasks.append(Task("trust-inputs", _trust_inputs_task, (dataset, folder["svm-3class"], cfg.trust_spectra,
                                                               str(catalog), cfg.seed), after=("svm-3class",)))
        for name, (model, kernel) in _trust_models(cfg).items():
            tasks.append(Task(f"trust-{name}", _model_trust_task, (dataset, folder[model], kernel, name,
                                                                   cfg.trust_methods, cfg.seed),
                              after=(model,), inputs={"inputs": "trust-inputs"}))
    specs = paper_specs(cfg.perplexities) if explaining else []
    main = MapSpec("all", "raw", float(max(cfg.perplexities)))
    map_tasks = [Task(f"tsne-{s.subset}-{s.features}-{s.perplexity:g}", _maps_task, (dataset, [s], cfg.seed))
                 for s in specs]
    tasks += [t for t in map_tasks if t.args[1][0] == main]
    if explaining:
        tasks.append(Task("saliency", _saliency_task, (dataset, folder["svm-3class"], out / "explain", str(catalog),
                                                       cfg.n_correct, cfg.seed),
                          after=("svm-3class",), inputs={"maps": f"tsne-all-raw-{main.perplexity:g}"}))
    if 2 in cfg.problems:
        tasks.append(Task("svm-2class", _train_task, (dataset, SVMClassifier(classes=2, **svm), folder["svm-2class"],
                                                      cfg.timing_repeats)))
    return tasks + [t for t in map_tasks if t.args[1][0] != main]


def _train_task(dataset, model, out, timing_repeats: int) -> dict:
    trained = train(SpectraSet.load(dataset), model, out, dataset_path=str(dataset), timing_repeats=timing_repeats)
    return _model_summary(trained)


def _maps_task(dataset, specs, seed: int) -> list:
    """t-SNE maps, returned without their spectra and affinities (the main process has the data set)."""
    maps = fit_maps(SpectraSet.load(dataset), specs, seed=seed, n_jobs=1)
    for fitted in maps:
        fitted.reference, fitted._affinities = None, None
    return maps


def _saliency_task(dataset, model_dir, out, catalog, n_correct: int, seed: int, maps) -> dict:
    from astroxai.models import load_model

    data, model = SpectraSet.load(dataset), load_model(model_dir)
    rows = model.split_.rows(data.ids, "test")
    truth = read_truth(catalog, data.ids[rows])
    explained = saliency_study(model, data, rows, out, broad=None if truth is None else truth["broad"],
                               embedding=maps[0], n_correct=n_correct, seed=seed, data_file=Path(out) / "saliency.h5")
    Path(explained["data_file"]).unlink()  # the run keeps the maps in its explanations.h5
    explained["explanation"].inputs = explained["explanation"].features = None
    return explained


def _trust_inputs_task(dataset, first_model, n_inputs: int, catalog, seed: int) -> dict:
    from astroxai.models import load_model

    return trust_inputs(SpectraSet.load(dataset), load_model(first_model), n_inputs=n_inputs, catalog=catalog,
                        seed=seed)


def _model_trust_task(dataset, model_dir, kernel, name: str, methods, seed: int, inputs):
    from astroxai.models import load_model

    data, model = SpectraSet.load(dataset), load_model(model_dir)
    if kernel is not None:
        model = model.with_kernel(data, kernel)
    return model_trust(data, model, name, inputs, methods=methods, seed=seed)


def _model_summary(trained) -> dict:
    model = trained.model
    summary = {"model_dir": str(trained.folder), "model": type(model).__name__,
               "test_macro_f1": round(trained.test_f1, 4), "timings": trained.timings}
    if isinstance(model, SVMClassifier):
        summary.update(kernel=model.kernel_, C=model.params_["C"], gamma=model.params_["gamma"])
    return summary


def _gallery_first(labels, predicted, rows, per_class: int, wrong: int) -> tuple[np.ndarray, int]:
    """``rows`` reordered so that the gallery comes first — ``per_class`` correctly classified images of each class,
    class by class, then up to ``wrong`` misclassified ones — and the gallery's size."""
    right = predicted[rows] == labels[rows]
    chosen = [r for cls in sorted(set(labels[rows])) for r in rows[right & (labels[rows] == cls)][:per_class]]
    chosen += list(rows[~right][:wrong])
    order = np.concatenate([np.asarray(chosen, dtype=np.int64), np.setdiff1d(rows, chosen, assume_unique=False)])
    return order, len(chosen)


def _write_peers(out: Path, trained) -> None:
    """``peers.csv``: this run's test scores on the real FIRST galaxies beside the published ones."""
    from astroxai.io.first import PEERS

    test = trained.test
    recall = {f"recall_{c}": round(test["per_class"][c]["recall"], 3) for c in sorted(test["per_class"])}
    rows = [{"study": f"astroxai image CNN (this run; literature test set, {int(test['macro']['support'])} images)",
             "accuracy": round(test["accuracy"], 3), "macro_f1": round(test["macro"]["f1"], 3), **recall,
             "training_s": trained.timings.get("fit_s")}]
    rows += [{"study": p["study"], "accuracy": p["accuracy"] or "", "macro_f1": p["macro_f1"] or ""} for p in PEERS]
    write_table(rows, out / "peers", {"note": "peers used their own FIRST samples and splits"})


def _write_by_catalogue(out: Path, data: ImageSet, model) -> None:
    """``by_catalogue.csv``: test recall of the real FIRST galaxies per class *and* per literature catalogue that
    gave the label (Griese et al. 2023 merged six, whose class definitions differ: a MiraBest FR I may be what
    Proctor (2011) calls a bent tail), with what the wrong ones were taken for — where the errors sit."""
    rows = model.split_.rows(data.ids, "test")
    predicted = np.asarray(model.predict(data.subset(rows)), dtype=object)
    labels, catalogue = data.labels[rows], np.asarray(data.meta["catalogue"])[rows]
    table = []
    for label, source in sorted(set(zip(labels.tolist(), catalogue.tolist(), strict=True))):
        here = (labels == label) & (catalogue == source)
        wrong = predicted[here][predicted[here] != label]
        taken = {c: int((wrong == c).sum()) for c in sorted(set(wrong.tolist()))}
        table.append({"class": label, "catalogue": source, "n_test": int(here.sum()),
                      "recall": round(float(np.mean(predicted[here] == label)), 3),
                      "wrong_as": "; ".join(f"{c} {n}" for c, n in taken.items())})
    write_table(table, out / "by_catalogue", {"part": "test", "note": "the catalogue that gave each label"})


def _image_data(cfg: ImageRunConfig, out: Path, timings: dict, progress) -> tuple[ImageSet, Path, dict]:
    """The study's images: simulated (with ground-truth component masks) or the real FIRST galaxies (with their
    literature split, and masks of the source above the noise); their path and how they were made."""
    if cfg.data == "first":
        from astroxai.io.first import first_galaxies
        from astroxai.workflows.reduce import manifest_path_for, write_manifest

        with _stage(timings, "read"):
            data, fates = first_galaxies(progress=progress)
            if cfg.n_per_class is not None:  # a quick look: the first N of each class in each part
                part = data.meta["split"]
                keep = np.concatenate([np.flatnonzero((part == p) & (data.labels == c))[:cfg.n_per_class]
                                       for p in np.unique(part) for c in data.classes])
                kept = set(data.ids[keep])
                for row in fates:
                    if row["status"] == "kept" and row["id"] not in kept:
                        row.update(status="rejected", reason=f"left out by the run's n_per_class = {cfg.n_per_class}")
                data = data.subset(np.sort(keep))
            path = data.save(out / "dataset.h5")
            write_manifest(manifest_path_for(path), fates)
        counts = {c: int((data.labels == c).sum()) for c in data.classes}
        return data, path, {"data_source": data.attrs["source"], "counts": counts,
                            "rejected": sum(row["status"] != "kept" for row in fates)}
    counts = (DEFAULT_IMAGE_COUNTS[cfg.kind] if cfg.n_per_class is None
              else dict.fromkeys(DEFAULT_IMAGE_COUNTS[cfg.kind], cfg.n_per_class))
    seed = DEFAULT_IMAGE_SEED if cfg.seed is None else cfg.seed
    with _stage(timings, "simulate"):
        path = simulate_image_sample(out / "simulated", cfg.kind, counts, seed, progress=progress)
        data = ImageSet.load(path)
    return data, path, {"simulation_seed": seed, "counts": counts}


def run_images(cfg: ImageRunConfig, out, progress=None) -> dict:
    """The image study of ``cfg.kind`` (see the module doc) into ``out``; returns a summary."""
    from astroxai.report.figures.images import plot_examples

    out = Path(out)
    timings: dict = {}
    start = time.perf_counter()
    data, path, made = _image_data(cfg, out, timings, progress)
    what = "real FIRST cutouts (Griese et al. 2023)" if cfg.data == "first" else "simulated cutouts"
    save_figure(plot_examples(data.images, data.labels, data.classes, pixel_arcsec=data.attrs.get("pixel_arcsec"),
                              what=what), out / "figures" / "examples")
    settings = dict(FIRST_TRAINING) if cfg.data == "first" else {"augment": cfg.kind == "galaxy", "max_epochs": 100}
    settings["seed"] = cfg.train_seed
    if cfg.augment is not None:
        settings["augment"] = cfg.augment
    if cfg.max_epochs is not None:
        settings["max_epochs"] = cfg.max_epochs
    summary = {"kind": cfg.kind, "data": cfg.data}
    with _stage(timings, "train_classifier"):
        trained = train(data, ImageCNNClassifier(**settings), out / "models" / f"{cfg.kind}-classifier",
                        dataset_path=str(path), progress=progress)
    classifier = trained.model
    summary["classifier"] = _model_summary(trained)
    if cfg.data == "first":
        _write_peers(out, trained)
        _write_by_catalogue(out, data, classifier)
    regressors = {}
    if cfg.kind == "galaxy":
        with _stage(timings, "train_regressors"):
            sizes = sorted({int(n) for n in (cfg.bar_lengths_few, *cfg.bar_learning_curve) if n})
            lengths = {**settings, **REGRESSOR_TRAINING}
            if cfg.max_epochs is not None:
                lengths["max_epochs"] = cfg.max_epochs
            for name, limit in (("galaxy-bar-length", None), *((f"galaxy-bar-length-{n}", n) for n in sizes)):
                trained = train(data, ImageCNNRegressor(max_measured=limit, **lengths), out / "models" / name,
                                dataset_path=str(path), progress=progress)
                summary[name] = _model_summary(trained)
                regressors[trained.model.training_["n_images"]] = trained.model
    test_rows = classifier.split_.rows(data.ids, "test")
    predicted = np.full(len(data), "", dtype=object)
    predicted[test_rows] = classifier.predict(data.subset(test_rows))
    test, gallery = _gallery_first(data.labels, predicted, test_rows, cfg.gallery_per_class,
                                   cfg.gallery_per_class * len(data.classes))
    explained = {}
    for method in STUDY_METHODS[cfg.kind]:
        with _stage(timings, f"explain_{method}"):
            result = explain_set(classifier, data.subset(test), out / "explain" / method, method=method,
                                 seed=cfg.train_seed, max_figures=gallery, progress=progress)
        explained[method] = result["rows"]
    defining = defining_components(data)
    # a set scored on one region for every class (real images) is also summarised on its other masks
    others = tuple(m for m in data.masks if m != defining) if isinstance(defining, str) else ()
    overlap = overlap_summary(explained, components=others)
    write_table(overlap, out / "explain" / "overlap", {"defining_component": defining,
                                                        "images": "test part, each image's predicted class"})
    summary["overlap"] = overlap
    with _stage(timings, "trust"):
        rng = np.random.default_rng(cfg.train_seed)
        rows = np.sort(rng.choice(test_rows, size=min(cfg.trust_images, test_rows.size), replace=False))
        table = trust_table({f"{cfg.kind} CNN": classifier}, data, rows, methods=cfg.trust_methods,
                            seed=cfg.train_seed, progress=progress)
        write_trust(out, table, ids=data.ids[rows], labels=data.labels[rows],
                    extra={"baseline_meaning": "0 (empty sky) in the prepared image"})
    summary["trust"] = table.rows
    if cfg.kind == "galaxy":
        with _stage(timings, "bars"):
            study = bar_length_study(classifier, regressors, data, seed=cfg.train_seed)
            write_bar_study(out / "bars", study, data)
        summary["bars"] = {"rows": study.rows, "calibration": study.calibration}
    timings["total_s"] = round(time.perf_counter() - start, 2)
    summary["timings"] = timings
    write_run_record(out, {"command": "run", **asdict(cfg), **made, "timings": timings})
    page = write_report(out)
    problems = check_report(page)
    if problems:
        log.warning("report %s: %d problems: %s", page, len(problems), problems[:3])
    summary["report"] = str(page)
    return summary


def run(kind: str = "spectra", out=None, *, config=None, seed: int | None = None, progress=None,
        workers: int | None = None, data: str | None = None) -> dict:
    """Run the study of ``kind`` (``spectra``, ``radio``, ``galaxy``) into ``out`` (default ``runs/default`` for
    spectra, ``runs/<kind>`` for images, ``runs/first`` for the real FIRST galaxies), with settings from a JSON
    ``config`` file and an optional ``seed``; ``data`` (images: ``simulated`` or ``first``) overrides the config's;
    ``workers`` processes run the spectra study's independent stages side by side (default: every core)."""
    if kind == "spectra":
        cfg = SpectraRunConfig.from_file(config) if config else SpectraRunConfig()
        if seed is not None:
            cfg.seed = seed
        return run_spectra(cfg, Path(out or "runs/default"), progress, workers)
    fixed = {"kind": kind, **({"data": data} if data else {})}
    cfg = ImageRunConfig.from_file(config, **fixed) if config else ImageRunConfig(**fixed)
    if seed is not None:
        cfg.seed = seed
    return run_images(cfg, Path(out or Path("runs") / ("first" if cfg.data == "first" else kind)), progress)


__all__ = ["CNNConfig", "ImageRunConfig", "SpectraRunConfig", "run", "run_images", "run_spectra"]
