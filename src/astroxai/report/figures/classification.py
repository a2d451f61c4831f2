"""Classifier figures: confusion matrices (the paper's Figs. 2–3), noise robustness (Fig. 1) and the search."""

from __future__ import annotations

import numpy as np

from astroxai.report.figures import class_name
from astroxai.report.figures.spectra import CLASS_COLOURS

KERNEL_COLOURS = {"linear": "#1f77b4", "rbf": "#ff7f0e", "poly2": "#2ca02c", "poly3": "#9467bd"}


def plot_confusions(matrices: dict, normalised: bool = False):
    """One heat map per model (``matrices``: title → output of :func:`~astroxai.models.evaluate.confusion`).

    Rows are the true classes, columns the predicted ones, as in the paper; every cell carries its number.
    """
    import matplotlib.pyplot as plt

    n = len(matrices)
    fig, axes = plt.subplots(1, n, figsize=(3.9 * n, 3.7), squeeze=False)
    for ax, (title, cm) in zip(axes[0], matrices.items(), strict=True):
        values = np.array(cm["normalised" if normalised else "raw"], dtype=float)
        names = [class_name(c) for c in cm["classes"]]
        image = ax.imshow(values, cmap="Blues", vmin=0, vmax=1 if normalised else max(values.max(), 1))
        for (i, j), value in np.ndenumerate(values):
            text = f"{value:.2f}" if normalised else f"{int(value)}"
            dark = value > (0.5 if normalised else 0.5 * values.max())
            ax.text(j, i, text, ha="center", va="center", color="white" if dark else "black", fontsize=10)
        ax.set_xticks(range(len(names)), names, rotation=20)
        ax.set_yticks(range(len(names)), names)
        ax.set_xlabel("predicted class")
        ax.set_ylabel("true class")
        ax.set_title(title, fontsize=10)
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    return fig


def plot_noise(rows_by_model: dict, classes, best: str):
    """Left: mean F against the noise level for every model; right: per-class F of ``best`` (Fig. 1)."""
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10.5, 3.9), sharey=True)
    for model, rows in rows_by_model.items():
        sigma = [r["sigma"] for r in rows]
        mean = np.array([r["f1_mean"] for r in rows])
        spread = np.array([r["f1_mean_std"] for r in rows])
        colour = KERNEL_COLOURS.get(model.split()[0])
        left.plot(sigma, mean, "o-", ms=3.5, label=model, color=colour)
        left.fill_between(sigma, mean - spread, mean + spread, alpha=0.2, color=colour, lw=0)
    rows = rows_by_model[best]
    sigma = [r["sigma"] for r in rows]
    right.plot(sigma, [r["f1_mean"] for r in rows], "o-", ms=3.5, color="k", label="mean")
    for c in classes:
        right.plot(sigma, [r[f"f1_{c}"] for r in rows], "o-", ms=3.5, color=CLASS_COLOURS.get(c), label=class_name(c))
    left.set_ylabel("F-score on the test set")
    left.set_title("mean F, every kernel", fontsize=10)
    right.set_title(f"per class, {best}", fontsize=10)
    for ax in (left, right):
        ax.set_xscale("symlog", linthresh=0.1)
        ax.set_xticks([0, 0.1, 0.2, 0.4, 1, 2, 4], ["0", "0.1", "0.2", "0.4", "1", "2", "4"])
        ax.set_xlim(-0.02, 4.6)
        ax.set_xlabel("added noise σ / flux(5100 Å)")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    return fig


def plot_search(rows: list[dict], best: dict):
    """Cross-validated macro F against C for each kernel (RBF: the best γ's curve and the others faint)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.0, 4.0))
    for kernel, chosen in best.items():
        colour = KERNEL_COLOURS.get(kernel)
        mine = [r for r in rows if r["kernel"] == kernel]
        for gamma in sorted({r["gamma"] for r in mine}, key=lambda g: g or 0.0):
            curve = sorted((r for r in mine if r["gamma"] == gamma), key=lambda r: r["C"])
            is_best = gamma == chosen["gamma"]
            label = kernel + (f" (γ = {gamma:g})" if gamma is not None else "")
            ax.plot([r["C"] for r in curve], [r["cv_f1"] for r in curve], "-" if is_best else ":",
                    color=colour, alpha=1.0 if is_best else 0.35, lw=1.4 if is_best else 0.8,
                    label=label if is_best else None, marker="o" if is_best else None, ms=2.5)
        ax.plot([chosen["C"]], [chosen["cv_f1"]], "*", ms=12, color=colour, mec="k", mew=0.6)
    ax.set_xscale("log")
    ax.set_xlabel("C")
    ax.set_ylabel("cross-validated macro F")
    scores = [r["cv_f1"] for r in rows]
    ax.set_ylim(max(0.0, min(np.percentile(scores, 30), 0.8) - 0.02), 1.005)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title("hyper-parameter search (★ = chosen)", fontsize=10)
    fig.tight_layout()
    return fig


def plot_training_history(history: list[dict]):
    """CNN training: train and validation loss (left) and validation macro F (right) per epoch, best epoch marked."""
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    best = min(history, key=lambda h: h["val_loss"])
    fig, (left, right) = plt.subplots(1, 2, figsize=(9.5, 3.4))
    left.plot(epochs, [h["train_loss"] for h in history], label="train")
    left.plot(epochs, [h["val_loss"] for h in history], label="validation")
    left.set_ylabel("class-weighted cross-entropy")
    right.plot(epochs, [h["val_f1"] for h in history], color="k")
    right.set_ylabel("validation macro F")
    for ax in (left, right):
        ax.axvline(best["epoch"], color="grey", ls="--", lw=0.8)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    left.legend(fontsize=8)
    left.set_title(f"early stopping: best epoch {best['epoch']} of {len(history)}", fontsize=10)
    fig.tight_layout()
    return fig
