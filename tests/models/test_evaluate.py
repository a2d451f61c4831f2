import numpy as np
import pytest

from astroxai.models.evaluate import (
    classification_metrics,
    confusion,
    continuum_at_5100,
    noise_robustness,
    time_fits,
)

CLASSES = ["type1", "type2", "intermediate"]


def _by_counting(y_true, y_pred, c):
    tp = sum(t == c and p == c for t, p in zip(y_true, y_pred, strict=True))
    fp = sum(t != c and p == c for t, p in zip(y_true, y_pred, strict=True))
    fn = sum(t == c and p != c for t, p in zip(y_true, y_pred, strict=True))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f


def test_metrics_match_the_paper_definitions_counted_by_hand():
    rng = np.random.default_rng(0)
    y_true = rng.choice(CLASSES, size=200, p=[0.2, 0.65, 0.15])
    y_pred = np.where(rng.random(200) < 0.8, y_true, rng.choice(CLASSES, size=200))
    metrics = classification_metrics(y_true, y_pred, CLASSES)
    expected = {c: _by_counting(y_true, y_pred, c) for c in CLASSES}
    for c in CLASSES:
        got = metrics["per_class"][c]
        assert (got["precision"], got["recall"], got["f1"]) == pytest.approx(expected[c])
        assert got["support"] == int((y_true == c).sum())
    assert metrics["macro"]["f1"] == pytest.approx(np.mean([expected[c][2] for c in CLASSES]))
    assert metrics["accuracy"] == pytest.approx(np.mean(y_true == y_pred))


def test_a_class_never_predicted_scores_zero_without_warning():
    metrics = classification_metrics(["type1", "type2", "intermediate"], ["type1", "type2", "type2"], CLASSES)
    assert metrics["per_class"]["intermediate"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}


def test_confusion_rows_are_true_classes():
    cm = confusion(["type1", "type2", "type2", "intermediate"], ["type1", "intermediate", "type2", "type2"], CLASSES)
    assert cm["raw"] == [[1, 0, 0], [0, 1, 1], [0, 1, 0]]
    assert cm["normalised"][1] == [0.0, 0.5, 0.5]
    assert np.allclose(np.sum(cm["normalised"], axis=1), 1.0)


class _Recorder:
    """A 'model' that predicts the true labels and records the noise it was given."""

    def __init__(self, X, y):
        self.X, self.y, self.residuals = X, y, []

    def predict(self, X):
        self.residuals.append(X - self.X)
        return self.y


def test_noise_is_gaussian_in_units_of_the_5100_flux():
    wavelength = np.linspace(4000, 5300, 400)
    scale = np.array([0.5, 1.0, 2.0, 4.0])[:, None]
    X = np.ones((4, wavelength.size)) * scale
    y = np.array(CLASSES + ["type2"])
    model = _Recorder(X, y)
    rows = noise_robustness(model, X, y, wavelength, CLASSES, levels=(0.1, 2.0), repeats=3, seed=1)
    assert [r["sigma"] for r in rows] == [0.0, 0.1, 2.0]
    assert [r["repeats"] for r in rows] == [1, 3, 3]
    assert np.all(model.residuals[0] == 0)
    for residual in model.residuals[1:4]:
        np.testing.assert_allclose((residual / scale).std(axis=1), 0.1, rtol=0.15)
    for residual in model.residuals[4:]:
        np.testing.assert_allclose((residual / scale).std(axis=1), 2.0, rtol=0.15)
    assert all(r["f1_mean"] == 1.0 for r in rows)  # the recorder is always right
    again = _Recorder(X, y)
    noise_robustness(again, X, y, wavelength, CLASSES, levels=(0.1, 2.0), repeats=3, seed=1)
    np.testing.assert_array_equal(again.residuals[2], model.residuals[2])


def test_continuum_needs_5100():
    with pytest.raises(ValueError, match="5100"):
        continuum_at_5100(np.linspace(3700, 5000, 10), np.ones((2, 10)))
    wavelength = np.linspace(5000, 5200, 201)
    flux = np.ones((1, 201))
    flux[0, 100] = 50.0  # a spike at 5100 Å: the median ignores it
    assert continuum_at_5100(wavelength, flux)[0] == 1.0


def test_time_fits_times_every_fit():
    import time

    class Slow:
        def fit(self, X, y):
            time.sleep(0.01)
            return self

    timing = time_fits(Slow, np.zeros((2, 2)), [0, 1], repeats=3)
    assert timing["repeats"] == 3 and timing["min_s"] >= 0.009 and timing["mean_s"] >= timing["min_s"]


def test_regression_metrics_against_scipy():
    from scipy.stats import pearsonr

    from astroxai.models.evaluate import regression_metrics

    rng = np.random.default_rng(5)
    true = rng.uniform(5, 30, 50)
    predicted = true + rng.normal(0.5, 2.0, 50)
    metrics = regression_metrics(true, predicted)
    assert metrics["r"] == pytest.approx(pearsonr(true, predicted)[0])
    assert metrics["rmse"] == pytest.approx(np.sqrt(np.mean((predicted - true) ** 2)))
    assert metrics["bias"] == pytest.approx(np.mean(predicted - true)) and metrics["n"] == 50
