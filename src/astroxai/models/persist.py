"""A trained model is a folder: the fitted model and ``model.json`` (kind, classes, grid, settings, versions,
metrics and the model file's SHA-256).

* SVMs (``kind: sklearn``): ``model.skops``, the scikit-learn pipeline saved with skops, never pickle.
* CNNs (``kind: torch-cnn``): ``model.pt``, only the ``state_dict`` of :class:`astroxai.models.cnn.SpectrumCNN`,
  read back with ``torch.load(weights_only=True)`` (tensors only, no code), the architecture in ``model.json``.

:func:`load_model` reads both and returns an object with ``predict``, ``predict_proba`` and ``classes_``;
:func:`probability_module` turns either into a torch module of class probabilities for the explainers.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import numpy as np

from astroxai.provenance import versions

MODEL_FILE = "model.skops"
TORCH_FILE = "model.pt"
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


def save_cnn(folder: str | Path, classifier, metadata: dict | None = None, kind: str = "torch-cnn") -> Path:
    """Save a trained network: ``model.pt`` (state_dict) + ``model.json``.  ``kind`` is ``torch-cnn`` for the
    spectrum CNN and ``torch-image-cnn`` for :mod:`astroxai.models.image_cnn` (whose metadata must give ``task``,
    ``image_shape`` and ``architecture``)."""
    import torch

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / TORCH_FILE
    torch.save(classifier.module.state_dict(), target)
    meta = {"format": "astroxai.model", "kind": kind, "classes": [str(c) for c in classifier.classes_],
            "sha256": _sha256(target), "versions": versions(), **(metadata or {})}
    (folder / META_FILE).write_text(json.dumps(meta, indent=2, default=str))
    return folder


def _read_meta(folder: Path) -> dict:
    meta_path = folder / META_FILE
    if not meta_path.is_file():
        raise ModelLoadError(f"{folder}: not a model folder (needs {META_FILE})")
    try:
        meta = json.loads(meta_path.read_text())
    except json.JSONDecodeError as error:
        raise ModelLoadError(f"{meta_path}: not valid JSON ({error})") from None
    if meta.get("format") != "astroxai.model":
        raise ModelLoadError(f"{meta_path}: not astroxai model metadata")
    return meta


def _checked_file(folder: Path, name: str, meta: dict) -> Path:
    """``folder/name``, after checking that it exists and matches the SHA-256 recorded in ``model.json``."""
    target = folder / name
    if not target.is_file():
        raise ModelLoadError(f"{folder}: not a model folder (needs {name} and {META_FILE})")
    if meta.get("sha256") != _sha256(target):
        raise ModelLoadError(f"{target}: checksum differs from {META_FILE}: the file was changed or damaged")
    return target


def _load_cnn(folder: Path, meta: dict):
    import pickle

    import torch

    from astroxai.models.cnn import CNNClassifier, build_cnn
    from astroxai.models.image_cnn import build_image_cnn, wrap_image_module

    target = _checked_file(folder, TORCH_FILE, meta)
    image = meta.get("kind") == "torch-image-cnn"
    try:
        state = torch.load(target, weights_only=True, map_location="cpu")
        module = build_image_cnn(meta) if image else build_cnn(meta)
        module.load_state_dict(state)
    except (RuntimeError, pickle.UnpicklingError, KeyError, ValueError, EOFError) as error:
        raise ModelLoadError(f"{target}: not a state_dict of the architecture in {META_FILE} ({error})") from None
    return wrap_image_module(module, meta) if image else CNNClassifier(module, meta["classes"])


def load_model(folder: str | Path, trusted: tuple[str, ...] = ()) -> tuple[object, dict]:
    """Load ``(model, metadata)`` from a folder written by :func:`save_model` or :func:`save_cnn`.

    SVM: the skops file must match the checksum in ``model.json`` and contain only types skops trusts by
    default, plus those named in ``trusted``; anything else is refused, never executed.  CNN: the state_dict
    must match its checksum and the recorded architecture.
    """
    import skops.io as sio

    folder = Path(folder)
    meta = _read_meta(folder)
    if meta.get("kind") in ("torch-cnn", "torch-image-cnn"):
        return _load_cnn(folder, meta), meta
    target = _checked_file(folder, MODEL_FILE, meta)
    try:
        untrusted = sio.get_untrusted_types(file=target)
    except (zipfile.BadZipFile, KeyError, ValueError, json.JSONDecodeError) as error:
        raise ModelLoadError(f"{target}: not a skops model file ({error})") from None
    refused = sorted(set(untrusted) - set(trusted))
    if refused:
        raise ModelLoadError(f"{target}: refuses to load untrusted types {refused}")
    return sio.load(target, trusted=list(untrusted)), meta


def probability_module(model):
    """The torch module ``(N, F) fluxes → (N, K) probabilities`` of a loaded model: the CNN itself, or an SVM
    pipeline converted by :class:`astroxai.explain.bridge.SVCProbability` (same ``predict_proba``)."""
    module = getattr(model, "module", None)
    if module is not None:
        return module.eval()
    from astroxai.explain.bridge import SVCProbability

    return SVCProbability.from_pipeline(model)


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
