"""Real FIRST radio galaxies: the curated data set of Griese et al. (2023, Data in Brief 47, 108974; Zenodo record
7689127), read from the ``firstgalaxydata`` package on the package index.

The data set gathers 2 158 VLA FIRST (Becker, White & Helfand 1995) sources with a morphology from the literature —
FR I 495, FR II 924, compact 391, bent 348 — as 300 × 300 pixel greyscale PNG cutouts at FIRST's 1.8″ pixels, in
which every pixel below three times the local noise was set to that threshold.  It comes with the literature's split
into 1 758 training, 200 validation and 200 test images (50 per class).  File names carry the position and the
catalogue the label comes from: ``RA_DEC_LABEL_CATALOGUE.png``.

``firstgalaxydata`` is a data carrier here: its own loader imports torchvision and its requirements would pull a CUDA
build of torch, so astroxai installs it with ``pip install --no-deps firstgalaxydata==0.2.1`` and reads the zip it
ships directly, without importing the package.

Each cutout is cut to its central ``crop`` pixels (the sources are centred; 128 px = 3.8′ holds the median source's
whole flux) and binned ``binning`` × ``binning`` (default 2: 3.6″ pixels, the 5.4″ beam still 1.5 pixels), so the
image CNN sees 64 × 64 pixels, as for the simulated FIRST-like cutouts.  Two ground-truth masks stand in for the
simulator's components: ``source`` (every pixel above the noise threshold) and ``brightest`` (the connected part of
``source`` that holds the brightest pixel — the radio galaxy itself rather than a neighbour in the field).
"""

from __future__ import annotations

import importlib.metadata
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from astroxai.data import ImageSet, fate
from astroxai.errors import AstroxaiError, InputError
from astroxai.io.images import CutoutPreparation, Image
from astroxai.results import Result

PACKAGE, VERSION = "firstgalaxydata", "0.2.1"
INSTALL = f"python3 -m pip install --no-deps {PACKAGE}=={VERSION}"
ARCHIVE = "galaxy_data.zip"
PIXEL_ARCSEC = 1.8
BEAM_FWHM_ARCSEC = 5.4
SIZE = 300
#: The data set's folder names → astroxai's radio classes (those of the FIRST-like simulator).
CLASSES = {"Compact": "compact", "FRI": "FRI", "FRII": "FRII", "Bent": "bent"}
#: The data set's split folders → astroxai's parts.
PARTS = {"train": "train", "valid": "validation", "test": "test"}
ALL_PARTS = tuple(PARTS.values())


@dataclass(frozen=True, eq=False)
class Peer(Result):
    """A published score of radio-morphology classification on FIRST sources and what it was measured on.
    ``comparable`` says whether it can be set against astroxai's score on this data set's literature split; ``spread``
    is the published ± (over folds or seeds) where there is one."""

    paper: str
    model: str
    data: str
    split: str
    metric: str
    value: float
    spread: float | None = None
    comparable: str = "no: their own sample, classes and split"


#: The data set, as the literature table names it.
DATASET = "Griese et al. (2023) FIRST set, 2 158 sources"
_RUSTIGE = "Rustige et al. 2023 (RAS Techniques and Instruments 2, 264; arXiv:2212.08504)"
_FOLDS = "5 folds of the 1 758 training images; tested on 400 (the validation and test parts together)"
_SAME = "partly: the same galaxies and labels, but a 400-image test set (astroxai tests on the 200-image test part)"
_WGAN = "small CNN, training set grown with wGAN-generated images"
#: Published scores on the same four classes of FIRST sources: the run's ``peers`` table, docs/images.md.  Rustige et
#: al. trained on this very data set (their numbers: mean ± standard deviation over the five folds, from the results
#: file of their repository); the others on samples of their own, single-catalogue and easier, so theirs are scale,
#: not rank.
PEERS = (
    Peer(_RUSTIGE, "small CNN", DATASET, _FOLDS, "accuracy", 0.790, 0.011, _SAME),
    Peer(_RUSTIGE, _WGAN, DATASET, _FOLDS, "accuracy", 0.814, 0.008, _SAME),
    Peer(_RUSTIGE, _WGAN, DATASET, _FOLDS, "macro F1", 0.81, None, _SAME),
    Peer(_RUSTIGE, "ViT-B/16 pretrained on ImageNet, fine-tuned", DATASET, _FOLDS, "accuracy", 0.806, None, _SAME),
    Peer("Alhassan et al. 2018 (MNRAS 480, 2085)", "FIRST Classifier (CNN)", "their own FIRST sample", "their own",
         "accuracy", 0.97),
    Peer("Maslej-Krešňáková et al. 2021 (MNRAS 505, 1464)", "CNN", "their own FIRST sample", "their own",
         "macro F1", 0.96),
)
_NAME = re.compile(r"^(?P<ra>-?\d+(?:\.\d+)?)_(?P<dec>-?\d+(?:\.\d+)?)_(?P<code>\d)_(?P<catalogue>.+)\.png$")


class MissingDataError(AstroxaiError, RuntimeError):
    """The package that carries a real data set is not installed."""


def archive_path() -> Path:
    """Where the installed ``firstgalaxydata`` keeps ``galaxy_data.zip`` (found without importing the package, whose
    loader needs torchvision); :class:`MissingDataError` naming the install command when it is not installed."""
    try:
        distribution = importlib.metadata.distribution(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        raise MissingDataError(f"the real FIRST galaxies come from the {PACKAGE} package, which is not installed; "
                               f"install it with: {INSTALL}") from None
    path = Path(distribution.locate_file(f"{PACKAGE}/{ARCHIVE}"))
    if not path.is_file():
        raise MissingDataError(f"{PACKAGE} {distribution.version} is installed but has no {ARCHIVE} "
                               f"(looked in {path.parent}); reinstall it with: {INSTALL}")
    return path


def _members(archive: zipfile.ZipFile) -> list[tuple[str, str, str, str]]:
    """(member name, part, folder class, file name) of every cutout of the train / valid / test folders, sorted."""
    found = []
    for name in sorted(archive.namelist()):
        pieces = name.split("/")
        if len(pieces) == 4 and pieces[1] in PARTS and pieces[3].endswith(".png"):
            found.append((name, pieces[1], pieces[2], pieces[3]))
    return found


def preparation(crop: int = 128, binning: int = 2) -> CutoutPreparation:
    """How the data set's cutouts become a network's images; a model trained on them records it in its model.json
    and so takes any FIRST cutout at 1.8″ pixels at least ``crop`` pixels wide."""
    return CutoutPreparation(crop, binning, subtract_min=True, pixel_arcsec=PIXEL_ARCSEC, survey="FIRST")


def _prepare(pixels: np.ndarray, how: CutoutPreparation) -> tuple[np.ndarray, np.ndarray]:
    """The prepared image (:meth:`CutoutPreparation.apply`: the central crop, binned, less its lowest value), and
    which binned pixels hold any pixel above the noise threshold (the cutout's lowest value)."""
    top, left = how.window(*pixels.shape)
    cut = pixels[top:top + how.crop_px, left:left + how.crop_px]
    above = cut > cut.min() if cut.max() > cut.min() else np.zeros(cut.shape, dtype=bool)
    side, binning = how.size, how.binning
    source = above.reshape(side, binning, side, binning).any(axis=(1, 3))
    return how.apply(Image(pixels[None], "", ""))[0], source


def _brightest(image: np.ndarray, source: np.ndarray) -> np.ndarray:
    """The connected part (8-neighbours) of ``source`` that holds the brightest pixel."""
    from scipy import ndimage

    parts, _ = ndimage.label(source, structure=np.ones((3, 3), dtype=bool))
    peak = np.unravel_index(np.argmax(np.where(source, image, -np.inf)), image.shape)
    return parts == parts[peak] if source[peak] else np.zeros_like(source)


def first_galaxies(crop: int = 128, binning: int = 2, parts=ALL_PARTS,
                   progress=None) -> tuple[ImageSet, list[dict]]:
    """Read the FIRST radio galaxies of Griese et al. (2023) from the installed ``firstgalaxydata`` package.

    Parameters
    ----------
    crop : int
        Side of the central cut of each 300 × 300 cutout, in FIRST pixels (even, ≤ 300).
    binning : int
        Pixels binned together (mean) along each axis; ``crop`` must be a multiple of it.
    parts : sequence of str
        Which of the literature's parts to read (``train``, ``validation``, ``test``).
    progress : callable, optional
        ``progress(iterable, total=, desc=)`` (a tqdm-like wrapper).

    Returns
    -------
    images : ImageSet
        One image per source: labels ``compact`` / ``FRI`` / ``FRII`` / ``bent``; ids are the file names without
        ``.png``; metadata ``split`` (the literature's part), ``ra``, ``dec`` (degrees, J2000), ``catalogue`` (where
        the label comes from), ``file``; masks ``source`` and ``brightest``; each image scaled so that its noise
        threshold is 0 (the PNGs' 0–255 grey levels otherwise kept).
    fates : list of dict
        One row per cutout: kept, or rejected with the reason (an unreadable PNG, a name that is not
        ``RA_DEC_LABEL_CATALOGUE.png``, no pixel above the noise threshold inside the crop).

    Raises
    ------
    MissingDataError
        ``firstgalaxydata`` is not installed (the message gives the install command).
    """
    from PIL import Image as PILImage

    if crop % 2 or not 0 < crop <= SIZE or binning < 1 or crop % binning:
        raise InputError(f"crop must be even, at most {SIZE} and a multiple of binning (got {crop}, {binning})")
    how = preparation(crop, binning)
    wanted = set(parts)
    unknown = wanted - set(PARTS.values())
    if unknown:
        raise InputError(f"unknown parts {sorted(unknown)}; choose from {sorted(PARTS.values())}")
    path = archive_path()
    images, masks, labels, ids, fates = [], {"source": [], "brightest": []}, [], [], []
    meta = {"split": [], "ra": [], "dec": [], "catalogue": [], "file": []}
    with zipfile.ZipFile(path) as archive:
        members = [m for m in _members(archive) if PARTS[m[1]] in wanted]
        steps = progress(members, total=len(members), desc="FIRST galaxies") if progress else members
        for name, part, folder, file_name in steps:
            image_id = file_name[:-4]
            match = _NAME.match(file_name)
            if folder not in CLASSES or match is None:
                fates.append(fate(name, image_id, "rejected", "not a RA_DEC_LABEL_CATALOGUE.png cutout of a known "
                                                                 "class folder"))
                continue
            try:
                with PILImage.open(io.BytesIO(archive.read(name))) as handle:
                    if handle.size != (SIZE, SIZE):
                        raise InputError(f"{handle.size[0]} × {handle.size[1]} pixels, not {SIZE} × {SIZE}")
                    pixels = np.asarray(handle.convert("L"), dtype=np.float32)
            except (OSError, ValueError, zipfile.BadZipFile) as error:
                fates.append(fate(name, image_id, "rejected", f"unreadable cutout ({error})"))
                continue
            image, source = _prepare(pixels, how)
            if not source.any():
                fates.append(fate(name, image_id, "rejected", f"no pixel above the noise threshold in the central "
                                                                f"{crop} × {crop} pixels"))
                continue
            images.append(image)
            masks["source"].append(source)
            masks["brightest"].append(_brightest(image, source))
            labels.append(CLASSES[folder])
            ids.append(image_id)
            meta["split"].append(PARTS[part])
            meta["ra"].append(float(match["ra"]))
            meta["dec"].append(float(match["dec"]))
            meta["catalogue"].append(match["catalogue"])
            meta["file"].append(name)
            fates.append(fate(name, image_id, "kept"))
    if not images:
        raise InputError(f"{path}: no usable cutout")
    attrs = {"kind": "radio", "survey": "FIRST", "pixel_arcsec": PIXEL_ARCSEC * binning,
             "beam_fwhm_arcsec": BEAM_FWHM_ARCSEC, "unit": "PNG grey level above the 3σ noise threshold",
             "source": f"{PACKAGE} {importlib.metadata.version(PACKAGE)} ({ARCHIVE}; Griese et al. 2023, "
                       "Zenodo 7689127)",
             "crop_px": crop, "binning": binning, "preparation": how.columns(),
             "split": "literature (Griese et al. 2023)",
             "defining_component": "source",
             "masks": {"source": "pixels above the data set's 3σ noise threshold",
                       "brightest": "the connected part of the source mask holding the brightest pixel"}}
    data = ImageSet(np.stack(images), labels, ids, masks={k: np.stack(v) for k, v in masks.items()},
                    meta={k: np.asarray(v) for k, v in meta.items()}, attrs=attrs)
    return data, fates


__all__ = ["CLASSES", "DATASET", "INSTALL", "PEERS", "MissingDataError", "Peer", "archive_path", "first_galaxies",
           "preparation"]
