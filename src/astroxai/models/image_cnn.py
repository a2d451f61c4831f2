"""Small 2-D CNNs for survey cutouts: a morphology classifier and a regressor (seed 003's bar-length baseline).

Architecture (``ImageCNN``) for C × H × W cutouts:

* per-image scaling inside the module: each image is divided by its own maximum, so a classifier sees shape and not
  flux (radio sources span three decades of flux; a barred galaxy is barred at any brightness);
* three blocks ``Conv2d(3 × 3) → ReLU → MaxPool(2)`` with 16, 32 and 64 channels (a 64 × 64 cutout becomes 8 × 8 —
  a unit of the last block sees 22 × 22 pixels, a FIRST beam is 3 pixels, a bar 10–40);
* flatten → dropout → ``Linear(·, 64)`` → ReLU → dropout → ``Linear(64, K)``.

``task='classify'``: ``forward`` gives class probabilities (softmax), as the spectrum CNN does, so the explainers
treat both alike.  ``task='regress'``: ``forward`` gives one number per image (e.g. the bar length in pixels).
Training reuses :func:`astroxai.models.cnn.train_loop` (Adam, seeded batches, early stopping on validation loss).
Persisted like the spectrum CNN: ``state_dict`` only, architecture in ``model.json``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from astroxai.models.cnn import CNNClassifier, CNNConfig, _class_weights, train_loop

TASKS = ("classify", "regress")


class ImageCNN(nn.Module):
    """(N, C, H, W) images → (N, K) class probabilities (``classify``) or (N,) values (``regress``)."""

    def __init__(self, shape, n_outputs: int, task: str = "classify", channels=(16, 32, 64), kernel_size: int = 3,
                 hidden: int = 64, dropout: float = 0.3):
        super().__init__()
        if task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}")
        c, h, w = shape
        self.task = task
        layers, width = [], c
        for out in channels:
            layers += [nn.Conv2d(width, out, kernel_size, padding=kernel_size // 2), nn.ReLU(), nn.MaxPool2d(2)]
            width, h, w = out, h // 2, w // 2
        if h < 1 or w < 1:
            raise ValueError(f"{shape} images are too small for {len(channels)} pooling blocks")
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(width * h * w, hidden), nn.ReLU(),
                                  nn.Dropout(dropout), nn.Linear(hidden, n_outputs if task == "classify" else 1))

    def raw(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (classify) or the regressed value (regress), before any softmax."""
        x = x.to(torch.float32)
        peak = x.flatten(1).amax(dim=1).clamp_min(1e-12)
        out = self.head(self.features(x / peak[:, None, None, None]))
        return out if self.task == "classify" else out[:, 0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.raw(x)
        return torch.softmax(out, dim=1) if self.task == "classify" else out


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


def fit_image_cnn(X_train, y_train, X_val, y_val, task: str, classes=None, cfg: CNNConfig | None = None,
                  progress=None):
    """Train an :class:`ImageCNN` (class-weighted cross-entropy, or mean squared error for ``regress``) with early
    stopping; returns the fitted classifier/regressor and its history."""
    cfg = cfg or CNNConfig(kernel_size=3)
    X_train = np.asarray(X_train, dtype=np.float32)
    X_val = np.asarray(X_val, dtype=np.float32)
    torch.manual_seed(cfg.seed)
    arch = {"channels": tuple(cfg.channels), "kernel_size": cfg.kernel_size, "hidden": cfg.hidden,
            "dropout": cfg.dropout}
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
    history = train_loop(module, module.raw, X_train, yt, X_val, yv, loss_fn, cfg, score=score, progress=progress)
    model = ImageClassifier(module, classes) if task == "classify" else ImageRegressor(module)
    return model, history


def build_image_cnn(meta: dict) -> ImageCNN:
    """An untrained module with the architecture recorded in an image model's metadata (weights loaded separately)."""
    arch = meta["architecture"]
    n_outputs = len(meta["classes"]) if meta["task"] == "classify" else 1
    return ImageCNN(tuple(meta["image_shape"]), n_outputs, meta["task"], channels=tuple(arch["channels"]),
                    kernel_size=int(arch["kernel_size"]), hidden=int(arch["hidden"]), dropout=float(arch["dropout"]))


def wrap_image_module(module: ImageCNN, meta: dict):
    """The classifier or regressor object around a loaded module."""
    return ImageClassifier(module, meta["classes"]) if meta["task"] == "classify" else ImageRegressor(module)
