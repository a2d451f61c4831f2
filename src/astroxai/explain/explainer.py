"""``Explainer(model, method).explain(data) -> Explanation``: why a fitted model decides what it decides.

The explainer asks the model everything that depends on the model: its grid (checked on the inputs), its
predictions, the space it explains in (:meth:`~astroxai.models.base.Estimator.prepare`: spectra as they are, images
divided by their peak and stretched as the network sees them), its torch module and its baseline (the median
training spectrum of a spectra model, empty sky for an image model).  So the same model, method and inputs give the
same maps from a notebook and from the command line.

Baselines (``baseline=``): ``"model"`` (the default: the model's ``baseline_``; ``"median"`` is the same),
``"continuum"`` (each spectrum's own continuum, lines removed by a wide running median: "what if this spectrum
had no line here?"), ``"zero"`` (offered for comparison with the literature; a normalised spectrum never has zero
flux) or an array shaped like one input.  Interpretable features of LIME and KernelSHAP: wavelength windows
(``n_segments``, or ``lines=True`` for ±2000 km/s around each diagnostic line) for spectra, SLIC superpixels of the
raw image for images.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from astroxai.data import LabelledSet
from astroxai.data.base import STRING, atomic_path
from astroxai.errors import InputError
from astroxai.explain.methods import Attribution, attribute, get_method
from astroxai.explain.modality import modality_of
from astroxai.explain.saliency import most_probable_saliency, resolve_targets
from astroxai.results import json_text
from astroxai.vocabulary import BASELINES

log = logging.getLogger(__name__)

#: HDF5 group that holds explanations.
GROUP = "explanations"


@dataclass
class Explanation:
    """Maps of N inputs by one method, with everything needed to read them.

    Attributes
    ----------
    maps : ndarray
        Shaped like the explained inputs ((N, F) spectra, (N, C, H, W) images), float64; positive = more of this
        raises the explained output (drawn blue everywhere astroxai draws), negative lowers it (red).
    ids : (N,) str
    targets : (N,) str
        The class whose probability is explained (``"value"`` for a regressor).
    predicted : (N,) str or float
        The model's prediction (a class, or the regressed value).
    probabilities : (N, K) float or None
    classes : list of str
    zero_map : (N,) bool
        The map is exactly zero (e.g. a probability at libsvm's clip, 1 − 10⁻⁷, which small changes cannot move).
    delta : (N,) float or None
        Integrated gradients' convergence delta.
    method, options, baseline, seconds :
        How the maps were made.
    modality : ``"spectra"`` or ``"images"``
    grid : ndarray or tuple
        The wavelengths, or the image shape.
    inputs : ndarray or None
        The inputs as explained (prepared images), kept in memory for the trust scores; not saved.
    features : ndarray or None
        LIME / KernelSHAP's interpretable features (one label per input element).

    Examples
    --------
    >>> from astroxai import Explainer, Explanation, SVMClassifier, simulate
    >>> data = simulate.spectra_set({"type1": 20, "type2": 20}, seed=3, n_wave=100)
    >>> why = Explainer(SVMClassifier(classes=2, kernels=["linear"], quick=True).fit(data)).explain(data)
    >>> back = Explanation.load(why.save("why.h5"))
    >>> back.maps.shape, back.method, bool((back.targets == why.targets).all())
    ((40, 100), 'saliency', True)
    """

    maps: np.ndarray
    ids: np.ndarray
    targets: np.ndarray
    predicted: np.ndarray
    probabilities: np.ndarray | None
    classes: list
    zero_map: np.ndarray
    method: str
    options: dict = field(default_factory=dict)
    baseline: str | None = None
    seconds: float = 0.0
    delta: np.ndarray | None = None
    modality: str = "spectra"
    grid: object = None
    inputs: np.ndarray | None = None
    features: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.maps)

    def target_index(self) -> np.ndarray | None:
        """Column of each target in :attr:`probabilities` (None for a regressor)."""
        if not self.classes:
            return None
        lookup = {c: i for i, c in enumerate(self.classes)}
        return np.array([lookup[t] for t in self.targets], dtype=np.int64)

    def subset(self, index) -> Explanation:
        index = np.asarray(index)
        pick = {name: (None if getattr(self, name) is None else getattr(self, name)[index])
                for name in ("maps", "ids", "targets", "predicted", "probabilities", "zero_map", "delta", "inputs")}
        features = self.features
        if features is not None and len(features) == len(self.maps):
            features = features[index]
        return Explanation(classes=self.classes, method=self.method, options=self.options, baseline=self.baseline,
                           seconds=self.seconds, modality=self.modality, grid=self.grid, features=features, **pick)

    def save(self, path: str | Path, key: str | None = None) -> Path:
        """Store under ``/explanations/<key>`` (default: the method) of an HDF5 file; other groups are kept.  The
        file is rewritten atomically."""
        path = Path(path)
        key = key or self.method
        with atomic_path(path) as temporary:
            if path.exists():
                temporary.write_bytes(path.read_bytes())
            with h5py.File(temporary, "a") as handle:
                name = f"{GROUP}/{key}"
                if name in handle:
                    del handle[name]
                group = handle.create_group(name)
                group.create_dataset("maps", data=self.maps.astype(np.float32), compression="gzip", shuffle=True)
                group.create_dataset("ids", data=np.asarray(self.ids).astype(str).astype(object), dtype=STRING)
                group.create_dataset("targets", data=np.asarray(self.targets).astype(str).astype(object),
                                     dtype=STRING)
                if np.asarray(self.predicted).dtype.kind in "fi":
                    group["predicted"] = np.asarray(self.predicted, dtype=np.float64)
                else:
                    group.create_dataset("predicted", data=np.asarray(self.predicted).astype(str).astype(object),
                                         dtype=STRING)
                if self.probabilities is not None:
                    group["probabilities"] = self.probabilities
                group["zero_map"] = self.zero_map
                if self.delta is not None:
                    group["convergence_delta"] = self.delta
                if self.grid is not None:
                    group["grid"] = modality_of(self.modality).stored_grid(self.grid)
                attrs = {"method": self.method, "options": self.options, "baseline": self.baseline,
                         "seconds": self.seconds, "classes": list(self.classes), "modality": self.modality}
                for attr, value in attrs.items():
                    group.attrs[attr] = json_text(value, indent=None)
        return path

    @staticmethod
    def keys(path: str | Path) -> list[str]:
        """The keys of every explanation stored in a file by :meth:`save` (e.g. ``saliency``, ``CNN/lime``)."""
        found = []
        with h5py.File(path, "r") as handle:
            if GROUP in handle:
                handle[GROUP].visititems(lambda name, item: found.append(name) if isinstance(item, h5py.Group)
                                         and "maps" in item else None)
        return found

    @classmethod
    def load(cls, path: str | Path, key: str | None = None) -> Explanation:
        """An explanation stored by :meth:`save` (``key``: which one, when the file holds several)."""
        with h5py.File(path, "r") as handle:
            if GROUP not in handle or not len(handle[GROUP]):
                raise InputError(f"{path} holds no explanations")
            keys = list(handle[GROUP])
            if key is None and len(keys) > 1:
                raise InputError(f"{path} holds several explanations ({', '.join(keys)}): name one")
            group = handle[f"{GROUP}/{key or keys[0]}"]
            attrs = {name: json.loads(group.attrs[name]) for name in group.attrs}
            predicted = group["predicted"]
            modality = attrs.get("modality", "spectra")
            grid = _stored_grid(group, attrs, modality)
            return cls(maps=group["maps"][()].astype(np.float64), ids=group["ids"].asstr()[()],
                       targets=group["targets"].asstr()[()],
                       predicted=predicted.asstr()[()] if predicted.dtype.kind == "O" else predicted[()],
                       probabilities=group["probabilities"][()] if "probabilities" in group else None,
                       classes=attrs.get("classes", []), zero_map=group["zero_map"][()], method=attrs["method"],
                       options=attrs.get("options", {}), baseline=attrs.get("baseline"),
                       seconds=attrs.get("seconds", 0.0),
                       delta=group["convergence_delta"][()] if "convergence_delta" in group else None,
                       modality=modality, grid=grid)


def _stored_grid(group, attrs: dict, modality: str):
    """An explanation's grid from its file: the ``grid`` array, or what files written before it kept (a spectrum's
    ``wavelength`` array, an image's ``image_shape``)."""
    if "grid" in group:
        return modality_of(modality).read_grid(group["grid"][()])
    if "wavelength" in group:
        return group["wavelength"][()]
    return tuple(attrs["image_shape"]) if attrs.get("image_shape") else None


@dataclass(frozen=True)
class ExplainSettings:
    """How to explain: the method and its options, the output explained (``"predicted"`` or a class), the baseline
    and the seed.  One object for the workflows that explain (``explain``, ``survey``, ``run``) instead of five
    keywords each; :meth:`explainer` builds the :class:`Explainer`."""

    method: str = "saliency"
    target: object = "predicted"
    baseline: object = "model"
    seed: int = 0
    options: dict = field(default_factory=dict)

    def explainer(self, model, *, batch_size: int | None = None, progress=None) -> Explainer:
        """An :class:`Explainer` of ``model`` with these settings (it checks the method, options and baseline)."""
        return Explainer(model, self.method, self.baseline, seed=self.seed, batch_size=batch_size,
                         progress=progress, **dict(self.options))


class Explainer:
    """Explain a fitted model's outputs with one attribution method.

    Parameters
    ----------
    model : Estimator
        A fitted astroxai model (:mod:`astroxai.models`).
    method : str
        A registered method (:func:`astroxai.explain.methods.method_names`): ``saliency`` (alias ``exact``),
        ``finite-difference``, ``smoothgrad``, ``integrated-gradients``, ``occlusion``, ``lime``, ``kernelshap``.
    baseline : str or ndarray
        ``"model"`` (default), ``"continuum"``, ``"zero"`` or an array shaped like one input (see the module doc).
    seed : int
        Seed of every random draw (SmoothGrad's noise, LIME's and KernelSHAP's samples).
    batch_size : int, optional
        Inputs per attribution call (default: the model's ``explain_batch``, or its ``single_pass_batch`` for
        exact saliency).
    **options :
        The method's settings (e.g. ``n_samples``, ``lines=True``, ``log=True``); see
        :mod:`astroxai.explain.methods`.

    Examples
    --------
    >>> from astroxai import Explainer, SVMClassifier, simulate
    >>> data = simulate.spectra_set({"type1": 30, "type2": 30, "intermediate": 30}, seed=1)
    >>> model = SVMClassifier(kernels=["linear"], quick=True).fit(data)
    >>> why = Explainer(model, "integrated-gradients").explain(data.subset([0, 1]))
    >>> why.maps.shape, why.method, why.baseline
    ((2, 1000), 'integrated-gradients', 'model')
    """

    def __init__(self, model, method: str = "saliency", baseline="model", *, seed: int = 0,
                 batch_size: int | None = None, progress=None, **options):
        model.check_fitted()
        self.model = model
        self.method_class = get_method(method)
        self.method = self.method_class.name
        self.modality = modality_of(model)
        if not self.modality.accepts(self.method_class):
            raise InputError(f"{self.method} does not explain {self.modality.noun} (it is defined for spectra only)")
        if isinstance(baseline, str):
            if baseline not in BASELINES:
                raise InputError(f"unknown baseline {baseline!r}; choose from {', '.join(BASELINES)} or an array")
            self.modality.check_baseline(baseline)
            self.baseline = "model" if baseline == "median" else baseline
        else:
            self.baseline = np.asarray(baseline, dtype=np.float64)
            if self.baseline.shape != model.input_shape():
                raise InputError(f"a baseline array must be shaped like one input {model.input_shape()}, "
                                 f"not {self.baseline.shape}")
        self.options = self.modality.settings(self.method_class, options)
        self.seed = int(seed)
        self.batch_size = int(batch_size or (model.single_pass_batch if self.method_class.single_pass
                                             else model.explain_batch))
        self.progress = progress

    def __repr__(self) -> str:
        baseline = self.baseline if isinstance(self.baseline, str) else "array"
        return f"Explainer({type(self.model).__name__}, {self.method!r}, baseline={baseline!r}, seed={self.seed})"

    @property
    def baseline_name(self) -> str | None:
        if not self.method_class.uses_baseline:
            return None
        return self.baseline if isinstance(self.baseline, str) else "array"

    def reference(self, Z) -> np.ndarray:
        """The baseline inputs for prepared inputs ``Z`` (what "nothing here" is; also the deletion value of the
        faithfulness test)."""
        Z = np.asarray(Z, dtype=np.float64)
        if not isinstance(self.baseline, str):
            return np.broadcast_to(self.baseline, Z.shape).copy()
        return self.modality.reference(self.baseline, self.model, Z)

    def features(self, raw) -> np.ndarray | None:
        """LIME's and KernelSHAP's interpretable features for the raw inputs ``raw`` (None for other methods)."""
        if not self.method_class.uses_features:
            return None
        return self.modality.features(self.model, raw, self.options)

    def attribute(self, Z, targets, *, features=None, module=None) -> Attribution:
        """Maps of prepared inputs ``Z`` for given target indices: the step :meth:`explain` and the trust scores
        share (``module``: another module, e.g. a randomised copy; ``features``: LIME's features)."""
        options = {k: v for k, v in self.options.items() if k not in ("n_features",)}
        if not self.method_class.uses_features:
            features = None
        return attribute(module if module is not None else self.model.as_module(prepared=True), Z, targets,
                         self.method, baseline=self.reference(Z) if self.method_class.uses_baseline else None,
                         feature_mask=features, batch_size=self.batch_size, seed=self.seed, progress=self.progress,
                         **options)

    def _one_pass(self, target) -> bool:
        """Whether the decision and the map come from one forward pass: exact saliency (of p, not log p) of the
        decided class, for a model that decides for its most probable class (the networks)."""
        return (self.method == "saliency" and not self.options.get("log") and self.model.decides_by_probability
                and isinstance(target, str) and target in ("predicted", "probable"))

    def explain(self, data, target="predicted", ids=None) -> Explanation:
        """Explain ``data`` (a data set, or an array of inputs on the model's grid).

        ``target``: ``"predicted"`` (default: the model's decision), ``"probable"`` (its most probable class, which
        for an SVM can differ from the vote on rare borderline inputs), a class name, or one name or index per input.
        Regressors explain their value.
        """
        X = self.model.check_inputs(data)
        Z = self.model.prepare(X)  # what the attribution sees (float64)
        inputs = self.modality.decision_inputs(X, Z)
        if ids is None:
            ids = data.ids if isinstance(data, LabelledSet) else np.arange(len(X)).astype(str)
        classes = [str(c) for c in self.model.classes_]
        features = self.features(X)
        result = None
        if self.model.task == "regress":
            probabilities, predicted = None, np.asarray(self.model.predict(inputs), dtype=np.float64)
            index, targets = None, np.full(len(X), "value")
        elif self._one_pass(target):
            start = time.perf_counter()
            maps, probabilities = most_probable_saliency(self.model.as_module(prepared=True), Z,
                                                         batch_size=self.batch_size, progress=self.progress)
            result = Attribution(self.method, maps, time.perf_counter() - start, dict(self.options), None)
            predicted = np.asarray(classes, dtype=object)[probabilities.argmax(axis=1)].astype(str)
            targets = predicted.copy()
        else:
            predicted, probabilities = self.model.decide(inputs)
            predicted = np.asarray(predicted).astype(str)
            if isinstance(target, str) and target == "probable":
                index = probabilities.argmax(axis=1)
            else:
                index = resolve_targets(None if isinstance(target, str) and target == "predicted" else target,
                                        classes, predicted)
            targets = np.asarray(classes, dtype=object)[index].astype(str)
        if result is None:
            result = self.attribute(Z, index, features=features)
        maps = result.maps
        log.debug("explained %d %s with %s in %.1f s", len(X), self.model.modality, self.method, result.seconds)
        return Explanation(maps=maps, ids=np.asarray(ids).astype(str), targets=targets, predicted=predicted,
                           probabilities=probabilities, classes=classes,
                           zero_map=~np.any(maps.reshape(len(maps), -1) != 0, axis=1), method=self.method,
                           options=result.options, baseline=self.baseline_name, seconds=result.seconds,
                           delta=result.delta, modality=self.model.modality, grid=self.modality.grid(self.model),
                           inputs=Z, features=features)
