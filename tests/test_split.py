import numpy as np
import pytest

from astroxai.models import Split, paper_split


def _labels():
    return np.array(["type1"] * 680 + ["type2"] * 2145 + ["intermediate"] * 521)


def test_sizes_disjoint_and_complete():
    split = paper_split(_labels(), seed=1)
    parts = [split.train, split.validation, split.test]
    assert sum(len(p) for p in parts) == 3346
    assert len(np.unique(np.concatenate(parts))) == 3346
    assert len(split.test) == pytest.approx(0.2 * 3346, abs=1)
    assert len(split.validation) == pytest.approx(0.16 * 3346, abs=2)
    assert len(split.train) + len(split.validation) == 2677  # the paper's train+validation size
    assert len(split.train) == 2141  # and its training-set size


def test_stratified_keeps_class_shares_and_unstratified_does_not_have_to():
    labels = _labels()
    split = paper_split(labels, seed=3)
    for part in (split.train, split.validation, split.test):
        share = np.mean(labels[part] == "intermediate")
        assert share == pytest.approx(521 / 3346, abs=0.004)
    plain = paper_split(labels, seed=3, stratify=False)
    assert not np.array_equal(plain.test, split.test)


def test_seeded():
    a, b = paper_split(_labels(), seed=5), paper_split(_labels(), seed=5)
    np.testing.assert_array_equal(a.test, b.test)
    assert not np.array_equal(a.test, paper_split(_labels(), seed=6).test)


def test_save_and_load_by_id(tmp_path):
    labels = _labels()
    ids = np.array([f"s{i:05d}" for i in range(labels.size)])
    split = paper_split(labels, seed=2)
    split.save(tmp_path / "split.json", ids)
    shuffled = np.random.default_rng(0).permutation(labels.size)
    again = Split.load(tmp_path / "split.json", ids[shuffled])
    # Same spectra in each part, found at their new rows.
    assert set(ids[shuffled][again.test]) == set(ids[split.test])
    with pytest.raises(ValueError, match="not in the data set"):
        Split.load(tmp_path / "split.json", ids[:100])
