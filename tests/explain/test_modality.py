"""A third kind of input is one class and one registration: a toy light curve (a flat star with a transit), its data
set, a model of it and its modality — with its own trust-table column, the share of |map| on the transit — run
through ``Explainer`` and ``trust_table`` without a line of ``astroxai.explain`` changed.  And the two modalities
astroxai ships answer what they own: baselines, options, features, the grid kept with an explanation."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest
import torch

from astroxai.data import LabelledSet
from astroxai.explain import Explainer, Explanation, Modality, modality_of, register_modality, trust_table
from astroxai.explain.modality import MODALITIES
from astroxai.models import Estimator

TRANSIT = slice(40, 60)


@dataclass
class LightCurveSet(LabelledSet):
    """N light curves of F samples on a common time grid."""

    flux: np.ndarray
    time: np.ndarray
    labels: np.ndarray
    ids: np.ndarray
    meta: dict = field(default_factory=dict)
    attrs: dict = field(default_factory=dict)

    NOUN, modality = "light curves", "lightcurve"

    def __post_init__(self):
        self.flux = np.asarray(self.flux, dtype=np.float64)
        self._check_rows(len(self.flux))

    @property
    def inputs(self):
        return self.flux

    @property
    def grid(self):
        return self.time

    def subset(self, index):
        index = np.asarray(index)
        return LightCurveSet(self.flux[index], self.time, self.labels[index], self.ids[index])


class TransitModel(Estimator):
    """p(transit) = sigmoid(k · (1 − mean flux in the transit window)): it looks only at the window.  The training
    does nothing (the weights are the rule)."""

    kind, task, modality = "toy-transit", "classify", "lightcurve"

    def __init__(self, k: float = 40.0):
        self.k = k

    def fit(self, data):
        self.classes_ = np.array(["flat", "transit"], dtype=object)
        self.grid_ = np.asarray(data.time)
        self.baseline_ = np.ones(len(self.grid_))
        self.reduction_, self.split_, self.reference_, self.history_ = {}, None, None, []
        return self

    def input_shape(self):
        return (len(self.grid_),)

    def check_grid_of(self, grid):
        assert np.array_equal(np.asarray(grid), self.grid_)

    def as_module(self, prepared: bool = False):
        linear = torch.nn.Linear(len(self.grid_), 1, dtype=torch.float64)  # a layer: the sanity test can reset it
        with torch.no_grad():
            linear.weight.zero_()
            linear.weight[0, TRANSIT] = -self.k / (TRANSIT.stop - TRANSIT.start)
            linear.bias.fill_(self.k)

        class Module(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.linear = linear

            def forward(self, x):
                p = torch.sigmoid(self.linear(x.to(torch.float64))[:, 0])
                return torch.stack([1 - p, p], dim=1)

        return Module().eval()

    def predict_proba(self, data):
        with torch.no_grad():
            return self.as_module()(torch.as_tensor(self.check_inputs(data))).numpy()


class LightCurves(Modality):
    """The light-curve modality: the mass of |map| on the transit window as its science column."""

    name, noun, explained_as = "lightcurve", "light curves", "light curves"
    count_columns = ("n_curves", "ms_per_curve")

    def features(self, model, raw, options):  # windows of 10 samples as LIME's features
        return (np.arange(np.shape(raw)[1]) // 10)[None]

    def trust_columns(self, explanation, data, truth=None):
        weight = np.abs(explanation.maps)
        share = weight[:, TRANSIT].sum(axis=1) / np.maximum(weight.sum(axis=1), 1e-300)
        return {"transit_mass": float(np.median(share))}


@pytest.fixture
def light_curves():
    register_modality(LightCurves())
    rng = np.random.default_rng(3)
    flux = 1 + 0.002 * rng.standard_normal((24, 100))
    labels = np.array(["flat", "transit"] * 12, dtype=object)
    flux[labels == "transit", TRANSIT] -= 0.05
    data = LightCurveSet(flux, np.linspace(0, 1, 100), labels, [f"lc{k}" for k in range(24)])
    yield data, TransitModel().fit(data)
    MODALITIES.pop("lightcurve")


def test_a_third_modality_runs_through_explainer_and_trust_table(light_curves):
    data, model = light_curves
    for method in ("saliency", "occlusion", "lime"):
        why = Explainer(model, method, seed=1, **({"n_samples": 60} if method == "lime" else {})).explain(data)
        assert why.maps.shape == data.flux.shape and why.modality == "lightcurve"
        # the model reads only the transit window (20 % of the samples): every method puts most of |map| there
        # (occlusion's sliding window smears it over the window's edges)
        weight = np.abs(why.maps[~why.zero_map])
        assert np.median(weight[:, TRANSIT].sum(axis=1) / weight.sum(axis=1)) > 0.7, method
    with pytest.raises(ValueError, match="spectra only"):
        Explainer(model, "finite-difference")
    with pytest.raises(ValueError, match="defined for spectra"):
        Explainer(model, "integrated-gradients", baseline="continuum")
    transits = np.flatnonzero(data.labels == "transit")
    table = trust_table({"toy": model}, data, transits, methods=["saliency", "occlusion"])
    assert [r["method"] for r in table.rows] == ["saliency", "occlusion"]
    for row in table.rows:
        assert row["n_curves"] == 12 and row["transit_mass"] > 0.7 and "truth_mass" not in row
    assert table.rows[0]["sanity_passes"]  # the gradient of a randomised layer reads other samples
    # occlusion's map is the probability the dip brings: filling the window first kills p(transit) at once
    # (saliency's gradient is negative there, as more flux in the dip lowers p: its order deletes the window last)
    occlusion = table.rows[1]
    assert occlusion["deletion_auc"] < occlusion["random_deletion_auc"]


def test_the_shipped_modalities_own_their_differences(tmp_path):
    from astroxai import simulate
    from astroxai.models import ImageCNNClassifier, SVMClassifier

    spectra = modality_of("spectra")
    images = modality_of("images")
    assert spectra.count_columns == ("n_spectra", "ms_per_spectrum") and images.count_columns[0] == "n_images"
    assert spectra.side_by_side and not images.side_by_side
    with pytest.raises(ValueError, match="no modality 'cube'"):
        modality_of("cube")
    data = simulate.spectra_set({"type1": 10, "type2": 10}, seed=2, n_wave=80)
    model = SVMClassifier(classes=2, kernels=["linear"], quick=True).fit(data)
    why = Explainer(model, "lime", n_samples=30, lines=True).explain(data.subset([0, 1]))
    back = Explanation.load(why.save(tmp_path / "w.h5"))
    np.testing.assert_array_equal(back.grid, data.wavelength)  # the grid travels with the explanation
    galaxies = simulate.image_set("galaxy", {"barred": 6, "unbarred": 6}, seed=4)
    cnn = ImageCNNClassifier(max_epochs=1, seed=1).fit(galaxies)
    with pytest.raises(ValueError, match="lime takes no options \\['lines'\\]"):
        Explainer(cnn, "lime", lines=True)
    pictures = Explainer(cnn, "occlusion").explain(galaxies.subset([0]))
    assert Explanation.load(pictures.save(tmp_path / "i.h5")).grid == galaxies.shape
