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


def _rank_deficient_sets():
    """Training sets of the kinds that broke the reference: fewer inputs than features (6 galaxy-sized images of
    4096 pixels), duplicated rows, a constant pixel, and a set spanning a plane only."""
    rng = np.random.default_rng(5)
    few = rng.normal(size=(6, 4096)) + 3
    duplicated = np.repeat(rng.normal(size=(8, 50)), 5, axis=0)
    constant = rng.normal(size=(300, 40)) * np.linspace(2, 0.5, 40)
    constant[:, 7] = 1.5
    plane = rng.normal(size=(200, 2)) @ rng.normal(size=(2, 30))
    return {"few": few, "duplicated": duplicated, "constant-pixel": constant, "plane": plane}


@pytest.mark.parametrize("name", ["few", "duplicated", "constant-pixel", "plane"])
def test_rank_deficient_training_sets_give_a_well_posed_reference(name):
    X = _rank_deficient_sets()[name]
    reference = TrainingReference.fit(X)
    rank = np.linalg.matrix_rank(X - X.mean(axis=0))  # numpy's own rank decision, independently
    assert reference.rank == rank and reference.n_kept == min(10, rank - 1) == len(reference.variances)
    assert reference.problem() is None
    own = reference.score(X)["score"]
    assert np.isfinite(own).all()
    # by construction: the limit interpolates between order statistics at the 99.5 % position, so at most
    # floor(0.005 (n - 1)) + 1 inputs lie above each statistic's limit (1 of 6, 2 of 300); two statistics
    n = len(X)
    assert np.mean(own > 1 + 1e-9) <= 2 * (np.floor(0.005 * (n - 1)) + 1) / n
    assert own.max() < 50  # a training input is never far outside its own reference (1e28 before)
    # new inputs of the same kind score on the scale of the training set's own residuals, not of round-off
    rng = np.random.default_rng(6)
    fresh = X[rng.integers(len(X), size=20)] + rng.normal(scale=0.01 * X.std(), size=(20, X.shape[1]))
    assert np.isfinite(reference.score(fresh)["score"]).all() and reference.score(fresh)["score"].max() < 1e6


@pytest.mark.parametrize("name", ["few", "duplicated", "constant-pixel", "plane"])
def test_scores_do_not_depend_on_round_off(name):
    """Another BLAS kernel (AVX2 or AVX-512) changes the decomposition by round-off only.  A relative change of the
    training inputs of a few float64 epsilons (what another summation order makes of them) must leave the scores as
    they were, to 1e-6: before the rank rules, a Q limit made of round-off moved them by factors up to 10^28."""
    X = _rank_deficient_sets()[name]
    rng = np.random.default_rng(8)
    nudged = X * (1 + 1e-15 * rng.standard_normal(X.shape))
    new = X[:5] + rng.normal(scale=0.05 * X.std(), size=(5, X.shape[1]))
    a, b = TrainingReference.fit(X), TrainingReference.fit(nudged)
    assert a.n_kept == b.n_kept
    np.testing.assert_allclose(b.score(new)["score"], a.score(new)["score"], rtol=1e-6)
    np.testing.assert_allclose(b.score(X)["score"], a.score(X)["score"], rtol=1e-6, atol=1e-9)


def test_identical_inputs_are_refused_with_a_clear_error():
    with pytest.raises(ValueError, match="identical"):
        TrainingReference.fit(np.ones((5, 10)))


def test_a_degenerate_reference_of_an_older_folder_loads_without_it_and_warns(trained_model, reduced_sample,
                                                                               tmp_path, caplog):
    """A folder written before the rank rules: as many components as its training inputs have directions (the old
    rule for a small set) and a variance of round-off.  It still loads and predicts; novelty says nothing."""
    meta = json.loads((trained_model / "model.json").read_text())
    state = meta["reference"]
    state["n_train"] = len(state["variances"]) + 1  # k = n - 1: Q left with round-off only
    state.pop("rank", None), state.pop("n_kept", None)
    old = tmp_path / "old"
    old.mkdir()
    for file in trained_model.iterdir():
        if file.is_file():
            (old / file.name).write_bytes(file.read_bytes())
    (old / "model.json").write_text(json.dumps(meta))
    data = SpectraSet.load(reduced_sample)
    with caplog.at_level("WARNING", logger="astroxai"):
        model = Estimator.load(old)
    assert "degenerate" in caplog.text and "leave only round-off to the Q residual" in caplog.text
    assert "train it again" in caplog.text and str(old / "model.json") in caplog.text
    assert model.reference_ is None and model.novelty(data) is None
    np.testing.assert_array_equal(model.predict(data), Estimator.load(trained_model).predict(data))
    state["n_train"] = 500
    state["variances"][-1] = state["variances"][0] * 1e-40  # a variance of round-off, kept by the old rule
    (old / "model.json").write_text(json.dumps(meta))
    caplog.clear()
    with caplog.at_level("WARNING", logger="astroxai"):
        assert Estimator.load(old).reference_ is None
    assert "1 of its 10 components have no variance beyond round-off" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="astroxai"):
        assert Estimator.load(trained_model).reference_ is not None
    assert "degenerate" not in caplog.text
