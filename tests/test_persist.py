import json

import numpy as np
import pytest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.svm import SVC

from astroxai.models.persist import (
    META_FILE,
    MODEL_FILE,
    GridMismatchError,
    ModelLoadError,
    check_grid,
    load_model,
    save_model,
)
from astroxai.models.svm import fit_quietly, make_svm


def _data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 20))
    y = np.repeat(["type1", "type2", "intermediate"], 30)
    X[y == "type1", :5] += 1.5
    return X, y


@pytest.mark.parametrize("kernel", ["linear", "rbf", "poly2", "poly3"])
def test_probabilities_bit_identical_after_save_and_load(tmp_path, kernel):
    X, y = _data()
    model = fit_quietly(make_svm(kernel, 1.0, 0.05, n_features=X.shape[1], probability=True), X, y)
    save_model(tmp_path / "m", model, {"grid": [1.0, 2.0]})
    loaded, meta = load_model(tmp_path / "m")
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert meta["classes"] == ["intermediate", "type1", "type2"] and meta["grid"] == [1.0, 2.0]


def test_not_a_skops_file(tmp_path):
    X, y = _data()
    save_model(tmp_path / "m", make_pipeline(StandardScaler(), SVC()).fit(X, y))
    (tmp_path / "m" / MODEL_FILE).write_bytes(b"definitely not a zip archive")
    meta = json.loads((tmp_path / "m" / META_FILE).read_text())
    meta["sha256"] = __import__("hashlib").sha256(b"definitely not a zip archive").hexdigest()
    (tmp_path / "m" / META_FILE).write_text(json.dumps(meta))
    with pytest.raises(ModelLoadError, match="not a skops model"):
        load_model(tmp_path / "m")


def test_changed_file_is_refused(tmp_path):
    X, y = _data()
    save_model(tmp_path / "m", make_pipeline(StandardScaler(), SVC()).fit(X, y))
    with open(tmp_path / "m" / MODEL_FILE, "ab") as handle:
        handle.write(b"\0")
    with pytest.raises(ModelLoadError, match="checksum"):
        load_model(tmp_path / "m")


def _double(x):
    return 2 * x


def test_untrusted_types_are_refused(tmp_path):
    X, y = _data()
    model = make_pipeline(FunctionTransformer(_double), SVC()).fit(X, y)
    save_model(tmp_path / "m", model)
    with pytest.raises(ModelLoadError, match="untrusted types"):
        load_model(tmp_path / "m")


def test_missing_folder(tmp_path):
    with pytest.raises(ModelLoadError, match="not a model folder"):
        load_model(tmp_path / "nothing")


def test_grid_check():
    meta = {"wavelength": np.linspace(3700, 5300, 50).tolist(), "reduction": {"method": "linear"}}
    check_grid(meta, np.linspace(3700, 5300, 50))
    with pytest.raises(GridMismatchError, match="--n-wave 50"):
        check_grid(meta, np.linspace(3700, 5300, 60))
    with pytest.raises(GridMismatchError, match="--range 3700 5300"):
        check_grid(meta, np.linspace(3700, 5300, 50) + 0.01)
