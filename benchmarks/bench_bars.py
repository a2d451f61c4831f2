"""What each change of issue 16 is worth, on one galaxy run: the routes from SmoothGrad maps to bar lengths, and the
bar-length regressor's training.

Usage:  python benchmarks/bench_bars.py runs/galaxy [--regressors] [--seeds 20220613 7]

Part 1 (about a minute): the run's classifier explains its barred training and test galaxies (SmoothGrad, the
study's settings, ``--map-seeds`` noise draws), and every route variant is calibrated on the first 64 training
lengths and scored on the test galaxies — |map| or its blue (positive) part, moments or a profile along the axis,
both sides or the shorter one, and the profile's level and smoothing.  It prints r on the test galaxies and on all
training galaxies (the figure the settings were chosen by), so that the choice can be checked.

Part 1b (``--classifier-seeds``, ~2–4 minutes each): a classifier trained again on the run's images with the run's
settings and another seed (``--classifier-settings`` adds JSON settings, e.g. '{"dropout": 0.1}'), and the main
route on its maps: the route is only as good as the classifier's maps.

Part 2 (``--regressors``, a few minutes per row): the direct regressor trained on all barred training lengths with
the estimator's defaults and without its output scaling (the network before November 2026), with the scaling, and
with the scaling and ``REGRESSOR_TRAINING``, for each ``--seeds``; r and RMSE on its training and test lengths.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from astroxai.data import ImageSet
from astroxai.explain import bars
from astroxai.explain.explainer import Explainer
from astroxai.models import ImageCNNClassifier, ImageCNNRegressor, load_model
from astroxai.models.evaluate import regression_metrics
from astroxai.models.image_cnn import REGRESSOR_TRAINING
from astroxai.report.layout import RunLayout

MEASURED = 64  # the hand-measured sample the routes are calibrated on


def score(train_values, test_values, train_true, test_true, n=MEASURED) -> tuple[float, float, float]:
    """r and RMSE on the test galaxies of the line fitted on the first ``n`` training galaxies, and r on all of them."""
    slope, intercept = bars.calibrate(train_values[:n], train_true[:n])
    test = regression_metrics(test_true, slope * test_values + intercept)
    return test["r"], test["rmse"], regression_metrics(train_true, train_values)["r"]


def variants() -> dict:
    """Route name → function of one signed map (C, H, W) → length in pixels."""
    def blue(sign=1.0, **options):
        return lambda m: bars.bar_from_blue_profile(sign * m, **options)["length_px"]

    def both_sides(**options):  # the blue profile with the two sides added, not the shorter one doubled
        return lambda m: sum(bars.bar_from_blue_profile(m, **options)["sides"])

    found = {"|map|, moments within 10 px (before)": lambda m: bars.bar_from_moments(m)["length_px"],
             "|map|, anisotropy profile": lambda m: bars.bar_from_profile(m)["length_px"],
             "blue part, moments within 10 px": lambda m: bars.bar_from_moments(np.clip(m, 0, None))["length_px"],
             "red part, blue profile": blue(-1.0)}
    for level in (0.2, 0.35, 0.5):
        for smooth in (1.0, 1.5, 2.0):
            found[f"blue profile, both sides, level {level}, smooth {smooth}"] = both_sides(level=level, smooth=smooth)
            found[f"blue profile, 2 × shorter, level {level}, smooth {smooth}"] = blue(level=level, smooth=smooth)
    return found


def routes(run: Path, map_seeds) -> None:
    data = ImageSet.load(RunLayout(run).dataset)
    classifier = load_model(RunLayout(run).model("galaxy-classifier").folder)
    length = data.meta["bar_length_px"].astype(np.float64)
    split = classifier.split_
    parts = {part: split.rows(data.ids, part) for part in ("train", "test")}
    parts = {part: rows[length[rows] > 0] for part, rows in parts.items()}
    true = {part: length[rows] for part, rows in parts.items()}
    table = {}
    for seed in map_seeds:
        start = time.perf_counter()
        explainer = Explainer(classifier, "smoothgrad", seed=seed)
        maps = {part: explainer.explain(data.subset(rows), target="barred").maps for part, rows in parts.items()}
        print(f"SmoothGrad maps of {sum(map(len, parts.values()))} barred galaxies, seed {seed}: "
              f"{time.perf_counter() - start:.1f} s")
        for name, measure in variants().items():
            values = {part: np.array([measure(m) for m in maps[part]]) for part in maps}
            table.setdefault(name, []).append(score(values["train"], values["test"], true["train"], true["test"]))
    print(f"\nroutes, line on {MEASURED} training lengths; r (RMSE px) on {len(true['test'])} test galaxies per map "
          f"seed; r on all {len(true['train'])} training galaxies (mean over seeds):")
    width = max(map(len, table))
    for name, rows in table.items():
        tests = "  ".join(f"{r:.3f} ({rmse:.2f})" for r, rmse, _ in rows)
        print(f"  {name:<{width}}  test {tests}   train {np.mean([row[2] for row in rows]):.3f}")


def other_classifiers(run: Path, seeds, extra: dict) -> None:
    data = ImageSet.load(RunLayout(run).dataset)
    length = data.meta["bar_length_px"].astype(np.float64)
    print(f"\nthe main route ({bars.MAIN_ROUTE}) on the maps of classifiers trained again, settings + {extra}:")
    for seed in seeds:
        start = time.perf_counter()
        classifier = ImageCNNClassifier(**{"augment": True, "max_epochs": 100, **extra, "seed": seed}).fit(data)
        test = classifier.split_.rows(data.ids, "test")
        accuracy = float(np.mean(classifier.predict(data.images[test]) == data.labels[test]))
        parts = {part: classifier.split_.rows(data.ids, part) for part in ("train", "test")}
        parts = {part: rows[length[rows] > 0] for part, rows in parts.items()}
        explainer = Explainer(classifier, "smoothgrad", seed=seed)
        values = {part: bars.bar_lengths(explainer.explain(data.subset(rows), target="barred").maps)
                  for part, rows in parts.items()}
        r, rmse, r_train = score(values["train"], values["test"], length[parts["train"]], length[parts["test"]])
        print(f"  seed {seed:>8}: accuracy {accuracy:.3f}; test r {r:.3f} ({rmse:.2f} px), training r {r_train:.3f}; "
              f"{time.perf_counter() - start:.0f} s", flush=True)


class _Unscaled(ImageCNNRegressor):
    """The regressor as it was before November 2026: its output in pixels straight from the last layer."""

    def _output_scaling(self, targets) -> dict:
        return {}


def regressors(run: Path, seeds) -> None:
    data = ImageSet.load(RunLayout(run).dataset)
    length = data.meta["bar_length_px"].astype(np.float64)
    settings = {"augment": True}
    rows = (("defaults, no output scaling (before)", _Unscaled, {}),
            ("defaults, output scaling", ImageCNNRegressor, {}),
            ("output scaling + REGRESSOR_TRAINING (now)", ImageCNNRegressor, REGRESSOR_TRAINING))
    print("\ndirect regressor, all barred training lengths (r and RMSE px; epochs run, best epoch, seconds):")
    for name, kind, extra in rows:
        for seed in seeds:
            start = time.perf_counter()
            model = kind(**{**settings, **extra, "seed": seed}).fit(data)
            seconds = time.perf_counter() - start
            found = []
            for part in ("train", "test"):
                where = model.measured(data, model.split_.rows(data.ids, part))
                m = regression_metrics(length[where], model.predict(data.images[where]))
                found.append(f"{part} r {m['r']:.3f} ({m['rmse']:.2f})")
            print(f"  {name:<42} seed {seed:>8}: {', '.join(found)}; {len(model.history_)} epochs, best "
                  f"{model.training_['best_epoch']}, {seconds:.0f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a folder of `astroxai run --kind galaxy`")
    parser.add_argument("--map-seeds", type=int, nargs="+", default=[20220613, 1])
    parser.add_argument("--classifier-seeds", type=int, nargs="*", default=[],
                        help="train the classifier again with these seeds and score the main route on its maps")
    parser.add_argument("--classifier-settings", type=json.loads, default={},
                        help="JSON settings for those classifiers (default: the run's)")
    parser.add_argument("--regressors", action="store_true", help="also train the regressor variants (minutes)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[20220613])
    options = parser.parse_args()
    routes(options.run, options.map_seeds)
    if options.classifier_seeds:
        other_classifiers(options.run, options.classifier_seeds, options.classifier_settings)
    if options.regressors:
        regressors(options.run, options.seeds)


if __name__ == "__main__":
    main()
