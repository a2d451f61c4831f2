"""Real FIRST radio galaxies (Griese et al. 2023): today's plain CNN against the D4-equivariant network, several seeds
each, on the literature's split — choices on the 200 validation images, scores on the 200 test images.

    python benchmarks/bench_first_seeds.py --cli [--models cnn,equivariant] [--seeds 0,1,2] [--out /tmp/first-seeds]

With ``--cli`` each model is trained by ``astroxai train first --model NAME --seed SEED`` (the recipe a user gets;
the folders OUT/NAME-SEED are model folders, one of which is shipped as ``first-radio``); without it, in this process,
with ``--set KEY=JSON`` settings to try.  Each (model, seed) is trained once and its figures saved as
``OUT/<model>-<seed>.json``, so an interrupted study resumes where it stopped.  The plain CNN is also scored with
test-time averaging over the eight turns and flips (``cnn + 8 views``: the same weights, no retraining); the
equivariant network is invariant to them by construction.
Printed per model: validation and test accuracy, macro F1, per-class test recall, the FR I ↔ bent confusions (test
images of one class called the other, both ways), epochs and training seconds; mean ± standard deviation over seeds.
Needs ``firstgalaxydata`` (the test extra).  Training time depends on what else runs: the script prints the torch
thread count.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import f1_score, recall_score

from astroxai.io.first import first_galaxies
from astroxai.models import EquivariantImageClassifier, ImageCNNClassifier, load_model
from astroxai.workflows.studies.images import FIRST_TRAINING


def build(name: str, seed: int, max_epochs: int | None, settings: dict | None = None):
    extra = {**({} if max_epochs is None else {"max_epochs": max_epochs}), **(settings or {})}
    if name == "cnn":
        return ImageCNNClassifier(**{**FIRST_TRAINING, **extra}, seed=seed)
    if name == "equivariant":
        return EquivariantImageClassifier(**extra, seed=seed)
    raise SystemExit(f"unknown model {name!r}")


def scores(model, data, rows) -> dict:
    truth = data.labels[rows]
    predicted = model.predict(data.subset(rows))
    classes = list(model.classes_)
    recall = recall_score(truth, predicted, labels=classes, average=None, zero_division=0)
    return {"accuracy": float(np.mean(predicted == truth)),
            "macro_f1": float(f1_score(truth, predicted, labels=classes, average="macro", zero_division=0)),
            "recall": {c: float(r) for c, r in zip(classes, recall, strict=True)},
            "FRI_bent": int(np.sum((truth == "FRI") & (predicted == "bent")) + np.sum((truth == "bent")
                                                                                      & (predicted == "FRI")))}


def trained_by_the_command(name: str, seed: int, folder: Path):
    """The model ``astroxai train first --model NAME --seed SEED`` writes (trained once; the folder is reused)."""
    if not (folder / "model.json").is_file():
        # the console script installed beside this Python: the command a user types, recorded as such
        command = [str(Path(sys.executable).parent / "astroxai"), "train", "first", "--model", name, "--seed",
                   str(seed), "--out", str(folder)]
        print(" ".join(["astroxai", *command[1:]]), flush=True)
        subprocess.run(command, check=True)
    model = load_model(folder)
    return model, float(model.metadata_["timings"]["fit_s"])


def one(name: str, seed: int, data, max_epochs: int | None, settings: dict | None = None,
        folder: Path | None = None) -> dict:
    if folder is not None:
        model, seconds = trained_by_the_command(name, seed, folder)
    else:
        model = build(name, seed, max_epochs, settings)
        start = time.perf_counter()
        model.fit(data)
        seconds = time.perf_counter() - start
    split = model.split_
    validation, test = (split.rows(data.ids, part) for part in ("validation", "test"))
    if name == "cnn":  # one view first (the run's recipe averages the eight: scored below)
        model.module_.average_views = False
    out = {"model": name, "seed": seed, "seconds": round(seconds, 1), "epochs": len(model.history_),
           "validation": scores(model, data, validation), "test": scores(model, data, test)}
    if name == "cnn":  # the same weights with test-time averaging over the eight views
        model.module_.average_views = True
        out["views"] = {"validation": scores(model, data, validation), "test": scores(model, data, test)}
    return out


def summary(label: str, rows: list[dict], key=lambda r: r) -> str:
    def stat(values):
        values = np.asarray(values, dtype=float)
        return f"{values.mean():.3f} ± {values.std(ddof=1) if len(values) > 1 else 0:.3f}"

    parts = [key(r) for r in rows]
    classes = sorted(parts[0]["test"]["recall"])
    recall = ", ".join(f"{c} {np.mean([p['test']['recall'][c] for p in parts]):.2f}" for c in classes)
    return (f"| {label} | {len(rows)} | {stat([p['validation']['accuracy'] for p in parts])} | "
            f"{stat([p['test']['accuracy'] for p in parts])} | {stat([p['test']['macro_f1'] for p in parts])} | "
            f"{recall} | {np.mean([p['test']['FRI_bent'] for p in parts]):.1f} | "
            f"{np.mean([r['epochs'] for r in rows]):.0f} | {np.mean([r['seconds'] for r in rows]):.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="cnn,equivariant")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--out", type=Path, default=Path("/tmp/first-seeds"))
    parser.add_argument("--max-epochs", type=int, default=None)
    parser.add_argument("--cli", action="store_true",
                        help="train each model with `astroxai train first --model NAME --seed SEED` into "
                             "OUT/NAME-SEED/ (its defaults: the recipe a user gets) instead of in this process")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=JSON",
                        help="an estimator setting to try (e.g. --set schedule='\"one-cycle\"'); results are "
                             "saved under a name that includes it")
    args = parser.parse_args()
    settings = {key: json.loads(value) for key, value in (item.split("=", 1) for item in args.set)}
    tag = "".join(f"_{key}={value}" for key, value in sorted(settings.items())).replace("/", "-").replace(" ", "")
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"torch threads: {torch.get_num_threads()}", flush=True)
    data, _ = first_galaxies()
    results: dict[str, list[dict]] = {}
    for name in args.models.split(","):
        for seed in (int(s) for s in args.seeds.split(",")):
            path = args.out / f"{name}{tag}-{seed}.json"
            if path.is_file():
                row = json.loads(path.read_text())
            else:
                if args.cli and (settings or args.max_epochs):
                    raise SystemExit("--cli trains with the command's own settings: no --set or --max-epochs")
                row = one(name, seed, data, args.max_epochs, settings,
                          args.out / f"{name}-{seed}" if args.cli else None)
                temporary = path.with_suffix(".tmp")
                temporary.write_text(json.dumps(row, indent=1))
                temporary.replace(path)
            print(f"{name} seed {seed}: validation {row['validation']['accuracy']:.3f}, test "
                  f"{row['test']['accuracy']:.3f} ({row['epochs']} epochs, {row['seconds']:.0f} s)", flush=True)
            results.setdefault(name, []).append(row)
    print("\n| model | seeds | validation accuracy | test accuracy | test macro F1 | test recall | FR I ↔ bent "
          "| epochs | training s |\n|---|---|---|---|---|---|---|---|---|")
    for name, rows in results.items():
        print(summary(name, rows))
        if "views" in rows[0]:
            print(summary(f"{name} + 8 views", rows, key=lambda r: r["views"]))


if __name__ == "__main__":
    main()
