"""The browser views of ``astroxai view``: a Bokeh server application, its map drawn by datashader.

Every browser session gets its own :class:`Session` (filters, selection, queue, the object shown) over one shared
:class:`Shared` (the survey's columns, its model and maps, the verdict book).  The map is an RGBA image that
datashader renders from every shown row at the plot's own pixel size, again after each pan, zoom, filter or change
of colour, so 10⁷ points stay exact at every zoom.  Bokeh draws the plots and widgets and sends events (ranges,
box and lasso geometry, taps, keys) to this process, where the selections are computed in numpy.

Colours: classes as in the report; attribution maps with the project's diverging map, **blue where more flux
raises the explained class, red where it lowers it**.
"""

from __future__ import annotations

import contextlib
import gc
import html
import logging
import socket
import threading
from pathlib import Path

import numpy as np

from astroxai.errors import InputError
from astroxai.lines import DIAGNOSTIC_LINES
from astroxai.report.explorer import attribution_palette, class_colours
from astroxai.view.detail import Explained, export_selection, is_store
from astroxai.view.table import HBETA_PATTERNS, QUEUES, Filter, SurveyTable, Verdict, VerdictBook, finite_range
from astroxai.workflows.survey_outputs import COLUMNS, SELECTIONS, VERDICTS

log = logging.getLogger(__name__)

#: The map's size in screen pixels (datashader renders exactly these).
MAP_WIDTH, MAP_HEIGHT = 720, 560
#: The category of the rows a filter hides, when datashader is given every row (no class can be called this).
HIDDEN = "\x00hidden"
#: Seconds the server's background warm-up (model, other colourings) waits for the first page to be served, and
#: then for the browser to receive and draw it (the warm-up would take the GIL from sending it).
WARM_UP_WAIT, WARM_UP_AFTER = 20.0, 1.0
#: Rows per page of the selection table; objects drawn over the map as the selection's outline.
PAGE, OUTLINED = 50, 5000
#: Nearest objects listed beside a drawn spectrum; how far (screen pixels) a click looks for an object.
NEIGHBOURS, CLICK_PIXELS = 8, 25
COLOURINGS = ("predicted class", "confidence (margin)", "novelty", "line saliency share", "Hβ sign pattern")
CONTINUOUS = {"confidence (margin)": ("margin", (0.0, 1.0)), "novelty": ("novelty", (0.0, 2.0)),
              "line saliency share": ("line_saliency_share", None)}
HBETA_COLOURS = ("#1f4e9c", "#5fa2d8", "#e08a6b", "#b2182b", "#bbbbbb")


class Shared:
    """What every session reads: the table, the model and maps, the verdicts (``verdicts.csv`` in the survey
    folder unless ``verdicts`` names another file) and where selections are exported."""

    def __init__(self, folder, verdicts=None):
        self.table = SurveyTable(folder)
        self.explained = Explained(self.table)
        self.verdicts = VerdictBook(verdicts or Path(folder) / VERDICTS)
        self.exports = Path(folder) / SELECTIONS
        self.colours = class_colours(self.table.classes)
        # the confidence histogram of every kept row: the same for every session and filter, so computed once
        margin = self.table.numbers["margin"]
        self.margin_edges = np.linspace(0, 1, 41)
        self.margin_counts = np.histogram(margin[self.table.kept & np.isfinite(margin)], self.margin_edges)[0]
        # each row's bin of that histogram, so a filter's histogram is one bincount (NaN and out-of-range rows:
        # the extra bin, dropped); np.histogram's bins: [a, b) except the last, [a, b]
        bins = np.searchsorted(self.margin_edges, margin, side="right") - 1
        bins[margin == self.margin_edges[-1]] = len(self.margin_edges) - 2
        bins[~np.isfinite(margin) | (bins < 0) | (bins > len(self.margin_edges) - 2)] = len(self.margin_edges) - 1
        self.margin_bins = bins.astype(np.int8)
        del bins


def _extent(values: np.ndarray) -> tuple[float, float]:
    span = finite_range(values)
    if span is None:
        return -1.0, 1.0
    low, high = span
    pad = 0.05 * (high - low) if high > low else 1.0
    return low - pad, high + pad


def render(table: SurveyTable, shown: np.ndarray, axes, colouring: str, x_range, y_range,
           width: int = MAP_WIDTH, height: int = MAP_HEIGHT, colours: dict | None = None) -> np.ndarray:
    """The map of the ``shown`` rows (a boolean mask over the survey) as a (height, width) uint32 RGBA image
    (row 0 at the bottom, as Bokeh draws it), rendered by datashader over ``x_range`` × ``y_range``.

    Datashader is given the survey's whole x and y columns (no copy of them per redraw: at 10⁷ rows a copy of the
    shown rows costs 80 MB and half the time); hidden rows are a category of their own, dropped from the
    aggregate before shading, or NaN values of the mean.  Rows without coordinates are skipped by datashader."""
    x, y = table.numbers[axes[0]], table.numbers[axes[1]]
    if colouring in CONTINUOUS:
        name, span = CONTINUOUS[colouring]
        values = table.numbers.get(name)
        values = np.where(shown, values, np.float32(np.nan)) if values is not None \
            else np.full(table.n, np.nan, np.float32)
        return _shade(x, y, x_range, y_range, width, height, values=values, span=span or _extent(values))
    if colouring == "Hβ sign pattern":
        codes = np.where(table.hbeta >= 0, table.hbeta, len(HBETA_PATTERNS))
        categories, palette = [*HBETA_PATTERNS, "no sign"], list(HBETA_COLOURS)
    else:
        codes = np.maximum(table.predicted, 0)
        categories = list(table.classes)
        palette = [(colours or class_colours(categories))[c] for c in categories]
    codes = np.where(shown, codes, len(categories)).astype(np.int8)
    return _shade(x, y, x_range, y_range, width, height, codes=codes, categories=categories, palette=palette)


#: Set once datashader's numba code for the class map is compiled (:func:`_compile_points`); until then the class
#: map's counts are computed with numpy (:func:`_count_by_category`), the same array, and so is the density that
#: decides whether points are spread (:func:`_rgb_density`), the same number.
_POINTS_COMPILED = threading.Event()


def _shade(x, y, x_range, y_range, width, height, *, values=None, span=None, codes=None, categories=(),
           palette=(), by_datashader: bool | None = None) -> np.ndarray:
    """Datashader's image of points (x, y): the mean of ``values`` in Viridis over ``span``, or the counts of
    ``codes`` into ``categories`` (one more code: hidden) mixed in ``palette``.  The counts are aggregated, and the
    density that decides the spreading measured, by datashader once its code is compiled, by numpy before
    (``by_datashader`` forces one or the other; read once, so one image never mixes the two)."""
    import datashader as ds
    import datashader.transfer_functions as tf
    import pandas as pd

    if by_datashader is None:
        by_datashader = _POINTS_COMPILED.is_set()
    canvas = ds.Canvas(plot_width=width, plot_height=height, x_range=tuple(x_range), y_range=tuple(y_range))
    if values is not None:
        from bokeh.palettes import Viridis256

        aggregate = canvas.points(pd.DataFrame({"x": x, "y": y, "v": values}, copy=False), "x", "y", ds.mean("v"))
        image = tf.shade(aggregate, cmap=list(Viridis256), span=span, how="linear")
    else:
        labels = [*categories, HIDDEN]
        if by_datashader:
            frame = pd.DataFrame({"x": x, "y": y, "c": pd.Categorical.from_codes(codes, labels)}, copy=False)
            aggregate = canvas.points(frame, "x", "y", ds.count_cat("c"))
        else:
            aggregate = _count_by_category(canvas, x, y, codes, labels)
        image = tf.shade(aggregate.isel(c=slice(0, len(categories))), color_key=list(palette), min_alpha=90)
    return np.asarray(_dynspread(image, by_datashader).data, dtype=np.uint32)


#: How datashader spreads sparse points on every map (its ``dynspread``): by up to 2 pixels while fewer than 60 % of
#: the drawn pixels have a drawn neighbour.
SPREAD = {"threshold": 0.6, "max_px": 2}


def _dynspread(image, by_datashader: bool):
    """datashader's ``dynspread`` of ``image`` with :data:`SPREAD`; before its numba code is loaded, the density it
    decides by is measured with numpy (:func:`_rgb_density`) and datashader's ``spread`` is called only when points
    are to be spread (its first call loads numba's compiler: ≈ 0.35 s of the first view otherwise)."""
    import datashader.transfer_functions as tf

    if by_datashader:
        return tf.dynspread(image, **SPREAD)
    spread = 0  # the steps of datashader's own search
    for step in range(1, SPREAD["max_px"] + 1):
        spread = step
        if _rgb_density(image.data, 2 * step) > SPREAD["threshold"]:
            spread = step - 1
            break
    return tf.spread(image, spread) if spread >= 1 else image


def _rgb_density(rgba: np.ndarray, px: int) -> float:
    """datashader's density of an RGBA image (its ``_rgb_density``, a numba loop): the share of the drawn pixels
    (alpha > 0) that have another drawn pixel within ``px`` along both axes; infinite for an empty image.  Counted
    here by an integral image: the same integers, so the same ratio."""
    filled = ((rgba >> 24) & 255) != 0
    drawn = int(filled.sum())
    if not drawn:
        return np.inf
    rows, cols = filled.shape
    sums = np.zeros((rows + 1, cols + 1), np.int64)
    sums[1:, 1:] = filled.cumsum(axis=0, dtype=np.int64).cumsum(axis=1)
    y0, y1 = np.clip(np.arange(rows) - px, 0, rows), np.clip(np.arange(rows) + px + 1, 0, rows)
    x0, x1 = np.clip(np.arange(cols) - px, 0, cols), np.clip(np.arange(cols) + px + 1, 0, cols)
    around = sums[y1][:, x1] - sums[y0][:, x1] - sums[y1][:, x0] + sums[y0][:, x0]  # the pixel itself included
    return int((filled & (around > 1)).sum()) / drawn


def _count_by_category(canvas, x, y, codes, labels):
    """``canvas.points(frame, "x", "y", ds.count_cat("c"))`` computed with numpy, for the first map of a server.

    Datashader compiles its aggregation with numba on first use: ~1.3 s of Python on a quiet machine, 2 s on a
    busy one, the largest single part of the first view.  numpy gives the same array here: datashader's scale,
    translation and pixel coordinates (its linear axis's formulas), its arithmetic (float64, truncation to the
    pixel, points on the right and top edges counted in the last pixel, the rest outside dropped, NaN never counted)
    and its coordinates and attributes; the test compares the two arrays on points placed on every edge.  Slower
    than datashader's compiled loop at 10⁷ rows (≈ 0.5 s against 0.1 s), so maps use datashader once compiled."""
    import xarray as xr
    from datashader.core import LinearAxis

    if not (isinstance(canvas.x_axis, LinearAxis) and isinstance(canvas.y_axis, LinearAxis)):
        raise ValueError("numpy's counts are datashader's on linear axes only")
    (xmin, xmax), (ymin, ymax) = canvas.x_range, canvas.y_range
    if xmax == xmin or ymax == ymin:  # (for floats, a − b is 0 only when a == b)
        raise ValueError(f"the map's ranges {canvas.x_range} × {canvas.y_range} have no width")
    width, height = canvas.plot_width, canvas.plot_height
    # datashader's Axis.compute_scale_and_translate and compute_index with LinearAxis's identity mappers, written
    # out: those mappers are numba functions, and calling them compiled them (≈ 1 s of the first view)
    x_st = (width / (xmax - xmin), -xmin * (width / (xmax - xmin)))
    y_st = (height / (ymax - ymin), -ymin * (height / (ymax - ymin)))
    xs, ys = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    inside = np.flatnonzero((xs >= xmin) & (xs <= xmax) & (ys >= ymin) & (ys <= ymax))
    column = np.minimum((xs[inside] * x_st[0] + x_st[1]).astype(np.int64), width - 1)
    row = np.minimum((ys[inside] * y_st[0] + y_st[1]).astype(np.int64), height - 1)
    cell = (row * width + column) * len(labels) + np.asarray(codes)[inside].astype(np.int64)
    counts = np.bincount(cell, minlength=height * width * len(labels)).astype(np.uint32)
    return xr.DataArray(counts.reshape(height, width, len(labels)), dims=["y", "x", "c"],
                        coords={"y": (np.arange(height) + 0.5 - y_st[1]) / y_st[0],
                                "x": (np.arange(width) + 0.5 - x_st[1]) / x_st[0], "c": np.asarray(labels)},
                        attrs={"x_range": canvas.x_range, "y_range": canvas.y_range})


def _legend(shared: Shared, colouring: str, table: SurveyTable) -> str:
    if colouring in CONTINUOUS:
        name, span = CONTINUOUS[colouring]
        low, high = span or _extent(table.numbers.get(name, np.zeros(1)))
        note = " (> 1: out of distribution)" if name == "novelty" else ""
        return (f"<div style='font-size:12px'>{html.escape(colouring)}{note}<br>"
                "<div style='height:10px;width:200px;background:linear-gradient(to right,#440154,#21918c,#fde725)'>"
                f"</div>{low:.3g} … {high:.3g} (mean per pixel)</div>")
    if colouring == "Hβ sign pattern":
        pairs = list(zip([*HBETA_PATTERNS, "no sign"], HBETA_COLOURS, strict=True))
    else:
        pairs = [(c, shared.colours[c]) for c in table.classes]
    return "<div style='font-size:12px'>" + " ".join(
        f"<span style='white-space:nowrap'><span style='display:inline-block;width:10px;height:10px;"
        f"background:{colour}'></span> {html.escape(name)}</span>" for name, colour in pairs) + "</div>"


class Session:
    """One browser session's views and state (see the module doc)."""

    def __init__(self, shared: Shared):
        from bokeh.models import (
            Button,
            Checkbox,
            CheckboxGroup,
            ColumnDataSource,
            CustomJS,
            DataTable,
            Div,
            LinearColorMapper,
            NumberFormatter,
            RadioButtonGroup,
            RangeSlider,
            Select,
            Span,
            TableColumn,
            TextInput,
        )
        from bokeh.plotting import figure

        self.shared = shared
        table = self.table = shared.table
        self.axes = table.axes
        self.filter = Filter()
        self.shown = table.mask(self.filter)
        self.selected = np.zeros(0, np.int64)
        self.geometry: dict | None = None
        self.page = 0
        self.queue_rows = np.zeros(0, np.int64)
        self.queue_at = -1
        self.current: int | None = None
        numeric = [n for n in table.numbers if np.isfinite(table.numbers[n]).any()]
        self.colour_by = Select(title="colour by", value=COLOURINGS[0], options=list(COLOURINGS), name="colour_by")
        self.x_axis = Select(title="x", value=self.axes[0], options=numeric, name="x_axis")
        self.y_axis = Select(title="y", value=self.axes[1], options=numeric, name="y_axis")
        self.class_box = CheckboxGroup(labels=list(table.classes), active=list(range(len(table.classes))),
                                       name="classes")
        self.novelty = RadioButtonGroup(labels=["all", "in distribution", "out of distribution"], active=0,
                                        name="novelty")
        self.confidence = RangeSlider(title="confidence (margin between the two most probable classes)",
                                      start=0, end=1, step=0.01, value=(0, 1), name="confidence")
        self.disagree = Checkbox(label="label ≠ predicted only", active=False, name="disagree")
        self.status = RadioButtonGroup(labels=["kept", "rejected", "all"], active=0, name="status")
        self.count = Div(name="count")
        self.legend = Div(name="legend")
        self.reasons = Div(name="reasons")
        self.histogram = figure(height=160, width=300, title="confidence: shown (colour) and all kept (grey)",
                                toolbar_location=None, name="histogram")
        edges = shared.margin_edges
        self.hist_all = ColumnDataSource({"left": edges[:-1], "right": edges[1:], "top": shared.margin_counts})
        self.hist_shown = ColumnDataSource({"left": [], "right": [], "top": []})
        self.histogram.quad(left="left", right="right", top="top", bottom=0, source=self.hist_all, color="#cccccc")
        self.histogram.quad(left="left", right="right", top="top", bottom=0, source=self.hist_shown,
                            color="#1f77b4", alpha=0.7)

        x_range, y_range = _extent(table.numbers[self.axes[0]]), _extent(table.numbers[self.axes[1]])
        self.map = figure(frame_width=MAP_WIDTH, frame_height=MAP_HEIGHT, x_range=x_range, y_range=y_range,
                          tools="pan,wheel_zoom,box_select,lasso_select,tap,reset", active_scroll="wheel_zoom",
                          title=f"{table.n:,} survey rows — drag to select, click an object", name="map",
                          output_backend="canvas")
        self.image = ColumnDataSource({"image": [np.zeros((1, 1), np.uint32)], "x": [x_range[0]],
                                       "y": [y_range[0]], "dw": [1.0], "dh": [1.0]})
        self.map.image_rgba(image="image", x="x", y="y", dw="dw", dh="dh", source=self.image, name="points")
        self.outline = ColumnDataSource({"x": [], "y": []})
        self.map.scatter("x", "y", source=self.outline, size=4, fill_alpha=0, line_color="black", line_alpha=0.6,
                         name="selection")
        self.marked = ColumnDataSource({"x": [], "y": []})
        self.map.scatter("x", "y", source=self.marked, size=14, marker="circle_cross", fill_alpha=0,
                         line_color="#d62728", line_width=2)

        self.rows_source = ColumnDataSource({name: [] for name in self._table_columns()}, name="rows")
        decimals = NumberFormatter(format="0.000")
        columns = [TableColumn(field=name, title=name, **({"formatter": decimals} if name.startswith("p_")
                                                           or name in ("novelty", "margin") else {}))
                   for name in self._table_columns() if name != "row"]
        self.rows_table = DataTable(source=self.rows_source, columns=columns, width=1000, height=300,
                                    index_position=None, name="rows_table")
        # Bokeh 3.9.1-3.9.2 keep showing a table's old cells after its source's data is replaced (bokeh#15328,
        # fixed after 3.9.2): redraw the grid in the page whenever the rows change
        self.rows_source.js_on_change("data", CustomJS(args={"table": self.rows_table}, code="""
            const view = Bokeh.index.find_one(table);
            if (view != null && view.grid != null) { view.updateGrid(); view.grid.invalidate(); view.grid.render(); }
        """))
        self.page_text = Div(name="page")
        self.previous_page, self.next_page = Button(label="◀ rows", width=70), Button(label="rows ▶", width=70)
        self.export_button = Button(label="export selection", button_type="primary", width=140, name="export")
        self.export_text = Div(name="export_text")
        self.mean_plot = figure(height=260, width=620, title="mean attribution: selection (black) and the rest "
                                "(grey)", x_axis_label="rest-frame wavelength (Å)", toolbar_location=None,
                                name="mean_map")
        self.mean_source = ColumnDataSource({"wavelength": [], "selected": [], "rest": []})
        self.mean_plot.line("wavelength", "rest", source=self.mean_source, color="#999999", line_width=1.5)
        self.mean_plot.line("wavelength", "selected", source=self.mean_source, color="black", line_width=1.5)

        self.spectrum = figure(height=300, width=760, title="click an object on the map", name="spectrum",
                               x_axis_label="rest-frame wavelength (Å)", y_axis_label="normalised flux",
                               tools="pan,wheel_zoom,box_zoom,reset")
        self.spectrum_source = ColumnDataSource({"wavelength": [], "flux": [], "attribution": []},
                                                name="spectrum_source")
        self.mapper = LinearColorMapper(palette=attribution_palette(), low=-1, high=1)
        self.spectrum.line("wavelength", "flux", source=self.spectrum_source, color="#555555", line_width=0.8)
        self.spectrum.scatter("wavelength", "flux", source=self.spectrum_source, size=4,
                              color={"field": "attribution", "transform": self.mapper})
        for wavelength in DIAGNOSTIC_LINES.values():
            for plot in (self.spectrum, self.mean_plot):
                plot.add_layout(Span(location=wavelength, dimension="height", line_color="#888888",
                                     line_dash="dotted", line_width=1))
        self.about = Div(name="about", width=380)
        self.neighbours = Div(name="neighbours", width=380)

        self.queue_kind = Select(title="inspection queue", value=QUEUES[0], options=list(QUEUES), name="queue")
        self.queue_back, self.queue_next = Button(label="◀ (k)", width=60), Button(label="▶ (j)", width=60)
        self.queue_text = Div(name="queue_text")
        self.agree = Button(label="agree (a)", button_type="success", width=90, name="agree")
        self.relabel_as = Select(value=(table.classes or [""])[0], options=list(table.classes), width=130,
                                 name="relabel_as")
        self.relabel = Button(label="relabel as (r)", width=110, name="relabel")
        self.bad = Button(label="bad data (b)", button_type="danger", width=100, name="bad")
        self.verdict_text = Div(name="verdict_text")
        self.keys = TextInput(value="", visible=False, name="keys")
        self._connect()
        self.refresh_filter()

    def _table_columns(self) -> list[str]:
        return ["row", "id", "input", "predicted", "label", *[f"p_{c}" for c in self.table.classes], "novelty",
                "margin", "reason"]

    # -- wiring ---------------------------------------------------------------------------------------------------
    def _connect(self) -> None:
        from bokeh.events import RangesUpdate, SelectionGeometry, Tap

        for widget in (self.class_box, self.novelty, self.status):
            widget.on_change("active", lambda attr, old, new: self.refresh_filter())
        self.disagree.on_change("active", lambda attr, old, new: self.refresh_filter())
        self.confidence.on_change("value_throttled", lambda attr, old, new: self.refresh_filter())
        self.colour_by.on_change("value", lambda attr, old, new: self.redraw())
        self.x_axis.on_change("value", lambda attr, old, new: self.change_axes())
        self.y_axis.on_change("value", lambda attr, old, new: self.change_axes())
        self.map.on_event(RangesUpdate, lambda event: self.redraw())
        self.map.on_event(SelectionGeometry, self.select_geometry)
        self.map.on_event(Tap, lambda event: self.click(event.x, event.y))
        self.previous_page.on_click(lambda: self.turn_page(-1))
        self.next_page.on_click(lambda: self.turn_page(1))
        self.rows_source.selected.on_change("indices", self._row_chosen)
        self.export_button.on_click(self.export)
        self.queue_kind.on_change("value", lambda attr, old, new: self.start_queue())
        self.queue_next.on_click(lambda: self.step(1))
        self.queue_back.on_click(lambda: self.step(-1))
        self.agree.on_click(lambda: self.give_verdict("agree"))
        self.relabel.on_click(lambda: self.give_verdict("relabel"))
        self.bad.on_click(lambda: self.give_verdict("bad data"))
        self.keys.on_change("value", self._key)

    def layout(self):
        from bokeh.layouts import column, row
        from bokeh.models import Div

        table = self.table
        title = Div(text=f"<h3 style='margin:4px 0'>astroxai view — {html.escape(str(table.folder))}</h3>"
                         f"<div style='font-size:12px'>{table.n:,} rows, classes {', '.join(table.classes)}; "
                         f"model {html.escape(table.model_dir)} (sha256 {table.model_sha[:12]}…); maps "
                         f"{'stored' if table.has_maps else 'computed on demand'}. Blue: more flux there raises the "
                         "explained class; red: lowers it.</div>", width=1200)
        controls = column(self.colour_by, self.legend, self.x_axis, self.y_axis, Div(text="<b>predicted class</b>"),
                          self.class_box, Div(text="<b>novelty</b>"), self.novelty, self.confidence, self.disagree,
                          Div(text="<b>survey status</b>"), self.status, self.count, self.histogram, self.reasons,
                          width=310)
        queue = column(self.queue_kind, row(self.queue_back, self.queue_next, self.queue_text),
                       row(self.agree, self.relabel, self.relabel_as, self.bad), self.verdict_text, self.keys)
        selection = column(row(self.previous_page, self.next_page, self.page_text, self.export_button,
                               self.export_text), self.rows_table)
        return column(title, row(controls, self.map, column(queue, self.about, self.neighbours)),
                      row(self.spectrum, self.mean_plot), selection)

    def attach(self, doc, holder=None) -> None:
        """Put the views in ``doc``: as its root, or as the only child of ``holder`` (the page a browser was shown
        while the survey was being read, see :class:`Loading`)."""
        doc.title = f"astroxai view — {self.table.folder.name}"
        if holder is None:
            listen_for_keys(doc)
            doc.add_root(self.layout())
        else:
            holder.children = [self.layout()]

    # -- filters and the map --------------------------------------------------------------------------------------
    def current_filter(self) -> Filter:
        classes = tuple(self.table.classes[i] for i in self.class_box.active)
        return Filter(status=("kept", "rejected", "all")[self.status.active],
                      classes=None if len(classes) == len(self.table.classes) else classes,
                      novelty=("all", "inside", "outside")[self.novelty.active],
                      confidence=(round(float(self.confidence.value[0]), 4), round(float(self.confidence.value[1]), 4)),
                      disagree=bool(self.disagree.active))

    def refresh_filter(self) -> None:
        self.filter = self.current_filter()
        self.shown = self.table.mask(self.filter)
        self.selected = self.selected[self.shown[self.selected]]
        self.drawable = self.shown & np.isfinite(self.table.numbers[self.axes[0]]) \
            & np.isfinite(self.table.numbers[self.axes[1]])
        self.count_drawable = int(self.drawable.sum())
        self.count_shown = int(self.shown.sum())
        self.write_count()
        edges = self.shared.margin_edges
        chosen = np.bincount(self.shared.margin_bins[self.shown], minlength=len(edges))[:-1]
        self.hist_shown.data = {"left": edges[:-1], "right": edges[1:], "top": chosen}
        reasons = self.table.reason_counts(self.shown)
        self.reasons.text = "" if not reasons else "<b>why rejected</b><br>" + "<br>".join(
            f"{count:,} × {html.escape(reason[:90])}" for reason, count in reasons)
        self.redraw()
        self.show_selection()

    def write_count(self) -> None:
        self.count.text = (f"<b>{self.count_shown:,}</b> of {self.table.n:,} rows shown ({self.count_drawable:,} on "
                           f"the map) · {len(self.selected):,} selected<br><code>{html.escape(self.filter.query())}"
                           "</code>")

    def change_axes(self) -> None:
        self.axes = (self.x_axis.value, self.y_axis.value)
        (self.map.x_range.start, self.map.x_range.end) = _extent(self.table.numbers[self.axes[0]])
        (self.map.y_range.start, self.map.y_range.end) = _extent(self.table.numbers[self.axes[1]])
        self.selected = np.zeros(0, np.int64)
        self.refresh_filter()

    def ranges(self) -> tuple[tuple[float, float], tuple[float, float]]:
        x = (float(self.map.x_range.start), float(self.map.x_range.end))
        y = (float(self.map.y_range.start), float(self.map.y_range.end))
        return x, y

    def redraw(self) -> None:
        x_range, y_range = self.ranges()
        image = render(self.table, self.drawable, self.axes, self.colour_by.value, x_range, y_range,
                       colours=self.shared.colours)
        self.image.data = {"image": [image], "x": [x_range[0]], "y": [y_range[0]], "dw": [x_range[1] - x_range[0]],
                           "dh": [y_range[1] - y_range[0]]}
        self.legend.text = _legend(self.shared, self.colour_by.value, self.table)

    # -- selections -----------------------------------------------------------------------------------------------
    def select_geometry(self, event) -> None:
        geometry = dict(event.geometry or {})
        if not event.final:
            return
        if geometry.get("type") == "rect":
            self.select_box(geometry["x0"], geometry["x1"], geometry["y0"], geometry["y1"])
        elif geometry.get("type") == "poly":
            self.select_lasso(list(geometry["x"]), list(geometry["y"]))

    def select_box(self, x0, x1, y0, y1) -> None:
        self.geometry = {"type": "box", "axes": list(self.axes), "x": [x0, x1], "y": [y0, y1]}
        self.selected = self.table.in_box(self.shown, self.axes, x0, x1, y0, y1)
        self.after_selection()

    def select_lasso(self, xs, ys) -> None:
        self.geometry = {"type": "lasso", "axes": list(self.axes), "x": list(map(float, xs)),
                         "y": list(map(float, ys))}
        self.selected = self.table.in_polygon(self.shown, self.axes, np.asarray(xs), np.asarray(ys))
        self.after_selection()

    def after_selection(self) -> None:
        self.page = 0
        shown = self.selected[:OUTLINED]
        self.outline.data = {"x": self.table.numbers[self.axes[0]][shown],
                             "y": self.table.numbers[self.axes[1]][shown]}
        self.write_count()
        self.show_selection()
        self.draw_mean_map()

    def listed(self) -> np.ndarray:
        """The rows the table lists: the selection, or every shown row when nothing is selected."""
        return self.selected if len(self.selected) else np.flatnonzero(self.shown)

    def show_selection(self) -> None:
        listed = self.listed()
        pages = max(1, -(-len(listed) // PAGE))
        self.page = min(max(self.page, 0), pages - 1)
        rows = self.table.rows(listed[self.page * PAGE:(self.page + 1) * PAGE])
        self.rows_source.selected.indices = []
        self.rows_source.data = {name: ["" if r[name] is None else r[name] for r in rows]
                                 for name in self._table_columns()}
        what = "selected" if len(self.selected) else "shown"
        first = self.page * PAGE + 1 if len(listed) else 0
        self.page_text.text = f"rows {first:,}–{self.page * PAGE + len(rows):,} of {len(listed):,} {what}"

    def turn_page(self, step: int) -> None:
        self.page += step
        self.show_selection()

    def _row_chosen(self, attr, old, new) -> None:
        if new:
            self.show_object(int(self.rows_source.data["row"][new[0]]))

    def draw_mean_map(self) -> None:
        if not len(self.selected):
            self.mean_source.data = {"wavelength": [], "selected": [], "rest": []}
            return
        try:
            wavelength, selected, rest, n_selected, n_rest = self.shared.explained.mean_maps(self.selected,
                                                                                              self.shown)
        except InputError as error:
            self.mean_plot.title.text = str(error)
            return
        empty = np.full(len(wavelength), np.nan)
        self.mean_source.data = {"wavelength": wavelength, "selected": empty if selected is None else selected,
                                 "rest": empty if rest is None else rest}
        self.mean_plot.title.text = (f"mean attribution of {n_selected:,} selected (black) against {n_rest:,} others "
                                     "(grey)" + ("" if self.table.has_maps else "; computed now, seeded sample"))

    def export(self) -> None:
        try:
            paths = export_selection(self.table, self.shared.explained, self.listed(), self.filter,
                                     self.shared.exports, geometry=self.geometry)
        except InputError as error:
            self.export_text.text = html.escape(str(error))
            return
        inputs = " ".join(html.escape(str(p)) for p in paths[:-1])
        self.export_text.text = (f"saved {', '.join(p.name for p in paths)} in {html.escape(str(paths[0].parent))}"
                                 f" — re-run: <code>astroxai explain {html.escape(self.table.model_dir)} {inputs} "
                                 "--out …</code>")

    # -- one object -----------------------------------------------------------------------------------------------
    def click(self, x: float, y: float) -> int | None:
        """Draw the shown object nearest to a click (within :data:`CLICK_PIXELS` screen pixels)."""
        (x0, x1), (y0, y1) = self.ranges()
        pixel = ((x1 - x0) / MAP_WIDTH, (y1 - y0) / MAP_HEIGHT)  # nearest on the screen, not in data units
        rows, distance = self.table.nearest(self.drawable, self.axes, x, y, k=1, scale=pixel)
        if not len(rows) or distance[0] > CLICK_PIXELS:
            return None
        self.show_object(int(rows[0]))
        return int(rows[0])

    def show_object(self, row_number: int) -> None:
        table = self.table
        self.current = row_number
        x, y = table.numbers[self.axes[0]][row_number], table.numbers[self.axes[1]][row_number]
        self.marked.data = {"x": [x] if np.isfinite(x) else [], "y": [y] if np.isfinite(y) else []}
        row = table.rows([row_number])[0]
        if row["status"] != "kept":
            self.about.text = (f"<b>{html.escape(row['id'])}</b> — rejected: {html.escape(row['reason'])}<br>"
                               f"<small>{html.escape(row['input'])}</small>")
            self.spectrum_source.data = {"wavelength": [], "flux": [], "attribution": []}
            return
        try:
            shown = self.shared.explained.show(row_number)
        except InputError as error:
            self.about.text = f"<b>{html.escape(row['id'])}</b>: {html.escape(str(error))}"
            return
        scale = float(np.abs(shown.attribution).max()) or 1.0
        self.mapper.low, self.mapper.high = -scale, scale
        self.spectrum_source.data = {"wavelength": shown.wavelength, "flux": shown.flux,
                                     "attribution": shown.attribution}
        self.spectrum.title.text = (f"{row['id']}: predicted {row['predicted']} — coloured by its attribution map "
                                    f"({shown.source}; blue raises, red lowers the explained class)")
        probabilities = "".join(f"<tr><td>{html.escape(c)}</td><td>{row[f'p_{c}']:.3f}</td></tr>"
                                for c in table.classes if row.get(f"p_{c}") is not None)
        novelty = row["novelty"]
        self.about.text = (f"<b>{html.escape(row['id'])}</b> <small>{html.escape(row['input'])}</small><br>"
                           f"predicted <b>{html.escape(row['predicted'])}</b>, label "
                           f"{html.escape(row['label'] or '—')}, z {row['z'] if row['z'] is not None else '—'}<br>"
                           f"novelty {'—' if novelty is None else f'{novelty:.2f}'}"
                           f"{' (out of distribution)' if novelty is not None and novelty > 1 else ''}"
                           f"<table>{probabilities}</table>")
        near, distance = table.nearest(self.shown, self.axes, x, y, NEIGHBOURS + 1) if np.isfinite(x) else ([], [])
        listed = [(r, d) for r, d in zip(table.rows(near), distance, strict=True) if r["row"] != row_number]
        self.neighbours.text = "<b>nearest on the map</b><br>" + "<br>".join(
            f"{html.escape(r['id'])} — {html.escape(r['predicted'])} ({d:.2g})" for r, d in listed[:NEIGHBOURS])

    # -- the inspection queue -------------------------------------------------------------------------------------
    def start_queue(self) -> None:
        self.queue_rows = self.table.queue(self.queue_kind.value, self.shown)
        self.queue_at = -1
        self.step(1)

    def step(self, by: int) -> None:
        if not len(self.queue_rows):
            self.queue_rows = self.table.queue(self.queue_kind.value, self.shown)
        if not len(self.queue_rows):
            self.queue_text.text = "queue empty"
            return
        self.queue_at = int(np.clip(self.queue_at + by, 0, len(self.queue_rows) - 1))
        self.queue_text.text = f"{self.queue_at + 1} of {len(self.queue_rows)}"
        self.show_object(int(self.queue_rows[self.queue_at]))

    def give_verdict(self, verdict: str) -> None:
        if self.current is None:
            self.verdict_text.text = "click an object or step the queue first"
            return
        row = self.table.rows([self.current])[0]
        new = self.relabel_as.value if verdict == "relabel" else ""
        spectrum = None
        if is_store(row["input"]):  # its reduced spectrum goes to the verdicts' training set (verdicts.h5)
            try:
                data = self.shared.explained.spectra([row])
                spectrum = (data.wavelength, data.flux[0])
            except InputError as error:
                self.verdict_text.text = f"{html.escape(row['id'])}: {html.escape(str(error))}"
                return
        self.shared.verdicts.record(Verdict(row["id"], row["input"], row["z"], row["predicted"], row["label"],
                                            verdict, new, self.table.model_sha), spectrum)
        self.verdict_text.text = (f"{html.escape(row['id'])}: {verdict}{' → ' + html.escape(new) if new else ''} "
                                  f"— {len(self.shared.verdicts)} verdicts in "
                                  f"{html.escape(str(self.shared.verdicts.path))}")
        if len(self.queue_rows) and self.queue_at >= 0 and int(self.queue_rows[self.queue_at]) == self.current:
            self.step(1)

    def _key(self, attr, old, new) -> None:
        key = new.split(":")[0]
        actions = {"j": lambda: self.step(1), "ArrowRight": lambda: self.step(1), "k": lambda: self.step(-1),
                   "ArrowLeft": lambda: self.step(-1), "a": lambda: self.give_verdict("agree"),
                   "r": lambda: self.give_verdict("relabel"), "b": lambda: self.give_verdict("bad data")}
        if key in actions:
            actions[key]()


def listen_for_keys(doc) -> None:
    """Keys j/k (or → / ←) step the queue, a/r/b give a verdict: sent to the server through the hidden input named
    ``keys``, looked up when a key is pressed (the page may have been shown before the views were in it)."""
    from bokeh.events import DocumentReady
    from bokeh.models import CustomJS

    doc.js_on_event(DocumentReady, CustomJS(code="""
        if (window.__astroxai_keys) return;
        window.__astroxai_keys = true;
        document.addEventListener("keydown", (event) => {
          const tag = (event.composedPath()[0] || {}).tagName || "";
          if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT") return;
          if (["j", "k", "a", "r", "b", "ArrowRight", "ArrowLeft"].includes(event.key)) {
            const keys = Bokeh.documents.length ? Bokeh.documents[0].get_model_by_name("keys") : null;
            if (keys) keys.value = event.key + ":" + Date.now();
          }
        });"""))


def warm_up(shared: Shared, after: threading.Event | None = None, cancel: threading.Event | None = None) -> None:
    """Pay the one-off costs before people wait for them: datashader's compilation (numba, ~1.3 s per kind of
    colouring; ~4.5 s the first time points are so sparse that datashader spreads them, i.e. the first zoom into
    an empty part of the map), loading the survey's model (a click would wait for it), and the survey's column
    file when the columns were read from its parts (:meth:`~astroxai.view.table.SurveyTable.store_columns`).
    Given ``after`` (the first page served), waits for it, then :data:`WARM_UP_AFTER` seconds more for the
    browser to draw that page (the warm-up would take the GIL from sending it), or at most :data:`WARM_UP_WAIT`
    seconds.  Once ``cancel`` is set (the server stopping) no further step starts.  A click that comes before the
    model is loaded waits for the model's lock."""
    cancel = cancel or threading.Event()
    if after is not None and after.wait(WARM_UP_WAIT):
        cancel.wait(WARM_UP_AFTER)
    table = shared.table

    def model() -> None:
        try:
            shared.explained.model()
        except InputError as error:  # the map still works; spectra will say why they cannot be drawn
            log.warning("%s", error)

    steps = [lambda: _compile_points(table.classes), model,
             lambda: render(table, table.kept, table.axes, "novelty", (-1.0, 1.0), (-1.0, 1.0), 8, 8)]
    x, y = table.numbers[table.axes[0]], table.numbers[table.axes[1]]
    placed = np.flatnonzero(np.isfinite(x) & np.isfinite(y))[:1]
    if len(placed):  # one point on a 16 × 16 canvas: datashader spreads it (its composite kernels)
        only = np.zeros(table.n, bool)
        only[placed] = True
        x0, y0 = float(x[placed[0]]), float(y[placed[0]])
        steps.append(lambda: render(table, only, table.axes, "predicted class", (x0 - 1, x0 + 1), (y0 - 1, y0 + 1),
                                    16, 16))
    # last: a survey read from its parts (written before astroxai survey wrote a column file) gets one, so that
    # the next start maps it
    steps.append(table.store_columns)
    for step in steps:
        if cancel.is_set():
            return
        step()


def free_port(address: str) -> int:
    with socket.socket() as probe:
        probe.bind((address, 0))
        return probe.getsockname()[1]


#: Optional dependencies of datashader that the view never uses (it gives datashader pandas frames only).
DATASHADER_UNUSED = ("dask.dataframe", "dask.array")


def _import_datashader() -> None:
    """Import datashader without its Dask support: Dask is an optional dependency of datashader, imported by it
    when present (1.1 s of the server's start, on the path to the first view).  Nothing to save if they are
    already imported."""
    import sys

    if "datashader" in sys.modules:
        return
    with _absent(DATASHADER_UNUSED):
        import datashader  # noqa: F401
        import datashader.transfer_functions  # noqa: F401


@contextlib.contextmanager
def _absent(names):
    """While inside, the modules ``names`` (those not imported yet) are marked absent in ``sys.modules``
    (Python's documented way to make an import fail); the marks are removed afterwards, so they import again."""
    import sys

    blocked = [name for name in names if name not in sys.modules]
    for name in blocked:
        sys.modules[name] = None
    try:
        yield
    finally:
        for name in blocked:
            if sys.modules.get(name, 0) is None:
                del sys.modules[name]


def _xarray_without_dask_for_now() -> bool:
    """xarray asks once per process, when it makes its first array, whether Dask's arrays can be imported, and
    imports them to know (0.45 s: ``dask.array`` brings ``scipy.fft``), on the path to the first map although
    the view's arrays are numpy's.  Asked here with ``dask.array`` marked absent, xarray remembers "no Dask"
    until :func:`_xarray_asks_about_dask_again` makes it forget.  Returns whether the answer was given here (not
    when Dask's arrays are imported already, or this xarray keeps no such cache)."""
    import sys

    try:
        from xarray.namedarray import pycompat
    except ImportError:
        return False
    cache = getattr(pycompat, "_cached_duck_array_modules", None)
    if not isinstance(cache, dict) or "dask" in cache or "dask.array" in sys.modules:
        return False
    with _absent(("dask.array",)):
        pycompat.array_type("dask")
    return True


def _xarray_asks_about_dask_again() -> None:
    from xarray.namedarray import pycompat

    pycompat._cached_duck_array_modules.pop("dask", None)


def _class_map_of_a_few_points(classes: list[str], by_datashader: bool) -> None:
    """The class map of a few synthetic points with the survey's classes: datashader keys its compiled functions by
    the columns' types and categories, so this prepares the real map."""
    grid = (np.arange(16, dtype=np.float32) - 7.5) / 8  # dense enough that datashader does not spread it
    x, y = (a.ravel() for a in np.meshgrid(grid, grid))
    codes = (np.arange(x.size) % (len(classes) + 1)).astype(np.int8)
    colours = class_colours(classes)
    _shade(x, y, (-1.0, 1.0), (-1.0, 1.0), 8, 8, codes=codes, categories=list(classes),
           palette=[colours[c] for c in classes], by_datashader=by_datashader)


def _prepare_first_map(classes: list[str]) -> bool:
    """Datashader's import and its shading's first use, while the columns are read; the counts of the first map
    and its density come from numpy (:func:`_count_by_category`, :func:`_rgb_density`), so numba's compiler and
    datashader's compilation wait for the warm-up.  Returns
    whether xarray was told there is no Dask (:func:`_xarray_without_dask_for_now`)."""
    _import_datashader()
    told = _xarray_without_dask_for_now()
    _class_map_of_a_few_points(classes, by_datashader=False)
    return told


def _compile_points(classes: list[str]) -> None:
    """Datashader's numba compilation of the class map (the warm-up's, after the first view); maps aggregate with
    datashader from then on."""
    _import_datashader()
    _class_map_of_a_few_points(classes, by_datashader=True)
    _POINTS_COMPILED.set()


class Loading:
    """A survey folder read in the background while the server already answers.

    The folder is checked at once (:func:`~astroxai.view.table.check_survey`: a folder that cannot be shown raises
    its one-line :class:`~astroxai.errors.InputError` here, before any server starts).  :meth:`start` then reads the
    columns and imports datashader in threads; a browser that comes meanwhile is shown what is being
    read, and the map replaces it when ready — so the browser's own start (BokehJS, the session, the page) overlaps
    the server's (≈ 4 s at 10⁶ rows on 2 cores, nearly all of it Python holding the GIL: importing Bokeh, datashader
    with pandas and numba, converting the columns, building the session's views).  A table that
    fails to read (a corrupt part) sets :attr:`error`, shown on the page and raised by ``astroxai view``."""

    def __init__(self, folder, verdicts=None):
        from astroxai.view.table import check_survey

        self.folder, self.verdicts = Path(folder), verdicts
        self.record, self.parts, self.classes = check_survey(self.folder)
        self.shared: Shared | None = None
        self.error: InputError | None = None
        self.ready, self.served = threading.Event(), threading.Event()
        self._lock = threading.Lock()
        self._waiting: list = []
        self._collecting = self._xarray_told = False
        self._thread: threading.Thread | None = None
        self.stopping = threading.Event()

    def start(self) -> threading.Thread:
        """Read in a thread (returned), then warm up (:func:`warm_up`, once the first page is served).  Python's
        cyclic garbage collector is paused until then: the start allocates millions of objects that live on
        (imports, numba's compiler) and the collector's passes over them cost ≈ 0.4 s of the first view's ≈ 5 s of
        CPU (measured at 10⁶ rows); collection resumes, and sweeps once, when the warm-up ends."""
        self._collecting = gc.isenabled()
        gc.disable()
        self._thread = threading.Thread(target=self._load, name="astroxai-view-read", daemon=True)
        self._thread.start()
        return self._thread

    def stop(self, timeout: float = 60.0) -> None:
        """Let the reading thread finish its current step (a read, a compilation: seconds at most) and start no
        other, then wait for it: a process that exits while pyarrow or numba still run in a thread can crash in
        the interpreter's shutdown (seen: Ctrl-C during the read, SIGSEGV after "stopped" in 3 of 12 tries)."""
        self.stopping.set()
        self.served.set()  # a warm-up still waiting for the first page stops waiting
        if self._thread is not None:
            self._thread.join(timeout)

    def _load(self) -> None:
        try:
            self._read()
            if self.shared is not None and not self.stopping.is_set():
                warm_up(self.shared, after=self.served, cancel=self.stopping)
        finally:
            if self._xarray_told:  # the first map is drawn: xarray may look for Dask again
                _xarray_asks_about_dask_again()
            if self._collecting:
                gc.enable()
                gc.collect()

    def _prepare(self) -> None:
        self._xarray_told = _prepare_first_map(self.classes)

    def _read(self) -> None:
        # datashader's import (≈ 1 s of Python) runs while pyarrow reads the columns
        compiling = threading.Thread(target=self._prepare, name="astroxai-view-compile", daemon=True)
        compiling.start()
        shared = None
        try:
            shared = Shared(self.folder, self.verdicts)
        except InputError as error:
            self.error = error
        except Exception as error:  # noqa: BLE001 — shown on the page and raised by the command, not lost in a thread
            log.debug("reading %s", self.folder, exc_info=True)
            self.error = InputError(f"{self.folder}: the survey cannot be shown ({type(error).__name__}: {error})")
        finally:  # also when the read failed: the command may exit next, and numba must not be mid-compile then
            compiling.join()
        with self._lock:
            self.shared = shared if self.error is None else None
            self.ready.set()
            waiting, self._waiting = self._waiting, []
        for callback in waiting:
            callback()

    def when_ready(self, callback) -> None:
        """Call ``callback()`` once the survey is read (or failed): from the reading thread, or now if done."""
        with self._lock:
            if not self.ready.is_set():
                self._waiting.append(callback)
                return
        callback()

    def progress(self) -> str:
        rows = self.record.get("n_rows") or self.record.get("n_inputs")
        what = f"{int(rows):,} rows" if isinstance(rows, int) else "the rows"
        source = "its column file" if (self.folder / COLUMNS).is_file() else f"{len(self.parts):,} Parquet parts"
        return (f"<h3 style='margin:4px 0'>astroxai view — {html.escape(str(self.folder))}</h3>"
                f"<p>Reading {what} of the survey ({source}); the map appears here in a few seconds.</p>")

    def page(self, doc) -> None:
        """A browser session: the views at once when the survey is read, else a page saying what is being read,
        its content replaced (in the server's event loop, the only thread that may change a document) once read."""
        from bokeh.layouts import column
        from bokeh.models import Div

        if self.ready.is_set() and self.shared is not None:
            Session(self.shared).attach(doc)
            self.served.set()
            return
        doc.title = f"astroxai view — {self.folder.name}"
        listen_for_keys(doc)
        holder = column(Div(text=self.progress(), name="loading", width=1200), name="view")
        doc.add_root(holder)

        def show() -> None:
            if self.error is not None:
                holder.children = [Div(text=f"<p><b>astroxai view cannot show this survey:</b> "
                                             f"{html.escape(str(self.error))}</p>", name="loading", width=1200)]
                return
            Session(self.shared).attach(doc, holder)
            self.served.set()

        def later() -> None:
            try:
                doc.add_next_tick_callback(show)
            except Exception:  # noqa: BLE001 — the browser left before the survey was read: nothing to show
                log.debug("session gone before the survey was read", exc_info=True)

        self.when_ready(later)


def make_server(folder, *, port: int = 5006, address: str = "127.0.0.1", verdicts=None):
    """A Bokeh server of the survey in ``folder`` (not started; the survey is being read in the background, see
    :class:`Loading`); ``port`` 0 picks a free one.  Returns the server, its URL and the :class:`Loading`."""
    loading = Loading(folder, verdicts)  # a folder it cannot show: one-line error, no server
    loading.start()
    from bokeh.application import Application
    from bokeh.application.handlers.function import FunctionHandler
    from bokeh.server.server import Server

    port = port or free_port(address)
    origins = [f"{address}:{port}", f"localhost:{port}", f"127.0.0.1:{port}"]
    server = Server({"/": Application(FunctionHandler(loading.page))}, port=port, address=address,
                    allow_websocket_origin=origins, num_procs=1)

    def failed() -> None:  # the command stops (and says why) once the pages have been told
        if loading.error is not None:
            server.io_loop.add_callback(server.io_loop.call_later, 1.0, server.io_loop.stop)

    loading.when_ready(failed)
    return server, f"http://{address}:{port}/", loading
