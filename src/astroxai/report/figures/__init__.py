"""Figures.  One module per kind of figure; every figure is saved as PNG and PDF by :func:`save_figure`.

One colour convention everywhere astroxai draws an attribution map (:data:`ATTRIBUTION_CMAP`): **blue = more of this
raises the explained output, red lowers it**, white = no effect (the convention of Peruzzi et al. 2021).  Nothing here
switches matplotlib's backend: the command line chooses the file-only backend, a notebook keeps its own.
"""

from __future__ import annotations

from pathlib import Path

from astroxai.data.base import cut_text

#: Diverging colour map of signed attributions: blue positive (raises the output), red negative.
ATTRIBUTION_CMAP = "RdBu"
#: How astroxai writes its class names in figures and pages.
CLASS_NAMES = {"type1": "type 1", "type2": "type 2", "intermediate": "intermediate"}


#: Longest text drawn from data (ids, labels, class names) a figure shows; the rest is cut with an ellipsis.
MAX_TEXT = 120


def plain(text, limit: int = MAX_TEXT) -> str:
    """Text from data (an id, a label) as a figure may draw it: dollar signs escaped so that matplotlib never reads it
    as a formula, and cut to ``limit`` characters with an ellipsis."""
    return cut_text(str(text), limit).replace("$", r"\$")


def class_name(label) -> str:
    """A class as figures name it (``type1`` → ``type 1``), safe to draw (:func:`plain`)."""
    return plain(CLASS_NAMES.get(str(label), str(label)))


def plain_texts(fig, limit: int = MAX_TEXT) -> None:
    """Make the titles, texts and legend entries of ``fig`` safe to draw whatever data they came from: no mathtext
    (an id such as ``$\\frac{x$`` is not a formula, and a broken one stops the whole figure) and at most ``limit``
    characters (a megabyte-long label would otherwise be laid out glyph by glyph).  Tick labels are left alone:
    astroxai's formatters write them (log axes use mathtext on purpose)."""
    texts = list(fig.texts)
    if getattr(fig, "_suptitle", None) is not None:
        texts.append(fig._suptitle)
    for ax in fig.axes:
        texts += [ax.title, getattr(ax, "_left_title", None), getattr(ax, "_right_title", None), *ax.texts,
                  ax.xaxis.label, ax.yaxis.label]
        legend = ax.get_legend()
        if legend is not None:
            texts += list(legend.get_texts()) + [legend.get_title()]
    for text in texts:
        if text is None:
            continue
        text.set_parse_math(False)
        text.set_text(cut_text(text.get_text(), limit))


def save_figure(fig, path: str | Path, formats=("png", "pdf"), dpi: int = 130) -> list[Path]:
    """Save ``fig`` as ``path`` with each suffix in ``formats`` (texts made safe by :func:`plain_texts`); return the
    written paths.

    Each file is cropped to the figure's drawn content plus ``savefig.pad_inches`` (``bbox_inches='tight'``).  That
    box is found once, on the raster renderer at ``dpi`` as ``savefig`` finds it for a PNG, and given to every format:
    ``savefig(bbox_inches='tight')`` would lay the figure out again for each format (a draw without output, then the
    box) before drawing it, a third of the time a figure took to save (the PNG is the same file; a PDF's page gets the
    raster renderer's box, which its own text metrics would move by about a point, inside the padding).
    """
    import matplotlib.pyplot as plt

    from astroxai.data import atomic_path

    plain_texts(fig)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    bbox = _content_box(fig, dpi)
    written = []
    for fmt in formats:
        target = path.with_suffix(f".{fmt}")
        with atomic_path(target) as temporary:
            fig.savefig(temporary, dpi=dpi, bbox_inches=bbox, format=fmt)
        written.append(target)
    plt.close(fig)
    return written


def _content_box(fig, dpi: int):
    """The box ``savefig(dpi=dpi, bbox_inches='tight')`` crops a PNG of ``fig`` to (inches, padded), with the figure
    left needing no layout at save time; ``'tight'`` (found again per format) where that cannot be done the same way:
    a canvas other than plain Agg (a window's, whose size must not change), or a layout engine that lays the figure
    out when it is saved (constrained layout, or ``figure.autolayout``), or a padding of ``'layout'``."""
    import matplotlib as mpl
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.layout_engine import PlaceHolderLayoutEngine

    engine = fig.get_layout_engine()
    if (type(fig.canvas) is not FigureCanvasAgg or not (engine is None or isinstance(engine, PlaceHolderLayoutEngine))
            or mpl.rcParams["figure.autolayout"] or mpl.rcParams["figure.constrained_layout.use"]
            or isinstance(mpl.rcParams["savefig.pad_inches"], str)):
        return "tight"
    shown = fig.dpi
    fig.dpi = dpi  # text is measured at the resolution it is drawn at, as savefig does
    try:
        fig.draw_without_rendering()
        box = fig.get_tightbbox().padded(mpl.rcParams["savefig.pad_inches"])
    finally:
        fig.dpi = shown
    fig.set_layout_engine(None)  # tight_layout() has placed the axes already: nothing to redo per format
    return box
