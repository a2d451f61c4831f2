"""The AGN spectra study (Peruzzi et al. 2021), on the embedded simulated sample or on the user's own labelled one.

Data: the paper's sample simulated as SDSS ``spec-lite`` files, or the user's inputs (anything ``astroxai reduce``
takes, or one reduced ``.h5``) with their catalogue's labels — class names are the user's; ``classes`` restricts
the sample, ``broad`` names its broad-line classes.  Stages, side by side on the scheduler: the SVM study of each
problem (the paper's three- and two-class problems on its sample; the sample's classes otherwise), a 1-D CNN on the
first problem's split, t-SNE maps, the saliency study of the test spectra (on the main map), and every method ×
model scored for trust.  Then ``results.md`` (the paper's sample only), ``run.json`` and ``report.html``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from astroxai.data import SpectraSet, fate
from astroxai.embed import PAPER_PERPLEXITIES, MapSpec, fit_maps, paper_specs
from astroxai.errors import InputError
from astroxai.explain.study import DEFAULT_N_CORRECT, PAPER_BROAD, broad_rows, saliency_study
from astroxai.explain.trust import TRUST_METHODS, TrustSettings
from astroxai.io import collect_inputs
from astroxai.models import SpectrumCNNClassifier, SVMClassifier, labelled_split, load_model
from astroxai.models.svm import PROBLEMS
from astroxai.reduce import RANGE_PRESETS, ReductionSettings
from astroxai.report.figures import save_figure
from astroxai.report.markdown import write_results_markdown
from astroxai.report.saliency import write_saliency_study
from astroxai.simulate import CLASSES, DEFAULT_COUNTS, DEFAULT_SEED, read_truth, simulate_sample
from astroxai.workflows.inputs import SET_SUFFIXES, load_dataset
from astroxai.workflows.reduce import reduce_inputs, write_manifest
from astroxai.workflows.schedule import Task
from astroxai.workflows.studies import RunConfig, Study, model_summary, register
from astroxai.workflows.train import train
from astroxai.workflows.trust import merge_tables, model_trust, trust_inputs, write_embedding, write_trust_folder

log = logging.getLogger(__name__)

#: Folds of the SVM's cross-validated search: each class needs this many spectra in the 64 % train part.
SEARCH_FOLDS = 5


@dataclass
class SpectraRunConfig(RunConfig):
    """Settings of ``astroxai run`` (the spectra study); any subset can be given in a JSON file."""

    counts: dict = field(default_factory=lambda: dict(DEFAULT_COUNTS))
    seed: int = DEFAULT_SEED
    n_wave: int = 1000
    range: list | str | None = None  # None = overlap of all spectra; "paper" = the paper's range
    problems: list = field(default_factory=lambda: [3, 2])  # the paper's sample: 3-class and 2-class classifiers
    kernels: list = field(default_factory=lambda: ["linear", "rbf", "poly2", "poly3"])
    quick: bool = False  # coarse search grid (see `astroxai train --quick`)
    stratify: bool = True
    standardise: bool = False  # standardise features inside the SVM pipeline (default: unscaled, docs/results.md)
    timing_repeats: int = 3  # fits timed per kernel (`astroxai train` times 10)
    explain: bool = True  # saliency maps, t-SNE maps and report.html
    perplexities: list = field(default_factory=lambda: list(PAPER_PERPLEXITIES))
    n_correct: int = DEFAULT_N_CORRECT  # correct test spectra drawn for the saliency gallery
    cnn: bool = True  # also train the 1-D CNN on the first problem (same split)
    trust_spectra: int = 24  # test spectra of the methods × models trust table (`astroxai trust` defaults to 100)
    trust_methods: list = field(default_factory=lambda: list(TRUST_METHODS))
    trust_kernels: list = field(default_factory=lambda: ["linear", "rbf"])  # SVM kernels compared in the trust table
    data: list | None = None  # the user's own inputs (None: the embedded simulated sample)
    catalog: str | None = None  # the user's catalogue (file,label,z): labels and missing redshifts
    classes: list | None = None  # restrict the sample to these classes (None: all of them)
    broad: list | None = None  # broad-line classes (None: the paper's names among the sample's classes)

    def __post_init__(self):
        unknown = [p for p in self.problems if p not in (2, 3)]
        if unknown or not self.problems:
            raise InputError(f"problems must be 3 and/or 2, not {self.problems}")
        SVMClassifier(kernels=self.kernels)  # checks the kernel names
        missing = [k for k in self.trust_kernels if k not in self.kernels]
        if missing:
            raise InputError(f"trust_kernels {missing} are not among the searched kernels {self.kernels}")
        if isinstance(self.range, str) and self.range not in RANGE_PRESETS:
            raise InputError(f"range must be a [min, max] pair or one of {sorted(RANGE_PRESETS)}")
        if self.classes is not None and len(set(map(str, self.classes))) < 2:
            raise InputError(f"classes must name at least two distinct classes, not {self.classes}")
        self.data = None if self.data is None else [str(p) for p in self.data]

    def wave_range(self):
        if self.range is None:
            return None
        return RANGE_PRESETS[self.range] if isinstance(self.range, str) else tuple(self.range)

    @property
    def paper_sample(self) -> bool:
        """The embedded simulation of the paper's sample with its classes: the paper's numbers apply."""
        return self.data is None and self.classes is None


def problem_names(cfg: SpectraRunConfig, data) -> dict:
    """Model folder name → the classes of each problem: the paper's on its sample, else the sample's classes."""
    if cfg.paper_sample:
        return {f"svm-{p}class": p for p in cfg.problems}
    classes = tuple(str(c) for c in cfg.classes) if cfg.classes else tuple(data.classes)
    return {f"svm-{len(classes)}class": classes}


def _needed(folds: int = SEARCH_FOLDS) -> int:
    return int(np.ceil(folds / 0.64)) + 1  # every CV fold of the 64 % train part needs each class


def check_sample(counts: dict, where: str) -> None:
    """Refuse, before the work it would waste, a sample with fewer than two classes or a class too small for the
    cross-validated search (counts by class name)."""
    if len(counts) < 2:
        raise InputError(f"{where}: a classifier needs at least two classes, the sample has {len(counts)} "
                         f"({', '.join(f'{c!r}: {n}' for c, n in counts.items()) or 'no labelled input'})")
    small = {c: n for c, n in counts.items() if n < _needed()}
    if small:
        listed = ", ".join(f"{c!r} has {n}" for c, n in small.items())
        raise InputError(f"{where}: too few spectra for the {SEARCH_FOLDS}-fold search: {listed}; each class needs "
                         f"at least {_needed()} (add spectra, or leave the class out with --classes)")


def check_split(data, seed: int, stratify: bool, classes) -> None:
    """Refuse a sample whose split leaves a class without test or validation spectra (a declared split can)."""
    split = labelled_split(data, seed, classes, stratify)
    for part in ("train", "validation", "test"):
        found = set(data.labels[split.rows(data.ids, part)])
        missing = [c for c in classes if c not in found]
        if missing:
            counts = {c: int((data.labels == c).sum()) for c in missing}
            raise InputError(f"no {part} spectrum of {', '.join(map(repr, missing))} (spectra per class: {counts}); "
                             "every class needs spectra in each part of the split")


@register("spectra")
class AgnStudy(Study):
    """The AGN spectra study (see the module doc)."""

    kind = "spectra"
    config_class = SpectraRunConfig

    @classmethod
    def default_folder(cls, kind: str) -> str:
        return "default"

    @classmethod
    def given_data(cls, data):
        """A path alone is a list of one input; ``"simulated"`` is the embedded sample (``None``)."""
        if isinstance(data, str):
            return None if data == "simulated" else [data]
        return super().given_data(data)

    def __init__(self, config: SpectraRunConfig, layout, progress=None):
        super().__init__(config, layout, progress)
        self.catalog = None  # the catalogue that describes the inputs (the simulator's, or the user's)

    @property
    def data_source(self) -> str:
        return "simulated" if self.config.data is None else "user"

    # -- data -------------------------------------------------------------------------------------------------
    def prepare(self) -> SpectraSet:
        cfg, layout = self.config, self.layout
        if cfg.data is not None and len(cfg.data) == 1 and cfg.data[0].lower().endswith(SET_SUFFIXES):
            self.stages.skip("reduce", "the input is a reduced data set")
            data = self._reduced_set(cfg.data[0])
        else:
            items, rejected = self._items()
            with self.stages.timed("reduce"):
                reduce_inputs(items, layout.dataset, ReductionSettings(cfg.wave_range(), cfg.n_wave),
                              progress=self.progress, extra_attrs={"seed": cfg.seed}, rejected=rejected)
            data = SpectraSet.load(layout.dataset)
        self._check(data)
        self._examples(data)
        return data

    def _items(self) -> tuple[list, list[dict]]:
        """The inputs to reduce, and the fate rows of those left out before the reduction (no label, another
        class); a sample too small is refused here, before any file is read."""
        cfg = self.config
        if cfg.data is None:
            with self.stages.timed("simulate"):
                self.catalog = simulate_sample(self.layout.simulated, cfg.counts, cfg.seed, progress=self.progress)
            return collect_inputs([self.catalog]), []
        self.stages.skip("simulate", "the user's own sample")
        self.catalog = cfg.catalog
        items, rejected, keep = collect_inputs(cfg.data, cfg.catalog), [], []
        for item in items:
            reason = self._left_out(item.label)
            if reason:
                rejected.append(fate(str(item.path) + (f"#{item.member}" if item.member else ""), "", "rejected",
                                     reason, label=item.label or ""))
            else:
                keep.append(item)
        counts = {c: sum(item.label == c for item in keep) for c in dict.fromkeys(i.label for i in keep)}
        check_sample(counts, "the inputs' labels")
        return keep, rejected

    def _left_out(self, label) -> str:
        if not label:
            return "no label (the study needs a class for every spectrum: give a catalogue with --catalog)"
        if self.config.classes and str(label) not in map(str, self.config.classes):
            return f"class {label!r} is not among --classes {','.join(map(str, self.config.classes))}"
        return ""

    def _reduced_set(self, path) -> SpectraSet:
        """A data set the user reduced already: its inputs of the study's classes, with a manifest."""
        data = load_dataset(path, SpectraSet, finite=True)
        reasons = [self._left_out(label) for label in data.labels]
        fates = [fate(str(path), i, "rejected" if r else "kept", r, label=label)
                 for i, label, r in zip(data.ids, data.labels, reasons, strict=True)]
        # a set built in Python (SpectraSet.from_spectra) remembers the spectra its reduction turned down
        fates += [row for row in data.attrs.get("fates", []) if row.get("status") == "rejected"]
        data = data.subset(np.flatnonzero([not r for r in reasons]))
        data.save(self.layout.dataset)
        write_manifest(self.layout.manifest, fates)
        self.catalog = self.config.catalog
        return data

    def _check(self, data) -> None:
        for name, classes in problem_names(self.config, data).items():
            classes = PROBLEMS[classes] if isinstance(classes, int) else classes
            counts = {c: int((data.labels == c).sum()) for c in classes}
            check_sample(counts, f"{name} (after the reduction; reasons in {self.layout.manifest.name})")
            check_split(data, self.config.seed, self.config.stratify, classes)

    def _examples(self, data) -> None:
        from astroxai.report.figures.spectra import plot_class_examples

        rng = np.random.default_rng(self.config.seed)
        examples, titles = {}, {}
        for label in [c for c in CLASSES if c in data.classes] + [c for c in data.classes if c not in CLASSES]:
            index = rng.choice(np.flatnonzero(data.labels == label))
            examples[label] = data.flux[index]
            z = data.meta["z"][index] if "z" in data.meta else np.nan
            titles[label] = f"{label}  {data.ids[index]}  z={z:.3f}"
        save_figure(plot_class_examples(data.wavelength, examples, titles), self.layout.examples)

    # -- stages -----------------------------------------------------------------------------------------------
    @property
    def explaining(self) -> bool:
        return bool(self.config.explain)

    @property
    def trusting(self) -> bool:
        return self.explaining and bool(self.config.trust_spectra and self.config.trust_methods)

    def first_problem(self, data) -> tuple[str, object]:
        return next(iter(problem_names(self.config, data).items()))

    def cnn_name(self, data) -> str:
        return self.first_problem(data)[0].replace("svm-", "cnn-")

    def trust_models(self, data) -> dict:
        """Name → (model folder name, kernel) of the models the trust table compares, in the table's order."""
        svm = self.first_problem(data)[0]
        models = {f"SVM {kernel}": (svm, kernel) for kernel in sorted(self.config.trust_kernels)}
        if self.config.cnn:
            models["CNN"] = (self.cnn_name(data), None)
        return models

    def tasks(self, data, workers: int) -> list[Task]:
        """The stages after the reduction, the most urgent first (those that others wait for); the SVM search uses
        one thread per worker when stages run side by side."""
        cfg, layout = self.config, self.layout
        dataset, threads = str(layout.dataset), 1 if workers > 1 else None
        svm = {"kernels": cfg.kernels, "quick": cfg.quick, "seed": cfg.seed, "stratify": cfg.stratify,
               "standardise": cfg.standardise, "n_jobs": threads}
        problems = problem_names(cfg, data)
        (first, classes), rest = next(iter(problems.items())), list(problems.items())[1:]
        tasks = [Task(first, train_task, (dataset, SVMClassifier(classes=classes, **svm), layout.model(first).folder,
                                          cfg.timing_repeats))]
        if cfg.cnn:
            cnn = SpectrumCNNClassifier(classes=classes, seed=cfg.seed, stratify=cfg.stratify)
            tasks.append(Task(self.cnn_name(data), train_task, (dataset, cnn, layout.model(self.cnn_name(data)).folder,
                                                                cfg.timing_repeats)))
        else:
            self.stages.skip(self.cnn_name(data), "cnn is off in the config")
        tasks += self._trust_tasks(data, first)
        maps, main = self._map_tasks(data)
        tasks += [t for t in maps if t.args[1][0] == main]
        if self.explaining:
            tasks.append(Task("saliency", saliency_task, (dataset, str(layout.root), layout.model(first).folder,
                                                          self._broad(), self.catalog, cfg.n_correct, cfg.seed),
                              after=(first,), inputs={"maps": f"tsne-{main.subset}-{main.features}-"
                                                              f"{main.perplexity:g}"}))
        for name, classes in rest:
            tasks.append(Task(name, train_task, (dataset, SVMClassifier(classes=classes, **svm),
                                                 layout.model(name).folder, cfg.timing_repeats)))
        return tasks + [t for t in maps if t.args[1][0] != main]

    def _broad(self):
        """The broad-line classes: as configured, else the paper's names among the sample's (truth, when the
        catalogue carries it, decides per spectrum in the saliency stage)."""
        cfg = self.config
        if cfg.broad is not None:
            return [str(c) for c in cfg.broad]
        return list(PAPER_BROAD)

    def _trust_tasks(self, data, first: str) -> list[Task]:
        if not self.trusting:
            self.stages.skip("trust", "explain or trust_spectra/trust_methods are off in the config")
            return []
        cfg, dataset = self.config, str(self.layout.dataset)
        tasks = [Task("trust-inputs", trust_inputs_task, (dataset, self.layout.model(first).folder,
                                                          cfg.trust_spectra, self.catalog, cfg.seed), after=(first,))]
        for name, (model, kernel) in self.trust_models(data).items():
            tasks.append(Task(f"trust-{name}", model_trust_task, (dataset, self.layout.model(model).folder, kernel,
                                                                  name, cfg.trust_methods, cfg.seed),
                              after=(model,), inputs={"inputs": "trust-inputs"}))
        return tasks

    def map_specs(self) -> list[MapSpec]:
        """The paper's maps (type 1 + type 2 and all three classes) on its sample; all spectra otherwise."""
        if not self.explaining:
            return []
        subsets = ("type1+type2", "all") if self.config.paper_sample else ("all",)
        return paper_specs(self.config.perplexities, subsets=subsets)

    def _map_tasks(self, data) -> tuple[list[Task], MapSpec]:
        main = MapSpec("all", "raw", float(max(self.config.perplexities)))
        tasks = [Task(f"tsne-{s.subset}-{s.features}-{s.perplexity:g}", maps_task,
                      (str(self.layout.dataset), [s], self.config.seed)) for s in self.map_specs()]
        if not tasks:
            self.stages.skip("tsne", "explain is off in the config")
        return tasks, main

    # -- results ----------------------------------------------------------------------------------------------
    def collect(self, data, results: dict) -> dict:
        """Write what the main process writes (``results.md``, the maps and the saliency maps into
        ``explanations.h5``, the trust folder) and return every stage's result by name."""
        layout = self.layout
        layout.explanations.unlink(missing_ok=True)
        if self.config.paper_sample:
            write_results_markdown(layout)
        else:
            self.stages.skip("paper-tables", "the paper's tables compare with its own sample only")
        if self.explaining:
            specs = self.map_specs()
            maps = sorted((m for name in results if name.startswith("tsne-") for m in results[name]),
                          key=lambda m: specs.index(m.spec))
            write_embedding(layout.embed, maps, seed=self.config.seed, data_file=layout.explanations,
                            dataset=layout.dataset)
            results["maps"] = maps
            results["saliency"].explanation.save(layout.explanations, key=layout.SALIENCY_KEY)
        if self.trusting:
            inputs = results["trust-inputs"]
            table = merge_tables([results[f"trust-{name}"] for name in self.trust_models(data)])
            write_trust_folder(layout.trust, table, data, inputs)
            results["trust"] = table
        return results

    def summary(self, data, results: dict) -> dict:
        models = {name: model_summary(results[name]) for name in results
                  if name.startswith(("svm-", "cnn-")) and name in results}
        summary = {"n_spectra": len(data), "classes": {c: int((data.labels == c).sum()) for c in data.classes},
                   "models": models}
        if "saliency" in results:
            study = results["saliency"]
            summary["explain"] = {"physics": study.physics, "physics_skipped": study.skipped,
                                  "n_gallery": int(len(study.gallery))}
        return summary


# -- the stages: module-level functions, run in worker processes -------------------------------------------------
def train_task(dataset, model, out, timing_repeats: int):
    """Train one model into its folder; returns the :class:`~astroxai.workflows.train.TrainResult` (its model
    travels back whole: the main process summarises it)."""
    return train(SpectraSet.load(dataset), model, out, dataset_path=str(dataset), timing_repeats=timing_repeats)


def maps_task(dataset, specs, seed: int) -> list:
    """t-SNE maps, returned without their spectra and affinities (the main process has the data set)."""
    maps = fit_maps(SpectraSet.load(dataset), specs, seed=seed, n_jobs=1)
    for fitted in maps:
        fitted.drop_reference()
    return maps


def saliency_task(dataset, root, model_dir, broad_classes, catalog, n_correct: int, seed: int, maps):
    """The saliency study of the model's test spectra, written into the run's ``explain`` folder; returns the
    :class:`~astroxai.explain.study.SaliencyStudy` (without the inputs)."""
    from astroxai.report.layout import RunLayout

    data, model = SpectraSet.load(dataset), load_model(model_dir)
    test = data.subset(model.split_.rows(data.ids, "test"))
    truth = read_truth(catalog, test.ids) if catalog else None
    broad = truth["broad"] if truth is not None else broad_rows(test.labels, [c for c in broad_classes
                                                                              if c in data.classes])
    study = saliency_study(model, test, broad=broad, n_correct=n_correct, seed=seed)
    write_saliency_study(RunLayout(root), study, test, embedding=maps[0])
    study.explanation.inputs = study.explanation.features = None
    return study


def trust_inputs_task(dataset, first_model, n_inputs: int, catalog, seed: int) -> dict:
    return trust_inputs(SpectraSet.load(dataset), load_model(first_model), n_inputs=n_inputs, catalog=catalog,
                        seed=seed)


def model_trust_task(dataset, model_dir, kernel, name: str, methods, seed: int, inputs):
    data, model = SpectraSet.load(dataset), load_model(model_dir)
    if kernel is not None:
        model = model.with_kernel(data, kernel)
    return model_trust(data, model, name, inputs, methods=methods, settings=TrustSettings(seed=seed))


__all__ = ["AgnStudy", "SpectraRunConfig", "check_sample", "check_split", "problem_names"]
