"""Image workflows (issue 6): train / evaluate / explain image CNNs through the library and the CLI, ground-truth
overlap scores against brute force, the bar-length study's table against its own per-galaxy predictions, and the
radio and galaxy runs end to end on tiny samples."""

import csv
import json

import h5py
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from astroxai.cli import main
from astroxai.images import ImageSet
from astroxai.simulate.images import simulate_image_sample


def rows_of(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def radio(tmp_path_factory):
    folder = tmp_path_factory.mktemp("radio")
    path = simulate_image_sample(folder, "radio", dict.fromkeys(("compact", "FRI", "FRII", "bent"), 14), seed=5,
                                 workers=1)
    return path


@pytest.fixture(scope="module")
def trained(radio, tmp_path_factory):
    from astroxai.images.study import ImageTrainConfig, train_image_study

    out = tmp_path_factory.mktemp("models") / "radio"
    summary = train_image_study(ImageSet.load(radio), out, ImageTrainConfig(max_epochs=3, patience=2, seed=1),
                                echo=lambda *_: None)
    return out, summary


def test_prepared_module_is_the_network_and_its_gradient_is_the_true_one_off_the_peak():
    from astroxai.models.image_cnn import ImageCNN, dihedral

    torch.manual_seed(0)
    module = ImageCNN((1, 16, 16), 3, stretch="asinh").double().eval()
    x = torch.rand(2, 1, 16, 16, dtype=torch.float64) + 0.1
    torch.testing.assert_close(module(x), module.on_prepared()(module.prepare(x)))
    # away from the brightest pixel the scale does not move, so autograd (scale detached) = the true derivative
    x0 = x[:1].clone().requires_grad_(True)
    module(x0)[0, 1].backward()
    peak = int(x[0].flatten().argmax())
    for pixel in (0, 37, 200):
        if pixel == peak:
            continue
        step = torch.zeros_like(x0).flatten()
        step[pixel] = 1e-6
        step = step.reshape(x0.shape)
        with torch.no_grad():
            numeric = (module(x[:1] + step)[0, 1] - module(x[:1] - step)[0, 1]) / 2e-6
        assert float(x0.grad.flatten()[pixel]) == pytest.approx(float(numeric), rel=1e-3, abs=1e-6)
    # augmentation: every output is one of the square's eight symmetries of the batch
    batch = torch.arange(16.0).reshape(1, 1, 4, 4)
    symmetries = [torch.rot90(batch, k, dims=(2, 3)) for k in range(4)]
    symmetries += [torch.flip(s, dims=(3,)) for s in symmetries]
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(64):
        out = dihedral(batch, rng)
        match = [k for k, s in enumerate(symmetries) if torch.equal(out, s)]
        assert len(match) == 1
        seen.add(match[0])
    assert seen == set(range(8))


def test_component_scores_are_the_brute_force_shares():
    from astroxai.images.study import component_scores

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


def test_trained_classifier_folder_tables_and_evaluate(trained, radio, tmp_path):
    from astroxai.images.study import evaluate_image_model
    from astroxai.models.persist import load_model

    folder, summary = trained
    model, meta = load_model(folder)
    assert meta["kind"] == "torch-image-cnn" and meta["task"] == "classify"
    assert meta["architecture"]["stretch"] == "asinh"
    split = json.loads((folder / "split.json").read_text())
    data = ImageSet.load(radio)
    test = np.isin(data.ids, split["test"])
    accuracy = float(np.mean(model.predict(data.images[test]) == data.labels[test]))
    assert summary["test"]["accuracy"] == pytest.approx(accuracy)
    assert json.loads((folder / "test_metrics.json").read_text())["accuracy"] == pytest.approx(accuracy)
    assert (folder / "figures" / "confusion.png").exists() and (folder / "figures" / "history.png").exists()
    again = evaluate_image_model(folder, data, tmp_path / "eval", part="test", echo=lambda *_: None)
    assert again["metrics"]["accuracy"] == pytest.approx(accuracy)
    predictions = rows_of(tmp_path / "eval" / "predictions.csv")
    assert {r["id"] for r in predictions} == set(split["test"])


def test_explain_images_scores_files_and_rejects_bad_inputs(trained, radio, tmp_path):
    from PIL import Image

    from astroxai.images.study import explain_image_inputs

    folder, _ = trained
    data = ImageSet.load(radio)
    small = data.subset(np.arange(6))
    small_path = small.save(tmp_path / "small.h5")
    good_fits = radio.parent / "cutouts" / f"{data.ids[10]}.fits"
    broken = tmp_path / "broken.fits"
    broken.write_bytes(b"not a fits file")
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(tmp_path / "tiny.png")
    result = explain_image_inputs(folder, [small_path, good_fits, broken, tmp_path / "tiny.png"], tmp_path / "ex",
                                  method="occlusion", echo=lambda *_: None)
    fates = {r["input"]: r for r in rows_of(tmp_path / "ex" / "inputs.csv")}
    assert fates[str(broken)]["status"] == "rejected" and "broken.fits" in fates[str(broken)]["reason"]
    assert "64×64" in fates[str(tmp_path / "tiny.png")]["reason"]
    assert fates[str(good_fits)]["status"] == "kept"
    rows = rows_of(tmp_path / "ex" / "explanations.csv")
    assert len(rows) == 7 and rows[-1]["id"] == data.ids[10]
    with h5py.File(tmp_path / "ex" / "explanations.h5") as handle:
        maps = handle["maps"][()]
    # the ground-truth shares are those of the stored maps on the simulator's masks (the FITS file has no masks)
    for j in range(6):
        for name, mask in small.masks.items():
            if mask[j].any():
                weight = np.abs(maps[j, 0].astype(np.float64))
                assert float(rows[j][f"mass_{name}"]) == pytest.approx(weight[mask[j]].sum() / weight.sum(),
                                                                       rel=1e-3, abs=1e-5)
    assert result["maps"].shape == (7, 1, 64, 64)
    assert (tmp_path / "ex" / "figures" / "gallery_occlusion.png").exists()
    with pytest.raises(ValueError, match="no usable image"):
        explain_image_inputs(folder, [broken], tmp_path / "none", echo=lambda *_: None)


def test_cli_train_evaluate_explain_images(radio, tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["train", str(radio), "--out", str(tmp_path / "m"), "--max-epochs", "2"])
    assert result.exit_code == 0, result.output
    assert "image classifier" in result.output
    result = runner.invoke(main, ["evaluate", str(tmp_path / "m"), str(radio), "--out", str(tmp_path / "e"),
                                  "--part", "test"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "e" / "metrics.csv").exists()
    result = runner.invoke(main, ["explain", str(tmp_path / "m"), str(radio.parent / "cutouts"), "--out",
                                  str(tmp_path / "x"), "--method", "lime", "--max-figures", "2"])
    assert result.exit_code == 0, result.output
    assert len(rows_of(tmp_path / "x" / "explanations.csv")) == 56
    result = runner.invoke(main, ["explain", str(tmp_path / "m"), str(radio), "--out", str(tmp_path / "y"),
                                  "--target", "nonsense"])
    assert result.exit_code != 0 and "unknown target class" in result.output


def test_regressor_and_bar_study_tables_agree_with_their_predictions(tmp_path):
    from astroxai.images.study import (
        ImageTrainConfig,
        bar_length_study,
        image_attribute,
        image_split,
        prepared,
        regression_metrics,
        train_image_study,
    )
    from astroxai.models.persist import load_model

    path = simulate_image_sample(tmp_path / "g", "galaxy", {"unbarred": 20, "barred": 30}, seed=4, workers=1)
    data = ImageSet.load(path)
    cfg = ImageTrainConfig(max_epochs=2, patience=2, seed=3)
    train_image_study(data, tmp_path / "clf", cfg, echo=lambda *_: None)
    summary = train_image_study(data, tmp_path / "reg", ImageTrainConfig(task="regress", max_epochs=2, seed=3),
                                echo=lambda *_: None)
    few = train_image_study(data, tmp_path / "few", ImageTrainConfig(task="regress", max_epochs=2, seed=3,
                                                                     max_measured=5), echo=lambda *_: None)
    predictions = rows_of(tmp_path / "reg" / "test_predictions.csv")
    split = image_split(data, 3)
    barred_test = [i for i in data.ids[split.test] if data.meta["bar_length_px"][data.ids == i][0] > 0]
    assert sorted(r["id"] for r in predictions) == sorted(barred_test)  # the classifier's test galaxies, barred
    true = np.array([float(r["true"]) for r in predictions])
    assert summary["test"]["rmse"] == pytest.approx(regression_metrics(true, [float(r["predicted"])
                                                                              for r in predictions])["rmse"], rel=1e-3)
    classifier, _ = load_model(tmp_path / "clf")
    regressor, meta = load_model(tmp_path / "reg")
    few_regressor, few_meta = load_model(tmp_path / "few")
    assert few_meta["training"]["n_images"] == 5 and few["test"]["n"] == summary["test"]["n"]
    n_all = meta["training"]["n_images"]
    study = bar_length_study(classifier, {n_all: regressor, 5: few_regressor}, data, split, tmp_path / "bars",
                             echo=lambda *_: None)
    table = {r["method"]: r for r in rows_of(tmp_path / "bars" / "bars.csv")}
    per_galaxy = rows_of(tmp_path / "bars" / "bar_predictions.csv")
    true = np.array([float(r["true_px"]) for r in per_galaxy])
    for method, row in table.items():
        values = np.array([float(r[method.replace(" ", "_")]) for r in per_galaxy])
        assert float(row["r"]) == pytest.approx(np.corrcoef(values, true)[0, 1], abs=1e-3)
        assert float(row["rmse_px"]) == pytest.approx(np.sqrt(np.mean((values - true) ** 2)), abs=1e-3)
    assert float(table[f"direct regression CNN ({n_all} lengths)"]["paper_r"]) == 0.59
    assert set(table) == {f"{m} ({n} lengths)" for n in (n_all, 5) for m in ("SmoothGrad + moments",
                                                                             "SmoothGrad + threshold",
                                                                             "direct regression CNN")}
    # the few-lengths line is fitted on the first 5 barred training galaxies only
    from astroxai.explain.bars import bar_lengths, calibrate

    barred_train = split.train[data.meta["bar_length_px"][split.train] > 0][:5]
    module, X = prepared(classifier, data.images[barred_train])
    maps = image_attribute(module, X, data.images[barred_train], np.ones(5, int), "smoothgrad", seed=0).maps
    slope, intercept = calibrate(bar_lengths(maps), data.meta["bar_length_px"][barred_train])
    assert study["calibration"]["SmoothGrad + moments (5 lengths)"]["slope"] == pytest.approx(slope, rel=1e-3)
    assert (tmp_path / "bars" / "figures" / "bar_measurements.png").exists()


@pytest.mark.parametrize("kind", ["radio", "galaxy"])
def test_image_run_end_to_end(kind, tmp_path):
    from astroxai.report import check_report

    config = tmp_path / "config.json"
    config.write_text(json.dumps({"n_per_class": 16, "max_epochs": 2, "trust_images": 4,
                                  "trust_methods": ["saliency", "occlusion"]}))
    result = CliRunner().invoke(main, ["run", "--kind", kind, "--out", str(tmp_path / "run"), "--config",
                                       str(config)])
    assert result.exit_code == 0, result.output
    run = tmp_path / "run"
    record = json.loads((run / "run.json").read_text())
    assert record["config"]["kind"] == kind and record["config"]["max_epochs"] == 2
    trust = rows_of(run / "trust.csv")
    assert [r["method"] for r in trust] == ["saliency", "occlusion"]
    overlap = rows_of(run / "explain" / "overlap.csv")
    assert {r["method"] for r in overlap} == ({"lime", "smoothgrad"})
    assert (run / "bars" / "bars.csv").exists() == (kind == "galaxy")
    assert check_report(run / "report.html") == []
    text = (run / "report.html").read_text()
    assert "Explanations" in text and ("Bar lengths" in text) == (kind == "galaxy")


def test_read_images_rejects_a_channel_count_the_model_does_not_take(tmp_path):
    from PIL import Image

    from astroxai.images.imageset import read_images

    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "rgb.png")
    Image.fromarray(np.full((8, 8), 7, np.uint8)).save(tmp_path / "grey.png")
    found, fates = read_images([tmp_path / "rgb.png", tmp_path / "grey.png"], shape=(8, 8), channels=1)
    assert [f["status"] for f in fates] == ["rejected", "kept"]
    assert "3 channels, the set needs 1" in fates[0]["reason"]
    assert found.shape == (1, 8, 8) and found.ids.tolist() == ["grey"]
