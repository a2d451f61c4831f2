"""Saliency three ways on the same test spectra: the paper's per-pixel loop, vectorised finite differences,
exact gradients (SVC → torch replica, captum), for the linear and the RBF SVM.

Usage:  python benchmarks/bench_saliency.py [MODEL_DIR] [DATASET] [--spectra 16] [--repeat 3] [--agreement 60]

MODEL_DIR is a 3-class model folder of `astroxai run` (default runs/default/models/svm-3class): its
kernels.csv gives the linear and RBF hyper-parameters, its split.json the test spectra.  Both SVMs are refit
with probabilities on train + validation.  Printed, medians of ``--repeat`` timings on this machine:
- milliseconds per spectrum of each method on the same ``--spectra`` seeded test spectra, and the ratios
  (targets: exact ≥ 1000× the loop and ≥ 20× vectorised differences);
- exact gradients on the whole test set in batches of 256 (the survey use);
- agreement: cosine similarity (min and median over spectra with a non-zero map) of the exact map with the
  paper's forward differences and with central differences of scikit-learn's predict_proba, on the timed
  spectra and on the first ``--agreement`` test spectra.  For every spectrum below 0.99 it also prints the
  cosine at smaller steps (ε = 1e-3, 1e-4) and that of the smooth exact-coupling replica with its own central
  differences: libsvm's coupling stops its iterations at a tolerance, so scikit-learn's predict_proba jumps
  where the number of iterations changes, and a difference quotient that straddles a jump grows as ε shrinks.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np


def timed(fn, repeat):
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", nargs="?", type=Path, default=Path("runs/default/models/svm-3class"))
    parser.add_argument("dataset", nargs="?", type=Path, default=Path("runs/default/dataset.h5"))
    parser.add_argument("--spectra", type=int, default=16, help="test spectra timed with every method")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--agreement", type=int, default=60, help="test spectra in the cosine check")
    args = parser.parse_args()

    import torch

    from astroxai.data import SpectraSet
    from astroxai.explain.saliency import (
        cosine_similarity,
        finite_difference_saliency,
        gradient_saliency,
        paper_loop_saliency,
        resolve_targets,
    )
    from astroxai.models import load_model
    from astroxai.models.bridge import SVCProbability
    from astroxai.models.svm import fit_quietly, make_svm
    from astroxai.report.tables import read_table

    if not (args.model_dir / "split.json").is_file() or not args.dataset.is_file():
        sys.exit("model folder or data set not found: run `astroxai run --out runs/default` first")
    data = SpectraSet.load(args.dataset)
    saved = load_model(args.model_dir)
    fit_rows = saved.split_.contains(data.ids, "train") | saved.split_.contains(data.ids, "validation")
    test_rows = np.flatnonzero(saved.split_.contains(data.ids, "test"))
    X_fit, y_fit = data.flux[fit_rows].astype(np.float64), data.labels[fit_rows]
    X_test = data.flux[test_rows].astype(np.float64)
    chosen = np.sort(np.random.default_rng(0).choice(len(X_test), args.spectra, replace=False))
    X = X_test[chosen]
    params = {row["kernel"]: row for row in read_table(args.model_dir / "kernels")}
    standardise = saved.standardise
    print(f"{X_fit.shape[0]} training spectra × {X.shape[1]} fluxes; {len(X)} timed test spectra (seed 0), "
          f"{len(X_test)} test spectra; torch threads {torch.get_num_threads()}")
    rows = []
    for kernel in ("linear", "rbf"):
        p = params[kernel]
        gamma = float(p["gamma"]) if p.get("gamma") not in (None, "") else None
        model = make_svm(kernel, float(p["C"]), gamma, n_features=X.shape[1], probability=True, seed=0,
                         standardise=standardise)
        fit_quietly(model, X_fit, y_fit)
        target = resolve_targets(None, model.classes_, model.predict(X))
        module = SVCProbability.from_pipeline(model)
        gradient_saliency(module, X[:1], target[:1])  # warm-up (thread pools, captum import)
        proba = model.predict_proba
        t_loop, loop = timed(lambda proba=proba, target=target: np.array(
            [paper_loop_saliency(proba, x, t) for x, t in zip(X, target, strict=True)]), 1)
        t_vec, vec = timed(lambda proba=proba, target=target: finite_difference_saliency(proba, X, target),
                           args.repeat)
        t_exact, exact = timed(lambda module=module, target=target: gradient_saliency(module, X, target),
                               args.repeat)
        central = finite_difference_saliency(model.predict_proba, X, target, scheme="central")
        all_target = resolve_targets(None, model.classes_, model.predict(X_test))
        t_all, all_maps = timed(lambda module=module, all_target=all_target: gradient_saliency(
            module, X_test, all_target, batch_size=256), args.repeat)
        m = min(args.agreement, len(X_test))
        central_all = finite_difference_saliency(proba, X_test[:m], all_target[:m], scheme="central")
        nonzero = np.any(exact != 0, axis=1)
        cos_fwd = cosine_similarity(exact[nonzero], vec[nonzero])
        cos_ctr = cosine_similarity(exact[nonzero], central[nonzero])
        nz60 = np.any(all_maps[:m] != 0, axis=1)
        cos_all = cosine_similarity(all_maps[:m], central_all)
        cos_60 = cos_all[nz60]
        n = len(X)
        rows.append((kernel, 1e3 * t_loop / n, 1e3 * t_vec / n, 1e3 * t_exact / n, 1e3 * t_all / len(X_test),
                     t_loop / t_exact, t_vec / t_exact, t_loop / t_all * len(X_test) / n,
                     t_vec / t_all * len(X_test) / n))
        print(f"\n{kernel} (C = {float(p['C']):.4g}{'' if gamma is None else f', γ = {gamma:.3g}'}, "
              f"{module.vectors.shape[0] if hasattr(module, 'vectors') else 'folded'} support vectors)")
        print(f"  paper loop (1 predict_proba per pixel): {1e3 * t_loop / n:10.1f} ms/spectrum")
        print(f"  vectorised forward differences:         {1e3 * t_vec / n:10.1f} ms/spectrum")
        print(f"  exact gradients, same {n} spectra:        {1e3 * t_exact / n:10.3f} ms/spectrum")
        print(f"  exact gradients, {len(X_test)} test spectra, batch 256: "
              f"{1e3 * t_all / len(X_test):.3f} ms/spectrum")
        print(f"  ratios (same spectra): loop/exact {t_loop / t_exact:.0f}×, vectorised/exact {t_vec / t_exact:.0f}×")
        print(f"  ratios (exact batched): loop/exact {rows[-1][7]:.0f}×, vectorised/exact {rows[-1][8]:.0f}×")
        print(f"  loop vs vectorised: largest difference {np.abs(loop - vec).max():.2e}")
        print(f"  cosine exact vs forward differences: min {np.nanmin(cos_fwd):.4f}, "
              f"median {np.nanmedian(cos_fwd):.4f}")
        print(f"  cosine exact vs central differences: min {np.nanmin(cos_ctr):.4f}; on {m} test spectra min "
              f"{np.nanmin(cos_60):.4f}, ≥ 0.99 for {(cos_60 >= 0.99).sum()} of {nz60.sum()} non-zero maps "
              f"({(~nz60).sum()} zero maps, zero both ways: {bool(np.all(central_all[~nz60] == 0))})")
        smooth = SVCProbability.from_pipeline(model, coupling="exact")
        cos_timed = np.full(n, np.nan)
        cos_timed[nonzero] = cos_ctr
        below = [(f"timed spectrum {k}", X[k:k + 1], target[k:k + 1], exact[k:k + 1], cos_timed[k])
                 for k in np.flatnonzero(np.nan_to_num(cos_timed, nan=1.0) < 0.99)]
        below += [(f"test spectrum {i}", X_test[i:i + 1], all_target[i:i + 1], all_maps[i:i + 1], cos_all[i])
                  for i in np.flatnonzero(nz60 & (np.nan_to_num(cos_all, nan=1.0) < 0.99))]
        for name, xi, ti, gi, cos_i in below:
            finer = [cosine_similarity(gi, finite_difference_saliency(proba, xi, ti, scheme="central", eps=e))[0]
                     for e in (1e-3, 1e-4)]
            own = cosine_similarity(gradient_saliency(smooth, xi, ti), finite_difference_saliency(
                smooth.predict_proba, xi, ti, scheme="central"))[0]
            print(f"    {name} (p = {np.round(proba(xi)[0], 4)}): cosine {cos_i:.4f} at ε = 1e-2, "
                  f"{finer[0]:.4f} at 1e-3, {finer[1]:.4f} at 1e-4; smooth replica vs its own differences {own:.5f}")
    print("\nkernel  loop_ms  vectorised_ms  exact_ms  exact_batched_ms  loop/exact  vec/exact  loop/exact_b  "
          "vec/exact_b")
    for r in rows:
        print(f"{r[0]:7s} {r[1]:8.1f} {r[2]:14.1f} {r[3]:9.3f} {r[4]:17.3f} {r[5]:11.0f} {r[6]:10.0f} {r[7]:13.0f} "
              f"{r[8]:12.0f}")


if __name__ == "__main__":
    main()
