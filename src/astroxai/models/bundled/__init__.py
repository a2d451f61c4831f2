"""Models shipped inside the package, usable by name right after install (as torchvision's or astroNN's are).

Each is an ordinary model folder (``model.json``, the model file, ``split.json``) in this package's folder
(``astroxai/models/bundled/<name>``), written by ``astroxai train`` (the command, the seed and the SHA-256 of the
data set's content are in its ``model.json``, ``training``).  Wherever a command or
:meth:`astroxai.models.Estimator.load` takes a model folder, it takes a bundled name too (a folder of that name in
the working directory comes first)::

    astroxai models                                   # what is shipped, with its data, classes and test scores
    astroxai predict first-radio cutouts/ --out classes.csv

Only models that fit in a few megabytes are shipped (see :data:`MAX_BYTES`).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from astroxai.models.persist import META_FILE
from astroxai.results import Result

#: The most a bundled model folder may weigh (a wheel stays small).
MAX_BYTES = 5_000_000
#: What a user should know before trusting a bundled model's answers: printed by ``astroxai models``, ``predict``
#: and ``explain``.
NOTES = {
    "first-radio": "a CNN trained on the real FIRST radio galaxies of Griese et al. (2023) (literature split), "
                   "each prediction the mean over the 8 turns and flips of the cutout; it takes FIRST cutouts at "
                   "1.8″ pixels at least 128 px wide, as they come",
    "agn-svm-simulated": "trained on SIMULATED SDSS spectra of the sample of Peruzzi et al. (2021), not on real "
                         "ones: on real spectra, trust a class only where out_of_distribution is False",
    "galaxy-barred": "trained on SIMULATED barred and unbarred discs (astroxai simulate --kind galaxy), 64 × 64 "
                     "cutouts; its SmoothGrad maps light up the bar (docs/images.md); check real cutouts' "
                     "out_of_distribution flag",
    "galaxy-bar-length": "trained on SIMULATED barred discs (astroxai simulate --kind galaxy): projected bar "
                         "lengths in pixels of 64 × 64 cutouts; check real cutouts' out_of_distribution flag",
}


@dataclass(frozen=True, eq=False)
class BundledModel(Result):
    """One shipped model as ``astroxai models`` lists it."""

    name: str
    kind: str
    task: str
    data: str
    classes: str
    test_accuracy: float | None
    test_macro_f1: float | None
    test_r: float | None  # regressors: Pearson r of predicted and catalogue values
    n_test: int | None
    trained_by: str
    megabytes: float
    note: str = ""


def root() -> Path:
    """The folder that holds the bundled models."""
    return Path(str(resources.files(__name__)))


def names() -> list[str]:
    """The bundled models' names, sorted."""
    return sorted(p.name for p in root().iterdir() if p.is_dir() and (p / META_FILE).is_file())


def model_folder(name_or_folder) -> Path:
    """``name_or_folder`` when it is a folder, else the folder of the bundled model of that name; a name that is
    neither comes back unchanged (the loader then says it is not a model folder, and lists the bundled names)."""
    path = Path(name_or_folder)
    if path.exists() or str(name_or_folder) not in names():
        return path
    return root() / str(name_or_folder)


def describe(name: str) -> BundledModel:
    """What ``astroxai models`` prints for one bundled model (read from its ``model.json``)."""
    from astroxai.models.persist import read_meta

    folder = root() / name
    meta = read_meta(folder)
    test = (meta.get("metrics") or {}).get("test") or {}
    training = meta.get("training") or {}
    images = meta.get("images") or {}
    data = str(training.get("dataset") or "")
    if images.get("survey"):
        data = f"{data} ({images['survey']} cutouts, {images.get('pixel_arcsec')}″ pixels as the network sees them)"
    return BundledModel(name, str(meta.get("kind")), str(meta.get("task", "classify")), data,
                        " / ".join(str(c) for c in meta.get("classes", [])), test.get("accuracy"),
                        (test.get("macro") or {}).get("f1"), test.get("r"),
                        (test.get("macro") or {}).get("support") or test.get("n"),
                        str(training.get("command") or ""),
                        round(sum(f.stat().st_size for f in folder.iterdir() if f.is_file()) / 1e6, 2),
                        NOTES.get(name, ""))


def note_for(folder) -> str:
    """The note of the bundled model in ``folder`` ('' for any other folder)."""
    folder = Path(folder).resolve()
    return NOTES.get(folder.name, "") if folder.parent == root().resolve() else ""


__all__ = ["MAX_BYTES", "NOTES", "BundledModel", "describe", "model_folder", "names", "note_for", "root"]
