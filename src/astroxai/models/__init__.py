"""Models with one contract (:mod:`astroxai.models.base`): the paper's SVM (:class:`SVMClassifier`), a 1-D CNN of
spectra (:class:`SpectrumCNNClassifier`) and 2-D CNNs of image cutouts (:class:`ImageCNNClassifier`,
:class:`ImageCNNRegressor`, and :class:`EquivariantImageClassifier`, whose convolutions respect the turns and flips of
the pixel grid); the paper's split (:class:`Split`); :func:`evaluate`, which scores a fitted model on
labelled data; and :func:`load_model`, the one way to read a model folder."""

from astroxai.models.base import Estimator, NotFittedError, load_model
from astroxai.models.cnn import CNNConfig, SpectrumCNNClassifier
from astroxai.models.evaluate import Evaluation, NoiseCurve, evaluate
from astroxai.models.image_cnn import EquivariantImageClassifier, ImageCNNClassifier, ImageCNNRegressor
from astroxai.models.persist import GridMismatchError, ModelLoadError
from astroxai.models.split import Split, labelled_split, paper_split
from astroxai.models.svm import SearchSpace, SVMClassifier
from astroxai.models.svm_study import KernelStudy, kernel_study

__all__ = ["CNNConfig", "EquivariantImageClassifier", "Estimator", "Evaluation", "GridMismatchError",
           "ImageCNNClassifier", "ImageCNNRegressor", "KernelStudy", "ModelLoadError", "NoiseCurve", "NotFittedError",
           "SVMClassifier", "SearchSpace", "Split",
           "SpectrumCNNClassifier", "evaluate", "kernel_study", "labelled_split", "load_model", "paper_split"]
