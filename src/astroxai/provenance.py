"""What a run records next to its results: package versions, the command, the seed and settings."""

from __future__ import annotations

import json
import platform
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

_PACKAGES = ("astroxai", "numpy", "scipy", "astropy", "scikit-learn", "h5py", "matplotlib", "torch")


def versions() -> dict[str, str]:
    """Installed versions of astroxai and the libraries its results depend on."""
    found = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def write_run_record(folder: str | Path, config: dict, name: str = "run.json") -> Path:
    """Write the config, seed, versions, command line and time of a run as JSON into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    record = {
        "config": config,
        "versions": versions(),
        "command": sys.argv,
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    path = folder / name
    path.write_text(json.dumps(record, indent=2, default=str))
    return path
