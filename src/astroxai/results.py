"""Typed results: what travels between astroxai's layers as a named record, and the one place they become JSON.

Every score, check and metric a core function returns is a dataclass deriving from :class:`Result`: its fields are
attributes (``metrics.accuracy``), documented and checked by a type checker.  For one release a result can still be
read like the dictionary it replaces (``metrics["accuracy"]``, ``dict(metrics)``, ``**metrics``): :class:`Result` is a
read-only :class:`~collections.abc.Mapping` over its columns.  A result whose columns are not just its fields (a
physics summary with a column per class, a trust row whose count is named after the modality) says so in
:meth:`Result.columns`.

:func:`plain` turns results, NumPy values and paths into what :mod:`json` writes, and :func:`json_text` writes it:
every JSON file and attribute of the package goes through them, so a new result needs no writer of its own.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import PurePath
from typing import ClassVar

import numpy as np


class Result(Mapping):
    """Base of astroxai's result dataclasses: attribute access, plus read-only mapping access over
    :meth:`columns` (the fields by default)."""

    #: Fields that a result has only sometimes (a check that needs Hβ, a bar route that gives no axis ratio): they
    #: are left out of the columns when they are ``None``, so a table has no column of blanks.
    optional_columns: ClassVar[tuple[str, ...]] = ()

    def columns(self) -> dict:
        """The result as named columns, in order: its fields, less the :attr:`optional_columns` that are ``None``."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return {k: v for k, v in values.items() if v is not None or k not in self.optional_columns}

    def __getitem__(self, key: str):
        columns = self.columns()
        if key not in columns:
            raise KeyError(key)
        return columns[key]

    def __iter__(self):
        return iter(self.columns())

    def __len__(self) -> int:
        return len(self.columns())

    def to_dict(self) -> dict:
        """The columns with nested results, arrays and NumPy numbers as plain Python values (JSON-ready)."""
        return plain(self.columns())


def plain(value):
    """``value`` with every :class:`Result` (its columns), mapping, sequence, NumPy array or number and path made
    into the dicts, lists, numbers and strings :mod:`json` writes."""
    if isinstance(value, Result):
        return value.to_dict()
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return plain(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, PurePath):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return plain(dataclasses.asdict(value))
    return value


def json_text(value, *, indent: int | None = 2, compact: bool = False) -> str:
    """``value`` as JSON text (:func:`plain` first); anything else JSON cannot hold becomes its ``str``."""
    separators = (",", ":") if compact else None
    return json.dumps(plain(value), indent=None if compact else indent, separators=separators, default=str)


__all__ = ["Result", "json_text", "plain"]
