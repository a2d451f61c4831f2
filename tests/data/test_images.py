"""ImageSet storage with masks, metadata and WCS."""

import numpy as np
import pytest

from astroxai.data import ImageSet
from astroxai.simulate.radio import PIXEL_ARCSEC, RADIO_CLASSES, simulate_radio


def test_imageset_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    sims = [simulate_radio(label, rng) for label in RADIO_CLASSES]
    data = ImageSet(np.stack([s.image for s in sims]), [s.params["label"] for s in sims], ["a", "b", "c", "d"],
                    masks={k: np.stack([s.masks[k] for s in sims]) for k in sims[0].masks},
                    meta={"peak_snr": [s.params["peak_snr"] for s in sims], "kind": ["x", "y", "z", "w"]},
                    attrs={"pixel_arcsec": PIXEL_ARCSEC})
    assert data.shape == (1, 64, 64) and len(data) == 4
    again = ImageSet.load(data.save(tmp_path / "images.h5"))
    np.testing.assert_array_equal(again.images, data.images)
    for key in data.masks:
        np.testing.assert_array_equal(again.masks[key], data.masks[key])
    assert list(again.meta["kind"]) == ["x", "y", "z", "w"] and again.attrs == {"pixel_arcsec": PIXEL_ARCSEC}
    assert list(again.subset([1, 3]).ids) == ["b", "d"]
    with pytest.raises(ValueError, match="mask"):
        ImageSet(data.images, data.labels, data.ids, masks={"core": np.zeros((4, 8, 8))})
    with pytest.raises(ValueError, match="not an astroxai ImageSet"):
        ImageSet.load(tmp_path / "missing.h5")


