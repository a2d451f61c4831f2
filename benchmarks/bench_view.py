"""``astroxai view`` at survey scale: a survey table of N rows written in the layout of ``astroxai survey`` (one
Parquet part per 2 048 rows would be 5 000 files at 10⁷; parts of 262 144 rows here), then timed as the server
meets it: reading the columns once, the first session (its widgets, the first datashader image, the histogram),
a pan/zoom re-render, a filter change (mask + histogram + re-render), a click's lookup (nearest object + its row),
and the process's peak memory.

The rows are synthetic, drawn like the simulated store's survey (three classes in clusters on a t-SNE-like map,
Dirichlet probabilities, a novelty score): the figures measure the viewer, not a model.  ``--survey DIR`` measures a
real survey folder instead (e.g. ``astroxai survey`` of ``astroxai simulate --store 1000000``), adding a click to a
drawn spectrum (the nearest object, its spectrum read from the store, its map explained with the survey's model)
and a box selection with its mean map against the rest.

``--browser`` also times the first view in headless Chromium (as ``astroxai view DIR`` is used): from starting the
command to the map's image on the page, the browser already open; with the survey's column file
(``survey.columns.arrow``, which ``astroxai survey`` writes and the view maps) and, removed before each start, from
the Parquet parts (a survey written before the file existed; the view's warm-up then writes it).  The synthetic
tables get their column file written first, as a survey leaves it.

    python benchmarks/bench_view.py --rows 1000000 10000000 [--repeats 5] [--browser] [--folder /tmp/view-bench]
    python benchmarks/bench_view.py --survey survey-1e6/ --browser

Each size runs in a fresh process (peak memory is per size).  Prints medians over ``--repeats``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

CLASSES = ("type1", "type2", "intermediate")
PART = 262_144


def write_survey(folder: Path, n: int, seed: int = 0) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from astroxai.workflows.survey import parquet_schema

    rng = np.random.default_rng(seed)
    parts = folder / "survey.parquet"
    parts.mkdir(parents=True, exist_ok=True)
    schema = parquet_schema(list(CLASSES))
    centres = np.array([[-30.0, 0.0], [20.0, 15.0], [5.0, -25.0]])
    for number, start in enumerate(range(0, n, PART)):
        size = min(PART, n - start)
        truth = rng.choice(3, size, p=[0.2, 0.64, 0.16])
        xy = centres[truth] + rng.normal(0, 8, (size, 2))
        probabilities = rng.dirichlet([1, 1, 1], size) * 0.4
        probabilities[np.arange(size), truth] += 0.6
        predicted = probabilities.argmax(axis=1)
        ids = (np.uint64(1237645876861272064) + np.arange(start, start + size, dtype=np.uint64)).astype(str)
        rejected = rng.random(size) < 0.002
        columns = {
            "index": np.arange(start, start + size), "partition": np.full(size, number, np.int32), "id": ids,
            "input": np.char.add("spectra/spec-", ids), "status": np.where(rejected, "rejected", "kept"),
            "reason": np.where(rejected, "holds NaN or infinite values", None),
            "label": np.where(rng.random(size) < 0.3, np.array(CLASSES)[truth], None), "z": rng.uniform(0, 0.8, size),
            "predicted": np.array(CLASSES)[predicted], "target": np.array(CLASSES)[predicted],
            **{f"p_{c}": probabilities[:, k] for k, c in enumerate(CLASSES)}, "zero_map": np.zeros(size, bool),
            "hbeta_core_mean": rng.normal(0, 1, size), "hbeta_wing_mean": rng.normal(0, 1, size),
            "line_saliency_share": rng.uniform(0, 1, size), "novelty": rng.lognormal(-0.7, 0.5, size),
            "tsne_x": xy[:, 0], "tsne_y": xy[:, 1]}
        table = pa.table({name: pa.array(columns[name], type=schema.field(name).type) for name in schema.names})
        # row groups of 16 384 rows: a listed row's id and input are read from its row group only
        pq.write_table(table, parts / f"part-{number:06d}.parquet", compression="zstd", row_group_size=16_384)
    record = {"command": "survey", "status": "complete", "model": "(synthetic: no model)",
              "settings": {"model_sha": "0" * 64, "method": "saliency"}, "n_inputs": n, "n_rows": n}
    (folder / "survey.json").write_text(json.dumps(record))


def first_view(folder: Path, repeats: int, from_parts: bool = False) -> dict:
    """Seconds from starting ``astroxai view`` to its URL printed and to the map's image on the page in headless
    Chromium; medians over ``repeats`` starts.  ``from_parts``: the survey's column file is moved aside before each
    start (and put back at the end), so that the columns are read from the Parquet parts."""
    import re

    from astroxai.report import browser
    from astroxai.workflows.survey_outputs import COLUMNS

    column_file, aside = folder / COLUMNS, folder / f".{COLUMNS}.aside"

    driver = browser.start(1700, 1400)
    painted = ("const d = window.Bokeh && Bokeh.documents; if (!d || !d.length) return 0;"
               "const r = d[0].get_model_by_name('points'); if (!r) return 0;"
               "const img = r.data_source.data.image[0]; const a = img.array || img;"
               "let n = 0; for (const v of a) { if (v !== 0) n++; } return n;")
    opened = "return !!(window.Bokeh && Bokeh.documents && Bokeh.documents.length)"
    ready, page, shown = [], [], []
    try:
        for _ in range(repeats):
            if from_parts and column_file.exists():
                column_file.replace(aside)
            started = time.perf_counter()
            server = subprocess.Popen([sys.executable, "-m", "astroxai.cli", "view", str(folder), "--port", "0",
                                       "--no-browser"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            try:
                url = next(found.group(0) for line in server.stdout if (found := re.search(r"http://\S+", line)))
                ready.append(time.perf_counter() - started)
                driver.get(url)
                while not driver.execute_script(opened):
                    time.sleep(0.02)
                page.append(time.perf_counter() - started)
                while driver.execute_script(painted) < 20:
                    if time.perf_counter() - started > 300:
                        raise TimeoutError("the map did not reach the page in 300 s")
                    time.sleep(0.02)
                shown.append(time.perf_counter() - started)
                driver.get("about:blank")
            finally:
                server.terminate()
                server.wait(30)
    finally:
        driver.quit()
        if aside.exists():
            aside.replace(column_file)
    how = "from the parts" if from_parts else "column file"
    return {f"server ready, {how} (s, median)": round(float(np.median(ready)), 2),
            f"page in Chromium, {how} (s, median)": round(float(np.median(page)), 2),
            f"first view in Chromium, {how} (s, median)": round(float(np.median(shown)), 2),
            f"first views, {how} (s)": [round(v, 2) for v in shown]}


def measure(folder: Path, repeats: int) -> dict:
    from bokeh.document import Document

    from astroxai.view.app import Session, Shared, warm_up
    from astroxai.workflows.survey import peak_memory_mb
    from astroxai.workflows.survey_outputs import read_columns

    started = time.perf_counter()
    shared = Shared(folder)
    read = time.perf_counter() - started
    assert shared.table.read_from == "column file", shared.table.read_from
    warm_up(shared)  # datashader's compilation and the model, as the server does after the first page
    times = {"first session": [], "pan/zoom re-render": [], "sparse zoom re-render": [], "filter re-render": [],
             "click lookup": []}
    drawable = Path(shared.table.model_dir).is_dir()
    for repeat in range(repeats):
        started = time.perf_counter()
        session = Session(shared)
        session.attach(Document())
        times["first session"].append(time.perf_counter() - started)
        (x0, x1), (y0, y1) = session.ranges()
        # moves are fractions of the map's side: its axes may be t-SNE coordinates or probabilities
        shift, centre = repeat * (x1 - x0) / 50, ((x0 + x1) / 2, (y0 + y1) / 2)
        session.map.x_range.start, session.map.x_range.end = x0 + (x1 - x0) / 4 + shift, x1 - (x1 - x0) / 4 + shift
        started = time.perf_counter()
        session.redraw()
        times["pan/zoom re-render"].append(time.perf_counter() - started)
        zoomed = session.ranges()
        # a zoom into 1/200 of the map's width around one object, where datashader spreads the few points
        row = int(np.flatnonzero(session.drawable)[(repeat * 104_729) % session.count_drawable])
        x, y = (float(shared.table.numbers[a][row]) for a in session.axes)
        width, height = (x1 - x0) / 400, (y1 - y0) / 400
        session.map.x_range.start, session.map.x_range.end = x - width, x + width
        session.map.y_range.start, session.map.y_range.end = y - height, y + height
        started = time.perf_counter()
        session.redraw()
        times["sparse zoom re-render"].append(time.perf_counter() - started)
        (session.map.x_range.start, session.map.x_range.end), (session.map.y_range.start, session.map.y_range.end) \
            = zoomed
        started = time.perf_counter()
        session.class_box.active = [0, 1] if repeat % 2 == 0 else [0, 1, 2]
        times["filter re-render"].append(time.perf_counter() - started)
        started = time.perf_counter()
        rows, _ = shared.table.nearest(session.shown, session.axes, centre[0] + shift, centre[1], k=9)
        shared.table.rows(rows)
        times["click lookup"].append(time.perf_counter() - started)
        if drawable:  # a real survey: a click at a kept object to its spectrum drawn with its map
            row = int(np.flatnonzero(session.drawable)[(repeat * 7919) % session.count_drawable])
            x, y = shared.table.numbers[session.axes[0]][row], shared.table.numbers[session.axes[1]][row]
            started = time.perf_counter()
            clicked = session.click(float(x), float(y))
            times.setdefault("click to drawn spectrum", []).append(time.perf_counter() - started)
            assert clicked is not None and len(session.spectrum_source.data["flux"]) > 0, session.about.text
            # a box over the middle 40 % of the drawn objects along each axis: list + mean map
            (x0, x1), (y0, y1) = (np.nanpercentile(shared.table.numbers[a][session.drawable], (30, 70))
                                  for a in session.axes)
            started = time.perf_counter()
            session.select_box(x0 + repeat * (x1 - x0) / 50, x1, y0, y1)
            times.setdefault("box selection + mean map", []).append(time.perf_counter() - started)
            assert len(session.selected) > 0 and len(session.mean_source.data["selected"]) > 0
    peak = peak_memory_mb() / 1024
    started = time.perf_counter()  # after the peak memory: the table is held twice meanwhile
    read_columns(shared.table.parts, shared.table.n)
    from_parts = time.perf_counter() - started
    return {"rows": shared.table.n, "read columns, column file (s)": round(read, 2),
            "read columns from the parts (s)": round(from_parts, 2),
            **{f"{name} (s, median)": round(float(np.median(v)), 3) for name, v in times.items()},
            "peak memory (GB)": round(peak, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--folder", type=Path, default=Path("/tmp/astroxai-view-bench"))
    parser.add_argument("--survey", type=Path, default=None, help="a real survey folder to measure instead")
    parser.add_argument("--browser", action="store_true", help="also time the first view in headless Chromium")
    parser.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)  # a size, in this process
    parser.add_argument("--write", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        folder = args.survey or args.folder / f"survey-{args.one}"
        if args.write:  # in a process of its own: the viewer's peak memory is measured in the next
            from astroxai.view.table import SurveyTable

            if not (folder / "survey.json").is_file():
                write_survey(folder, args.one)
            SurveyTable(folder).store_columns()  # as astroxai survey leaves a survey (none written if it has one)
            return
        print(json.dumps(measure(folder, args.repeats)))
        return
    sizes = [0] if args.survey else args.rows
    for n in sizes:  # written in one process, measured in another (peak memory is the viewer's own)
        folder = args.survey or args.folder / f"survey-{n}"
        subprocess.run([sys.executable, __file__, "--one", str(n), "--write", "--folder", str(args.folder),
                        *(["--survey", str(args.survey)] if args.survey else [])], check=True)
        done = subprocess.run([sys.executable, __file__, "--one", str(n), "--repeats", str(args.repeats),
                               "--folder", str(args.folder), *(["--survey", str(args.survey)] if args.survey else [])],
                              capture_output=True, text=True, check=True)
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        if args.browser:
            figures.update(first_view(folder, min(args.repeats, 3)))
            figures.update(first_view(folder, min(args.repeats, 3), from_parts=True))
        print({"survey": str(folder), **figures})


if __name__ == "__main__":
    main()
