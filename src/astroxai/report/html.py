"""``report.html``: one self-contained page per run, for spectra and image studies alike, in the order of the papers.

One writer, drawn from the run folder read back through its layout (:class:`~astroxai.report.folder.RunFolder`):
each section appears when its stage ran (``run.json`` says which; a stage skipped gets its reason on the page) —
data, the explorable view of the test set, models, noise, t-SNE maps, explanations, bar lengths, trust.  Nothing is
recomputed, so ``astroxai report RUN`` rebuilds the page the run wrote, byte for byte.

Every figure is embedded as a PNG data URI and the explorer (:mod:`astroxai.report.explorer`) carries Bokeh's
JavaScript and its arrays inline, so the page opens from disk, offline, without the run folder; the links next to the
figures point to the PDF versions and the CSV tables in the run folder.
:func:`check_report` verifies a page: every relative link resolves to an existing file and every embedded image
decodes and is not blank.
"""

from __future__ import annotations

import base64
import html
import io
import re
from pathlib import Path

from astroxai.data import atomic_path
from astroxai.report import explorer, paper
from astroxai.report.folder import RunFolder
from astroxai.report.markdown import format_value
from astroxai.report.tables import read_csv_rows

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1400px; margin: 2em auto; color: #222; line-height: 1.45; }
h1 { border-bottom: 2px solid #444; } h2 { border-bottom: 1px solid #bbb; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.6em 0 1.2em; font-size: 0.88em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; } th { background: #f1f1f1; }
td:first-child, th:first-child { text-align: left; }
figure { margin: 0.8em 0 1.4em; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.85em; color: #555; } .note { color: #555; font-size: 0.9em; }
.explorer { max-width: none; margin: 1em 0 2em; } .explorer table { margin: 0.3em 0; }
ul.links { columns: 3; font-size: 0.85em; }
"""


def figure_html(path: Path, root: Path, caption: str = "") -> str:
    """An embedded PNG with a caption and a link to the PDF beside it (when there is one)."""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    pdf = path.with_suffix(".pdf")
    link = f' <a href="{html.escape(pdf.relative_to(root).as_posix())}">PDF</a>' if pdf.exists() else ""
    return (f'<figure><img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{html.escape(caption)}{link}</figcaption></figure>")


def cell(value) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return html.escape(str(value))
    if number != number:  # NaN
        return "–"
    if number == int(number) and abs(number) < 1e6 and "." not in str(value):
        return str(int(number))
    return format_value(number)


def table_html(rows: list[dict], columns: list[str] | None = None, source: Path | None = None, root=None) -> str:
    if not rows:
        return '<p class="note">(no rows)</p>'
    columns = columns or list(rows[0])
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{cell(r.get(c, ''))}</td>" for c in columns) + "</tr>" for r in rows)
    link = (f'<p class="note">Table: <a href="{html.escape(source.relative_to(root).as_posix())}">'
            f"{html.escape(source.name)}</a></p>") if source is not None and source.exists() else ""
    return f"<table><tr>{head}</tr>{body}</table>{link}"


class Page:
    """Sections of a report page, numbered in the order they are added."""

    def __init__(self, root: Path, title: str):
        self.root = root
        self.parts = [f"<h1>{html.escape(title)}</h1>"]
        self.number = 0
        self.scripts = ""

    def section(self, title: str, note: str = "") -> None:
        self.number += 1
        self.parts.append(f"<h2>{self.number}. {html.escape(title)}</h2>")
        if note:
            self.parts.append(f'<p class="note">{note}</p>')

    def add(self, *parts: str) -> None:
        self.parts += [p for p in parts if p]

    def figure(self, stem: Path, caption: str = "") -> None:
        """A figure by its stem (the PNG embedded, the PDF linked), when it was drawn."""
        path = Path(stem).with_suffix(".png")
        if path.exists():
            self.parts.append(figure_html(path, self.root, caption))

    def table(self, stem: Path, columns: list[str] | None = None) -> None:
        """A table by its stem (rows as its CSV holds them, the CSV linked), when it was written."""
        path = Path(stem).with_suffix(".csv")
        if path.exists():
            self.parts.append(table_html(read_csv_rows(path), columns, path, self.root))

    def skipped(self, reason: str) -> None:
        self.parts.append(f'<p class="note">Skipped: {html.escape(reason)}.</p>')

    def explorer(self, fragment: str) -> None:
        """An explorable view (:mod:`astroxai.report.explorer`); Bokeh's JavaScript and the glue go in once."""
        if fragment:
            if not self.scripts:
                self.scripts = explorer.bokeh_resources() + explorer.glue_script()
            self.parts.append(f'<div class="explorer">{fragment}</div>')

    def write(self, path: Path) -> Path:
        page = ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>astroxai report</title>"
                f"<style>{STYLE}</style>{self.scripts}</head><body>" + "\n".join(self.parts) + "</body></html>")
        with atomic_path(path) as temporary:
            temporary.write_text(page, encoding="utf-8")
        return path


EXPLORE_SPECTRA = ("Every test spectrum on the run's t-SNE map (choose the map on the left; grey: the other spectra, "
                   "triangles: misclassified). Hover for its classes and probabilities; click a point to draw that "
                   "spectrum coloured by its attribution map (blue: more flux there raises the explained class, red: "
                   "lowers it; the seven lines marked) with its probability table, and switch among the maps the run "
                   "computed for it: the exact saliency of the 3-class SVM for every test spectrum, and every method "
                   "× model of the trust table for the spectra it scored. Filters narrow the map; the search box "
                   "finds an id. The arrays are in the page (16-bit per spectrum, compressed), so it works offline.")
EXPLORE_IMAGES = ("Every test image; green frame: classified correctly, red: misclassified. Click one to see it with "
                  "its attribution map overlaid (blue raises the explained class, red lowers it; the slider sets the "
                  "map's opacity) and switch between the run's methods. Filter by true class and correctness.")


#: What the page says of each kind of input: its noun, the caption of the examples figure, the explorer's note.
PAGE_TEXTS = {"spectra": {"noun": "spectra", "examples": "One reduced spectrum of each class.",
                          "explore": EXPLORE_SPECTRA},
              "images": {"noun": "cutouts", "examples": "Example cutouts per class (asinh stretch).",
                         "explore": EXPLORE_IMAGES}}
GENERIC_TEXTS = {"noun": "inputs", "examples": "Examples of each class.", "explore": ""}


def _texts(run: RunFolder) -> dict:
    return PAGE_TEXTS.get(run.modality, GENERIC_TEXTS)


def _explorer_section(page: Page, run: RunFolder) -> None:
    """The linked, explorable view of the run's test set, when the run explained one and its kind of input has an
    explorer (:data:`astroxai.report.explorer.EXPLORERS`)."""
    draw = explorer.EXPLORERS.get(run.modality)
    fragment = draw(run) if draw is not None else ""
    if fragment:
        page.section("Explore the test set", _texts(run)["explore"])
        page.explorer(fragment)


def _svm_section(page: Page, run: RunFolder, name: str, model) -> None:
    files, n_classes = run.layout.model(name), len(model.classes_)
    page.add(f"<h3>{n_classes}-class problem ({html.escape(', '.join(map(str, model.classes_)))})</h3>",
             f"<p>Chosen kernel <b>{html.escape(model.kernel_)}</b> (best validation F), C = {cell(model.params_['C'])}"
             + (f", γ = {cell(model.params_['gamma'])}" if model.params_.get("gamma") else "") + ".</p>")
    kernels = run.text_rows(files.table("kernels"))
    columns = ["kernel", "C", "gamma", "cv_f1", "validation_f1", "test_f1", "n_support", "fit_mean_s"]
    if run.paper_sample:
        for row in kernels:
            row["paper validation F"] = paper.VALIDATION.get(n_classes, {}).get(row["kernel"], (None,) * 3)[2] or ""
        columns.insert(5, "paper validation F")
    source = files.table("kernels").with_suffix(".csv")
    page.add(table_html(kernels, columns, source, page.root))
    page.figure(files.figure("search"), "Cross-validated macro F over the search grid.")
    page.add(f"<h4>{n_classes}-class problem: test set</h4>")
    page.table(files.table("test_metrics"))
    page.figure(files.figure("confusion"), "Confusion matrices of every kernel on the test set.")
    page.figure(files.figure("confusion_normalised"), "The same, normalised by true class.")


def _network_section(page: Page, run: RunFolder, name: str, model) -> None:
    files, meta = run.layout.model(name), model.metadata_
    what = f"{model.report_title} ({name})" if getattr(model, "report_title", "") else name
    page.add(f"<h3>{html.escape(what)}</h3>",
             f'<p class="note">{meta.get("n_parameters", 0):,} parameters; {model.training_.get("epochs")} epochs in '
             f'{meta.get("timings", {}).get("fit_s", float("nan")):.0f} s (best epoch '
             f'{model.training_.get("best_epoch")} by validation loss).</p>')
    page.table(files.table("test_metrics"))
    for stem, caption in (("confusion", "Test confusion matrix."), ("test_scatter", "Test predictions."),
                          ("history", "Training history (early stopping on the validation part).")):
        page.figure(files.figure(stem), caption)


#: A model family's section (the SVM's search and kernels); other models get :func:`_network_section`.
MODEL_SECTIONS = {"svm": _svm_section}
#: How the noise figures name a model family.
MODEL_NAMES = {"svm": "SVM", "torch-cnn": "CNN"}


def _models_section(page: Page, run: RunFolder) -> None:
    if not run.models:
        return
    page.section("Models, their search and their test scores")
    for name, model in run.models.items():
        MODEL_SECTIONS.get(model.kind, _network_section)(page, run, name, model)
    if run.has_table(run.layout.peers):
        page.add("<h3>Next to the peers</h3>", '<p class="note">Published scores on the same four classes of FIRST '
                 "sources.  Only the rows marked comparable used these galaxies and labels (Rustige et al. 2023, on a "
                 "400-image test set); the others used samples of their own, so they give a scale, not a rank.</p>")
        page.table(run.layout.peers)
    if run.has_table(run.layout.by_group):
        page.add("<h3>By the catalogue that gave the label</h3>", '<p class="note">Test recall per class and per '
                 "literature catalogue behind its label: the data set merges catalogues whose class definitions "
                 "overlap (a MiraBest FR I can be a Proctor bent tail), and the errors gather there.</p>")
        page.table(run.layout.by_group)
    noise = [(name, model) for name, model in run.models.items() if run.layout.model(name).figure("noise")
             .with_suffix(".png").exists()]
    if noise:
        page.section("Robustness to noise")
        for name, model in noise:
            what = f"{len(model.classes_)}-class {MODEL_NAMES.get(model.kind, type(model).__name__)}"
            page.figure(run.layout.model(name).figure("noise"),
                        f"{what}: macro F against Gaussian noise σ in units of each spectrum's 5100 Å flux.")


def _tsne_section(page: Page, run: RunFolder) -> None:
    embed = run.layout.embed
    if not run.has_table(embed.table):
        return
    subsets = ("type 1 + type 2 only, and all three classes" if run.paper_sample else "every spectrum of the sample")
    page.section("t-SNE maps", f"openTSNE; perplexities as in the paper's appendix; raw and standardised fluxes; "
                 f"{subsets}.")
    page.table(embed.table)
    for png in sorted(embed.figures.glob("tsne_*.png")):
        page.figure(png, png.stem.replace("_", " "))


def _spectra_explanations(page: Page, run: RunFolder) -> None:
    explain = run.layout.explain
    page.section("Saliency maps", "Blue: more flux at that wavelength raises the probability of the predicted class; "
                 "red: lowers it; white: no effect. Exact gradients of the SVM's probability model (torch replica, "
                 "captum).")
    page.figure(explain.figure("class_saliency"), "Saliency by explained class.")
    page.add("<h3>Physics checks</h3>")
    skipped = run.table_meta(explain.table("spectra")).get("skipped", "")
    if skipped:
        page.skipped(skipped)
    page.table(explain.table("physics"))
    page.figure(explain.figure("tsne_explained"), "Explained spectra on the t-SNE map (Fig. 7 analogue).")
    for stem, caption in (("misclassified", "Misclassified test spectra (Table 10 analogue)"),
                          ("correct_sample", "Seeded sample of correctly classified spectra (Table 11 analogue)")):
        page.add(f"<h3>{caption}</h3>")
        page.table(explain.table(stem))
    singles = sorted(explain.gallery.glob("*.png"))
    if singles:  # every test spectrum is drawn by the explorer above: here only links to the static figures
        page.add("<h3>Each gallery spectrum as a static figure (its map beside its t-SNE position)</h3>",
                 '<ul class="links">' + "".join(
                     f'<li><a href="{html.escape(p.relative_to(page.root).as_posix())}">{html.escape(p.stem)}</a>'
                     "</li>" for p in singles) + "</ul>")


def _image_explanations(page: Page, run: RunFolder) -> None:
    real = run.record.data != "simulated"
    outlines = ("the source above the noise outlined (its brightest part as the component named 'brightest')"
                if run.record.data == "first" else "" if real else
                "the simulator's true components outlined (radio: white core, cyan jets, yellow lobes, pink hot "
                "spots; galaxies: cyan bar)")
    scored = ("the source (every pixel above the data set's 3σ noise threshold) and on its brightest connected part"
              if real else "each class's defining component")
    page.section("Explanations", "Each test image explained for its predicted class; the gallery shows correctly "
                 "classified images of each class first, then misclassified ones (title: true → predicted). Left: "
                 f"the cutout{' with ' + outlines if outlines else ''}; middle: the map (blue raises the probability, "
                 "red lowers it); right: the strongest 10 % of |attribution|. The overlap table gives the median share "
                 f"of |attribution| on {scored} and its lift over that region's share of the image (1 = no better "
                 "than spreading evenly).")
    overlap = run.record.stage("overlap")
    if overlap is not None and overlap.status == "skipped":
        page.skipped(overlap.reason)
    page.table(run.layout.overlap)
    for method in run.layout.explain.methods():
        files = run.layout.explain.method(method)
        pages = sorted(files.figures.glob("*.png"), key=lambda png: (len(png.stem), png.stem))  # _2 before _10
        for number, png in enumerate(pages, start=1):
            page.figure(png, f"{method}: gallery of test images" + (f", page {number} of {len(pages)}."
                                                                     if len(pages) > 1 else "."))


def _bars_section(page: Page, run: RunFolder) -> None:
    from astroxai.explain.bars import PAPER_BARS

    bars = run.layout.bars
    meta = run.table_meta(bars.table)
    page.section("Bar lengths from SmoothGrad maps",
                 "Barred test galaxies. SmoothGrad + blue profile (the main route): the positive part of the "
                 "classifier's map of the barred class (blue: more light there raises p), followed along its "
                 "principal axis each way to where it falls below 20 % of its peak; twice the shorter side. "
                 "SmoothGrad + moments (the earlier route): 4√(λ<sub>max</sub> − λ<sub>min</sub>) of the "
                 "|map|-weighted second moments near the centre; + profile: the anisotropy of |map| along the axis; "
                 "+ threshold: the central component above 35 % of the map's central maximum. Every map route and "
                 "the isophotes (photutils) are calibrated by a line fitted on the lengths of N barred training "
                 "galaxies (isophotes: at most 64). Direct regression: a CNN trained on the same N lengths (N = all "
                 f"{meta.get('n_train')}, and smaller hand-measured-like subsets). The classifier itself needs only "
                 "barred/unbarred labels. Bhambra et al. (2022), human measurements of Galaxy Zoo bars: SmoothGrad "
                 f"r = {PAPER_BARS['smoothgrad']['r']}, RMSE {PAPER_BARS['smoothgrad']['rmse']}; direct CNN r = "
                 f"{PAPER_BARS['direct']['r']}, RMSE {PAPER_BARS['direct']['rmse']} — other data and units, so "
                 "compare which method wins, not the numbers.")
    page.table(bars.table)
    page.figure(bars.figure("bar_scatter"), "Measured against true projected bar length.")
    page.figure(bars.figure("bar_measurements"), "Bars measured by the main route (green line) over the true bar "
                "(cyan outline), and the signed map with the region whose moments gave the direction.")
    page.figure(bars.figure("bar_failures"), "The worst measurements before (SmoothGrad + moments, dashed orange) "
                "and after (SmoothGrad + blue profile, green), each drawn on the same galaxies.")


TRUST_NOTE = ("The same inputs explained by each method for each model (their most probable class). Deletion/"
              "insertion: area under the probability curve as inputs are replaced by the baseline (the median training "
              "spectrum; empty sky for images) in order of attribution (deletion: lower is better) or put back "
              "(insertion: higher is better), with random orders for reference; beats = share of inputs better than "
              "random. Sanity: Spearman ρ between |maps| of the model and of its randomised copy (passes when the "
              "median is below 0.5). Stability: relative change of a map under noise at the spectrum's own level "
              "(lower is steadier). Truth: share of |attribution| on the simulated broad-line wavelengths (lift = "
              "share / area share); Hβ opposite: share of broad-Hβ maps with opposite core and wing signs; defining "
              "mass/lift: the same on the class-defining component of an image.")


def _trust_section(page: Page, run: RunFolder) -> None:
    trust = run.layout.trust
    page.section("Every explanation method, and how far to trust it", TRUST_NOTE)
    columns = ["model", "method", "ms_per_spectrum", "ms_per_image", "deletion_auc", "random_deletion_auc",
               "deletion_beats_random", "insertion_auc", "random_insertion_auc", "sanity_rho", "stability",
               "truth_mass", "truth_lift", "hbeta_opposite", "defining_mass", "defining_lift", "ig_relative_delta"]
    rows = run.text_rows(trust.table)
    present = [c for c in columns if rows and c in rows[0]]
    page.add(table_html(rows, present, trust.table.with_suffix(".csv"), page.root))
    page.figure(trust.figure("methods_side_by_side"),
                "One spectrum explained by every method (rows) for every model (columns).")
    page.figure(trust.figure("deletion_curves"),
                "Mean deletion (solid) and insertion (dotted) curves; grey: random order.")


TITLES = {"spectra": "astroxai run report", "radio": "astroxai: radio images explained",
          "galaxy": "astroxai: galaxy images explained"}
SOURCES = {"spectra": "Methods follow Peruzzi et al. (2021).",
           "radio": "Simulated data (Liang et al. 2023: LIME on a radio-galaxy morphology classifier).",
           "galaxy": "Simulated data (Bhambra et al. 2022: SmoothGrad maps of a barred/unbarred CNN measure bar "
                     "lengths)."}


def _title(run: RunFolder) -> tuple[str, str]:
    """The page's title and the sentence saying where its data come from."""
    record = run.record
    if record.data == "first":
        return ("astroxai: real FIRST radio galaxies explained",
                f"Real data: {record.summary.get('data_source') or 'FIRST galaxies'}, the literature's train / "
                "validation / test split; LIME and SmoothGrad as in Liang et al. (2023).")
    if record.data == "user":
        what = _texts(run)["noun"]
        study = {"spectra": "Peruzzi et al. (2021)", "radio": "Liang et al. (2023)", "galaxy": "Bhambra et al. (2022)"}
        return (f"astroxai: the user's {what} explained",
                f"The user's own labelled {what} ({len(record.summary.get('classes', {}))} classes); the study of "
                f"{study[record.kind]}, without the paper's numbers (another sample).")
    return TITLES.get(record.kind, "astroxai run report"), SOURCES.get(record.kind, "")


def _data_section(page: Page, run: RunFolder) -> None:
    summary, layout = run.record.summary, run.layout
    page.section("Data")
    counts = summary.get("classes", {})
    noun = _texts(run)["noun"]
    kept = sum(counts.values())
    total = summary.get("n_inputs", kept)
    manifest = (f' ({total - kept} rejected, each with its reason in <a href="{html.escape(layout.manifest.name)}">'
                f"{html.escape(layout.manifest.name)}</a>)" if layout.manifest.is_file() else "")
    page.add(f"<p>{kept} of {total} {noun} kept{manifest}; classes: "
             + ", ".join(f"{html.escape(str(k))} {v}" for k, v in counts.items()) + ". The data set: "
             f'<a href="{html.escape(layout.dataset.name)}">{html.escape(layout.dataset.name)}</a> (train, evaluate '
             "and explain take it).</p>")
    if layout.truth.is_file():
        truth = layout.truth.relative_to(layout.root).as_posix()
        page.add(f'<p class="note">Every simulated input and its true parameters: <a href="{html.escape(truth)}">'
                 f"{html.escape(layout.truth.name)}</a>.</p>")
    skipped = [s for s in run.record.skipped()]
    if skipped:
        page.add('<p class="note">Stages skipped: ' + "; ".join(
            f"<b>{html.escape(s.name)}</b> ({html.escape(s.reason)})" for s in skipped) + ".</p>")
    page.figure(layout.examples, _texts(run)["examples"])


def write_report(run_dir) -> Path:
    """Draw ``report.html`` of a run folder from what the run wrote (:class:`~astroxai.report.folder.RunFolder`);
    sections whose stage did not run are left out, or say why they were skipped."""
    run = run_dir if isinstance(run_dir, RunFolder) else RunFolder(run_dir)
    layout = run.layout
    title, source = _title(run)
    page = Page(layout.root, title)
    page.add(f'<p class="note">Run folder: {html.escape(str(layout.root.resolve()))}. {html.escape(source)} Config, '
             f'seed, versions and timings: <a href="{html.escape(layout.record.name)}">'
             f"{html.escape(layout.record.name)}</a>.</p>")
    _data_section(page, run)
    _explorer_section(page, run)
    _models_section(page, run)
    _tsne_section(page, run)
    if run.ran("saliency"):
        _spectra_explanations(page, run)
    elif any(s.name.startswith("explain-") and s.status == "done" for s in run.record.stages):
        _image_explanations(page, run)
    if run.ran("bars"):
        _bars_section(page, run)
    if run.has_table(layout.trust.table):
        _trust_section(page, run)
    if layout.explanations.is_file():
        name = html.escape(layout.explanations.name)
        page.add(f'<p class="note">Every map and embedding: <a href="{name}">{name}</a>.</p>')
    return page.write(layout.report)


def check_report(path) -> list[str]:
    """Problems with a report: relative links to missing files, images that do not decode or are blank."""
    import matplotlib.image as mpimg

    path = Path(path)
    text = re.sub(r"<script\b.*?</script>", "", path.read_text(encoding="utf-8"), flags=re.S)  # code is not links
    problems = []
    for attribute, target in re.findall(r'(href|src)="([^"]+)"', text):
        target = html.unescape(target)
        if target.startswith("data:"):
            if not target.startswith("data:image/png;base64,"):
                problems.append(f"unexpected data URI {target[:30]}…")
                continue
            try:
                image = mpimg.imread(io.BytesIO(base64.b64decode(target.split(",", 1)[1])), format="png")
            except Exception as error:  # noqa: BLE001 - any decoding failure is a problem to report
                problems.append(f"embedded image does not decode: {error}")
                continue
            if image.size == 0 or float(image[..., :3].std()) == 0.0:
                problems.append("embedded image is blank")
        elif re.match(r"^[a-z]+://", target) or target.startswith("#"):
            continue
        elif not (path.parent / target).is_file():
            problems.append(f"{attribute} points to a missing file: {target}")
    return problems
