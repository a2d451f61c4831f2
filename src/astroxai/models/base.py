"""The contract every astroxai model follows, after scikit-learn's estimators.

* ``__init__`` only stores hyper-parameters, and checks them at once: a typo is an error before any training.
* ``fit(data) -> self`` learns from a labelled :class:`~astroxai.data.SpectraSet` or
  :class:`~astroxai.data.ImageSet`; what it learned ends in ``_``: ``classes_``, ``grid_`` (wavelengths or image
  shape), ``reduction_``, ``baseline_`` (the input that means "nothing here" to the explainers), ``split_``,
  ``reference_`` (the training inputs summarised for :meth:`Estimator.novelty`, the out-of-distribution score;
  ``None`` for a folder saved without one, or with a degenerate one, which loading reports), and
  ``search_`` or ``history_``.
* ``predict`` / ``predict_proba`` take a data set or an array and check the grid themselves.
* ``as_module()`` is the model as a differentiable torch function of its inputs (probabilities, or the regressed
  value): what every explainer differentiates or perturbs.
* ``save(folder)`` / ``Estimator.load(folder)``: a model folder (:mod:`astroxai.models.persist`), with its checksum
  and skops / ``weights_only`` trust rules.  ``Estimator.load`` returns whichever model the folder holds.
"""

from __future__ import annotations

import inspect
import logging
from pathlib import Path
from typing import ClassVar

import numpy as np

from astroxai.data import LabelledSet
from astroxai.errors import AstroxaiError, InputError
from astroxai.models.persist import (
    META_FILE,
    SPLIT_FILE,
    GridMismatchError,
    ModelLoadError,
    check_grid,
    check_shape,
    read_meta,
    write_meta,
)
from astroxai.models.reference import Novelty, TrainingReference
from astroxai.models.split import Split
from astroxai.results import plain

log = logging.getLogger(__name__)


class NotFittedError(AstroxaiError, RuntimeError):
    """A model used before ``fit`` (or ``load``)."""


class Estimator:
    """Base class of astroxai's models (see the module doc for the contract).

    Attributes
    ----------
    classes_ : ndarray of str
        The classes, in the order of ``predict_proba``'s columns (empty for a regressor).
    grid_ : ndarray or tuple
        The wavelengths (spectra) or the (C, H, W) shape (images) the model takes.
    reduction_ : dict
        How its training inputs were prepared (the reduction's settings, or the images' survey and pixel scale).
    baseline_ : ndarray
        The input that means "nothing here" to the perturbation explainers.
    split_ : Split
        Its train / validation / test parts, by id.
    metadata_ : dict
        What ``model.json`` holds (metrics, timings, provenance), after :meth:`save` or :meth:`load`.

    Examples
    --------
    >>> from astroxai import Estimator, SVMClassifier, simulate
    >>> data = simulate.spectra_set({"type1": 20, "type2": 20}, seed=3, n_wave=100)
    >>> folder = SVMClassifier(classes=2, kernels=["linear"], quick=True).fit(data).save("two-class")
    >>> type(Estimator.load(folder)).__name__
    'SVMClassifier'
    """

    #: Name of the model in ``model.json``; with :attr:`task` it picks the class that loads a folder.
    kind: ClassVar[str] = ""
    task: ClassVar[str] = "classify"
    #: ``"spectra"`` or ``"images"``: what the model takes.
    modality: ClassVar[str] = ""
    #: Explanation settings of this kind of model (see :mod:`astroxai.explain`): batch size of the attribution calls.
    explain_batch: ClassVar[int] = 256
    #: The batch size of methods with one forward and one backward pass per input (exact saliency).
    single_pass_batch: ClassVar[int] = 256
    #: Whether the model reduces raw files itself, a chunk at a time (spectra: with its own grid and settings).
    reduces_raw_files: ClassVar[bool] = False
    #: Whether the model decides for the most probable class of ``as_module(prepared=True)`` (then one forward pass
    #: gives both the decision and its saliency map).
    decides_by_probability: ClassVar[bool] = False
    _KINDS: ClassVar[dict[tuple[str, str], type]] = {}
    #: Kinds written by earlier versions of astroxai, and what they are now.
    _ALIASES: ClassVar[dict[str, str]] = {"sklearn": "svm"}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.kind:
            Estimator._KINDS[(cls.kind, cls.task)] = cls

    # -- parameters ---------------------------------------------------------------------------------------------
    @classmethod
    def _parameters(cls) -> dict:
        """Name → default of every constructor argument, those a subclass passes on with ``**kwargs`` included."""
        found = {}
        for klass in cls.__mro__:
            if "__init__" not in vars(klass) or klass is object:
                continue
            for name, parameter in inspect.signature(klass.__init__).parameters.items():
                if name != "self" and parameter.kind not in (parameter.VAR_KEYWORD, parameter.VAR_POSITIONAL):
                    found.setdefault(name, parameter.default)
        return found

    def get_params(self, deep: bool = True) -> dict:
        """The constructor's arguments, as given (scikit-learn's convention; ``deep`` is accepted for
        :func:`sklearn.base.clone`, there are no nested estimators)."""
        return {name: getattr(self, name) for name in self._parameters()}

    def set_params(self, **params) -> Estimator:
        """Change constructor arguments (scikit-learn's convention), checked as the constructor checks them; a
        fitted model keeps what it learned until it is fitted again.  Returns the model."""
        known = self._parameters()
        unknown = sorted(set(params) - set(known))
        if unknown:
            raise InputError(f"{type(self).__name__} has no parameter {', '.join(unknown)} (it has "
                             f"{', '.join(known)})")
        checked = type(self)(**{**self.get_params(), **params})  # the constructor's checks and conversions
        for name in params:
            setattr(self, name, getattr(checked, name))
        return self

    def clone(self) -> Estimator:
        """An unfitted model with the same constructor arguments."""
        return type(self)(**self.get_params())

    def __repr__(self) -> str:
        defaults = self._parameters()
        changed = [f"{k}={v!r}" for k, v in self.get_params().items() if not _same(v, defaults.get(k))]
        return f"{type(self).__name__}({', '.join(changed)})"

    # -- state ----------------------------------------------------------------------------------------------------
    @property
    def fitted(self) -> bool:
        return hasattr(self, "classes_")

    def check_fitted(self) -> None:
        """:class:`NotFittedError` unless the model was fitted or loaded."""
        if not self.fitted:
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet: call fit(data) or load a folder")

    def novelty(self, data) -> Novelty | None:
        """How far each input lies from the training inputs (:class:`~astroxai.models.reference.TrainingReference`):
        ``score`` (> 1: outside what the model was trained on) and ``outside``; ``None`` for a model saved without
        a reference."""
        reference = getattr(self, "reference_", None)
        return None if reference is None else reference.score(self.check_inputs(data))

    def check_inputs(self, data) -> np.ndarray:
        """The model's input array from a data set (its grid checked against the model's) or an array (its shape
        checked); ``ValueError`` naming the rows that hold NaN or infinite values."""
        self.check_fitted()
        if isinstance(data, LabelledSet):
            if data.modality != self.modality:
                raise InputError(f"a {type(self).__name__} takes {self.modality}, not {data.modality}")
            self.check_grid_of(data.grid)
            X = data.inputs
        else:
            X = np.asarray(data)
            expected = self.input_shape()
            if X.ndim == len(expected):
                X = X[None]
            if X.shape[1:] != expected:
                raise GridMismatchError(f"inputs of shape {X.shape[1:]} given to a model of {self.modality} shaped "
                                        f"{expected}")
        bad = ~np.isfinite(X.reshape(len(X), -1)).all(axis=1)
        if bad.any():
            raise InputError(f"{int(bad.sum())} of {len(X)} inputs hold NaN or infinite values (first: row "
                             f"{int(np.flatnonzero(bad)[0])}); remove them first")
        return X

    def check_grid_of(self, grid) -> None:
        """:class:`~astroxai.models.persist.GridMismatchError` unless ``grid`` (wavelengths, or an image shape) is the
        model's, with a message that says how to get there (each family of inputs: :class:`SpectraModel`,
        :class:`ImageModel`)."""
        raise NotImplementedError

    def input_shape(self) -> tuple:
        """The shape of one input: ``(F,)`` for spectra, ``(C, H, W)`` for images."""
        raise NotImplementedError

    def check_loaded(self, where) -> None:
        """Refuse a loaded model whose learned state is not sound for its inputs (``where``: the ``model.json`` to
        name); nothing to check by default."""

    # -- what the explainers need ---------------------------------------------------------------------------------
    def as_module(self, prepared: bool = False):
        """The model as a torch module: (N, ...) inputs → (N, K) probabilities (classifiers) or (N,) values.
        ``prepared=True`` gives the module of :meth:`prepare`-d inputs (the same for spectra)."""
        raise NotImplementedError

    def decide(self, data) -> tuple[np.ndarray, np.ndarray]:
        """The decision (class names) and the class probabilities of each input, from one pass where the model
        allows it.  Here: the most probable class; the SVM overrides it with libsvm's vote."""
        probabilities = self.predict_proba(data)
        return np.asarray(self.classes_, dtype=object)[probabilities.argmax(axis=1)].astype(str), probabilities

    def prepare(self, X) -> np.ndarray:
        """The inputs as the model's first layer sees them (float64): spectra as they are; images divided by their
        peak and stretched (:meth:`astroxai.models.image_cnn.ImageCNN.prepare`).  Explanations are taken there."""
        return np.asarray(X, dtype=np.float64)

    # -- persistence ----------------------------------------------------------------------------------------------
    def _state(self) -> dict:
        """Everything ``model.json`` must hold to rebuild the fitted model (besides the model file)."""
        raise NotImplementedError

    def _save_model_file(self, folder: Path) -> str:
        """Write the model file into ``folder``; return its SHA-256."""
        raise NotImplementedError

    @classmethod
    def _from_folder(cls, folder: Path, meta: dict, trusted: tuple[str, ...]) -> Estimator:
        raise NotImplementedError

    def save(self, folder: str | Path, metadata: dict | None = None) -> Path:
        """Write the fitted model into ``folder``: the model file, ``model.json`` (with ``metadata``: metrics,
        timings, provenance) and ``split.json``; returns the folder."""
        self.check_fitted()
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        sha = self._save_model_file(folder)
        if getattr(self, "split_", None) is not None:
            self.split_.save(folder / SPLIT_FILE)
        meta = {**dict(getattr(self, "metadata_", {}) or {}), **(metadata or {})}
        meta.update(kind=self.kind, task=self.task, modality=self.modality, params=plain(self.get_params()),
                    classes=[str(c) for c in self.classes_], **self._state(), sha256=sha)
        if getattr(self, "reference_", None) is not None:
            meta["reference"] = self.reference_.to_json()
        write_meta(folder, meta)
        self.metadata_ = meta
        return folder

    @classmethod
    def load(cls, folder: str | Path, trusted: tuple[str, ...] = ()) -> Estimator:
        """A fitted model from a folder written by :meth:`save` (the checksum, skops trust rules and architecture
        are checked).  ``Estimator.load`` returns whichever model the folder holds; ``SVMClassifier.load`` and the
        others refuse any other kind.  ``folder`` may also name a model shipped with astroxai
        (:mod:`astroxai.models.bundled`, e.g. ``first-radio``).  ``trusted`` names extra types a skops file may hold."""
        from astroxai.models.bundled import model_folder

        folder = model_folder(folder)
        meta = read_meta(folder)
        kind = cls._ALIASES.get(meta.get("kind"), meta.get("kind"))
        target = cls._KINDS.get((kind, meta.get("task", "classify")))
        if target is None:
            raise ModelLoadError(f"{folder}: unknown model kind {meta.get('kind')!r} (task {meta.get('task')!r})")
        if not issubclass(target, cls):
            raise ModelLoadError(f"{folder} holds a {target.__name__}, not a {cls.__name__}")
        try:
            model = target._from_folder(folder, meta, tuple(trusted))
        except ModelLoadError:
            raise
        except (KeyError, TypeError, ValueError, IndexError) as error:
            raise ModelLoadError(f"{folder / META_FILE}: incomplete or inconsistent ({type(error).__name__}: "
                                 f"{error})") from None
        split_file = folder / SPLIT_FILE
        model.split_ = Split.load(split_file) if split_file.is_file() else None
        try:
            model.reference_ = TrainingReference.from_json(meta["reference"]) if "reference" in meta else None
        except (KeyError, TypeError, ValueError) as error:
            raise ModelLoadError(f"{folder / META_FILE}: unusable training reference ({error})") from None
        problem = None if model.reference_ is None else model.reference_.problem()
        if problem is not None:
            # written before the rank rules of models.reference: its scores would be round-off of any size
            log.warning("%s: the out-of-distribution reference is degenerate (%s); this model gives no novelty "
                        "scores (train it again to fit a sound reference)", folder / META_FILE, problem)
            model.reference_ = None
        model.metadata_ = meta
        return model


class SpectraModel:
    """Mixin of the models of spectra on a rest-frame wavelength grid (put before :class:`Estimator`)."""

    modality: ClassVar[str] = "spectra"
    reduces_raw_files: ClassVar[bool] = True

    def check_grid_of(self, grid) -> None:
        check_grid(self.grid_, grid, self.reduction_)

    def input_shape(self) -> tuple:
        return (len(self.grid_),)

    def check_loaded(self, where) -> None:
        """A finite baseline and a strictly increasing grid on which the baseline is ≈ 1 at the normalisation
        wavelength (old folders may lack the baseline)."""
        from astroxai.models.persist import ModelLoadError, check_spectral_grid

        baseline = np.asarray(self.baseline_, dtype=np.float64)
        if not np.all(np.isfinite(baseline)):
            raise ModelLoadError(f"{where}: non-finite baseline")
        usable = baseline.size == np.asarray(self.grid_).size and np.any(baseline)
        check_spectral_grid(self.grid_, baseline if usable else None, self.reduction_, where)


class ProbabilityClassifier:
    """A classifier that decides for its most probable class (the networks; the SVM decides by libsvm's vote)."""

    decides_by_probability: ClassVar[bool] = True

    def predict(self, data) -> np.ndarray:
        """The most probable class of each input (``NotFittedError`` before ``fit``)."""
        probabilities = self.predict_proba(data)  # first: it checks that the model is fitted
        return self.classes_[probabilities.argmax(axis=1)].astype(str)


class ImageModel:
    """Mixin of the models of image cutouts of one (C, H, W) shape (put before :class:`Estimator`)."""

    modality: ClassVar[str] = "images"

    def check_grid_of(self, grid) -> None:
        check_shape(self.grid_, grid)

    def input_shape(self) -> tuple:
        return tuple(self.grid_)


def _same(a, b) -> bool:
    try:
        return bool(a == b) if not isinstance(a, np.ndarray) else False
    except (TypeError, ValueError):
        return False


def load_model(folder: str | Path, trusted: tuple[str, ...] = ()) -> Estimator:
    """Whatever model a folder holds (:meth:`Estimator.load`).

    Parameters
    ----------
    folder : path-like
        A model folder written by :meth:`Estimator.save` (or ``astroxai train``).
    trusted : tuple of str
        Extra types a skops file may hold (none is needed for astroxai's own models).

    Returns
    -------
    Estimator

    Raises
    ------
    ModelLoadError
        Naming the file and the reason: no ``model.json``, damaged metadata, a changed model file, an untrusted type.

    Examples
    --------
    >>> from astroxai import SVMClassifier, load_model, simulate
    >>> data = simulate.spectra_set({"type1": 12, "type2": 12}, seed=1, n_wave=60)
    >>> _ = SVMClassifier(classes=2, kernels=("linear",), quick=True).fit(data).save("m2")
    >>> model = load_model("m2")
    >>> type(model).__name__, model.classes_.tolist()
    ('SVMClassifier', ['type1', 'type2'])
    """
    return Estimator.load(folder, trusted)
