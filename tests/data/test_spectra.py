"""SpectraSet and ImageSet on their shared base: round trips, subsets, checks, format tags, atomic writes."""

import os

import h5py
import numpy as np
import pytest

from astroxai.data import ImageSet, LabelledSet, SpectraSet, SpectraSetWriter, atomic_folder, load_set


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


def _images(n=4):
    rng = np.random.default_rng(2)
    return ImageSet(rng.random((n, 1, 8, 8)), ["FRI", "FRII", "", "FRI"][:n], [f"im{i}" for i in range(n)],
                    masks={"core": rng.random((n, 8, 8)) > 0.5}, meta={"snr": rng.random(n)},
                    wcs=[""] * n, attrs={"pixel_arcsec": 1.8})


def test_one_loader_for_both_kinds_and_each_kind_refuses_the_other(tmp_path):
    spectra = _example().save(tmp_path / "s.h5")
    images = _images().save(tmp_path / "i.h5")
    assert isinstance(load_set(spectra), SpectraSet) and isinstance(LabelledSet.load(images), ImageSet)
    with pytest.raises(ValueError, match="not an astroxai SpectraSet"):
        SpectraSet.load(images)
    with pytest.raises(ValueError, match="not an astroxai ImageSet"):
        ImageSet.load(spectra)


def test_image_set_round_trip_and_shared_interface(tmp_path):
    data = _images()
    loaded = ImageSet.load(data.save(tmp_path / "i.h5"))
    np.testing.assert_array_equal(loaded.images, data.images)
    np.testing.assert_array_equal(loaded.masks["core"], data.masks["core"])
    assert loaded.attrs == data.attrs and loaded.classes == ["FRI", "FRII"]
    for kind in (data, _example()):  # what the estimators and explainers use, whichever the modality
        assert len(kind.inputs) == len(kind) and kind.modality in ("spectra", "images")
    assert data.grid == (1, 8, 8) and _example().grid.size == 7
    both = ImageSet.concatenate([data, _images(2)])
    assert len(both) == 6 and both.masks["core"].shape == (6, 8, 8)


def test_an_interrupted_writer_leaves_no_file_and_an_old_one_untouched(tmp_path):
    path = _example().save(tmp_path / "d.h5")
    before = path.read_bytes()
    with pytest.raises(RuntimeError), SpectraSetWriter(path, np.linspace(3800, 5200, 7)) as writer:
        writer.append(np.ones((2, 7)), ["a", "b"], ["x", "y"], {"z": [0.1, 0.2]})
        raise RuntimeError("killed half-way")
    assert path.read_bytes() == before
    assert not [p for p in os.listdir(tmp_path) if "partial" in p]


def test_atomic_folder_replaces_a_folder_whole_or_not_at_all(tmp_path):
    target = tmp_path / "model"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(RuntimeError), atomic_folder(target) as folder:
        (folder / "new.txt").write_text("new")
        raise RuntimeError("failed during training")
    assert sorted(os.listdir(target)) == ["old.txt"]
    with atomic_folder(target) as folder:
        (folder / "new.txt").write_text("new")
    assert sorted(os.listdir(target)) == ["new.txt"]
    assert sorted(os.listdir(tmp_path)) == ["model"]
