"""Every table a run writes goes out twice: CSV for spreadsheets and JSON for programs."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from astroxai.data import atomic_path, csv_safe
from astroxai.results import json_text


def write_table(rows: list[dict], stem: str | Path, extra: dict | None = None) -> list[Path]:
    """Write ``rows`` (dicts sharing keys) as ``stem.csv`` and ``stem.json`` (each atomically); return both paths.

    Columns follow the first row's key order, then keys first seen in later rows.  Lists become
    space-separated text in the CSV.  ``extra`` (e.g. units or the paper's values) goes into the JSON only.
    """
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    columns: list[str] = []
    for row in rows:
        columns += [key for key in row if key not in columns]
    csv_path, json_path = stem.with_suffix(".csv"), stem.with_suffix(".json")
    # each file under a temporary name, then renamed: an interrupted run leaves no short table a report would show
    with atomic_path(csv_path) as temporary, open(temporary, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow(csv_safe({key: " ".join(map(str, value)) if isinstance(value, (list, tuple)) else value
                                      for key, value in row.items()}))
    with atomic_path(json_path) as temporary:
        temporary.write_text(json_text({"columns": columns, "rows": rows, **(extra or {})}, indent=1))
    return [csv_path, json_path]


def read_table(path: str | Path) -> list[dict]:
    """Rows of a table written by :func:`write_table` (from its JSON file)."""
    path = Path(path)
    return json.loads(path.with_suffix(".json").read_text())["rows"]


def read_table_meta(path: str | Path) -> dict:
    """What a table written by :func:`write_table` records beside its rows (its ``extra``: units, the chosen
    kernel, the seed…)."""
    state = json.loads(Path(path).with_suffix(".json").read_text())
    return {k: v for k, v in state.items() if k not in ("columns", "rows")}


def read_csv_rows(path: str | Path) -> list[dict]:
    """A table's rows as text, as its CSV file holds them (what a page shows)."""
    with open(Path(path).with_suffix(".csv"), newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))

