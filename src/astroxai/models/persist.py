"""A trained model is a folder: ``model.skops`` (the fitted scikit-learn pipeline, saved with skops, never
pickle) and ``model.json`` (classes, grid, settings, versions, metrics and the skops file's SHA-256)."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

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
