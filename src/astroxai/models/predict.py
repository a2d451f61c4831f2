"""Classify raw spectrum files with a saved model, reducing each one with the model's own settings."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from astroxai.io import InputItem
from astroxai.models.persist import load_model
from astroxai.parallel import ordered_map
from astroxai.reduce import DEFAULT_BAD_MASK, MAX_BAD_FRACTION, reduce_item


def prediction_columns(classes) -> list[str]:
    return ["id", "file", "status", "predicted", *[f"p_{c}" for c in classes], "reason"]


def reduction_tasks(meta: dict, items: list[InputItem]) -> list[tuple]:
    """``reduce_item`` tasks that prepare each input exactly as the model's training set was prepared
    (the model's grid, resampling method and bad-pixel settings)."""
    grid = np.asarray(meta["wavelength"], dtype=float)
    reduction = meta.get("reduction") or {}
    settings = (reduction.get("method", "linear"), int(reduction.get("bad_mask", DEFAULT_BAD_MASK)),
                float(reduction.get("max_bad_fraction", MAX_BAD_FRACTION)))
    return [(item, grid, *settings) for item in items]


def predict_inputs(model_dir, items: list[InputItem], out_csv, *, chunk_size: int = 256, workers: int | None = None,
                   progress=None) -> dict:
    """Reduce and classify every input, writing one CSV row per input (kept or rejected with the reason).

    Each file is reduced onto the model's grid with the model's method and bad-pixel settings, so a model
    always sees spectra prepared exactly as its training set was.  ``predicted`` is the SVM's decision
    (as in the evaluation); ``p_<class>`` are libsvm's Platt-scaled probabilities, which on rare borderline
    spectra can rank another class first.  Files are reduced ``chunk_size`` at a time on ``workers``
    processes and the rows are written as they come, so memory does not grow with the number of inputs.
    """
    model, meta = load_model(model_dir)
    classes = [str(c) for c in model.classes_]
    progress = progress or (lambda iterable, desc, total: iterable)
    out_csv = Path(out_csv)
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    counts = {"kept": 0, "rejected": 0}
    predicted_counts = dict.fromkeys(classes, 0)
    with open(out_csv, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=prediction_columns(classes))
        writer.writeheader()
        buffered: list[tuple[dict, np.ndarray | None]] = []

        def flush():
            fluxes = [flux for _, flux in buffered if flux is not None]
            if fluxes:
                # Rounded to float32 as a SpectraSet stores them, so a file gets exactly the prediction it
                # gets after `astroxai reduce` + `astroxai evaluate`.
                X = np.array(fluxes, dtype=np.float32).astype(np.float64)
                labels = iter(model.predict(X))
                probabilities = iter(model.predict_proba(X))
            for row, flux in buffered:
                if flux is not None:
                    row["predicted"] = str(next(labels))
                    predicted_counts[row["predicted"]] += 1
                    row.update({f"p_{c}": f"{p:.6f}" for c, p in zip(classes, next(probabilities), strict=True)})
                writer.writerow(row)
            buffered.clear()

        tasks = reduction_tasks(meta, items)
        for flux, fate, _ in progress(ordered_map(reduce_item, tasks, workers, chunk_size), "classifying",
                                      len(tasks)):
            status = "kept" if flux is not None else "rejected"
            counts[status] += 1
            buffered.append(({"id": fate["id"], "file": fate["input"], "status": status, "predicted": "",
                              "reason": fate["reason"]}, flux))
            if len(buffered) >= chunk_size:
                flush()
        flush()
    return {"n_inputs": len(items), "n_classified": counts["kept"], "n_rejected": counts["rejected"],
            "predicted": predicted_counts, "out": str(out_csv)}
