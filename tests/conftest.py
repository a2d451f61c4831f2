"""Shared fixtures: small simulated samples and helpers that write files in real survey layouts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from astroxai.io.sdss import write_sdss_spec
from astroxai.simulate import simulate_sample


@pytest.fixture(scope="session")
def small_sample(tmp_path_factory) -> Path:
    """A 6 + 6 + 6 simulated sample (FITS files and catalogue); returns the catalogue path."""
    out = tmp_path_factory.mktemp("sim")
    return simulate_sample(out, {"type1": 6, "type2": 6, "intermediate": 6}, seed=7, workers=1)


def flat_spectrum(z=0.05, n=3000, level=10.0, start=3.5798, step=1e-4, slope=0.0):
    """A straight-line SDSS-grid spectrum: f = level · (1 + slope·(λ_rest − 5100)/1000)."""
    loglam = start + step * np.arange(n)
    rest = 10**loglam / (1 + z)
    flux = level * (1 + slope * (rest - 5100.0) / 1000.0)
    return loglam, flux, np.full(n, 4.0)


@pytest.fixture
def write_spec(tmp_path):
    """Factory writing a DR8 spec-lite file from arrays; returns its path."""
    counter = iter(range(1, 10_000))

    def make(loglam=None, flux=None, ivar=None, z=0.05, and_mask=None, name=None, **kwargs):
        if loglam is None:
            loglam, flux, ivar = flat_spectrum(z=0.05 if z is None else z)
        fiber = next(counter)
        path = tmp_path / (name or f"spec-9999-61000-{fiber:04d}.fits")
        return write_sdss_spec(path, loglam, flux, ivar, and_mask=and_mask, plate=9999, mjd=61000,
                               fiber=fiber, z=z, **kwargs)

    return make


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


@pytest.fixture(scope="session")
def dr18_file() -> Path:
    """The real SDSS DR18 spectrum of NGC 3073 that ships with ppxf."""
    import ppxf

    path = Path(ppxf.__file__).parent / "spectra" / "NGC3073_SDSS_DR18.fits"
    assert path.is_file(), "ppxf no longer ships NGC3073_SDSS_DR18.fits"
    return path


@pytest.fixture(scope="session")
def reduced_sample(tmp_path_factory) -> Path:
    """A 16 + 16 + 16 simulated sample reduced onto 150 points; returns the SpectraSet path (with the
    simulated FITS files in its folder's ``sim`` subfolder)."""
    from astroxai.io import collect_inputs
    from astroxai.reduce import reduce_inputs

    out = tmp_path_factory.mktemp("reduced")
    catalog = simulate_sample(out / "sim", {"type1": 16, "type2": 16, "intermediate": 16}, seed=11, workers=1)
    reduce_inputs(collect_inputs([catalog]), out / "dataset.h5", n_wave=150, workers=1)
    return out / "dataset.h5"


@pytest.fixture(scope="session")
def trained_model(tmp_path_factory, reduced_sample) -> Path:
    """A quick 3-class linear + RBF study on :func:`reduced_sample`; returns the model folder."""
    from astroxai.dataset import SpectraSet
    from astroxai.models.study import TrainConfig, train_study

    out = tmp_path_factory.mktemp("model") / "svm"
    cfg = TrainConfig(kernels=("linear", "rbf"), quick=True, seed=5, timing_repeats=2, noise_repeats=2)
    train_study(SpectraSet.load(reduced_sample), out, cfg, echo=lambda *a: None, dataset_path=str(reduced_sample))
    return out
