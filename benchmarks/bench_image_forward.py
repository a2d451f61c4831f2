"""The image CNN's forward pass without gradients (predictions, LIME, KernelSHAP, occlusion, deletion curves) on one
core: milliseconds per 64 × 64 view for four ways of running the same network; then its forward pass + input
gradient in evaluation (saliency, SmoothGrad, integrated gradients), whole batch against parts.

Usage:  python benchmarks/bench_image_forward.py [--batches 100 2688] [--gradient-batches 400 1600] [--repeats 9]

The default batches are LIME's calls (100 perturbed images per view) and a deletion curve's (64 images × 21 steps ×
deletion and insertion); with gradients, SmoothGrad's call of 16 and 64 images × 25 noisy copies.

- ``default layout``: the convolution blocks as the module lists them (``features``), torch's default layout; what
  training and the gradient explainers run.
- ``channels-last, first pool in default``: the no-gradient path before December 2026 — channels-last, but a
  one-channel image is channels-last and default at once, so the first convolution came back in the default layout
  and the first max-pool ran on its slow kernel.
- ``channels-last, whole batch``: the no-gradient path of early December 2026 — every block in channels-last,
  pooling before its ReLU, the whole batch at once.
- ``astroxai (fast path)``: :meth:`astroxai.models.image_cnn.ImageCNN._convolved` without gradients — the same in
  parts of at most ``ImageCNN.EVAL_CHUNK`` images (a large batch's feature maps no longer fit the caches).

With gradients (the module in evaluation, the gradient of one class's probability summed over the batch with respect
to the images, as captum's ``Saliency`` takes it): ``whole batch`` (before 7 December 2026) against ``astroxai (in
parts)``, both in the default layout; their gradients are checked equal to 1e-5 of the largest first.

The network is the studies' (16/32/64 channels, 3 × 3 kernels, the FIRST study's 1 × 64 × 64 cutouts), randomly
initialised and seeded (the time does not depend on the weights).  The four are timed in turn, ``--repeats`` times
(medians printed, with each one's ratio to the default layout); their outputs are checked equal first (the three
channels-last paths to 1e-6, bit for bit where measured; the default layout to float32 round-off).  Say what else
was running when quoting.
"""

from __future__ import annotations

import argparse
import statistics
import time


def report(paths: dict, images, repeats: int, reference: str) -> None:
    """Time every path on ``images``, the paths alternated ``repeats`` times; print each one's median milliseconds
    per view and its ratio to ``reference``'s."""
    times = {name: [] for name in paths}
    for _ in range(repeats):
        for name, path in paths.items():
            start = time.perf_counter()
            path(images)
            times[name].append((time.perf_counter() - start) / len(images) * 1e3)
    base = statistics.median(times[reference])
    for name, values in times.items():
        median = statistics.median(values)
        print(f"  {name:38s} {median:6.3f} ms per view   ×{median / base:.2f} of the {reference}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[100, 2688])
    parser.add_argument("--gradient-batches", type=int, nargs="+", default=[400, 1600])
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()

    import torch
    from torch import nn

    from astroxai.models.image_cnn import ImageCNN

    torch.set_num_threads(1)
    torch.manual_seed(0)
    network = ImageCNN((1, 64, 64), 4).eval()

    def earlier(z):
        z = z.contiguous(memory_format=torch.channels_last)
        for layer in network.features:
            if isinstance(layer, nn.Conv2d):
                weight = layer.weight.contiguous(memory_format=torch.channels_last)
                z = nn.functional.conv2d(z, weight, layer.bias, layer.stride, layer.padding)
            else:
                z = layer(z)
        return z

    def whole_batch(z, function=network._convolved):
        chunk, network.EVAL_CHUNK = network.EVAL_CHUNK, len(z)
        try:
            return function(z)
        finally:
            network.EVAL_CHUNK = chunk

    paths = {"default layout": network.features, "channels-last, first pool in default": earlier,
             "channels-last, whole batch": whole_batch, "astroxai (fast path)": network._convolved}
    print(f"ImageCNN 16/32/64 channels on 1 × 64 × 64 images, torch {torch.__version__}, one thread")
    for batch in args.batches:
        images = torch.rand(batch, 1, 64, 64)
        with torch.inference_mode():
            outputs = {name: network.head(path(images)) for name, path in paths.items()}
            for name in ("channels-last, first pool in default", "channels-last, whole batch"):
                torch.testing.assert_close(outputs[name], outputs["astroxai (fast path)"], rtol=0, atol=1e-6)
            torch.testing.assert_close(outputs["default layout"], outputs["astroxai (fast path)"], rtol=0, atol=1e-5)
            print(f"batch of {batch}:")
            report({name: (lambda z, path=path: network.head(path(z))) for name, path in paths.items()}, images,
                   args.repeats, "default layout")

    def gradient(z):
        z = z.clone().requires_grad_(True)
        return torch.autograd.grad(network.from_prepared(z)[:, 1].sum(), z)[0]

    gradient_paths = {"whole batch": lambda z: whole_batch(z, gradient), "astroxai (in parts)": gradient}
    print("forward pass + input gradient, in evaluation:")
    for batch in args.gradient_batches:
        images = torch.rand(batch, 1, 64, 64)
        maps = {name: path(images) for name, path in gradient_paths.items()}
        scale = float(maps["whole batch"].abs().max())
        torch.testing.assert_close(maps["astroxai (in parts)"], maps["whole batch"], rtol=0, atol=1e-5 * scale)
        exact = torch.equal(maps["astroxai (in parts)"], maps["whole batch"])
        print(f"batch of {batch} (gradients {'bit for bit equal' if exact else 'equal to 1e-5'}):")
        report(gradient_paths, images, args.repeats, "whole batch")


if __name__ == "__main__":
    main()
