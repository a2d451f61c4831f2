"""The image studies: radio morphologies explained with LIME (Liang et al. 2023) and bar lengths read off SmoothGrad
maps (Bhambra et al. 2022), on simulated cutouts, on the real FIRST galaxies of Griese et al. (2023), or on the
user's own cutouts with a catalogue of labels.

Stages, side by side on the scheduler: the morphology CNN; then each study method explaining every test image, the
trust table, and (galaxies whose catalogue has the bar-length column) the bar-length regressors, the isophote fits of
the classical route (a share per worker, as soon as one is free: they need no network) and the bar study.
Maps are scored on the components that define each class where the images carry them (the simulator's masks; the
source above the noise for FIRST); a study without them says so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from astroxai.data import ImageSet
from astroxai.errors import InputError
from astroxai.explain.components import defining_components, overlap_summary
from astroxai.models import (
    EquivariantImageClassifier,
    ImageCNNClassifier,
    ImageCNNRegressor,
    labelled_split,
    load_model,
)
from astroxai.models.evaluate import recall_by_group
from astroxai.models.image_cnn import DEFAULT_IMAGE_TRAIN_SEED, REGRESSOR_TRAINING
from astroxai.report.figures import save_figure
from astroxai.report.tables import write_table
from astroxai.simulate.images import DEFAULT_IMAGE_COUNTS, DEFAULT_IMAGE_SEED, simulate_image_sample
from astroxai.workflows.reduce import write_manifest
from astroxai.workflows.schedule import Task
from astroxai.workflows.studies import RunConfig, Study, model_summary, register
from astroxai.workflows.train import train

log = logging.getLogger(__name__)

#: Explanation methods of each image study, the study's own first (Liang et al. 2023: LIME; Bhambra et al. 2022:
#: SmoothGrad).
STUDY_METHODS = {"radio": ("lime", "smoothgrad"), "galaxy": ("smoothgrad", "lime")}
#: Training of the radio CNN on the real FIRST galaxies (docs/images.md): augmented by quarter turns and flips, less
#: dropout and a faster start than on simulations — the network underfits the real set (training accuracy stays
#: near the validation accuracy), and still improves after 100 epochs; its predictions (and explanations) are the
#: mean over the eight turns and flips of each image, the recipe with the best validation accuracy over three seeds
#: (0.822 ± 0.013, against 0.816 ± 0.025 for the equivariant network and 0.806 ± 0.023 for one view).
FIRST_TRAINING = {"augment": True, "dropout": 0.1, "learning_rate": 2e-3, "max_epochs": 150, "patience": 25,
                  "average_views": True}
#: The morphology classifiers an image study can train.
NETWORKS = {"cnn": ImageCNNClassifier, "equivariant": EquivariantImageClassifier}
#: The study's classifier on the real FIRST galaxies: chosen on the validation part over three seeds (docs/images.md,
#: "Beyond the published best"; benchmarks/bench_first_seeds.py).
FIRST_NETWORK = "cnn"
#: Training of the equivariant classifier in a study (its own defaults otherwise).
EQUIVARIANT_TRAINING: dict = {}
#: Where an image study's images come from, besides the user's own files.
IMAGE_DATA = ("simulated", "first")
#: The catalogue column the galaxy study's bar-length stage regresses (pixels; empty for an unbarred galaxy).
BAR_TARGET = "bar_length_px"


@dataclass
class ImageRunConfig(RunConfig):
    """Settings of ``astroxai run --kind radio|galaxy`` (any subset in a JSON file)."""

    kind: str = "radio"
    data: str | list = "simulated"  # "simulated", "first" (radio), or the user's files/folders/catalogues
    catalog: str | None = None  # the user's catalogue (file,label,...) of their cutouts
    target: str = BAR_TARGET  # galaxy: the catalogue column of bar lengths the bar stage regresses
    classes: list | None = None  # only these classes (None: every class of the images)
    n_per_class: int | None = None  # None: the simulator's default (300 radio, 600 galaxy per class); real data: all
    seed: int | None = None  # simulation seed (None: the package's image seed)
    train_seed: int = DEFAULT_IMAGE_TRAIN_SEED
    max_epochs: int | None = None  # None: 100 for simulated images, 150 for the real FIRST galaxies
    augment: bool | None = None  # quarter turns and flips in training; None: galaxies yes, radio no (docs/images.md)
    network: str | None = None  # the morphology classifier: "cnn" or "equivariant"; None: the study's default
    gallery_per_class: int = 2
    bar_lengths_few: int = 64  # galaxy: also learn bar lengths from only this many measured galaxies (0: skip)
    bar_learning_curve: tuple = (16, 32, 128)  # galaxy: and from these many (the learning curve of docs/images.md)
    trust_images: int = 24
    trust_methods: tuple = ("saliency", "smoothgrad", "integrated-gradients", "occlusion", "lime")

    def __post_init__(self):
        if self.kind not in STUDY_METHODS:
            raise InputError(f"unknown image study {self.kind!r}; choose from {sorted(STUDY_METHODS)}")
        if isinstance(self.data, str) and self.data not in IMAGE_DATA:
            raise InputError(f"unknown image data {self.data!r}; choose from {sorted(IMAGE_DATA)} or give files")
        if self.data == "first" and self.kind != "radio":
            raise InputError("the real FIRST galaxies (data 'first') are radio images: use them with kind 'radio'")
        if self.network not in (None, *NETWORKS):
            raise InputError(f"unknown network {self.network!r}; choose from {sorted(NETWORKS)}")
        if not isinstance(self.data, str):
            self.data = [str(p) for p in self.data]
        self.trust_methods = tuple(self.trust_methods)
        self.bar_learning_curve = tuple(self.bar_learning_curve)

    @property
    def source(self) -> str:
        return self.data if isinstance(self.data, str) else "user"


def network_of(cfg: ImageRunConfig) -> str:
    """Which morphology classifier the study trains: the config's, else the study's default (:data:`FIRST_NETWORK`
    on the real FIRST galaxies, the plain CNN elsewhere)."""
    return cfg.network or (FIRST_NETWORK if cfg.source == "first" else "cnn")


def training_settings(cfg: ImageRunConfig, network: str | None = None) -> dict:
    """The settings of the study's ``network`` (default: its morphology classifier's, :func:`network_of`): the
    study's defaults, then the config's."""
    if (network or network_of(cfg)) == "equivariant":
        settings = dict(EQUIVARIANT_TRAINING)
    elif cfg.source == "first":
        settings = dict(FIRST_TRAINING)
    else:
        settings = {"augment": cfg.kind == "galaxy", "max_epochs": 100}
    settings["seed"] = cfg.train_seed
    if cfg.augment is not None:
        settings["augment"] = cfg.augment
    if cfg.max_epochs is not None:
        settings["max_epochs"] = cfg.max_epochs
    return settings


def check_images(data, seed: int) -> None:
    """Refuse, before any training, a set with fewer than two classes or a class missing from a part of the split."""
    counts = {c: int((data.labels == c).sum()) for c in data.classes}
    if len(counts) < 2:
        raise InputError(f"a classifier needs at least two classes, the images have {len(counts)} ({counts}; labels "
                         "come from the catalogue: --catalog)")
    try:
        split = labelled_split(data, seed)
    except ValueError as error:  # scikit-learn's stratified split refuses a class of one image
        raise InputError(f"the images cannot be split into train, validation and test parts ({error}); images per "
                         f"class: {counts}") from None
    for part in ("train", "validation", "test"):
        found = set(data.labels[split.rows(data.ids, part)])
        missing = [c for c in counts if c not in found]
        if missing:
            raise InputError(f"no {part} image of {', '.join(map(repr, missing))} (images per class: {counts}); "
                             "every class needs images in each part of the split")


@register("radio", "galaxy")
class ImageStudy(Study):
    """An image study (see the module doc)."""

    config_class = ImageRunConfig

    @classmethod
    def fixed_settings(cls, kind: str) -> dict:
        return {"kind": kind}

    @classmethod
    def given_data(cls, data):
        """A built-in sample's name (``simulated``, ``first``) as it is; a path alone is a list of one input."""
        if isinstance(data, str) and data not in IMAGE_DATA:
            return [data]
        return super().given_data(data)

    @property
    def kind(self) -> str:
        return self.config.kind

    @property
    def data_source(self) -> str:
        return self.config.source

    @property
    def classifier(self) -> str:
        return f"{self.config.kind}-classifier"

    # -- data -------------------------------------------------------------------------------------------------
    def prepare(self) -> ImageSet:
        cfg = self.config
        if cfg.source == "first":
            data = self._first()
        elif cfg.source == "user":
            data = self._user()
        else:
            data = self._simulated()
        if cfg.classes:
            data = self._only(data, [str(c) for c in cfg.classes])
        check_images(data, cfg.train_seed)
        from astroxai.report.figures.images import plot_examples

        what = {"first": "real FIRST cutouts (Griese et al. 2023)", "user": "the user's cutouts"}.get(
            cfg.source, "simulated cutouts")
        save_figure(plot_examples(data.images, data.labels, data.classes, pixel_arcsec=data.attrs.get("pixel_arcsec"),
                                  what=what), self.layout.examples)
        return data

    def _simulated(self) -> ImageSet:
        cfg = self.config
        counts = (DEFAULT_IMAGE_COUNTS[cfg.kind] if cfg.n_per_class is None
                  else dict.fromkeys(DEFAULT_IMAGE_COUNTS[cfg.kind], cfg.n_per_class))
        self.simulation = {"simulation_seed": DEFAULT_IMAGE_SEED if cfg.seed is None else cfg.seed, "counts": counts}
        with self.stages.timed("simulate"):
            path = simulate_image_sample(self.layout.simulated, cfg.kind, counts, self.simulation["simulation_seed"],
                                         progress=self.progress)
            path.replace(self.layout.dataset)
        return ImageSet.load(self.layout.dataset)

    def _first(self) -> ImageSet:
        from astroxai.io.first import first_galaxies

        cfg = self.config
        with self.stages.timed("read"):
            data, fates = first_galaxies(progress=self.progress)
            if cfg.n_per_class is not None:  # a quick look: the first N of each class in each part
                data = _first_of_each(data, fates, cfg.n_per_class)
            data.save(self.layout.dataset)
            write_manifest(self.layout.manifest, fates)
        return data

    def _user(self) -> ImageSet:
        from astroxai.io import read_image_inputs

        with self.stages.timed("read"):
            data, fates = read_image_inputs(self.config.data, self.config.catalog)
            if data is not None:
                unlabelled = data.labels == ""
                for row in fates:
                    if row["status"] == "kept" and not row["label"]:
                        row.update(status="rejected", reason="no label (give a catalogue with --catalog)")
                data = data.subset(np.flatnonzero(~unlabelled)) if unlabelled.any() else data
            write_manifest(self.layout.manifest, fates)
            if data is None or not len(data):
                raise InputError(f"no labelled image among the {len(fates)} inputs (reasons in "
                                 f"{self.layout.manifest})")
            data.save(self.layout.dataset)
        return data

    def _only(self, data, classes: list[str]) -> ImageSet:
        """The images of ``classes``; the others' manifest rows say why they were left out."""
        from astroxai.workflows.reduce import read_manifest

        missing = [c for c in classes if c not in data.classes]
        if missing:
            raise InputError(f"--classes {','.join(missing)}: no such class among {data.classes}")
        keep = np.isin(data.labels, classes)
        if self.layout.manifest.is_file():
            fates = read_manifest(self.layout.manifest)
            left = set(data.ids[~keep])
            for row in fates:
                if row["status"] == "kept" and row["id"] in left:
                    row.update(status="rejected", reason=f"class {row['label']!r} is not among --classes")
            write_manifest(self.layout.manifest, fates)
        data = data.subset(np.flatnonzero(keep))
        data.save(self.layout.dataset)
        return data

    # -- stages -----------------------------------------------------------------------------------------------
    def bar_target(self, data) -> str | None:
        """The bar-length column the galaxy study regresses, or None (the reason recorded once) when it cannot:
        no such numeric column, or fewer than 3 measured galaxies in the training or the test part."""
        if self.config.kind != "galaxy":
            return None
        column = self.config.target
        values = data.meta.get(column)
        reason = None
        if values is None or not _numeric(values):
            reason = f"the catalogue has no numeric column {column!r} of bar lengths (--target) to learn from"
        else:
            lengths = np.asarray(values, dtype=np.float64)
            measured = np.isfinite(lengths) & (lengths > 0)
            split = labelled_split(data, self.config.train_seed)
            counts = {part: int(measured[split.rows(data.ids, part)].sum()) for part in ("train", "test")}
            if min(counts.values()) < 3:
                reason = f"too few galaxies with a bar length in {column!r} ({counts}; at least 3 in each part)"
        if reason is not None:
            if any(r.name == "bars" for r in self.stages.records):  # said once, asked twice
                return None
            self.stages.skip("bars", reason)
            return None
        return column

    def regressors(self, data) -> dict:
        """Model folder name → how many measured galaxies it learns from (None: all)."""
        if self.bar_target(data) is None:
            return {}
        cfg = self.config
        sizes = sorted({int(n) for n in (cfg.bar_lengths_few, *cfg.bar_learning_curve) if n})
        return {"galaxy-bar-length": None, **{f"galaxy-bar-length-{n}": n for n in sizes}}

    def tasks(self, data, workers: int) -> list[Task]:
        cfg, layout = self.config, self.layout
        dataset, settings = str(layout.dataset), training_settings(cfg)
        classifier = NETWORKS[network_of(cfg)](**settings)
        tasks = [Task(self.classifier, train_image_task, (dataset, classifier, layout.model(self.classifier).folder))]
        target, regressors = self.bar_target(data), self.regressors(data)
        lengths = {**training_settings(cfg, "cnn"), **REGRESSOR_TRAINING,
                   **({"max_epochs": cfg.max_epochs} if cfg.max_epochs else {})}
        for name, limit in regressors.items():
            tasks.append(Task(name, train_image_task, (dataset, ImageCNNRegressor(target=target, max_measured=limit,
                                                                                  **lengths),
                                                       layout.model(name).folder)))
        folder = layout.model(self.classifier).folder
        for method in STUDY_METHODS[cfg.kind]:
            tasks.append(Task(f"explain-{method}", explain_task, (dataset, folder, str(layout.root), method,
                                                                  cfg.train_seed, cfg.gallery_per_class),
                              after=(self.classifier,)))
        # the trust table one method per task (its draws are seeded per method, the same whatever runs beside it):
        # as one task it kept a worker busy ~400 s on the real FIRST galaxies while LIME's maps kept the other
        tasks += [Task(f"trust-{method}", trust_task, (dataset, folder, cfg.kind, cfg.trust_images, method,
                                                       cfg.train_seed), after=(self.classifier,))
                  for method in self.trust_methods()]
        if regressors:
            # the isophotes need no network: a share per worker, each fitted when a worker has nothing more urgent
            # (the last of the bar study's 255 s at the end of a run left the other worker idle)
            shares = {f"isophotes-{k + 1}": Task(f"isophotes-{k + 1}", isophotes_task,
                                                  (dataset, target, cfg.train_seed, k, workers))
                      for k in range(workers)}
            tasks.append(Task("bars", bars_task, (dataset, folder, [layout.model(n).folder for n in regressors],
                                                  str(layout.root), target, cfg.train_seed),
                              after=(self.classifier, *regressors), inputs={"isophotes": tuple(shares)}))
            tasks += shares.values()
        return tasks

    def trust_methods(self) -> list[str]:
        """The trust table's methods, in its order (the config's, each once; none given: every method, as
        ``trust_table``)."""
        from astroxai.explain.trust import TRUST_METHODS

        return list(dict.fromkeys(self.config.trust_methods or TRUST_METHODS))

    # -- results ----------------------------------------------------------------------------------------------
    def collect(self, data, results: dict) -> dict:
        """The trust table (its methods' tasks merged, in the config's order), the overlap table of the maps with the
        defining components, and for FIRST the peers and the recall per literature catalogue."""
        layout, classifier = self.layout, results[self.classifier].model
        with self.stages.timed("trust"):
            results["trust"] = write_trust_table(layout, data, classifier, self.config,
                                                 [results[f"trust-{m}"] for m in self.trust_methods()])
        explained = {m: results[f"explain-{m}"] for m in STUDY_METHODS[self.config.kind]}
        if data.masks:
            defining = defining_components(data)
            # a set scored on one region for every class (real images) is also summarised on its other masks
            others = tuple(m for m in data.masks if m != defining) if isinstance(defining, str) else ()
            results["overlap"] = overlap_summary(explained, components=others)
            write_table(results["overlap"], layout.overlap, {"defining_component": defining,
                                                             "images": "test part, each image's predicted class"})
        else:
            self.stages.skip("overlap", "the images carry no component masks to score the maps on")
        if self.config.source == "first":
            _write_first_tables(layout, data, classifier, results[self.classifier])
        return results

    def summary(self, data, results: dict) -> dict:
        summary = {"n_images": len(data), "classes": {c: int((data.labels == c).sum()) for c in data.classes},
                   "models": {name: model_summary(results[name]) for name in results
                              if name == self.classifier or name.startswith("galaxy-bar-length")},
                   **getattr(self, "simulation", {})}
        if self.config.source == "first":
            summary["data_source"] = data.attrs.get("source", "")
        if self.layout.manifest.is_file():
            from astroxai.workflows.reduce import read_manifest

            fates = read_manifest(self.layout.manifest)
            summary.update(n_inputs=len(fates), n_rejected=sum(row["status"] != "kept" for row in fates))
        if "bars" in results:
            summary["bars"] = {"rows": results["bars"].rows, "calibration": results["bars"].calibration}
        return summary


def _numeric(values) -> bool:
    try:
        np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    return True


def _first_of_each(data, fates: list[dict], n: int) -> ImageSet:
    """The first ``n`` images of each class in each part of the literature split (the others' fates say why)."""
    part = data.meta["split"]
    keep = np.concatenate([np.flatnonzero((part == p) & (data.labels == c))[:n]
                           for p in np.unique(part) for c in data.classes])
    kept = set(data.ids[keep])
    for row in fates:
        if row["status"] == "kept" and row["id"] not in kept:
            row.update(status="rejected", reason=f"left out by the run's n_per_class = {n}")
    return data.subset(np.sort(keep))


def _write_first_tables(layout, data, classifier, trained) -> None:
    """``peers``: this run's test scores on the real FIRST galaxies beside the published ones; ``by_catalogue``:
    test recall per class and per literature catalogue behind the label (Griese et al. 2023 merged six, whose class
    definitions differ: a MiraBest FR I may be what Proctor (2011) calls a bent tail)."""
    from astroxai.io.first import DATASET, PEERS, Peer

    test = trained.test
    split = (f"the literature split: trained on its train part (early stopping on validation), tested on its test "
             f"part ({int(test['macro']['support'])} images)")
    network = "D4-equivariant CNN" if getattr(classifier, "equivariant", False) else "image CNN"
    own = [Peer("astroxai (this run)", network, DATASET, split, metric, round(value, 3), comparable="this run")
           for metric, value in (("accuracy", test["accuracy"]), ("macro F1", test["macro"]["f1"]))]
    write_table([dict(row) for row in (*own, *PEERS)], layout.peers,
                {"note": "published scores on the same four classes; 'comparable' says which used this data set"})
    test_rows = classifier.split_.rows(data.ids, "test")
    predicted = np.asarray(classifier.predict(data.subset(test_rows)), dtype=object)
    table = recall_by_group(data.labels[test_rows], predicted, np.asarray(data.meta["catalogue"])[test_rows],
                            group="catalogue")
    write_table(table, layout.by_group, {"part": "test", "note": "the catalogue that gave each label"})


# -- the stages: module-level functions, run in worker processes -------------------------------------------------
def train_image_task(dataset, model, out):
    """Train one image network into its folder; returns the :class:`~astroxai.workflows.train.TrainResult`."""
    return train(ImageSet.load(dataset), model, out, dataset_path=str(dataset))


def explain_task(dataset, model_dir, root, method: str, seed: int, per_class: int) -> list[dict]:
    """Every test image explained by ``method``, the gallery first (``per_class`` correct images of each class, then
    as many misclassified ones), written into the run's ``explain/<method>``; returns the per-image rows."""
    from astroxai.explain import ExplainSettings
    from astroxai.explain.study import gallery_first
    from astroxai.report.layout import RunLayout
    from astroxai.workflows.explain import explain_set

    data, model = ImageSet.load(dataset), load_model(model_dir)
    test_rows = model.split_.rows(data.ids, "test")
    predicted = np.full(len(data), "", dtype=object)
    predicted[test_rows] = model.predict(data.subset(test_rows))
    order, shown = gallery_first(data.labels, predicted, test_rows, per_class, per_class * len(data.classes))
    result = explain_set(model, data.subset(order), RunLayout(root).explain.method(method),
                         ExplainSettings(method, seed=seed), max_figures=shown)
    return result["rows"]


def _trust_rows(data, model, n_images: int, seed: int) -> np.ndarray:
    """The trust table's images: a seeded draw of ``n_images`` of the model's test part, in the set's order."""
    test_rows = model.split_.rows(data.ids, "test")
    return np.sort(np.random.default_rng(seed).choice(test_rows, size=min(n_images, test_rows.size), replace=False))


def trust_task(dataset, model_dir, kind: str, n_images: int, method: str, seed: int):
    """One method's rows of the trust table of the classifier on a seeded draw of test images (every random draw of
    the explainer and of the scores is seeded from ``seed`` alone, so the rows are those of the whole table)."""
    from astroxai.explain.trust import TrustSettings, trust_table

    data, model = ImageSet.load(dataset), load_model(model_dir)
    table = trust_table({f"{kind} CNN": model}, data, _trust_rows(data, model, n_images, seed), methods=[method],
                        settings=TrustSettings(seed=seed))
    for explanation in table.explanations.values():
        explanation.inputs = explanation.features = None  # sent back to the main process light
    return table


def write_trust_table(layout, data, model, cfg: ImageRunConfig, tables: list):
    """The methods' trust tables as one, written into the run's ``trust`` folder."""
    from astroxai.report.writers import write_trust
    from astroxai.workflows.trust import merge_tables

    table, rows = merge_tables(tables), _trust_rows(data, model, cfg.trust_images, cfg.train_seed)
    write_trust(layout, table, ids=data.ids[rows], labels=data.labels[rows],
                extra={"baseline_meaning": "0 (empty sky) in the prepared image"})
    return table


def isophotes_task(dataset, column: str, seed: int, part: int, parts: int) -> dict[str, float]:
    """The classical route's isophote lengths (photutils) of every ``parts``-th galaxy the bar study measures, from
    ``part`` on, on the split the classifier draws with the same seed; id → length."""
    from astroxai.explain.bars import study_isophotes

    data = ImageSet.load(dataset)
    return study_isophotes(labelled_split(data, seed), data, column, part, parts)


def bars_task(dataset, model_dir, regressor_dirs, root, column: str, seed: int, isophotes: list | None = None):
    """Bar lengths from the classifier's SmoothGrad maps against the regressors (Bhambra et al. 2022), written into
    the run's ``bars``; returns the :class:`~astroxai.explain.bars.BarStudy`.  ``isophotes``: the shares of
    :func:`isophotes_task` (id → length; galaxies none has are fitted here)."""
    from astroxai.explain.bars import bar_length_study
    from astroxai.report.layout import RunLayout
    from astroxai.report.writers import write_bar_study

    data, classifier = ImageSet.load(dataset), load_model(model_dir)
    regressors = {}
    for folder in regressor_dirs:
        model = load_model(folder)
        regressors[model.training_["n_images"]] = model
    known = {i: length for share in isophotes or () for i, length in share.items()}
    study = bar_length_study(classifier, regressors, data, column=column, seed=seed, isophotes=known)
    write_bar_study(RunLayout(root), study, data)
    return study


__all__ = ["EQUIVARIANT_TRAINING", "FIRST_NETWORK", "FIRST_TRAINING", "IMAGE_DATA", "NETWORKS", "STUDY_METHODS",
           "ImageRunConfig", "ImageStudy", "check_images", "network_of"]
