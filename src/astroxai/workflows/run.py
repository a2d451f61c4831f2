"""``astroxai run``: a whole study into one run folder — on the embedded default data, or on the user's own sample.

``spectra`` (:class:`~astroxai.workflows.studies.agn.AgnStudy`; Peruzzi et al. 2021)
    the paper's sample simulated (or the user's labelled spectra) → reduce → the SVM study, a 1-D CNN beside it →
    t-SNE maps → saliency study of the test spectra → every method × model with trust scores → ``report.html``.
``radio`` / ``galaxy`` (:class:`~astroxai.workflows.studies.images.ImageStudy`; Liang et al. 2023, Bhambra et al.
2022)
    simulated cutouts, the real FIRST galaxies (``data='first'``) or the user's cutouts with a catalogue → the
    morphology CNN (and for galaxies with bar lengths the regressors) → every test image explained → trust table →
    bar lengths → ``report.html``.

Every study is the same protocol (:mod:`astroxai.workflows.studies`): its stages run side by side on worker
processes; ``run.json`` (:class:`~astroxai.report.layout.RunRecord`) records the config, inputs, seed, versions and
the time of every stage; :func:`run` returns a :class:`~astroxai.workflows.studies.StudyResult`.
"""

from __future__ import annotations

from pathlib import Path

from astroxai.errors import InputError
from astroxai.parallel import default_workers
from astroxai.report.layout import RunLayout
from astroxai.workflows.studies import STUDIES, StudyResult, run_study
from astroxai.workflows.studies.agn import SpectraRunConfig
from astroxai.workflows.studies.images import FIRST_TRAINING, STUDY_METHODS, ImageRunConfig

#: What a study's ``data`` may name besides files (images: the simulator, or the FIRST galaxies).
NAMED_DATA = ("simulated", "first")


def default_out(kind: str, data) -> Path:
    """``runs/default`` for the spectra study on its embedded sample, ``runs/<kind>`` for an image study,
    ``runs/first`` for the real FIRST galaxies and ``runs/<kind>-data`` for a user's own sample."""
    if data not in (None, "simulated", "first"):
        return Path("runs") / f"{kind}-data"
    return Path("runs") / ("first" if data == "first" else STUDIES[kind].default_folder(kind))


def make_config(kind: str, config=None, *, seed: int | None = None, data=None, **settings):
    """The study's config: from a JSON file (``config``), then ``seed``, ``data`` and any other ``settings`` given
    (those left ``None`` keep the file's or the default)."""
    study = STUDIES[kind]
    chosen = {k: v for k, v in settings.items() if v is not None}
    if data is not None:
        chosen["data"] = data
    chosen.update(study.fixed_settings(kind))
    cfg = study.config_class.from_file(config, **chosen) if config else study.config_class(**chosen)
    if seed is not None:
        cfg.seed = seed
    return cfg


def run(kind: str = "spectra", out=None, *, config=None, seed: int | None = None, progress=None,
        workers: int | None = None, data=None, report: bool = True, **settings) -> StudyResult:
    """Run the study of ``kind`` (``spectra``, ``radio``, ``galaxy``) into ``out`` (default: :func:`default_out`).

    Parameters
    ----------
    kind : str
        Which study (:data:`~astroxai.workflows.studies.STUDIES`).
    out : path-like, optional
        The run folder.
    config : path-like, optional
        A JSON file of settings (unknown keys are refused).
    seed : int, optional
        The simulation seed (spectra: the seed of everything).
    data : optional
        ``None`` (the embedded simulated sample), ``"first"`` (radio: the real FIRST galaxies), a list of the
        user's inputs (files, folders, catalogues; for spectra also one reduced ``.h5``), or a
        :class:`~astroxai.data.SpectraSet` built in Python.
    workers : int, optional
        Processes running the independent stages side by side (default: every core).
    report : bool
        Also draw ``report.html``.
    **settings
        Any other config key: ``catalog``, ``classes``, ``broad`` (spectra), ``target`` (galaxies), …

    Returns
    -------
    StudyResult
        The run folder's layout, its record, the data set and every stage's result by name.
    """
    if kind not in STUDIES:
        raise InputError(f"unknown study {kind!r}; choose from {sorted(STUDIES)}")
    out = Path(out or default_out(kind, data if isinstance(data, (str, type(None))) else "user"))
    layout = RunLayout(out)
    if data is not None and not isinstance(data, (str, list, tuple)):  # a data set built in Python
        layout.root.mkdir(parents=True, exist_ok=True)
        data = [str(data.save(layout.dataset))]
    data = STUDIES[kind].given_data(data)
    cfg = make_config(kind, config, seed=seed, data=data, **settings)
    study = STUDIES[kind](cfg, layout, progress)
    workers = default_workers() if workers is None else max(1, int(workers))
    return run_study(study, workers, progress, report=report)


__all__ = ["FIRST_TRAINING", "NAMED_DATA", "STUDY_METHODS", "ImageRunConfig", "SpectraRunConfig", "default_out",
           "make_config", "run"]
