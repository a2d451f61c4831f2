"""Figures.  One module per kind of figure; every figure is saved as PNG and PDF by :func:`save_figure`.

One colour convention everywhere astroxai draws an attribution map (:data:`ATTRIBUTION_CMAP`): **blue = more of this
raises the explained output, red lowers it**, white = no effect (the convention of Peruzzi et al. 2021).  Nothing here
switches matplotlib's backend: the command line chooses the file-only backend, a notebook keeps its own.
"""

from __future__ import annotations

from pathlib import Path

#: Diverging colour map of signed attributions: blue positive (raises the output), red negative.
ATTRIBUTION_CMAP = "RdBu"


def save_figure(fig, path: str | Path, formats=("png", "pdf"), dpi: int = 130) -> list[Path]:
    """Save ``fig`` as ``path`` with each suffix in ``formats``; return the written paths."""
    import matplotlib.pyplot as plt

    from astroxai.data import atomic_path

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in formats:
        target = path.with_suffix(f".{fmt}")
        with atomic_path(target) as temporary:
            fig.savefig(temporary, dpi=dpi, bbox_inches="tight", format=fmt)
        written.append(target)
    plt.close(fig)
    return written
