"""Networks tried on the real FIRST galaxies outside astroxai's ImageCNN (issue 15): the numbers of docs/images.md's
table "other networks".

Usage:  python docs/first_variants.py VARIANT [--epochs 60] [--threads 2] [--seed 0]

VARIANT is one of the names in ``VARIANTS`` (``python docs/first_variants.py --list``).  Each is a batch-normalised
CNN ending in a global average pool, trained with AdamW under a one-cycle learning-rate schedule, label smoothing
0.05, and every batch turned by a random element of D4 and shifted by up to 4 px — the usual recipe of the
literature's radio-galaxy classifiers, written here as a plain PyTorch loop because it is an experiment, not
astroxai's model (whose ImageCNN has no batch normalisation: its explainers and trust tests were built on it).
Prints the validation and test accuracy (single view and averaged over the 8 turns and flips), the accuracy on the
training images themselves (unturned: how well the network can fit what it learnt from), the training time, and
the test recall per class and per literature catalogue behind the label.

The data are read with ``astroxai.io.first.first_galaxies`` at the crop and binning each variant names; each
channel is divided by its image's peak and asinh-stretched (softening 0.05 unless the variant says otherwise).
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

#: name → (channels as (crop, binning, softening), architecture, class-balanced loss)
VARIANTS = {
    "binned": (((128, 2, 0.05),), "pooled", False),              # 64 × 64 at 3.6″, as astroxai's run
    "two-scale": (((128, 2, 0.05), (256, 4, 0.05)), "pooled", False),  # + a 7.7′ field at 7.2″
    "linear-stretch": (((128, 2, 1.0),), "pooled", False),
    "three-channel": (((128, 2, 0.05), (128, 2, 1.0), (256, 4, 0.05)), "pooled", False),
    "two-scale-balanced": (((128, 2, 0.05), (256, 4, 0.05)), "pooled", True),
    "full-resolution": (((128, 1, 0.05),), "strided", False),   # 128 × 128 at 1.8″, stride-2 first layer
    "full-resolution-balanced": (((128, 1, 0.05),), "strided", True),
}


def _block(n_in: int, n_out: int) -> list[nn.Module]:
    return [nn.Conv2d(n_in, n_out, 3, padding=1, bias=False), nn.BatchNorm2d(n_out), nn.ReLU()]


def network(kind: str, n_channels: int, width: int = 16, n_classes: int = 4) -> nn.Module:
    w = width
    if kind == "pooled":
        stem = [*_block(n_channels, w), *_block(w, w)]
    else:  # "strided": a 5 × 5 stride-2 first layer halves a full-resolution cutout at once
        stem = [nn.Conv2d(n_channels, w, 5, stride=2, padding=2, bias=False), nn.BatchNorm2d(w), nn.ReLU(),
                *_block(w, w)]
    return nn.Sequential(*stem, nn.MaxPool2d(2), *_block(w, 2 * w), nn.MaxPool2d(2), *_block(2 * w, 4 * w),
                         nn.MaxPool2d(2), *_block(4 * w, 4 * w), nn.MaxPool2d(2), *_block(4 * w, 4 * w),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(4 * w, n_classes))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variant", nargs="?", choices=sorted(VARIANTS))
    parser.add_argument("--list", action="store_true", help="print the variants and stop")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.list or args.variant is None:
        for name, (channels, kind, balanced) in VARIANTS.items():
            print(f"{name:26s} channels (crop, binning, softening) {channels}, {kind}, balanced loss {balanced}")
        return

    from astroxai.io.first import first_galaxies

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    channels, kind, balanced = VARIANTS[args.variant]
    stacked, data = [], None
    for crop, binning, softening in channels:
        data, _ = first_galaxies(crop=crop, binning=binning)
        x = data.images.astype(np.float32)
        peak = x.reshape(len(x), -1).max(axis=1)[:, None, None, None].clip(1e-6)
        stacked.append(np.arcsinh(x / peak / softening) / np.arcsinh(1 / softening))
    X = torch.tensor(np.concatenate(stacked, axis=1), dtype=torch.float32)
    classes = sorted(set(data.labels))
    y = np.searchsorted(classes, data.labels)
    part = np.asarray(data.meta["split"])
    catalogue = np.asarray(data.meta["catalogue"])
    train, validation, test = (np.flatnonzero(part == p) for p in ("train", "validation", "test"))
    yt = torch.tensor(y)
    net = network(kind, X.shape[1]).to(memory_format=torch.channels_last)
    optimiser = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=5e-4)
    batch = 64
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=3e-3, pct_start=0.2,
                                                   total_steps=args.epochs * int(np.ceil(train.size / batch)))
    prior = np.bincount(y[train], minlength=len(classes)) / train.size
    weight = torch.tensor(1 / (len(classes) * prior), dtype=torch.float32) if balanced else None

    def turned(x: torch.Tensor) -> torch.Tensor:
        x = torch.rot90(x, int(rng.integers(4)), (2, 3))
        if rng.random() < 0.5:
            x = torch.flip(x, (3,))
        dx, dy = rng.integers(-4, 5, 2)
        return torch.roll(x, (int(dx), int(dy)), (2, 3))

    def probabilities(rows: np.ndarray, all_views: bool) -> np.ndarray:
        net.eval()
        views = [(k, f) for k in range(4) for f in (0, 1)] if all_views else [(0, 0)]
        total = 0
        with torch.no_grad():
            for k, f in views:
                v = torch.rot90(X[rows], k, (2, 3))
                v = torch.flip(v, (3,)) if f else v
                total = total + torch.softmax(net(v.contiguous(memory_format=torch.channels_last)), 1)
        return total.numpy() / len(views)

    start = time.time()
    for epoch in range(args.epochs):
        net.train()
        order = rng.permutation(train)
        for s in range(0, order.size, batch):
            rows = order[s:s + batch]
            loss = F.cross_entropy(net(turned(X[rows]).contiguous(memory_format=torch.channels_last)), yt[rows],
                                   weight=weight, label_smoothing=0.05)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
        if (epoch + 1) % 10 == 0:
            accuracy = np.mean(probabilities(validation, False).argmax(1) == y[validation])
            print(f"epoch {epoch + 1}: validation accuracy {accuracy:.3f} ({time.time() - start:.0f} s)", flush=True)
    seconds = time.time() - start
    result = {"variant": args.variant, "epochs": args.epochs, "seed": args.seed, "training_s": round(seconds)}
    for name, rows in (("validation", validation), ("test", test)):
        for views in (False, True):
            key = f"{name}{'_8_views' if views else ''}"
            result[key] = round(float(np.mean(probabilities(rows, views).argmax(1) == y[rows])), 3)
    result["train_unturned"] = round(float(np.mean(probabilities(train, False).argmax(1) == y[train])), 3)
    print(json.dumps(result))
    predicted = np.asarray(classes)[probabilities(test, False).argmax(1)]
    truth, source = data.labels[test], catalogue[test]
    for (label, cat), n in sorted(Counter(zip(truth, source, strict=True)).items()):
        here = (truth == label) & (source == cat)
        wrong = Counter(str(c) for c in predicted[here][predicted[here] != label])
        print(f"test {label:8s} {cat:14s} n = {n:3d}  recall {np.mean(predicted[here] == label):.2f}  "
              f"wrong as {dict(wrong) or '-'}")


if __name__ == "__main__":
    main()
