"""The physics check of saliency maps for one or more model folders, on the test part of each model's split.

Usage:  python docs/physics_check.py RUN_DIR [MODEL_DIR ...] [--out DIR]

RUN_DIR is an `astroxai run` folder (its dataset.h5 and simulated/catalog.csv, which records which spectra
have a broad Hβ); MODEL_DIR defaults to RUN_DIR/models/svm-3class.  Prints, per model, the fraction of
broad-Hβ test spectra whose map has opposite mean signs in the Hβ core and wings (overall and per explained
class), and the median share of |saliency| within ±2000 km/s of the seven lines against the share of
wavelengths there.  Used for docs/explain.md (e.g. `python docs/physics_check.py runs/default
runs/default/models/svm-3class runs/standardised`).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("models", nargs="*", type=Path)
    parser.add_argument("--out", type=Path, default=None, help="where to keep the study's outputs")
    args = parser.parse_args()

    from astroxai.data import SpectraSet
    from astroxai.explain.study import PAPER_BROAD, broad_rows, saliency_study
    from astroxai.models import load_model
    from astroxai.report.layout import RunLayout
    from astroxai.report.saliency import write_saliency_study
    from astroxai.simulate import read_truth

    layout = RunLayout(args.run_dir)
    data = SpectraSet.load(layout.dataset)
    for model_dir in args.models or [layout.model("svm-3class").folder]:
        model = load_model(model_dir)
        rows = model.split_.rows(data.ids, "test")
        truth = read_truth(layout.truth, data.ids[rows])
        test = data.subset(rows)
        broad = broad_rows(test.labels, PAPER_BROAD) if truth is None else truth["broad"]
        study = saliency_study(model, test, broad=broad, n_correct=0)
        write_saliency_study(RunLayout(args.out / model_dir.name if args.out else Path(tempfile.mkdtemp())), study,
                             test)
        physics = study.physics
        scaled = "standardised" if getattr(model, "standardise", False) else "raw"
        kind = getattr(model, "kernel_", "CNN")
        print(f"{model_dir} ({kind}, {scaled} features): {physics['n_maps']} non-zero maps, "
              f"{physics['n_zero_maps']} zero")
        print(f"  Hβ core vs wings opposite: {physics['n_opposite']} of {physics['n_broad_hbeta']} broad-Hβ spectra "
              f"({physics['opposite_fraction']:.0%}); by explained class: "
              + ", ".join(f"{c} {physics[f'opposite_fraction_broad_{c}']:.0%} of {physics[f'n_broad_{c}']}"
                          for c in model.classes_ if physics.get(f"opposite_fraction_broad_{c}") is not None))
        print(f"  |saliency| within ±2000 km/s of the lines: median {physics['line_saliency_share_median']:.1%} "
              f"on {physics['line_wavelength_share']:.1%} of the wavelengths")


if __name__ == "__main__":
    main()
