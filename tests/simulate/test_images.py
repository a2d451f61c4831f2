"""The radio-galaxy and barred-galaxy simulators checked against what they promise (beam, noise, edge brightening,
masks, bar lengths), and the simulated samples read back through the real file readers."""

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from astroxai.data import ImageSet
from astroxai.io import read_images
from astroxai.simulate.galaxy import PIXEL_ARCSEC as GALAXY_PIXEL
from astroxai.simulate.galaxy import galaxy_model, simulate_galaxy
from astroxai.simulate.radio import (
    BEAM_FWHM_ARCSEC,
    FWHM_TO_SIGMA,
    PIXEL_ARCSEC,
    RADIO_CLASSES,
    radio_model,
    simulate_radio,
)


def moments(image):
    """Centroid and the eigenvalues/major-axis angle of the second moments of a non-negative image."""
    y, x = np.mgrid[0:image.shape[0], 0:image.shape[1]]
    w = image / image.sum()
    cx, cy = (w * x).sum(), (w * y).sum()
    cov = np.array([[(w * (x - cx) ** 2).sum(), (w * (x - cx) * (y - cy)).sum()],
                    [(w * (x - cx) * (y - cy)).sum(), (w * (y - cy) ** 2).sum()]])
    values, vectors = np.linalg.eigh(cov)
    return (cx, cy), values, np.arctan2(vectors[1, 1], vectors[0, 1]) % np.pi


def test_radio_simulator_is_seeded_and_masks_follow_the_morphology():
    a = simulate_radio("FRII", np.random.default_rng(1))
    b = simulate_radio("FRII", np.random.default_rng(1))
    np.testing.assert_array_equal(a.image, b.image)
    expected = {"compact": {"core"}, "FRI": {"core", "jets"}, "FRII": {"lobes", "hotspots"}, "bent": {"core", "jets"}}
    for label in RADIO_CLASSES:
        for seed in range(5):
            sim = simulate_radio(label, np.random.default_rng(seed))
            present = {name for name, mask in sim.masks.items() if mask.any()}
            assert expected[label] <= present <= expected[label] | {"core"}, (label, seed, present)
            bright = sim.model > 5 * sim.params["rms_mjy"]
            covered = np.any(list(sim.masks.values()), axis=0)
            assert covered[bright].all()  # every clearly detected pixel belongs to a component


def test_radio_beam_and_noise():
    sim = simulate_radio("compact", np.random.default_rng(3))
    p = dict(sim.params, las_arcsec=0.0)
    model = radio_model(p)["core"]
    _, values, _ = moments(model)
    beam_sigma = BEAM_FWHM_ARCSEC * FWHM_TO_SIGMA / PIXEL_ARCSEC
    np.testing.assert_allclose(np.sqrt(values), beam_sigma, rtol=0.02)  # a point source is the beam
    noise = (sim.image - sim.model)[:, :20]
    assert noise.std() == pytest.approx(sim.params["rms_mjy"], rel=0.25)
    # the noise is correlated over a beam, as in an interferometric map
    assert np.corrcoef(noise[:, :-1].ravel(), noise[:, 1:].ravel())[0, 1] > 0.5


def test_fr2_is_edge_brightened_and_fr1_edge_darkened():
    for label, outer_brighter in (("FRII", True), ("FRI", False)):
        for seed in range(4):
            sim = simulate_radio(label, np.random.default_rng(seed))
            p = sim.params
            half = 0.5 * p["las_arcsec"] / PIXEL_ARCSEC
            direction = np.array([np.cos(p["angle"]), np.sin(p["angle"])])

            def brightness(t, p=p, direction=direction, half=half, sim=sim):
                x, y = np.array([p["x0"], p["y0"]]) + t * half * direction
                return sim.model[int(round(y)), int(round(x))]

            assert (brightness(0.92) > brightness(0.3)) == outer_brighter, (label, seed)


def test_galaxy_bar_length_matches_the_second_moments_of_the_bar():
    for seed in range(12):
        sim = simulate_galaxy("barred", np.random.default_rng(seed))
        p = sim.params
        bar = galaxy_model(p)["bar"]
        _, values, angle = moments(bar)
        psf_var = (p["psf_fwhm_px"] / (2 * np.sqrt(2 * np.log(2)))) ** 2
        # a Ferrers (1 − m²)ⁿ ellipse has ⟨u²⟩ = a²/(2(n + 2)) along its major axis
        length = 2 * np.sqrt(2 * (p["bar_ferrers_n"] + 2) * (values[1] - psf_var))
        assert length == pytest.approx(p["bar_length_px"], rel=0.12), seed
        assert p["bar_length_arcsec"] == pytest.approx(p["bar_length_px"] * GALAXY_PIXEL)
        difference = abs(angle - p["bar_pa"]) % np.pi
        assert min(difference, np.pi - difference) < np.radians(12), seed
        assert sim.masks["bar"].any()
    unbarred = simulate_galaxy("unbarred", np.random.default_rng(0))
    assert unbarred.params["bar_length_px"] == 0 and not unbarred.masks["bar"].any()
    with pytest.raises(ValueError, match="unknown galaxy class"):
        simulate_galaxy("spiral", np.random.default_rng(0))


@pytest.mark.parametrize("kind", ["radio", "galaxy"])
def test_simulated_sample_on_disk_reads_back_through_the_real_file_reader(tmp_path, kind):
    import csv

    from click.testing import CliRunner

    from astroxai.cli import main

    result = CliRunner().invoke(main, ["simulate", "--kind", kind, "--out", str(tmp_path), "--n-per-class", "6",
                                       "--seed", "4"])
    assert result.exit_code == 0, result.output
    data = ImageSet.load(tmp_path / "images.h5")
    with open(tmp_path / "catalog.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(data) == len(rows) == (24 if kind == "radio" else 12)
    assert list(data.ids) == [r["id"] for r in rows] and list(data.labels) == [r["label"] for r in rows]
    assert set(data.masks) == ({"core", "jets", "lobes", "hotspots"} if kind == "radio" else {"bar"})
    read, fates = read_images([tmp_path / r["file"] for r in rows], labels=[r["label"] for r in rows])
    assert all(f["status"] == "kept" for f in fates)
    np.testing.assert_array_equal(read.images, data.images)  # the FITS cutouts hold the same pixels
    wcs = WCS(fits.Header.fromstring(read.wcs[0]))
    assert wcs.wcs.ctype[0] == "RA---TAN" and abs(wcs.wcs.cdelt[1] * 3600 - data.attrs["pixel_arcsec"]) < 1e-9
    again = CliRunner().invoke(main, ["simulate", "--kind", kind, "--out", str(tmp_path / "again"),
                                      "--n-per-class", "6", "--seed", "4"])
    assert again.exit_code == 0
    np.testing.assert_array_equal(ImageSet.load(tmp_path / "again" / "images.h5").images, data.images)
    if kind == "galaxy":
        barred = data.labels == "barred"
        assert np.all(data.meta["bar_length_px"][barred] > 0) and np.all(data.meta["bar_length_px"][~barred] == 0)




def test_in_memory_image_set_equals_the_sample_on_disk(tmp_path):
    from astroxai import simulate
    from astroxai.simulate.images import simulate_image_sample

    on_disk = ImageSet.load(simulate_image_sample(tmp_path, "radio", {"FRI": 3, "bent": 2}, seed=8, workers=1))
    in_memory = simulate.image_set("radio", {"FRI": 3, "bent": 2}, seed=8)
    np.testing.assert_array_equal(in_memory.images, on_disk.images)
    np.testing.assert_array_equal(in_memory.ids, on_disk.ids)
    for name in on_disk.masks:
        np.testing.assert_array_equal(in_memory.masks[name], on_disk.masks[name])


def test_a_simulated_bar_has_its_drawn_contrast_with_the_disc():
    """The bar is set by its contrast with the disc (``bar_contrast`` × the disc's surface brightness at 0.7 a along
    its axis, before the PSF), and the light share that follows is in the range measured for SDSS bars.  Read at the
    pixel nearest that point (no interpolation across the narrow bar), with the documented profiles — a Ferrers
    (1 − m²)ⁿ bar, an exponential disc — carrying the ratio from the pixel to the point."""
    from astroxai.simulate.galaxy import draw_galaxy_parameters

    shares = []
    for seed in range(10):
        p = draw_galaxy_parameters("barred", np.random.default_rng(seed))
        p.update(psf_fwhm_px=1e-3, spiral=False)  # no blur, no arms: the intrinsic contrast
        parts = galaxy_model(p)
        ub = 0.7 * p["bar_a_px"]  # in the disc plane, along the bar
        u, v = ub * np.cos(p["bar_angle"]), ub * np.sin(p["bar_angle"]) * p["cos_incl"]  # projected
        c, s = np.cos(p["pa"]), np.sin(p["pa"])
        col, row = int(round(p["x0"] + c * u - s * v)), int(round(p["y0"] + s * u + c * v))
        dx, dy = col - p["x0"], row - p["y0"]  # the pixel, back in the disc plane and the bar's frame
        pu, pv = c * dx + s * dy, (-s * dx + c * dy) / p["cos_incl"]
        cb, sb = np.cos(p["bar_angle"]), np.sin(p["bar_angle"])
        m2 = ((cb * pu + sb * pv) / p["bar_a_px"]) ** 2 + ((-sb * pu + cb * pv) / (p["bar_a_px"] *
                                                                                  p["bar_axis_ratio"])) ** 2
        to_point = ((1 - 0.49) / (1 - m2)) ** p["bar_ferrers_n"] * np.exp((ub - np.hypot(pu, pv)) /
                                                                             p["disc_scale_px"])
        measured = parts["bar"][row, col] / parts["disc"][row, col] * to_point
        assert measured == pytest.approx(p["bar_contrast"], rel=1e-6), seed
        shares.append(p["bar_fraction"])
    assert 0.05 < min(shares) and max(shares) < 0.35
