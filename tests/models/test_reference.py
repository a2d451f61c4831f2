"""The out-of-distribution score (:mod:`astroxai.models.reference`): Hotelling T² and the Q residual against a
brute-force computation from numpy's own eigen-decomposition, the flag rate on the training inputs, inputs unlike
the training set flagged, the reference kept through a model folder, and a damaged reference refused."""

from __future__ import annotations

import json

import numpy as np
import pytest

from astroxai.data import SpectraSet
from astroxai.models import Estimator
from astroxai.models.persist import ModelLoadError
from astroxai.models.reference import TrainingReference


def test_statistics_equal_a_brute_force_pca():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 30)) @ rng.normal(size=(30, 30))
    reference = TrainingReference.fit(X, n_components=6)
    new = rng.normal(size=(25, 30)) * 3
    # independent: eigenvectors of the sample covariance (numpy), then the textbook formulas
    mean = X.mean(axis=0)
    values, vectors = np.linalg.eigh(np.cov(X - mean, rowvar=False))
    order = np.argsort(values)[::-1][:6]
    values, vectors = values[order], vectors[:, order]
    centred = new - mean
    scores = centred @ vectors
    t2 = (scores**2 / values).sum(axis=1)
    q = ((centred - scores @ vectors.T) ** 2).sum(axis=1)
    got = reference.score(new)
    np.testing.assert_allclose(got["t2"] * reference.t2_limit, t2, rtol=1e-8)
    np.testing.assert_allclose(got["q"] * reference.q_limit, q, rtol=1e-8)
    np.testing.assert_array_equal(got["score"], np.maximum(got["t2"], got["q"]))


def test_flag_rate_on_training_inputs_and_far_inputs():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(2000, 12)) * np.linspace(4, 0.2, 12)
    reference = TrainingReference.fit(X, n_components=4, quantile=0.99)
    own = reference.score(X)["outside"].mean()
    assert 0.005 <= own <= 0.02  # about 1 % by construction (two statistics, each at its 99th percentile)
    fresh = rng.normal(size=(2000, 12)) * np.linspace(4, 0.2, 12)
    assert reference.score(fresh)["outside"].mean() < 0.04  # new draws of the same distribution pass
    assert reference.score(fresh[:50] + 25)["outside"].all()


def test_the_model_folder_keeps_the_reference_and_refuses_a_damaged_one(trained_model, reduced_sample, tmp_path):
    model = Estimator.load(trained_model)
    data = SpectraSet.load(reduced_sample)
    novelty = model.novelty(data)
    assert novelty["outside"].mean() < 0.2  # the spectra it was trained and tested on
    rng = np.random.default_rng(3)
    noise = 1 + rng.normal(scale=0.5, size=data.flux.shape)  # unit continuum and noise: no AGN at all
    reversed_lines = data.flux[:, ::-1]  # every line at the wrong wavelength
    assert model.novelty(noise)["outside"].all() and model.novelty(reversed_lines)["outside"].mean() > 0.9
    meta = json.loads((trained_model / "model.json").read_text())
    assert meta["reference"]["n_train"] == model.training_["n_spectra"]
    meta["reference"]["variances"][0] = float("nan")
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    for file in trained_model.iterdir():
        if file.is_file():
            (damaged / file.name).write_bytes(file.read_bytes())
    (damaged / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelLoadError, match="training reference"):
        Estimator.load(damaged)
