"""``astroxai view``: the survey's columns, filters, selections and queues against brute force and pyarrow's own
reading of the survey; the maps and spectra it draws against the survey's stored maps and reduced store; verdicts
and exported selections read back by the commands that take them; bad folders; the app in headless Chromium."""

import csv
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from astroxai.cli import main
from astroxai.data import SpectraSet
from astroxai.io import collect_inputs
from astroxai.view.detail import Explained
from astroxai.view.table import Filter, SurveyTable, Verdict, VerdictBook, ViewError, nearest_rows
from astroxai.workflows.survey import open_maps, read_survey


def _invoke(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def surveyed(trained_model, reduced_sample, dask_scheduler, tmp_path_factory):
    """A survey of the reduced sample (placed on its t-SNE map, maps stored) plus its FITS files and a damaged
    file, and the same survey without stored maps."""
    folder = tmp_path_factory.mktemp("view")
    _invoke("embed", reduced_sample, "--out", folder / "embed", "--perplexity", "8", "--raw", "--classes", "all")
    files = folder / "files"
    files.mkdir()
    for path in sorted((reduced_sample.parent / "sim" / "spectra").glob("*.fits"))[:6]:
        shutil.copy(path, files / path.name)
    (files / "spec-0000-00000-0009.fits").write_bytes(b"SIMPLE  =  broken")
    common = ["--place-on", folder / "embed" / "embeddings.h5", "--scheduler", dask_scheduler, "--partition-size",
              "20"]
    _invoke("survey", trained_model, reduced_sample, files, "--out", folder / "survey", "--maps", *common)
    _invoke("survey", trained_model, reduced_sample, files, "--out", folder / "plain", *common)
    return folder


def test_columns_filters_boxes_lassos_queues_and_neighbours_against_brute_force(surveyed):
    table = SurveyTable(surveyed / "survey")
    arrow = read_survey(surveyed / "survey")
    assert table.n == arrow.num_rows == 48 + 7
    assert table.strings("id", range(table.n)) == arrow.column("id").to_pylist()  # strings, in survey order
    kept = arrow.filter(pc.equal(arrow["status"], "kept"))
    assert table.mask(Filter()).sum() == kept.num_rows == 54
    assert table.mask(Filter(status="rejected")).sum() == 1
    assert table.reason_counts(table.mask(Filter(status="rejected")))[0][1] == 1
    rows = kept.to_pylist()
    probabilities = np.array([[r[f"p_{c}"] for c in table.classes] for r in rows])
    top2 = np.sort(probabilities, axis=1)[:, -2:]
    margin = top2[:, 1] - top2[:, 0]
    chosen = Filter(classes=("type1", "type2"), confidence=(0.3, 0.9), novelty="inside")
    expected = [r["id"] for r, m in zip(rows, margin, strict=True)
                if r["predicted"] in ("type1", "type2") and 0.3 - 1e-6 <= m <= 0.9 + 1e-6 and r["novelty"] <= 1]
    assert [r["id"] for r in table.rows(np.flatnonzero(table.mask(chosen)))] == expected
    assert "predicted in ['type1', 'type2']" in chosen.query() and "novelty <= 1" in chosen.query()
    disagree = [r["id"] for r in rows if r["label"] and r["label"] != r["predicted"]]
    assert [r["id"] for r in table.rows(np.flatnonzero(table.mask(Filter(disagree=True))))] == disagree

    shown = table.mask(Filter())
    x, y = table.numbers["tsne_x"], table.numbers["tsne_y"]
    x0, x1, y0, y1 = np.nanpercentile(x, 20), np.nanpercentile(x, 70), np.nanpercentile(y, 10), np.nanpercentile(y, 80)
    box = table.in_box(shown, table.axes, x1, x0, y0, y1)  # corners in any order
    assert list(box) == [i for i in range(table.n) if shown[i] and x0 <= x[i] <= x1 and y0 <= y[i] <= y1]
    assert len(box) > 5
    lasso = table.in_polygon(shown, table.axes, [x0, x1, x1, x0], [y0, y0, y1, y1])
    assert set(lasso) == set(box)  # the same square as a polygon (no point on its edge in this sample)
    triangle = table.in_polygon(shown, table.axes, [x0, x1, x0], [y0, y0, y1])
    assert set(triangle) < set(box) and len(triangle) > 0
    near, distance = table.nearest(shown, table.axes, 0.0, 0.0, k=3)
    brute = np.argsort(np.where(shown, np.hypot(x, y), np.inf), kind="stable")[:3]
    assert list(near) == list(brute) and np.all(np.diff(distance) >= 0)
    novel = table.queue("most novel", shown)
    assert list(table.numbers["novelty"][novel]) == sorted(table.numbers["novelty"][shown], reverse=True)
    unsure = table.queue("least confident", shown)
    assert table.numbers["margin"][unsure[0]] == np.nanmin(table.numbers["margin"][shown])


def test_the_nearest_rows_equal_a_search_over_every_row():
    """The box-first search (the click's and the neighbours' at 10⁷ rows) gives what distances to every row give:
    in dense clusters, in empty parts of the map, far outside it, on a point, with pixel scales, NaN coordinates
    and hidden rows; and none when nothing is shown."""
    rng = np.random.default_rng(7)
    n = 200_000
    centres = np.array([[-30.0, 0.0], [20.0, 15.0], [5.0, -25.0]])
    xy = (centres[rng.integers(0, 3, n)] + rng.normal(0, 4, (n, 2))).astype(np.float32)
    xy[:50] = rng.uniform(-200, 200, (50, 2))  # a few far from every cluster
    xy[rng.random(n) < 0.01, 0] = np.nan
    xs, ys = xy[:, 0], xy[:, 1]
    shown = rng.random(n) < 0.7
    queries = [(-30.0, 0.0), (60.0, 60.0), (-500.0, 900.0), (float(xs[100]), float(ys[100])), (0.0, 0.0)]
    queries += [tuple(v) for v in rng.uniform(-80, 80, (15, 2))]
    for (x, y), k, scale in [(q, k, s) for q in queries for k in (1, 9) for s in ((1.0, 1.0), (0.11, 0.07))]:
        found, distance = nearest_rows(xs, ys, shown, x, y, k, scale)
        brute = np.hypot((xs - x) / scale[0], (ys - y) / scale[1])
        brute = np.where(shown & np.isfinite(brute), brute, np.inf)
        expected = np.argsort(brute, kind="stable")[:k]
        assert list(found) == list(expected), (x, y, k, scale)
        np.testing.assert_allclose(distance, brute[expected], rtol=1e-6)
    assert len(nearest_rows(xs, ys, np.zeros(n, bool), 0.0, 0.0, 3)[0]) == 0


def test_every_row_as_pyarrow_reads_it_even_from_parts_out_of_order(surveyed, tmp_path):
    """Each listed row (id, input read on demand from its part, reason, classes, numbers) equals pyarrow's own
    reading of the survey; with the parts' names swapped (rows stored out of input order) and split into row groups
    the table is the same."""
    table = SurveyTable(surveyed / "survey")
    expected = read_survey(surveyed / "survey").to_pylist()
    assert len(table.parts) >= 3  # the fixture writes parts of 20 rows: inputs come from several parts
    listed = table.rows(np.arange(table.n)[::-1])[::-1]  # asked for in reverse, across parts
    for mine, theirs in zip(listed, expected, strict=True):
        assert (mine["id"], mine["input"], mine["reason"], mine["status"], mine["index"]) == \
            (theirs["id"], theirs["input"], theirs["reason"] or "", theirs["status"], theirs["index"])
        assert mine["label"] == (theirs["label"] or "") and mine["predicted"] == (theirs["predicted"] or "")
        for name in ("novelty", "z", *(f"p_{c}" for c in table.classes)):
            assert (mine[name] is None) == (theirs[name] is None or np.isnan(theirs[name]))
            if mine[name] is not None:
                assert mine[name] == pytest.approx(theirs[name], rel=1e-6)  # float32 copies of float64
    shuffled = tmp_path / "shuffled"
    shutil.copytree(surveyed / "survey", shuffled)
    parts = sorted((shuffled / "survey.parquet").glob("part-*.parquet"))
    first, last = parts[0], parts[-1]
    first.rename(first.with_suffix(".tmp"))
    last.rename(first)
    first.with_suffix(".tmp").rename(last)
    for part in parts:  # and in row groups of 7 rows: a listed row's strings come from its row group
        pq.write_table(pq.read_table(part), part, row_group_size=7)
    assert max(pq.ParquetFile(part).metadata.num_row_groups for part in parts) >= 3
    again = SurveyTable(shuffled)
    assert again._stored_at is not None  # the out-of-order path ran
    assert again.rows(np.arange(again.n)) == table.rows(np.arange(table.n))
    shown = table.mask(Filter(status="all"))
    assert again.reason_counts(shown) == table.reason_counts(shown)
    for name, values in table.numbers.items():
        np.testing.assert_array_equal(again.numbers[name], values)


def _same_columns(table, other):
    """Every column a survey table holds in memory (and where its parts' rows start) is the other's."""
    assert (table.n, table.classes, table.labels, table.axes) == (other.n, other.classes, other.labels, other.axes)
    for name in ("index", "status", "predicted", "label", "probabilities", "hbeta", "_reason_rows", "_part_starts"):
        mine, theirs = getattr(table, name), getattr(other, name)
        assert mine.dtype == theirs.dtype, name
        np.testing.assert_array_equal(mine, theirs, err_msg=name)
    assert list(table.numbers) == list(other.numbers)
    for name, values in table.numbers.items():
        assert values.dtype == other.numbers[name].dtype
        np.testing.assert_array_equal(values, other.numbers[name], err_msg=name)  # NaN where NaN
    assert table._reasons.to_pylist() == other._reasons.to_pylist()
    assert [Path(p).resolve() for p in table._part_paths] == [Path(p).resolve() for p in other._part_paths]


def test_the_survey_writes_its_columns_in_one_file_the_view_maps(surveyed, tmp_path, caplog):
    """``astroxai survey`` leaves the view's columns in one Arrow file: the view reads that instead of the parts,
    and gets the same arrays as from the parts (a rejected row's reason included).  A file that no longer belongs
    to the parts (a part rewritten, one removed), a damaged file and a file of another format are not read: the
    parts are, and the warm-up writes the file again; a moved folder keeps its file."""
    from astroxai.view.app import Shared, warm_up
    from astroxai.workflows.survey_outputs import COLUMNS, read_columns, write_columns

    folder = tmp_path / "moved"
    shutil.copytree(surveyed / "survey", folder)  # a folder moved elsewhere keeps its file (relative part names)
    assert (surveyed / "survey" / COLUMNS).is_file() and (folder / COLUMNS).is_file()
    table = SurveyTable(folder)
    assert table.read_from == "column file"
    (folder / COLUMNS).rename(tmp_path / "kept.arrow")
    from_parts = SurveyTable(folder)
    assert from_parts.read_from == "parts" and from_parts.n == 55 and len(from_parts._reasons) == 1
    _same_columns(table, from_parts)
    assert table.rows(np.arange(table.n)) == from_parts.rows(np.arange(from_parts.n))
    columns = read_columns(sorted((folder / "survey.parquet").glob("part-*.parquet")))  # no count given
    np.testing.assert_array_equal(columns.index, from_parts.index)

    # the warm-up writes the file of a survey read from its parts; the next start maps it
    shared = Shared(folder, tmp_path / "verdicts.csv")
    warm_up(shared)
    assert shared.table.read_from == "parts (column file written)" and (folder / COLUMNS).is_file()
    again = SurveyTable(folder)
    assert again.read_from == "column file"
    _same_columns(again, from_parts)

    parts = sorted((folder / "survey.parquet").glob("part-*.parquet"))
    pq.write_table(pq.read_table(parts[1]), parts[1], row_group_size=5)  # the same rows, rewritten
    assert SurveyTable(folder).read_from == "parts"
    SurveyTable(folder).store_columns()
    assert SurveyTable(folder).read_from == "column file"
    caplog.set_level("WARNING")
    for damage in (b"ARROW1 and then nothing", (tmp_path / "kept.arrow").read_bytes()[:-100]):
        (folder / COLUMNS).write_bytes(damage)
        damaged = SurveyTable(folder)
        assert damaged.read_from == "parts"
        _same_columns(damaged, from_parts)
    assert COLUMNS in caplog.text and "reading the survey's parts instead" in caplog.text
    # a file with the parts' fingerprint but edited contents (a code out of range, a part the survey lacks, rows
    # past the end) is not read
    parts = sorted((folder / "survey.parquet").glob("part-*.parquet"))
    for edit in ("predicted", "part", "end"):
        edited = read_columns(parts, from_parts.n)
        if edit == "predicted":
            edited.predicted[3] = 7
        elif edit == "part":
            edited.part_paths[0] = str(folder / "survey.parquet" / "part-999999.parquet")
        else:
            edited.part_starts[-1] += 1
        write_columns(folder, edited, parts, from_parts.n)
        assert SurveyTable(folder).read_from == "parts", edit
    # a file of another format (an older or newer astroxai) is left unread
    import pyarrow as pa

    stale = pa.table({"index": pa.array([0])}).replace_schema_metadata({"astroxai": json.dumps({"format": "x/9"})})
    with pa.OSFile(str(folder / COLUMNS), "wb") as sink, pa.ipc.new_file(sink, stale.schema) as writer:
        writer.write_table(stale)
    unread = SurveyTable(folder)
    assert unread.read_from == "parts" and unread.store_columns() == folder / COLUMNS
    assert SurveyTable(folder).read_from == "column file"
    parts[-1].unlink()  # a part gone: the file made with it is not read (and the record's count no longer holds)
    with pytest.raises(ViewError, match="its parts hold"):
        SurveyTable(folder)


def test_drawn_spectra_and_maps_are_the_surveys_own(surveyed, reduced_sample):
    """A clicked object's spectrum is its row of the reduced store (or its file reduced again), its map is the
    survey's stored map, and where no map was stored it is computed again to the same values."""
    table = SurveyTable(surveyed / "survey")
    stored, ids = open_maps(surveyed / "survey")
    data = SpectraSet.load(reduced_sample)
    explained, plain = Explained(table), Explained(SurveyTable(surveyed / "plain"))
    kept = np.flatnonzero(table.kept)
    for row in (kept[0], kept[30], kept[-1]):  # two store rows and a FITS file
        shown, again = explained.show(row), plain.show(row)
        identifier = table.strings("id", [row])[0]
        position = list(ids).index(identifier)
        assert shown.source == "stored" and again.source == "computed"
        np.testing.assert_allclose(shown.attribution, np.asarray(stored[position]), rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(again.attribution, shown.attribution, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(shown.flux, data.flux[list(data.ids).index(identifier)], rtol=1e-5)
    with pytest.raises(ViewError, match="rejected"):
        explained.show(int(np.flatnonzero(~table.kept)[0]))
    selected = kept[:10]
    _, mean, rest, n_selected, n_rest = explained.mean_maps(selected, table.mask(Filter()))
    maps = np.asarray(stored)
    assert (n_selected, n_rest) == (10, len(kept) - 10)
    np.testing.assert_allclose(mean, maps[:10].mean(axis=0), rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(rest, maps[10:].mean(axis=0), rtol=1e-5, atol=1e-9)


def test_store_spectra_found_by_their_place_and_by_id_when_the_store_changed(trained_model, reduced_sample,
                                                                             dask_scheduler, tmp_path):
    """A survey of two stores: a row's spectrum is read at its survey index less its store's first index (the
    store's ids read at those rows only, not all of them); after the store is rewritten in another order, or where
    a store was given twice, the place no longer holds the id and the spectrum is found by id instead."""
    data = SpectraSet.load(reduced_sample)
    first = data.subset(np.arange(7))
    first.ids = np.char.add("first-", first.ids)
    first.save(tmp_path / "first.h5")
    second = tmp_path / "second.h5"
    shutil.copy(reduced_sample, second)
    _invoke("survey", trained_model, tmp_path / "first.h5", second, second, "--out", tmp_path / "survey",
            "--scheduler", dask_scheduler, "--partition-size", "20")
    table = SurveyTable(tmp_path / "survey")
    assert table.n == 7 + 2 * len(data)
    by_id = dict(zip(data.ids, data.flux, strict=True)) | dict(zip(first.ids, first.flux, strict=True))
    in_second = [3, 7, 7 + 5, 7 + len(data) - 1]  # each store's rows, first and last
    explained = Explained(table)
    rows = table.rows(in_second)
    np.testing.assert_array_equal(explained.spectra(rows).flux, [by_id[r["id"]] for r in rows])
    assert explained._offsets == {str(tmp_path / "first.h5"): 0, str(second): 7} and not explained._stores
    again = table.rows([7 + len(data) + 2])  # the second listing of the same store
    np.testing.assert_array_equal(explained.spectra(again).flux, [by_id[again[0]["id"]]])
    assert list(explained._stores) == [str(second)]
    data.subset(np.arange(len(data))[::-1]).save(second)  # the same spectra in the opposite order
    explained = Explained(table)
    np.testing.assert_array_equal(explained.spectra(rows).flux, [by_id[r["id"]] for r in rows])
    assert list(explained._stores) == [str(second)]


def test_exported_selection_reruns_with_explain_and_verdicts_feed_a_catalogue(surveyed, trained_model, tmp_path):
    from bokeh.document import Document

    from astroxai.view.app import CLICK_PIXELS, MAP_HEIGHT, MAP_WIDTH, Session, Shared

    shared = Shared(surveyed / "survey", tmp_path / "verdicts.csv")
    shared.exports = tmp_path / "selections"
    session = Session(shared)
    session.attach(Document())
    before = session.count.text
    session.class_box.active = [1]  # one class only: the count changes
    assert session.count.text != before and session.filter.classes == (session.table.classes[1],)
    margin = session.table.numbers["margin"]  # the shown rows' histogram (one bincount) is numpy's histogram
    expected = np.histogram(margin[session.shown & np.isfinite(margin)], shared.margin_edges)[0]
    np.testing.assert_array_equal(session.hist_shown.data["top"], expected)
    assert 0 < expected.sum() < session.table.kept.sum()
    session.class_box.active = list(range(len(session.table.classes)))
    x, y = session.table.numbers["tsne_x"], session.table.numbers["tsne_y"]
    # a click draws the shown object nearest on the screen (in pixels: here y is squeezed 10 times), if it is near
    session.map.x_range.start, session.map.x_range.end = float(np.nanmin(x)), float(np.nanmax(x))
    low, high = float(np.nanmin(y)), float(np.nanmax(y))
    session.map.y_range.start, session.map.y_range.end = low, low + 10 * (high - low)
    (x0, x1), (y0, y1) = session.ranges()

    def on_screen(cx, cy):
        pixels = np.hypot((x - cx) / ((x1 - x0) / MAP_WIDTH), (y - cy) / ((y1 - y0) / MAP_HEIGHT))
        return np.where(session.drawable, pixels, np.inf)

    # a click between two objects where the nearest in data units is not the nearest on the screen
    placed = np.flatnonzero(session.drawable)
    between = [((x[i] + x[j]) / 2 + 0.3 * (x[j] - x[i]), (y[i] + y[j]) / 2) for i in placed for j in placed if i != j]
    cx, cy = next((float(a), float(b)) for a, b in between if on_screen(a, b).min() <= CLICK_PIXELS
                  and np.argmin(on_screen(a, b)) != np.argmin(np.where(session.drawable, np.hypot(x - a, y - b),
                                                                       np.inf)))
    assert session.click(cx, cy) == int(np.argmin(on_screen(cx, cy)))
    far = int(np.nanargmax(np.where(session.drawable, x, np.nan)))  # 3 data units right of the rightmost object:
    assert on_screen(x[far] + 3, y[far]).min() > CLICK_PIXELS  # over 25 pixels from any, so nothing is drawn
    assert session.click(float(x[far] + 3), float(y[far])) is None
    session.select_box(np.nanmin(x) - 1, np.nanmax(x) + 1, -1e9, 1e9)
    assert len(session.selected) == 54 and "of 54 selected" in session.page_text.text
    assert "54 selected" in session.mean_plot.title.text or "of 54" in session.mean_plot.title.text
    session.export()
    written = sorted(shared.exports.iterdir())
    assert [p.suffix for p in written] == [".csv", ".h5", ".json"]
    about = json.loads(written[2].read_text())
    assert about["model_sha256"] == session.table.model_sha and len(about["ids"]) == 54
    assert all(isinstance(i, str) for i in about["ids"]) and about["geometry"]["type"] == "box"
    out = tmp_path / "again"
    _invoke("explain", trained_model, written[0], written[1], "--out", out, "--max-figures", "0")
    with open(out / "explanations.csv", newline="") as handle:
        again = {r["id"]: r["predicted"] for r in csv.DictReader(handle)}
    surveyed_rows = {r["id"]: r["predicted"] for r in session.table.rows(session.selected)}
    assert again == surveyed_rows

    file_row = next(r for r in session.table.rows(np.flatnonzero(session.table.kept))
                    if r["input"].endswith(".fits"))
    session.show_object(file_row["row"])
    session.relabel_as.value = "intermediate"
    session.keys.value = "r:1"  # the key r, as the page sends it
    session.start_queue()
    session.give_verdict("bad data")
    with open(tmp_path / "verdicts.csv", newline="") as handle:
        verdicts = list(csv.DictReader(handle))
    assert [v["verdict"] for v in verdicts] == ["relabel", "bad data"]
    assert verdicts[0]["label"] == "intermediate" and verdicts[1]["label"] == ""
    items = collect_inputs([tmp_path / "verdicts.csv"])  # the verdicts are a catalogue
    relabelled = next(i for i in items if str(i.path) == file_row["input"])
    assert relabelled.label == "intermediate"

    # a row of a reduced store: its reduced spectrum, labelled by the verdict, goes to verdicts.h5 (a SpectraSet)
    judged = {v["id"] for v in verdicts}
    store_row = next(r for r in session.table.rows(np.flatnonzero(session.table.kept))
                     if r["input"].endswith(".h5") and r["id"] not in judged)
    session.show_object(store_row["row"])
    session.give_verdict("agree")
    kept = SpectraSet.load(tmp_path / "verdicts.h5")
    assert list(kept.ids) == [store_row["id"]] and list(kept.labels) == [store_row["predicted"]]
    source = SpectraSet.load(store_row["input"])
    np.testing.assert_array_equal(kept.flux[0], source.flux[list(source.ids).index(store_row["id"])])
    np.testing.assert_array_equal(kept.wavelength, source.wavelength)
    assert list(kept.meta["file"]) == [store_row["input"]]
    reopened = VerdictBook(tmp_path / "verdicts.csv")  # a restarted server keeps them
    assert len(reopened) == len(verdicts) + 1 and len(reopened.reduced) == 1
    # a spectrum on another grid is refused and the book is left as it was
    other = Verdict("elsewhere", store_row["input"], None, "type1", "", "agree", "", "")
    with pytest.raises(ValueError, match="another grid"):
        reopened.record(other, (kept.wavelength[:-1], kept.flux[0][:-1]))
    assert len(reopened) == len(verdicts) + 1 and len(reopened.reduced) == 1
    session.show_object(store_row["row"])
    session.give_verdict("bad data")  # bad data is no training example: the set is emptied
    assert not (tmp_path / "verdicts.h5").exists()


def test_folders_it_cannot_show_get_one_line_errors(surveyed, tmp_path):
    runner = CliRunner()
    cases = {tmp_path / "missing": "no such folder", tmp_path: "not a survey folder"}
    half = tmp_path / "half"
    shutil.copytree(surveyed / "survey", half)
    record = json.loads((half / "survey.json").read_text())
    (half / "survey.json").write_text(json.dumps({**record, "status": "running"}))
    cases[half] = "half-written"
    old = tmp_path / "old"
    shutil.copytree(surveyed / "survey", old)
    (old / "survey.json").write_text(json.dumps({"status": "complete"}))
    cases[old] = "another version"
    for folder, message in cases.items():
        result = runner.invoke(main, ["view", str(folder), "--no-browser"])
        assert result.exit_code != 0 and message in result.output, result.output
        assert len(result.output.strip().splitlines()) == 1


def test_a_page_opened_while_the_survey_is_read_shows_progress_then_the_views(surveyed, tmp_path):
    """The server answers before the survey is read: a page opened meanwhile says what is being read and gets the
    views (from the server's event loop) once read; a page opened later gets them at once; a survey whose table
    turns out unreadable (a damaged part after the first) is said on the page and by the command, in one line."""
    from bokeh.document import Document

    from astroxai.view.app import Loading

    loading = Loading(surveyed / "survey")
    early = Document()
    loading.page(early)
    (root,) = early.roots
    assert root.name == "view" and "Reading" in root.children[0].text and not early.session_callbacks
    assert "its column file" in root.children[0].text  # the survey wrote one
    loading._read()  # what the reading thread does
    (swap,) = early.session_callbacks  # queued for the event loop, not run from the reading thread
    assert early.get_model_by_name("map") is None
    swap.callback()
    names = {model.name for model in early.models if model.name}
    assert {"map", "points", "count", "rows_table", "keys", "spectrum_source"} <= names and "loading" not in names
    assert early.roots == [root] and loading.served.is_set()
    late = Document()
    loading.page(late)
    assert late.get_model_by_name("map") is not None and not late.session_callbacks

    damaged = tmp_path / "damaged"
    shutil.copytree(surveyed / "survey", damaged)
    parts = sorted((damaged / "survey.parquet").glob("part-*.parquet"))
    assert len(parts) >= 2
    parts[1].write_bytes(parts[1].read_bytes()[: 200])
    loading = Loading(damaged)  # the first part and the record are sound: nothing to say before reading
    page = Document()
    loading.page(page)
    loading._read()
    (say,) = page.session_callbacks
    say.callback()
    assert loading.shared is None and "cannot" in page.get_model_by_name("loading").text
    result = CliRunner().invoke(main, ["view", str(damaged), "--port", "0", "--no-browser"])
    assert result.exit_code != 0
    error = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(error) == 1 and "cannot be read" in error[0] and "part-" in error[0], result.output

    # the rows are counted from survey.json, and the parts checked against that count
    miscounted = tmp_path / "miscounted"
    shutil.copytree(surveyed / "survey", miscounted)
    record = json.loads((miscounted / "survey.json").read_text())
    n = SurveyTable(surveyed / "survey").n
    assert record["n_rows"] == n
    for wrong in (n - 1, n + 1):
        (miscounted / "survey.json").write_text(json.dumps({**record, "n_rows": wrong}))
        with pytest.raises(ViewError, match=f"{wrong:,}"):
            SurveyTable(miscounted)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process is POSIX")
def test_ctrl_c_while_the_survey_is_read_stops_the_server_cleanly(surveyed):
    """Ctrl-C right after the URL (the survey still being read, datashader still compiling) stops the server with
    "stopped" and no traceback."""
    import signal

    command = [sys.executable, "-m", "astroxai.cli", "view", str(surveyed / "survey"), "--port", "0", "--no-browser"]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    first = server.stdout.readline()
    assert "http://127.0.0.1:" in first, first
    server.send_signal(signal.SIGINT)
    rest, _ = server.communicate(timeout=60)
    assert server.returncode == 0 and rest.strip().endswith("stopped") and "Traceback" not in rest, rest


def test_datashader_comes_without_dask_and_leaves_it_importable():
    """In a fresh process: the view imports datashader without its optional Dask support (1.1 s of the server's
    start), draws with it, and leaves Dask importable."""
    code = ("import sys\n"
            "import numpy as np\n"
            "from astroxai.view.app import _import_datashader, _shade\n"
            "_import_datashader()\n"
            "print(*(name in sys.modules for name in ('datashader', 'dask.dataframe', 'dask.array')))\n"
            "x, y = (a.ravel() for a in np.meshgrid(*2 * [np.linspace(-0.9, 0.9, 8, dtype=np.float32)]))\n"
            "codes = (np.arange(64) % 3).astype(np.int8)  # 2: hidden\n"
            "image = _shade(x, y, (-1, 1), (-1, 1), 4, 4, codes=codes, categories=['a', 'b'],"
            " palette=['#ff0000', '#0000ff'])\n"
            "print(int((image >> 24 > 0).sum()))\n"
            "import dask.dataframe\n"
            "print(dask.dataframe.DataFrame.__name__)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.split("\n")
    assert lines[0] == "True False False" and int(lines[1]) == 16 and lines[2] == "DataFrame", done.stdout


def test_the_first_map_comes_before_xarray_imports_dask_and_xarray_takes_dask_afterwards(surveyed):
    """In a fresh process, as the server runs: the survey read and the first session's map drawn without Dask's
    arrays imported (xarray was told there are none, 0.45 s saved), without matplotlib (the spectrum's colour map
    comes from Bokeh's palettes, ≈ 0.2 s saved) and without numba's code for the density that decides the spreading
    (0.35 s), which the warm-up loads; once the warm-up is over xarray knows Dask's arrays again, and takes them as
    Dask arrays (lazy, chunked)."""
    code = ("import sys\n"
            "from bokeh.document import Document\n"
            "from astroxai.view.app import Loading, Session\n"
            "loading = Loading(sys.argv[1])\n"
            "loading.start()\n"
            "assert loading.ready.wait(120) and loading.shared is not None\n"
            "Session(loading.shared).attach(Document())\n"
            "import datashader.transfer_functions as tf\n"
            "print('dask.array' in sys.modules, 'matplotlib' in sys.modules, len(tf._rgb_density.signatures))\n"
            "loading.served.set()\n"
            "loading._thread.join(120)\n"
            "print(len(tf._rgb_density.signatures))\n"
            "import dask.array, xarray\n"
            "from xarray.namedarray.pycompat import array_type\n"
            "lazy = xarray.DataArray(dask.array.zeros(4, chunks=2))\n"
            "print(lazy.chunks, array_type('dask') == (dask.array.Array,))\n")
    done = subprocess.run([sys.executable, "-c", code, str(surveyed / "survey")], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split("\n")[:3] == ["False False 0", "1", "((2, 2),) True"], done.stdout


def test_the_map_is_rendered_from_every_shown_row(surveyed):
    from astroxai.view.app import render

    table = SurveyTable(surveyed / "survey")
    shown = table.kept & (table.predicted == 0)
    x, y = table.numbers["tsne_x"][shown], table.numbers["tsne_y"][shown]
    image = render(table, shown, table.axes, "predicted class", (x.min() - 1, x.max() + 1), (y.min() - 1, y.max() + 1),
                   width=200, height=150)
    alpha = image >> 24
    assert image.shape == (150, 200) and (alpha > 0).sum() >= len(np.unique(np.round(x, 1)))
    rgb = {int(v) & 0xFFFFFF for v in image[alpha > 0]}
    assert len(rgb) == 1  # one class shown: one colour
    low_left = image[: 75, : 100] >> 24  # row 0 is the bottom, as Bokeh draws it
    left = (x < (x.min() - 1 + x.max() + 1) / 2) & (y < (y.min() - 1 + y.max() + 1) / 2)
    assert (low_left > 0).any() == left.any()
    # a continuous colouring of the same rows lights the same pixels: the hidden rows (given to datashader as NaN
    # values) add none
    novelty = render(table, shown, table.axes, "novelty", (x.min() - 1, x.max() + 1), (y.min() - 1, y.max() + 1),
                     width=200, height=150)
    np.testing.assert_array_equal(novelty >> 24 > 0, alpha > 0)
    everything = render(table, table.kept, table.axes, "novelty", (x.min() - 1, x.max() + 1),
                        (y.min() - 1, y.max() + 1), width=200, height=150)
    assert (everything >> 24 > 0).sum() > (alpha > 0).sum()


def test_the_first_maps_counts_by_numpy_are_datashaders_own():
    """The class map's counts computed with numpy (a server's first map, before datashader's numba code is
    compiled) equal datashader's own aggregate — counts, coordinates, attributes — for points inside and outside
    the ranges, on every edge and pixel boundary (and one float32 step either side), and NaN; and the images shaded
    from either are the same."""
    import datashader as ds
    import pandas as pd
    import xarray as xr

    from astroxai.view.app import HIDDEN, _count_by_category, _shade

    rng = np.random.default_rng(3)
    labels = ["type1", "type2", "intermediate", HIDDEN]
    for (x0, x1), (y0, y1), width, height in [((-1.0, 1.0), (-1.0, 1.0), 8, 6), ((0.1, 0.7), (-3.3, 5.9), 720, 560),
                                              ((-47.25, 61.5), (12.0, 12.5), 13, 7)]:
        n = 30_000
        x = rng.uniform(x0 - 0.1 * (x1 - x0), x1 + 0.1 * (x1 - x0), n).astype(np.float32)
        y = rng.uniform(y0 - 0.1 * (y1 - y0), y1 + 0.1 * (y1 - y0), n).astype(np.float32)
        edges = [np.linspace(a, b, pixels + 1).astype(np.float32) for a, b, pixels in ((x0, x1, width),
                                                                                       (y0, y1, height))]
        edges = [np.concatenate([e, np.nextafter(e, np.float32(-np.inf)), np.nextafter(e, np.float32(np.inf))])
                 for e in edges]
        x[:3000], y[3000:6000] = rng.choice(edges[0], 3000), rng.choice(edges[1], 3000)
        x[6000:7000], y[6000:7000] = rng.choice(edges[0], 1000), rng.choice(edges[1], 1000)  # corners
        x[7000:7100], y[7050:7150] = np.nan, np.nan
        codes = rng.integers(0, len(labels), n).astype(np.int8)
        canvas = ds.Canvas(plot_width=width, plot_height=height, x_range=(x0, x1), y_range=(y0, y1))
        frame = pd.DataFrame({"x": x, "y": y, "c": pd.Categorical.from_codes(codes, labels)})
        reference = canvas.points(frame, "x", "y", ds.count_cat("c"))
        assert int(reference.sum()) > n // 2
        xr.testing.assert_identical(_count_by_category(canvas, x, y, codes, labels), reference)
        images = [_shade(x, y, (x0, x1), (y0, y1), width, height, codes=codes, categories=labels[:3],
                         palette=["#1f77b4", "#d62728", "#2ca02c"], by_datashader=choice) for choice in (False, True)]
        np.testing.assert_array_equal(images[0], images[1])
    flat = ds.Canvas(plot_width=8, plot_height=6, x_range=(0.5, 0.5), y_range=(-1.0, 1.0))
    with pytest.raises(ValueError, match="no width"):  # not a division by zero
        _count_by_category(flat, x, y, codes, labels)


def test_the_first_maps_density_by_numpy_is_datashaders_own(monkeypatch):
    """The density that decides whether a map's points are spread, measured with numpy before numba is loaded,
    equals datashader's own (the same ratio of the same integers) on images from empty to full, drawn pixels on the
    edges and corners included; and a map shaded either way is the same image, spread by 2, 1 or 0 pixels."""
    import datashader.transfer_functions as tf

    from astroxai.view.app import _rgb_density, _shade

    rng = np.random.default_rng(11)
    for shape in ((1, 1), (5, 9), (40, 33), (120, 200)):
        for share in (0.0, 0.002, 0.03, 0.2, 0.7, 1.0):
            alpha = (rng.random(shape) < share) * rng.integers(1, 256, shape)
            rgba = (alpha.astype(np.uint32) << 24) | rng.integers(0, 1 << 24, shape).astype(np.uint32)
            for px in (1, 2, 4):
                assert _rgb_density(rgba, px) == tf._rgb_density(rgba, px), (shape, share, px)
    assert _rgb_density(np.zeros((3, 3), np.uint32), 2) == np.inf
    spreads, spread = [], tf.spread
    monkeypatch.setattr(tf, "spread", lambda image, px, **options: spreads.append(px) or spread(image, px, **options))
    for n in (3, 60, 300, 600, 200_000):  # sparse points are spread (by 2, then 1 pixel), dense ones are not
        x, y = np.random.default_rng(n).normal(0, 1, (2, n)).astype(np.float32)
        codes = rng.integers(0, 3, n).astype(np.int8)
        images = [_shade(x, y, (-3.0, 3.0), (-3.0, 3.0), 160, 120, codes=codes, categories=["a", "b"],
                         palette=["#1f77b4", "#d62728"], by_datashader=choice) for choice in (False, True)]
        np.testing.assert_array_equal(images[0], images[1])
    assert spreads == [2, 2, 2, 2, 1, 1]  # each spread map twice: by numpy's density, then by datashader's own


@pytest.mark.skipif(shutil.which("chromedriver") is None, reason="needs chromium-driver (.ci/run installs it)")
def test_the_app_in_chromium(surveyed, tmp_path):
    """The real server in a subprocess and the page in headless Chromium: the map renders, a class filter changes
    the count, a box drag selects and lists objects and draws the mean map, a click draws a spectrum, a key gives
    a verdict that is saved, no console error."""
    from selenium.webdriver.common.actions.action_builder import ActionBuilder

    from astroxai.report import browser

    folder = tmp_path / "survey"
    shutil.copytree(surveyed / "survey", folder)
    command = [sys.executable, "-m", "astroxai.cli", "view", str(folder), "--port", "0", "--no-browser"]
    # the browser first, so that the page is opened while the survey is still being read (datashader's import and
    # compilation take seconds) and its views arrive later, as a person running astroxai view sees it
    driver = browser.start(1700, 1400)
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = None
        for line in server.stdout:
            found = re.search(r"http://\S+", line)
            if found:
                url = found.group(0)
                break
        assert url, "the server printed no URL"
        driver.get(url)

        def wait(condition, what, limit=60.0):
            deadline = time.monotonic() + limit
            while not condition():
                assert time.monotonic() < deadline, f"timed out waiting for {what() if callable(what) else what}"
                time.sleep(0.1)

        ready = "const d = window.Bokeh && Bokeh.documents; if (!d || !d.length) return false;" \
                "const m = d[0].get_model_by_name('count'); return !!m && m.text.length > 0;"
        wait(lambda: driver.execute_script(ready), "the page")
        painted = driver.execute_script(
            "const r = Bokeh.documents[0].get_model_by_name('points');"
            "const img = r.data_source.data.image[0]; const a = img.array || img;"
            "let n = 0; for (const v of a) { if (v !== 0) n++; } return n;")
        assert painted > 20  # datashader's image reached the page
        count = browser.model_value(driver, "count", "text")
        listed = browser.column(driver, "rows", "id")

        def on_screen():  # the ids the table's cells show, top to bottom
            return driver.execute_script(
                "const v = Bokeh.index.find_one(Bokeh.documents[0].get_model_by_name('rows_table'));"
                "const rows = Array.from((v.shadow_el || v.el).querySelectorAll('.slick-row'));"
                "rows.sort((a, b) => parseFloat(a.style.top) - parseFloat(b.style.top));"
                "return rows.map(r => r.querySelector('.slick-cell').textContent);")

        browser.widget_elements(driver, "classes", "input")[0].click()
        wait(lambda: browser.model_value(driver, "count", "text") != count, "the filtered count")
        # the filter changes the listed rows (they reach the page in a message of their own, after the count) ...
        wait(lambda: browser.column(driver, "rows", "id") != listed, "the filtered rows")
        filtered = browser.column(driver, "rows", "id")
        wait(lambda: on_screen()[:5] == filtered[:5], lambda: f"the table's cells {on_screen()[:5]}")  # ... on screen
        browser.widget_elements(driver, "classes", "input")[0].click()
        wait(lambda: browser.model_value(driver, "count", "text") == count, "the count back")
        wait(lambda: on_screen()[:5] == listed[:5], lambda: f"the table's cells back {on_screen()[:5]}")

        table = SurveyTable(folder)
        x, y = table.numbers["tsne_x"], table.numbers["tsne_y"]
        driver.execute_script("const f = Bokeh.documents[0].get_model_by_name('map');"
                              "f.toolbar.active_drag = f.toolbar.tools.find(t => t.type == 'BoxSelectTool');")
        low = browser.screen_position(driver, "map", *np.nanpercentile([x, y], 5, axis=1))
        high = browser.screen_position(driver, "map", *np.nanpercentile([x, y], 95, axis=1))
        actions = ActionBuilder(driver)
        actions.pointer_action.move_to_location(int(low[0]), int(low[1])).pointer_down()
        actions.pointer_action.move_to_location(int((low[0] + high[0]) / 2), int((low[1] + high[1]) / 2))
        actions.pointer_action.move_to_location(int(high[0]), int(high[1])).pointer_up()
        actions.perform()
        expected = len(table.in_box(table.mask(Filter()), table.axes, *np.nanpercentile(x, [5, 95]),
                                    *np.nanpercentile(y, [5, 95])))

        def selected():
            found = re.search(r"of (\d+) selected", browser.model_value(driver, "page", "text") or "")
            return int(found.group(1)) if found else 0

        wait(lambda: selected() > 0, lambda: f"the selection ({browser.model_value(driver, 'page', 'text')})")
        assert abs(selected() - expected) <= 2  # the box is drawn in whole screen pixels
        wait(lambda: f"{selected()} selected" in (driver.execute_script(
            "return Bokeh.documents[0].get_model_by_name('mean_map').title.text") or ""), "the mean map")

        k = int(np.flatnonzero(table.kept)[3])
        browser.click_at(driver, *browser.screen_position(driver, "map", float(x[k]), float(y[k])))
        wait(lambda: len(browser.column(driver, "spectrum_source", "flux")) > 0, "the spectrum")
        clicked = browser.model_value(driver, "about", "text")
        assert "predicted" in clicked
        driver.find_element("tag name", "body").send_keys("a")
        verdicts = folder / "verdicts.csv"
        wait(verdicts.is_file, "verdicts.csv")
        with open(verdicts, newline="") as handle:
            saved = list(csv.DictReader(handle))
        assert len(saved) == 1 and saved[0]["verdict"] == "agree" and saved[0]["id"] in clicked
        assert browser.console_errors(driver) == []
    finally:
        driver.quit()
        server.terminate()
        server.wait(timeout=30)
