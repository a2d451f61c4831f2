"""The image CNNs: architecture, per-image scaling, the prepared space the explainers use, training, persistence."""

import numpy as np
import pytest
import torch

from astroxai.data import ImageSet
from astroxai.models import Estimator, ImageCNNClassifier, ImageCNNRegressor
from astroxai.models.dihedral import random_view
from astroxai.models.image_cnn import ImageCNN
from astroxai.simulate.images import simulate_image_sample


def test_image_cnns_train_predict_and_round_trip(tmp_path):
    module = ImageCNN((1, 64, 64), 4)
    p = module(torch.rand(3, 1, 64, 64))
    assert p.shape == (3, 4) and torch.allclose(p.sum(dim=1), torch.ones(3))
    # per-image scaling: a classifier sees shape, not flux
    x = torch.rand(2, 1, 64, 64)
    torch.testing.assert_close(module.eval()(x), module(1000 * x))
    with pytest.raises(ValueError, match="too small"):
        ImageCNN((1, 4, 4), 2)
    with pytest.raises(ValueError, match="task"):
        ImageCNN((1, 64, 64), 2, task="clasify")

    data = ImageSet.load(simulate_image_sample(tmp_path / "g", "galaxy", {"unbarred": 16, "barred": 16}, seed=2,
                                               workers=1))
    model = ImageCNNClassifier(max_epochs=3, patience=2, seed=0).fit(data)
    assert 1 <= len(model.history_) <= 3 and set(model.predict(data)) <= set(data.classes)
    model.save(tmp_path / "clf")
    loaded = Estimator.load(tmp_path / "clf")
    assert isinstance(loaded, ImageCNNClassifier) and loaded.classes_.tolist() == data.classes
    np.testing.assert_array_equal(loaded.predict_proba(data), model.predict_proba(data))
    np.testing.assert_array_equal(loaded.split_.test, model.split_.test)

    regressor = ImageCNNRegressor(max_epochs=3, patience=2, seed=0).fit(data)
    barred = np.flatnonzero(data.labels == "barred")
    values = regressor.predict(data.images[barred])
    assert values.shape == (16,) and np.isfinite(values).all()
    assert set(regressor.split_.train) <= set(data.ids)
    regressor.save(tmp_path / "reg")
    again = ImageCNNRegressor.load(tmp_path / "reg")
    np.testing.assert_array_equal(again.predict(data.images[barred]), values)
    assert again.target == "bar_length_px" and again.task == "regress"
    with pytest.raises(ValueError, match="holds a ImageCNNRegressor"):
        ImageCNNClassifier.load(tmp_path / "reg")


def test_constructor_refuses_a_typo_before_any_training():
    with pytest.raises(ValueError, match="stretch"):
        ImageCNNClassifier(stretch="asinhh")
    with pytest.raises(ValueError, match="dropout"):
        ImageCNNClassifier(dropout=1.5)
    with pytest.raises(ValueError, match="target"):
        ImageCNNRegressor(target="")


def test_a_regressor_needs_its_column():
    data = ImageSet(np.random.default_rng(0).random((8, 1, 16, 16)), ["a", "b"] * 4, [str(i) for i in range(8)])
    with pytest.raises(ValueError, match="no column 'bar_length_px'"):
        ImageCNNRegressor(max_epochs=1).fit(data)


def test_prepared_module_is_the_network_and_its_gradient_is_the_true_one_off_the_peak():
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
        out = random_view(batch, rng)
        match = [k for k, s in enumerate(symmetries) if torch.equal(out, s)]
        assert len(match) == 1
        seen.add(match[0])
    assert seen == set(range(8))




def test_regressor_output_is_scaled_to_its_training_targets(tmp_path):
    """The regressor's last layer predicts standardised values: its output is offset + scale × that, with the
    training targets' mean and spread, saved in model.json and checked when loaded."""
    import json

    from astroxai.models.persist import ModelLoadError

    data = ImageSet.load(simulate_image_sample(tmp_path / "g", "galaxy", {"unbarred": 8, "barred": 24}, seed=4,
                                               workers=1))
    regressor = ImageCNNRegressor(max_epochs=1, patience=1, seed=0).fit(data)
    train = regressor.measured(data, regressor.split_.rows(data.ids, "train"))
    lengths = data.meta["bar_length_px"][train].astype(np.float32)
    scaling = regressor.output_scaling_
    assert scaling["target_offset"] == pytest.approx(float(np.mean(lengths)), rel=1e-6)
    assert scaling["target_scale"] == pytest.approx(float(np.std(lengths)), rel=1e-6)
    net = regressor.module_
    z = net.prepare(torch.as_tensor(data.images[:4]))
    head = net.head(net.features(z))[:, 0]
    torch.testing.assert_close(net.raw_prepared(z), head * scaling["target_scale"] + scaling["target_offset"])
    # after one epoch the predictions sit around the mean length, not around the unscaled network's 0
    assert abs(float(np.median(regressor.predict(data.images[train]))) - scaling["target_offset"]) < \
        2 * scaling["target_scale"]
    regressor.save(tmp_path / "reg")
    meta = json.loads((tmp_path / "reg" / "model.json").read_text())
    assert meta["architecture"]["target_scale"] == pytest.approx(scaling["target_scale"])
    again = ImageCNNRegressor.load(tmp_path / "reg")
    np.testing.assert_array_equal(again.predict(data.images), regressor.predict(data.images))
    meta["architecture"]["target_scale"] = -1.0
    (tmp_path / "reg" / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelLoadError, match="positive scale"):
        ImageCNNRegressor.load(tmp_path / "reg")
    with pytest.raises(ValueError, match="positive scale"):
        ImageCNN((1, 16, 16), 1, task="regress", target_scale=float("nan"))


def test_train_picks_the_regressor_settings_for_a_regression():
    """``astroxai train --task regress`` (estimator_for) trains the regressor with REGRESSOR_TRAINING, the classifier
    with the estimator's defaults; --max-epochs overrides either."""
    from astroxai.models.image_cnn import REGRESSOR_TRAINING
    from astroxai.workflows.train import ModelChoice, estimator_for

    data = ImageSet(np.zeros((4, 1, 16, 16)), ["a", "b"] * 2, [str(i) for i in range(4)])
    regressor = estimator_for(data, ModelChoice(task="regress"))
    assert isinstance(regressor, ImageCNNRegressor)
    assert {k: getattr(regressor, k) for k in REGRESSOR_TRAINING} == REGRESSOR_TRAINING
    assert estimator_for(data, ModelChoice(task="regress", max_epochs=3)).max_epochs == 3
    classifier = estimator_for(data)
    assert isinstance(classifier, ImageCNNClassifier)
    assert (classifier.max_epochs, classifier.dropout) == (100, ImageCNNClassifier().dropout)


@pytest.mark.parametrize("views", [False, True])
def test_the_channels_last_path_without_gradients_equals_the_default_layout(views):
    """Predictions and the perturbation explainers run the convolutions in channels-last (no gradient taken); the
    path with gradients keeps torch's default layout.  Both give the same outputs up to float32 round-off (1e-6 of
    probabilities that sum to 1), for one image and for a batch, and the fast path really is channels-last."""
    torch.manual_seed(3)
    module = ImageCNN((1, 32, 32), 4, average_views=views).eval()
    for n in (1, 9):
        x = torch.rand(n, 1, 32, 32, dtype=torch.float64)
        with torch.no_grad():
            fast = module(x)
        default = module(x.clone().requires_grad_(True)).detach()  # a gradient may follow: the default layout
        assert not torch.equal(fast, torch.zeros_like(fast))
        torch.testing.assert_close(fast, default, rtol=0, atol=1e-6)
    pooled = []  # every max-pool of the fast path takes a channels-last tensor (the first one once took the default)
    hooks = [layer.register_forward_pre_hook(lambda _, args: pooled.append(
        args[0].is_contiguous(memory_format=torch.channels_last) and not args[0].is_contiguous()))
        for layer in module.features if isinstance(layer, torch.nn.MaxPool2d)]
    with torch.no_grad():
        z = module._convolved(torch.rand(2, 1, 32, 32))
    for hook in hooks:
        hook.remove()
    assert pooled == [True, True, True]
    assert z.is_contiguous(memory_format=torch.channels_last) and not z.is_contiguous()


def test_a_large_batch_without_gradients_runs_in_parts_and_gives_the_whole_batchs_outputs(monkeypatch):
    """Without gradients a batch larger than ``EVAL_CHUNK`` runs in near-equal parts (75 images: three of 25, none
    of one image) whose outputs, put back in order, are the whole batch's to float32 round-off (1e-6 of probabilities
    that sum to 1; bit for bit on the machine measured), in channels-last."""
    torch.manual_seed(5)
    module = ImageCNN((1, 32, 32), 4).eval()
    x = torch.rand(75, 1, 32, 32)
    sizes = []
    hook = module.features[2].register_forward_pre_hook(lambda _, args: sizes.append(len(args[0])))
    with torch.no_grad():
        parts, convolved = module(x), module._convolved(module.prepare(x))
    hook.remove()
    assert sizes == [25, 25, 25] * 2 and module.EVAL_CHUNK == 32
    assert convolved.is_contiguous(memory_format=torch.channels_last) and convolved.shape == (75, 64, 4, 4)
    monkeypatch.setattr(ImageCNN, "EVAL_CHUNK", len(x))  # the whole batch in one pass
    with torch.no_grad():
        whole = module(x)
    assert not torch.equal(parts[:25], parts[25:50])
    torch.testing.assert_close(parts, whole, rtol=0, atol=1e-6)  # each image's own outputs, in their order


def test_input_gradients_in_evaluation_run_in_parts_and_equal_the_whole_batchs(monkeypatch):
    """In evaluation the gradient path (saliency, SmoothGrad's noisy copies, integrated gradients' steps) runs a batch
    larger than ``EVAL_CHUNK`` in near-equal parts too, in the default layout; the input gradients equal the whole
    batch's to float32 round-off (1e-5 of the largest; bit for bit on the machine measured).  A training batch
    stays whole."""
    torch.manual_seed(6)
    module = ImageCNN((1, 32, 32), 4).eval()
    x = torch.rand(75, 1, 32, 32)
    sizes = []
    hook = module.features[0].register_forward_pre_hook(lambda _, args: sizes.append(len(args[0])))

    def gradients():
        given = x.clone().requires_grad_(True)
        return torch.autograd.grad(module(given)[:, 1].sum(), given)[0]

    parts = gradients()
    module.train()
    module(x.clone().requires_grad_(True))  # a training batch
    module.eval()
    assert sizes == [25, 25, 25, 75]
    monkeypatch.setattr(ImageCNN, "EVAL_CHUNK", len(x))
    whole = gradients()
    hook.remove()
    assert sizes[4:] == [75]
    scale = float(whole.abs().max())
    assert scale > 0
    torch.testing.assert_close(parts, whole, rtol=0, atol=1e-5 * scale)
