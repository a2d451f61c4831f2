"""Figures of the image workflows: example cutouts, explanation galleries (image | map | overlay) and bar lengths."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from astroxai.report.figures import ATTRIBUTION_CMAP, class_name

#: Colours of the ground-truth component outlines drawn on the galleries.
COMPONENT_COLOURS = {"core": "#ffffff", "jets": "#00e5ff", "lobes": "#ffd54f", "hotspots": "#ff4081",
                     "bar": "#00e5ff"}


def display(image: np.ndarray, softening: float = 0.05) -> np.ndarray:
    """An (H, W) display version of a (C, H, W) or (H, W) image: channel mean, asinh stretch of the image divided by
    its peak (the astronomer's stretch: faint structure visible next to a bright nucleus)."""
    image = np.asarray(image, dtype=np.float64)
    image = image.mean(axis=0) if image.ndim == 3 else image
    peak = np.nanmax(np.abs(image)) or 1.0
    return np.arcsinh(image / peak / softening) / np.arcsinh(1 / softening)


def _collapse(saliency: np.ndarray) -> np.ndarray:
    saliency = np.asarray(saliency, dtype=np.float64)
    return saliency.sum(axis=0) if saliency.ndim == 3 else saliency


def _outline(ax, masks: dict | None):
    for name, mask in (masks or {}).items():
        if mask is not None and np.any(mask):
            ax.contour(np.asarray(mask, dtype=float), levels=[0.5], colors=COMPONENT_COLOURS.get(name, "w"),
                       linewidths=0.8)


def plot_examples(images, labels, classes, per_class: int = 4, pixel_arcsec: float | None = None,
                  what: str = "simulated cutouts"):
    """A grid of example cutouts: one row per class; the title says ``what`` they are, their size and scale."""
    fig, axes = plt.subplots(len(classes), per_class, figsize=(1.9 * per_class, 2.0 * len(classes)), squeeze=False)
    labels = np.asarray(labels)
    for i, cls in enumerate(classes):
        rows = np.flatnonzero(labels == cls)[:per_class]
        for j in range(per_class):
            ax = axes[i, j]
            ax.set_xticks([])
            ax.set_yticks([])
            if j < rows.size:
                ax.imshow(display(images[rows[j]]), origin="lower", cmap="gray_r")
            if j == 0:
                ax.set_ylabel(class_name(cls))
    if pixel_arcsec:
        fig.suptitle(f"{what} ({images.shape[-1]} px × {pixel_arcsec:g}″, asinh stretch)", fontsize=10)
    fig.tight_layout()
    return fig


def plot_image_gallery(entries: list[dict], method: str = ""):
    """One row per image: the cutout (with ground-truth outlines), the signed map, and the map's strongest 10 %
    of |attribution| over the cutout.

    Each entry: ``image`` (C, H, W), ``map`` (C, H, W) or (H, W), ``title``, optional ``masks`` (name → (H, W)
    bool) and ``note`` (text under the overlay, e.g. the share of attribution on the true components).
    """
    fig, axes = plt.subplots(len(entries), 3, figsize=(8.4, 2.8 * len(entries)), squeeze=False)
    for row, entry in zip(axes, entries, strict=True):
        shown = display(entry["image"])
        saliency = _collapse(entry["map"])
        row[0].imshow(shown, origin="lower", cmap="gray_r")
        _outline(row[0], entry.get("masks"))
        row[0].set_title(entry.get("title", ""), fontsize=8)
        im, vmax = _signed_map(row[1], saliency)
        row[1].set_title(f"{method} map (blue: raises p)" if method else "map (blue: raises p)", fontsize=8)
        _map_colour_bar(fig, im, row[1], vmax)
        strength = np.abs(saliency)
        top = strength >= np.quantile(strength, 0.9)
        row[2].imshow(shown, origin="lower", cmap="gray")
        row[2].imshow(np.where(top, strength / vmax, np.nan), origin="lower", cmap="autumn", alpha=0.75)
        _outline(row[2], entry.get("masks"))
        row[2].set_title("strongest 10 % of |map| over the image", fontsize=8)
        if entry.get("note"):
            row[2].set_xlabel(entry["note"], fontsize=7)
        for ax in row:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.tight_layout()
    return fig


def _bar_axis(ax, centre, length, pa, **style):
    """The measured bar drawn as a line of its length through the centre at its angle."""
    if np.isfinite(pa) and np.isfinite(length) and length > 0:
        dx, dy = length / 2 * np.cos(pa), length / 2 * np.sin(pa)
        cx, cy = centre
        ax.plot([cx - dx, cx + dx], [cy - dy, cy + dy], **style)


#: Superscript digits for the power of ten written beside a colour bar.
_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _map_colour_bar(fig, image, ax, vmax: float):
    """The colour bar of a signed map, its ticks small like the titles.  A map far from 1 (SmoothGrad of a source the
    network is sure of is ~10⁻¹¹) gets its ticks in units of a power of ten, written beside the bar ("×10⁻¹¹"):
    matplotlib's own offset text sits on top of the bar, over the panel's title."""
    from matplotlib.ticker import FuncFormatter

    bar = fig.colorbar(image, ax=ax, fraction=0.046, pad=0.02)
    # matplotlib rasterises a colour bar's 256 bands in a PDF, and each rasterised artist costs a pass over the
    # whole page: a gallery of 36 images took 12 s as PDF instead of 6.5 s; vector bands are exact and small
    bar.solids.set_rasterized(False)
    bar.ax.tick_params(labelsize=7)
    exponent = int(np.floor(np.log10(vmax))) if np.isfinite(vmax) and vmax > 0 else 0
    if not -1 <= exponent <= 2:  # 0.5 or 150 as they are; 0.004 as 4 ×10⁻³
        unit = 10.0 ** exponent
        bar.formatter = FuncFormatter(lambda value, _: f"{value / unit:.3g}".replace("-", "−"))
        bar.update_ticks()
        bar.set_label(f"×10{str(exponent).translate(_SUPERSCRIPT)}", fontsize=7)
    return bar


def _signed_map(ax, saliency):
    """A signed map drawn in the attribution colours, symmetric about 0 (blue raises the output); returns the image
    and the colour scale's limit."""
    saliency = _collapse(saliency)
    vmax = np.nanmax(np.abs(saliency)) or 1.0
    return ax.imshow(saliency, origin="lower", cmap=ATTRIBUTION_CMAP, vmin=-vmax, vmax=vmax), vmax


def plot_bar_measurements(entries: list[dict], route: str):
    """Barred galaxies with the bar measured from their SmoothGrad maps: the cutout with the true bar outline (cyan)
    and the bar measured by ``route`` (a line of the calibrated length at the measured angle), and the signed map
    (blue: more light raises "barred") with the same line and the region whose moments gave the angle.  Each entry:
    ``image``, ``map``, ``mask`` (that region), ``true_mask``, ``centre``, ``length`` (calibrated, px), ``pa``,
    ``true_length``."""
    fig, axes = plt.subplots(len(entries), 2, figsize=(5.6, 2.8 * len(entries)), squeeze=False)
    for row, e in zip(axes, entries, strict=True):
        row[0].imshow(display(e["image"]), origin="lower", cmap="gray_r")
        _outline(row[0], {"bar": e.get("true_mask")})
        _signed_map(row[1], e["map"])
        for ax in row:
            _bar_axis(ax, e["centre"], e["length"], e["pa"], color="#2ca02c", lw=2)
        row[0].set_title(f"true {e['true_length']:.1f} px, measured {e['length']:.1f} px", fontsize=8)
        row[1].contour(e["mask"].astype(float), levels=[0.5], colors="#7f7f7f", linewidths=0.6)
        row[1].set_title(f"SmoothGrad (blue: raises p), {route}", fontsize=7)
        for ax in row:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.tight_layout()
    return fig


def plot_bar_failures(entries: list[dict], before: str, after: str):
    """The worst measurements of two routes side by side, on the same galaxies: each row a barred test galaxy (the
    cutout with the true bar outline, then its signed SmoothGrad map), with the bar as measured by ``before``
    (dashed orange) and by ``after`` (green).  Each entry: ``image``, ``map``, ``true_mask``, ``centre``,
    ``true_length``, ``why`` (whose failure it is), and ``before``/``after`` as (calibrated length, angle)."""
    fig, axes = plt.subplots(len(entries), 2, figsize=(6.0, 2.9 * len(entries)), squeeze=False)
    # the earlier route drawn last, dashed, so that it shows where both lines run along the same axis
    styles = {"after": {"color": "#2ca02c", "lw": 2.5}, "before": {"color": "#ff7f0e", "lw": 1.6, "ls": "--"}}
    for row, e in zip(axes, entries, strict=True):
        row[0].imshow(display(e["image"]), origin="lower", cmap="gray_r")
        _outline(row[0], {"bar": e.get("true_mask")})
        _signed_map(row[1], e["map"])
        for ax in row:
            for key, style in styles.items():
                _bar_axis(ax, e["centre"], *e[key], **style)
            ax.set_xticks([])
            ax.set_yticks([])
        row[0].set_title(f"{e['why']}: true {e['true_length']:.1f} px", fontsize=8)
        row[1].set_title(f"{before} {e['before'][0]:.1f} (dashed), {after} {e['after'][0]:.1f} px", fontsize=6.5)
    fig.suptitle(f"Worst bar lengths: {before} (before) and {after} (after)", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.985))
    return fig


def plot_bar_scatter(true, estimates: dict, pixel_arcsec: float | None = None):
    """Measured against true bar length for each method (``estimates``: name → values), with the 1:1 line."""
    fig, ax = plt.subplots(figsize=(4.8, 4.4))
    true = np.asarray(true, dtype=float)
    markers = ["o", "s", "^", "D"]
    for k, (name, values) in enumerate(estimates.items()):
        values = np.asarray(values, dtype=float)
        r = np.corrcoef(values, true)[0, 1]
        rmse = np.sqrt(np.mean((values - true) ** 2))
        ax.scatter(true, values, s=14, marker=markers[k % len(markers)], alpha=0.7,
                   label=f"{name}: r = {r:.2f}, RMSE = {rmse:.1f} px")
    lo, hi = np.nanmin(true), np.nanmax(true)
    ax.plot([lo, hi], [lo, hi], color="k", lw=0.8, ls="--")
    unit = f" (1 px = {pixel_arcsec}″)" if pixel_arcsec else ""
    ax.set_xlabel(f"true projected bar length [px]{unit}")
    ax.set_ylabel("measured bar length [px]")
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return fig
