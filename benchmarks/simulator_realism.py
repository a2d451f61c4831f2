"""How close the simulated sample is to the real one: quantiles side by side, and a real-vs-simulated figure.

Usage:  python benchmarks/simulator_realism.py [RUN_DIR] [--figures DIR]

RUN_DIR is the output of `astroxai run` (default runs/default; simulated and reduced if missing).  Prints
the simulated intermediate sample's broad-Hβ FWHM, [O III]/Hβ, S/N and other quantiles next to the real
ones (Vaona et al. 2012, shared/docs/agn-spectra.md §4), and draws the real SDSS DR18 spectrum of NGC 3073
(shipped with ppxf) beside the most similar simulated type 2, both reduced by astroxai on the part of the
paper's grid that both cover.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

from astroxai import SpectraSet
from astroxai.io import read_spectrum
from astroxai.reduce import reduce_spectrum, snr_at, wavelength_grid
from astroxai.report.layout import RunLayout
from astroxai.simulate import agn

REAL = {  # quantity: (5 %, 50 %, 95 %) of the real intermediate sample, agn-spectra.md §4
    "FWHM broad Hβ [km/s] (where detected)": agn.Q_FWHM_HB_BROAD_INT,
    "[O III] 5007 / Hβ narrow": agn.Q_OIII_HB,
    "S/N (real: 5500 Å; sim: 5100 Å, measured)": agn.Q_SNR_SEYFERT,
    "broad / narrow Hβ flux (where detected)": agn.Q_BROAD_NARROW_HB,
    "FWHM narrow Hβ [km/s]": agn.Q_FWHM_HB_NARROW,
    "FWHM [O III] [km/s]": agn.Q_FWHM_OIII,
    "σ* [km/s]": agn.Q_SIGMA_STAR,
    "E(B−V)": agn.Q_EBV,
    "redshift z": agn.Q_Z_SEYFERT,
}


def ensure_run(run: Path) -> Path:
    if not RunLayout(run).dataset.is_file():
        from astroxai.workflows.run import run as run_study

        run_study("spectra", run)
    return run


def quantiles(values) -> tuple[float, float, float]:
    return tuple(np.percentile(np.asarray(values, float), [5, 50, 95]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", nargs="?", type=Path, default=Path("runs/default"))
    parser.add_argument("--figures", type=Path, default=None, help="also write the figures into this folder")
    args = parser.parse_args()
    run = ensure_run(args.run)
    with open(RunLayout(run).truth) as handle:
        rows = [r for r in csv.DictReader(handle)]
    inter = [r for r in rows if r["label"] == "intermediate"]
    broad = [r for r in inter if r["has_broad_hb"] == "True"]
    data = SpectraSet.load(RunLayout(run).dataset)
    snr = data.meta["snr_5100"][data.labels == "intermediate"]
    sim = {
        "FWHM broad Hβ [km/s] (where detected)": [float(r["fwhm_hb_broad"]) for r in broad],
        "[O III] 5007 / Hβ narrow": [float(r["oiii_hb"]) for r in inter],
        "S/N (real: 5500 Å; sim: 5100 Å, measured)": snr,
        "broad / narrow Hβ flux (where detected)": [float(r["broad_narrow_hb"]) for r in broad],
        "FWHM narrow Hβ [km/s]": [float(r["fwhm_hb_narrow"]) for r in inter],
        "FWHM [O III] [km/s]": [float(r["fwhm_oiii"]) for r in inter],
        "σ* [km/s]": [float(r["sigma_star"]) for r in inter],
        "E(B−V)": [float(r["ebv"]) for r in inter],
        "redshift z": [float(r["z"]) for r in inter],
    }
    print(f"Simulated intermediate sample (n = {len(inter)}) vs real (n = 521); quantiles 5 / 50 / 95 %")
    print(f"{'quantity':<44} {'simulated':>26} {'real':>26}")
    for name, real in REAL.items():
        s = quantiles(sim[name])
        print(f"{name:<44} {' / '.join(f'{v:7.3g}' for v in s):>26} {' / '.join(f'{v:7.3g}' for v in real):>26}")
    subtypes = {t: sum(r["subtype"] == t for r in inter) for t in ("1.2", "1.5", "1.8", "1.9")}
    print(f"broad Hβ present: {len(broad)}/{len(inter)} = {len(broad) / len(inter):.1%} (real 327/521 = 62.8%);"
          f" subtypes {subtypes}")
    for label in agn.CLASSES:
        s = data.meta["snr_5100"][data.labels == label]
        print(f"S/N at 5100 Å measured (paper's mean/std definition), {label:<12}: "
              + " / ".join(f"{v:.1f}" for v in quantiles(s)))

    # Real DR18 galaxy vs the most similar simulated type 2, both through astroxai's reduction.
    import ppxf

    from astroxai.lines import PAPER_RANGE

    real = read_spectrum(Path(ppxf.__file__).parent / "spectra" / "NGC3073_SDSS_DR18.fits")
    # NGC 3073 (z = 0.004) starts at 3782 Å in the rest frame: use the part of the paper's range both cover.
    rest = real.wavelength / (1 + real.z)
    grid = wavelength_grid(max(PAPER_RANGE[0], rest[0], data.wavelength[0]),
                           min(PAPER_RANGE[1], rest[-1], data.wavelength[-1]), 1000)
    real_flux = reduce_spectrum(real, grid).flux
    real_snr = snr_at(real.wavelength / (1 + real.z), real.flux, real.good_pixels())
    type2 = data.subset(data.labels == "type2")
    on_paper_grid = np.array([np.interp(grid, data.wavelength, f) for f in type2.flux])
    best = int(np.argmin(np.sum((on_paper_grid - real_flux) ** 2, axis=1)))
    rms = float(np.sqrt(np.mean((on_paper_grid[best] - real_flux) ** 2)))
    print(f"NGC 3073 (DR18, z = {real.z:.5f}, S/N5100 = {real_snr:.1f}): closest simulated type 2 is "
          f"{type2.ids[best]} (rms difference {rms:.3f} of the 5100 Å flux)")
    if args.figures:
        import matplotlib.pyplot as plt

        from astroxai.report.figures import save_figure
        from astroxai.report.figures.spectra import mark_lines

        fig, axes = plt.subplots(1, 2, figsize=(13, 3.8), sharey=True)
        for ax, flux, title in (
            (axes[0], real_flux, f"real: SDSS DR18 NGC 3073 (0945-52652-0470), z = {real.z:.4f}"),
            (axes[1], on_paper_grid[best], f"simulated type 2 {type2.ids[best]} (closest of {len(type2)})"),
        ):
            ax.plot(grid, flux, lw=0.7, color="#d62728")
            ax.set_xlim(grid[0], grid[-1])
            mark_lines(ax)
            ax.set_title(title, fontsize=9, pad=42)
            ax.set_xlabel("rest wavelength [Å]")
        axes[0].set_ylabel("flux / flux(5100 Å)")
        axes[0].set_ylim(0, 1.15 * max(real_flux.max(), on_paper_grid[best].max()))
        fig.tight_layout()
        save_figure(fig, args.figures / "real_vs_simulated_type2")
        print(f"figure: {args.figures / 'real_vs_simulated_type2.png'}")


if __name__ == "__main__":
    main()
