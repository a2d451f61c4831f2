"""The typed results: mapping access over their columns, optional columns, and JSON from one place."""

import json
from dataclasses import dataclass

import numpy as np
import pytest

from astroxai.explain.bars import BarMeasurement
from astroxai.explain.modality import SpectrumTruth
from astroxai.results import Result, json_text


@dataclass(eq=False)
class _Pair(Result):
    first: float
    second: float | None = None


def test_a_result_reads_as_a_mapping_of_its_fields_none_included():
    pair = _Pair(np.float32(1.5))
    assert dict(pair) == {"first": 1.5, "second": None} and pair["first"] == pair.first
    with pytest.raises(KeyError):
        pair["third"]
    assert json.loads(json_text(pair)) == {"first": 1.5, "second": None}


def test_optional_columns_are_left_out_only_when_none():
    without = SpectrumTruth(0.5, 0.25, 2.0)
    assert list(without) == ["truth_mass", "truth_area", "truth_lift"] and "hbeta_opposite" not in without
    assert SpectrumTruth(0.5, 0.25, 2.0, hbeta_opposite=0.0)["hbeta_opposite"] == 0.0  # zero is a value, kept
    bar = BarMeasurement(12.0, 0.3, axis_ratio=0.4, mask=np.ones((2, 2), bool))
    assert list(bar) == ["length_px", "pa", "axis_ratio", "mask"]
    assert json.loads(json_text(bar))["mask"] == [[True, True], [True, True]]
    assert list(BarMeasurement(0.0)) == ["length_px", "pa"]  # a NaN angle is a value, not a missing column
