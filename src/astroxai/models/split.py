"""The paper's split (Peruzzi et al. 2021, Sect. 3): 20 % test held out first, the rest 80/20 into train and
validation (64 / 16 / 20 %), seeded, stratified by default; saved as spectrum ids so anyone can re-run it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split


@dataclass
class Split:
    """Row indices of the train, validation and test parts of a data set, with how they were drawn."""

    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray
    seed: int
    stratified: bool

    def to_dict(self, ids) -> dict:
        """JSON-ready description, naming spectra by id (not row) so it survives re-ordering."""
        ids = np.asarray(ids).astype(str)
        return {
            "seed": self.seed, "stratified": self.stratified,
            "train": ids[self.train].tolist(), "validation": ids[self.validation].tolist(),
            "test": ids[self.test].tolist(),
        }

    def save(self, path: str | Path, ids) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(ids), indent=1))
        return path

    @classmethod
    def load(cls, path: str | Path, ids) -> Split:
        """Re-create a saved split on a data set; every saved id must be present in ``ids``."""
        saved = json.loads(Path(path).read_text())
        position = {spectrum_id: row for row, spectrum_id in enumerate(np.asarray(ids).astype(str))}
        missing = [i for part in ("train", "validation", "test") for i in saved[part] if i not in position]
        if missing:
            raise ValueError(f"{path}: {len(missing)} ids of the split are not in the data set (first: {missing[0]})")
        rows = {part: np.array([position[i] for i in saved[part]], dtype=np.int64)
                for part in ("train", "validation", "test")}
        return cls(rows["train"], rows["validation"], rows["test"], saved["seed"], saved["stratified"])


def paper_split(labels, seed: int, test_size: float = 0.2, validation_size: float = 0.2,
                stratify: bool = True) -> Split:
    """Hold out ``test_size`` first, then split the rest into train and ``validation_size`` validation.

    ``stratify=False`` reproduces the paper's plain random split; stratifying keeps the class shares equal
    in the three parts, which matters for the 16 % intermediates.
    """
    labels = np.asarray(labels)
    rows = np.arange(labels.size)
    # The paper's sizes (2677 train+validation and 2141 train of 3346) mean the test share was rounded down
    # and the validation share up, which is what an integer test size and a fractional validation size give.
    n_test = int(np.floor(test_size * labels.size))
    rest, test = train_test_split(rows, test_size=n_test, random_state=seed,
                                  stratify=labels if stratify else None)
    train, validation = train_test_split(rest, test_size=validation_size, random_state=seed + 1,
                                         stratify=labels[rest] if stratify else None)
    return Split(np.sort(train), np.sort(validation), np.sort(test), seed, stratify)
