"""benchmarks/compare_runs.py, the before/after check of every speed change: it must say "identical" only when the
tables and arrays are, and name what moved otherwise."""

import csv
import importlib.util
from pathlib import Path

import h5py
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def compare_runs():
    spec = importlib.util.spec_from_file_location("compare_runs", ROOT / "benchmarks" / "compare_runs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(folder: Path, maps: np.ndarray, auc: str) -> Path:
    (folder / "explain").mkdir(parents=True)
    with open(folder / "trust.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerows([["method", "deletion_auc", "seconds"], ["saliency", auc, "12.5"]])
    with h5py.File(folder / "explain" / "explanations.h5", "w") as f:
        f["maps"] = maps
        f["ids"] = np.array([b"a", b"b"])
        f["meta/source"] = np.array([str(folder / name).encode() for name in ("a.fits", "b.fits")])  # a path
    return folder


def _compare(compare_runs, monkeypatch, capsys, before, after, *options) -> tuple[int, str]:
    monkeypatch.setattr("sys.argv", ["compare_runs.py", str(before), str(after), *options])
    with pytest.raises(SystemExit) as stop:
        compare_runs.main()
    return stop.value.code, capsys.readouterr().out


def test_arrays_and_tables_are_compared_with_the_tolerances_stated(compare_runs, tmp_path, monkeypatch, capsys):
    maps = np.random.default_rng(0).normal(size=(2, 8)).astype(np.float32)
    before = _run(tmp_path / "before", maps, "0.1234")
    scale = float(np.abs(maps).max())
    # the same maps, another timing: identical, bit for bit
    code, out = _compare(compare_runs, monkeypatch, capsys, before, _run(tmp_path / "same", maps.copy(), "0.1234"))
    assert code == 0 and "explain/explanations.h5: 2 arrays bit for bit" in out and "trust.csv: identical" in out
    # a map moved by 1e-7 of the largest value: within the default 1e-6, but not bit for bit
    nudged = maps.copy()
    nudged[0, 3] += np.float32(2e-7 * scale)
    assert not np.array_equal(nudged, maps)
    code, out = _compare(compare_runs, monkeypatch, capsys, before, _run(tmp_path / "nudged", nudged, "0.1234"))
    assert code == 0 and "2 arrays within 1e-06" in out
    code, out = _compare(compare_runs, monkeypatch, capsys, before, tmp_path / "nudged", "--array-tolerance", "1e-8")
    assert code == 1 and "1 of 2 arrays differ; maps: largest difference" in out
    # a map moved by 1e-3 of the largest value, a table's number changed
    moved = maps.copy()
    moved[1, 0] += np.float32(1e-3 * scale)
    code, out = _compare(compare_runs, monkeypatch, capsys, before, _run(tmp_path / "moved", moved, "0.1240"))
    assert code == 1 and "maps: largest difference" in out and "'0.1234' → '0.1240'" in out
    assert "1 HDF5 files compared, 1 with differences" in out
