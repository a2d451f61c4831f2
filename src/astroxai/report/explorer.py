"""Explorable views for ``report.html``: linked Bokeh plots whose JavaScript is inlined, so the page still opens from
disk, offline, and can be mailed as one file.

* **Spectra** (:func:`spectra_explorer`): every test spectrum is a point on the run's t-SNE maps (any of them:
  subset × features × perplexity), coloured by true class as in the paper's figures and drawn as a triangle when the
  model got it wrong, over the run's other spectra in grey.  Hovering gives the id, the classes and the
  probabilities; clicking draws that spectrum coloured by its attribution map (blue: more flux there raises the
  explained class, red: lowers it) with the seven diagnostic lines marked, its probability table, and a switch among
  the maps the run computed for it (the exact saliency of the run's 3-class SVM for every test spectrum; every
  method × model of the trust table for the spectra it scored).  Filters by true and predicted class, correctness,
  confidence and the sign pattern of the saliency around Hβ, and a search box by id.
* **Images** (:func:`image_explorer`): the test images as a gallery, filterable by class and correctness; clicking
  one shows it with its attribution map overlaid (an opacity slider, blue raises the explained class) and a switch
  among the run's methods (LIME and SmoothGrad).

The arrays travel compressed, not as images: each row is quantised to 16 bits (spectra and their maps) or 8 bits
(image pixels and maps) relative to its own range, all rows are deflated into one buffer and base64-encoded, and
the browser inflates that buffer once with its built-in ``DecompressionStream``.  Why not Bokeh's own transport:
it sends arrays as raw float bytes, about three times larger for the same page here, and Bokeh has no compressed
array type.  The plots, widgets, hover and tap tools are Bokeh's; ``explorer.js`` holds only the glue (decoding a
row, redrawing a spectrum, laying out the gallery, filtering), about 250 lines.
"""

from __future__ import annotations

import base64
import html
import zlib
from importlib import resources

import numpy as np

from astroxai.errors import InputError
from astroxai.lines import DIAGNOSTIC_LINES
from astroxai.report.figures import CLASS_NAMES
from astroxai.results import json_text

#: Bokeh's JavaScript bundles the explorers need (the WebGL, table and MathJax bundles are left out: 3.9 → 1.6 MB).
BOKEH_COMPONENTS = ("bokeh", "bokeh-widgets")
OTHER_COLOURS = ("#2ca02c", "#8c564b", "#17becf", "#7f7f7f", "#bcbd22", "#e377c2")


def attribution_palette(n: int = 255) -> list[str]:
    """The project's attribution colour map (:data:`astroxai.report.figures.ATTRIBUTION_CMAP`, ColorBrewer's RdBu:
    red low, white zero, blue high) as ``n`` hex colours for Bokeh's pages.

    Interpolated by Bokeh from the map's 11 ColorBrewer colours, as matplotlib's ``RdBu`` is (linearly, in RGB), so
    the pages and the static figures agree to 1/255 per channel (tested) — without importing matplotlib, whose
    import and colour-map tables cost ``astroxai view`` ≈ 0.2 s of its first view."""
    from bokeh.palettes import RdBu, interp_palette

    return list(interp_palette(RdBu[11][::-1], n))  # Bokeh lists RdBu from blue to red


def class_colours(classes) -> dict:
    from astroxai.report.figures.spectra import CLASS_COLOURS

    extra = iter(OTHER_COLOURS * (1 + len(classes) // len(OTHER_COLOURS)))
    return {c: CLASS_COLOURS.get(c) or next(extra) for c in classes}


class Pack:
    """Rows of arrays packed for the page: each row quantised against its own range, every row in one zlib buffer.

    ``centred`` rows (attribution maps) keep zero exactly: value = q · scale.  Other rows (fluxes, pixels) are
    stored as value = shift + q · scale over the row's [min, max].  Non-finite values become 0.
    """

    def __init__(self):
        self.parts: list[bytes] = []
        self.size = 0
        self.arrays: dict = {}

    def add(self, name: str, values, *, bits: int = 16, centred: bool = True, **meta) -> None:
        rows = np.nan_to_num(np.atleast_2d(np.asarray(values, dtype=np.float64)), nan=0.0, posinf=0.0, neginf=0.0)
        rows = rows.reshape(len(rows), -1)
        top = 2 ** (bits - 1) - 1
        if centred:
            shift = np.zeros(len(rows))
            half = np.abs(rows).max(axis=1) if rows.size else np.zeros(len(rows))
        else:
            low, high = (rows.min(axis=1), rows.max(axis=1)) if rows.size else (np.zeros(0), np.zeros(0))
            shift, half = (high + low) / 2, (high - low) / 2
        half = np.where(half > 0, half, 1.0)
        quantised = np.rint((rows - shift[:, None]) / half[:, None] * top)
        data = quantised.astype(np.int16 if bits == 16 else np.int8).tobytes()
        padding = (-self.size) % 2  # int16 views need an even byte offset
        self.parts.append(b"\0" * padding)
        self.size += padding
        self.arrays[name] = {"offset": self.size, "bits": bits, "shape": list(rows.shape),
                             "scale": (half / top).tolist(), "shift": shift.tolist(), **meta}
        self.parts.append(data)
        self.size += len(data)

    def payload(self, **extra) -> dict:
        return {"buffer": base64.b64encode(zlib.compress(b"".join(self.parts), 9)).decode("ascii"),
                "arrays": self.arrays, **extra}


def _script_json(element_id: str, payload: dict) -> str:
    text = json_text(payload, compact=True).replace("</", "<\\/")
    return f'<script type="application/json" id="{html.escape(element_id)}">{text}</script>'


def bokeh_resources() -> str:
    """Bokeh's JavaScript, inlined (no CDN: the page works offline from disk)."""
    from bokeh.resources import Resources

    return Resources(mode="inline", components=list(BOKEH_COMPONENTS)).render_js()


def glue_script() -> str:
    return "<script>" + resources.files("astroxai.report").joinpath("explorer.js").read_text("utf-8") + "</script>"


def _embed(layout, ready, name: str) -> str:
    """Bokeh's div and script for ``layout``, with ids that depend only on what is drawn.

    Bokeh numbers its models with a process-wide counter (and creates a few the first time only), and names the
    document and its root element with random UUIDs, so the same run would give another page in every process and
    after every other page.  Before the document is made, its models are numbered again in their order of creation
    (Bokeh keeps a model's id in ``_id``: nothing else names it yet), and the two UUIDs are replaced by names
    derived from ``name``.  ``tests/workflows/test_user_sample.py`` rebuilds a page in a fresh process and after
    another page, and compares bytes."""
    import re

    from bokeh.document import Document
    from bokeh.embed import components
    from bokeh.events import DocumentReady

    document = Document()
    models = {*layout.references(), *ready.references(), *document.config.references()}
    if all(re.fullmatch(r"p\d+", m.id) for m in models):  # Bokeh's simple ids (the default): renumber them
        for number, model in enumerate(sorted(models, key=lambda m: int(m.id[1:])), start=1000):
            model._id = f"p{number}"
    document.add_root(layout)
    document.js_on_event(DocumentReady, ready)
    script, div = components(layout)
    root = re.search(r'<div id="([^"]+)"', div).group(1)
    doc = re.search(r'"docid":"([^"]+)"', script).group(1)
    return (div + script).replace(root, f"{name}-root").replace(doc, f"{name}-document")


def _rows_of(data, ids) -> np.ndarray:
    """Row of each id in a data set (the explorer's inputs are all in the run's own set)."""
    lookup = {str(i): k for k, i in enumerate(data.ids)}
    missing = [str(i) for i in ids if str(i) not in lookup]
    if missing:
        raise InputError(f"{len(missing)} explained ids are not in the run's data set (first: {missing[0]})")
    return np.array([lookup[str(i)] for i in ids], dtype=np.int64)


def _named(n):
    return CLASS_NAMES.get(str(n), str(n))


# --------------------------------------------------------------------------------------------------- spectra


def _embeddings(run) -> list[dict]:
    """Every t-SNE map of the run: label, ids, coordinates; the main map (all classes, raw fluxes, largest
    perplexity) first, then in reading order."""
    maps = [{"subset": m.spec.subset, "features": m.spec.features, "perplexity": float(m.spec.perplexity),
             "label": f"{m.spec.subset} · {m.spec.features} · perplexity {m.spec.perplexity:g}",
             "ids": np.asarray(m.ids).astype(str), "coords": np.asarray(m.coords, dtype=np.float64)}
            for m in run.maps]
    maps.sort(key=lambda m: (m["subset"] != "all", m["features"] != "raw", -m["perplexity"], m["label"]))
    return maps


def _trust_maps(run, index: dict) -> list[tuple[str, object, np.ndarray]]:
    """(label, Explanation, rows in the explorer's order) for every map of the run's trust table."""
    found = []
    for model, method, explanation in run.trust_maps():
        keep = np.array([i in index for i in explanation.ids], dtype=bool)
        if keep.any():
            found.append((f"{method} · {model}", explanation.subset(np.flatnonzero(keep)),
                          np.array([index[i] for i in explanation.ids[keep]], dtype=np.int64)))
    return found


def _spectra_points(saliency, labels, rows: dict, colour: dict) -> dict:
    """The explorer's points: one per explained spectrum, with what hovering and the filters show (the Hβ sign
    pattern as the saliency study measured it)."""
    classes = list(saliency.classes)
    predicted = np.asarray(saliency.predicted).astype(str)
    confidence = np.asarray(saliency.probabilities).max(axis=1)
    ids = [str(i) for i in saliency.ids]
    return {"id": ids, "true": [_named(v) for v in labels], "predicted": [_named(v) for v in predicted],
            "true_class": [str(v) for v in labels], "predicted_class": list(predicted),
            "confidence": confidence.round(4).tolist(),
            "probabilities": ["  ".join(f"{_named(c)} {p:.3f}" for c, p in zip(classes, row, strict=True))
                              for row in saliency.probabilities],
            "wrong": (labels != predicted).tolist(),
            "hbeta": [str(rows.get(i, {}).get("hbeta_signs", "")) for i in ids],
            "colour": [colour[str(v)] for v in labels],
            "marker": ["triangle" if w else "circle" for w in labels != predicted],
            "row": list(range(len(saliency)))}


def _placed(points: dict, maps: list, index: dict) -> dict:
    """Each map's coordinates of the points (NaN where a map lacks one), and the map's other spectra in grey."""
    background = {}
    for k, fitted in enumerate(maps):
        where = {str(i): j for j, i in enumerate(fitted["ids"])}
        coords = np.array([fitted["coords"][where[i]] if i in where else (np.nan, np.nan) for i in points["id"]])
        points[f"x{k}"], points[f"y{k}"] = coords[:, 0].tolist(), coords[:, 1].tolist()
        others = np.array([j for i, j in where.items() if i not in index], dtype=np.int64)
        background[f"x{k}"] = fitted["coords"][others, 0].astype(np.float32)
        background[f"y{k}"] = fitted["coords"][others, 1].astype(np.float32)
    longest = max((len(v) for v in background.values()), default=0)
    background = {k: np.pad(v, (0, longest - len(v)), constant_values=np.nan) for k, v in background.items()}
    if maps:
        points["x"], points["y"] = points["x0"], points["y0"]
        background["x"], background["y"] = background["x0"], background["y0"]
    return background


def spectra_explorer(run) -> str:
    """The linked t-SNE map ↔ spectrum explorer of a spectra run (``run``: a
    :class:`~astroxai.report.folder.RunFolder`), as an HTML fragment (Bokeh's div and script, the packed arrays);
    ``""`` when the run has no saliency maps."""
    saliency = run.saliency
    if saliency is None:
        return ""
    data = run.dataset
    rows = _rows_of(data, saliency.ids)
    labels = data.labels[rows].astype(str)
    classes = list(saliency.classes)
    index = {str(i): k for k, i in enumerate(saliency.ids)}
    wavelength = np.asarray(saliency.grid if saliency.grid is not None else data.wavelength, dtype=np.float64)
    spectra = run.layout.explain.table("spectra")
    science = {row["id"]: row for row in run.table(spectra)}
    pack = Pack()
    pack.add("flux", data.flux[rows], centred=False)
    model = run.table_meta(spectra).get("model") or "the run's model"
    methods = [(f"saliency · {model}", saliency, np.arange(len(saliency)))]
    methods += _trust_maps(run, index)
    for k, (label, explanation, where) in enumerate(methods):
        probabilities = explanation.probabilities if explanation.probabilities is not None else \
            np.full((len(where), len(classes)), np.nan)
        pack.add(f"map{k}", explanation.maps, label=label, rows=where.tolist(),
                 targets=[str(t) for t in explanation.targets],
                 probabilities=np.round(probabilities, 4).tolist(), classes=list(explanation.classes))
    colour = class_colours(sorted(set(classes) | set(labels)))
    points = _spectra_points(saliency, labels, science, colour)
    maps = _embeddings(run)
    background = _placed(points, maps, index)
    payload = pack.payload(wavelength=wavelength.round(3).tolist(),
                           lines={n: w for n, w in DIAGNOSTIC_LINES.items() if wavelength[0] <= w <= wavelength[-1]},
                           classes=classes, class_names={c: _named(c) for c in classes})
    wrong = np.flatnonzero(labels != np.asarray(points["predicted_class"]))
    first = next((i for i in wrong if labels[i] == "intermediate"), wrong[0] if wrong.size else 0)
    start = {"x": wavelength.tolist(), "y": data.flux[rows[first]].astype(np.float64).tolist()}
    layout, ready = _spectra_layout(points, background, maps, classes, colour, payload["lines"], start)
    fragment = _embed(layout, ready, "astroxai-spectra")
    return _script_json("astroxai-spectra-data", payload) + fragment


def flux_limits(flux) -> tuple[float, float]:
    """The spectrum panel's y range: as the static figures (0.5–99.8th percentile, 8 % padding, 0 included)."""
    low, high = np.nanpercentile(np.asarray(flux, dtype=np.float64), [0.5, 99.8])
    pad = 0.08 * (high - low) or 0.1
    return float(min(0.0, low - pad)), float(high + pad)


def _filters(classes, names):
    from bokeh.models import CheckboxGroup, Div

    true = CheckboxGroup(labels=[names[c] for c in classes], active=list(range(len(classes))), name="filter-true")
    predicted = CheckboxGroup(labels=[names[c] for c in classes], active=list(range(len(classes))),
                              name="filter-predicted")
    return (true, predicted, Div(text="<b>true class</b>"), Div(text="<b>predicted class</b>"))


def _spectra_layout(points: dict, background: dict, maps: list, classes: list, colour: dict, lines: dict,
                    start: dict):
    """The Bokeh layout and its start-up callback; ``start``: the spectrum shown first (so the axes have ranges
    before the page's arrays are decoded)."""
    from bokeh import models as bm
    from bokeh.layouts import column, row
    from bokeh.plotting import figure

    names = {c: _named(c) for c in classes}
    source = bm.ColumnDataSource(points, name="astroxai-points")
    behind = bm.ColumnDataSource(background, name="astroxai-background")
    everything = bm.IndexFilter(list(range(len(points["id"]))), name="astroxai-filter")
    view = bm.CDSView(filter=everything, name="astroxai-view")
    tsne = figure(width=500, height=500, title="t-SNE map: the test spectra (click one)", tools="pan,wheel_zoom,"
                  "box_zoom,reset,save", name="astroxai-map", toolbar_location="above", match_aspect=True)
    tsne.scatter("x", "y", source=behind, size=3, color="#c8c8c8", alpha=0.5, legend_label="other spectra")
    dots = tsne.scatter("x", "y", source=source, view=view, size=7, marker="marker", fill_color="colour",
                        line_color="colour", fill_alpha=0.75, name="astroxai-dots",
                        selection_line_color="black", selection_line_width=2, nonselection_fill_alpha=0.35)
    for c in classes:  # legend entries: the class colours (the dots themselves share one renderer)
        tsne.scatter([np.nan], [np.nan], color=colour[c], size=7, legend_label=names[c])
    tsne.scatter([np.nan], [np.nan], marker="triangle", color="#555555", size=8, legend_label="misclassified")
    tsne.legend.location = "top_left"
    tsne.legend.label_text_font_size = "8pt"
    tsne.legend.click_policy = "none"
    tsne.xaxis.visible = tsne.yaxis.visible = False
    tsne.add_tools(bm.HoverTool(renderers=[dots], tooltips=[("id", "@id"), ("true", "@true"),
                                                         ("predicted", "@predicted"), ("p", "@probabilities"),
                                                         ("Hβ core/wing", "@hbeta")]),
                   bm.TapTool(renderers=[dots]))
    low, high = flux_limits(start["y"])
    spectrum = figure(width=620, height=360, title="", name="astroxai-spectrum", x_axis_label="rest wavelength [Å]",
                      y_axis_label="flux / flux(5100 Å)", tools="pan,wheel_zoom,box_zoom,reset,save",
                      toolbar_location="above", x_range=bm.Range1d(start["x"][0], start["x"][-1]),
                      y_range=bm.Range1d(low, high))
    line = bm.ColumnDataSource(start, name="astroxai-spectrum-line")
    segments = bm.ColumnDataSource({"x0": [], "y0": [], "x1": [], "y1": [], "a": []}, name="astroxai-segments")
    mapper = bm.LinearColorMapper(palette=attribution_palette(), low=-1.0, high=1.0)
    spectrum.segment("x0", "y0", "x1", "y1", source=segments, line_width=4, line_cap="round",
                     color={"field": "a", "transform": mapper})
    spectrum.line("x", "y", source=line, color="#555555", line_width=0.7)  # on top: white (≈ 0) stretches stay seen
    for name, wave in lines.items():  # the paper's seven lines, dashed, named along the bottom
        spectrum.add_layout(bm.Span(location=wave, dimension="height", line_color="#8c8c8c", line_dash="dashed",
                                 line_width=0.8))
        spectrum.add_layout(bm.Label(x=wave, y=4, y_units="screen", text=name, angle=np.pi / 2, text_font_size="7pt",
                                  text_color="#555555", x_offset=-2))
    spectrum.add_layout(bm.ColorBar(color_mapper=mapper, width=10, title="attribution / max |map|",
                                 title_text_font_size="8pt"), "right")
    method = bm.Select(title="attribution map", options=[], width=300, name="astroxai-method")
    choice = bm.Select(title="t-SNE map", options=[(str(k), m["label"]) for k, m in enumerate(maps)],
                    value="0" if maps else "", width=300, name="astroxai-tsne")
    info = bm.Div(text="", width=620, name="astroxai-info")
    true, predicted, true_head, predicted_head = _filters(classes, names)
    wrong = bm.CheckboxGroup(labels=["misclassified only"], active=[], name="filter-wrong")
    confidence = bm.RangeSlider(title="confidence (largest probability)", start=0, end=1, step=0.01, value=(0, 1),
                             width=240, name="filter-confidence")
    patterns = sorted(set(points["hbeta"]))
    hbeta = bm.Select(title="Hβ core/wing signs of the saliency", value="any", options=["any", *patterns], width=240,
                   name="filter-hbeta")
    search = bm.TextInput(title="search by id", placeholder="e.g. 9004-61000-0580", width=240, name="filter-search")
    count = bm.Div(text="", name="astroxai-count")
    args = {"points": source, "background": behind, "view": view, "line": line, "segments": segments,
            "spectrum": spectrum, "method": method, "choice": choice, "info": info, "true_class": true,
            "predicted_class": predicted, "wrong": wrong, "confidence": confidence, "hbeta": hbeta, "search": search,
            "count": count, "classes": classes}
    shown = "{line, segments, spectrum, method, info}"
    filters = "{true_class, predicted_class, wrong, confidence, hbeta, search, count, classes}"
    show = bm.CustomJS(args=args, code=f"astroxai.spectra.show(points, {shown})")
    redraw = bm.CustomJS(args=args, code=f"astroxai.spectra.redraw(points, {shown})")
    refilter = bm.CustomJS(args=args, code=f"astroxai.spectra.filter(points, view, {filters})")
    remap = bm.CustomJS(args=args, code="astroxai.spectra.remap(points, background, choice.value); "
                                     f"astroxai.spectra.filter(points, view, {filters})")
    source.selected.js_on_change("indices", show)
    method.js_on_change("value", redraw)
    for widget, attribute in ((true, "active"), (predicted, "active"), (wrong, "active"), (confidence, "value"),
                              (hbeta, "value"), (search, "value_input")):
        widget.js_on_change(attribute, refilter)
    choice.js_on_change("value", remap)
    ready = bm.CustomJS(args=args, code=f"astroxai.spectra.start(points, view, {filters})")
    controls = column(choice, true_head, true, predicted_head, predicted, wrong, confidence, hbeta, search, count,
                      width=260)
    layout = row(controls, tsne, column(method, spectrum, info), name="astroxai-spectra-explorer")
    return layout, ready


# --------------------------------------------------------------------------------------------------- images


def image_explorer(run) -> str:
    """The gallery ↔ overlay explorer of an image run (``run``: a :class:`~astroxai.report.folder.RunFolder`), as
    an HTML fragment; ``""`` when the run explained no image."""
    from astroxai.report.figures.images import display

    methods = run.method_maps()
    if not methods:
        return ""
    data = run.dataset
    first = methods[0][1]
    ids = [str(i) for i in first.ids]
    rows = _rows_of(data, first.ids)
    labels = data.labels[rows].astype(str)
    predicted = np.asarray(first.predicted).astype(str)
    classes = list(first.classes)
    shape = tuple(int(n) for n in data.images.shape[-2:])
    pixels = np.stack([display(data.images[r]) for r in rows])
    pack = Pack()
    pack.add("pixels", pixels, bits=8, centred=False)
    index = {i: k for k, i in enumerate(ids)}
    for k, (name, explanation) in enumerate(methods):
        keep = np.array([str(i) in index for i in explanation.ids], dtype=bool)
        maps = np.asarray(explanation.maps)[keep]
        maps = maps.reshape(len(maps), -1, *shape).sum(axis=1)  # one map per image: its channels (if any) summed
        pack.add(f"map{k}", maps.reshape(len(maps), -1), bits=8, label=name,
                 rows=[index[str(i)] for i in explanation.ids[keep]],
                 targets=[str(t) for t in np.asarray(explanation.targets)[keep]])
    colour = class_colours(sorted(set(classes) | set(labels)))
    thumbs = (pixels * 255).round().clip(0, 255).astype(np.uint8)
    meta_columns = [c for c in ("ra", "dec", "source", "catalogue") if c in data.meta]
    table = {"id": ids, "true_class": [str(v) for v in labels], "predicted_class": list(predicted),
             "true": [str(v) for v in labels], "predicted": list(predicted),
             "probabilities": ["  ".join(f"{c} {p:.3f}" for c, p in zip(classes, row, strict=True))
                               for row in first.probabilities],
             "wrong": (labels != predicted).tolist(), "colour": [colour[str(v)] for v in labels],
             "outline": ["#d62728" if w else "#2ca02c" for w in labels != predicted],
             "image": [t for t in thumbs], "row": list(range(len(ids))),
             "x": [0.0] * len(ids), "y": [0.0] * len(ids)}
    for column_name in meta_columns:
        table[column_name] = [str(v) for v in np.asarray(data.meta[column_name])[rows]]
    payload = pack.payload(shape=list(shape), classes=classes, meta_columns=meta_columns)
    layout, ready = _image_layout(table, classes, shape, meta_columns)
    fragment = _embed(layout, ready, "astroxai-images")
    return _script_json("astroxai-images-data", payload) + fragment


def _image_layout(table: dict, classes: list, shape: tuple, meta_columns: list):
    from bokeh import models as bm
    from bokeh.layouts import column, row
    from bokeh.palettes import Greys256
    from bokeh.plotting import figure

    n = len(table["id"])
    source = bm.ColumnDataSource(table, name="astroxai-gallery")
    view = bm.CDSView(filter=bm.IndexFilter(list(range(n)), name="astroxai-filter"), name="astroxai-view")
    columns = 12
    height = max(1, -(-n // columns))
    shown = min(height, 21)  # rows on screen; pan for more
    gallery = figure(width=760, height=max(200, 62 * shown + 40), title="test images (click one)",
                     tools="pan,wheel_zoom,reset", name="astroxai-gallery-figure", toolbar_location="above",
                     x_range=bm.Range1d(-0.05, columns + 0.05), y_range=bm.Range1d(-shown - 0.05, 0.05))
    gallery.axis.visible = False
    gallery.grid.visible = False
    grey = bm.LinearColorMapper(palette=list(Greys256)[::-1], low=0, high=255)
    gallery.image("image", x="x", y="y", dw=0.92, dh=0.92, source=source, view=view, color_mapper=grey,
                  name="astroxai-thumbs", anchor="bottom_left", nonselection_global_alpha=1.0)
    boxes = gallery.rect(x="cx", y="cy", width=0.96, height=0.96, source=source, view=view, fill_color=None,
                         line_color="outline", line_width=2, name="astroxai-boxes",
                         selection_line_color="black", selection_line_width=4, nonselection_line_alpha=0.8)
    source.data["cx"] = [0.0] * n
    source.data["cy"] = [0.0] * n
    tips = [("id", "@id"), ("true", "@true"), ("predicted", "@predicted"), ("p", "@probabilities")]
    tips += [(c, f"@{c}") for c in meta_columns]
    gallery.add_tools(bm.HoverTool(renderers=[boxes], tooltips=tips), bm.TapTool(renderers=[boxes]))
    h, w = shape
    viewer = figure(width=420, height=420, name="astroxai-viewer", tools="pan,wheel_zoom,reset,save",
                    x_range=bm.Range1d(0, w), y_range=bm.Range1d(0, h), match_aspect=True, toolbar_location="above")
    viewer.axis.visible = False
    picture = bm.ColumnDataSource({"image": []}, name="astroxai-picture")
    overlay = bm.ColumnDataSource({"image": []}, name="astroxai-overlay")
    mapper = bm.LinearColorMapper(palette=attribution_palette(), low=-1.0, high=1.0)
    viewer.image("image", x=0, y=0, dw=w, dh=h, source=picture, color_mapper=grey)
    layer = viewer.image("image", x=0, y=0, dw=w, dh=h, source=overlay, color_mapper=mapper, global_alpha=0.6,
                         name="astroxai-overlay-glyph")
    viewer.add_layout(bm.ColorBar(color_mapper=mapper, width=10, title="attribution / max |map|",
                               title_text_font_size="8pt"), "right")
    opacity = bm.Slider(title="map opacity", start=0, end=1, step=0.05, value=0.6, width=260, name="astroxai-opacity")
    opacity.js_link("value", layer.glyph, "global_alpha")
    method = bm.Select(title="attribution map", options=[], width=260, name="astroxai-method")
    info = bm.Div(text="", width=420, name="astroxai-info")
    true = bm.CheckboxGroup(labels=classes, active=list(range(len(classes))), name="filter-true")
    correctness = bm.RadioButtonGroup(labels=["all", "correct", "misclassified"], active=0, name="filter-correct")
    count = bm.Div(text="", name="astroxai-count")
    args = {"gallery": source, "view": view, "picture": picture, "overlay": overlay, "method": method,
            "info": info, "true_class": true, "correctness": correctness, "count": count, "classes": classes,
            "viewer": viewer}
    shown = "{picture, overlay, method, info, viewer}"
    filters = "{true_class, correctness, count, classes}"
    source.selected.js_on_change("indices", bm.CustomJS(args=args, code=f"astroxai.images.show(gallery, {shown})"))
    method.js_on_change("value", bm.CustomJS(args=args, code=f"astroxai.images.redraw(gallery, {shown})"))
    refilter = bm.CustomJS(args=args, code=f"astroxai.images.filter(gallery, view, {filters}, {shown})")
    true.js_on_change("active", refilter)
    correctness.js_on_change("active", refilter)
    ready = bm.CustomJS(args=args, code=f"astroxai.images.start(gallery, view, {filters}, {shown})")
    controls = column(bm.Div(text="<b>true class</b>"), true, correctness, count, opacity, method, width=280)
    layout = row(column(controls, viewer, info), gallery, name="astroxai-images-explorer")
    return layout, ready


#: Modality → the explorer of a run's test set (a modality without one gets none).
EXPLORERS = {"spectra": spectra_explorer, "images": image_explorer}
