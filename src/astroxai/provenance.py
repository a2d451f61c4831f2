"""What a run records next to its results: package versions, the command, the seed and settings."""

from __future__ import annotations

import platform
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from astroxai.results import json_text

#: Every library whose version can change a number, a map or a page a run writes: the arrays and fits, the
#: attributions (captum), the maps (openTSNE), the model files (skops), the survey's scheduler and tables (dask,
#: distributed, pyarrow, zarr), the readers (fitsio), the image features (scikit-image, photutils) and the page (bokeh).
_PACKAGES = ("astroxai", "numpy", "scipy", "astropy", "scikit-learn", "h5py", "matplotlib", "torch", "captum",
             "openTSNE", "skops", "dask", "distributed", "pyarrow", "zarr", "fitsio", "scikit-image", "photutils",
             "bokeh", "spectres", "dust-extinction")


def versions() -> dict[str, str]:
    """Installed versions of astroxai and the libraries its results depend on."""
    found = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def write_run_record(folder: str | Path, config: dict, name: str) -> Path:
    """Write the config, seed, versions, command line and time of a command as JSON into ``folder/name`` (the
    simulator's ``simulation.json``; a run's ``run.json`` is :class:`astroxai.report.layout.RunRecord`)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    record = {
        "config": config,
        "versions": versions(),
        "command": sys.argv,
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    path = folder / name
    temporary = path.with_name(path.name + ".partial")  # then one rename: never a half-written record
    temporary.write_text(json_text(record, indent=2))
    temporary.replace(path)
    return path
