"""A small 1-D convolutional network for reduced spectra, the deep-learning rival of the paper's SVM, and
:class:`SpectrumCNNClassifier`, the estimator around it.

Architecture (``SpectrumCNN``), for F fluxes on the common rest-frame grid:

* input scaling inside the module: ``z = (f − m) / s`` with ``m`` the training set's median spectrum and ``s``
  one number (the standard deviation of ``f − m`` over the training set).  A single scale keeps the relative
  weight of wavelengths as the spectra have it; per-wavelength standardisation, as the SVM pipeline does, divides
  by the tiny spread near the 5100 Å normalisation point and makes a model most sensitive where there is least
  class information (docs/explain.md);
* three blocks of ``Conv1d(kernel 9, 'same' padding) → ReLU → MaxPool(2)`` (:class:`PairMax`) with 16, 32 and 64
  channels; a kernel of 9 pixels (≈ 14 Å, ≈ 850 km/s at Hβ on the default grid) resolves narrow lines in the
  first block, and after three poolings a unit sees ≈ 70 pixels (≈ 100 Å), the width of a broad Balmer line;
* flatten (the grid is fixed, so *where* a feature lies is information) → dropout → ``Linear(·, 64)`` → ReLU →
  dropout → ``Linear(64, K)``.

About 536 000 parameters for 1000 fluxes, almost all in the first dense layer (125 positions × 64 channels → 64);
the convolutions have 25 000.  The default 3346-spectrum sample trains in about a minute on 2 cores (34 epochs).
Training (:meth:`SpectrumCNNClassifier.fit`): Adam, class-weighted cross-entropy (weights ∝ 1 / class size, like the
SVM's ``class_weight='balanced'``), mini-batches drawn by a seeded generator, early stopping on the validation loss
with the best epoch's weights restored.  ``forward`` returns class probabilities (softmax), so every explainer
and trust metric treats the CNN and the SVM (through :mod:`astroxai.explain.bridge`) alike.

Persistence: ``model.pt`` holds only the ``state_dict`` (loaded with ``torch.load(weights_only=True)``, which
refuses anything but tensors), ``model.json`` the architecture, classes, grid, metrics and the file's SHA-256.
"""

from __future__ import annotations

import copy
import logging
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from astroxai.errors import InputError
from astroxai.models.base import Estimator, ProbabilityClassifier, SpectraModel
from astroxai.models.persist import (
    META_FILE,
    TORCH_FILE,
    check_stored_grid,
    checked_file,
    dump_state,
    load_state,
    require,
)
from astroxai.models.reference import TrainingReference
from astroxai.models.split import Split, labelled_split
from astroxai.models.svm import DEFAULT_TRAIN_SEED, check_classes, problem_classes, training_hash
from astroxai.progress import track

log = logging.getLogger(__name__)
DEFAULT_CNN_SEED = DEFAULT_TRAIN_SEED
#: Learning-rate schedules of :func:`train_loop`.
SCHEDULES = ("constant", "one-cycle")


@dataclass
class CNNConfig:
    """Architecture and training settings of astroxai's networks, as the estimators' keywords give them (checked
    here, for both)."""

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
    #: Learning rate over the epochs: "constant", or "one-cycle" (Smith & Topin 2019: up to ``learning_rate`` over
    #: the first 30 % of ``max_epochs``, then down to ~0; torch's OneCycleLR), which converges in a fixed budget
    schedule: str = "constant"

    def architecture(self) -> dict:
        return {"channels": list(self.channels), "kernel_size": self.kernel_size, "hidden": self.hidden,
                "dropout": self.dropout}

    def to_dict(self) -> dict:
        return {**asdict(self), "channels": list(self.channels)}

    def __post_init__(self):
        self.channels = tuple(int(c) for c in self.channels)
        if not self.channels or min(self.channels) < 1:
            raise InputError(f"channels must be positive numbers of filters, not {self.channels}")
        if self.kernel_size < 1 or self.hidden < 1 or self.batch_size < 1 or self.max_epochs < 1 or self.patience < 1:
            raise InputError("kernel_size, hidden, batch_size, max_epochs and patience must be at least 1")
        if not 0 <= self.dropout < 1:
            raise InputError(f"dropout must be in [0, 1), not {self.dropout}")
        if self.learning_rate <= 0 or self.weight_decay < 0:
            raise InputError("learning_rate must be positive and weight_decay not negative")
        if self.schedule not in SCHEDULES:
            raise InputError(f"schedule must be one of {SCHEDULES}, not {self.schedule!r}")


def in_parts(function, x: torch.Tensor, most: int) -> torch.Tensor:
    """``function(x)`` for a batch, computed on near-equal parts of at most ``most`` inputs and concatenated in order
    (a batch of ``most`` or fewer in one call).  The networks use it in evaluation (predictions, explanations, with
    or without gradients): a large batch's feature maps leave the CPU's caches at every layer.  For ``most`` ≥ 2
    no part holds one input alone (a batch of one may take other oneDNN kernels, to other last bits)."""
    if len(x) <= most:
        return function(x)
    return torch.cat([function(part) for part in torch.tensor_split(x, -(-len(x) // most))])


class PairMax(nn.Module):
    """Max-pooling over pairs of neighbouring pixels: ``nn.MaxPool1d(2)`` computed as ``Tensor.max`` over the
    pairs, which gives the same values and, on ties, sends the gradient to the same (first) pixel, so maps and
    trained weights are those of ``MaxPool1d`` (tested against it).  Why not ``MaxPool1d`` itself: on a tensor that
    needs a gradient (training, every saliency map) PyTorch's CPU kernel that also returns the indices costs
    ≈ 6 ms per (64, 16, 1000) batch, half as much again as this; classify + explain with the 1-D CNN
    907 → 1024 spectra/s on one core.  Without a gradient (predictions, LIME, occlusion) PyTorch's own kernel is
    used: there it is 9× faster than this.  An odd last pixel is dropped, as ``MaxPool1d(2)`` does."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (torch.is_grad_enabled() and x.requires_grad):  # no indices needed: PyTorch's kernel is the fastest
            return nn.functional.max_pool1d(x, 2)
        pairs = x.shape[-1] // 2
        return x[..., : 2 * pairs].unflatten(-1, (pairs, 2)).max(dim=-1).values


class SpectrumCNN(nn.Module):
    """1-D CNN: (N, F) normalised fluxes → (N, K) class probabilities (``logits`` gives the scores)."""

    def __init__(self, n_wave: int, n_classes: int, channels=(16, 32, 64), kernel_size: int = 9, hidden: int = 64,
                 dropout: float = 0.3, centre=None, scale: float = 1.0):
        super().__init__()
        if kernel_size % 2 == 0:
            raise InputError("kernel_size must be odd (symmetric 'same' padding)")
        self.register_buffer("centre", torch.as_tensor(np.zeros(n_wave) if centre is None else centre,
                                                       dtype=torch.float32).reshape(n_wave))
        self.register_buffer("scale", torch.tensor(float(scale), dtype=torch.float32))
        layers, width, size = [], 1, n_wave
        for out in channels:
            layers += [nn.Conv1d(width, out, kernel_size, padding=kernel_size // 2), nn.ReLU(), PairMax()]
            width, size = out, size // 2
        if size < 1:
            raise InputError(f"{n_wave} fluxes are too few for {len(channels)} pooling blocks")
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(width * size, hidden), nn.ReLU(),
                                  nn.Dropout(dropout), nn.Linear(hidden, n_classes))

    #: Spectra per pass in evaluation (predictions, LIME, occlusion, deletion curves without gradients; saliency,
    #: SmoothGrad, integrated gradients with them).  A batch's feature maps pass through memory once per layer (the
    #: first block's: 64 kB per spectrum), so a thousand spectra at once left the CPU's caches at every layer: without
    #: gradients 0.92 ms per spectrum against 0.41 in parts of 32; forward + input gradient of 800 spectra 384 → 674
    #: spectra/s, of the survey's batches of 256 the same within the host's noise (one core, 1 000 fluxes; the same
    #: outputs and gradients).  Training (``module.train()`` with gradients) keeps its batches whole: its dropout masks
    #: are drawn per batch.
    EVAL_CHUNK = 32

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        if len(x) > self.EVAL_CHUNK and not (self.training and torch.is_grad_enabled()):
            return in_parts(self.logits, x, self.EVAL_CHUNK)  # parts of 16 to 32 spectra
        x = x.to(self.centre.dtype)  # float64 inputs (explainers) are cast here, so gradients still flow
        z = ((x - self.centre) / self.scale).unsqueeze(1)
        return self.head(self.features(z))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.logits(x), dim=1)


def class_weights(y_index: np.ndarray, k: int) -> torch.Tensor:
    """Cross-entropy weights ∝ 1 / class size (scikit-learn's ``class_weight='balanced'``)."""
    counts = np.bincount(y_index, minlength=k).astype(float)
    return torch.as_tensor(len(y_index) / (k * np.maximum(counts, 1)), dtype=torch.float32)


def train_loop(module: nn.Module, raw, train: tuple, validation: tuple, loss_fn, cfg: CNNConfig, *, score=None,
               progress=None, augment=None) -> list[dict]:
    """The shared training loop of astroxai's networks: Adam with weight decay, seeded mini-batches, early stopping
    on the validation loss with the best epoch's weights restored (in place).

    ``train`` and ``validation`` are ``(inputs, targets)`` pairs of arrays; ``raw(x)`` gives the outputs the loss
    is computed on (logits, or the regressed value); ``score(outputs, y)`` an
    extra validation figure recorded per epoch (e.g. macro F); ``augment(batch, rng)`` transforms each training
    batch (e.g. random flips and quarter turns of images).  Returns the per-epoch history.  The caller seeds
    torch (``torch.manual_seed``) before building the module: initial weights and dropout masks follow from it.
    """
    rng = np.random.default_rng(cfg.seed)
    optimiser = torch.optim.Adam(module.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    Xt, Yt, Xv, Yv = (torch.as_tensor(np.ascontiguousarray(a)) for a in (*train, *validation))
    steps = cfg.max_epochs * -(-len(Xt) // cfg.batch_size)
    scheduler = (torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=cfg.learning_rate, total_steps=steps)
                 if cfg.schedule == "one-cycle" else None)
    best, best_loss, since_best, history = None, np.inf, 0, []
    epochs = range(1, cfg.max_epochs + 1)
    for epoch in track(progress, epochs, "CNN epochs", len(epochs)):
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
            if scheduler is not None:
                scheduler.step()
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
    if best is None:  # never a finite validation loss: non-finite inputs or a diverged fit
        raise InputError(f"training failed: the validation loss was never finite in {len(history)} epochs "
                         "(non-finite inputs, or a learning rate too high)")
    module.load_state_dict(best)
    module.eval()
    return history


class TorchModel(Estimator):
    """What astroxai's networks share: ``module_`` (a trained torch module that returns probabilities or values),
    batched inference without gradients, ``state_dict`` persistence."""

    #: Inputs per forward pass at inference.
    inference_batch: int = 1024
    #: The model's name in its test tables.
    table_name: ClassVar[str] = "network"

    def network_config(self) -> CNNConfig:
        """The network's architecture and training settings, from the constructor's keywords."""
        # an estimator without a setting (the spectrum CNN has no schedule) trains with the config's default
        return CNNConfig(**{f.name: getattr(self, f.name) for f in fields(CNNConfig) if hasattr(self, f.name)})

    def _outputs(self, X) -> np.ndarray:
        X = np.ascontiguousarray(self.check_inputs(X), dtype=np.float32)
        module = self.module_.eval()
        out = []
        with torch.no_grad():
            for start in range(0, len(X), self.inference_batch):
                out.append(module(torch.from_numpy(X[start:start + self.inference_batch])).double().numpy())
        width = (len(self.classes_),) if self.task == "classify" else ()
        return np.concatenate(out) if out else np.empty((0, *width))

    def _save_model_file(self, folder: Path) -> str:
        return dump_state(self.module_, folder / TORCH_FILE, grid=self.grid_)

    def _load_module(self, folder: Path, meta: dict) -> None:
        stored = load_state(self.module_, checked_file(folder, TORCH_FILE, meta))
        check_stored_grid(stored, self.grid_, folder / META_FILE)
        self.module_.eval()


class SpectrumCNNClassifier(SpectraModel, ProbabilityClassifier, TorchModel):
    """The 1-D CNN (:class:`SpectrumCNN`) as a classifier of reduced spectra, trained on the paper's split.

    Parameters
    ----------
    classes : 3, 2 or list of str
        As for :class:`~astroxai.models.SVMClassifier`.
    channels, kernel_size, hidden, dropout :
        The architecture: filters per convolution block, convolution size (odd), dense width, dropout.
    learning_rate, weight_decay, batch_size, max_epochs, patience :
        Adam's settings, mini-batch size, and early stopping (epochs without a better validation loss).
    seed : int
        Seed of the split (the same as the SVM's with the same seed), the initial weights and the batches.
    stratify : bool
        Stratified split (the default) or a plain random one.

    Attributes
    ----------
    module_ : SpectrumCNN
        The trained network (best epoch's weights).
    history_ : list of dict
        Per epoch: train loss, validation loss, validation macro F, seconds.
    classes_, grid_, reduction_, baseline_, split_ :
        see :mod:`astroxai.models.base`.

    Examples
    --------
    >>> from astroxai import SpectrumCNNClassifier, simulate
    >>> data = simulate.spectra_set({"type1": 20, "type2": 20, "intermediate": 20}, seed=2)
    >>> cnn = SpectrumCNNClassifier(max_epochs=3).fit(data)
    >>> len(cnn.history_) <= 3, cnn.predict_proba(data).shape
    (True, (60, 3))
    >>> cnn.set_params(dropout=0.1).get_params()["dropout"]
    0.1
    """

    kind = "torch-cnn"
    table_name = "cnn"
    #: Exact saliency in batches of 64: its activations (64 × 16 channels × 1000 fluxes, float32) stay in cache;
    #: classify + explain ran at 1 063 spectra/s/core against 843 with batches of 256
    #: (benchmarks/bench_cnn_explain.py, batches interleaved, median of 7).
    single_pass_batch = 64
    report_title = "1-D CNN on the same split"
    modality = "spectra"

    def __init__(self, classes=3, *, channels=(16, 32, 64), kernel_size: int = 9, hidden: int = 64,
                 dropout: float = 0.3, learning_rate: float = 1e-3, weight_decay: float = 1e-4, batch_size: int = 64,
                 max_epochs: int = 200, patience: int = 15, seed: int = DEFAULT_TRAIN_SEED, stratify: bool = True):
        problem_classes(classes)
        self.classes = classes
        self.channels = tuple(channels)
        self.kernel_size = kernel_size
        self.hidden = hidden
        self.dropout = dropout
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.seed = int(seed)
        self.stratify = bool(stratify)
        self.network_config()  # checks the numbers

    def fit(self, data, split: Split | None = None, progress=None) -> SpectrumCNNClassifier:
        """Train on the train part with early stopping on the validation part (best epoch's weights restored)."""
        from sklearn.metrics import f1_score

        classes = list(problem_classes(self.classes))
        check_classes(data, classes, 2)
        split = split or labelled_split(data, self.seed, classes, self.stratify)
        train, validation = split.rows(data.ids, "train"), split.rows(data.ids, "validation")
        cfg = self.network_config()
        X, y = data.flux.astype(np.float32), data.labels
        log.info("%d-class CNN: %d train, %d validation (early stopping), %d test spectra", len(classes), train.size,
                 validation.size, split.test.size)
        index = {c: i for i, c in enumerate(classes)}
        yt = np.array([index[c] for c in y[train]], dtype=np.int64)
        yv = np.array([index[c] for c in y[validation]], dtype=np.int64)
        torch.manual_seed(cfg.seed)
        centre = np.median(X[train], axis=0)
        scale = float(np.std(X[train] - centre)) or 1.0
        module = SpectrumCNN(X.shape[1], len(classes), **cfg.architecture(), centre=centre, scale=scale)
        loss_fn = nn.CrossEntropyLoss(weight=class_weights(yt, len(classes)))

        def macro_f(logits, target):
            return f1_score(target.numpy(), logits.argmax(dim=1).numpy(), average="macro",
                            labels=range(len(classes)), zero_division=0)

        start = time.perf_counter()
        history = train_loop(module, module.logits, (X[train], yt), (X[validation], yv), loss_fn, cfg,
                             score=macro_f, progress=progress)
        self.fit_seconds_ = time.perf_counter() - start
        self.history_ = [{"epoch": h["epoch"], "train_loss": h["train_loss"], "val_loss": h["val_loss"],
                          "val_f1": h["val_score"], "seconds": h["seconds"]} for h in history]
        best = min(self.history_, key=lambda h: h["val_loss"])
        log.info("  CNN stopped after %d epochs; best epoch %d (validation loss %.4f, macro F %.4f)",
                 len(self.history_), best["epoch"], best["val_loss"], best["val_f1"])
        self.module_ = module.eval()
        self.classes_ = np.asarray(classes, dtype=object)
        self.split_ = split
        self.grid_ = np.asarray(data.wavelength, dtype=np.float64)
        self.reduction_ = dict(data.attrs.get("reduction", {}))
        fit_rows = np.concatenate([train, validation])
        self.baseline_ = np.median(data.flux[fit_rows].astype(np.float32), axis=0).round(6).astype(np.float64)
        self.training_ = {"n_spectra": int(train.size), "rows": "train", "early_stopping": "validation",
                          "epochs": len(self.history_), "best_epoch": best["epoch"],
                          "sha256": training_hash(data.flux[train], y[train], data.ids[train])}
        self.reference_ = TrainingReference.fit(data.flux[train])
        return self

    def predict_proba(self, data) -> np.ndarray:
        return self._outputs(data)

    def as_module(self, prepared: bool = False) -> nn.Module:
        self.check_fitted()
        return self.module_.eval()

    def _state(self) -> dict:
        cfg = self.network_config()
        return {"model": "cnn", "architecture": cfg.architecture(), "network": cfg.to_dict(),
                "n_parameters": int(sum(p.numel() for p in self.module_.parameters())),
                "wavelength": self.grid_.tolist(), "reduction": self.reduction_,
                "median_spectrum": self.baseline_.tolist(), "history": self.history_, "training": self.training_}

    @classmethod
    def _from_folder(cls, folder: Path, meta: dict, trusted) -> SpectrumCNNClassifier:
        require(meta, folder, classes=list, wavelength=list, architecture=dict)
        params = dict(meta.get("params") or {})
        # the network's settings: flat keywords, a ``config`` of an earlier constructor, or the ``config.cnn`` of a
        # folder from before the estimator API
        network = params.pop("config", None) or (meta.get("config") or {}).get("cnn") or {}
        settings = {f.name for f in fields(CNNConfig)} - {"seed"}
        params.update({k: v for k, v in network.items() if k in settings and k not in params})
        train = (meta.get("config") or {}).get("train") or {}
        params.setdefault("classes", train.get("classes", len(meta["classes"])))
        params.setdefault("seed", train.get("seed", DEFAULT_TRAIN_SEED))
        params.setdefault("stratify", train.get("stratify", True))
        known = cls._parameters()
        model = cls(**{k: v for k, v in params.items() if k in known})
        arch = meta["architecture"]
        model.classes_ = np.asarray([str(c) for c in meta["classes"]], dtype=object)
        model.grid_ = np.asarray(meta["wavelength"], dtype=np.float64)
        model.module_ = SpectrumCNN(model.grid_.size, len(model.classes_), channels=tuple(arch["channels"]),
                                    kernel_size=int(arch["kernel_size"]), hidden=int(arch["hidden"]),
                                    dropout=float(arch["dropout"]))
        model._load_module(folder, meta)
        model.reduction_ = dict(meta.get("reduction") or {})
        model.baseline_ = np.asarray(meta.get("median_spectrum") or np.zeros(model.grid_.size), dtype=np.float64)
        model.history_ = list(meta.get("history") or [])
        model.training_ = dict(meta.get("training") or {})
        check_network_folder(model, folder)
        return model


def check_network_folder(model, folder: Path) -> None:
    """Refuse a network folder with non-finite weights, grid or baseline, or (spectra) a grid that is not strictly
    increasing or whose baseline is not ≈ 1 at the normalisation wavelength (see ``svm.check_svm_folder``)."""
    import torch

    from astroxai.models.persist import ModelLoadError

    for name, tensor in model.module_.state_dict().items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise ModelLoadError(f"{folder}: non-finite weights in {name}")
    model.check_loaded(folder / META_FILE)
