"""Toy models whose answers are known in closed form, and writers of files in real survey layouts, shared by the
tests (captum keeps its toy models in one helpers module the same way)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from astropy.io import fits


class Softmax(torch.nn.Module):
    """p = softmax(W x + b): a model whose gradient is known in closed form."""

    def __init__(self, W, b):
        super().__init__()
        self.register_buffer("W", torch.as_tensor(W))
        self.register_buffer("b", torch.as_tensor(b))

    def forward(self, x):
        return torch.softmax(x.to(torch.float64) @ self.W.T + self.b, dim=1)

    def predict_proba(self, X):
        with torch.no_grad():
            return self(torch.as_tensor(np.asarray(X, dtype=np.float64))).numpy()


class LinearProbability(torch.nn.Module):
    """p_0 = 0.5 + w·(x − c), p_1 = 1 − p_0: an additive model, so every method's exact answer is known."""

    def __init__(self, w, c):
        super().__init__()
        self.register_buffer("w", torch.as_tensor(w, dtype=torch.float64))
        self.register_buffer("c", torch.as_tensor(c, dtype=torch.float64))

    def forward(self, x):
        p0 = 0.5 + (x.to(torch.float64) - self.c) @ self.w
        return torch.stack([p0, 1 - p0], dim=1)


class AdditiveImage(torch.nn.Module):
    """p_0 = 0.5 + Σ w (x − 1) over all pixels, p_1 = 1 − p_0."""

    def __init__(self, w):
        super().__init__()
        self.register_buffer("w", torch.as_tensor(w, dtype=torch.float64))

    def forward(self, x):
        p0 = 0.5 + ((x.to(torch.float64) - 1.0) * self.w).flatten(1).sum(dim=1)
        return torch.stack([p0, 1 - p0], dim=1)


def flat_spectrum(z=0.05, n=3000, level=10.0, start=3.5798, step=1e-4, slope=0.0):
    """A straight-line SDSS-grid spectrum: f = level · (1 + slope·(λ_rest − 5100)/1000)."""
    loglam = start + step * np.arange(n)
    rest = 10**loglam / (1 + z)
    flux = level * (1 + slope * (rest - 5100.0) / 1000.0)
    return loglam, flux, np.full(n, 4.0)


def write_spspec(path, loglam0=3.5798, n=3000, z=0.07, flux=None, error=None, mask=None):
    """Write a DR7 spSpec file: primary image rows flux / continuum-subtracted / error / mask / -."""
    flux = np.full(n, 5.0) if flux is None else flux
    error = np.full(n, 0.5) if error is None else error
    mask = np.zeros(n) if mask is None else mask
    data = np.vstack([flux, flux - 5.0, error, mask, np.zeros(n)]).astype(np.float32)
    hdu = fits.PrimaryHDU(data)
    hdu.header["COEFF0"] = loglam0
    hdu.header["COEFF1"] = 1e-4
    hdu.header["Z"] = z
    hdu.header["PLATEID"] = 266
    hdu.header["MJD"] = 51630
    hdu.header["FIBERID"] = 12
    hdu.header["SPEC_CLN"] = 4
    fits.HDUList([hdu]).writeto(path, overwrite=True)
    return path


def three_classes(n=120, d=30, seed=0):
    """Three overlapping Gaussian classes, one of them small, like type 1 / type 2 / intermediate."""
    rng = np.random.default_rng(seed)
    y = np.array(["type2"] * (n // 2) + ["type1"] * (n // 3) + ["intermediate"] * (n - n // 2 - n // 3))
    X = rng.normal(size=(n, d))
    X[y == "type1", :6] += 1.2
    X[y == "intermediate", :6] += 0.6
    X *= rng.uniform(0.5, 3.0, size=d)  # unequal feature scales: the scaler matters
    return X, y


def libsvm_probability_svm(kernel="linear", C=1.0, gamma=None, *, n_features, seed=0, standardise=True):
    """scikit-learn's own ``SVC(probability=True)`` pipeline, the independent reference for astroxai's Platt
    calibration; scikit-learn 1.11 removes the option, and then the comparisons that need it are skipped (the
    independent-optimiser and stored-model tests in ``tests/models/test_probability.py`` still run)."""
    from astroxai.models.svm import make_svm

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            return make_svm(kernel, C, gamma, n_features=n_features, probability=True, seed=seed,
                            standardise=standardise)
    except TypeError:  # pragma: no cover - scikit-learn >= 1.11
        pytest.skip("this scikit-learn has no SVC(probability=True) to compare with")
