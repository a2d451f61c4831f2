"""Physics checks on maps with known answers: velocities, the Hβ core/wing sign test, the line share."""

import numpy as np
import pytest

from astroxai.explain.physics import (
    HBETA,
    core_wing_signs,
    line_share,
    line_windows,
    physics_summary,
    velocity,
)
from astroxai.lines import C_KMS, DIAGNOSTIC_LINES

WAVE = np.linspace(3700.0, 5300.0, 3201)


def test_velocity():
    np.testing.assert_allclose(velocity([HBETA, HBETA * (1 + 1000 / C_KMS)], HBETA), [0.0, 1000.0])


def test_core_wing_signs_on_constructed_maps():
    v = velocity(WAVE, HBETA)
    width = np.where(np.abs(v) < 500, -1.0, 0.0) + np.where((np.abs(v) > 1000) & (np.abs(v) < 4000), 2.0, 0.0)
    same = np.where(np.abs(v) < 4000, 1.0, 0.0)
    blue_only = np.where((v > 1000) & (v < 4000), 1.0, 0.0) - np.where(np.abs(v) < 500, 1.0, 0.0)
    zero = np.zeros_like(WAVE)
    out = core_wing_signs(WAVE, np.array([width, same, blue_only, zero]))
    np.testing.assert_allclose(out["core"], [-1, 1, -1, 0])
    np.testing.assert_allclose(out["wings"], [2, 1, 0.5, 0], rtol=0.02)  # half the wing pixels are positive
    np.testing.assert_array_equal(out["opposite"], [True, False, True, False])
    np.testing.assert_array_equal(out["zero"], [False, False, False, True])
    with pytest.raises(ValueError, match="does not cover"):
        core_wing_signs(np.linspace(3700, 4500, 100), width[None, :100])


def test_line_share_against_brute_force():
    mask = line_windows(WAVE)
    # brute force: a point is inside if it is within 2000 km/s of any line
    brute = np.array([any(abs(C_KMS * (w / c - 1)) <= 2000 for c in DIAGNOSTIC_LINES.values()) for w in WAVE])
    np.testing.assert_array_equal(mask, brute)
    uniform = np.ones((1, WAVE.size))
    inside_only = mask[None, :].astype(float) * np.random.default_rng(0).normal(size=WAVE.size)
    outside_only = (~mask)[None, :].astype(float)
    out = line_share(WAVE, np.vstack([uniform, inside_only, outside_only, np.zeros(WAVE.size)]))
    assert out["wavelength_share"] == pytest.approx(mask.mean(), abs=1e-3)
    np.testing.assert_allclose(out["saliency_share"][:3], [out["wavelength_share"], 1.0, 0.0], atol=1e-3)
    assert np.isnan(out["saliency_share"][3])
    summary = physics_summary(WAVE, np.vstack([uniform, inside_only]), np.array([True, False]))
    assert summary["n_broad_hbeta"] == 1 and summary["n_opposite"] == 0


