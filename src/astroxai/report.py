"""``report.html``: one self-contained page per run, in the order of the paper.

Every figure is embedded as a PNG data URI (the page opens from disk, without a server or the run folder); the
links next to them point to the PDF versions and the CSV tables in the run folder.  :func:`check_report` verifies
a page: every relative link resolves to an existing file and every embedded image decodes and is not blank.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import re
from pathlib import Path

from astroxai.models import paper
from astroxai.models.results import format_value

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1180px; margin: 2em auto; color: #222; line-height: 1.45; }
h1 { border-bottom: 2px solid #444; } h2 { border-bottom: 1px solid #bbb; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.6em 0 1.2em; font-size: 0.88em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; } th { background: #f1f1f1; }
td:first-child, th:first-child { text-align: left; }
figure { margin: 0.8em 0 1.4em; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.85em; color: #555; } .note { color: #555; font-size: 0.9em; }
"""


def _img(path: Path, root: Path, caption: str = "") -> str:
    """An embedded PNG with a caption and a link to the PDF beside it (when there is one)."""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    pdf = path.with_suffix(".pdf")
    link = f' <a href="{html.escape(pdf.relative_to(root).as_posix())}">PDF</a>' if pdf.exists() else ""
    return (f'<figure><img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{html.escape(caption)}{link}</figcaption></figure>")


def _read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def _fmt(value) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return html.escape(str(value))
    if number != number:  # NaN
        return "–"
    if number == int(number) and abs(number) < 1e6 and "." not in str(value):
        return str(int(number))
    return format_value(number)


def _table(rows: list[dict], columns: list[str] | None = None, source: Path | None = None, root=None) -> str:
    if not rows:
        return '<p class="note">(no rows)</p>'
    columns = columns or list(rows[0])
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{_fmt(r.get(c, ''))}</td>" for c in columns) + "</tr>" for r in rows)
    link = (f'<p class="note">Table: <a href="{html.escape(source.relative_to(root).as_posix())}">'
            f"{html.escape(source.name)}</a></p>") if source is not None and source.exists() else ""
    return f"<table><tr>{head}</tr>{body}</table>{link}"


def _model_section(root: Path, folder: Path, n_classes: int) -> list[str]:
    meta = json.loads((folder / "model.json").read_text())
    chosen = json.loads((folder / "kernels.json").read_text())["chosen"]
    parts = [f"<h3>{n_classes}-class problem ({', '.join(meta['classes'])})</h3>",
             f"<p>Chosen kernel <b>{html.escape(chosen)}</b> (best validation F), C = {_fmt(meta['params']['C'])}"
             + (f", γ = {_fmt(meta['params']['gamma'])}" if meta["params"].get("gamma") else "") + ".</p>"]
    kernels = _read_csv(folder / "kernels.csv")
    for row in kernels:
        row["paper validation F"] = paper.VALIDATION[n_classes].get(row["kernel"], (None, None, None))[2] or ""
    parts.append(_table(kernels, ["kernel", "C", "gamma", "cv_f1", "validation_f1", "paper validation F",
                                  "test_f1", "n_support", "fit_mean_s"], folder / "kernels.csv", root))
    parts.append(_img(folder / "figures" / "search.png", root, "Cross-validated macro F over the search grid."))
    return parts


def _metrics_section(root: Path, folder: Path, n_classes: int) -> list[str]:
    parts = [f"<h3>{n_classes}-class problem: test set</h3>",
             _table(_read_csv(folder / "test_metrics.csv"), source=folder / "test_metrics.csv", root=root),
             _img(folder / "figures" / "confusion.png", root, "Confusion matrices of every kernel on the test set."),
             _img(folder / "figures" / "confusion_normalised.png", root, "The same, normalised by true class.")]
    return parts


def write_report(run_dir, name: str = "report.html") -> Path:
    """Assemble ``run_dir/report.html`` from what ``astroxai run`` wrote (missing parts are skipped)."""
    root = Path(run_dir)
    run = json.loads((root / "run.json").read_text()) if (root / "run.json").exists() else {}
    summary = run.get("config", {}).get("summary", {})
    models = [(n, root / "models" / f"svm-{n}class") for n in (3, 2) if (root / "models" / f"svm-{n}class").exists()]
    body = ["<h1>astroxai run report</h1>",
            f'<p class="note">Run folder: {html.escape(str(root.resolve()))}. Config, seed and versions: '
            f'<a href="run.json">run.json</a>. Methods follow Peruzzi et al. (2021).</p>']

    body.append("<h2>1. Data</h2>")
    if summary:
        counts = summary.get("classes", {})
        body.append(f"<p>{summary.get('n_kept', '?')} of {summary.get('n_inputs', '?')} spectra kept "
                    f"({summary.get('n_rejected', 0)} rejected, each with its reason in "
                    f'<a href="dataset.manifest.csv">dataset.manifest.csv</a>); classes: '
                    + ", ".join(f"{html.escape(k)} {v}" for k, v in counts.items()) + ".</p>")
    if (root / "figures" / "classes.png").exists():
        body.append(_img(root / "figures" / "classes.png", root, "One reduced spectrum of each class."))

    body.append("<h2>2. Classifier search and validation</h2>")
    for n, folder in models:
        body += _model_section(root, folder, n)
    body.append("<h2>3. Test metrics and confusion matrices</h2>")
    for n, folder in models:
        body += _metrics_section(root, folder, n)
    cnn = root / "models" / "cnn-3class"
    if (cnn / "model.json").exists():
        meta = json.loads((cnn / "model.json").read_text())
        body.append("<h3>3-class problem: 1-D CNN on the same split</h3>")
        body.append(f'<p class="note">{meta["n_parameters"]} parameters; {meta["training"]["epochs"]} epochs '
                    f'({meta["timings"]["fit_s"]} s), best epoch {meta["training"]["best_epoch"]} by validation '
                    "loss.</p>")
        body.append(_table(_read_csv(cnn / "test_metrics.csv"), source=cnn / "test_metrics.csv", root=root))
        body.append(_img(cnn / "figures" / "confusion.png", root, "CNN confusion matrix on the test set."))
        body.append(_img(cnn / "figures" / "history.png", root, "CNN training with early stopping."))
    body.append("<h2>4. Robustness to noise</h2>")
    for n, folder in models:
        body.append(_img(folder / "figures" / "noise.png", root,
                         f"{n}-class: macro F against Gaussian noise σ in units of each spectrum's 5100 Å flux."))
    if (cnn / "noise.csv").exists():
        body.append(_img(cnn / "figures" / "noise.png", root, "3-class CNN: the same noise test."))

    tsne = root / "embed"
    if (tsne / "tsne.csv").exists():
        body.append("<h2>5. t-SNE maps</h2>")
        body.append('<p class="note">openTSNE; perplexities as in the paper\'s appendix; raw and standardised '
                    "fluxes; type 1 + type 2 only, and all three classes.</p>")
        body.append(_table(_read_csv(tsne / "tsne.csv"), source=tsne / "tsne.csv", root=root))
        for png in sorted((tsne / "figures").glob("tsne_*.png")):
            body.append(_img(png, root, png.stem.replace("_", " ")))

    explain = root / "explain"
    if (explain / "physics.csv").exists():
        body.append("<h2>6. Saliency maps</h2>")
        body.append('<p class="note">Blue: more flux at that wavelength raises the probability of the predicted '
                    "class; red: lowers it; white: no effect. Exact gradients of the SVM's predict_proba "
                    "(torch replica, captum).</p>")
        body.append(_img(explain / "figures" / "class_saliency.png", root, "Saliency by explained class."))
        body.append("<h3>Physics checks</h3>")
        body.append(_table(_read_csv(explain / "physics.csv"), source=explain / "physics.csv", root=root))
        if (explain / "figures" / "tsne_explained.png").exists():
            body.append(_img(explain / "figures" / "tsne_explained.png", root,
                             "Explained spectra on the t-SNE map (Fig. 7 analogue)."))
        for stem, caption in (("misclassified", "Misclassified test spectra (Table 10 analogue)"),
                              ("correct_sample", "Seeded sample of correctly classified spectra (Table 11 analogue)")):
            body.append(f"<h3>{caption}</h3>")
            body.append(_table(_read_csv(explain / f"{stem}.csv"), source=explain / f"{stem}.csv", root=root))
        body.append("<h3>Gallery: each map beside its t-SNE position</h3>")
        for png in sorted((explain / "figures" / "saliency").glob("*.png")):
            body.append(_img(png, root, png.stem))
    trust = root / "trust"
    if (trust / "trust.csv").exists():
        body.append("<h2>7. Every explanation method, and how far to trust it</h2>")
        body.append('<p class="note">The same test spectra explained by each method for each model (their predicted '
                    "class). Deletion/insertion: area under the probability curve as pixels are replaced by the median "
                    "training spectrum in order of attribution (deletion: lower is better) or put back (insertion: "
                    "higher is better), with a random order for reference; beats = share of spectra better than "
                    "random. Sanity: Spearman ρ between |maps| of the model and of its randomised copy (passes when "
                    "the median is below 0.5). Stability: relative change of a map under noise at the spectrum's own "
                    "level (lower is steadier). Truth: share of |attribution| on the simulated broad-line wavelengths "
                    "(lift = share / area share); Hβ opposite: share of broad-Hβ maps with opposite core and wing "
                    "signs.</p>")
        body.append(_table(_read_csv(trust / "trust.csv"), ["model", "method", "ms_per_spectrum", "deletion_auc",
                                                           "random_deletion_auc", "deletion_beats_random",
                                                           "insertion_auc", "random_insertion_auc", "sanity_rho",
                                                           "stability", "truth_mass", "truth_lift",
                                                           "hbeta_opposite", "ig_relative_delta"],
                           trust / "trust.csv", root))
        body.append(_img(trust / "figures" / "methods_side_by_side.png", root,
                         "One spectrum explained by every method (rows) for every model (columns)."))
        body.append(_img(trust / "figures" / "deletion_curves.png", root,
                         "Mean deletion (solid) and insertion (dotted) curves; grey: random order."))
    if (root / "explanations.h5").exists():
        body.append('<p class="note">Every map and embedding: <a href="explanations.h5">explanations.h5</a>.</p>')
    page = ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>astroxai report</title>"
            f"<style>{STYLE}</style></head><body>" + "\n".join(body) + "</body></html>")
    path = root / name
    path.write_text(page, encoding="utf-8")
    return path


def check_report(path) -> list[str]:
    """Problems with a report: relative links to missing files, images that do not decode or are blank."""
    import matplotlib.image as mpimg

    path = Path(path)
    text = path.read_text(encoding="utf-8")
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
