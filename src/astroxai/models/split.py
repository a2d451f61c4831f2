"""The paper's split (Peruzzi et al. 2021, Sect. 3): 20 % test held out first, the rest 80/20 into train and
validation (64 / 16 / 20 %), seeded, stratified by default.  A :class:`Split` names its inputs by id, so it survives
re-ordering and can be saved beside a model and re-applied to any data set holding those ids."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from astroxai.errors import InputError
from astroxai.results import json_text

PARTS = ("train", "validation", "test")


@dataclass
class Split:
    """The ids of the train, validation and test parts, with how they were drawn.

    Ids rather than row numbers, so that a split stays right when a data set is re-read in another order or a few
    of its inputs are rejected.

    Attributes
    ----------
    train, validation, test : ndarray of str
        The ids of each part.
    seed : int
        The seed the parts were drawn with.
    stratified : bool
        Whether each part keeps the classes' proportions.
    origin : str
        ``'paper'`` (drawn as Peruzzi et al. 2021 did) or where a declared split comes from (e.g. the literature's
        split of a real data set, carried in its ``split`` metadata column).

    Examples
    --------
    >>> from astroxai.models import Split
    >>> split = Split.from_rows(["a", "b", "c", "d"], [0, 2], [1], [3], seed=0, stratified=False)
    >>> split.rows(["d", "c", "b", "a"], "train").tolist()
    [3, 1]
    """

    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray
    seed: int
    stratified: bool
    origin: str = "paper"

    def __post_init__(self):
        for part in PARTS:
            setattr(self, part, np.asarray(getattr(self, part), dtype=object).astype(str))

    @classmethod
    def from_rows(cls, ids, train, validation, test, *, seed: int, stratified: bool, origin: str = "paper") -> Split:
        """The split whose parts are the given rows of ``ids``."""
        ids = np.asarray(ids).astype(str)
        return cls(ids[np.asarray(train, dtype=np.int64)], ids[np.asarray(validation, dtype=np.int64)],
                   ids[np.asarray(test, dtype=np.int64)], seed, stratified, origin)

    def part(self, name: str) -> np.ndarray:
        if name not in PARTS:
            raise InputError(f"unknown part {name!r}; choose from {PARTS}")
        return getattr(self, name)

    def rows(self, ids, part: str) -> np.ndarray:
        """Row numbers in ``ids`` of every input of ``part``, in the part's order; ``ValueError`` if one is missing."""
        position = {input_id: row for row, input_id in enumerate(np.asarray(ids).astype(str))}
        wanted = self.part(part)
        missing = [i for i in wanted if i not in position]
        if missing:
            raise InputError(f"{len(missing)} ids of the {part} part are not in the data set (first: {missing[0]})")
        return np.array([position[i] for i in wanted], dtype=np.int64)

    def contains(self, ids, part: str) -> np.ndarray:
        """Boolean mask: which of ``ids`` belong to ``part`` (ids the split does not know are simply False)."""
        return np.isin(np.asarray(ids).astype(str), self.part(part))

    def to_dict(self) -> dict:
        return {"seed": self.seed, "stratified": self.stratified, "origin": self.origin,
                **{part: self.part(part).tolist() for part in PARTS}}

    @classmethod
    def from_dict(cls, saved: dict) -> Split:
        missing = [key for key in (*PARTS, "seed", "stratified") if key not in saved]
        if missing:
            raise InputError(f"a split needs {', '.join(missing)}")
        return cls(*(saved[part] for part in PARTS), int(saved["seed"]), bool(saved["stratified"]),
                   str(saved.get("origin", "paper")))

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(json_text(self.to_dict(), indent=1))
        return path

    @classmethod
    def load(cls, path: str | Path) -> Split:
        try:
            return cls.from_dict(json.loads(Path(path).read_text()))
        except (OSError, json.JSONDecodeError, ValueError, TypeError) as error:
            raise InputError(f"{path}: not a split ({error})") from None


def paper_split(labels, seed: int, test_size: float = 0.2, validation_size: float = 0.2,
                stratify: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows of the train, validation and test parts: ``test_size`` held out first, then the rest split into train and
    ``validation_size`` validation (each part sorted).

    ``stratify=False`` reproduces the paper's plain random split; stratifying keeps the class shares equal in the
    three parts, which matters for the 16 % intermediates.
    """
    labels = np.asarray(labels)
    rows = np.arange(labels.size)
    # The paper's sizes (2677 train+validation and 2141 train of 3346) mean the test share was rounded down
    # and the validation share up, which is what an integer test size and a fractional validation size give.
    n_test = int(np.floor(test_size * labels.size))
    rest, test = train_test_split(rows, test_size=n_test, random_state=seed, stratify=labels if stratify else None)
    train, validation = train_test_split(rest, test_size=validation_size, random_state=seed + 1,
                                         stratify=labels[rest] if stratify else None)
    return np.sort(train), np.sort(validation), np.sort(test)


#: The metadata column through which a data set declares its own split (e.g. a literature split of real data).
SPLIT_COLUMN = "split"


def declared_split(data) -> list[np.ndarray] | None:
    """The rows of each part of the split ``data`` declares in its ``split`` metadata column (values ``train``,
    ``validation``, ``test``; other values, e.g. ``""``, belong to no part), or None when it declares none."""
    column = getattr(data, "meta", {}).get(SPLIT_COLUMN)
    if column is None:
        return None
    column = np.asarray(column).astype(str)
    if not np.isin(column, [*PARTS, ""]).all():
        odd = sorted(set(column) - {*PARTS, ""})[:3]
        raise InputError(f"the data set's {SPLIT_COLUMN!r} column holds {odd}; expected {', '.join(PARTS)}")
    labelled = data.labels != ""
    return [np.flatnonzero((column == part) & labelled) for part in PARTS]


def labelled_split(data, seed: int, classes=None, stratify: bool = True) -> Split:
    """The paper's split over every labelled input of ``data`` (so that problems on subsets of the classes, such as
    the two- and three-class problems, share it), each part then restricted to ``classes`` (default: all).

    A data set that declares its own split (a ``split`` metadata column, as the real FIRST galaxies carry the
    literature's) keeps it: comparisons with published figures need the same test set."""
    declared = declared_split(data)
    if declared is not None:
        parts, origin, stratify = declared, data.attrs.get("split", "declared by the data set"), False
    else:
        labelled = np.flatnonzero(data.labels != "")
        parts = [labelled[rows] for rows in paper_split(data.labels[labelled], seed, stratify=stratify)]
        origin = "paper"
    if classes is not None:
        keep = np.isin(data.labels, list(classes))
        parts = [part[keep[part]] for part in parts]
    return Split.from_rows(data.ids, *parts, seed=seed, stratified=stratify, origin=origin)
