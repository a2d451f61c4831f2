"""A small 1-D convolutional network for reduced spectra: the deep-learning rival of the paper's SVM.

Architecture (``SpectrumCNN``), for F fluxes on the common rest-frame grid:

* input scaling inside the module: ``z = (f − m) / s`` with ``m`` the training set's median spectrum and ``s``
  one number (the standard deviation of ``f − m`` over the training set).  A single scale keeps the relative
  weight of wavelengths as the spectra have it; per-wavelength standardisation, as the SVM pipeline does, divides
  by the tiny spread near the 5100 Å normalisation point and makes a model most sensitive where there is least
  class information (docs/explain.md);
* three blocks of ``Conv1d(kernel 9, 'same' padding) → ReLU → MaxPool(2)`` with 16, 32 and 64 channels; a
  kernel of 9 pixels (≈ 14 Å, ≈ 850 km/s at Hβ on the default grid) resolves narrow lines in the first block,
  and after three poolings a unit sees ≈ 70 pixels (≈ 100 Å), the width of a broad Balmer line;
* flatten (the grid is fixed, so *where* a feature lies is information) → dropout → ``Linear(·, 64)`` → ReLU →
  dropout → ``Linear(64, K)``.

About 536 000 parameters for 1000 fluxes, almost all in the first dense layer (125 positions × 64 channels → 64);
the convolutions have 25 000.  The default 3346-spectrum sample trains in about a minute on 2 cores (34 epochs).
Training (``fit_cnn``): Adam, class-weighted cross-entropy (weights ∝ 1 / class size, like the SVM's
``class_weight='balanced'``), mini-batches drawn by a seeded generator, early stopping on the validation loss
with the best epoch's weights restored.  ``forward`` returns class probabilities (softmax), so every explainer
and trust metric treats the CNN and the SVM (through :mod:`astroxai.explain.bridge`) alike.

Persistence: ``model.pt`` holds only the ``state_dict`` (loaded with ``torch.load(weights_only=True)``, which
refuses anything but tensors), ``model.json`` the architecture, classes, grid, metrics and the file's SHA-256.
"""

from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

DEFAULT_CNN_SEED = 20210706


@dataclass
class CNNConfig:
    """Architecture and training settings of :class:`SpectrumCNN` (``astroxai train --model cnn``)."""

    channels: tuple = (16, 32, 64)
    kernel_size: int = 9
    hidden: int = 64
    dropout: float = 0.3
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    batch_size: int = 64
    max_epochs: int = 200
    patience: int = 15  # epochs without a better validation loss before stopping
    seed: int = DEFAULT_CNN_SEED

    def architecture(self) -> dict:
        return {"channels": list(self.channels), "kernel_size": self.kernel_size, "hidden": self.hidden,
                "dropout": self.dropout}

    def to_dict(self) -> dict:
        return {**asdict(self), "channels": list(self.channels)}


class SpectrumCNN(nn.Module):
    """1-D CNN: (N, F) normalised fluxes → (N, K) class probabilities (``logits`` gives the scores)."""

    def __init__(self, n_wave: int, n_classes: int, channels=(16, 32, 64), kernel_size: int = 9, hidden: int = 64,
                 dropout: float = 0.3, centre=None, scale: float = 1.0):
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError("kernel_size must be odd (symmetric 'same' padding)")
        self.register_buffer("centre", torch.as_tensor(np.zeros(n_wave) if centre is None else centre,
                                                       dtype=torch.float32).reshape(n_wave))
        self.register_buffer("scale", torch.tensor(float(scale), dtype=torch.float32))
        layers, width, size = [], 1, n_wave
        for out in channels:
            layers += [nn.Conv1d(width, out, kernel_size, padding=kernel_size // 2), nn.ReLU(), nn.MaxPool1d(2)]
            width, size = out, size // 2
        if size < 1:
            raise ValueError(f"{n_wave} fluxes are too few for {len(channels)} pooling blocks")
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(width * size, hidden), nn.ReLU(),
                                  nn.Dropout(dropout), nn.Linear(hidden, n_classes))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.centre.dtype)  # float64 inputs (explainers) are cast here, so gradients still flow
        z = ((x - self.centre) / self.scale).unsqueeze(1)
        return self.head(self.features(z))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.logits(x), dim=1)


class CNNClassifier:
    """A trained :class:`SpectrumCNN` with scikit-learn's ``predict`` / ``predict_proba`` / ``classes_``, so that
    evaluation, prediction and noise robustness use it exactly as they use an SVM pipeline."""

    def __init__(self, module: SpectrumCNN, classes, batch_size: int = 1024):
        self.module = module.eval()
        self.module.classes = [str(c) for c in classes]  # as SVCProbability records them
        self.classes_ = np.asarray([str(c) for c in classes], dtype=object)
        self.batch_size = batch_size

    def predict_proba(self, X) -> np.ndarray:
        X = np.atleast_2d(np.asarray(X, dtype=np.float32))
        out = []
        with torch.no_grad():
            for start in range(0, len(X), self.batch_size):
                out.append(self.module(torch.from_numpy(X[start:start + self.batch_size])).double().numpy())
        return np.concatenate(out) if out else np.empty((0, len(self.classes_)))

    def predict(self, X) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)].astype(str)


def _class_weights(y_index: np.ndarray, k: int) -> torch.Tensor:
    counts = np.bincount(y_index, minlength=k).astype(float)
    return torch.as_tensor(len(y_index) / (k * np.maximum(counts, 1)), dtype=torch.float32)


def train_loop(module: nn.Module, raw, X_train, y_train, X_val, y_val, loss_fn, cfg: CNNConfig, *, score=None,
               progress=None, augment=None) -> list[dict]:
    """The shared training loop of astroxai's networks: Adam with weight decay, seeded mini-batches, early stopping
    on the validation loss with the best epoch's weights restored (in place).

    ``raw(x)`` gives the outputs the loss is computed on (logits, or the regressed value); ``score(outputs, y)`` an
    extra validation figure recorded per epoch (e.g. macro F); ``augment(batch, rng)`` transforms each training
    batch (e.g. random flips and quarter turns of images).  Returns the per-epoch history.  The caller seeds
    torch (``torch.manual_seed``) before building the module: initial weights and dropout masks follow from it.
    """
    rng = np.random.default_rng(cfg.seed)
    optimiser = torch.optim.Adam(module.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    Xt, Yt, Xv, Yv = (torch.as_tensor(np.ascontiguousarray(a)) for a in (X_train, y_train, X_val, y_val))
    best, best_loss, since_best, history = None, np.inf, 0, []
    epochs = range(1, cfg.max_epochs + 1)
    for epoch in (progress(epochs, total=len(epochs)) if progress else epochs):
        start = time.perf_counter()
        module.train()
        order = rng.permutation(len(Xt))
        total = 0.0
        for b in range(0, len(order), cfg.batch_size):
            rows = torch.from_numpy(order[b:b + cfg.batch_size])
            optimiser.zero_grad()
            batch = Xt[rows] if augment is None else augment(Xt[rows], rng)
            loss = loss_fn(raw(batch), Yt[rows])
            loss.backward()
            optimiser.step()
            total += float(loss.detach()) * len(rows)
        module.eval()
        with torch.no_grad():
            outputs = raw(Xv)
            val_loss = float(loss_fn(outputs, Yv))
        entry = {"epoch": epoch, "train_loss": round(total / len(order), 6), "val_loss": round(val_loss, 6)}
        if score is not None:
            entry["val_score"] = round(float(score(outputs, Yv)), 6)
        entry["seconds"] = round(time.perf_counter() - start, 3)
        history.append(entry)
        if val_loss < best_loss - 1e-6:
            best, best_loss, since_best = copy.deepcopy(module.state_dict()), val_loss, 0
        else:
            since_best += 1
            if since_best >= cfg.patience:
                break
    module.load_state_dict(best)
    module.eval()
    return history


def fit_cnn(X_train, y_train, X_val, y_val, classes, cfg: CNNConfig | None = None, progress=None,
            echo=None) -> tuple[CNNClassifier, list[dict]]:
    """Train a :class:`SpectrumCNN` with early stopping on ``(X_val, y_val)``; returns the classifier (best epoch's
    weights) and the per-epoch history (train loss, validation loss, validation macro F, seconds)."""
    from sklearn.metrics import f1_score

    cfg = cfg or CNNConfig()
    classes = [str(c) for c in classes]
    index = {c: i for i, c in enumerate(classes)}
    X_train = np.asarray(X_train, dtype=np.float32)
    X_val = np.asarray(X_val, dtype=np.float32)
    yt = np.array([index[str(c)] for c in y_train], dtype=np.int64)
    yv = np.array([index[str(c)] for c in y_val], dtype=np.int64)
    torch.manual_seed(cfg.seed)
    centre = np.median(X_train, axis=0)
    scale = float(np.std(X_train - centre)) or 1.0
    module = SpectrumCNN(X_train.shape[1], len(classes), **cfg.architecture(), centre=centre, scale=scale)
    loss_fn = nn.CrossEntropyLoss(weight=_class_weights(yt, len(classes)))

    def macro_f(logits, y):
        return f1_score(y.numpy(), logits.argmax(dim=1).numpy(), average="macro", labels=range(len(classes)),
                        zero_division=0)

    history = train_loop(module, module.logits, X_train, yt, X_val, yv, loss_fn, cfg, score=macro_f,
                         progress=progress)
    history = [{"epoch": h["epoch"], "train_loss": h["train_loss"], "val_loss": h["val_loss"], "val_f1": h["val_score"],
                "seconds": h["seconds"]} for h in history]
    if echo:
        chosen = min(history, key=lambda h: h["val_loss"])
        echo(f"  CNN stopped after {len(history)} epochs; best epoch {chosen['epoch']} (validation loss "
             f"{chosen['val_loss']:.4f}, macro F {chosen['val_f1']:.4f})")
    return CNNClassifier(module, classes), history


def build_cnn(meta: dict) -> SpectrumCNN:
    """An untrained module with the architecture recorded in a model's metadata (weights loaded separately)."""
    arch = meta["architecture"]
    return SpectrumCNN(len(meta["wavelength"]), len(meta["classes"]), channels=tuple(arch["channels"]),
                       kernel_size=int(arch["kernel_size"]), hidden=int(arch["hidden"]),
                       dropout=float(arch["dropout"]))
