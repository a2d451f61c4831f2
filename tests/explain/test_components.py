"""Maps against the true components of simulated images: brute-force shares, the overlap summary."""

import numpy as np
import pytest

from astroxai.explain.components import component_scores, overlap_summary


def test_component_scores_are_the_brute_force_shares():
    rng = np.random.default_rng(3)
    maps = rng.normal(size=(3, 1, 8, 8))
    masks = {"jets": rng.random((3, 8, 8)) < 0.3, "hotspots": np.zeros((3, 8, 8), bool)}
    masks["hotspots"][2, :2, :2] = True
    rows = component_scores(maps, masks, ["FRI", "FRII", "FRII"])
    for j in range(3):
        weight = np.abs(maps[j, 0])
        share = weight[masks["jets"][j]].sum() / weight.sum()
        assert rows[j]["mass_jets"] == pytest.approx(share)
        assert rows[j]["lift_jets"] == pytest.approx(share / masks["jets"][j].mean())
    assert rows[0]["defining"] == "jets" and rows[0]["defining_mass"] == rows[0]["mass_jets"]
    assert "defining" not in rows[1] and "mass_hotspots" not in rows[1]  # an FR II without hot-spot pixels
    assert rows[2]["defining_mass"] == pytest.approx(np.abs(maps[2, 0, :2, :2]).sum() / np.abs(maps[2, 0]).sum())




def test_overlap_summary_is_the_median_of_the_rows():
    rows = [{"label": "FRI", "defining": "jets", "defining_mass": m, "defining_lift": lift}
            for m, lift in ((0.2, 3.0), (0.4, 0.5), (0.6, 9.0))] + [{"label": "compact"}]
    (row,) = overlap_summary({"lime": rows})
    assert row == {"method": "lime", "class": "FRI", "component": "jets", "n": 3, "median_mass": 0.4,
                   "median_lift": 3.0, "share_lift_above_1": round(2 / 3, 3)}
