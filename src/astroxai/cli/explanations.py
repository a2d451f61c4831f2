"""The commands that explain and score explanations: ``explain``, ``survey``, ``embed``, ``trust``."""

from __future__ import annotations

from pathlib import Path

import click

from astroxai.cli import CATALOG, INPUTS, MODEL_DIR, ModelFolder, echo_note, main, progress_bar, reports_errors
from astroxai.errors import InputError
from astroxai.vocabulary import BASELINES, METHOD_ALIASES, METHOD_NAMES, TRUST_METHODS


def method_options(command):
    """The options that choose and tune an attribution method (shared by explain and survey)."""
    options = [
        click.option("--method", type=click.Choice([*METHOD_ALIASES, *METHOD_NAMES]),
                     default="exact", show_default=True,
                     help="exact (= saliency): autograd gradient (captum); finite-difference: the paper's recipe "
                          "(spectra); else a captum method."),
        click.option("--baseline", type=click.Choice(BASELINES), default="model",
                     show_default=True, help="IG, occlusion, LIME, KernelSHAP: the model's baseline (median "
                     "training spectrum; empty sky for images), each spectrum's continuum, or zero."),
        click.option("--segments", type=click.Choice(["windows", "lines"]), default="windows", show_default=True,
                     help="LIME, KernelSHAP on spectra: 40 equal wavelength windows, or ±2000 km/s around each "
                          "line + continuum windows."),
        click.option("--target", default="predicted", show_default=True,
                     help="Class whose probability is explained: 'predicted', 'probable' or a class name."),
        click.option("--log", "log_p", is_flag=True, help="Explain log p (the paper's text) instead of p (its "
                                                          "recipe)."),
        click.option("--scheme", type=click.Choice(["forward", "central"]), default="forward", show_default=True,
                     help="Finite differences: the paper's forward differences or central ones."),
        click.option("--eps", type=click.FloatRange(min=0, min_open=True), default=0.01, show_default=True,
                     help="Finite differences: relative perturbation of each flux."),
        click.option("--seed", type=int, default=0, show_default=True, help="Seed of SmoothGrad's and LIME's "
                                                                            "draws."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def method_settings(method: str, log_p: bool, scheme: str, eps: float, segments: str) -> dict:
    """The method's own settings from the shared options (an option that does not apply to it is refused)."""
    from astroxai.explain import get_method

    options = {}
    chosen = get_method(method)
    if chosen.takes_log:
        options["log"] = log_p
    elif log_p:
        raise click.UsageError("--log applies to the exact and finite-difference saliency only")
    if chosen.name == "finite-difference":
        options.update(eps=eps, scheme=scheme)
    if chosen.uses_features and segments == "lines":
        options["lines"] = True
    return options


@main.command()
@MODEL_DIR
@INPUTS
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for explanations.csv, explanations.h5 and figures/.")
@method_options
@CATALOG
@click.option("--max-figures", type=click.IntRange(min=0), default=50, show_default=True,
              help="Figures for the first N explained spectra (images: N gallery rows, 8 to a page).")
@reports_errors
def explain(model_dir, inputs, out, method, baseline, segments, target, log_p, scheme, eps, seed, catalog,
            max_figures):
    """Attribution maps of a saved model for raw files, folders, catalogues or data sets (.h5).

    MODEL_DIR is a model folder or a bundled model's name (`astroxai models`).  Raw spectra are reduced with the
    model's own grid and settings; images are cut and binned as the model's training images were and checked against
    its size.  Every input gets a row in explanations.csv (kept, or rejected with the reason), with the prediction,
    the probabilities and the science check (spectra: Hβ core/wing means and the share of |map| near the lines;
    simulated images: the share of |map| on each true component).  Blue in every figure: more of this raises the
    explained probability; red: lowers it.

    \b
    Example: LIME maps of FIRST cutouts from the bundled network
      astroxai explain first-radio cutouts/ --method lime --out why/
    """
    from astroxai.explain import ExplainSettings
    from astroxai.workflows.explain import explain_inputs

    echo_note(model_dir)

    settings = ExplainSettings(method, target, baseline, seed, method_settings(method, log_p, scheme, eps, segments))
    explain_inputs(model_dir, inputs, out, settings, catalog=catalog, max_figures=max_figures, progress=progress_bar)


@main.command()
@MODEL_DIR
@INPUTS
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for survey.parquet/ (one row per input), maps/ (with --maps) and survey.json.")
@method_options
@CATALOG
@click.option("--maps", is_flag=True, help="Also store every attribution map (Zarr, float32, one array per "
                                          "partition; 4 kB per spectrum of 1000 points before compression).")
@click.option("--partition-size", type=click.IntRange(min=1), default=2048, show_default=True,
              help="Inputs per Dask task: each partition is written (and resumed) as a whole.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Worker processes of the local Dask cluster [default: one per core].")
@click.option("--scheduler", metavar="ADDRESS", default=None,
              help="Run on an existing Dask cluster (e.g. tcp://10.0.0.5:8786) instead of a local one.")
@click.option("--restart", is_flag=True, help="Start again when --out holds a survey of other inputs or settings.")
@click.option("--place-on", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="A t-SNE maps file (explanations.h5 of astroxai run, embeddings.h5 of astroxai embed): place every "
                   "spectrum on its map (columns tsne_x, tsne_y) and draw the survey's density on it "
                   "(survey_map.png). Costs about as much as the linear SVM's explanation.")
@click.option("--map", "map_key", metavar="KEY", default=None,
              help="Which map of --place-on, e.g. all/raw/perplexity_50 [default: all classes, raw fluxes, the "
                   "largest perplexity].")
@click.option("--map-data", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="The data set the map was made from, if the maps file does not record it.")
@reports_errors
def survey(model_dir, inputs, out, method, baseline, segments, target, log_p, scheme, eps, seed, catalog, maps,
           partition_size, workers, scheduler, restart, place_on, map_key, map_data):
    """Classify and explain a whole survey with a saved spectra model, streamed over Dask and resumable.

    INPUTS are folders, spectrum files, catalogues (CSV or Parquet with columns file, z, optional label; millions
    of rows are fine) and reduced stores (.h5 from astroxai reduce).  Each partition reads its files once, reduces
    them with the model's own grid, classifies and explains them, and writes one Parquet part with a row per input:
    kept (prediction, probabilities, zero_map, Hβ core/wing means, line share, out-of-distribution score) or
    rejected with the reason.  Interrupted?  Run the same command again: finished partitions are kept and skipped.

    \b
    Examples:
      astroxai survey model/ spectra/ --out survey/                 # every core of this machine
      astroxai survey model/ big.h5 --out s/ --maps --workers 8     # a reduced store; maps into Zarr
      astroxai survey model/ cat.parquet --out s/ --scheduler tcp://head:8786
      astroxai survey runs/default/models/svm-3class big.h5 --out s/ --place-on runs/default/explanations.h5
    Read the result with pyarrow (pyarrow.parquet.read_table("survey/survey.parquet")), pandas or Dask.
    """
    from astroxai.explain import ExplainSettings
    from astroxai.workflows.survey import Placement, SurveyRun
    from astroxai.workflows.survey import survey as run_survey

    settings = ExplainSettings(method, target, baseline, seed, method_settings(method, log_p, scheme, eps, segments))
    summary = run_survey(model_dir, inputs, out, settings, catalog=catalog,
                         run=SurveyRun(partition_size, workers, scheduler, maps=maps, restart=restart),
                         place=None if place_on is None else Placement(place_on, map_key, map_data),
                         progress=progress_bar)
    click.echo(f"{summary['n_inputs']} inputs: {summary['n_kept']} classified and explained, {summary['n_rejected']} "
               f"rejected (reasons in the table); {summary['partitions_run']} partitions run, "
               f"{summary['partitions_skipped']} already done; {summary['seconds']:.1f} s → {out}")
    if summary.get("map_figure"):
        click.echo(f"the survey on the t-SNE map: {summary['map_figure']}")


@main.command()
@click.argument("survey_dir", type=click.Path(path_type=Path))
@click.option("--port", type=click.IntRange(min=0, max=65535), default=5006, show_default=True,
              help="Port of the local web server (0: any free one).")
@click.option("--address", default="127.0.0.1", show_default=True,
              help="Address to listen on: this machine only by default; 0.0.0.0 shares it with your network.")
@click.option("--no-browser", is_flag=True, help="Print the URL without opening a browser.")
@click.option("--verdicts", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where the inspection verdicts are kept [default: SURVEY_DIR/verdicts.csv].")
@reports_errors
def view(survey_dir, port, address, no_browser, verdicts):
    """Explore a survey of AGN spectra (the folder of astroxai survey) in the browser.

    \b
    The map: every surveyed spectrum on the survey's t-SNE map (or any two numeric columns), drawn by datashader
    at full resolution after each pan and zoom, coloured by predicted class, confidence, novelty, line saliency
    share or the Hβ sign pattern.  Filter by class, out-of-distribution, confidence, label ≠ predicted, or list
    the rejected inputs and why.  Drag a box or a lasso: the objects are listed and the mean attribution map of
    the selection is drawn against the rest.  Click an object: its spectrum coloured by its attribution map (blue:
    more flux there raises the explained class; red: lowers it), its probabilities and its neighbours on the map.
    Inspection queues (most novel, least confident, label ≠ predicted) step with j/k; a/r/b say agree / relabel /
    bad data, saved to verdicts.csv, a catalogue that astroxai run --catalog takes (rows of reduced stores also to
    verdicts.h5, a data set for astroxai train).  "export selection" saves
    selections/selection-NNN.csv (+ .json: the filter, the ids, the model's checksum) that astroxai explain
    re-runs.

    \b
    The page opens at once and says what is being read; the map replaces it when the survey's columns are in
    memory (about 5 s for 10⁶ rows on 2 cores, 10 s for 10⁷).

    \b
    Examples:
      astroxai survey runs/default/models/svm-3class big.h5 --out s/ --place-on runs/default/explanations.h5
      astroxai view s/                      # opens http://127.0.0.1:5006/
      astroxai view s/ --port 8000 --no-browser
    Ctrl-C stops the server.
    """
    from astroxai.view.app import make_server

    server, url, loading = make_server(survey_dir, port=port, address=address, verdicts=verdicts)
    server.start()
    try:  # from here on Ctrl-C says "stopped", even the moment after the URL is printed
        click.echo(f"astroxai view: {url}  (Ctrl-C stops it; the map appears when the survey is read)")
        if not no_browser:
            server.io_loop.add_callback(server.show, "/")
        server.io_loop.start()
    except KeyboardInterrupt:
        click.echo("stopped")
    finally:
        server.stop()
        loading.stop()
    if loading.error is not None:
        raise loading.error


@main.command()
@click.argument("dataset", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for embeddings.h5, tsne.csv and figures/.")
@click.option("--perplexity", "perplexities", type=click.FloatRange(min=1), multiple=True,
              help="Perplexity (repeat for several; default: 5 10 20 30 40 50).")
@click.option("--standardise/--raw", "standardise", default=None,
              help="Only standardised or only raw fluxes (default: both).")
@click.option("--classes", "subsets", type=click.Choice(["type1+type2", "all"]), multiple=True,
              help="Class set(s) to map (default: both).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--place", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Another data set (.h5) to place on the largest-perplexity map(s) without refitting them.")
@reports_errors
def embed(dataset, out, perplexities, standardise, subsets, seed, place):
    """t-SNE maps of a reduced data set (openTSNE), as in the paper's Fig. 4 and appendix."""
    from astroxai.data import SpectraSet
    from astroxai.embed import FEATURES, PAPER_PERPLEXITIES, SUBSETS, paper_specs
    from astroxai.report.layout import EmbedFiles
    from astroxai.workflows.inputs import load_dataset
    from astroxai.workflows.trust import embed_maps, place_spectra

    data = load_dataset(dataset, SpectraSet, finite=True)
    features = FEATURES if standardise is None else (("standardised",) if standardise else ("raw",))
    specs = paper_specs(perplexities or PAPER_PERPLEXITIES, subsets or tuple(SUBSETS), features)
    result = embed_maps(data, out, specs, seed=seed, dataset=dataset, progress=progress_bar)
    if place is not None:
        new = load_dataset(place, SpectraSet, finite=True)
        if not (new.wavelength.shape == data.wavelength.shape
                and abs(new.wavelength - data.wavelength).max() < 1e-6):
            raise InputError(f"{place} is on another wavelength grid than {dataset}")
        placed = place_spectra(result["maps"], new, out, seed=seed, source=str(place))
        click.echo(f"placed {len(new)} spectra of {place} on {len(placed['rows']) // max(1, len(new))} map(s) → "
                   f"{EmbedFiles(out).placed.with_suffix('.csv')}")


@main.command()
@click.argument("dataset", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("model_dirs", nargs=-1, required=True, type=ModelFolder())
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for trust.csv/json and figures/.")
@click.option("--kernels", default="", help="Also refit these kernels of the SVM folders' searches (e.g. linear,rbf).")
@click.option("--methods", default=",".join(TRUST_METHODS),
              show_default=True)
@click.option("--n-spectra", "n_inputs", type=click.IntRange(min=2), default=100, show_default=True,
              help="Test inputs drawn (seeded) from the first model's split.")
@click.option("--baseline", type=click.Choice(BASELINES), default="model",
              show_default=True)
@click.option("--catalog", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The simulator's catalog.csv: enables the ground-truth scores of spectra.")
@click.option("--seed", type=int, default=0, show_default=True)
@reports_errors
def trust(dataset, model_dirs, out, kernels, methods, n_inputs, baseline, catalog, seed):
    """Every explanation method × every model on the same test inputs, with trust scores.

    Faithfulness (deletion/insertion vs random order), sanity (model randomisation), stability (spectra: noise at
    each spectrum's own level) and, with ground truth (the simulator's catalogue for spectra, the component masks
    of a simulated image set), the share of attribution on it (and the Hβ core/wing sign test for spectra).
    """
    from astroxai.explain import TrustSettings
    from astroxai.report.layout import TrustFiles
    from astroxai.workflows.inputs import load_dataset
    from astroxai.workflows.trust import trust_folders

    data = load_dataset(dataset, finite=True)
    result = trust_folders(data, model_dirs, out, TrustSettings(baseline=baseline, seed=seed),
                           kernels=[k.strip() for k in kernels.split(",") if k.strip()],
                           methods=[m.strip() for m in methods.split(",") if m.strip()], n_inputs=n_inputs,
                           catalog=catalog, progress=progress_bar)
    click.echo(f"{len(result['rows'])} method × model rows → {TrustFiles(out).table.with_suffix('.csv')}")
