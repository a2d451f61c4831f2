"""Model folders: every model round-trips exactly through save and Estimator.load; damaged, swapped or untrusted files
are refused with a message that names the file."""

import json

import numpy as np
import pytest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.svm import SVC

from astroxai.data import SpectraSet
from astroxai.models import Estimator, GridMismatchError, ModelLoadError, SVMClassifier, load_model
from astroxai.models.persist import META_FILE, SKOPS_FILE, check_grid, dump_skops, sha256
from astroxai.models.svm import fit_quietly
from tests.helpers import libsvm_probability_svm


def _data():
    rng = np.random.default_rng(0)
    y = np.repeat(["type1", "type2", "intermediate"], 30)
    X = rng.normal(size=(90, 20)) + 1
    X[y == "type1", :5] += 1.5
    return SpectraSet(X, np.linspace(3800, 5200, 20), y, [f"s{i}" for i in range(90)])


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("svm") / "m"
    SVMClassifier(kernels=("rbf",), quick=True).fit(_data()).save(out, {"note": "kept"})
    return out


@pytest.mark.parametrize("kernel", ["linear", "rbf", "poly2", "poly3"])
def test_probabilities_bit_identical_after_save_and_load(tmp_path, kernel):
    data = _data()
    model = SVMClassifier(kernels=(kernel,), quick=True).fit(data)
    model.save(tmp_path / "m", {"note": "kept"})
    loaded = Estimator.load(tmp_path / "m")
    assert isinstance(loaded, SVMClassifier) and loaded.kernel_ == kernel
    np.testing.assert_array_equal(loaded.predict_proba(data), model.predict_proba(data))
    np.testing.assert_array_equal(loaded.predict(data), model.predict(data))
    np.testing.assert_array_equal(loaded.baseline_, model.baseline_)
    np.testing.assert_array_equal(loaded.split_.test, model.split_.test)
    assert loaded.get_params() == model.get_params() and loaded.metadata_["note"] == "kept"


def _rewrite_meta(folder, **changes):
    meta = json.loads((folder / META_FILE).read_text())
    meta.update(changes)
    (folder / META_FILE).write_text(json.dumps(meta))


def test_not_a_skops_file(folder, tmp_path):
    import shutil

    copy = shutil.copytree(folder, tmp_path / "m")
    (copy / SKOPS_FILE).write_bytes(b"definitely not a zip archive")
    _rewrite_meta(copy, sha256=sha256(copy / SKOPS_FILE))
    with pytest.raises(ModelLoadError, match="not a skops model"):
        load_model(copy)


def test_changed_file_is_refused(folder, tmp_path):
    import shutil

    copy = shutil.copytree(folder, tmp_path / "m")
    with open(copy / SKOPS_FILE, "ab") as handle:
        handle.write(b"\0")
    with pytest.raises(ModelLoadError, match="checksum"):
        load_model(copy)


def _double(x):
    return 2 * x


def test_untrusted_types_are_refused(folder, tmp_path):
    import shutil

    copy = shutil.copytree(folder, tmp_path / "m")
    data = _data()
    hostile = make_pipeline(FunctionTransformer(_double), SVC()).fit(data.flux, data.labels)
    _rewrite_meta(copy, sha256=dump_skops(hostile, copy / SKOPS_FILE))
    with pytest.raises(ModelLoadError, match="untrusted types"):
        load_model(copy)


def test_broken_metadata_is_a_load_error(folder, tmp_path):
    import shutil

    copy = shutil.copytree(folder, tmp_path / "m")
    (copy / META_FILE).write_text("{not json")
    with pytest.raises(ModelLoadError, match="not valid JSON"):
        load_model(copy)
    shutil.copy(folder / META_FILE, copy / META_FILE)
    _rewrite_meta(copy, wavelength="all of them")
    with pytest.raises(ModelLoadError, match="'wavelength' has the wrong type"):
        load_model(copy)
    _rewrite_meta(copy, kind="a-model-nobody-wrote", wavelength=json.loads((folder / META_FILE).read_text())[
        "wavelength"])
    with pytest.raises(ModelLoadError, match="unknown model kind"):
        load_model(copy)


def test_missing_folder(tmp_path):
    with pytest.raises(ModelLoadError, match="not a model folder"):
        load_model(tmp_path / "nothing")


def test_a_folder_written_before_the_estimator_api_still_loads(tmp_path):
    """Folders of astroxai 0.1 held an SVC fitted with probability=True and no Platt parameters in model.json."""
    data = _data()
    pipeline = fit_quietly(libsvm_probability_svm("linear", 0.5, n_features=20), data.flux.astype(float), data.labels)
    folder = tmp_path / "old"
    folder.mkdir()
    meta = {"format": "astroxai.model", "kind": "sklearn", "classes": ["intermediate", "type1", "type2"],
            "sha256": dump_skops(pipeline, folder / SKOPS_FILE), "wavelength": data.wavelength.tolist(),
            "kernel": "linear", "config": {"classes": 3, "seed": 0}, "params": {"C": 0.5, "gamma": None}}
    (folder / META_FILE).write_text(json.dumps(meta))
    model = load_model(folder)
    np.testing.assert_allclose(model.predict_proba(data), pipeline.predict_proba(data.flux.astype(float)),
                               atol=1e-9)


def test_grid_check():
    grid = np.linspace(3700, 5300, 50)
    check_grid(grid, np.linspace(3700, 5300, 50), {"method": "linear"})
    with pytest.raises(GridMismatchError, match="--n-wave 50"):
        check_grid(grid, np.linspace(3700, 5300, 60))
    with pytest.raises(GridMismatchError, match="--range 3700 5300"):
        check_grid(grid, np.linspace(3700, 5300, 50) + 0.01)
