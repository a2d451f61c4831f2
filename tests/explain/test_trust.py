"""Trust scores as functions of (explainer, explanation): each against the numerics it composes, computed by hand, and
one trust table for spectra and images."""

import numpy as np
import pytest

from astroxai import simulate
from astroxai.explain import (
    Explainer,
    TrustSettings,
    faithfulness,
    metrics,
    sanity,
    stability,
    trust_table,
    truth_mass,
)
from astroxai.models import SVMClassifier


@pytest.fixture(scope="module")
def fitted():
    data = simulate.spectra_set({"type1": 15, "type2": 20, "intermediate": 15}, seed=6, n_wave=160)
    return SVMClassifier(kernels=("linear",), quick=True, seed=2).fit(data), data


def test_scores_are_the_metrics_on_the_explained_arrays(fitted):
    model, data = fitted
    subset = data.subset(np.arange(6))
    explainer = Explainer(model, "occlusion", seed=3)
    why = explainer.explain(subset)
    index = why.target_index()
    faith = faithfulness(explainer, why, n_random=2, seed=4)
    by_hand = metrics.deletion_insertion(metrics.predictor(model.as_module()), subset.flux, why.maps, index,
                                         model.baseline_, n_random=2, seed=4)
    np.testing.assert_allclose(faith["deletion_auc"], by_hand["deletion_auc"])
    check = sanity(explainer, why, seed=5)
    randomised = metrics.randomised_model(model.as_module(), 5)
    random_maps = explainer.attribute(subset.flux, index, module=randomised).maps
    assert check["median_rho"] == pytest.approx(np.nanmedian(metrics.rank_correlation(np.abs(why.maps),
                                                                                       np.abs(random_maps))))
    sigma = np.full(6, 0.05)
    steady = stability(explainer, why, sigma, n_draws=2, seed=7)
    expected = metrics.stability(lambda s, t: explainer.attribute(s, t).maps, subset.flux.astype(float), index, sigma,
                                 n_draws=2, seed=7, maps=why.maps)
    np.testing.assert_allclose(steady, expected)
    regions = np.zeros(why.maps.shape, bool)
    regions[:, :40] = True
    mass = truth_mass(why, regions)
    np.testing.assert_allclose(mass["mass"], metrics.mass_in_region(data.wavelength, why.maps, regions)["mass"])


def test_trust_table_for_spectra_and_for_images(fitted, radio_model, radio):
    from astroxai.data import ImageSet
    from astroxai.models import load_model

    model, data = fitted
    truth = {"label": data.labels[:8], "broad": np.isin(data.labels[:8], ("type1", "intermediate")),
             "fwhm": np.full(8, 4000.0), "r_feii": np.zeros(8)}
    table = trust_table({"SVM": model}, data, np.arange(8), methods=["saliency", "integrated-gradients"],
                        truth=truth, sigma=np.full(8, 0.05), settings=TrustSettings(seed=1))
    assert [r["method"] for r in table.rows] == ["saliency", "integrated-gradients"]
    row = table.rows[1]
    for key in ("n_spectra", "ms_per_spectrum", "deletion_auc", "sanity_rho", "stability", "truth_mass",
                "hbeta_opposite", "ig_relative_delta"):
        assert key in row, key
    assert row["deletion_auc"] < row["random_deletion_auc"]  # IG is faithful on an SVM
    images = ImageSet.load(radio)
    table = trust_table({"radio": load_model(radio_model)}, images, np.arange(6), methods=["saliency"],
                        settings=TrustSettings(seed=1))
    (row,) = table.rows
    assert row["n_images"] == 6 and "defining_mass" in row and 0 <= row["defining_mass"] <= 1
    with pytest.raises(ValueError, match="unknown methods"):
        trust_table({"radio": load_model(radio_model)}, images, np.arange(2), methods=["finite-difference"])


def test_all_zero_maps_are_left_out_of_the_faithfulness_scores(fitted):
    """A map that is exactly zero (a probability at libsvm's clip) has no order: the stable sort hands it the input's
    own order, which "beats random" on most spectra.  The medians and shares are taken over the other maps."""
    model, data = fitted
    explainer = Explainer(model, "saliency")
    why = explainer.explain(data.subset(np.arange(10)))
    why.maps[:4] = 0.0
    why.zero_map[:4] = True
    faith = faithfulness(explainer, why, n_random=2, seed=3)
    columns = faith.scores(~why.zero_map)
    rest = slice(4, None)
    assert columns["deletion_auc"] == pytest.approx(np.median(faith["deletion_auc"][rest]))
    assert columns["random_deletion_auc"] == pytest.approx(np.median(faith["random_deletion_auc"][rest]))
    assert columns["deletion_beats_random"] == pytest.approx(np.mean(faith["deletion_auc"][rest]
                                                                     < faith["random_deletion_auc"][rest]))
    assert columns["insertion_beats_random"] == pytest.approx(np.mean(faith["insertion_auc"][rest]
                                                                      > faith["random_insertion_auc"][rest]))
    nothing = faith.scores(np.zeros(10, bool))
    assert np.isnan(nothing["deletion_auc"]) and np.isnan(nothing["deletion_beats_random"])


def test_faithfulness_under_a_baseline_no_method_starts_from(fitted):
    """The second set of columns removes inputs to each spectrum's own minimum, not to the baseline integrated
    gradients integrates from: checked against the metric called by hand with that baseline."""
    model, data = fitted
    subset = data.subset(np.arange(6))
    table = trust_table({"SVM": model}, data, np.arange(6), methods=["integrated-gradients"],
                        settings=TrustSettings(seed=2, random_orders=2))
    (row,) = table.rows
    explanation = table.explanations[("SVM", "integrated-gradients")]
    flux = subset.flux.astype(np.float64)
    by_hand = metrics.deletion_insertion(metrics.predictor(model.as_module()), flux, explanation.maps,
                                         explanation.target_index(), flux.min(axis=1, keepdims=True), n_random=2,
                                         seed=2)
    usable = ~explanation.zero_map
    assert row["deletion_auc_min"] == pytest.approx(np.median(by_hand["deletion_auc"][usable]))
    assert row["insertion_auc_min"] == pytest.approx(np.median(by_hand["insertion_auc"][usable]))
    assert row["deletion_auc_min"] != pytest.approx(row["deletion_auc"])  # another baseline, another score
    with pytest.raises(ValueError, match="baseline must be one of"):
        faithfulness(Explainer(model, "saliency"), explanation, baseline="mean")


def test_tables_of_one_method_each_merge_into_the_whole_table(fitted):
    """The image studies run each method's rows as a task of their own: merged, they are the table computed in one
    call (rows, curves, maps), because every draw is seeded per method."""
    from astroxai.workflows.trust import merge_tables

    model, data = fitted
    methods = ["saliency", "occlusion", "lime"]
    settings = TrustSettings(seed=3)
    whole = trust_table({"SVM": model}, data, np.arange(6), methods=methods, settings=settings)
    # in another order, as the workers may finish them
    parts = {m: trust_table({"SVM": model}, data, np.arange(6), methods=[m], settings=settings)
             for m in reversed(methods)}
    merged = merge_tables([parts[m] for m in methods])
    def untimed(table):  # every column but the time taken; str() so that NaN equals NaN
        return str([{k: v for k, v in row.items() if k != "ms_per_spectrum"} for row in table.to_rows()])

    assert untimed(merged) == untimed(whole)
    assert list(merged.curves["SVM"]) == methods
    for method in methods:
        for key, value in whole.curves["SVM"][method].items():
            np.testing.assert_array_equal(merged.curves["SVM"][method][key], value)
        np.testing.assert_array_equal(merged.explanations[("SVM", method)].maps,
                                      whole.explanations[("SVM", method)].maps)
