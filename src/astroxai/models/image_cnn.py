"""Small 2-D CNNs for survey cutouts: a morphology classifier and a regressor (seed 003's bar-length baseline).

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

import numpy as np
import torch
from torch import nn

from astroxai.models.cnn import CNNClassifier, CNNConfig, _class_weights, train_loop

TASKS = ("classify", "regress")
STRETCHES = ("linear", "asinh")


class ImageCNN(nn.Module):
    """(N, C, H, W) images → (N, K) class probabilities (``classify``) or (N,) values (``regress``)."""

    def __init__(self, shape, n_outputs: int, task: str = "classify", channels=(16, 32, 64), kernel_size: int = 3,
                 hidden: int = 64, dropout: float = 0.3, stretch: str = "linear", softening: float = 0.05):
        super().__init__()
        if task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}")
        if stretch not in STRETCHES:
            raise ValueError(f"stretch must be one of {STRETCHES}")
        c, h, w = shape
        self.task, self.stretch, self.softening = task, stretch, float(softening)
        layers, width = [], c
        for out in channels:
            layers += [nn.Conv2d(width, out, kernel_size, padding=kernel_size // 2), nn.ReLU(), nn.MaxPool2d(2)]
            width, h, w = out, h // 2, w // 2
        if h < 1 or w < 1:
            raise ValueError(f"{shape} images are too small for {len(channels)} pooling blocks")
        self.features = nn.Sequential(*layers)
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

    def raw_prepared(self, z: torch.Tensor) -> torch.Tensor:
        out = self.head(self.features(z.to(self._dtype())))
        return out if self.task == "classify" else out[:, 0]

    def raw(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (classify) or the regressed value (regress), before any softmax."""
        return self.raw_prepared(self.prepare(x))

    def output(self, raw: torch.Tensor) -> torch.Tensor:
        """Probabilities from logits (classify); the value itself (regress)."""
        return torch.softmax(raw, dim=1) if self.task == "classify" else raw

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.output(self.raw(x))

    def on_prepared(self) -> nn.Module:
        """The same network as a module of *prepared* images (:meth:`prepare`): explanations are taken there, in
        the stretched image the convolutions see (as seed 003's maps were of Galaxy Zoo's stretched JPEGs).
        Through the stretch, a gradient with respect to the raw pixels is dominated by its Jacobian
        1/√(s² + x²), largest in the empty sky, and says little about the network."""
        return _Prepared(self)


class _Prepared(nn.Module):
    def __init__(self, network: ImageCNN):
        super().__init__()
        self.network = network

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.network.output(self.network.raw_prepared(z))


class ImageClassifier(CNNClassifier):
    """A trained classifying :class:`ImageCNN` with ``predict`` / ``predict_proba`` / ``classes_`` (the spectrum
    CNN's wrapper: float32 batches through the module without gradients)."""

    def __init__(self, module: ImageCNN, classes, batch_size: int = 512):
        super().__init__(module, classes, batch_size)


class ImageRegressor(ImageClassifier):
    """A trained regressing :class:`ImageCNN`; ``predict`` gives the value."""

    def __init__(self, module: ImageCNN, batch_size: int = 512):
        super().__init__(module, [], batch_size)

    def predict(self, X) -> np.ndarray:
        return self.predict_proba(X)


def dihedral(batch: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """Turn a batch of (N, C, H, W) square images by one random element of the dihedral group D4 (0–3 quarter
    turns, then an optional flip)."""
    out = torch.rot90(batch, int(rng.integers(4)), dims=(2, 3))
    return torch.flip(out, dims=(3,)) if rng.random() < 0.5 else out


def fit_image_cnn(X_train, y_train, X_val, y_val, task: str, classes=None, cfg: CNNConfig | None = None,
                  progress=None, stretch: str = "linear", augment: bool = False):
    """Train an :class:`ImageCNN` (class-weighted cross-entropy, or mean squared error for ``regress``) with early
    stopping; returns the fitted classifier/regressor and its history.  ``stretch`` is the module's input stretch,
    ``augment`` turns on random quarter turns and flips of the training batches."""
    cfg = cfg or CNNConfig(kernel_size=3)
    X_train = np.asarray(X_train, dtype=np.float32)
    X_val = np.asarray(X_val, dtype=np.float32)
    torch.manual_seed(cfg.seed)
    arch = {"channels": tuple(cfg.channels), "kernel_size": cfg.kernel_size, "hidden": cfg.hidden,
            "dropout": cfg.dropout, "stretch": stretch}
    if augment and X_train.shape[2] != X_train.shape[3]:
        raise ValueError("augmentation by quarter turns needs square images")
    if task == "classify":
        classes = [str(c) for c in classes]
        index = {c: i for i, c in enumerate(classes)}
        yt = np.array([index[str(c)] for c in y_train], dtype=np.int64)
        yv = np.array([index[str(c)] for c in y_val], dtype=np.int64)
        module = ImageCNN(X_train.shape[1:], len(classes), "classify", **arch)
        loss_fn = nn.CrossEntropyLoss(weight=_class_weights(yt, len(classes)))

        def score(logits, y):
            return float((logits.argmax(dim=1) == y).float().mean())  # validation accuracy
    else:
        yt = np.asarray(y_train, dtype=np.float32)
        yv = np.asarray(y_val, dtype=np.float32)
        module = ImageCNN(X_train.shape[1:], 1, "regress", **arch)
        loss_fn = nn.MSELoss()

        def score(values, y):
            return float(torch.sqrt(((values - y) ** 2).mean()))  # validation RMSE
    history = train_loop(module, module.raw, X_train, yt, X_val, yv, loss_fn, cfg, score=score, progress=progress,
                         augment=dihedral if augment else None)
    model = ImageClassifier(module, classes) if task == "classify" else ImageRegressor(module)
    return model, history


def build_image_cnn(meta: dict) -> ImageCNN:
    """An untrained module with the architecture recorded in an image model's metadata (weights loaded separately)."""
    arch = meta["architecture"]
    n_outputs = len(meta["classes"]) if meta["task"] == "classify" else 1
    return ImageCNN(tuple(meta["image_shape"]), n_outputs, meta["task"], channels=tuple(arch["channels"]),
                    kernel_size=int(arch["kernel_size"]), hidden=int(arch["hidden"]), dropout=float(arch["dropout"]),
                    stretch=arch.get("stretch", "linear"))


def wrap_image_module(module: ImageCNN, meta: dict):
    """The classifier or regressor object around a loaded module."""
    return ImageClassifier(module, meta["classes"]) if meta["task"] == "classify" else ImageRegressor(module)
