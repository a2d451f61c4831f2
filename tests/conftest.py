"""Shared fixtures: small simulated samples, their reduction, and models trained on them through the workflows."""

from __future__ import annotations

import logging
import os
from pathlib import Path

if os.environ.get("PYTEST_XDIST_WORKER"):
    # one pytest-xdist worker per core: each runs BLAS, OpenMP and torch on one thread (set before they are loaded),
    # so the workers do not compete for the cores with threads of their own
    for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_variable, "1")
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)  # and NumPy's BLAS, which a pytest plugin may have loaded before this file

import pytest  # noqa: E402

from astroxai.io.sdss import SpecObj, write_sdss_spec  # noqa: E402
from astroxai.simulate import simulate_sample  # noqa: E402
from tests.helpers import flat_spectrum  # noqa: E402

#: README command 2 runs the suite on two pytest-xdist workers (``pytest -n 2``), which pyproject.toml's addopts
#: and :func:`pytest_xdist_make_scheduler` make take whole files (a file's module fixtures are built once) in the
#: order below (``--no-loadscope-reorder``): the files whose tests take longest go first, so that each worker takes
#: the next file when it is free and neither is left running a long file at the end while the other waits (a greedy
#: longest-first schedule).  Before, xdist's default ``--dist load`` gave each worker a first chunk of 72
#: consecutive tests, so one worker got every long file: it ran for 735 s while the other finished its 507 tests in
#: 366 s and then waited (752 s in all; 526 s with this schedule and the cuts of the same day).  Seconds per file on
#: one worker (``pytest -n 2 --durations=0``, 6 December 2026) in comments.
LONGEST_FIRST = ("tests/workflows/test_images.py",  # 242
                 "tests/workflows/test_survey.py",  # 199
                 "tests/workflows/test_user_sample.py",  # 161 (+ test_explorer.py's 44 and test_cli.py: SAME_WORKER)
                 "tests/models/test_cnn.py",  # 73
                 "tests/view/test_view.py",  # 47
                 "tests/report/test_explorer.py",  # 44
                 "tests/test_fuzz.py",  # 40
                 "tests/workflows/test_fetch.py",  # 39
                 "tests/test_interrupt.py",  # 27
                 "tests/workflows/test_explain.py",  # 24
                 "tests/test_hostile.py",  # 20
                 "tests/test_docs.py",  # 20
                 "tests/test_contract.py")  # 12; the other files take under 8 s each


#: Files that go to the same worker as another (xdist builds a session fixture once per worker that uses it):
#: test_cli.py and the report's browser tests use the small spectra run of test_user_sample.py (45-85 s to build under
#: the suite's load).  The browser tests' gallery also uses a small radio run of test_images.py (35-45 s), built again
#: on this worker: the cheaper of the two to build twice, and both files together would be a third of the suite.
SAME_WORKER = {"tests/report/test_explorer.py": "tests/workflows/test_user_sample.py",
               "tests/test_cli.py": "tests/workflows/test_user_sample.py"}


def pytest_xdist_make_scheduler(config, log):
    """pytest-xdist's whole-file scheduling (``--dist loadfile``), with the files of :data:`SAME_WORKER` joined to
    their partner's unit of work."""
    from xdist.scheduler import LoadFileScheduling

    class SharedFixtureScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = super()._split_scope(nodeid)
            return SAME_WORKER.get(path, path)

    return SharedFixtureScheduling(config, log)


def pytest_collection_modifyitems(items):
    rank = {path: k for k, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))


@pytest.fixture(autouse=True)
def _package_logger_restored():
    """The command line, run in-process by some tests, gives the ``astroxai`` logger its own stderr handler and
    stops propagation.  Every test starts and ends with the logger as importing the package leaves it (no handler,
    no level, propagating), so that ``caplog`` (a handler on the root logger) sees the package's warnings in every
    test, whatever ran before it: a session fixture that runs the command line (``small_run``) is built before this
    fixture, and saving its state here once carried the command line's settings into every later test of the
    worker (a test of a warning failed when it ran after ``small_run`` on the same pytest-xdist worker)."""
    package = logging.getLogger("astroxai")

    def pristine():
        package.handlers[:], package.level, package.propagate = [], logging.NOTSET, True

    pristine()
    yield
    pristine()


@pytest.fixture(scope="session")
def small_sample(tmp_path_factory) -> Path:
    """A 6 + 6 + 6 simulated sample (FITS files and catalogue); returns the catalogue path."""
    out = tmp_path_factory.mktemp("sim")
    return simulate_sample(out, {"type1": 6, "type2": 6, "intermediate": 6}, seed=7, workers=1)


@pytest.fixture
def write_spec(tmp_path):
    """Factory writing a DR8 spec-lite file from arrays; returns its path."""
    counter = iter(range(1, 10_000))

    def make(loglam=None, flux=None, ivar=None, z=0.05, and_mask=None, name=None, **kwargs):
        if loglam is None:
            loglam, flux, ivar = flat_spectrum(z=0.05 if z is None else z)
        fiber = next(counter)
        path = tmp_path / (name or f"spec-9999-61000-{fiber:04d}.fits")
        columns = {"loglam": loglam, "flux": flux, "ivar": ivar, **kwargs}
        if and_mask is not None:
            columns["and_mask"] = and_mask
        return write_sdss_spec(path, columns, SpecObj(9999, 61000, fiber, z))

    return make


@pytest.fixture(scope="session")
def dr18_file() -> Path:
    """The real SDSS DR18 spectrum of NGC 3073 that ships with ppxf."""
    import ppxf

    path = Path(ppxf.__file__).parent / "spectra" / "NGC3073_SDSS_DR18.fits"
    assert path.is_file(), "ppxf no longer ships NGC3073_SDSS_DR18.fits"
    return path


@pytest.fixture(scope="session")
def reduced_sample(tmp_path_factory) -> Path:
    """A 16 + 16 + 16 simulated sample reduced onto 150 points; returns the SpectraSet path (with the
    simulated FITS files in its folder's ``sim`` subfolder)."""
    from astroxai.io import collect_inputs
    from astroxai.reduce import ReductionSettings
    from astroxai.workflows.reduce import reduce_inputs

    out = tmp_path_factory.mktemp("reduced")
    catalog = simulate_sample(out / "sim", {"type1": 16, "type2": 16, "intermediate": 16}, seed=11, workers=1)
    reduce_inputs(collect_inputs([catalog]), out / "dataset.h5", ReductionSettings(n_wave=150), workers=1)
    return out / "dataset.h5"


@pytest.fixture(scope="session")
def trained_model(tmp_path_factory, reduced_sample) -> Path:
    """A quick 3-class linear + RBF SVM study on :func:`reduced_sample` (``astroxai train``'s workflow); returns the
    model folder."""
    from astroxai.data import SpectraSet
    from astroxai.models import SVMClassifier
    from astroxai.workflows.train import train

    out = tmp_path_factory.mktemp("model") / "svm"
    model = SVMClassifier(kernels=("linear", "rbf"), quick=True, seed=5)
    train(SpectraSet.load(reduced_sample), model, out, dataset_path=str(reduced_sample), timing_repeats=2,
          noise_repeats=2)
    return out


@pytest.fixture(scope="session")
def cnn_model(tmp_path_factory, reduced_sample) -> Path:
    """A few epochs of the 1-D CNN on :func:`reduced_sample`, on the same split as :func:`trained_model`."""
    from astroxai.data import SpectraSet
    from astroxai.models import SpectrumCNNClassifier
    from astroxai.workflows.train import train

    out = tmp_path_factory.mktemp("cnn") / "cnn"
    model = SpectrumCNNClassifier(max_epochs=25, seed=5)
    train(SpectraSet.load(reduced_sample), model, out, dataset_path=str(reduced_sample), noise_repeats=2)
    return out


@pytest.fixture(scope="session")
def radio(tmp_path_factory) -> Path:
    """A small simulated radio sample on disk (cutouts, catalogue, images.h5); returns the images.h5 path."""
    from astroxai.simulate.images import simulate_image_sample

    out = tmp_path_factory.mktemp("radio")
    return simulate_image_sample(out, "radio", dict.fromkeys(("compact", "FRI", "FRII", "bent"), 14), seed=5,
                                 workers=1)


@pytest.fixture(scope="session")
def radio_model(tmp_path_factory, radio) -> Path:
    """A radio classifier trained for a few epochs on :func:`radio`; returns the model folder."""
    from astroxai.data import ImageSet
    from astroxai.models import ImageCNNClassifier
    from astroxai.workflows.train import train

    out = tmp_path_factory.mktemp("radio-model") / "cnn"
    train(ImageSet.load(radio), ImageCNNClassifier(max_epochs=3, patience=2, seed=1), out, dataset_path=str(radio))
    return out


@pytest.fixture(scope="module")
def dask_scheduler():
    """The address of a local Dask cluster (one single-threaded worker process) for a module's surveys whose subject
    is not how ``astroxai survey`` starts its own: each new cluster pays its worker's imports (torch, the model)
    again, ~6 s, so these surveys share this one through ``--scheduler`` / ``SurveyRun(scheduler=...)``."""
    from distributed import LocalCluster

    # its HTTP server on a free port (with None it takes 8787, and the surveys' own clusters warn that it is in use)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        yield cluster.scheduler_address


#: The small spectra run's config: every stage of ``astroxai run`` (models, t-SNE, saliency, trust, report) in ~1 min;
#: the trust table (six methods, three models, each scored five times over) on 4 test spectra.
SMALL_RUN = {"counts": {"type1": 14, "type2": 14, "intermediate": 14}, "n_wave": 100, "quick": True,
             "timing_repeats": 1, "perplexities": [4, 8], "n_correct": 2, "trust_spectra": 4}


def _cli_run(folder: Path, config: dict, *extra: str) -> Path:
    import json

    from click.testing import CliRunner

    from astroxai.cli import main

    (folder / "config.json").write_text(json.dumps(config))
    result = CliRunner().invoke(main, ["run", "--out", str(folder / "run"), "--config", str(folder / "config.json"),
                                       *extra])
    assert result.exit_code == 0, result.output
    return folder / "run"


@pytest.fixture(scope="session")
def small_run(tmp_path_factory) -> Path:
    """``astroxai run`` (spectra) on :data:`SMALL_RUN` through the command line; returns the run folder."""
    return _cli_run(tmp_path_factory.mktemp("small-run"), SMALL_RUN)


@pytest.fixture(scope="session")
def image_run(tmp_path_factory):
    """``image_run(kind)``: ``astroxai run --kind KIND`` on a small config (16 images per class, 2 epochs), run once
    per session; returns the run folder.  The galaxy run goes through the stage scheduler's process pool (its
    isophotes in a share per worker); the radio run, like most runs of the suite, on one worker in this process: the
    suite's two pytest-xdist workers already keep both cores busy, and each pool worker costs its imports again
    (torch, scikit-learn, captum: 4-5 s of CPU; the radio run's test took 57 s of CPU with the pool, 42 s without)."""
    runs = {}

    def make(kind: str) -> Path:
        if kind not in runs:
            runs[kind] = _cli_run(tmp_path_factory.mktemp(f"{kind}-run"),
                                  {"n_per_class": 16, "max_epochs": 2, "trust_images": 4,
                                   "trust_methods": ["saliency", "occlusion"]}, "--kind", kind,
                                  *(() if kind == "galaxy" else ("--workers", "1")))
        return runs[kind]

    return make
