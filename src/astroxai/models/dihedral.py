"""The symmetry group of the square pixel grid, D4 (four quarter turns, each with or without a flip), and
convolutions that respect it, in plain torch.

A radio galaxy's or a barred disc's class does not change when the sky is turned by 90° or mirrored, and on a
square pixel grid those eight transforms are exact (they permute pixels; no interpolation).  Three uses:

* :func:`random_view` turns a training batch by a random element (augmentation);
* :func:`average_views` averages a network's outputs over all eight views of its inputs (test-time averaging);
* :class:`LiftingConv2d` and :class:`GroupConv2d` are group convolutions (Cohen & Welling 2016, ICML; used on radio
  galaxies by Scaife & Porter 2021, MNRAS 503, 2369): each filter is applied in all eight orientations and the
  feature maps carry a group axis, so that turning the input turns the maps and permutes that axis, and a network
  that pools over the group axis and over space (:class:`EquivariantCNN`) gives exactly the same output for all
  eight views.

Written by hand because the libraries that provide steerable convolutions (``escnn``, ``e2cnn``) do not import with
numpy ≥ 2, and for D4 on the pixel grid the group convolution needs nothing but turned copies of the filters.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

#: The group's elements as (flip, quarter turns): the transform flips the last axis first (if ``flip``), then turns
#: by ``turns`` × 90° in the plane of the last two axes.
ELEMENTS = tuple((flip, turns) for flip in (0, 1) for turns in range(4))
ORDER = len(ELEMENTS)


def transform(x: torch.Tensor, element: int) -> torch.Tensor:
    """``x`` (…, H, W) transformed by group element number ``element`` (an index of :data:`ELEMENTS`)."""
    flip, turns = ELEMENTS[element]
    if flip:
        x = torch.flip(x, dims=(-1,))
    return torch.rot90(x, turns, dims=(-2, -1)) if turns else x


def _tables() -> tuple[np.ndarray, np.ndarray]:
    """The group's multiplication table (``compose[g, h]``: the element of "h, then g") and inverses, read off the
    transforms' action on a 3 × 3 array with nine different values (on which every element acts differently)."""
    probe = torch.arange(9.0).reshape(3, 3)
    images = [transform(probe, k) for k in range(ORDER)]

    def which(image: torch.Tensor) -> int:
        return next(k for k, other in enumerate(images) if torch.equal(image, other))

    compose = np.array([[which(transform(transform(probe, h), g)) for h in range(ORDER)] for g in range(ORDER)])
    inverse = np.array([int(np.flatnonzero(compose[g] == 0)[0]) for g in range(ORDER)])
    return compose, inverse


COMPOSE, INVERSE = _tables()


def random_view(batch: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """A batch of (N, C, H, W) square images, all turned by one element of D4 drawn from ``rng`` (0–3 quarter turns,
    then a flip with probability ½: the draws of astroxai's earlier augmentation, so that trained models repeat)."""
    out = torch.rot90(batch, int(rng.integers(4)), dims=(2, 3))
    return torch.flip(out, dims=(3,)) if rng.random() < 0.5 else out


def average_views(function, x: torch.Tensor) -> torch.Tensor:
    """The mean of ``function`` over the eight views of a batch of square images (test-time averaging)."""
    return sum(function(transform(x, k)) for k in range(ORDER)) / ORDER


def _init(weight: torch.Tensor, fan_in: int) -> None:
    # He initialisation for ReLU networks, with the fan-in of the expanded (group-axis) convolution
    nn.init.normal_(weight, 0.0, math.sqrt(2.0 / fan_in))


class LiftingConv2d(nn.Module):
    """(N, C, H, W) images → (N, O, 8, H, W) feature maps: every filter applied in all eight orientations ('same'
    zero padding, odd kernels, so that the transforms commute with the convolution exactly)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int):
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError("group convolutions need an odd kernel_size")
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        _init(self.weight, in_channels * kernel_size ** 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        o, _, k, _ = self.weight.shape
        filters = torch.stack([transform(self.weight, g) for g in range(ORDER)], dim=1)  # (O, 8, C, k, k)
        out = F.conv2d(x, filters.reshape(o * ORDER, -1, k, k), self.bias.repeat_interleave(ORDER), padding=k // 2)
        return out.reshape(len(x), o, ORDER, *out.shape[-2:])


class GroupConv2d(nn.Module):
    """(N, I, 8, H, W) → (N, O, 8, H, W): the group convolution of D4.  The filter that makes output orientation
    ``h`` from input orientation ``g`` is the base filter of orientation h⁻¹g, turned by ``h``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int):
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError("group convolutions need an odd kernel_size")
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, ORDER, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        _init(self.weight, in_channels * ORDER * kernel_size ** 2)
        # rows[h]: for each input orientation g, the base orientation h⁻¹g (a constant index, not a buffer: the
        # module's buffers and parameters are all floating point, as the explainers expect)
        self.rows = [torch.as_tensor(row, dtype=torch.long) for row in COMPOSE[INVERSE]]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        o, i, _, k, _ = self.weight.shape
        filters = torch.stack([transform(self.weight[:, :, self.rows[h]], h) for h in range(ORDER)], dim=1)
        out = F.conv2d(x.flatten(1, 2), filters.reshape(o * ORDER, i * ORDER, k, k),
                       self.bias.repeat_interleave(ORDER), padding=k // 2)
        return out.reshape(len(x), o, ORDER, *out.shape[-2:])


class SpatialMaxPool(nn.Module):
    """2 × 2 max pooling of (N, C, 8, H, W) maps over space only (it commutes with the turns and flips when H and W
    are even)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, g, h, w = x.shape
        return F.max_pool2d(x.reshape(n, c * g, h, w), 2).reshape(n, c, g, h // 2, w // 2)


class EquivariantFeatures(nn.Module):
    """Lifting convolution then group convolutions, each followed by ReLU and 2 × 2 pooling; the maps are then pooled
    over the group axis (max) and over space (mean) into one invariant vector of ``channels[-1]`` numbers."""

    def __init__(self, in_channels: int, channels, kernel_size: int):
        super().__init__()
        layers, width = [], in_channels
        for n, out in enumerate(channels):
            conv = LiftingConv2d if n == 0 else GroupConv2d
            layers += [conv(width, out, kernel_size), nn.ReLU(), SpatialMaxPool()]
            width = out
        self.blocks = nn.Sequential(*layers)
        self.width = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(x).amax(dim=2).mean(dim=(-2, -1))


__all__ = ["COMPOSE", "ELEMENTS", "INVERSE", "ORDER", "EquivariantFeatures", "GroupConv2d", "LiftingConv2d",
           "SpatialMaxPool", "average_views", "random_view", "transform"]
