"""The image CNN's forward pass without gradients in torch's default layout and in channels-last
(``ImageCNN._convolved``): time per image of LIME, occlusion and prediction, and how far the results differ.

Usage:  python benchmarks/bench_image_layout.py RUN_DIR [--n-images 4] [--repeats 3] [--threads 1]

RUN_DIR is a folder written by ``astroxai run --kind radio`` (``--data first`` gives the study's classifier with
its eight-view averaging, the case that matters most).  Both layouts run on the same images in alternation, in one
process, ``--repeats`` times; the medians and their ratio are printed, then the largest difference between the two
layouts' maps and probabilities next to the largest value (float32 round-off is expected, nothing more).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--n-images", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    import torch

    from astroxai.data import ImageSet
    from astroxai.explain.methods import attribute
    from astroxai.models import load_model
    from astroxai.models.image_cnn import ImageCNN
    from astroxai.report.layout import RunLayout

    torch.set_num_threads(args.threads)
    layout = RunLayout(args.run)
    folder = next(p for p in sorted((args.run / "models").iterdir()) if p.name.endswith("classifier"))
    model = load_model(folder)
    data = ImageSet.load(layout.dataset)
    prepared = model.prepare(data.images[:args.n_images])
    module = model.as_module(prepared=True)
    layouts = {"default": lambda self, z: self.features(z), "channels-last": ImageCNN._convolved}
    times = {(task, name): [] for task in ("lime", "occlusion", "predict") for name in layouts}
    results = {}
    try:
        for _ in range(args.repeats):
            for name, convolved in layouts.items():
                ImageCNN._convolved = convolved
                for method in ("lime", "occlusion"):
                    start = time.perf_counter()
                    results[method, name] = attribute(module, prepared, 0, method,
                                                      baseline=np.zeros_like(prepared)).maps
                    times[method, name].append((time.perf_counter() - start) / len(prepared))
                start = time.perf_counter()
                results["predict", name] = model.predict_proba(data.images)
                times["predict", name].append((time.perf_counter() - start) / len(data))
    finally:
        ImageCNN._convolved = layouts["channels-last"]
    print(f"{folder} on {args.threads} thread(s), medians of {args.repeats}:")
    for task in ("lime", "occlusion", "predict"):
        old, new = (float(np.median(times[task, name])) for name in layouts)
        difference = float(np.abs(results[task, "default"] - results[task, "channels-last"]).max())
        print(f"  {task:10s} {1e3 * old:9.1f} ms → {1e3 * new:9.1f} ms per image  ({old / new:.2f}×)   "
              f"max |difference| {difference:.1e} of values up to {float(np.abs(results[task, 'default']).max()):.1e}")


if __name__ == "__main__":
    main()
