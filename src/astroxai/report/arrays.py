"""Column and array stores for survey-sized results: one Parquet part (pyarrow) and one Zarr array per partition,
each written under a temporary name and renamed, so a reader never meets half a partition."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from astroxai.data.base import atomic_folder, atomic_path


def write_parquet_part(rows: list[dict], schema, path: str | Path) -> Path:
    """Write ``rows`` (dicts; a column a row lacks is null) as one Parquet file with ``schema`` (a ``pyarrow``
    schema), atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = {name: [row.get(name) for row in rows] for name in schema.names}
    table = pa.Table.from_pydict(columns, schema=schema)
    path = Path(path)
    with atomic_path(path) as temporary:
        pq.write_table(table, temporary, compression="zstd")
    return path


def write_zarr_maps(path: str | Path, maps: np.ndarray, attrs: dict) -> Path:
    """Write ``maps`` (N × F) as one float32 Zarr array (one chunk: a partition is written and read whole) with
    ``attrs`` (JSON), atomically: the folder appears complete under ``path`` or not at all."""
    import zarr

    path = Path(path)
    maps = np.ascontiguousarray(maps, dtype=np.float32)
    with atomic_folder(path) as temporary:
        array = zarr.create_array(str(temporary), shape=maps.shape, chunks=(max(1, maps.shape[0]), maps.shape[1]),
                                  dtype="float32", overwrite=True, attributes=attrs)
        if maps.size:
            array[...] = maps
    return path
