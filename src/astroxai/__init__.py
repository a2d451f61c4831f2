"""astroxai: classify astronomical spectra and images, and show why the classifier decides what it decides.

A notebook's vocabulary, from reading survey files to trusting an explanation (a small sample and a coarse search
here; ``SVMClassifier()`` alone runs the paper's whole search):

>>> from astroxai import Explainer, SVMClassifier, simulate, trust_table
>>> data = simulate.spectra_set({"type1": 20, "type2": 20}, seed=1, n_wave=200)  # or SpectraSet.load("data.h5")
>>> model = SVMClassifier(classes=2, kernels=["linear"], quick=True).fit(data)  # the paper's SVM (Peruzzi+ 2021)
>>> why = Explainer(model, "saliency").explain(data.subset([0, 1]))              # maps, predictions, probabilities
>>> why.maps.shape, why.method
((2, 200), 'saliency')
>>> table = trust_table({"SVM": model}, data, range(4), methods=["saliency"])   # faithfulness, sanity, stability
>>> table.rows[0]["model"], table.rows[0]["n_spectra"]
('SVM', 4)

The package is layered (a lower layer never imports a higher one): ``data`` → ``io`` → ``reduce`` → ``simulate`` →
``models`` → ``explain``, ``embed`` → ``report`` → ``workflows`` → ``cli``.  Names are imported on first use, so
``import astroxai`` stays light.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

#: Public name → the module that defines it.
_EXPORTS = {
    "AstroxaiError": "astroxai.errors", "InputError": "astroxai.errors",
    "Spectrum": "astroxai.spectrum", "SpectrumError": "astroxai.spectrum",
    "LabelledSet": "astroxai.data", "SpectraSet": "astroxai.data", "ImageSet": "astroxai.data",
    "load_set": "astroxai.data",
    "read_spectrum": "astroxai.io", "read_image": "astroxai.io", "read_images": "astroxai.io",
    "collect_inputs": "astroxai.io",
    "reduce_spectrum": "astroxai.reduce", "reduce_spectra": "astroxai.reduce",
    "Estimator": "astroxai.models", "SVMClassifier": "astroxai.models", "SpectrumCNNClassifier": "astroxai.models",
    "ImageCNNClassifier": "astroxai.models", "ImageCNNRegressor": "astroxai.models",
    "EquivariantImageClassifier": "astroxai.models", "load_model": "astroxai.models",
    "evaluate": "astroxai.models", "Split": "astroxai.models",
    "Explainer": "astroxai.explain", "Explanation": "astroxai.explain", "trust_table": "astroxai.explain",
    "EmbeddingMap": "astroxai.embed", "MapSpec": "astroxai.embed",
}
_MODULES = ("simulate", "reduce", "io", "data", "models", "explain", "embed", "report", "workflows")

__all__ = ["__version__", *sorted(_EXPORTS), *_MODULES]


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    elif name in _MODULES:
        value = importlib.import_module(f"astroxai.{name}")
    else:
        raise AttributeError(f"module 'astroxai' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
