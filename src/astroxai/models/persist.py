"""A trained model is a folder: ``model.skops`` (the fitted scikit-learn pipeline, saved with skops, never
pickle) and ``model.json`` (classes, grid, settings, versions, metrics and the skops file's SHA-256)."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import numpy as np

from astroxai.provenance import versions

MODEL_FILE = "model.skops"
META_FILE = "model.json"


class ModelLoadError(ValueError):
    """A model folder that cannot be loaded safely; the message says which file and why."""


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def save_model(folder: str | Path, model, metadata: dict | None = None) -> Path:
    """Save a fitted scikit-learn estimator and its JSON metadata into ``folder``; returns the folder."""
    import skops.io as sio

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / MODEL_FILE
    sio.dump(model, target)
    meta = {
        "format": "astroxai.model",
        "kind": "sklearn",
        "classes": [str(c) for c in getattr(model, "classes_", [])],
        "sha256": _sha256(target),
        "versions": versions(),
        **(metadata or {}),
    }
    (folder / META_FILE).write_text(json.dumps(meta, indent=2, default=str))
    return folder


def load_model(folder: str | Path, trusted: tuple[str, ...] = ()) -> tuple[object, dict]:
    """Load ``(estimator, metadata)`` from a folder written by :func:`save_model`.

    The skops file must match the checksum in ``model.json`` and contain only types skops trusts by
    default, plus those named in ``trusted``; anything else is refused, never executed.
    """
    import skops.io as sio

    folder = Path(folder)
    target, meta_path = folder / MODEL_FILE, folder / META_FILE
    if not target.is_file() or not meta_path.is_file():
        raise ModelLoadError(f"{folder}: not a model folder (needs {MODEL_FILE} and {META_FILE})")
    try:
        meta = json.loads(meta_path.read_text())
    except json.JSONDecodeError as error:
        raise ModelLoadError(f"{meta_path}: not valid JSON ({error})") from None
    if meta.get("format") != "astroxai.model":
        raise ModelLoadError(f"{meta_path}: not astroxai model metadata")
    if meta.get("sha256") != _sha256(target):
        raise ModelLoadError(f"{target}: checksum differs from {META_FILE}: the file was changed or damaged")
    try:
        untrusted = sio.get_untrusted_types(file=target)
    except (zipfile.BadZipFile, KeyError, ValueError, json.JSONDecodeError) as error:
        raise ModelLoadError(f"{target}: not a skops model file ({error})") from None
    refused = sorted(set(untrusted) - set(trusted))
    if refused:
        raise ModelLoadError(f"{target}: refuses to load untrusted types {refused}")
    return sio.load(target, trusted=list(untrusted)), meta


class GridMismatchError(ValueError):
    """Spectra reduced onto a different wavelength grid from the one a model was trained on."""


def check_grid(meta: dict, wavelength) -> None:
    """Refuse spectra whose rest-frame grid is not the model's (same points to 1e-6 Å).

    A model's features are fluxes at fixed wavelengths: the same classifier applied to another grid
    would silently compare different wavelengths.  The message says how to reduce onto the right grid.
    """
    expected = np.asarray(meta["wavelength"], dtype=float)
    given = np.asarray(wavelength, dtype=float)
    if given.shape == expected.shape and np.allclose(given, expected, rtol=0, atol=1e-6):
        return
    reduction = meta.get("reduction") or {}
    lo, hi = expected[0], expected[-1]
    raise GridMismatchError(
        f"spectra are on {given.size} points {given[0]:.2f}–{given[-1]:.2f} Å but the model needs "
        f"{expected.size} points {lo:.2f}–{hi:.2f} Å; reduce them with "
        f"`astroxai reduce --range {lo:.6g} {hi:.6g} --n-wave {expected.size} "
        f"--method {reduction.get('method', 'linear')}` (or give raw files to `astroxai predict`)")
