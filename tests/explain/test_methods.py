"""Every attribution method against closed forms on models whose answer is known, and the trust metrics on cases
with known answers."""

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from astroxai.explain.methods import METHODS, attribute, continuum, get_method, wavelength_segments
from astroxai.explain.metrics import (
    deletion_insertion,
    mass_in_region,
    perturbation_curves,
    predictor,
    randomisation_sanity,
    randomised_model,
    rank_correlation,
    stability,
    truth_regions,
)
from astroxai.explain.physics import velocity
from astroxai.lines import BALMER
from tests.helpers import LinearProbability, Softmax


@pytest.fixture
def linear():
    rng = np.random.default_rng(1)
    f = 60
    w = rng.normal(size=f) * 1e-3
    X = 1.0 + 0.3 * rng.random((4, f))
    base = np.full(f, 1.1)
    return LinearProbability(w, np.ones(f)), w, X, base


def contributions(w, X, base):
    return w * (X - base)  # exact additive contribution of every pixel to p_0


def test_smoothgrad_of_a_linear_model_is_its_constant_gradient(linear):
    model, w, X, _ = linear
    maps = attribute(model, X, 0, "smoothgrad", noise=0.5).maps
    np.testing.assert_allclose(maps, np.broadcast_to(w, X.shape), rtol=1e-10)


def test_smoothgrad_averages_gradients_at_noisy_points():
    """On a curved model SmoothGrad differs from the plain gradient and tends to it as the noise vanishes."""
    rng = np.random.default_rng(2)
    model = Softmax(rng.normal(size=(3, 30)), rng.normal(size=3))
    X = rng.random((3, 30))
    plain = attribute(model, X, 1, "saliency").maps
    tiny = attribute(model, X, 1, "smoothgrad", noise=1e-6).maps
    wide = attribute(model, X, 1, "smoothgrad", noise=1.0, n_samples=50).maps
    np.testing.assert_allclose(tiny, plain, rtol=1e-4, atol=1e-10)
    assert np.abs(wide - plain).max() > 10 * np.abs(tiny - plain).max()


def test_integrated_gradients_against_a_brute_force_path_integral():
    rng = np.random.default_rng(3)
    W, b = rng.normal(size=(3, 12)), rng.normal(size=3)
    model = Softmax(W, b)
    X, base = rng.random((2, 12)), np.full(12, 0.5)
    result = attribute(model, X, 2, "integrated-gradients", baseline=base, n_steps=200)

    def grad(x):  # ∂ softmax_2 / ∂x, closed form
        p = model(torch.as_tensor(x[None])).numpy()[0]
        return p[2] * (W[2] - p @ W)

    alphas = (np.arange(2000) + 0.5) / 2000
    expected = np.array([(x - base) * np.mean([grad(base + a * (x - base)) for a in alphas], axis=0) for x in X])
    np.testing.assert_allclose(result.maps, expected, rtol=1e-4, atol=1e-9)
    p = model(torch.as_tensor(X)).numpy()[:, 2] - model(torch.as_tensor(np.vstack([base, base]))).numpy()[:, 2]
    np.testing.assert_allclose(result.maps.sum(axis=1), p, atol=1e-6)  # completeness
    assert np.all(np.abs(result.delta) < 1e-6)


def test_occlusion_against_brute_force_windows(linear):
    model, w, X, base = linear
    window, stride = 10, 5
    maps = attribute(model, X, 0, "occlusion", baseline=base, window=window, stride=stride).maps
    expected, count = np.zeros_like(X), np.zeros(X.shape[1])
    c = contributions(w, X, base)
    for start in range(0, X.shape[1] - window + 1, stride):
        expected[:, start:start + window] += c[:, start:start + window].sum(axis=1, keepdims=True)
        count[start:start + window] += 1
    np.testing.assert_allclose(maps, expected / count, rtol=1e-6, atol=1e-10)  # p ≈ 0.5: float64 rounding


@pytest.mark.parametrize("method", ["kernelshap", "lime"])
def test_segment_methods_recover_additive_contributions(linear, method):
    """For an additive model each segment's Shapley value (and the exact linear surrogate) is the sum of its
    pixels' contributions; captum spreads it to every pixel of the segment."""
    model, w, X, base = linear
    segments = wavelength_segments(np.arange(X.shape[1]), n_segments=6)
    maps = attribute(model, X, 0, method, baseline=base, n_segments=6, n_samples=300).maps
    c = contributions(w, X, base)
    expected = np.stack([np.bincount(segments, weights=row)[segments] for row in c])
    tolerance = 1e-6 if method == "kernelshap" else 0.05 * np.abs(expected).max()
    np.testing.assert_allclose(maps, expected, atol=tolerance)


@pytest.mark.parametrize("method", ["lime", "kernelshap"])
@pytest.mark.parametrize("image", [False, True])
@pytest.mark.filterwarnings("ignore:You are providing multiple inputs")  # captum's, about its own per-input loop
def test_batched_surrogates_equal_captums_own_loop(method, image):
    """LIME and KernelSHAP draw, transform and weigh all perturbations of an input at once; captum's own
    ``attribute`` (one perturbation at a time, the reference) gives the same maps from the same seed, for several
    inputs in one batch, a nonlinear model, and images whose masks have different numbers of features.  Tolerance:
    float32 round-off of the LIME kernel's cosine and of a ridge fit on one BLAS thread where captum's may use several
    (KernelSHAP's weights are exact and its least-squares fit came out the same on any number of threads)."""
    from captum._utils.models.linear_model import SkLearnRidge
    from captum.attr import KernelShap, Lime

    rng = np.random.default_rng(3)
    if image:
        shape, n_features = (1, 6, 6), [5, 3, 4]
        W = rng.normal(size=(3, 36))
        model = torch.nn.Sequential(torch.nn.Flatten(), Softmax(W, np.zeros(3)))
        X = rng.random((3, *shape))
        mask = np.stack([rng.integers(0, k, size=shape) for k in n_features])
        for row, k in zip(mask, n_features, strict=True):
            row.flat[:k] = np.arange(k)  # every feature present at least once
    else:
        W = rng.normal(size=(3, 30)) * 3
        model, X = Softmax(W, np.zeros(3)), 1 + rng.random((4, 30))
        mask = np.broadcast_to(wavelength_segments(np.arange(30), n_segments=7), X.shape)
    base, target, seed = np.full(X.shape, 0.5), np.arange(len(X)) % 3, 11
    ours = attribute(model, X, target, method, baseline=base, feature_mask=mask, n_samples=150, seed=seed).maps
    explainer = Lime(model, interpretable_model=SkLearnRidge(alpha=0.01)) if method == "lime" else KernelShap(model)
    torch.manual_seed(seed)
    with torch.no_grad():
        reference = explainer.attribute(torch.tensor(X), baselines=torch.tensor(base), target=torch.tensor(target),
                                        feature_mask=torch.tensor(mask), n_samples=150, perturbations_per_eval=100)
    reference = reference.numpy()
    assert np.abs(reference).max() > 1e-3  # the maps are not trivially zero
    tolerance = (1e-4 if method == "lime" else 1e-6) * np.abs(reference).max()
    np.testing.assert_allclose(ours, reference, rtol=0, atol=tolerance)


def test_surrogate_fits_leave_the_blas_threads_as_they_were(linear):
    """The surrogates are fitted on one BLAS thread; afterwards, also after fits from two threads at once, every BLAS
    library has the threads it had before."""
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_info, threadpool_limits

    model, w, X, base = linear
    with threadpool_limits(2, user_api="blas"):
        before = [(info["filepath"], info["num_threads"]) for info in threadpool_info() if info["user_api"] == "blas"]
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda m: attribute(model, X, 0, m, baseline=base, n_samples=50), ["lime", "kernelshap"]))
        after = [(info["filepath"], info["num_threads"]) for info in threadpool_info() if info["user_api"] == "blas"]
    assert before and after == before


def test_wavelength_segments():
    plain = wavelength_segments(np.arange(100), n_segments=7)
    assert plain[0] == 0 and plain[-1] == 6 and np.all(np.diff(plain) >= 0)
    wave = np.linspace(3730, 5260, 1000)
    lines = wavelength_segments(wave, n_segments=40, lines=True)
    assert np.array_equal(np.unique(lines), np.arange(lines.max() + 1))
    hb = np.abs(velocity(wave, BALMER["Hβ"])) <= 2000
    assert np.unique(lines[hb]).size == 1 and not np.isin(lines[hb][0], lines[~hb])


def test_baselines():
    wave = np.linspace(3730, 5260, 1000)
    flat = 1.0 + 1e-4 * (wave - 5100)
    line = flat + 2.0 * np.exp(-0.5 * ((wave - 4862.7) / 5.0) ** 2)
    cont = continuum(line[None])[0]
    assert np.abs(cont - flat).max() < 0.02 and line.max() - flat.max() > 1.9
    with pytest.raises(ValueError, match="unknown method"):
        attribute(Softmax(np.ones((2, 3)), np.zeros(2)), np.ones((1, 3)), 0, "deeplift")
    with pytest.raises(ValueError, match="needs a baseline"):
        attribute(Softmax(np.ones((2, 3)), np.zeros(2)), np.ones((1, 3)), 0, "occlusion")


def test_one_registry_exact_is_saliency_and_options_are_checked():
    assert get_method("exact") is get_method("saliency") and "exact" not in METHODS
    model = Softmax(np.random.default_rng(0).normal(size=(2, 5)), np.zeros(2))
    X = np.ones((2, 5))
    np.testing.assert_array_equal(attribute(model, X, 1, "exact").maps, attribute(model, X, 1, "saliency").maps)
    with pytest.raises(ValueError, match="takes no options"):
        attribute(model, X, 1, "smoothgrad", n_steps=5)
    with pytest.raises(ValueError, match="spectra only"):
        attribute(model, np.ones((1, 1, 4, 4)), 0, "finite-difference")


def test_perturbation_curves_against_a_loop(linear):
    model, w, X, base = linear
    predict = predictor(model)
    orders = np.argsort(-contributions(w, X, base), axis=1)
    curves = perturbation_curves(predict, X, orders, np.zeros(len(X), int), base, steps=6)
    f = X.shape[1]
    for i, x in enumerate(X):
        for k, fraction in enumerate(np.linspace(0, 1, 7)):
            taken = orders[i, :round(fraction * f)]
            deleted, inserted = x.copy(), np.broadcast_to(base, x.shape).copy()
            deleted[taken], inserted[taken] = base[taken], x[taken]
            assert curves["deletion"][i, k] == pytest.approx(predict(deleted[None])[0, 0], abs=1e-12)
            assert curves["insertion"][i, k] == pytest.approx(predict(inserted[None])[0, 0], abs=1e-12)


def test_faithful_maps_beat_random_and_reversed_orders(linear):
    model, w, X, base = linear
    exact = contributions(w, X, base)
    target = np.zeros(len(X), int)
    good = deletion_insertion(predictor(model), X, exact, target, base, n_random=5)
    bad = deletion_insertion(predictor(model), X, -exact, target, base, n_random=5)
    assert np.all(good["deletion_auc"] < good["random_deletion_auc"])
    assert np.all(good["insertion_auc"] > good["random_insertion_auc"])
    assert np.all(bad["deletion_auc"] > bad["random_deletion_auc"])
    np.testing.assert_allclose(good["deletion_curve"][[0, -1]],
                               [predictor(model)(X)[:, 0].mean(), predictor(model)(np.vstack([base] * 4))[:, 0].mean()])


def test_rank_correlation_equals_scipy():
    rng = np.random.default_rng(4)
    a, b = rng.random((5, 40)), rng.random((5, 40))
    b[0] = a[0] ** 2  # monotone: ρ = 1
    b[1, :20] = b[1, 20:]  # ties
    expected = [spearmanr(x, y).statistic for x, y in zip(a, b, strict=True)]
    np.testing.assert_allclose(rank_correlation(a, b), expected, rtol=1e-12)
    assert np.isnan(rank_correlation(np.ones((1, 5)), a[:1, :5])[0])


def test_stability_known_answers():
    rng = np.random.default_rng(5)
    X = 1.0 + rng.random((3, 400))
    constant = stability(lambda s, t: np.ones_like(s), X, None, 0.1)
    np.testing.assert_array_equal(constant, 0.0)
    identity = stability(lambda s, t: s, X, None, 0.1, n_draws=20)  # ‖δ‖ / ‖x‖ ≈ σ √F / ‖x‖
    np.testing.assert_allclose(identity, 0.1 * np.sqrt(400) / np.linalg.norm(X, axis=1), rtol=0.05)


def test_truth_regions_and_mass_against_brute_force():
    wave = np.linspace(3730, 5260, 500)
    regions = truth_regions(wave, ["type1", "type2"], [True, False], [3000.0, np.nan], r_feii=[0.5, np.nan],
                            default_fwhm=2000.0)
    for name in ("Hβ", "Hγ", "Hδ"):
        v = np.abs(velocity(wave, BALMER[name]))
        assert regions[0, v <= 3000].all() and regions[1, v <= 2000].all()
        assert not regions[1, (v > 2000) & (v < 2500)].any()
    assert regions[0, (wave > 4500) & (wave < 4600)].all() and not regions[1, (wave > 4500) & (wave < 4600)].any()
    rng = np.random.default_rng(6)
    maps = rng.normal(size=(2, 500))
    mass = mass_in_region(wave, maps, regions)
    widths = np.gradient(wave)
    for i in range(2):
        total = sum(abs(maps[i, j]) * widths[j] for j in range(500))
        inside = sum(abs(maps[i, j]) * widths[j] for j in range(500) if regions[i, j])
        assert mass["mass"][i] == pytest.approx(inside / total)
        assert mass["area"][i] == pytest.approx(widths[regions[i]].sum() / widths.sum())


def test_randomisation_sanity_passes_for_a_real_model_and_fails_for_a_model_blind_explanation(trained_model,
                                                                                               reduced_sample):
    from astroxai.data import SpectraSet
    from astroxai.models import load_model

    data = SpectraSet.load(reduced_sample)
    module = load_model(trained_model).as_module()
    X = data.flux[:24].astype(np.float64)
    target = predictor(module)(X).argmax(axis=1)
    randomised = randomised_model(module, seed=1)
    assert not np.allclose(predictor(randomised)(X), predictor(module)(X))
    trained_maps = attribute(module, X, target, "saliency").maps
    verdict = randomisation_sanity(trained_maps, attribute(randomised, X, target, "saliency").maps)
    assert verdict["passes"] and verdict["median_rho"] < 0.5

    def blind(_model, spectra):  # an "explanation" that never looks at the model: distance from the median
        return np.abs(spectra - np.median(X, axis=0))

    verdict = randomisation_sanity(blind(module, X), blind(randomised, X))
    assert not verdict["passes"] and verdict["median_rho"] == pytest.approx(1.0)
    # a "randomised" model that kept its parameters gives the same maps: fails too
    same = randomisation_sanity(trained_maps, attribute(module, X, target, "saliency").maps)
    assert not same["passes"]
