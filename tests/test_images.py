"""Image groundwork: ImageSet storage, FITS/PNG readers, and the radio-galaxy and barred-galaxy simulators checked
against what they promise (beam, noise, edge brightening, masks, bar lengths)."""

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from astroxai.images import ImageSet, read_image, read_images
from astroxai.images.imageset import ImageError
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
        # a Ferrers (1 − m²)² ellipse has ⟨u²⟩ = a²/8 along its major axis
        length = 2 * np.sqrt(8 * (values[1] - psf_var))
        assert length == pytest.approx(p["bar_length_px"], rel=0.12), seed
        assert p["bar_length_arcsec"] == pytest.approx(p["bar_length_px"] * GALAXY_PIXEL)
        difference = abs(angle - p["bar_pa"]) % np.pi
        assert min(difference, np.pi - difference) < np.radians(12), seed
        assert sim.masks["bar"].any()
    unbarred = simulate_galaxy("unbarred", np.random.default_rng(0))
    assert unbarred.params["bar_length_px"] == 0 and not unbarred.masks["bar"].any()
    with pytest.raises(ValueError, match="unknown galaxy class"):
        simulate_galaxy("spiral", np.random.default_rng(0))


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


def test_readers_keep_wcs_and_reject_bad_files_with_reasons(tmp_path):
    from PIL import Image as PILImage

    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [150.0, 2.0]
    wcs.wcs.crpix = [32.5, 32.5]
    wcs.wcs.cdelt = [-PIXEL_ARCSEC / 3600, PIXEL_ARCSEC / 3600]
    image = np.random.default_rng(1).normal(size=(64, 64)).astype(np.float32)
    fits.PrimaryHDU(image, header=wcs.to_header()).writeto(tmp_path / "a.fits")
    read = read_image(tmp_path / "a.fits")
    np.testing.assert_array_equal(read.data[0], image)
    back = WCS(fits.Header.fromstring(read.wcs))
    assert back.wcs.ctype[0] == "RA---TAN" and np.allclose(back.wcs.crval, [150.0, 2.0])
    PILImage.fromarray((np.linspace(0, 255, 64 * 64).reshape(64, 64)).astype(np.uint8)).save(tmp_path / "b.png")
    assert read_image(tmp_path / "b.png").data.shape == (1, 64, 64)
    (tmp_path / "c.fits").write_text("not a fits file")
    fits.PrimaryHDU(np.zeros((32, 32), np.float32)).writeto(tmp_path / "d.fits")
    nan = np.full((64, 64), np.nan, np.float32)
    fits.PrimaryHDU(nan).writeto(tmp_path / "e.fits")
    with pytest.raises(ImageError, match="c.fits"):
        read_image(tmp_path / "c.fits")
    data, fates = read_images([tmp_path / n for n in ("a.fits", "b.png", "c.fits", "d.fits", "e.fits")])
    assert [f["status"] for f in fates] == ["kept", "kept", "rejected", "rejected", "rejected"]
    assert "32×32" in fates[3]["reason"] and "finite" in fates[4]["reason"]
    assert len(data) == 2 and data.wcs[0] and data.wcs[1] == ""


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


def test_image_cnns_train_predict_and_round_trip(tmp_path):
    import torch

    from astroxai.models.cnn import CNNConfig
    from astroxai.models.image_cnn import ImageCNN, fit_image_cnn
    from astroxai.models.persist import load_model, probability_module, save_cnn
    from astroxai.simulate.images import simulate_image_sample

    module = ImageCNN((1, 64, 64), 4)
    p = module(torch.rand(3, 1, 64, 64))
    assert p.shape == (3, 4) and torch.allclose(p.sum(dim=1), torch.ones(3))
    # per-image scaling: a classifier sees shape, not flux
    x = torch.rand(2, 1, 64, 64)
    torch.testing.assert_close(module.eval()(x), module(1000 * x))
    with pytest.raises(ValueError, match="too small"):
        ImageCNN((1, 4, 4), 2)

    data = ImageSet.load(simulate_image_sample(tmp_path / "g", "galaxy", {"unbarred": 16, "barred": 16}, seed=2,
                                               workers=1))
    cfg = CNNConfig(kernel_size=3, max_epochs=3, patience=2, seed=0)
    train, val = np.arange(0, 32, 2), np.arange(1, 32, 2)
    model, history = fit_image_cnn(data.images[train], data.labels[train], data.images[val], data.labels[val],
                                   "classify", classes=data.classes, cfg=cfg)
    assert 1 <= len(history) <= 3 and set(model.predict(data.images)) <= set(data.classes)
    meta = {"task": "classify", "image_shape": list(data.shape), "classes": data.classes,
            "architecture": {"channels": [16, 32, 64], "kernel_size": 3, "hidden": 64, "dropout": 0.3}}
    save_cnn(tmp_path / "clf", model, meta, kind="torch-image-cnn")
    loaded, loaded_meta = load_model(tmp_path / "clf")
    assert loaded_meta["kind"] == "torch-image-cnn"
    np.testing.assert_array_equal(loaded.predict_proba(data.images), model.predict_proba(data.images))
    assert probability_module(loaded) is loaded.module

    barred = np.flatnonzero(data.labels == "barred")
    lengths = data.meta["bar_length_px"]
    regressor, _ = fit_image_cnn(data.images[barred[:10]], lengths[barred[:10]], data.images[barred[10:]],
                                 lengths[barred[10:]], "regress", cfg=cfg)
    values = regressor.predict(data.images[barred])
    assert values.shape == (16,) and np.isfinite(values).all()
    save_cnn(tmp_path / "reg", regressor, {**meta, "task": "regress", "classes": []}, kind="torch-image-cnn")
    again, _ = load_model(tmp_path / "reg")
    np.testing.assert_array_equal(again.predict(data.images[barred]), values)
