"""Small 2-D CNNs for survey cutouts: a morphology classifier (:class:`ImageCNNClassifier`) and a regressor of a
catalogue column (:class:`ImageCNNRegressor`, the bar-length baseline of Bhambra et al. 2022, MNRAS 511, 5032;
doi:10.1093/mnras/stac368).

Architecture (``ImageCNN``) for C × H × W cutouts:

* per-image scaling inside the module: each image is divided by its own maximum, so a classifier sees shape and not
  flux (radio sources span three decades of flux; a barred galaxy is barred at any brightness); with
  ``stretch='asinh'`` the scaled image then goes through asinh(x / s) / asinh(1 / s) (s = ``softening``, 0.05 by
  default), the astronomer's display stretch, which lifts the faint disc and bar out from under the bulge;
* three blocks ``Conv2d(3 × 3) → ReLU → MaxPool(2)`` with 16, 32 and 64 channels (a 64 × 64 cutout becomes 8 × 8 —
  a unit of the last block sees 22 × 22 pixels, a FIRST beam is 3 pixels, a bar 10–40);
* flatten → dropout → ``Linear(·, 64)`` → ReLU → dropout → ``Linear(64, K)``.

``task='classify'``: ``forward`` gives class probabilities (softmax), as the spectrum CNN does, so the explainers
treat both alike.  ``task='regress'``: ``forward`` gives one number per image (e.g. the bar length in pixels).
Training reuses :func:`astroxai.models.cnn.train_loop` (Adam, seeded batches, early stopping on validation loss);
with ``augment=True`` every training batch is turned by a random element of the square's symmetry group (quarter
turns and flips), under which a morphology class and a bar length do not change.
Persisted like the spectrum CNN: ``state_dict`` only, architecture in ``model.json``.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from astroxai.errors import InputError
from astroxai.models.base import ImageModel, ProbabilityClassifier
from astroxai.models.cnn import TorchModel, check_network_folder, class_weights, in_parts, train_loop
from astroxai.models.dihedral import EquivariantFeatures, average_views, random_view
from astroxai.models.persist import ModelLoadError, require
from astroxai.models.reference import TrainingReference
from astroxai.models.split import Split, labelled_split

log = logging.getLogger(__name__)
DEFAULT_IMAGE_TRAIN_SEED = 20220613

TASKS = ("classify", "regress")
#: Training settings of the bar-length regressor in ``astroxai run --kind galaxy`` and ``astroxai train --task regress``
#: (with the estimator's defaults — dropout 0.3, 100 epochs, patience 10 — the network was still improving when it
#: stopped; with these, on the galaxy study, r = 0.911 against 0.899 after 150 epochs with patience 25 — docs/images.md)
REGRESSOR_TRAINING = {"dropout": 0.1, "learning_rate": 1e-3, "max_epochs": 200, "patience": 40}
STRETCHES = ("linear", "asinh")


class ImageCNN(nn.Module):
    """(N, C, H, W) images → (N, K) class probabilities (``classify``) or (N,) values (``regress``)."""

    def __init__(self, shape, n_outputs: int, task: str = "classify", channels=(16, 32, 64), kernel_size: int = 3,
                 hidden: int = 64, dropout: float = 0.3, stretch: str = "linear", softening: float = 0.05,
                 target_offset: float = 0.0, target_scale: float = 1.0, equivariant: bool = False,
                 average_views: bool = False):
        super().__init__()
        if task not in TASKS:
            raise InputError(f"task must be one of {TASKS}")
        if stretch not in STRETCHES:
            raise InputError(f"stretch must be one of {STRETCHES}")
        c, h, w = shape
        self.task, self.stretch, self.softening = task, stretch, float(softening)
        if not (np.isfinite(target_offset) and np.isfinite(target_scale) and target_scale > 0):
            raise InputError(f"target scaling must be finite with a positive scale: {target_offset}, {target_scale}")
        # regress: the last layer predicts (value − offset) / scale, so that it starts near the targets' mean and
        # Adam's steps are in units of their spread (a bar length of ~19 ± 6 px from an output initialised at 0 took
        # hundreds of epochs to reach: r = 0.54 after 100 epochs, 0.91 with the scaling; docs/images.md)
        self.target_offset, self.target_scale = float(target_offset), float(target_scale)
        # test-time averaging over the eight turns and flips (a setting, not a weight: not in the state_dict)
        self.average_views = bool(average_views)
        self.equivariant = bool(equivariant)
        if (average_views or equivariant) and h != w:
            raise InputError(f"turns and flips need square images, not {h} × {w}")
        if equivariant:
            if h % 2 ** len(channels) or kernel_size % 2 == 0:
                raise InputError(f"an equivariant network needs an odd kernel and a side divisible by "
                                 f"{2 ** len(channels)} (its {len(channels)} poolings), not {kernel_size} and {h}")
            self.features = EquivariantFeatures(c, channels, kernel_size)
            width, h, w = self.features.width, 1, 1
        else:
            layers, width = [], c
            for out in channels:
                layers += [nn.Conv2d(width, out, kernel_size, padding=kernel_size // 2), nn.ReLU(), nn.MaxPool2d(2)]
                width, h, w = out, h // 2, w // 2
            self.features = nn.Sequential(*layers)
        if h < 1 or w < 1:
            raise InputError(f"{shape} images are too small for {len(channels)} pooling blocks")
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(width * h * w, hidden), nn.ReLU(),
                                  nn.Dropout(dropout), nn.Linear(hidden, n_outputs if task == "classify" else 1))

    def _dtype(self) -> torch.dtype:
        return self.head[-1].weight.dtype

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """What the convolutions see: each image divided by its peak, then stretched (``stretch='asinh'``)."""
        x = x.to(self._dtype())  # float64 inputs (explainers) are cast here, so gradients still flow
        # the scale is a constant for the gradient (detached): the output does not depend on the image's brightness,
        # so the exact gradient's term through the maximum is −(g·x)/peak² on the brightest pixel alone, and a
        # saliency map would show the galaxy's nucleus whatever the network looks at
        peak = x.detach().flatten(1).amax(dim=1).clamp_min(1e-12)
        x = x / peak[:, None, None, None]
        if self.stretch == "asinh":
            x = torch.asinh(x / self.softening) / float(np.arcsinh(1.0 / self.softening))
        return x

    #: Images per pass in evaluation, with or without gradients.  A batch's feature maps pass through memory once per
    #: layer: at 64 × 64 pixels the first block's are 256 kB per image, so the thousands of images of a deletion
    #: curve's call left the CPU's caches at every layer (1.64 ms per view against 0.56 in parts, one core; LIME's
    #: calls of 100: 1.00 against 0.48), and so did SmoothGrad's 16 or 64 images × 25 noisy copies through the
    #: gradient path (forward + input gradient 4.1 → 1.9 ms per view at 400, 3.5 → 2.5 at 1 600;
    #: ``benchmarks/bench_image_forward.py``).
    EVAL_CHUNK = 32

    def _convolved(self, z: torch.Tensor) -> torch.Tensor:
        """The convolution blocks' output.  Where no gradient is taken (predictions, the perturbation explainers:
        LIME, KernelSHAP, occlusion, deletion curves) the plain network runs in torch's channels-last layout, in which
        oneDNN's convolutions of one-channel images are about ten times faster on a CPU and max-pooling about eight
        times; each block pools before its ReLU there (the same values: a maximum commutes with a non-decreasing
        function), on a quarter of the elements.  The result equals the default layout's up to float32 round-off.
        Training and gradients keep the default layout and order: there a max-pool's ties (ReLU zeros) send the
        gradient to another pixel in channels-last, which would change saliency maps and trained weights.  In
        evaluation both paths run a batch larger than :attr:`EVAL_CHUNK` in parts (saliency, SmoothGrad and
        integrated gradients' batches too); training keeps its batches whole."""
        if self.equivariant or (self.training and torch.is_grad_enabled()):
            return self.features(z)
        if len(z) > self.EVAL_CHUNK:
            # parts of 16 to 32 images; with gradients autograd then takes each part's backward pass through before
            # the next
            return in_parts(self._convolved, z, self.EVAL_CHUNK)
        if torch.is_grad_enabled():
            return self.features(z)
        z = z.contiguous(memory_format=torch.channels_last)
        for conv, _, pool in zip(*[iter(self.features)] * 3, strict=True):  # (Conv2d, ReLU, MaxPool2d) blocks
            weight = conv.weight.contiguous(memory_format=torch.channels_last)
            z = nn.functional.conv2d(z, weight, conv.bias, conv.stride, conv.padding, conv.dilation, conv.groups)
            # a one-channel input is channels-last and default at once, and its convolution comes back in the
            # default layout, where the first max-pool took a third of the forward pass: the layout is set again
            z = torch.relu(pool(z.contiguous(memory_format=torch.channels_last)))
        return z

    def raw_prepared(self, z: torch.Tensor) -> torch.Tensor:
        out = self.head(self._convolved(z.to(self._dtype())))
        return out if self.task == "classify" else out[:, 0] * self.target_scale + self.target_offset

    def raw(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (classify) or the regressed value (regress), before any softmax."""
        return self.raw_prepared(self.prepare(x))

    def output(self, raw: torch.Tensor) -> torch.Tensor:
        """Probabilities from logits (classify); the value itself (regress)."""
        return torch.softmax(raw, dim=1) if self.task == "classify" else raw

    def from_prepared(self, z: torch.Tensor) -> torch.Tensor:
        """Probabilities (or values) of prepared images; with ``average_views`` their mean over the eight views."""
        if self.average_views:
            return average_views(lambda view: self.output(self.raw_prepared(view)), z)
        return self.output(self.raw_prepared(z))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.from_prepared(self.prepare(x))

    def on_prepared(self) -> nn.Module:
        """The same network as a module of *prepared* images (:meth:`prepare`): explanations are taken there, in
        the stretched image the convolutions see (as Bhambra et al. 2022's maps were of Galaxy Zoo's stretched
        JPEGs).
        Through the stretch, a gradient with respect to the raw pixels is dominated by its Jacobian
        1/√(s² + x²), largest in the empty sky, and says little about the network."""
        return _Prepared(self)


class _Prepared(nn.Module):
    def __init__(self, network: ImageCNN):
        super().__init__()
        self.network = network

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.network.from_prepared(z)


class ImageCNNModel(ImageModel, TorchModel):
    """What the image classifier and regressor share: the :class:`ImageCNN` network, its training on the paper's
    64/16/20 split of every labelled image (so that a classifier and a regressor share their test images), and the
    prepared-image space the explainers work in.

    Parameters
    ----------
    channels, kernel_size, hidden, dropout :
        The architecture (filters per block, convolution size, dense width, dropout).
    stretch : ``'asinh'`` or ``'linear'``
        Input stretch after the per-image peak scaling.
    augment : bool
        Turn every training batch by a random quarter turn and flip.
    max_epochs, patience, learning_rate, weight_decay, batch_size, schedule :
        Training settings (Adam; early stopping on the validation loss; a constant learning rate or a one-cycle
        schedule).
    seed : int
        Seed of the split, the initial weights, the batches and the augmentation.
    average_views : bool
        Test-time averaging: every prediction (and so every explanation) is the mean of the outputs for the eight
        turns and flips of the image (the cost of eight forward passes).  Not used in training.
    """

    kind = "torch-image-cnn"
    modality = "images"
    table_name = "image-cnn"
    #: Build the network of D4 group convolutions (:class:`EquivariantImageClassifier`) instead of plain ones.
    equivariant: ClassVar[bool] = False
    explain_batch = 64
    inference_batch = 512

    def __init__(self, *, channels=(16, 32, 64), kernel_size: int = 3, hidden: int = 64, dropout: float = 0.3,
                 stretch: str = "asinh", augment: bool = False, max_epochs: int = 100, patience: int = 10,
                 learning_rate: float = 1e-3, weight_decay: float = 1e-4, batch_size: int = 64,
                 seed: int = DEFAULT_IMAGE_TRAIN_SEED, average_views: bool = False, schedule: str = "constant"):
        if stretch not in STRETCHES:
            raise InputError(f"stretch must be one of {STRETCHES}, not {stretch!r}")
        self.channels = tuple(channels)
        self.kernel_size = kernel_size
        self.hidden = hidden
        self.dropout = dropout
        self.stretch = stretch
        self.augment = bool(augment)
        self.max_epochs = max_epochs
        self.patience = patience
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.seed = int(seed)
        self.average_views = bool(average_views)
        self.schedule = schedule
        self.network_config()  # checks the numbers

    def _rows(self, data, split: Split) -> tuple[np.ndarray, np.ndarray]:
        return split.rows(data.ids, "train"), split.rows(data.ids, "validation")

    def _targets(self, data, rows):
        raise NotImplementedError

    def fit(self, data, split: Split | None = None, progress=None):
        """Train on ``data`` (an :class:`~astroxai.data.ImageSet`) with early stopping on the validation part."""
        self._check_data(data)
        split = split or labelled_split(data, self.seed)
        train, validation = self._rows(data, split)
        if min(train.size, validation.size) < 2:
            raise InputError(f"too few images to train on ({train.size} train, {validation.size} validation)")
        if (self.augment or self.average_views or self.equivariant) and data.shape[1] != data.shape[2]:
            raise InputError("turns and flips (augment, average_views, an equivariant network) need square images")
        cfg = self.network_config()
        X = data.images
        yt, yv = self._targets(data, train), self._targets(data, validation)
        classes = self._classes(data)
        torch.manual_seed(cfg.seed)
        self.output_scaling_ = self._output_scaling(yt)
        module = self._network(data.shape, max(1, len(classes)), self._architecture())
        loss_fn, score = self._loss(yt, len(classes))
        log.info("image %s: %d train, %d validation (early stopping), %d test images", self._what(), train.size,
                 validation.size, split.test.size)
        start = time.perf_counter()
        history = train_loop(module, module.raw, (np.asarray(X[train], dtype=np.float32), yt),
                             (np.asarray(X[validation], dtype=np.float32), yv), loss_fn, cfg, score=score,
                             progress=progress, augment=random_view if self.augment else None)
        self.fit_seconds_ = time.perf_counter() - start
        self.module_ = module.eval()
        self.history_ = history
        self.classes_ = np.asarray(classes, dtype=object)
        self.split_ = split
        self.grid_ = tuple(int(v) for v in data.shape)
        self.reduction_ = {k: data.attrs.get(k) for k in ("kind", "survey", "pixel_arcsec", "unit",
                                                          "beam_fwhm_arcsec", "preparation")}
        # the reference input of the perturbation methods: empty sky (0), in raw and prepared units alike
        self.baseline_ = np.zeros(self.grid_, dtype=np.float64)
        best = min(history, key=lambda h: h["val_loss"])
        self.training_ = {"n_images": int(train.size), "early_stopping": "validation", "epochs": len(history),
                          "best_epoch": best["epoch"], "seed": self.seed}
        self.reference_ = TrainingReference.fit(np.asarray(X[train], dtype=np.float64))
        log.info("image CNN: %d epochs in %.1f s (best epoch %d)", len(history), self.fit_seconds_, best["epoch"])
        return self

    def _architecture(self) -> dict:
        """The network's constructor keywords, as ``model.json`` records them."""
        return {**self.network_config().architecture(), "stretch": self.stretch, "equivariant": self.equivariant,
                **self.output_scaling_}

    def _network(self, shape, n_outputs: int, architecture: dict) -> ImageCNN:
        return ImageCNN(shape, n_outputs, self.task, **{**architecture, "channels": tuple(architecture["channels"])},
                        average_views=self.average_views)

    def _check_data(self, data) -> None:
        if getattr(data, "modality", None) != self.modality:
            raise TypeError(f"an image CNN trains on an ImageSet, not {type(data).__name__}")

    def _classes(self, data) -> list:
        return []

    def _output_scaling(self, targets) -> dict:
        """The network's output scaling learnt from the training targets (none for a classifier)."""
        return {}

    def prepare(self, X) -> np.ndarray:
        """Images divided by their peak and stretched, as the convolutions see them (float64)."""
        X = self.check_inputs(X)
        with torch.no_grad():
            return self.module_.prepare(torch.as_tensor(np.asarray(X, dtype=np.float32))).double().numpy()

    def as_module(self, prepared: bool = False) -> nn.Module:
        self.check_fitted()
        return (self.module_.on_prepared() if prepared else self.module_).eval()

    def _state(self) -> dict:
        cfg = self.network_config()
        return {"model": self.table_name, "image_shape": list(self.grid_),
                "architecture": self._architecture(),
                "network": cfg.to_dict(),
                "n_parameters": int(sum(p.numel() for p in self.module_.parameters())), "images": self.reduction_,
                "history": self.history_, "training": self.training_}

    @classmethod
    def _from_folder(cls, folder: Path, meta: dict, trusted):
        require(meta, folder, classes=list, image_shape=list, architecture=dict)
        arch = meta["architecture"]
        params = dict(meta.get("params") or {})
        config = meta.get("config") or {}
        if not params:  # a folder written before the estimator API
            params = {"stretch": arch.get("stretch", "linear"), "augment": config.get("augment", False),
                      "seed": config.get("seed", DEFAULT_IMAGE_TRAIN_SEED)}
            if cls.task == "regress":
                params.update(target=meta.get("target") or config.get("target", "bar_length_px"),
                              max_measured=config.get("max_measured"))
        params.update(channels=tuple(arch["channels"]), kernel_size=int(arch["kernel_size"]),
                      hidden=int(arch["hidden"]), dropout=float(arch["dropout"]))
        model = cls(**params)
        model.classes_ = np.asarray([str(c) for c in meta["classes"]], dtype=object)
        model.grid_ = tuple(int(v) for v in meta["image_shape"])
        # a regressor's output scaling (absent from classifiers and from folders written before it existed)
        model.output_scaling_ = {k: float(arch[k]) for k in ("target_offset", "target_scale") if k in arch}
        if bool(arch.get("equivariant", False)) != cls.equivariant:
            raise ModelLoadError(f"{folder}: model.json's architecture does not match its kind {meta.get('kind')!r}")
        stored = {"channels": arch["channels"], "kernel_size": int(arch["kernel_size"]), "hidden": int(arch["hidden"]),
                  "dropout": float(arch["dropout"]), "stretch": arch.get("stretch", "linear"),
                  "equivariant": cls.equivariant, **model.output_scaling_}
        model.module_ = model._network(model.grid_, len(model.classes_) if cls.task == "classify" else 1, stored)
        model._load_module(folder, meta)
        model.reduction_ = dict(meta.get("images") or {})
        model.baseline_ = np.zeros(model.grid_, dtype=np.float64)
        model.history_ = list(meta.get("history") or [])
        model.training_ = dict(meta.get("training") or {})
        check_network_folder(model, folder)
        return model


class ImageCNNClassifier(ProbabilityClassifier, ImageCNNModel):
    """A morphology classifier of image cutouts (radio galaxies, barred discs): :class:`ImageCNN` with class-weighted
    cross-entropy; ``predict_proba`` gives the class probabilities, ``predict`` the most probable class.

    Parameters
    ----------
    channels, kernel_size, hidden, dropout, stretch, augment, max_epochs, patience, learning_rate, weight_decay, \
batch_size, seed :
        As for :class:`ImageCNNModel`.

    Examples
    --------
    >>> from astroxai import ImageCNNClassifier, simulate
    >>> data = simulate.image_set("radio", {"compact": 12, "FRII": 12}, seed=3)
    >>> cnn = ImageCNNClassifier(max_epochs=2).fit(data)
    >>> cnn.classes_.tolist(), cnn.predict_proba(data).shape
    (['FRII', 'compact'], (24, 2))
    """

    task = "classify"

    def _what(self) -> str:
        return "classifier"

    def _check_data(self, data) -> None:
        super()._check_data(data)
        if len(data.classes) < 2:
            raise InputError(f"a classifier needs at least two labelled classes; the set has {data.classes}")

    def _classes(self, data) -> list:
        return list(data.classes)

    def _targets(self, data, rows):
        index = {c: i for i, c in enumerate(data.classes)}
        return np.array([index[c] for c in data.labels[rows]], dtype=np.int64)

    def _loss(self, yt, n_classes: int):
        def accuracy(logits, y):
            return float((logits.argmax(dim=1) == y).float().mean())  # validation accuracy

        return nn.CrossEntropyLoss(weight=class_weights(yt, n_classes)), accuracy

    def predict_proba(self, data) -> np.ndarray:
        return self._outputs(data)


class EquivariantImageClassifier(ImageCNNClassifier):
    """A morphology classifier whose convolutions respect the turns and flips of the pixel grid (the group D4): a
    lifting convolution and group convolutions (:mod:`astroxai.models.dihedral`) keep, for every filter, its response
    in all eight orientations; the maps are pooled over the orientations (max) and over the image (mean), so the class
    probabilities are the same for all eight views of an image, by construction rather than by training.  Scaife &
    Porter (2021, MNRAS 503, 2369) found such networks to cut the errors on radio galaxies against the same plain
    network.

    ``channels`` counts filters per orientation: each block computes eight times as many maps, so the default
    (4, 8, 16, 16) costs about 3.5 times the plain (16, 32, 64) network's time per epoch with a tenth of its weights.
    Images must be square with a side divisible by 2 ** len(channels).  The defaults are the recipe chosen on the
    validation part of the real FIRST galaxies (docs/images.md): four blocks, a one-cycle schedule up to a learning
    rate of 4 × 10⁻³ over 60 epochs, the weights of the epoch with the lowest validation loss.  The other parameters
    are those of :class:`ImageCNNClassifier` (``augment`` is off by default: turning the training images changes
    nothing the network computes).

    Parameters
    ----------
    channels : tuple of int
        Filters per orientation in each block (default 4, 8, 16, 16).
    kernel_size : int
        Odd side of the convolutions (3).
    hidden, dropout, stretch, augment, max_epochs, patience, learning_rate, weight_decay, batch_size, seed, \
average_views, schedule :
        As for :class:`ImageCNNClassifier`.

    Examples
    --------
    >>> from astroxai import simulate
    >>> from astroxai.models import EquivariantImageClassifier
    >>> data = simulate.image_set("radio", {"compact": 12, "FRII": 12}, seed=3)
    >>> network = EquivariantImageClassifier(max_epochs=2).fit(data)
    >>> network.predict_proba(data).shape
    (24, 2)
    """

    kind = "torch-image-equivariant"
    table_name = "equivariant-cnn"
    equivariant = True

    def __init__(self, *, channels=(4, 8, 16, 16), kernel_size: int = 3, hidden: int = 64, dropout: float = 0.1,
                 stretch: str = "asinh", augment: bool = False, max_epochs: int = 60, patience: int = 60,
                 learning_rate: float = 4e-3, weight_decay: float = 1e-4, batch_size: int = 64,
                 seed: int = DEFAULT_IMAGE_TRAIN_SEED, average_views: bool = False, schedule: str = "one-cycle"):
        if int(kernel_size) % 2 == 0:
            raise InputError("an equivariant network needs an odd kernel_size")
        super().__init__(channels=channels, kernel_size=kernel_size, hidden=hidden, dropout=dropout, stretch=stretch,
                         augment=augment, max_epochs=max_epochs, patience=patience, learning_rate=learning_rate,
                         weight_decay=weight_decay, batch_size=batch_size, seed=seed, average_views=average_views,
                         schedule=schedule)


class ImageCNNRegressor(ImageCNNModel):
    """A regressor of one catalogue column from image cutouts (e.g. the projected bar length ``bar_length_px``),
    trained with mean squared error on the images where that column is positive.

    Parameters
    ----------
    target : str
        The metadata column to predict.
    max_measured : int, optional
        Learn from only the first N training values (and N/4 validation values): a small hand-measured sample.
    channels, kernel_size, hidden, dropout, stretch, augment, max_epochs, patience, learning_rate, weight_decay, \
batch_size, seed :
        As for :class:`ImageCNNModel`.

    Examples
    --------
    >>> from astroxai import ImageCNNRegressor, simulate
    >>> data = simulate.image_set("galaxy", {"barred": 12, "unbarred": 4}, seed=6)
    >>> regressor = ImageCNNRegressor(max_epochs=2).fit(data)
    >>> regressor.predict(data.subset(data.labels == "barred")).shape
    (12,)
    """

    task = "regress"

    def __init__(self, target: str = "bar_length_px", max_measured: int | None = None, *, channels=(16, 32, 64),
                 kernel_size: int = 3, hidden: int = 64, dropout: float = 0.3, stretch: str = "asinh",
                 augment: bool = False, max_epochs: int = 100, patience: int = 10, learning_rate: float = 1e-3,
                 weight_decay: float = 1e-4, batch_size: int = 64, seed: int = DEFAULT_IMAGE_TRAIN_SEED,
                 average_views: bool = False, schedule: str = "constant"):
        if not isinstance(target, str) or not target:
            raise InputError("target must name a metadata column")
        if max_measured is not None and int(max_measured) < 2:
            raise InputError("max_measured must be at least 2")
        self.target = target
        self.max_measured = None if max_measured is None else int(max_measured)
        super().__init__(channels=channels, kernel_size=kernel_size, hidden=hidden, dropout=dropout, stretch=stretch,
                         augment=augment, max_epochs=max_epochs, patience=patience, learning_rate=learning_rate,
                         weight_decay=weight_decay, batch_size=batch_size, seed=seed, average_views=average_views,
                         schedule=schedule)

    def _what(self) -> str:
        return f"regressor of {self.target}"

    def _check_data(self, data) -> None:
        super()._check_data(data)
        if self.target not in data.meta:
            raise InputError(f"the set has no column {self.target!r} to regress (columns: {sorted(data.meta)})")

    def measured(self, data, rows) -> np.ndarray:
        """The rows among ``rows`` whose target value is finite and positive (e.g. the barred galaxies)."""
        values = data.meta[self.target].astype(np.float64)
        return rows[np.isfinite(values[rows]) & (values[rows] > 0)]

    def _rows(self, data, split: Split) -> tuple[np.ndarray, np.ndarray]:
        train, validation = (self.measured(data, split.rows(data.ids, part)) for part in ("train", "validation"))
        if self.max_measured is not None:
            train, validation = train[:self.max_measured], validation[:max(2, self.max_measured // 4)]
        return train, validation

    def _targets(self, data, rows):
        return data.meta[self.target][rows].astype(np.float32)

    def _output_scaling(self, targets) -> dict:
        """Mean and standard deviation of the training targets (the scale 1 when they are all equal)."""
        spread = float(np.std(targets))
        return {"target_offset": float(np.mean(targets)), "target_scale": spread if spread > 0 else 1.0}

    def _loss(self, yt, n_classes: int):
        def rmse(values, y):
            return float(torch.sqrt(((values - y) ** 2).mean()))  # validation RMSE

        return nn.MSELoss(), rmse

    def predict(self, data) -> np.ndarray:
        return self._outputs(data)

    def _state(self) -> dict:
        return {**super()._state(), "target": self.target}
