"""The maps of two FIRST runs side by side: where LIME and SmoothGrad put their weight (the share of each map on the
source above the noise and on its brightest part, median over the test images of each predicted class, and the lift
= share ÷ the region's share of the image), and each run's trust table (deletion / insertion against random orders,
the randomisation sanity check).

    astroxai run --kind radio --data first --config plain.json --out runs/first-cnn   # {"network": "cnn"}
    astroxai run --kind radio --data first --out runs/first                          # the default network
    python benchmarks/compare_first_maps.py runs/first-cnn runs/first

Reads ``explain/overlap.csv`` and ``trust/trust.csv`` of each run folder; prints Markdown tables.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path


def rows(path: Path) -> list[dict]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def network(run: Path) -> str:
    meta = json.loads((run / "models" / "radio-classifier" / "model.json").read_text())
    return f"{meta['kind']} (test accuracy {meta['metrics']['test']['accuracy']:.3f})"


def main() -> None:
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    runs = [Path(a) for a in sys.argv[1:]]
    names = [network(r) for r in runs]
    print(f"A = {runs[0]}: {names[0]}\nB = {runs[1]}: {names[1]}\n")
    overlap = [{(r["method"], r["class"], r["component"]): r for r in rows(run / "explain" / "overlap.csv")}
               for run in runs]
    print("| method | class | region | share A (lift) | share B (lift) |\n|---|---|---|---|---|")
    for key in sorted(set(overlap[0]) & set(overlap[1])):
        a, b = (o[key] for o in overlap)
        print(f"| {key[0]} | {key[1]} | {key[2]} | {float(a['median_mass']):.2f} ({float(a['median_lift']):.1f}) | "
              f"{float(b['median_mass']):.2f} ({float(b['median_lift']):.1f}) |")
    print("\n| run | method | deletion AUC (random) | insertion AUC (random) | beats random: deletion / insertion "
          "| sanity ρ (passes) | ms per image |\n|---|---|---|---|---|---|---|")
    for label, run in zip("AB", runs, strict=True):
        for r in rows(run / "trust" / "trust.csv"):
            print(f"| {label} | {r['method']} | {float(r['deletion_auc']):.3f} "
                  f"({float(r['random_deletion_auc']):.3f}) | "
                  f"{float(r['insertion_auc']):.3f} ({float(r['random_insertion_auc']):.3f}) | "
                  f"{float(r['deletion_beats_random']):.2f} / {float(r['insertion_beats_random']):.2f} | "
                  f"{float(r['sanity_rho']):.2f} ({r['sanity_passes']}) | {float(r['ms_per_image']):.0f} |")


if __name__ == "__main__":
    main()
