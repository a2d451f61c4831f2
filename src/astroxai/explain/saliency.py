"""Saliency maps: the derivative of a class probability with respect to every input flux.

Three ways to compute the same map (Peruzzi et al. 2021, Sect. 4.1; Simonyan et al. 2013):

* :func:`paper_loop_saliency` — the paper as it ran: one ``predict_proba`` call per perturbed pixel.  Kept for
  the benchmark and as the reference the others are checked against; far too slow for a survey.
* :func:`finite_difference_saliency` — the same finite differences, vectorised: every perturbed copy of every
  spectrum goes through the model in a few large batched calls.  Works on any model with ``predict_proba``.
* :func:`gradient_saliency` — the exact gradient in one backward pass (:func:`row_gradients`, equal to captum's
  ``Saliency``, which the tests check) on a torch module (an SVM converted by
  :class:`astroxai.models.bridge.SVCProbability`, or any torch classifier that returns probabilities);
  :mod:`astroxai.explain.methods` registers it as ``saliency``.

On the target and the quantity: the paper's text defines the map as the gradient of ``log p_c``, but its recipe
(``[p_c(f + e_i) − p_c(f)] / e_i`` with ``e_i = 0.01 f_i``) computes the gradient of ``p_c`` itself.  The two
differ by the positive factor ``1 / p_c``, so they share every sign and only the scale changes.  Both are offered
(``log=False`` is the recipe, ``log=True`` the text).  Positive values mean that more flux at that wavelength makes
the model *more* confident in the target class (drawn in blue in the paper's figures).
"""

from __future__ import annotations

import numpy as np
import torch

from astroxai.errors import InputError
from astroxai.progress import track

#: The paper's relative perturbation: e_i = 0.01 f_i.
PAPER_EPSILON = 0.01


def resolve_targets(target, classes, predicted) -> np.ndarray:
    """Class indices (into ``classes``) to explain, one per spectrum.

    ``target`` is ``None``/``'predicted'`` (the model's prediction, given as labels or indices in ``predicted``),
    a class name, a class index, or one name/index per spectrum.
    """
    classes = [str(c) for c in classes]
    lookup = {c: i for i, c in enumerate(classes)}

    def index(value):
        if isinstance(value, (int, np.integer)):
            if not 0 <= int(value) < len(classes):
                raise InputError(f"class index {value} is outside 0…{len(classes) - 1}")
            return int(value)
        if str(value) not in lookup:
            raise InputError(f"unknown class {value!r}; the model's classes are {classes}")
        return lookup[str(value)]

    if target is None or (isinstance(target, str) and target == "predicted"):
        return np.array([index(p) for p in np.asarray(predicted).tolist()], dtype=np.int64)
    n = len(predicted)
    if isinstance(target, (str, int, np.integer)):
        return np.full(n, index(target), dtype=np.int64)
    target = target.tolist() if isinstance(target, np.ndarray) else list(target)
    if len(target) != n:
        raise InputError(f"{len(target)} targets for {n} spectra")
    return np.array([index(t) for t in target], dtype=np.int64)


def _steps(X: np.ndarray, eps: float) -> np.ndarray:
    """The perturbation of each flux: ``eps · f_i``; where a flux is (near) zero the step would vanish, so it
    falls back to ``eps`` times the spectrum's mean absolute flux (the paper's spectra are all positive)."""
    steps = eps * X
    scale = eps * np.mean(np.abs(X), axis=1, keepdims=True)
    scale = np.where(scale > 0, scale, eps)
    return np.where(np.abs(steps) < 1e-6 * scale, scale, steps)


def _score(p: np.ndarray, log: bool) -> np.ndarray:
    return np.log(np.clip(p, 1e-300, None)) if log else p


def finite_difference_saliency(predict_proba, X, target, *, eps: float = PAPER_EPSILON, log: bool = False,
                               scheme: str = "forward", max_rows: int = 16384, progress=None) -> np.ndarray:
    """Finite-difference saliency of many spectra, all perturbed copies sent through ``predict_proba`` in batches.

    Parameters
    ----------
    predict_proba : callable, (M, F) → (M, K) probabilities (e.g. a fitted pipeline's ``predict_proba``)
    X : (N, F) fluxes
    target : (N,) class indices (column of ``predict_proba``'s output), see :func:`resolve_targets`
    eps : relative perturbation, ``e_i = eps · f_i`` (the paper: 0.01)
    log : differentiate ``log p`` instead of ``p``
    scheme : ``'forward'`` (the paper: ``[p(f + e_i) − p(f)] / e_i``) or ``'central'``
        (``[p(f + e_i) − p(f − e_i)] / 2e_i``, second-order accurate, twice the calls)
    max_rows : largest number of perturbed spectra in one ``predict_proba`` call (memory: 8·F bytes each)

    Returns the (N, F) map in units of probability (or log-probability) per unit of normalised flux.
    """
    if scheme not in ("forward", "central"):
        raise InputError("scheme must be 'forward' or 'central'")
    X = np.atleast_2d(np.asarray(X, dtype=np.float64))
    target = np.asarray(target, dtype=np.int64)
    n, f = X.shape
    steps = _steps(X, eps)
    out = np.empty((n, f))
    base = _score(predict_proba(X)[np.arange(n), target], log) if scheme == "forward" else None
    # Whole spectra per call when they fit, otherwise blocks of pixels of one spectrum.
    per_call = max(1, max_rows // f)
    pixel_block = min(f, max_rows)
    signs = (1.0,) if scheme == "forward" else (1.0, -1.0)
    starts = range(0, n, per_call)
    for start in track(progress, starts, "finite differences", len(starts)):
        rows = np.arange(start, min(n, start + per_call))
        for p0 in range(0, f, pixel_block):
            pixels = np.arange(p0, min(f, p0 + pixel_block))
            values = []
            for sign in signs:
                copies = np.repeat(X[rows, None, :], len(pixels), axis=1)  # (r, P, F)
                copies[:, np.arange(len(pixels)), pixels] += sign * steps[rows][:, pixels]
                prob = predict_proba(copies.reshape(-1, f)).reshape(len(rows), len(pixels), -1)
                values.append(_score(prob[np.arange(len(rows)), :, target[rows]], log))
            h = steps[rows][:, pixels]
            if scheme == "forward":
                out[np.ix_(rows, pixels)] = (values[0] - base[rows, None]) / h
            else:
                out[np.ix_(rows, pixels)] = (values[0] - values[1]) / (2 * h)
    return out


def paper_loop_saliency(predict_proba, x, target: int, *, eps: float = PAPER_EPSILON, log: bool = False) -> np.ndarray:
    """The paper's procedure for one spectrum, literally: perturb flux i by ``eps · f_i``, re-classify, repeat for
    every i (one ``predict_proba`` call per pixel).  Reference and benchmark baseline only."""
    x = np.asarray(x, dtype=np.float64).ravel()
    steps = _steps(x[None, :], eps)[0]
    base = _score(predict_proba(x[None, :])[0, target], log)
    out = np.empty(x.size)
    for i in range(x.size):
        copy = x.copy()
        copy[i] += steps[i]
        out[i] = (_score(predict_proba(copy[None, :])[0, target], log) - base) / steps[i]
    return out


def module_dtype(module: torch.nn.Module) -> torch.dtype:
    """The floating type a module computes in (that of its first floating buffer or parameter; float64 when it has
    none)."""
    tensors = [t for t in (*module.buffers(), *module.parameters()) if t.is_floating_point()]
    return tensors[0].dtype if tensors else torch.float64


def row_gradients(module: torch.nn.Module, inputs: torch.Tensor, target=None, *, log: bool = False) -> torch.Tensor:
    """``∂ out[i, target[i]] / ∂ inputs[i]`` for every row ``i`` in one backward pass (``log``: of ``log out``).

    This is captum ``Saliency(module).attribute(inputs, target, abs=False)``, computed by differentiating the *sum*
    of the selected outputs.  captum differentiates the tuple of every output (``torch.unbind``), one gradient root
    per input; for a linear SVM that bookkeeping costs more than the model itself (≈ 40 % of a survey's explain
    step).  The sum gives the same numbers whenever each output row depends on its own input row only, which holds
    for every astroxai model in evaluation mode (SVM bridges; CNNs, whose batch norm then uses running statistics);
    ``tests/explain/test_saliency.py`` compares the two on each model kind.
    """
    outputs = module(inputs)
    if log:
        outputs = torch.log(outputs.clamp_min(1e-300))
    if target is not None:
        index = torch.tensor(np.asarray(target), dtype=torch.int64, device=outputs.device).reshape(-1, 1)
        outputs = outputs.gather(1, index.expand(len(outputs), 1))
    return torch.autograd.grad(outputs.sum(), inputs)[0]


def gradient_saliency(model: torch.nn.Module, X, target, *, log: bool = False, batch_size: int = 256,
                      progress=None) -> np.ndarray:
    """Exact saliency ``∂ p_target / ∂ f_i`` (or ``∂ log p``) by autograd (:func:`row_gradients`).

    ``model`` maps (N, F) fluxes to (N, K) probabilities (e.g. :class:`~astroxai.models.bridge.SVCProbability`).
    Returns an (N, F) float64 array.
    """
    X = np.atleast_2d(np.asarray(X, dtype=np.float64))
    target = np.broadcast_to(np.asarray(target, dtype=np.int64), (len(X),))
    dtype = module_dtype(model)
    out = np.empty_like(X)
    starts = range(0, len(X), batch_size)
    for start in track(progress, starts, "saliency batches", len(starts)):
        stop = min(len(X), start + batch_size)
        inputs = torch.as_tensor(X[start:stop], dtype=dtype).requires_grad_(True)
        grads = row_gradients(model, inputs, target[start:stop], log=log)
        out[start:stop] = grads.detach().to(torch.float64).numpy()
    return out


def most_probable_saliency(model: torch.nn.Module, X, *, batch_size: int = 256,
                           progress=None) -> tuple[np.ndarray, np.ndarray]:
    """Exact saliency of each input's most probable class, and every class probability, from one forward pass per
    batch: ``(maps, probabilities)``, both float64.

    For a classifier that decides for its most probable class the decision and the map need the same forward pass;
    computing the probabilities separately (``predict_proba``) cost about a third of the time of classify + explain
    for the 1-D CNN.  The maps equal :func:`gradient_saliency` at those classes (tested)."""
    X = np.atleast_2d(np.asarray(X, dtype=np.float64))
    dtype = module_dtype(model)
    maps, probabilities = np.empty_like(X), None
    starts = range(0, len(X), batch_size)
    for start in track(progress, starts, "saliency batches", len(starts)):
        stop = min(len(X), start + batch_size)
        inputs = torch.as_tensor(X[start:stop], dtype=dtype).requires_grad_(True)
        outputs = model(inputs)
        top = outputs.detach().argmax(dim=1, keepdim=True)
        maps[start:stop] = torch.autograd.grad(outputs.gather(1, top).sum(), inputs)[0].to(torch.float64).numpy()
        if probabilities is None:
            probabilities = np.empty((len(X), outputs.shape[1]))
        probabilities[start:stop] = outputs.detach().to(torch.float64).numpy()
    return maps, probabilities


def cosine_similarity(a, b) -> np.ndarray:
    """Row-wise cosine similarity of two (N, F) maps (NaN where either row is all zero)."""
    a, b = np.atleast_2d(a), np.atleast_2d(b)
    norm = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norm > 0, np.einsum("ij,ij->i", a, b) / norm, np.nan)
