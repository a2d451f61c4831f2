"""``astroxai run --kind radio|galaxy``: the image studies of seeds 002 and 003 end to end on simulated cutouts.

radio (seed 002)
    simulate FIRST-like compact / FR I / FR II / bent-tail cutouts → train the morphology CNN → explain every test
    image with LIME on SLIC superpixels and with SmoothGrad, scoring the share of attribution on each class's
    defining component (hot spots for FR II, jets for FR I and bent tails, the core for compact sources) → trust
    table (deletion/insertion, randomisation sanity) → report.html.
galaxy (seed 003)
    simulate barred / unbarred disc galaxies → train the barred/unbarred CNN and the bar-length regression CNN →
    explain the test galaxies (SmoothGrad, LIME) → bar lengths from SmoothGrad maps against the direct regression →
    trust table → report.html.

Everything is seeded; ``run.json`` holds the config, versions and stage timings.
"""

from __future__ import annotations

import html
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from astroxai.images.imageset import ImageSet
from astroxai.images.study import (
    DEFAULT_IMAGE_TRAIN_SEED,
    DEFINING_COMPONENT,
    PAPER_BARS,
    ImageTrainConfig,
    bar_length_study,
    explain_image_set,
    image_split,
    image_trust,
    train_image_study,
)
from astroxai.plots import save_figure
from astroxai.provenance import write_run_record
from astroxai.tables import write_table

#: Explanation methods of each study, the seed's own first.
STUDY_METHODS = {"radio": ("lime", "smoothgrad"), "galaxy": ("smoothgrad", "lime")}


@dataclass
class ImageRunConfig:
    """Settings of ``astroxai run --kind radio|galaxy`` (any subset in a JSON file)."""

    kind: str = "radio"
    n_per_class: int | None = None  # None: the simulator's default (300 radio, 600 galaxy per class)
    seed: int | None = None  # simulation seed (None: the package's image seed)
    train_seed: int = DEFAULT_IMAGE_TRAIN_SEED
    max_epochs: int = 100
    augment: bool | None = None  # quarter turns and flips in training; None: galaxies yes, radio no (docs/images.md)
    gallery_per_class: int = 2
    bar_lengths_few: int = 64  # galaxy: also learn bar lengths from only this many measured galaxies (0: skip)
    trust_images: int = 24
    trust_methods: tuple = ("saliency", "smoothgrad", "integrated-gradients", "occlusion", "lime")

    @classmethod
    def from_file(cls, path, kind: str) -> ImageRunConfig:
        data = json.loads(Path(path).read_text())
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"{path}: unknown config keys {sorted(unknown)}")
        return cls(**{**data, "kind": kind})


def _gallery_first(labels, rows, per_class: int) -> np.ndarray:
    """``rows`` reordered so that the first ``per_class`` of each class come first (the gallery), class by class."""
    chosen = [r for cls in sorted(set(labels[rows])) for r in rows[labels[rows] == cls][:per_class]]
    return np.concatenate([np.asarray(chosen, dtype=np.int64), np.setdiff1d(rows, chosen, assume_unique=False)])


def overlap_summary(rows_by_method: dict) -> list[dict]:
    """Per method and class: the median share of |attribution| on the class's defining component and its lift."""
    table = []
    for method, rows in rows_by_method.items():
        for cls in sorted({r["label"] for r in rows}):
            scored = [r for r in rows if r["label"] == cls and "defining_mass" in r]
            if not scored:
                continue
            table.append({"method": method, "class": cls, "component": scored[0]["defining"], "n": len(scored),
                          "median_mass": round(float(np.median([r["defining_mass"] for r in scored])), 3),
                          "median_lift": round(float(np.median([r["defining_lift"] for r in scored])), 2),
                          "share_lift_above_1": round(float(np.mean([r["defining_lift"] > 1 for r in scored])), 3)})
    return table


def run_image_pipeline(cfg: ImageRunConfig, out, progress=None, echo=print) -> dict:
    """Run the image study of ``cfg.kind`` into ``out``; returns a summary (see the module doc)."""
    from astroxai.models.persist import load_model
    from astroxai.plots.images import plot_examples
    from astroxai.simulate.images import DEFAULT_IMAGE_COUNTS, DEFAULT_IMAGE_SEED, simulate_image_sample

    if cfg.kind not in STUDY_METHODS:
        raise ValueError(f"unknown image study {cfg.kind!r}; choose from {sorted(STUDY_METHODS)}")
    out = Path(out)
    timings: dict[str, float] = {}
    start = time.perf_counter()
    counts = (DEFAULT_IMAGE_COUNTS[cfg.kind] if cfg.n_per_class is None
              else dict.fromkeys(DEFAULT_IMAGE_COUNTS[cfg.kind], cfg.n_per_class))
    seed = DEFAULT_IMAGE_SEED if cfg.seed is None else cfg.seed
    path = simulate_image_sample(out / "simulated", cfg.kind, counts, seed, progress=progress)
    data = ImageSet.load(path)
    save_figure(plot_examples(data.images, data.labels, data.classes, pixel_arcsec=data.attrs.get("pixel_arcsec")),
                out / "figures" / "examples")
    timings["simulate_s"] = time.perf_counter() - start
    echo(f"simulated {len(data)} {cfg.kind} images in {timings['simulate_s']:.1f} s")

    def epochs_bar(iterable, total):
        return progress(iterable, "CNN epochs", total) if progress else iterable

    augment = cfg.kind == "galaxy" if cfg.augment is None else cfg.augment
    base = ImageTrainConfig(seed=cfg.train_seed, max_epochs=cfg.max_epochs, augment=augment)
    stage = time.perf_counter()
    classifier_dir = out / "models" / f"{cfg.kind}-classifier"
    summary = {"kind": cfg.kind, "classifier": train_image_study(data, classifier_dir, base, progress=epochs_bar,
                                                                 echo=echo, dataset_path=str(path))}
    timings["train_classifier_s"] = time.perf_counter() - stage
    classifier, meta = load_model(classifier_dir)
    regressors = {}
    if cfg.kind == "galaxy":
        stage = time.perf_counter()
        for name, limit in (("galaxy-bar-length", None), ("galaxy-bar-length-few", cfg.bar_lengths_few or None)):
            if name.endswith("few") and limit is None:
                continue
            regressor_dir = out / "models" / name
            summary[name] = train_image_study(
                data, regressor_dir, ImageTrainConfig(**{**asdict(base), "task": "regress", "max_measured": limit}),
                progress=epochs_bar, echo=echo, dataset_path=str(path))
            regressor, regressor_meta = load_model(regressor_dir)
            regressors[int(regressor_meta["training"]["n_images"])] = regressor
        timings["train_regressors_s"] = time.perf_counter() - stage

    split = image_split(data, cfg.train_seed)
    test = _gallery_first(data.labels, split.test, cfg.gallery_per_class)
    gallery = cfg.gallery_per_class * len(data.classes)
    explained = {}
    for method in STUDY_METHODS[cfg.kind]:
        stage = time.perf_counter()
        echo(f"explaining {test.size} test images with {method}")
        result = explain_image_set(classifier, meta, data.subset(test), out / "explain" / method, method=method,
                                   seed=cfg.train_seed, max_figures=gallery, echo=echo,
                                   progress=(lambda it, total, m=method: progress(it, f"{m} batches", total))
                                   if progress else None)
        explained[method] = result["rows"]
        timings[f"explain_{method}_s"] = time.perf_counter() - stage
    overlap = overlap_summary(explained)
    write_table(overlap, out / "explain" / "overlap", {"defining_component": DEFINING_COMPONENT,
                                                        "images": "test part, each image's predicted class"})
    summary["overlap"] = overlap

    stage = time.perf_counter()
    rng = np.random.default_rng(cfg.train_seed)
    trust_rows = np.sort(rng.choice(split.test, size=min(cfg.trust_images, split.test.size), replace=False))
    echo(f"trust table on {trust_rows.size} test images")
    trust = image_trust(classifier, data, trust_rows, methods=cfg.trust_methods, seed=cfg.train_seed, echo=echo)
    write_table(trust, out / "trust", {"baseline": "0 (empty sky) in the prepared image", "seed": cfg.train_seed})
    summary["trust"] = trust
    timings["trust_s"] = time.perf_counter() - stage

    if cfg.kind == "galaxy":
        stage = time.perf_counter()
        echo("bar lengths: SmoothGrad maps against the direct regression")
        summary["bars"] = bar_length_study(classifier, regressors, data, split, out / "bars", seed=cfg.train_seed,
                                           echo=echo)
        timings["bars_s"] = time.perf_counter() - stage

    timings = {k: round(v, 2) for k, v in timings.items()}
    timings["total_s"] = round(time.perf_counter() - start, 2)
    summary["timings"] = timings
    write_run_record(out, {"command": "run", **asdict(cfg), "simulation_seed": seed, "counts": counts,
                           "timings": timings})
    summary["report"] = str(write_image_report(out))
    return summary


# ---------------------------------------------------------------------------------------------------------------------
# report.html

def write_image_report(run_dir, name: str = "report.html") -> Path:
    """One self-contained page for an image run (figures embedded, tables linked), like the spectra report."""
    from astroxai.report import STYLE, _img, _read_csv, _table

    root = Path(run_dir)
    record = json.loads((root / "run.json").read_text())
    kind = record["config"]["kind"] if "config" in record else record.get("kind")
    body = [f"<h1>astroxai: {html.escape(str(kind))} images explained</h1>"]
    seed_note = {"radio": "seed 002: LIME on a radio-galaxy morphology classifier",
                 "galaxy": "seed 003: SmoothGrad maps of a barred/unbarred CNN measure bar lengths"}.get(kind, "")
    body.append(f'<p class="note">Simulated data ({html.escape(seed_note)}). Config, versions and timings: '
                '<a href="run.json">run.json</a>; every cutout: <a href="simulated/catalog.csv">catalog.csv</a>.</p>')
    body.append("<h2>1. Data</h2>")
    body.append(_img(root / "figures" / "examples.png", root, "Example cutouts per class (asinh stretch)."))
    body.append("<h2>2. Networks</h2>")
    for folder in sorted((root / "models").glob("*"), key=lambda p: (not p.name.endswith("classifier"), p.name)):
        model = json.loads((folder / "model.json").read_text())
        body.append(f"<h3>{html.escape(folder.name)}</h3>")
        timings = model.get("timings", {})
        body.append(f'<p class="note">{model["n_parameters"]:,} parameters; {model["training"]["epochs"]} epochs in '
                    f'{timings.get("fit_s", float("nan")):.0f} s (best epoch {model["training"]["best_epoch"]}).</p>')
        body.append(_table(_read_csv(folder / "test_metrics.csv"), source=folder / "test_metrics.csv", root=root))
        for stem, caption in (("confusion", "Test confusion matrix."), ("test_scatter", "Test predictions."),
                              ("history", "Training history (early stopping on the validation part).")):
            if (folder / "figures" / f"{stem}.png").exists():
                body.append(_img(folder / "figures" / f"{stem}.png", root, caption))
    body.append("<h2>3. Explanations</h2>")
    body.append('<p class="note">Each test image explained for its predicted class. Left: the cutout with the '
                "simulator's true components outlined (radio: white core, cyan jets, yellow lobes, pink hot spots; "
                "galaxies: cyan bar); middle: the map (red raises the probability, blue lowers it); right: the "
                "strongest 10 % of |attribution|. The overlap table gives the median share of |attribution| on each "
                "class's defining component and its lift over the component's share of the image (1 = no better "
                "than spreading evenly).</p>")
    overlap = root / "explain" / "overlap.csv"
    if overlap.exists():
        body.append(_table(_read_csv(overlap), source=overlap, root=root))
    for method_dir in sorted(p for p in (root / "explain").glob("*") if p.is_dir()):
        for png in sorted((method_dir / "figures").glob("*.png")):
            body.append(_img(png, root, f"{method_dir.name}: gallery of test images."))
    if (root / "bars" / "bars.csv").exists():
        body.append("<h2>4. Bar lengths from SmoothGrad maps</h2>")
        meta = json.loads((root / "bars" / "bars.json").read_text())
        body.append('<p class="note">Barred test galaxies. SmoothGrad + moments: 4√(λ<sub>max</sub> − '
                    "λ<sub>min</sub>) of the |map|-weighted second moments near the centre; SmoothGrad + threshold: "
                    "the central component above 35 % of the map's central maximum; both calibrated by a line fitted "
                    "on the lengths of N barred training galaxies. Direct regression: a CNN trained on the same N "
                    f"lengths (N = all {meta.get('n_train')}, and a small hand-measured-like subset). The classifier "
                    "itself needs only barred/unbarred labels. Seed 003 (human measurements of Galaxy Zoo bars): "
                    "SmoothGrad r = "
                    f"{PAPER_BARS['smoothgrad']['r']}, RMSE {PAPER_BARS['smoothgrad']['rmse']}; direct CNN r = "
                    f"{PAPER_BARS['direct']['r']}, RMSE {PAPER_BARS['direct']['rmse']} — other data and units, so "
                    "compare which method wins, not the numbers.</p>")
        body.append(_table(_read_csv(root / "bars" / "bars.csv"), source=root / "bars" / "bars.csv", root=root))
        for stem, caption in (("bar_scatter", "Measured against true projected bar length."),
                              ("bar_measurements", "Measured bars (red) over the true bar (cyan outline), and the "
                                                   "region of the map that was measured.")):
            if (root / "bars" / "figures" / f"{stem}.png").exists():
                body.append(_img(root / "bars" / "figures" / f"{stem}.png", root, caption))
    if (root / "trust.csv").exists():
        body.append("<h2>5. How far to trust each method</h2>")
        body.append('<p class="note">Deletion: area under the predicted class\'s probability as pixels are set to '
                    "empty sky in order of attribution (lower is better), against random orders; beats = share of "
                    "images where the map beats random. Sanity: Spearman ρ between |maps| of the network and of a "
                    "re-initialised copy (passes below 0.5). Defining mass/lift: as in the overlap table.</p>")
        body.append(_table(_read_csv(root / "trust.csv"), source=root / "trust.csv", root=root))
    page = ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>astroxai image report</title>"
            f"<style>{STYLE}</style></head><body>" + "\n".join(body) + "</body></html>")
    path = root / name
    path.write_text(page, encoding="utf-8")
    return path
