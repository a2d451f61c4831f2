"""Tampered model folders (a folder changed by hand or by an attacker): a swapped estimator with a recomputed checksum,
a grid shifted by 500 Å, NaN parameters and NaN network weights are refused on load with a reason; the untouched folder
loads."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from astroxai.models import Estimator
from astroxai.models.persist import ModelLoadError, sha256


def _copy(folder, tmp_path, name="copy"):
    target = tmp_path / name
    shutil.copytree(folder, target)
    return target, json.loads((target / "model.json").read_text())


def _write(folder, meta):
    (folder / "model.json").write_text(json.dumps(meta))


def test_a_swapped_estimator_with_a_fresh_checksum_is_refused(trained_model, tmp_path):
    import skops.io as sio
    from sklearn.dummy import DummyClassifier

    folder, meta = _copy(trained_model, tmp_path)
    dummy = DummyClassifier(strategy="constant", constant="type2").fit(np.zeros((3, 2)),
                                                                       ["type2", "type1", "intermediate"])
    sio.dump(dummy, folder / "model.skops")
    meta["sha256"] = sha256(folder / "model.skops")
    _write(folder, meta)
    with pytest.raises(ModelLoadError, match="not the Pipeline"):
        Estimator.load(folder)


def test_a_shifted_grid_nan_sigmoids_and_a_reversed_grid_are_refused(trained_model, tmp_path):
    assert Estimator.load(trained_model).classes_.size == 3  # the untouched folder loads
    folder, meta = _copy(trained_model, tmp_path, "shifted")
    meta["wavelength"] = [w + 500 for w in meta["wavelength"]]
    _write(folder, meta)
    with pytest.raises(ModelLoadError, match="grid differs from the one saved inside the model file"):
        Estimator.load(folder)
    folder, meta = _copy(trained_model, tmp_path, "nan")
    meta["probability"]["A"][0] = float("nan")
    _write(folder, meta)
    with pytest.raises(ModelLoadError, match="non-finite Platt A"):
        Estimator.load(folder)
    folder, meta = _copy(trained_model, tmp_path, "reversed")
    meta["wavelength"] = meta["wavelength"][::-1]
    _write(folder, meta)
    with pytest.raises(ModelLoadError, match="grid differs|strictly increasing"):
        Estimator.load(folder)


def test_nan_network_weights_and_a_shifted_network_grid_are_refused(cnn_model, tmp_path):
    import torch

    folder, meta = _copy(cnn_model, tmp_path, "shifted")
    meta["wavelength"] = [w + 500 for w in meta["wavelength"]]
    _write(folder, meta)
    with pytest.raises(ModelLoadError, match="grid differs"):
        Estimator.load(folder)

    folder, meta = _copy(cnn_model, tmp_path)
    state = torch.load(folder / "model.pt", weights_only=True)
    name = next(k for k, v in state.items() if v.is_floating_point())
    state[name].view(-1)[0] = float("nan")
    torch.save(state, folder / "model.pt")
    meta["sha256"] = sha256(folder / "model.pt")
    _write(folder, meta)
    with pytest.raises(ModelLoadError, match="non-finite weights"):
        Estimator.load(folder)
