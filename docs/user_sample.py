"""Make a user's own labelled samples to run the whole study on (``astroxai run --data``), as a new user would bring
them: spectra and image cutouts made another way than ``astroxai simulate`` makes its files, under other class
names, with a catalogue; the spectra mixed with the real SDSS/BOSS/DESI files the test extras carry.

Usage (from the repository root):

    python docs/user_sample.py OUT [--per-class 80] [--images 60]
    astroxai run --data OUT/spectra/labels.csv --classes Sy1,Sy1.9,Sy2 --broad Sy1,Sy1.9 --out OUT/run-spectra
    astroxai run --kind galaxy --data OUT/images/cutouts --catalog OUT/images/labels.csv --target bar_px \\
        --out OUT/run-images

Spectra: ``--per-class`` AGN spectra of each of Sy1, Sy1.9 and Sy2 (the simulator's type 1, intermediate and type 2
drawn one by one), half of them text tables whose redshift is only in the catalogue, plus 26 real spectra labelled
``galaxy`` (six files and the 20 fibres of a BOSS spPlate, which have no redshift): without ``--classes`` the run is
refused (5 real galaxies reduce, too few for the search), with it they are left out, each with its reason.
Images: ``--images`` barred (``SB``) and unbarred (``SA``) disc galaxies as FITS cutouts, the bar lengths in pixels in
the catalogue's ``bar_px`` column.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.helpers: the generator the tests use

from tests.helpers import real_spectra, user_spectra  # noqa: E402


def user_images(folder: Path, n_per_class: int, seed: int) -> Path:
    """Barred and unbarred galaxies as FITS cutouts under the user's names, with a catalogue of labels and bar
    lengths; returns the catalogue."""
    from astropy.io import fits

    from astroxai import simulate

    data = simulate.image_set("galaxy", {"barred": n_per_class, "unbarred": n_per_class}, seed=seed)
    (folder / "cutouts").mkdir(parents=True, exist_ok=True)
    rows = []
    for image, label, image_id, length in zip(data.images, data.labels, data.ids, data.meta["bar_length_px"],
                                               strict=True):
        fits.PrimaryHDU(image[0]).writeto(folder / "cutouts" / f"{image_id}.fits", overwrite=True)
        rows.append({"file": f"cutouts/{image_id}.fits", "label": {"barred": "SB", "unbarred": "SA"}[label],
                     "bar_px": f"{length:.3f}" if np.isfinite(length) and length > 0 else ""})
    with open(folder / "labels.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return folder / "labels.csv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--per-class", type=int, default=80)
    parser.add_argument("--images", type=int, default=60)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    counts = {"Sy1": args.per_class, "Sy1.9": args.per_class, "Sy2": args.per_class}
    spectra = user_spectra(args.out / "spectra", counts, seed=args.seed, real=real_spectra())
    images = user_images(args.out / "images", args.images, seed=args.seed)
    print(f"spectra: {sum(counts.values())} simulated + 26 real rows → {spectra}")
    print(f"images: {2 * args.images} cutouts → {images}")


if __name__ == "__main__":
    main()
