"""Spectrum figures: reduced spectra with the paper's diagnostic lines marked."""

from __future__ import annotations

import numpy as np

from astroxai.lines import DIAGNOSTIC_LINES
from astroxai.report.figures import plain

#: Type 1 blue and type 2 yellow as in the paper's t-SNE figures; red and green stay free for wrong / right.
CLASS_COLOURS = {"type1": "#1f77b4", "type2": "#e0a800", "intermediate": "#9467bd"}


def mark_lines(ax, lines=DIAGNOSTIC_LINES, label: bool = True):
    """Grey dashed verticals at the diagnostic lines inside the axis range, labelled at the top."""
    lo, hi = ax.get_xlim()
    for name, wave in lines.items():
        if lo <= wave <= hi:
            ax.axvline(wave, color="0.55", ls="--", lw=0.7, zorder=0)
            if label:
                ax.text(wave, 1.01, name, transform=ax.get_xaxis_transform(), rotation=90, fontsize=7,
                        ha="center", va="bottom", color="0.3")


def plot_class_examples(wavelength, spectra: dict, titles: dict | None = None):
    """One panel per class, side by side, sharing the y axis: ``spectra`` maps label → 1-D flux."""
    import matplotlib.pyplot as plt

    n = len(spectra)
    fig, axes = plt.subplots(1, n, figsize=(5.2 * n, 3.8), sharey=True, squeeze=False)
    for ax, (label, flux) in zip(axes[0], spectra.items(), strict=True):
        ax.plot(wavelength, flux, lw=0.7, color=CLASS_COLOURS.get(label, "k"))
        ax.set_xlim(wavelength[0], wavelength[-1])
        mark_lines(ax)
        ax.set_xlabel("rest wavelength [Å]")
        ax.set_title(plain((titles or {}).get(label, label)), fontsize=9, pad=42)
    axes[0][0].set_ylabel("flux / flux(5100 Å)")
    top = max(np.nanpercentile(f, 99.7) for f in spectra.values())
    axes[0][0].set_ylim(0, 1.1 * top)
    fig.tight_layout()
    return fig
