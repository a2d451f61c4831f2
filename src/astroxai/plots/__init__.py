"""Figures.  One module per kind of figure; every figure is saved as PNG and PDF by :func:`save_figure`."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: astroxai never opens windows


def save_figure(fig, path: str | Path, formats=("png", "pdf"), dpi: int = 130) -> list[Path]:
    """Save ``fig`` as ``path`` with each suffix in ``formats``; return the written paths."""
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in formats:
        target = path.with_suffix(f".{fmt}")
        fig.savefig(target, dpi=dpi, bbox_inches="tight")
        written.append(target)
    plt.close(fig)
    return written
