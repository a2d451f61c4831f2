"""``report.html``: one self-contained page per run, for spectra and image studies alike, in the order of the papers.

One writer: each section appears when the run produced its results (data, the explorable view of the test set,
models, noise, t-SNE maps, explanations, bar lengths, trust).  Every figure is embedded as a PNG data URI and the
explorer (:mod:`astroxai.report.explorer`) carries Bokeh's JavaScript and its arrays inline, so the page opens from
disk, offline, without the run folder; the links next to the figures point to the PDF versions and the CSV tables
in the run folder.
:func:`check_report` verifies a page: every relative link resolves to an existing file and every embedded image
decodes and is not blank.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import re
from pathlib import Path

from astroxai.data import atomic_path
from astroxai.models import SVMClassifier, load_model
from astroxai.report import explorer, paper
from astroxai.report.markdown import format_value

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


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


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

    def figure(self, path: Path, caption: str = "") -> None:
        if path.exists():
            self.parts.append(figure_html(path, self.root, caption))

    def table(self, path: Path, columns: list[str] | None = None) -> None:
        if path.exists():
            self.parts.append(table_html(read_csv(path), columns, path, self.root))

    def explorer(self, fragment: str) -> None:
        """An explorable view (:mod:`astroxai.report.explorer`); Bokeh's JavaScript and the glue go in once."""
        if fragment:
            if not self.scripts:
                self.scripts = explorer.bokeh_resources() + explorer.glue_script()
            self.parts.append(f'<div class="explorer">{fragment}</div>')

    def write(self, name: str) -> Path:
        page = ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>astroxai report</title>"
                f"<style>{STYLE}</style>{self.scripts}</head><body>" + "\n".join(self.parts) + "</body></html>")
        path = self.root / name
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


def _explorer_section(page: Page, root: Path, kind: str) -> None:
    """The linked, explorable view of the run's test set, when the run has what it needs."""
    fragment = explorer.spectra_explorer(root) if kind == "spectra" else explorer.image_explorer(root)
    if fragment:
        page.section("Explore the test set", EXPLORE_SPECTRA if kind == "spectra" else EXPLORE_IMAGES)
        page.explorer(fragment)


def _model_folders(root: Path) -> list[Path]:
    """Model folders of a run: the SVMs (3 then 2 classes), the CNNs, the image networks (classifier first)."""
    folders = [f for f in sorted((root / "models").glob("*")) if (f / "model.json").is_file()]
    order = {"svm-3class": 0, "svm-2class": 1, "cnn-3class": 2}
    return sorted(folders, key=lambda f: (order.get(f.name, 3), not f.name.endswith("classifier"), f.name))


def _svm_section(page: Page, folder: Path, model) -> None:
    n_classes = len(model.classes_)
    chosen = json.loads((folder / "kernels.json").read_text())["chosen"]
    page.add(f"<h3>{n_classes}-class problem ({', '.join(model.classes_)})</h3>",
             f"<p>Chosen kernel <b>{html.escape(chosen)}</b> (best validation F), C = {cell(model.params_['C'])}"
             + (f", γ = {cell(model.params_['gamma'])}" if model.params_.get("gamma") else "") + ".</p>")
    kernels = read_csv(folder / "kernels.csv")
    for row in kernels:
        row["paper validation F"] = paper.VALIDATION.get(n_classes, {}).get(row["kernel"], (None, None, None))[2] or ""
    page.add(table_html(kernels, ["kernel", "C", "gamma", "cv_f1", "validation_f1", "paper validation F", "test_f1",
                                  "n_support", "fit_mean_s"], folder / "kernels.csv", page.root))
    page.figure(folder / "figures" / "search.png", "Cross-validated macro F over the search grid.")
    page.add(f"<h4>{n_classes}-class problem: test set</h4>")
    page.table(folder / "test_metrics.csv")
    page.figure(folder / "figures" / "confusion.png", "Confusion matrices of every kernel on the test set.")
    page.figure(folder / "figures" / "confusion_normalised.png", "The same, normalised by true class.")


def _network_section(page: Page, folder: Path, model) -> None:
    meta = model.metadata_
    what = "1-D CNN on the same split" if model.modality == "spectra" else folder.name
    page.add(f"<h3>{html.escape(what)}</h3>",
             f'<p class="note">{meta.get("n_parameters", 0):,} parameters; {model.training_.get("epochs")} epochs in '
             f'{meta.get("timings", {}).get("fit_s", float("nan")):.0f} s (best epoch '
             f'{model.training_.get("best_epoch")} by validation loss).</p>')
    page.table(folder / "test_metrics.csv")
    for stem, caption in (("confusion", "Test confusion matrix."), ("test_scatter", "Test predictions."),
                          ("history", "Training history (early stopping on the validation part).")):
        page.figure(folder / "figures" / f"{stem}.png", caption)


def _spectra_explanations(page: Page, explain: Path) -> None:
    page.section("Saliency maps", "Blue: more flux at that wavelength raises the probability of the predicted class; "
                 "red: lowers it; white: no effect. Exact gradients of the SVM's probability model (torch replica, "
                 "captum).")
    page.figure(explain / "figures" / "class_saliency.png", "Saliency by explained class.")
    page.add("<h3>Physics checks</h3>")
    page.table(explain / "physics.csv")
    page.figure(explain / "figures" / "tsne_explained.png", "Explained spectra on the t-SNE map (Fig. 7 analogue).")
    for stem, caption in (("misclassified", "Misclassified test spectra (Table 10 analogue)"),
                          ("correct_sample", "Seeded sample of correctly classified spectra (Table 11 analogue)")):
        page.add(f"<h3>{caption}</h3>")
        page.table(explain / f"{stem}.csv")
    singles = sorted((explain / "figures" / "saliency").glob("*.png"))
    if singles:  # every test spectrum is drawn by the explorer above: here only links to the static figures
        page.add("<h3>Each gallery spectrum as a static figure (its map beside its t-SNE position)</h3>",
                 '<ul class="links">' + "".join(
                     f'<li><a href="{html.escape(p.relative_to(page.root).as_posix())}">{html.escape(p.stem)}</a>'
                     + (f' (<a href="{html.escape(p.with_suffix(".pdf").relative_to(page.root).as_posix())}">PDF</a>)'
                        if p.with_suffix(".pdf").exists() else "") + "</li>" for p in singles) + "</ul>")


def _image_explanations(page: Page, root: Path, real: bool = False) -> None:
    outlines = ("the source above the noise outlined (its brightest part as the component named 'brightest')" if real
                else "the simulator's true components outlined (radio: white core, cyan jets, yellow lobes, pink hot "
                     "spots; galaxies: cyan bar)")
    scored = ("the source (every pixel above the data set's 3σ noise threshold) and on its brightest connected part"
              if real else "each class's defining component")
    page.section("Explanations", "Each test image explained for its predicted class; the gallery shows correctly "
                 "classified images of each class first, then misclassified ones (title: true → predicted). Left: "
                 f"the cutout with {outlines}; middle: the map (blue raises the probability, red lowers it); right: "
                 f"the strongest 10 % of |attribution|. The overlap table gives the median share of |attribution| on "
                 f"{scored} and its lift over that region's share of the image (1 = no better than spreading "
                 "evenly).")
    page.table(root / "explain" / "overlap.csv")
    for method_dir in sorted(p for p in (root / "explain").glob("*") if p.is_dir()):
        for png in sorted((method_dir / "figures").glob("*.png")):
            page.figure(png, f"{method_dir.name}: gallery of test images.")


def _bars_section(page: Page, bars: Path) -> None:
    from astroxai.explain.bars import PAPER_BARS

    meta = json.loads((bars / "bars.json").read_text())
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
    page.table(bars / "bars.csv")
    page.figure(bars / "figures" / "bar_scatter.png", "Measured against true projected bar length.")
    page.figure(bars / "figures" / "bar_measurements.png", "Bars measured by the main route (green line) over the "
                "true bar (cyan outline), and the signed map with the region whose moments gave the direction.")
    failures = bars / "figures" / "bar_failures.png"
    if failures.exists():
        page.figure(failures, "The worst measurements before (SmoothGrad + moments, dashed orange) and after "
                    "(SmoothGrad + blue profile, green), each drawn on the same galaxies.")


TRUST_NOTE = ("The same inputs explained by each method for each model (their most probable class). Deletion/"
              "insertion: area under the probability curve as inputs are replaced by the baseline (the median training "
              "spectrum; empty sky for images) in order of attribution (deletion: lower is better) or put back "
              "(insertion: higher is better), with random orders for reference; beats = share of inputs better than "
              "random. Sanity: Spearman ρ between |maps| of the model and of its randomised copy (passes when the "
              "median is below 0.5). Stability: relative change of a map under noise at the spectrum's own level "
              "(lower is steadier). Truth: share of |attribution| on the simulated broad-line wavelengths (lift = "
              "share / area share); Hβ opposite: share of broad-Hβ maps with opposite core and wing signs; defining "
              "mass/lift: the same on the class-defining component of an image.")


def _trust_section(page: Page, trust: Path) -> None:
    page.section("Every explanation method, and how far to trust it", TRUST_NOTE)
    columns = ["model", "method", "ms_per_spectrum", "ms_per_image", "deletion_auc", "random_deletion_auc",
               "deletion_beats_random", "insertion_auc", "random_insertion_auc", "sanity_rho", "stability",
               "truth_mass", "truth_lift", "hbeta_opposite", "defining_mass", "defining_lift", "ig_relative_delta"]
    rows = read_csv(trust / "trust.csv")
    present = [c for c in columns if rows and c in rows[0]]
    page.add(table_html(rows, present, trust / "trust.csv", page.root))
    page.figure(trust / "figures" / "methods_side_by_side.png",
                "One spectrum explained by every method (rows) for every model (columns).")
    page.figure(trust / "figures" / "deletion_curves.png",
                "Mean deletion (solid) and insertion (dotted) curves; grey: random order.")


def write_report(run_dir, name: str = "report.html") -> Path:
    """Assemble ``run_dir/report.html`` from what ``astroxai run`` wrote (parts that are missing are skipped)."""
    root = Path(run_dir)
    record = json.loads((root / "run.json").read_text()) if (root / "run.json").exists() else {}
    config = record.get("config", {})
    kind = config.get("kind", "spectra")
    real = config.get("data") == "first"
    summary = config.get("summary", {})
    titles = {"spectra": "astroxai run report", "radio": "astroxai: radio images explained",
              "galaxy": "astroxai: galaxy images explained"}
    page = Page(root, "astroxai: real FIRST radio galaxies explained" if real else titles.get(kind, "astroxai run "
                                                                                                      "report"))
    source = {"spectra": "Methods follow Peruzzi et al. (2021).",
              "radio": "Simulated data (Liang et al. 2023: LIME on a radio-galaxy morphology classifier).",
              "galaxy": "Simulated data (Bhambra et al. 2022: SmoothGrad maps of a barred/unbarred CNN measure bar "
                        "lengths)."}.get(kind, "")
    if real:
        source = (f"Real data: {config.get('data_source', 'FIRST galaxies')}, the literature's train / validation / "
                  "test split; LIME and SmoothGrad as in Liang et al. (2023).")
    page.add(f'<p class="note">Run folder: {html.escape(str(root.resolve()))}. {html.escape(source)} Config, seed, '
             'versions and timings: <a href="run.json">run.json</a>.</p>')
    page.section("Data")
    if summary:
        counts = summary.get("classes", {})
        page.add(f"<p>{summary.get('n_kept', '?')} of {summary.get('n_inputs', '?')} spectra kept "
                 f"({summary.get('n_rejected', 0)} rejected, each with its reason in "
                 '<a href="dataset.manifest.csv">dataset.manifest.csv</a>); classes: '
                 + ", ".join(f"{html.escape(k)} {v}" for k, v in counts.items()) + ".</p>")
    if real:
        counts = config.get("counts", {})
        page.add(f"<p>{sum(counts.values())} FIRST cutouts kept ({config.get('rejected', 0)} rejected, each with its "
                 'reason in <a href="dataset.manifest.csv">dataset.manifest.csv</a>); classes: '
                 + ", ".join(f"{html.escape(k)} {v}" for k, v in counts.items()) + ". The image set: "
                 '<a href="dataset.h5">dataset.h5</a> (train, evaluate and explain take it).</p>')
    if (root / "simulated" / "catalog.csv").exists() and kind != "spectra":
        page.add('<p class="note">Every cutout and its true parameters: <a href="simulated/catalog.csv">'
                 "catalog.csv</a>.</p>")
    page.figure(root / "figures" / "classes.png", "One reduced spectrum of each class.")
    page.figure(root / "figures" / "examples.png", "Example cutouts per class (asinh stretch).")
    _explorer_section(page, root, kind)
    folders = _model_folders(root)
    if folders:
        page.section("Models, their search and their test scores")
        for folder in folders:
            model = load_model(folder)
            if isinstance(model, SVMClassifier):
                _svm_section(page, folder, model)
            else:
                _network_section(page, folder, model)
        if (root / "peers.csv").exists():
            page.add("<h3>Next to the peers</h3>", '<p class="note">The same four classes of FIRST sources; the peers '
                     "used their own samples and splits, so the comparison is of scale, not a ranking.</p>")
            page.table(root / "peers.csv")
        if (root / "by_catalogue.csv").exists():
            page.add("<h3>By the catalogue that gave the label</h3>", '<p class="note">Test recall per class and '
                     "per literature catalogue behind its label: the data set merges catalogues whose class "
                     "definitions overlap (a MiraBest FR I can be a Proctor bent tail), and the errors gather "
                     "there.</p>")
            page.table(root / "by_catalogue.csv")
    noise = [(f, load_model(f)) for f in folders if (f / "figures" / "noise.png").exists()]
    if noise:
        page.section("Robustness to noise")
        for folder, model in noise:
            what = f"{len(model.classes_)}-class {'SVM' if isinstance(model, SVMClassifier) else 'CNN'}"
            page.figure(folder / "figures" / "noise.png",
                        f"{what}: macro F against Gaussian noise σ in units of each spectrum's 5100 Å flux.")
    tsne = root / "embed"
    if (tsne / "tsne.csv").exists():
        page.section("t-SNE maps", "openTSNE; perplexities as in the paper's appendix; raw and standardised fluxes; "
                     "type 1 + type 2 only, and all three classes.")
        page.table(tsne / "tsne.csv")
        for png in sorted((tsne / "figures").glob("tsne_*.png")):
            page.figure(png, png.stem.replace("_", " "))
    if (root / "explain" / "physics.csv").exists():
        _spectra_explanations(page, root / "explain")
    elif (root / "explain" / "overlap.csv").exists():
        _image_explanations(page, root, real)
    if (root / "bars" / "bars.csv").exists():
        _bars_section(page, root / "bars")
    for trust in (root / "trust", root):
        if (trust / "trust.csv").exists():
            _trust_section(page, trust)
            break
    if (root / "explanations.h5").exists():
        page.add('<p class="note">Every map and embedding: <a href="explanations.h5">explanations.h5</a>.</p>')
    return page.write(name)


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
