"""Spectrum readers registered with a content sniffer, so a file is read by what it holds, not by its name.

Each reader is registered with :func:`register_reader` as ``(name, identify, priority)``: ``identify(path, head)``
looks at the path and the file's first 2880 bytes (decompressed when the file is gzipped) and says whether the reader
takes it; of the readers that do, the one with the highest priority reads the file.  New survey formats (a spPlate
fibre, a DESI coadd) plug in here without touching the dispatch (the specutils ``data_loader`` pattern).
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from astroxai.spectrum import Spectrum, SpectrumError

#: Bytes of a file its sniffers see: one FITS header block.
HEAD_BYTES = 2880


@dataclass(frozen=True)
class Reader:
    """A registered reader: its name, its sniffer and its priority (higher wins)."""

    name: str
    identify: Callable[[Path, bytes], bool]
    read: Callable[..., Spectrum]
    priority: int = 0
    #: For files that hold several spectra (an spPlate, a DESI coadd): ``members(path)`` lists their keys, and
    #: ``read(path, member)`` reads one.
    members: Callable[[Path], list[str]] | None = None


READERS: list[Reader] = []


def register_reader(name: str, identify: Callable[[Path, bytes], bool], priority: int = 0,
                    members: Callable[[Path], list[str]] | None = None):
    """Decorator registering ``read(path) -> Spectrum`` under ``name`` (a name registered twice is replaced); with
    ``members``, the file holds several spectra and the reader is ``read(path, member) -> Spectrum``."""

    def decorate(read):
        READERS[:] = [r for r in READERS if r.name != name]
        READERS.append(Reader(name, identify, read, priority, members))
        READERS.sort(key=lambda r: -r.priority)
        return read

    return decorate


def file_head(path: Path, n: int = HEAD_BYTES) -> bytes:
    """The first ``n`` bytes of a file, decompressed if it is gzipped."""
    with open(path, "rb") as handle:
        head = handle.read(n)
    if head[:2] == b"\x1f\x8b":
        try:
            with gzip.open(path, "rb") as handle:
                head = handle.read(n)
        except (OSError, EOFError) as error:
            raise SpectrumError(f"damaged gzip file ({error})", path) from None
    return head


def find_reader(path: Path, head: bytes) -> Reader | None:
    """The highest-priority registered reader whose sniffer takes the file."""
    return next((reader for reader in READERS if reader.identify(path, head)), None)
