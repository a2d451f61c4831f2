"""Classify + exactly explain spectra with the 1-D CNN on one core: one forward pass against two.

Usage:  python benchmarks/bench_cnn_explain.py [--spectra 2048] [--repeats 5]

A network decides for its most probable class, so ``Explainer(cnn, "saliency").explain(data)`` takes the decision
and the map from one forward pass per batch (:func:`astroxai.explain.saliency.most_probable_saliency`).  The two-pass
path it replaced (``predict_proba``, then the attribution at the decided classes) is what ``explain`` still does
when the classes are given, so both are timed here in one run, on the same spectra: the default network (channels
16/32/64, kernel 9) trained for three epochs on a simulated sample, torch on one thread.  Printed: spectra per
second of each path (median of ``--repeats``), their ratio, the maps' largest relative difference, and the rate
against the forward + input-gradient limit of this kind of CPU for this network (≈ 1 300 spectra/s/core on an AVX2
EPYC, docs/survey.md).  Say what else was running when quoting the figures.
"""

from __future__ import annotations

import argparse
import os

import numpy as np

FLOP_LIMIT = 1300.0  # spectra/s/core: forward + input gradient at the measured forward rate (docs/survey.md)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spectra", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    import torch

    from astroxai import Explainer, SpectrumCNNClassifier, simulate
    from astroxai.data import SpectraSet
    from bench_survey import median_rate  # this script's folder is on the path when run as a script

    torch.set_num_threads(1)
    train = simulate.spectra_set({"type1": 200, "type2": 200, "intermediate": 200}, seed=1)
    cnn = SpectrumCNNClassifier(max_epochs=3, seed=1).fit(train)
    pick = np.arange(args.spectra) % len(train)
    data = SpectraSet(train.flux[pick], train.wavelength, train.labels[pick], [f"s{i}" for i in range(len(pick))])
    explainer = Explainer(cnn, "saliency")
    one = explainer.explain(data)
    index = [list(one.classes).index(c) for c in one.predicted]
    two = explainer.explain(data, target=index)
    difference = np.abs(one.maps - two.maps).max() / np.abs(two.maps).max()

    one_pass = median_rate(len(data), lambda: explainer.explain(data), args.repeats)
    two_pass = median_rate(len(data), lambda: explainer.explain(data, target=index), args.repeats)
    load = os.getloadavg()[0]
    print(f"1-D CNN, classify + exact saliency, {len(data)} spectra, one core (torch 1 thread), load {load:.2f}")
    print(f"  two passes (predict_proba, then the map)  {two_pass:8.0f} spectra/s")
    print(f"  one pass (decision and map together)      {one_pass:8.0f} spectra/s   × {one_pass / two_pass:.2f}")
    print(f"  largest difference of the maps            {difference:.1e} of the largest |map|")
    print(f"  one pass / forward + gradient limit (~{FLOP_LIMIT:.0f}/s)   {one_pass / FLOP_LIMIT:.2f}")


if __name__ == "__main__":
    main()
