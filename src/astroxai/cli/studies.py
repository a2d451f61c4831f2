"""The commands of a whole study: ``run`` and ``report``."""

from __future__ import annotations

import time
from pathlib import Path

import click

from astroxai.cli import main, progress_bar, reports_errors


def class_names(text: str | None) -> list[str] | None:
    """``A,B,C`` → ``["A", "B", "C"]`` (None stays None)."""
    if text is None:
        return None
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise click.UsageError("give class names separated by commas, e.g. --classes type1,type2")
    return names


def run_data(data: tuple, inputs: tuple):
    """``--data`` and the inputs after it: one name (simulated, first), or the user's files."""
    given = [str(p) for p in (*data, *inputs)]
    if not given:
        return None
    if len(given) == 1 and given[0] in ("simulated", "first"):
        return given[0]
    named = [g for g in given if g in ("simulated", "first")]
    if named:
        raise click.UsageError(f"--data {named[0]} names a built-in sample: give it alone, not beside files")
    return given


@main.command()
@click.argument("inputs", nargs=-1, type=click.Path(path_type=Path))
@click.option("--data", multiple=True, metavar="PATH|first",
              help="The sample to study instead of the embedded simulation: your files, folders, catalogue "
                   "(CSV/Parquet with file,label,z) or, for spectra, one reduced .h5; more paths may follow "
                   "(--data spectra/*.fits).  Images also take 'first': the 2 158 real FIRST galaxies of Griese et "
                   "al. (2023), with their literature split (python3 -m pip install --no-deps "
                   "firstgalaxydata==0.2.1).")
@click.option("--catalog", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="CSV or Parquet with columns file,label[,z,...]: the class of each input (and missing redshifts; "
                   "for galaxies, a bar-length column).")
@click.option("--classes", help="Only these classes, comma-separated (the paper's two-class problem: "
                                "--classes type1,type2); default: every class of the sample.")
@click.option("--broad", help="Spectra: the broad-line classes, comma-separated, for the Hβ core/wing and "
                              "line-share checks (default: the paper's type1 and intermediate when present; with "
                              "none the checks are skipped).")
@click.option("--target", default=None, help="Galaxies: the catalogue column of bar lengths in pixels that the "
                                             "bar-length stage learns (default: bar_length_px; skipped without it).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for everything the run writes (default: runs/default; runs/<kind> for images, "
                   "runs/first for FIRST, runs/<kind>-data for your own sample).")
@click.option("--config", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="JSON file overriding the defaults (spectra keys: counts, seed, n_wave, range, problems, kernels, "
                   "quick, cnn, trust_spectra, ...; images: n_per_class, max_epochs, augment, network = cnn or "
                   "equivariant, ...).")
@click.option("--seed", type=int, default=None, help="Random seed for the simulation.")
@click.option("--kind", type=click.Choice(["spectra", "radio", "galaxy"]), default="spectra", show_default=True,
              help="spectra: the AGN study (Peruzzi et al. 2021); radio: LIME on radio morphologies (Liang et al. "
                   "2023); galaxy: bar lengths from SmoothGrad maps (Bhambra et al. 2022).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Processes running the independent stages side by side (default: every core; the numbers do "
                   "not depend on it).")
@reports_errors
def run(inputs: tuple, data: tuple, catalog: Path | None, classes: str | None, broad: str | None,
        target: str | None, out: Path | None, config: Path | None, seed: int | None, kind: str,
        workers: int | None):
    """A whole study in one folder: read or simulate, reduce, classify, explain, map, trust, report.

    \b
    On the embedded default data:
      astroxai run                                 # the AGN spectra study of Peruzzi et al. (2021)
      astroxai run --kind radio                    # simulated FIRST-like radio galaxies, LIME
      astroxai run --kind radio --data first       # the real FIRST galaxies of Griese et al. (2023)
      astroxai run --kind galaxy                   # barred galaxies, bar lengths from SmoothGrad
    On your own labelled sample (class names are yours):
      astroxai run --data spectra/ --catalog labels.csv --broad Sy1,Sy1.9 --out runs/mine
      astroxai run --kind galaxy --data cutouts/ --catalog labels.csv --target bar_px

    Spectra write OUT/dataset.h5 with its manifest (every input kept, or rejected with the reason), OUT/models
    (the SVM study of each problem and the CNN, with their tables and figures), OUT/embed (t-SNE maps), OUT/explain
    (saliency maps, gallery, physics checks), OUT/trust (every method × model), OUT/explanations.h5 (every array),
    OUT/results.md (the paper's sample only), OUT/report.html and OUT/run.json (config, inputs, seed, versions,
    every stage's time).  Image studies write the same kinds of folder, with OUT/explain/<method> galleries and, for
    galaxies with bar lengths, OUT/bars.  A stage that cannot run on the sample is skipped with the reason (in
    run.json and on the page); a sample too small for the study is refused before any work, naming the class.
    """
    from astroxai.workflows.run import run as run_workflow

    start = time.perf_counter()
    settings = {"catalog": str(catalog) if catalog else None, "classes": class_names(classes)}
    if kind == "spectra":
        settings["broad"] = class_names(broad)
    elif broad:
        raise click.UsageError("--broad names broad-line classes of spectra: use it with --kind spectra")
    if target is not None:
        if kind != "galaxy":
            raise click.UsageError("--target names the bar-length column of a galaxy study: use --kind galaxy")
        settings["target"] = target
    result = run_workflow(kind, out, config=config, seed=seed, progress=progress_bar, workers=workers,
                          data=run_data(data, inputs), **settings)
    for name, model in result.record.summary.get("models", {}).items():
        what = f"{model['kernel']} kernel" if "kernel" in model else model["model"]
        score = f"test r {model['test_r']:.3f}" if "test_r" in model else f"test macro F {model['test_macro_f1']:.3f}"
        click.echo(f"{name}: {what}, {score} → {model['model_dir']}")
    for stage in result.record.skipped():
        click.echo(f"skipped {stage.name}: {stage.reason}")
    if result.layout.results.is_file():
        click.echo(f"tables next to the paper's in {result.layout.results}")
    click.echo(f"done in {time.perf_counter() - start:.0f} s"
               + (f"; open {result.report} in a browser for the whole story" if result.report else ""))


@main.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@reports_errors
def report(run_dir: Path):
    """Draw RUN_DIR/report.html again from what the run wrote (nothing is recomputed: the page is the run's own,
    byte for byte, unless a file of the run changed); checks its links and images."""
    from astroxai.report.html import check_report, write_report

    page = write_report(run_dir)
    problems = check_report(page)
    for problem in problems[:10]:
        click.echo(f"problem: {problem}", err=True)
    noted = f", {len(problems)} problems" if problems else ""
    click.echo(f"{page} ({page.stat().st_size / 1e6:.1f} MB{noted})")
