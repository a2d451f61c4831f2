"""Figures of explanations: colour-coded saliency spectra (the paper's Figs. 5, 6, 8, 9), per-class saliency
curves, t-SNE maps (Figs. 4, 7, A.1–A.5) and a spectrum's map beside its place on the t-SNE plane."""

from __future__ import annotations

import numpy as np

from astroxai.report.figures import ATTRIBUTION_CMAP, class_name, plain
from astroxai.report.figures.spectra import CLASS_COLOURS, mark_lines

#: Diverging map: blue = more flux here raises the explained class, red = lowers it, white ≈ no effect.
SALIENCY_CMAP = ATTRIBUTION_CMAP


def saliency_title(spec_id, true_label, predicted, probabilities: dict, target=None) -> str:
    """``id · true → predicted · p(class)…`` (the target is named when it is not the predicted class)."""
    probs = "  ".join(f"p({class_name(c)}) = {p:.2f}" for c, p in probabilities.items())
    head = f"{plain(spec_id)}   true: {class_name(true_label)}   predicted: {class_name(predicted)}"
    if target is not None and str(target) != str(predicted):
        head += f"   explained: {class_name(target)}"
    return f"{head}\n{probs}"


def draw_saliency(ax, wavelength, flux, saliency, *, vmax: float | None = None, lines: bool = True,
                  colorbar: bool = True, linewidth: float = 2.2, label: str = "saliency  ∂p/∂f"):
    """The spectrum as a line coloured by saliency on a symmetric diverging scale, the diagnostic lines marked.

    A thin grey line is drawn underneath so that the near-zero (white) stretches stay visible.
    """
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection
    from matplotlib.colors import Normalize

    wavelength = np.asarray(wavelength, dtype=float)
    flux = np.asarray(flux, dtype=float)
    saliency = np.asarray(saliency, dtype=float)
    if vmax is None:
        vmax = float(np.nanmax(np.abs(saliency))) if np.any(saliency) else 1.0
    vmax = vmax if vmax > 0 else 1.0
    points = np.column_stack([wavelength, flux])
    segments = np.stack([points[:-1], points[1:]], axis=1)
    colours = 0.5 * (saliency[:-1] + saliency[1:])
    collection = LineCollection(segments, cmap=SALIENCY_CMAP, norm=Normalize(-vmax, vmax), linewidth=linewidth,
                                capstyle="round")
    collection.set_array(colours)
    ax.plot(wavelength, flux, color="0.75", lw=0.5, zorder=1)
    ax.add_collection(collection)
    collection.set_zorder(2)
    ax.set_xlim(wavelength[0], wavelength[-1])
    low, high = np.nanpercentile(flux, [0.5, 99.8])
    pad = 0.08 * (high - low)
    ax.set_ylim(min(0.0, low - pad), high + pad)
    if lines:
        mark_lines(ax)
    if colorbar:
        bar = plt.colorbar(collection, ax=ax, pad=0.01, fraction=0.04)
        bar.set_label(label, fontsize=8)
        bar.ax.tick_params(labelsize=7)
    return collection


def plot_saliency(wavelength, flux, saliency, title: str = "", *, vmax: float | None = None, note: str = ""):
    """One saliency map as a full figure (the paper's Fig. 5)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 3.9))
    draw_saliency(ax, wavelength, flux, saliency, vmax=vmax)
    ax.set_xlabel("rest wavelength [Å]")
    ax.set_ylabel("flux / flux(5100 Å)")
    ax.set_title(title, fontsize=9, pad=44)
    if note:
        ax.text(0.01, 0.97, note, transform=ax.transAxes, fontsize=8, va="top", color="0.3")
    fig.tight_layout()
    return fig


def plot_saliency_with_map(wavelength, flux, saliency, title: str, coords, labels, position, number=None,
                           correct: bool = True, *, note: str = ""):
    """A saliency map beside the spectrum's place on the t-SNE plane (the report's gallery entries)."""
    import matplotlib.pyplot as plt

    fig, (ax, ax_map) = plt.subplots(1, 2, figsize=(13, 3.9), gridspec_kw={"width_ratios": [3.3, 1]})
    draw_saliency(ax, wavelength, flux, saliency)
    ax.set_xlabel("rest wavelength [Å]")
    ax.set_ylabel("flux / flux(5100 Å)")
    ax.set_title(title, fontsize=9, pad=44)
    if note:
        ax.text(0.01, 0.97, note, transform=ax.transAxes, fontsize=8, va="top", color="0.3")
    _scatter_classes(ax_map, coords, labels, size=3, alpha=0.35, legend=False)
    colour = "#2ca02c" if correct else "#d62728"
    ax_map.scatter(*position, s=160, marker="*", color=colour, edgecolor="k", linewidth=0.8, zorder=5)
    if number is not None:
        ax_map.annotate(str(number), position, xytext=(6, 6), textcoords="offset points", fontsize=9,
                        color=colour, weight="bold")
    ax_map.set_xticks([])
    ax_map.set_yticks([])
    ax_map.set_title("t-SNE position", fontsize=9)
    fig.tight_layout()
    return fig


def plot_class_saliency(wavelength, maps_by_class: dict, *, title: str = ""):
    """Median saliency (line) and 16–84 % band per explained class, one panel each, lines marked."""
    import matplotlib.pyplot as plt

    n = len(maps_by_class)
    fig, axes = plt.subplots(n, 1, figsize=(10, 2.5 * n + 0.6), sharex=True, squeeze=False)
    for ax, (label, maps) in zip(axes[:, 0], maps_by_class.items(), strict=True):
        maps = np.atleast_2d(maps)
        colour = CLASS_COLOURS.get(str(label), "k")
        low, mid, high = np.percentile(maps, [16, 50, 84], axis=0)
        ax.fill_between(wavelength, low, high, color=colour, alpha=0.25, lw=0)
        ax.plot(wavelength, mid, color=colour, lw=1)
        ax.axhline(0, color="k", lw=0.5)
        ax.set_xlim(wavelength[0], wavelength[-1])
        mark_lines(ax, label=ax is axes[0, 0])
        ax.set_ylabel("∂p/∂f")
        ax.text(0.01, 0.92, f"explaining {class_name(label)} ({len(maps)} spectra)", transform=ax.transAxes,
                fontsize=9, va="top")
    axes[-1, 0].set_xlabel("rest wavelength [Å]")
    if title:
        axes[0, 0].set_title(title, fontsize=10, pad=44)
    fig.tight_layout()
    return fig


def plot_gallery(wavelength, entries: list[dict], *, columns: int = 2):
    """Small multiples of saliency maps; ``entries`` hold flux, saliency, title (and optional note)."""
    import matplotlib.pyplot as plt

    rows = max(1, int(np.ceil(len(entries) / columns)))
    fig, axes = plt.subplots(rows, columns, figsize=(7.5 * columns, 2.9 * rows), squeeze=False)
    for ax, entry in zip(axes.ravel(), entries, strict=False):
        draw_saliency(ax, wavelength, entry["flux"], entry["saliency"], colorbar=False, linewidth=1.6)
        ax.set_title(entry["title"], fontsize=7.5, pad=34)
        ax.tick_params(labelsize=7)
        if entry.get("note"):
            ax.text(0.01, 0.95, entry["note"], transform=ax.transAxes, fontsize=7, va="top", color="0.3")
    for ax in axes.ravel()[len(entries):]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig


def _scatter_classes(ax, coords, labels, *, size: float = 4, alpha: float = 0.6, legend: bool = True):
    labels = np.asarray(labels).astype(str)
    for label in [c for c in CLASS_COLOURS if c in set(labels)] + sorted(set(labels) - set(CLASS_COLOURS)):
        rows = labels == label
        ax.scatter(coords[rows, 0], coords[rows, 1], s=size, alpha=alpha, color=CLASS_COLOURS.get(label, "0.4"),
                   label=f"{class_name(label)} ({rows.sum()})", linewidths=0, rasterized=True)
    if legend:
        ax.legend(fontsize=8, markerscale=3, loc="best", frameon=False)


def plot_tsne(coords, labels, *, title: str = "", marked: list[dict] | None = None):
    """One t-SNE map coloured by class; ``marked`` spectra (position, number, correct) drawn as numbered
    squares, green if correctly classified, red if not (the paper's Fig. 7), black if ``correct`` is None
    (spectra placed on the map without a verdict)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 6.2))
    _scatter_classes(ax, np.asarray(coords), labels)
    for entry in marked or []:
        colour = {True: "#2ca02c", False: "#d62728"}.get(entry["correct"], "k")
        ax.scatter(*entry["position"], s=40, marker="s", facecolor="none", edgecolor=colour, linewidth=1.4)
        ax.annotate(str(entry["number"]), entry["position"], xytext=(4, 3), textcoords="offset points",
                    fontsize=7, color=colour, weight="bold")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_survey_density(coords, labels, counts, edges, *, title: str = "", outside: int = 0,
                        reference: str = "the map's own spectra"):
    """A survey placed on a reference t-SNE map: the map coloured by class (left) and the survey's spectra as a
    density image over the same plane (right; ``counts`` a 2-D histogram on ``edges``, logarithmic grey scale),
    with the reference spectra as faint class-coloured dots for orientation.  ``outside``: survey spectra placed
    beyond the drawn extent (named in the panel)."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    coords = np.asarray(coords, dtype=float)
    counts = np.asarray(counts, dtype=float)
    fig, (left, right) = plt.subplots(1, 2, figsize=(12.5, 5.9), sharex=True, sharey=True)
    _scatter_classes(left, coords, labels, size=5)
    left.set_title(f"reference map: {reference}", fontsize=10)
    total = int(counts.sum()) + int(outside)
    if counts.max() > 0:
        image = right.imshow(np.ma.masked_equal(counts.T, 0), origin="lower", cmap="Greys", aspect="auto",
                             norm=LogNorm(vmin=1, vmax=max(2.0, counts.max())), interpolation="nearest",
                             extent=(edges[0][0], edges[0][-1], edges[1][0], edges[1][-1]))
        fig.colorbar(image, ax=right, fraction=0.046, pad=0.02, label="survey spectra per cell")
    _scatter_classes(right, coords, labels, size=2, alpha=0.35, legend=False)
    right.set_title(f"survey: {total:,d} spectra placed (openTSNE transform)", fontsize=10)
    if outside:
        right.text(0.01, 0.01, f"{outside:,d} placed outside this frame", transform=right.transAxes, fontsize=8,
                   color="0.3")
    for ax in (left, right):
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlim(edges[0][0], edges[0][-1])
        ax.set_ylim(edges[1][0], edges[1][-1])
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def plot_tsne_grid(results: list, *, title: str = ""):
    """t-SNE maps (:class:`~astroxai.embed.EmbeddingMap`) of one class set and feature scaling at several
    perplexities (the paper's Figs. A.2–A.5)."""
    import matplotlib.pyplot as plt

    n = len(results)
    columns = min(3, n)
    rows = int(np.ceil(n / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(4.3 * columns, 4.1 * rows), squeeze=False)
    for ax, result in zip(axes.ravel(), results, strict=False):
        _scatter_classes(ax, result.coords, result.labels, size=2.5, legend=ax is axes[0, 0])
        ax.set_title(f"perplexity {result.spec.perplexity:g}   KL = {result.kl:.2f}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def plot_methods_grid(wavelength, flux, maps: dict, title: str = ""):
    """The same spectrum explained by every method (rows) for every model (columns); ``maps``: (model, method) →
    map.  Each panel has its own symmetric colour scale (the methods' units differ)."""
    import matplotlib.pyplot as plt

    models = list(dict.fromkeys(m for m, _ in maps))
    methods = list(dict.fromkeys(k for _, k in maps))
    fig, axes = plt.subplots(len(methods), len(models), figsize=(5.2 * len(models), 1.9 * len(methods)),
                             squeeze=False, sharex=True)
    for i, method in enumerate(methods):
        for j, model in enumerate(models):
            ax = axes[i, j]
            if (model, method) in maps:
                draw_saliency(ax, wavelength, flux, maps[(model, method)], linewidth=1.6, label="", lines=False)
                mark_lines(ax, label=i == 0)  # line names once, above the first row
            ax.tick_params(labelsize=7)
            if i == 0:
                ax.set_title(model, fontsize=10, pad=44)
            if j == 0:
                ax.set_ylabel(method, fontsize=9)
    for ax in axes[-1]:
        ax.set_xlabel("rest wavelength [Å]", fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def plot_deletion_curves(curves: dict):
    """Deletion (solid) and insertion (dotted) curves per method, one panel per model, a random order in grey;
    ``curves``: model → method → output of :func:`astroxai.explain.metrics.deletion_insertion`."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(curves), figsize=(4.6 * len(curves), 3.6), squeeze=False, sharey=True)
    colours = plt.get_cmap("tab10")
    for ax, (model, by_method) in zip(axes[0], curves.items(), strict=True):
        for k, (method, c) in enumerate(by_method.items()):
            ax.plot(c["fractions"], c["deletion_curve"], color=colours(k), lw=1.4, label=method)
            ax.plot(c["fractions"], c["insertion_curve"], color=colours(k), lw=1.0, ls=":")
        first = next(iter(by_method.values()))
        ax.plot(first["fractions"], first["random_deletion_curve"], color="0.5", lw=1.6, label="random order")
        ax.plot(first["fractions"], first["random_insertion_curve"], color="0.5", lw=1.0, ls=":")
        ax.set_title(model, fontsize=10)
        ax.set_xlabel("fraction of pixels removed (solid) / inserted (dotted)", fontsize=8)
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("mean probability of the explained class")
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    return fig
