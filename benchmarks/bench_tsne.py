"""openTSNE against scikit-learn's TSNE on the default sample: wall time and final KL divergence.

Usage:  python benchmarks/bench_tsne.py [DATASET] [--perplexity 50] [--repeat 3]

Both on the raw fluxes of every spectrum (3346 × 1000 for the default run), same perplexity, all cores,
PCA initialisation, seeded; medians of ``--repeat`` runs (KL of the last).  scikit-learn uses Barnes–Hut,
openTSNE FFT-accelerated interpolation.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", nargs="?", type=Path, default=Path("runs/default/dataset.h5"))
    parser.add_argument("--perplexity", type=float, default=50.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from openTSNE import TSNE as OpenTSNE
    from sklearn.manifold import TSNE as SkTSNE

    from astroxai.data import SpectraSet
    from astroxai.parallel import default_workers

    if not args.dataset.is_file():
        sys.exit(f"{args.dataset} not found: run `astroxai run --out runs/default` first")
    X = SpectraSet.load(args.dataset).flux.astype(np.float64)
    jobs = default_workers()
    print(f"{X.shape[0]} spectra × {X.shape[1]} fluxes, perplexity {args.perplexity:g}, {jobs} jobs")
    results = {}
    for name, fit in (
        ("openTSNE", lambda seed: OpenTSNE(perplexity=args.perplexity, n_jobs=jobs, random_state=seed).fit(X)),
        ("scikit-learn", lambda seed: SkTSNE(perplexity=args.perplexity, n_jobs=jobs, random_state=seed,
                                             init="pca").fit(X)),
    ):
        times = []
        for seed in range(args.repeat):
            start = time.perf_counter()
            model = fit(seed)
            times.append(time.perf_counter() - start)
        kl = model.kl_divergence if name == "openTSNE" else model.kl_divergence_
        results[name] = (statistics.median(times), float(kl))
        print(f"{name:13s} median {results[name][0]:6.1f} s   final KL {results[name][1]:.3f}   "
              f"(times {', '.join(f'{t:.1f}' for t in times)})")
    ratio = results["scikit-learn"][0] / results["openTSNE"][0]
    gap = results["scikit-learn"][1] - results["openTSNE"][1]
    print(f"scikit-learn / openTSNE time: {ratio:.2f}×; KL difference (scikit-learn − openTSNE) {gap:+.3f}")


if __name__ == "__main__":
    main()
