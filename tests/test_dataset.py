import h5py
import numpy as np
import pytest

from astroxai import SpectraSet


def _example(n=5, m=7):
    rng = np.random.default_rng(1)
    return SpectraSet(
        flux=rng.standard_normal((n, m)),
        wavelength=np.linspace(3800, 5200, m),
        labels=["type1", "type2", "", "intermediate", "type2"][:n],
        ids=[f"id{i}" for i in range(n)],
        meta={"z": rng.uniform(0, 1, n), "source": [f"f{i}.fits" for i in range(n)]},
        attrs={"seed": 3, "reduction": {"n_wave": m}},
    )


def test_round_trip(tmp_path):
    data = _example()
    loaded = SpectraSet.load(data.save(tmp_path / "d.h5"))
    assert loaded.flux.dtype == np.float32
    np.testing.assert_array_equal(loaded.flux, data.flux)
    np.testing.assert_array_equal(loaded.wavelength, data.wavelength)
    assert list(loaded.labels) == list(data.labels)
    assert list(loaded.ids) == list(data.ids)
    np.testing.assert_array_equal(loaded.meta["z"], data.meta["z"])
    assert list(loaded.meta["source"]) == list(data.meta["source"])
    assert loaded.attrs == data.attrs
    assert loaded.classes == ["intermediate", "type1", "type2"]


def test_subset(tmp_path):
    sub = _example().subset([0, 3])
    assert len(sub) == 2 and list(sub.labels) == ["type1", "intermediate"]


def test_shape_checks():
    with pytest.raises(ValueError, match="flux must be"):
        SpectraSet(np.ones((2, 3)), np.ones(4), ["a", "b"], ["1", "2"])
    with pytest.raises(ValueError, match="meta column"):
        SpectraSet(np.ones((2, 3)), np.arange(3), ["a", "b"], ["1", "2"], meta={"z": [1.0]})


def test_foreign_file_is_refused(tmp_path):
    with h5py.File(tmp_path / "other.h5", "w") as handle:
        handle["x"] = np.ones(3)
    with pytest.raises(ValueError, match="not an astroxai SpectraSet"):
        SpectraSet.load(tmp_path / "other.h5")
    (tmp_path / "text.h5").write_text("hello")
    with pytest.raises(ValueError, match="not an astroxai SpectraSet"):
        SpectraSet.load(tmp_path / "text.h5")
