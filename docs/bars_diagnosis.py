"""Why bar lengths did not hold up (issue 16): the numbers of the diagnosis in docs/images.md.

Usage:  python docs/bars_diagnosis.py [RUN...] [--n 300] [--isophotes 60]

Part 1, the images (no run needed): for ``--n`` simulated barred galaxies of the simulator as it is and as it was
before November 2026 (Ferrers index 2, a fixed 8–25 % of the light), how visible the bar is along its own axis —
the share of galaxies where it is nowhere brighter than disc + bulge, and how well the extent where it is (and where
it stands 3σ above the noise) follows the true length — with the true lengths against the 64-pixel image, the bar's
share of the light, and r of the astronomers' isophote measurement (``astroxai.explain.bars.bar_from_isophotes``)
on ``--isophotes`` of them.

Part 2, for each RUN (a folder of ``astroxai run --kind galaxy``): how well the direct regressor fits its *own*
training lengths (a network that cannot fit what it was trained on points at the images or the network), the
classifier's SmoothGrad share of |map| on the bar mask by bar strength, length and inclination (test galaxies), and
where the moments and blue-profile routes lose (their errors by true length).
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np
from scipy.ndimage import map_coordinates

from astroxai.explain.bars import bar_from_isophotes
from astroxai.report.layout import RunLayout
from astroxai.simulate import galaxy as G


def _visibility(p: dict, parts: dict) -> tuple[float, float]:
    """Full extents along the bar's projected axis where the bar outshines disc + bulge, and where it stands 3σ
    above the noise of the image (sky plus source, as the simulator draws it)."""
    length, angle = G.projected_bar(p)
    t = np.linspace(0, 0.65 * length, 200)
    where = [p["y0"] + t * np.sin(angle), p["x0"] + t * np.cos(angle)]
    bar = map_coordinates(parts["bar"], where, order=1)
    rest = map_coordinates(parts["disc"] + parts["bulge"], where, order=1)
    peak = sum(parts.values()).max()
    noise = peak / p["central_snr"] * np.sqrt((1 + (bar + rest) / peak) / 2)  # G.noise_sigma along the axis
    extent = [2 * t[mask].max() if mask.any() else 0.0 for mask in (bar > rest, bar > 3 * noise)]
    return extent[0], extent[1]


def images(n: int, n_isophotes: int, legacy: bool, seed: int = 16) -> dict:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        p = G.draw_galaxy_parameters("barred", rng)
        if legacy:  # the simulator before November 2026
            p.update(bar_ferrers_n=2.0, bar_contrast=0.0, bar_fraction=float(rng.uniform(0.08, 0.25)))
        parts = G.galaxy_model(p)
        length, _ = G.projected_bar(p)
        brighter, above_noise = _visibility(p, parts)
        isophote = float("nan")
        if i < n_isophotes:
            model = sum(parts.values())
            image = (model + G.noise_sigma(model, p["central_snr"]) * rng.standard_normal(model.shape)) / model.max()
            isophote = bar_from_isophotes(image, (p["x0"], p["y0"]))["length_px"]
        rows.append((length, p["bar_fraction"], brighter, above_noise, isophote))
    a = np.array(rows)
    true = a[:, 0]
    iso = np.isfinite(a[:, 4])
    return {"true_px": np.percentile(true, [0, 50, 100]), "bar_fraction": np.percentile(a[:, 1], [5, 50, 95]),
            "never_brighter": float(np.mean(a[:, 2] == 0)),
            "r_brighter": float(np.corrcoef(a[:, 2], true)[0, 1]),
            "r_above_noise": float(np.corrcoef(a[:, 3], true)[0, 1]),
            "extent_over_true": float(np.median(a[:, 3] / true)),
            "r_isophotes": float(np.corrcoef(a[iso, 4], true[iso])[0, 1]) if iso.sum() > 2 else float("nan"),
            "isophotes_failed": int(n_isophotes - iso.sum())}


def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def run_diagnosis(run: Path) -> None:
    from astroxai.data import ImageSet
    from astroxai.models import load_model

    data = ImageSet.load(RunLayout(run).dataset)
    regressor = load_model(RunLayout(run).model("galaxy-bar-length").folder)
    length = data.meta["bar_length_px"].astype(float)
    rows = regressor.split_.rows(data.ids, "train")
    rows = rows[length[rows] > 0]
    fit = regressor.predict(data.images[rows])
    r = np.corrcoef(fit, length[rows])[0, 1]
    print(f"{run}: direct regressor on its own {rows.size} training galaxies: r {r:.3f}, "
          f"RMSE {np.sqrt(np.mean((fit - length[rows]) ** 2)):.2f} px (the spread of the lengths: "
          f"{length[rows].std():.2f} px)")
    index = {i: k for k, i in enumerate(data.ids)}
    table = RunLayout(run).explain.method("smoothgrad").table.with_suffix(".csv")
    maps = [r for r in _rows(table) if r["label"] == "barred"]
    share = np.array([float(r["mass_bar"]) for r in maps])
    meta = {key: np.array([float(data.meta[key][index[r["id"]]]) for r in maps])
            for key in ("bar_fraction", "bar_length_px", "cos_incl")}
    for key, label in (("bar_fraction", "bar share of light"), ("bar_length_px", "true length [px]"),
                       ("cos_incl", "cos i")):
        edges = np.quantile(meta[key], [0, 1 / 3, 2 / 3, 1])
        parts = []
        for lo, hi in zip(edges[:-1], edges[1:], strict=True):
            chosen = (meta[key] >= lo) & (meta[key] <= hi)
            parts.append(f"{lo:.2f}–{hi:.2f}: {np.median(share[chosen]):.3f}")
        print(f"  SmoothGrad |map| on the bar mask (median) by {label}: " + "; ".join(parts))
    predictions = _rows(RunLayout(run).bars.predictions.with_suffix(".csv"))
    true = np.array([float(r["true_px"]) for r in predictions])
    for route, name in (("SmoothGrad_+_moments", "moments route"), ("SmoothGrad_+_blue_profile", "blue-profile route")):
        column = max((k for k in predictions[0] if k.startswith(route)), default=None,
                     key=lambda k: int(k.rsplit("(", 1)[1].split("_")[0]))  # the line on the most lengths
        if column is None:  # a run written before the route existed
            continue
        error = np.array([float(r[column]) for r in predictions]) - true
        for lo, hi in ((0, 15), (15, 25), (25, 100)):
            chosen = (true >= lo) & (true < hi)
            if chosen.any():
                print(f"  {name} ({column}), true {lo}–{hi} px: {chosen.sum()} galaxies, "
                      f"median error {np.median(error[chosen]):+.1f} px")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="*", type=Path)
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--isophotes", type=int, default=60)
    options = parser.parse_args()
    for legacy, name in ((True, "before November 2026"), (False, "now")):
        found = images(options.n, options.isophotes, legacy)
        print(f"simulator {name} ({options.n} barred galaxies):")
        print(f"  true projected length: {found['true_px'][0]:.1f} / {found['true_px'][1]:.1f} / "
              f"{found['true_px'][2]:.1f} px (min / median / max) on a {G.SIZE}-pixel image")
        print("  bar share of the light (5 / 50 / 95 %): " + " / ".join(f"{v:.3f}" for v in found["bar_fraction"]))
        print(f"  bar nowhere brighter than disc + bulge along its axis: {found['never_brighter']:.0%}; "
              f"r(extent where it is, true length) {found['r_brighter']:.3f}")
        print(f"  extent 3σ above the noise: median {found['extent_over_true']:.2f} of the true length, "
              f"r {found['r_above_noise']:.3f}")
        print(f"  isophote fitting on {options.isophotes}: r {found['r_isophotes']:.3f} "
              f"({found['isophotes_failed']} fits failed)")
    for run in options.runs:
        run_diagnosis(run)


if __name__ == "__main__":
    main()
