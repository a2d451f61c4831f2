"""The errors astroxai raises on purpose, under one base: what the command line shows as one line and an exit code,
and what a notebook can catch as ``astroxai.AstroxaiError``.

Every class keeps a built-in base as well (``ValueError`` for something given that cannot be used, ``RuntimeError``
for a state or a resource that is missing), so code written against the built-in types goes on working.  An error
that is *not* an ``AstroxaiError`` is a bug, and the command line shows its traceback.
"""

from __future__ import annotations


class AstroxaiError(Exception):
    """Base of every error astroxai raises on purpose.

    Examples
    --------
    >>> from astroxai import AstroxaiError, SpectrumError
    >>> issubclass(SpectrumError, AstroxaiError), issubclass(SpectrumError, ValueError)
    (True, True)
    """


class InputError(AstroxaiError, ValueError):
    """Something given cannot be used: a setting, a file, a sample too small for a study, a data set on another grid.

    Examples
    --------
    >>> from astroxai import InputError
    >>> try:
    ...     raise InputError("classes must name at least two distinct classes")
    ... except ValueError as error:
    ...     print(error)
    classes must name at least two distinct classes
    """


__all__ = ["AstroxaiError", "InputError"]
