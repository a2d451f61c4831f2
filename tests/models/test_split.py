import numpy as np
import pytest

from astroxai.data import SpectraSet
from astroxai.models import Split, labelled_split, paper_split


def _labels():
    return np.array(["type1"] * 680 + ["type2"] * 2145 + ["intermediate"] * 521)


def test_sizes_disjoint_and_complete():
    train, validation, test = paper_split(_labels(), seed=1)
    parts = [train, validation, test]
    assert sum(len(p) for p in parts) == 3346
    assert len(np.unique(np.concatenate(parts))) == 3346
    assert len(test) == pytest.approx(0.2 * 3346, abs=1)
    assert len(validation) == pytest.approx(0.16 * 3346, abs=2)
    assert len(train) + len(validation) == 2677  # the paper's train+validation size
    assert len(train) == 2141  # and its training-set size


def test_stratified_keeps_class_shares_and_unstratified_does_not_have_to():
    labels = _labels()
    parts = paper_split(labels, seed=3)
    for part in parts:
        share = np.mean(labels[part] == "intermediate")
        assert share == pytest.approx(521 / 3346, abs=0.004)
    plain = paper_split(labels, seed=3, stratify=False)
    assert not np.array_equal(plain[2], parts[2])


def test_seeded():
    a, b = paper_split(_labels(), seed=5), paper_split(_labels(), seed=5)
    np.testing.assert_array_equal(a[2], b[2])
    assert not np.array_equal(a[2], paper_split(_labels(), seed=6)[2])


def test_save_and_load_by_id(tmp_path):
    labels = _labels()
    ids = np.array([f"s{i:05d}" for i in range(labels.size)])
    split = Split.from_rows(ids, *paper_split(labels, seed=2), seed=2, stratified=True)
    again = Split.load(split.save(tmp_path / "split.json"))
    shuffled = np.random.default_rng(0).permutation(labels.size)
    # Same spectra in each part, found at their new rows.
    assert set(ids[shuffled][again.rows(ids[shuffled], "test")]) == set(split.test)
    assert again.contains(ids[shuffled], "test").sum() == len(split.test)
    with pytest.raises(ValueError, match="not in the data set"):
        again.rows(ids[:100], "test")
    (tmp_path / "bad.json").write_text('{"train": []}')
    with pytest.raises(ValueError, match="not a split"):
        Split.load(tmp_path / "bad.json")


def test_labelled_split_shares_the_draw_between_problems():
    """The two- and three-class problems split every labelled spectrum the same way, then keep their classes."""
    labels = _labels()[::10]
    data = SpectraSet(np.zeros((labels.size, 2)), [1.0, 2.0], labels, [f"s{i}" for i in range(labels.size)])
    three, two = labelled_split(data, 4), labelled_split(data, 4, ("type1", "type2"))
    for part in ("train", "validation", "test"):
        assert set(two.part(part)) == {i for i in three.part(part) if not i.endswith(tuple("x"))} - {
            data.ids[k] for k in np.flatnonzero(labels == "intermediate")}
