"""The files of a model folder, and the rules for reading them safely.

A model folder holds ``model.json`` (kind, classes, grid, settings, versions, metrics and the SHA-256 of the model
file) and one model file:

* SVMs: ``model.skops``, the scikit-learn pipeline saved with skops, never pickle; loading refuses every type skops
  does not trust by default (plus those the caller names);
* networks: ``model.pt``, only a ``state_dict``, read with ``torch.load(weights_only=True)``, which refuses anything
  but tensors; the architecture is in ``model.json``.

The checksum catches a damaged or swapped model file; it does not protect against someone who rewrites
``model.json`` as well (anyone who can write the folder can recompute it; only the skops and ``weights_only`` rules
stop code from running).  What loading adds against a tampered folder: the model file must hold the types astroxai
writes, every stored number must be finite, the classes must be the estimator's own, and ``model.json``'s grid must
equal the copy saved inside the checksummed model file (folders written before that copy existed get only rough
checks: the grid's length and order, and training fluxes ≈ 1 at 5100 Å where the reduction normalised them); see
``svm.check_svm_folder`` and ``cnn.check_network_folder``.  Only
:meth:`astroxai.models.Estimator.load` calls these functions: every reader of a model folder goes through it.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import zipfile
from pathlib import Path

import numpy as np

from astroxai.data.base import atomic_path
from astroxai.errors import AstroxaiError
from astroxai.provenance import versions
from astroxai.results import json_text

SKOPS_FILE = "model.skops"
TORCH_FILE = "model.pt"
META_FILE = "model.json"
SPLIT_FILE = "split.json"
FORMAT = "astroxai.model"


class ModelLoadError(AstroxaiError, ValueError):
    """A model folder that cannot be loaded safely; the message says which file and why."""


class GridMismatchError(AstroxaiError, ValueError):
    """Inputs on another grid (wavelengths or image shape) than the one a model was trained on."""


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def write_meta(folder: Path, meta: dict) -> Path:
    """``model.json`` (atomically), with the format tag and the package versions."""
    path = Path(folder) / META_FILE
    with atomic_path(path) as temporary:
        temporary.write_text(json_text({"format": FORMAT, **meta, "versions": versions()}, indent=2))
    return path


def read_meta(folder: Path) -> dict:
    """The validated ``model.json`` of a folder; :class:`ModelLoadError` naming the problem otherwise."""
    folder = Path(folder)
    meta_path = folder / META_FILE
    if not meta_path.is_file():
        from astroxai.models.bundled import names

        raise ModelLoadError(f"{folder}: not a model folder (needs {META_FILE}) nor the name of a bundled model "
                             f"({', '.join(names()) or 'none installed'}; `astroxai models` lists them)")
    try:
        meta = json.loads(meta_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ModelLoadError(f"{meta_path}: not valid JSON ({error})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelLoadError(f"{meta_path}: not astroxai model metadata")
    return meta


def require(meta: dict, folder: Path, **types) -> None:
    """Refuse metadata that lacks a key or holds a value of the wrong type (``key=type`` or a tuple of types)."""
    for key, kind in types.items():
        if key not in meta:
            raise ModelLoadError(f"{Path(folder) / META_FILE}: missing {key!r}")
        if not isinstance(meta[key], kind):
            raise ModelLoadError(f"{Path(folder) / META_FILE}: {key!r} has the wrong type "
                                 f"({type(meta[key]).__name__})")


def checked_file(folder: Path, name: str, meta: dict) -> Path:
    """``folder/name``, after checking that it exists and matches the SHA-256 recorded in ``model.json``."""
    target = Path(folder) / name
    if not target.is_file():
        raise ModelLoadError(f"{folder}: not a model folder (needs {name} and {META_FILE})")
    if meta.get("sha256") != sha256(target):
        raise ModelLoadError(f"{target}: checksum differs from {META_FILE}: the file was changed or damaged")
    return target


def dump_skops(obj, path: Path) -> str:
    """Save a scikit-learn object with skops, its arrays deflated (an SVM's support vectors, smooth spectra, take
    half the space: 7.3 → 3.4 MB for the paper's 3-class model); returns the file's SHA-256."""
    import skops.io as sio

    with atomic_path(path) as temporary:
        sio.dump(obj, temporary, compression=zipfile.ZIP_DEFLATED)
    return sha256(path)


def load_skops(path: Path, trusted: tuple[str, ...] = ()):
    """A skops file whose types are all trusted by skops by default or named in ``trusted``; anything else is
    refused, never executed."""
    import skops.io as sio

    try:
        untrusted = sio.get_untrusted_types(file=path)
    except (zipfile.BadZipFile, KeyError, ValueError, json.JSONDecodeError) as error:
        raise ModelLoadError(f"{path}: not a skops model file ({error})") from None
    refused = sorted(set(untrusted) - set(trusted))
    if refused:
        raise ModelLoadError(f"{path}: refuses to load untrusted types {refused}")
    return sio.load(path, trusted=list(untrusted))


#: Key of the grid astroxai stores inside a network's state file, so that ``model.json``'s grid can be checked
#: against the checksummed file (popped before the weights are loaded).
GRID_KEY = "astroxai.grid"


def dump_state(module, path: Path, grid=None) -> str:
    """Save a torch module's ``state_dict`` (tensors only; with ``grid``, also the model's grid as one more tensor);
    returns the file's SHA-256."""
    import torch

    state = dict(module.state_dict())
    if grid is not None:
        state[GRID_KEY] = torch.as_tensor(np.asarray(grid, dtype=np.float64))
    with atomic_path(path) as temporary:
        torch.save(state, temporary)
    return sha256(path)


def check_stored_grid(stored, grid, where) -> None:
    """Refuse a ``model.json`` whose grid is not the one saved inside the checksummed model file (files written
    before astroxai stored it pass)."""
    if stored is None:
        return
    stored, grid = np.asarray(stored, dtype=np.float64).ravel(), np.asarray(grid, dtype=np.float64).ravel()
    if stored.shape != grid.shape or not np.allclose(stored, grid, rtol=0, atol=1e-6):
        raise ModelLoadError(f"{where}: its grid differs from the one saved inside the model file")


def load_state(module, path: Path):
    """Load a ``state_dict`` into ``module`` with ``weights_only=True`` (no code runs); :class:`ModelLoadError` when
    the file is not a state_dict of this architecture.  Returns the grid stored beside the weights (None in files
    written before astroxai stored it)."""
    import torch

    try:
        state = torch.load(path, weights_only=True, map_location="cpu")
        grid = state.pop(GRID_KEY, None) if isinstance(state, dict) else None
        module.load_state_dict(state)
    except (RuntimeError, pickle.UnpicklingError, KeyError, ValueError, EOFError, TypeError,
            AttributeError) as error:
        raise ModelLoadError(f"{path}: not a state_dict of the architecture in {META_FILE} ({error})") from None
    return None if grid is None else grid.numpy()


def check_spectral_grid(grid, reference, reduction: dict | None, where) -> None:
    """Refuse a stored wavelength grid that cannot be the model's: non-finite or not strictly increasing, or one on
    which ``reference`` (the training mean flux, or the baseline; ``None`` to skip) is not ≈ 1 at the wavelength where
    the reduction normalised every spectrum (5100 Å): a grid shifted by hundreds of Å usually is not."""
    from astroxai.lines import NORM_WAVELENGTH

    grid = np.asarray(grid, dtype=np.float64)
    if not np.all(np.isfinite(grid)):
        raise ModelLoadError(f"{where}: non-finite wavelength grid")
    if grid.ndim != 1 or grid.size < 2 or np.any(np.diff(grid) <= 0):
        raise ModelLoadError(f"{where}: the wavelength grid is not strictly increasing")
    norm = float((reduction or {}).get("norm_wavelength", NORM_WAVELENGTH))
    if reference is not None and grid[0] <= norm <= grid[-1]:
        level = float(np.interp(norm, grid, np.asarray(reference, dtype=np.float64)))
        if not 0.8 <= level <= 1.25:
            raise ModelLoadError(f"{where}: the training fluxes are {level:.2f}, not ≈ 1, at {norm:g} Å where the "
                                 "reduction normalised them: the grid does not belong to this model")


def check_grid(expected, given, reduction: dict | None = None) -> None:
    """Refuse spectra whose rest-frame grid is not ``expected`` (same points to 1e-6 Å).

    A model's features are fluxes at fixed wavelengths: the same classifier applied to another grid would silently
    compare different wavelengths.  The message says how to reduce onto the right grid.
    """
    expected = np.asarray(expected, dtype=float)
    given = np.asarray(given, dtype=float)
    if given.shape == expected.shape and np.allclose(given, expected, rtol=0, atol=1e-6):
        return
    lo, hi = expected[0], expected[-1]
    start, stop = (f"{given[0]:.2f}", f"{given[-1]:.2f}") if given.size else ("?", "?")
    raise GridMismatchError(
        f"spectra are on {given.size} points {start}–{stop} Å but the model needs "
        f"{expected.size} points {lo:.2f}–{hi:.2f} Å; reduce them with "
        f"`astroxai reduce --range {lo:.6g} {hi:.6g} --n-wave {expected.size} "
        f"--method {(reduction or {}).get('method', 'linear')}` (or give raw files to `astroxai predict`)")


def check_shape(expected, given) -> None:
    """Refuse images whose (C, H, W) shape is not ``expected``."""
    if tuple(expected) != tuple(given):
        c, h, w = expected
        raise GridMismatchError(f"the images are {' × '.join(map(str, given))} (C × H × W), the model needs "
                                f"{c} × {h} × {w}")
