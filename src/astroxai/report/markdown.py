"""``results.md``: a run's classification tables side by side with the paper's (Peruzzi et al. 2021)."""

from __future__ import annotations

from pathlib import Path

from astroxai.data import atomic_path
from astroxai.models import load_model
from astroxai.report import paper
from astroxai.report.layout import ModelFiles, RunLayout
from astroxai.report.tables import read_table, read_table_meta


def format_value(value, digits: int = 3) -> str:
    """A table cell: ``–`` for nothing, 3 significant digits for very small or large numbers, else 3 decimals."""
    if value is None or value == "":
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 1e-2 or abs(value) >= 1e3 else f"{value:.{digits}f}"
    return str(value)


def _table(header: list[str], rows: list[list]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(format_value(v) for v in row) + " |" for row in rows]
    return lines + [""]


def _model_section(folder: Path, n_classes: int) -> list[str]:
    files = ModelFiles(folder)
    kernels = read_table(files.table("kernels"))
    model = load_model(folder)
    chosen = model.kernel_
    by_kernel = read_table(files.table("test_metrics_by_kernel"))
    table = "3" if n_classes == 3 else "4"
    lines = [f"## {n_classes}-class problem ({', '.join(model.classes_)})", "",
             f"Model folder: `{folder}`; chosen kernel **{chosen}** (best validation F); features "
             + ("standardised per wavelength inside the pipeline." if model.standardise
                else "the normalised fluxes, unscaled."), "",
             f"### Search and validation (paper Table {table})", ""]
    rows = []
    for row in kernels:
        p_c, p_gamma, p_f = paper.VALIDATION[n_classes].get(row["kernel"], (None, None, None))
        rows.append([row["kernel"], row["C"], row["gamma"], row["cv_f1"], row["validation_f1"], p_c, p_gamma, p_f])
    lines += _table(["kernel", "C", "γ", "CV macro F", "validation F", "paper C", "paper γ", "paper validation F"],
                    rows)
    lines += [f"![search]({folder.name}/figures/search.png)", ""]
    lines += [f"### Test set (paper Table {6 if n_classes == 3 else 7})", ""]
    rows = []
    for row in kernels:
        p = paper.TEST[n_classes].get(row["kernel"], (None, None, None))
        rows.append([row["kernel"], row["test_precision"], row["test_recall"], row["test_f1"], *p])
    lines += _table(["kernel", "precision", "recall", "F", "paper P", "paper R", "paper F"], rows)
    if n_classes == 3:
        lines += ["### Per class on the test set (paper Table 8: linear kernel)", ""]
        rows = []
        for row in by_kernel:
            if row["kernel"] in ("linear", chosen) and row["class"] in paper.TEST_PER_CLASS:
                p = paper.TEST_PER_CLASS[row["class"]]
                rows.append([row["kernel"], row["class"], row["precision"], row["recall"], row["f1"],
                             row["support"], *p])
        lines += _table(["kernel", "class", "precision", "recall", "F", "n", "paper P", "paper R", "paper F"], rows)
        matrices = read_table_meta(files.table("confusion"))["matrices"]
        lines += ["### Confusion on the test set (paper Figs. 2–3)", ""]
        for kernel in dict.fromkeys(("linear", chosen)):
            if kernel not in matrices:
                continue
            cm = matrices[kernel]
            index = {c: i for i, c in enumerate(cm["classes"])}
            raw = cm["raw"]
            i, t = index["intermediate"], index["type2"]
            lines.append(f"- {kernel}: {raw[i][t]} of {sum(raw[i])} intermediates → type 2; "
                         f"{raw[t][i]} of {sum(raw[t])} type 2 → intermediate; "
                         f"{sum(raw[index['type1']]) - raw[index['type1']][index['type1']]} of "
                         f"{sum(raw[index['type1']])} type 1 misclassified.")
        lines += [f"- paper: {paper.CONFUSION_NOTES}.", "",
                  f"![confusion]({folder.name}/figures/confusion.png)",
                  f"![normalised confusion]({folder.name}/figures/confusion_normalised.png)", ""]
        noise = read_table(files.table("noise"))
        lines += ["### Added Gaussian noise on the test set (paper Table 5, Fig. 1: linear kernel)", "",
                  "σ in units of each spectrum's flux at 5100 Å; ours is the mean over noise draws (± their std).", ""]
        for kernel in dict.fromkeys(("linear", chosen)):
            rows = []
            for row in (r for r in noise if r["kernel"] == kernel):
                sigma = row["sigma"]
                k = paper.NOISE["sigma"].index(sigma) if sigma in paper.NOISE["sigma"] else None
                ref = [paper.NOISE[c][k] if k is not None else None for c in ("mean", "type1", "type2",
                                                                              "intermediate")]
                rows.append([sigma, f"{row['f1_mean']:.3f} ± {row['f1_mean_std']:.3f}", row["f1_type1"],
                             row["f1_type2"], row["f1_intermediate"], *ref])
            if rows:
                lines += [f"{kernel}:", ""]
                lines += _table(["σ", "mean F", "type 1", "type 2", "int.", "paper mean", "paper t1", "paper t2",
                                 "paper int."], rows)
        lines += [f"![noise]({folder.name}/figures/noise.png)", ""]
        lines += ["### Training time on train + validation (paper Table 9, mean of 10, i7-6700HQ)", ""]
        rows = [[r["kernel"], f"{r['fit_mean_s']:.3f} ± {r['fit_std_s']:.3f}", r["n_support"],
                 paper.TRAINING_TIME.get(r["kernel"])] for r in kernels]
        lines += _table(["kernel", "ours [s]", "support vectors", "paper [s]"], rows)
        scaler = "StandardScaler" if model.standardise else "passthrough"
        lines += [f"Ours: one `Pipeline({scaler}, SVC)` fit without Platt probabilities, this machine; the "
                  "persisted model's fit with its probability model took "
                  f"{model.metadata_['timings']['final_fit_with_probabilities_s']} s.", ""]
    return lines


def write_results_markdown(run_dir) -> Path:
    """Write a run's ``results.md`` (:attr:`~astroxai.report.layout.RunLayout.results`) from its model folders: the
    paper's three- and two-class SVMs and the CNN beside them; return its path."""
    layout = run_dir if isinstance(run_dir, RunLayout) else RunLayout(run_dir)
    lines = ["# Classification results next to Peruzzi et al. (2021)", "",
             f"Run folder `{layout.root}`; regenerate with `astroxai run --out {layout.root}`.", ""]
    folders = {folder.name: folder for folder in layout.model_folders()}
    for n_classes in (3, 2):
        folder = folders.get(f"svm-{n_classes}class")
        if folder is not None:
            section = _model_section(folder, n_classes)
            # Figure links are relative to the models folder; make them relative to the run folder.
            lines += [line.replace(f"]({folder.name}/", f"](models/{folder.name}/") for line in section]
    cnn = folders.get("cnn-3class")
    if cnn is not None:
        lines += [line.replace(f"]({cnn.name}/", f"](models/{cnn.name}/") for line in cnn_section(cnn, layout.models)]
    path = layout.results
    with atomic_path(path) as temporary:
        temporary.write_text("\n".join(lines))
    return path


def cnn_section(folder: Path, models: Path | None = None) -> list[str]:
    """The 1-D CNN's test metrics and noise robustness, next to the 3-class SVM's when its folder is beside it."""
    model = load_model(folder)
    lines = ["## 3-class problem: 1-D CNN next to the SVM", "",
             f"Model folder: `{folder}`; {model.metadata_['n_parameters']} parameters, {model.training_['epochs']} "
             f"epochs in {model.metadata_['timings']['fit_s']} s (best epoch {model.training_['best_epoch']} by "
             "validation loss); "
             "trained on the SVM's train part, early stopping on its validation part, same test part.", ""]
    svm = RunLayout(models.parent).model("svm-3class") if models is not None else None
    svm_rows = {}
    if svm is not None and svm.folder.is_dir():
        chosen = load_model(svm.folder).kernel_
        svm_rows = {r["class"]: r for r in read_table(svm.table("test_metrics_by_kernel")) if r["kernel"] == chosen}
    rows = []
    for row in read_table(ModelFiles(folder).table("test_metrics")):
        other = svm_rows.get(row["class"], {})
        rows.append([row["class"], row["precision"], row["recall"], row["f1"], other.get("precision"),
                     other.get("recall"), other.get("f1")])
    lines += _table(["class", "CNN precision", "CNN recall", "CNN F", "SVM precision", "SVM recall", "SVM F"], rows)
    noise = read_table(ModelFiles(folder).table("noise"))
    svm_noise = {}
    if svm_rows:
        svm_noise = {r["sigma"]: r for r in read_table(svm.table("noise")) if r["kernel"] == chosen}
    rows = [[r["sigma"], f"{r['f1_mean']:.3f} ± {r['f1_mean_std']:.3f}",
             (f"{svm_noise[r['sigma']]['f1_mean']:.3f} ± {svm_noise[r['sigma']]['f1_mean_std']:.3f}"
              if r["sigma"] in svm_noise else None)] for r in noise]
    lines += ["Added Gaussian noise (σ in units of the flux at 5100 Å), mean macro F over draws:", ""]
    lines += _table(["σ", "CNN", "SVM (chosen kernel)"], rows)
    lines += [f"![CNN training]({folder.name}/figures/history.png)", f"![CNN noise]({folder.name}/figures/noise.png)",
              ""]
    return lines
