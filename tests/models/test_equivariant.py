"""The D4 group and its convolutions (models.dihedral), the equivariant classifier and test-time averaging: checked
against the group's own laws, against brute-force turning of the inputs, and through save/load and `astroxai train`."""

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from astroxai import simulate
from astroxai.cli import main
from astroxai.errors import InputError
from astroxai.models import EquivariantImageClassifier, ImageCNNClassifier, load_model
from astroxai.models.dihedral import (
    COMPOSE,
    INVERSE,
    ORDER,
    EquivariantFeatures,
    GroupConv2d,
    LiftingConv2d,
    average_views,
    transform,
)
from astroxai.models.image_cnn import ImageCNN


def test_the_eight_transforms_form_the_group_of_the_square():
    probe = torch.arange(16.0).reshape(4, 4)
    views = [transform(probe, g) for g in range(ORDER)]
    # eight different views, each a quarter turn and/or flip made with numpy
    numpy_views = [np.rot90(np.fliplr(probe.numpy()) if f else probe.numpy(), k) for f in (0, 1) for k in range(4)]
    for view, expected in zip(views, numpy_views, strict=True):
        np.testing.assert_array_equal(view.numpy(), expected)
    assert len({tuple(v.flatten().tolist()) for v in views}) == ORDER
    for g in range(ORDER):
        for h in range(ORDER):
            assert torch.equal(transform(transform(probe, h), g), views[COMPOSE[g, h]])
        assert COMPOSE[g, INVERSE[g]] == COMPOSE[INVERSE[g], g] == 0
    for a in range(ORDER):  # associativity
        for b in range(ORDER):
            assert all(COMPOSE[COMPOSE[a, b], c] == COMPOSE[a, COMPOSE[b, c]] for c in range(ORDER))


def _turned_maps(maps: torch.Tensor, g: int) -> torch.Tensor:
    """How (N, C, 8, H, W) maps must change when the input is turned by g: each orientation h takes the maps of
    orientation g⁻¹h, turned by g."""
    return torch.stack([transform(maps[:, :, COMPOSE[INVERSE[g], h]], g) for h in range(ORDER)], dim=2)


def test_group_convolutions_turn_their_maps_with_the_input():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 12, 12, dtype=torch.float64)
    lift, group = LiftingConv2d(3, 4, 3).double(), GroupConv2d(4, 2, 5).double()
    with torch.no_grad():
        lifted, convolved = lift(x), group(lift(x))
        for g in range(ORDER):
            torch.testing.assert_close(lift(transform(x, g)), _turned_maps(lifted, g), rtol=0, atol=1e-12)
            torch.testing.assert_close(group(lift(transform(x, g))), _turned_maps(convolved, g), rtol=0, atol=1e-12)
    # and they are convolutions: orientation 0 of the lifted maps is the plain convolution with the base filters
    plain = torch.nn.functional.conv2d(x, lift.weight, lift.bias, padding=1)
    torch.testing.assert_close(lifted[:, :, 0], plain, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="odd"):
        GroupConv2d(2, 2, 4)


def test_the_equivariant_network_gives_the_same_output_for_all_eight_views():
    torch.manual_seed(1)
    network = ImageCNN((1, 32, 32), 4, channels=(3, 4, 5), equivariant=True).eval()
    x = torch.rand(5, 1, 32, 32)
    with torch.no_grad():
        reference = network.raw(x)
        for g in range(1, ORDER):
            torch.testing.assert_close(network.raw(transform(x, g)), reference, rtol=1e-5, atol=1e-6)
    # a plain network is not invariant (the check above can fail)
    plain = ImageCNN((1, 32, 32), 4).eval()
    with torch.no_grad():
        assert (plain.raw(transform(x, 1)) - plain.raw(x)).abs().max() > 1e-4
    features = EquivariantFeatures(1, (2, 3), 3)
    assert features(x).shape == (5, 3)
    with pytest.raises(InputError, match="divisible"):
        ImageCNN((1, 36, 36), 4, channels=(2, 2, 2, 2), equivariant=True)
    with pytest.raises(InputError, match="square"):
        ImageCNN((1, 32, 16), 4, equivariant=True)


def test_average_views_is_the_mean_over_turned_copies():
    torch.manual_seed(2)
    network = ImageCNN((1, 16, 16), 3, channels=(4, 4), average_views=True).eval()
    x = torch.rand(4, 1, 16, 16)
    with torch.no_grad():
        single = [torch.softmax(network.raw(transform(x, g)), dim=1) for g in range(ORDER)]
        torch.testing.assert_close(network(x), torch.stack(single).mean(dim=0), rtol=1e-6, atol=1e-7)
        torch.testing.assert_close(average_views(network, x), network(x), rtol=1e-5, atol=1e-6)
        for g in range(ORDER):
            torch.testing.assert_close(network(transform(x, g)), network(x), rtol=1e-5, atol=1e-6)


@pytest.fixture(scope="module")
def radio():
    return simulate.image_set("radio", {"compact": 10, "FRII": 10, "FRI": 10}, seed=5)


def test_equivariant_classifier_trains_saves_and_loads(radio, tmp_path):
    model = EquivariantImageClassifier(channels=(2, 4, 4), max_epochs=2, seed=3).fit(radio)
    images = torch.as_tensor(radio.images[:6], dtype=torch.float32)
    with torch.no_grad():
        for g in range(ORDER):
            torch.testing.assert_close(model.module_(transform(images, g)), model.module_(images), rtol=1e-5,
                                       atol=1e-6)
    model.save(tmp_path / "eq")
    meta = json.loads((tmp_path / "eq" / "model.json").read_text())
    assert meta["kind"] == "torch-image-equivariant" and meta["architecture"]["equivariant"] is True
    loaded = load_model(tmp_path / "eq")
    assert type(loaded) is EquivariantImageClassifier
    np.testing.assert_array_equal(loaded.predict_proba(radio), model.predict_proba(radio))
    # a model.json whose architecture contradicts its kind is refused
    meta["architecture"]["equivariant"] = False
    (tmp_path / "eq" / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="architecture does not match"):
        load_model(tmp_path / "eq")


def test_train_command_takes_equivariant_and_average_views(radio, tmp_path):
    radio.save(tmp_path / "radio.h5")
    runner = CliRunner()
    result = runner.invoke(main, ["train", str(tmp_path / "radio.h5"), "--model", "equivariant", "--max-epochs", "2",
                                  "--out", str(tmp_path / "eq")])
    assert result.exit_code == 0, result.output
    meta = json.loads((tmp_path / "eq" / "model.json").read_text())
    assert meta["kind"] == "torch-image-equivariant"
    assert meta["training"]["dataset_sha256"] == radio.content_sha256()
    command = meta["training"]["command"]
    assert command.startswith("astroxai train ") and "model_kind=equivariant" in command
    result = runner.invoke(main, ["train", str(tmp_path / "radio.h5"), "--average-views", "--max-epochs", "2",
                                  "--out", str(tmp_path / "views")])
    assert result.exit_code == 0, result.output
    assert load_model(tmp_path / "views").average_views is True
    assert isinstance(load_model(tmp_path / "views"), ImageCNNClassifier)
    result = runner.invoke(main, ["train", str(tmp_path / "radio.h5"), "--model", "equivariant", "--task", "regress",
                                  "--out", str(tmp_path / "no")])
    assert result.exit_code != 0 and "classifies" in result.output
