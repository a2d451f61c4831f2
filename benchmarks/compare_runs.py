"""Compare the tables of two run folders (e.g. the same ``astroxai run`` before and after a change), number by number.

Usage:  python benchmarks/compare_runs.py BEFORE_RUN AFTER_RUN [--tolerance 1e-9] [--array-tolerance 1e-6]

Every CSV table present in both folders is compared on the columns they share, row by row (rows matched by their
position); columns that are timings (``*_s``, ``seconds``, ``ms_per_*``, ``fit_mean_s``…) or file paths are skipped.
Numbers must agree to ``--tolerance`` (relative), text exactly.  Prints one line per table: identical, or the
differing cells (the first few), and the columns only one side has.  ``results.md`` is compared line by line with
timing lines dropped.  The arrays of every HDF5 file of both folders (the explanations' maps, the trust study's
curves; the simulated inputs' data sets too) are compared dataset by dataset (those named like the tables' path
columns, e.g. ``meta/source``, skipped): floating values to
``--array-tolerance`` of the dataset's largest magnitude (maps are float32, and their values near zero carry no
relative precision), others exactly; a line says "bit for bit" where every value is equal.  Exit status 1 when any
table or array differs.
"""

from __future__ import annotations

import argparse
import csv
import math
import re
import sys
from pathlib import Path

TIMING = re.compile(r"(^|_)(s|seconds|ms_per_\w+|fit_mean_s|fit_std_s|epoch_s|explain_ms_per_image)$|_s$|^seconds$")
PATHS = {"input", "file", "source", "figure"}


def _number(text: str):
    try:
        return float(text)
    except ValueError:
        return None


def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def _decimals(text: str) -> int | None:
    """Digits after the decimal point of a number written in fixed notation (None for other text)."""
    match = re.fullmatch(r"-?\d+\.(\d+)", text.strip())
    return len(match.group(1)) if match else None


def compare_table(before: Path, after: Path, tolerance: float, rounded: list | None = None) -> tuple[list[str], set,
                                                                                                       set]:
    a, b = _rows(before), _rows(after)
    cols_a = set(a[0]) if a else set()
    cols_b = set(b[0]) if b else set()
    shared = [c for c in (a[0] if a else {}) if c in cols_b and not TIMING.search(c) and c not in PATHS]
    problems = []
    if len(a) != len(b):
        problems.append(f"{len(a)} rows before, {len(b)} after")
    for k, (row_a, row_b) in enumerate(zip(a, b, strict=False)):
        for column in shared:
            x, y = row_a[column], row_b[column]
            if x == y:
                continue
            nx, ny = _number(x), _number(y)
            if nx is not None and ny is not None:
                if (math.isnan(nx) and math.isnan(ny)) or math.isclose(nx, ny, rel_tol=tolerance, abs_tol=tolerance):
                    continue
                digits = _decimals(x)
                if rounded is not None and digits is not None and round(ny, digits) == round(nx, digits):
                    rounded.append(column)  # the same number, written with fewer digits before
                    continue
            elif x.lower() == y.lower() and x.lower() in ("true", "false"):
                continue
            problems.append(f"row {k} {column}: {x!r} → {y!r}")
    return problems, cols_a - cols_b, cols_b - cols_a


def compare_arrays(before: Path, after: Path, tolerance: float) -> tuple[list[str], int, bool]:
    """The datasets of two HDF5 files: ``(problems, datasets compared, every value bit for bit equal)``."""
    import h5py
    import numpy as np

    problems, compared, exact = [], 0, True
    with h5py.File(before, "r") as a, h5py.File(after, "r") as b:
        names: list[str] = []
        a.visit(lambda name: names.append(name) if isinstance(a[name], h5py.Dataset) else None)
        for name in names:
            if name.rsplit("/", 1)[-1] in PATHS:
                continue
            if name not in b or not isinstance(b[name], h5py.Dataset):
                problems.append(f"{name}: only before")
                continue
            x, y = a[name][()], b[name][()]
            compared += 1
            if np.shape(x) != np.shape(y):
                problems.append(f"{name}: shape {np.shape(x)} → {np.shape(y)}")
                continue
            if np.asarray(x).dtype.kind == "f" and np.asarray(y).dtype.kind == "f":
                if np.array_equal(x, y, equal_nan=True):
                    continue
                exact = False
                same_nan = np.array_equal(np.isnan(x), np.isnan(y))
                finite = np.isfinite(x) & np.isfinite(y)
                scale = float(np.abs(x[finite]).max()) if finite.any() else 0.0
                largest = float(np.abs(x[finite] - y[finite]).max()) if finite.any() else 0.0
                if not same_nan or largest > tolerance * scale:
                    problems.append(f"{name}: largest difference {largest:.3g} of values up to {scale:.3g}"
                                    + ("" if same_nan else ", NaNs elsewhere"))
            elif not np.array_equal(x, y):
                problems.append(f"{name}: values differ")
        b.visit(lambda name: problems.append(f"{name}: only after")
                if isinstance(b[name], h5py.Dataset) and name not in a else None)
    return problems, compared, exact and not problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--tolerance", type=float, default=1e-9)
    parser.add_argument("--array-tolerance", type=float, default=1e-6,
                        help="arrays: largest difference allowed, as a fraction of a dataset's largest magnitude")
    parser.add_argument("--show", type=int, default=4, help="differing cells shown per table")
    args = parser.parse_args()
    tables = sorted(p.relative_to(args.before) for p in args.before.rglob("*.csv"))
    differing = 0
    compared = 0
    for relative in tables:
        if relative.parts[0] == "simulated" and relative.name != "catalog.csv":
            continue
        other = args.after / relative
        if not other.exists():
            print(f"{relative}: only before")
            continue
        compared += 1
        rounded: list = []
        problems, only_before, only_after = compare_table(args.before / relative, other, args.tolerance, rounded)
        notes = [f"{len(rounded)} cells equal to the before table's rounding"] if rounded else []
        if only_before:
            notes.append(f"columns only before: {sorted(only_before)}")
        if only_after:
            notes.append(f"columns only after: {sorted(only_after)}")
        if problems:
            differing += 1
            print(f"{relative}: {len(problems)} differences; " + "; ".join(problems[:args.show])
                  + (f"; {'; '.join(notes)}" if notes else ""))
        else:
            print(f"{relative}: identical" + (f" ({'; '.join(notes)})" if notes else ""))
    for relative in sorted(p.relative_to(args.after) for p in args.after.rglob("*.csv")):
        if not (args.before / relative).exists() and relative.parts[0] != "simulated":
            print(f"{relative}: only after")
    md_before, md_after = args.before / "results.md", args.after / "results.md"
    if md_before.exists() and md_after.exists():
        def lines(path):
            return [line for line in path.read_text().splitlines()
                    if " s." not in line and "[s]" not in line and "±" not in line[:0]]

        diff = [(x, y) for x, y in zip(lines(md_before), lines(md_after), strict=False) if x != y]
        print(f"results.md: {'identical' if not diff else f'{len(diff)} lines differ, first: {diff[0]}'}")
    print(f"{compared} tables compared, {differing} with differences")
    files, differing_files = 0, 0
    for relative in sorted(p.relative_to(args.before) for p in args.before.rglob("*.h5")):
        other = args.after / relative
        if not other.exists():
            print(f"{relative}: only before")
            continue
        files += 1
        problems, datasets, exact = compare_arrays(args.before / relative, other, args.array_tolerance)
        if problems:
            differing_files += 1
            print(f"{relative}: {len(problems)} of {datasets} arrays differ; " + "; ".join(problems[:args.show]))
        else:
            print(f"{relative}: {datasets} arrays {'bit for bit' if exact else f'within {args.array_tolerance:g}'}")
    print(f"{files} HDF5 files compared, {differing_files} with differences")
    sys.exit(1 if differing or differing_files else 0)


if __name__ == "__main__":
    main()
