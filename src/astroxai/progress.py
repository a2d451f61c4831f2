"""One progress protocol for the whole library: a long loop accepts ``progress`` and iterates over
``track(progress, iterable, desc, total)``.

``progress`` is any callable ``progress(iterable, desc, total) -> iterable`` (the command line passes a tqdm bar);
``None`` means silence.  Libraries never draw bars or print themselves: only the command line does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

Progress = Callable[[Iterable, str, "int | None"], Iterable]


def track(progress: Progress | None, iterable: Iterable, desc: str, total: int | None = None) -> Iterable:
    """``iterable`` wrapped by ``progress`` (unchanged when ``progress`` is None)."""
    return iterable if progress is None else progress(iterable, desc, total)
