"""The ``astroxai`` command line: a thin shell over the workflows.

Each command parses its options, loads what it was given (a data set, a model folder), calls one workflow of
:mod:`astroxai.workflows` and prints a one-line summary; the loaded object decides between spectra and images.  The
library logs (``-v`` shows every stage and every rejected input as it happens) and never prints; only this module
prints, draws progress bars and chooses matplotlib's file-only backend.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import signal
import sys
import time
from pathlib import Path

import click

from astroxai.errors import AstroxaiError, InputError

log = logging.getLogger("astroxai")
UNITS = {"CNN epochs": "epoch", "SVM search": "task", "t-SNE maps": "map", "kernels": "kernel", "predicting": "chunk"}


def _progress(iterable, desc: str, total: int | None):
    """A progress bar on stderr (astroxai's progress protocol, :mod:`astroxai.progress`); silent for short loops
    when stderr is not a terminal."""
    from tqdm.auto import tqdm

    unit = UNITS.get(desc, "img" if "image" in desc else "it" if "batches" in desc else "spec")
    return _stop_if_interrupted(tqdm(iterable, desc=desc, total=total, unit=unit, file=sys.stderr, mininterval=0.5,
                                     leave=False, disable=None if (total or 0) < 50 else False))


#: The SIGINTs received while the current command runs (see :func:`_noting_interrupts`).
_INTERRUPTS: list[int] = []


def _stop_if_interrupted(iterable):
    """Every step of every long loop is a point where a Ctrl-C that Python swallowed stops the command after all."""
    for item in iterable:
        if _INTERRUPTS:
            raise KeyboardInterrupt
        yield item


class _Failure(click.ClickException):
    """A library error shown as one line (the traceback is logged at debug level, shown with -v)."""


def _fail(error: Exception):
    log.debug("traceback", exc_info=error)
    return _Failure(str(error))


#: What a command shows as one line: astroxai's own errors (something given cannot be used, a model cannot be loaded,
#: a data carrier is missing) and the operating system's (a file that cannot be read or written).  Anything else is a
#: bug, shown with its traceback.
LIBRARY_ERRORS = (AstroxaiError, OSError)
#: Arguments and options several commands share.
MODEL_DIR = click.argument("model_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
#: Inputs are not checked for existence here: a missing one costs its own row ("file not found"), not the call.
INPUTS = click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
CATALOG = click.option("--catalog", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                       help="CSV with columns file,label,z giving labels and missing redshifts.")


#: Suffixes of an ``--out`` that names a file (the data set of ``reduce``, the table of ``predict``); any other
#: ``--out`` is a folder.
OUT_FILE_SUFFIXES = (".h5", ".hdf5", ".csv")


def check_out(out) -> None:
    """Refuse, before any work, an ``--out`` that cannot be written: the folder that would hold it (the output
    itself, or its parent for a file) must be a folder, or be creatable under one, that this user may write in."""
    if out is None:
        return
    out = Path(out)
    if out.exists():
        folder = out if out.is_dir() else out.parent
    else:
        folder = out.parent if out.suffix.lower() in OUT_FILE_SUFFIXES else out
    ancestor = folder
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise click.UsageError(f"--out {out}: cannot be written, {ancestor} is a file, not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise click.UsageError(f"--out {out}: cannot be written, no permission to write in {ancestor}")


def _reports_errors(command):
    """Run a command, turning a library error (a bad input, a model that cannot be loaded, a grid mismatch) into one
    line for the user; the traceback is logged at debug level (``-v``).  An ``--out`` that cannot be written is
    refused before the command starts (:func:`check_out`)."""

    @functools.wraps(command)
    def run(*args, **kwargs):
        check_out(kwargs.get("out"))
        with _noting_interrupts() as interrupted:
            try:
                return command(*args, **kwargs)
            except Exception as error:
                if interrupted:  # Ctrl-C, whatever a C library turned it into on its way up
                    log.debug("interrupted", exc_info=error)
                    raise click.Abort() from None
                if isinstance(error, LIBRARY_ERRORS):
                    raise _fail(error) from None
                raise

    return run


@contextlib.contextmanager
def _noting_interrupts():
    """Note every SIGINT while a command runs, then raise KeyboardInterrupt as Python does.

    Python delivers the KeyboardInterrupt wherever the main thread happens to be, and two places lose it:
    inside h5py's C code it comes back up as a TypeError from HDF5's error stack (seen when writing a data set), and
    inside a callback (a weakref finaliser, an at-fork hook of the process pool) Python prints "Exception ignored"
    and goes on.  With the note, the first case still stops as interrupted ("Aborted!"), the second stops at the
    next step of any progress loop (:func:`_stop_if_interrupted`) and prints nothing.  Every output is written under
    a temporary name, so the unwinding removes the half-written file either way.
    """
    owner = os.getpid()
    _INTERRUPTS.clear()

    def note(signum, frame):
        if os.getpid() != owner:  # a worker forked a moment ago, before its initialiser ignores SIGINT
            return
        _INTERRUPTS.append(signum)
        signal.default_int_handler(signum, frame)

    def quiet(unraisable):
        # Once interrupted, an error in a finaliser is the interrupt's doing (the KeyboardInterrupt itself, raised
        # again at the next loop step; or an object it cut off half-built, like a progress bar whose __del__ then
        # fails): shown with -v, never as a traceback in the middle of "Aborted!"
        if _INTERRUPTS:
            log.debug("after the interrupt, in %r: %s: %s", unraisable.object, type(unraisable.exc_value).__name__,
                      unraisable.exc_value)
        else:
            previous_hook(unraisable)

    try:
        previous = signal.signal(signal.SIGINT, note)
    except ValueError:  # not the main thread (an embedding application): leave its handler alone
        previous = None
    previous_hook, sys.unraisablehook = sys.unraisablehook, quiet
    try:
        yield _INTERRUPTS
    finally:
        sys.unraisablehook = previous_hook
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
        _INTERRUPTS.clear()  # handled: a later command in this process (a notebook, a test) starts afresh


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(package_name="astroxai")
@click.option("-v", "--verbose", is_flag=True, help="Show every stage, every rejected input and tracebacks.")
def main(verbose: bool):
    """Classify astronomical spectra and images, and show why the classifier decides what it decides.

    \b
    A typical session on the embedded simulated data:
      astroxai run                                    # the whole spectra study → runs/default/report.html
      astroxai simulate --out sim && astroxai reduce sim/ --out data.h5
      astroxai train data.h5 --out model/             # the paper's SVM study
      astroxai explain model/ data.h5 --out why/      # saliency maps, one row per input
    Every command has --help.
    """
    import matplotlib

    matplotlib.use("Agg")  # files only: the command line never opens windows
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s" if not verbose else "%(levelname)s %(name)s: %(message)s"))
    log.handlers[:] = [handler]
    log.setLevel(logging.DEBUG if verbose else logging.INFO)
    log.propagate = False


@main.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for the files, catalog.csv and simulation.json.")
@click.option("--kind", type=click.Choice(["spectra", "radio", "galaxy"]), default="spectra", show_default=True,
              help="AGN spectra, FIRST-like radio galaxies (compact/FRI/FRII/bent) or barred/unbarred disc galaxies.")
@click.option("--n-type1", type=click.IntRange(min=0), default=680, show_default=True)
@click.option("--n-type2", type=click.IntRange(min=0), default=2145, show_default=True)
@click.option("--n-intermediate", type=click.IntRange(min=0), default=521, show_default=True)
@click.option("--n-per-class", type=click.IntRange(min=0), default=None,
              help="Images: how many of each class (default: 300 radio, 600 galaxy).")
@click.option("--seed", type=int, default=None, help="Random seed (default: the package's fixed seed).")
@click.option("--store", type=click.IntRange(min=1), default=None, metavar="N",
              help="Spectra: write N spectra (millions are fine) straight into OUT/survey_store.h5, a reduced store "
                   "for astroxai survey: noisy copies of 3000 simulated spectra in the type shares above.")
def simulate(out: Path, kind: str, n_type1: int, n_type2: int, n_intermediate: int, n_per_class: int | None,
             seed: int | None, store: int | None):
    """Simulate AGN spectra (SDSS spec-lite FITS) or survey images (FITS cutouts with a WCS).

    Spectra: catalog.csv lists every file with its label, redshift and every true parameter.  Images: the
    cutouts, catalog.csv (every true parameter: bar lengths, S/N, sizes) and images.h5, the ImageSet with the
    ground-truth component masks.
    """
    from astroxai.simulate import DEFAULT_SEED, simulate_sample
    from astroxai.simulate.images import DEFAULT_IMAGE_COUNTS, DEFAULT_IMAGE_SEED, simulate_image_sample

    start = time.perf_counter()
    if store is not None:
        from astroxai.simulate import survey_store

        if kind != "spectra":
            raise click.UsageError("--store makes spectra only")
        counts = {"type1": n_type1, "type2": n_type2, "intermediate": n_intermediate}
        path = survey_store(out / "survey_store.h5", store, DEFAULT_SEED if seed is None else seed, counts=counts,
                            progress=_progress)
        click.echo(f"wrote {store} reduced spectra in {time.perf_counter() - start:.1f} s → {path}")
        return
    if kind == "spectra":
        counts = {"type1": n_type1, "type2": n_type2, "intermediate": n_intermediate}
        path = simulate_sample(out, counts, DEFAULT_SEED if seed is None else seed, progress=_progress)
        what = "spectra"
    else:
        counts = (DEFAULT_IMAGE_COUNTS[kind] if n_per_class is None
                  else dict.fromkeys(DEFAULT_IMAGE_COUNTS[kind], n_per_class))
        path = simulate_image_sample(out, kind, counts, DEFAULT_IMAGE_SEED if seed is None else seed,
                                     progress=_progress)
        what = f"{kind} images"
    click.echo(f"simulated {sum(counts.values())} {what} in {time.perf_counter() - start:.1f} s → {path}")


@main.command()
@INPUTS
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Output SpectraSet (HDF5, e.g. dataset.h5); the manifest goes beside it.")
@CATALOG
@click.option("--range", "wave_range", type=(float, float), default=None, metavar="MIN MAX",
              help="Rest-frame grid range in Å (default: the overlap of all spectra).")
@click.option("--preset", type=click.Choice(["paper"]), default=None,
              help="Named range: 'paper' = 3728.91–5265.95 Å (Peruzzi et al. 2021).")
@click.option("--n-wave", type=click.IntRange(min=2), default=1000, show_default=True)
@click.option("--method", type=click.Choice(["linear", "flux-conserving"]), default="linear", show_default=True,
              help="Resampling: linear interpolation (the paper) or flux-conserving rebinning.")
@click.option("--chunk-size", type=click.IntRange(min=1), default=256, show_default=True,
              help="Spectra held in memory at once.")
@_reports_errors
def reduce(inputs, out, catalog, wave_range, preset, n_wave, method, chunk_size):
    """Reduce spectra: rest frame, normalise at 5100 Å, resample onto a common grid.

    INPUTS are spectrum files (SDSS spec/spec-lite/spSpec FITS, SDSS CSV, text), folders, or catalogue
    CSVs with columns file,label,z.  Every input gets a row in DATASET's manifest (kept, or rejected
    with the reason); the command fails only if no input could be reduced.
    """
    from astroxai.io import collect_inputs
    from astroxai.reduce import RANGE_PRESETS
    from astroxai.workflows.reduce import reduce_inputs

    if wave_range is not None and preset is not None:
        raise click.UsageError("give --range or --preset, not both")
    items = collect_inputs(inputs, catalog)
    if not items:
        raise click.ClickException("no spectrum files found in the inputs")
    summary = reduce_inputs(items, out, wave_range=RANGE_PRESETS[preset] if preset else wave_range,
                            n_wave=n_wave, method=method, chunk_size=chunk_size, progress=_progress)
    lo, hi = summary["wave_range"]
    click.echo(f"kept {summary['n_kept']} of {summary['n_inputs']} spectra on {n_wave} points "
               f"{lo:.2f}–{hi:.2f} Å → {out}")
    if summary["n_rejected"]:
        click.echo(f"rejected {summary['n_rejected']}: reasons in {summary['manifest']}")


@main.command()
@click.argument("dataset", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Model folder: the model, model.json, split.json, tables (CSV + JSON) and figures.")
@click.option("--classes", "n_classes", type=click.Choice(["2", "3"]), default="3", show_default=True,
              help="Spectra: 2 = type 1 vs type 2; 3 = type 1 / type 2 / intermediate.")
@click.option("--kernels", default="linear,rbf,poly2,poly3", show_default=True,
              help="SVM: comma-separated kernels to search.")
@click.option("--quick", is_flag=True, help="SVM: coarse grid (one C per decade, 3 γ, 3 folds, no refinement).")
@click.option("--seed", type=int, default=None, help="Seed of the split, the folds, the weights and the noise draws.")
@click.option("--unstratified", is_flag=True, help="Plain random split, as the paper did.")
@click.option("--standardise/--raw-features", "standardise", default=False, show_default=True,
              help="SVM: standardise every wavelength inside the pipeline, or feed the normalised fluxes as they are "
                   "(the default: it reproduces the paper's test F, noise curve and saliency physics better; "
                   "docs/results.md).")
@click.option("--n-jobs", type=click.IntRange(min=1), default=None, help="SVM: threads for the search (default: all).")
@click.option("--timing-repeats", type=click.IntRange(min=0), default=10, show_default=True,
              help="SVM: fits per kernel for the training-time table (0 = skip).")
@click.option("--model", "model_kind", type=click.Choice(["svm", "cnn"]), default=None,
              help="Spectra: svm (default, the paper's study) or cnn (the 1-D CNN, same split). Images: cnn.")
@click.option("--max-epochs", type=click.IntRange(min=1), default=None,
              help="CNNs: most epochs (default 200 for spectra, 100 for image classifiers, 200 for regressors).")
@click.option("--task", type=click.Choice(["classify", "regress"]), default="classify", show_default=True,
              help="Images: classify the labels, or regress the catalogue column --target.")
@click.option("--target", default="bar_length_px", show_default=True,
              help="Images, --task regress: the column to predict (on the images where it is positive).")
@click.option("--augment", is_flag=True, help="Images: turn and flip the training batches at random.")
@_reports_errors
def train(dataset, out, n_classes, kernels, quick, seed, unstratified, standardise, n_jobs, timing_repeats,
          model_kind, max_epochs, task, target, augment):
    """Train a model on DATASET, evaluate it on the test part of its split, and save it into OUT.

    Spectra (a SpectraSet from `astroxai reduce`): the SVM study of Peruzzi et al. (2021) — 64/16/20 split, 5-fold
    CV macro F over C (and γ), refinement around the best C, choice of kernel on the validation set, refit on
    train + validation, test metrics, confusion matrices, noise robustness and training times; --model cnn trains
    the 1-D CNN on the same split (early stopping on the validation part) and writes the same test tables.

    Images (images.h5 from `astroxai simulate --kind radio|galaxy`): a 2-D CNN, a morphology classifier or, with
    --task regress, a regressor of --target (e.g. the bar length).
    """
    from astroxai.workflows.inputs import load_dataset
    from astroxai.workflows.train import estimator_for
    from astroxai.workflows.train import train as train_workflow

    data = load_dataset(dataset, finite=True)
    model = estimator_for(data, model=model_kind, task=task, classes=int(n_classes),
                          kernels=tuple(k.strip() for k in kernels.split(",") if k.strip()), quick=quick,
                          seed=seed, stratify=not unstratified, standardise=standardise, n_jobs=n_jobs,
                          max_epochs=max_epochs, target=target, augment=augment)
    result = train_workflow(data, model, out, dataset_path=str(dataset), timing_repeats=timing_repeats,
                            progress=_progress)
    test = result.test
    score = (f"test r {test['r']:.3f}, RMSE {test['rmse']:.3f}" if model.task == "regress"
             else f"test macro F {test['macro']['f1']:.4f}, accuracy {test['accuracy']:.4f}")
    click.echo(f"{type(model).__name__}{f' ({model.kernel_} kernel)' if hasattr(model, 'kernel_') else ''}: "
               f"{score} → {out}")


@main.command()
@MODEL_DIR
@click.argument("dataset", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for metrics, confusion, noise and predictions (CSV + JSON) and figures.")
@click.option("--part", type=click.Choice(["train", "validation", "test"]), default=None,
              help="Only the inputs of this part of the model's own split.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the noise draws.")
@_reports_errors
def evaluate(model_dir, dataset, out, part, seed):
    """Metrics, confusion matrices, noise robustness (spectra) and per-input predictions of a saved model.

    DATASET must be on the model's grid (spectra reduced onto its wavelengths, images of its size); inputs without
    one of the model's labels are left out.  A regressor writes r and RMSE against its target column.
    """
    from astroxai.workflows.inputs import load_dataset
    from astroxai.workflows.train import evaluate_folder

    data = load_dataset(dataset, finite=True)
    result = evaluate_folder(model_dir, data, out, part=part, seed=seed)
    metrics = result["metrics"]
    score = (f"r {metrics['r']:.3f}, RMSE {metrics['rmse']:.3f}" if "r" in metrics
             else f"macro F {metrics['macro']['f1']:.4f}, accuracy {metrics['accuracy']:.4f}")
    skipped = f" ({result['skipped']} without one of the model's labels left out)" if result["skipped"] else ""
    click.echo(f"{result['n']} inputs: {score}{skipped} → {out}")


@main.command()
@MODEL_DIR
@INPUTS
@CATALOG
@click.option("--chunk-size", type=click.IntRange(min=1), default=256, show_default=True,
              help="Spectra reduced and held in memory at once.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Predictions CSV: id, input, status, predicted, p_<class>..., reason.")
@_reports_errors
def predict(model_dir, inputs, out, catalog, chunk_size):
    """Classify raw spectra (files, folders or catalogue CSVs), data sets or image files with a saved model.

    Each spectrum file is reduced on the fly with the model's own grid and settings.  Every input gets a row;
    those that cannot be used are marked rejected, with the reason.
    """
    from astroxai.workflows.train import predict_inputs

    summary = predict_inputs(model_dir, inputs, out, catalog=catalog, chunk_size=chunk_size, progress=_progress)
    counts = ", ".join(f"{n} {c}" for c, n in summary["predicted"].items())
    click.echo(f"classified {summary['n_classified']} of {summary['n_inputs']} inputs"
               + (f" ({counts})" if counts else "") + f" → {out}")
    if summary["n_rejected"]:
        click.echo(f"rejected {summary['n_rejected']}: reasons in the 'reason' column")
    if summary["n_out_of_distribution"]:
        click.echo(f"{summary['n_out_of_distribution']} classified inputs lie outside what the model was trained on "
                   "(out_of_distribution = True, ood_score > 1): do not trust their classes")


def _method_options(command):
    """The options that choose and tune an attribution method (shared by explain and survey)."""
    options = [
        click.option("--method", type=click.Choice(["exact", "saliency", "finite-difference", "smoothgrad",
                                                    "integrated-gradients", "occlusion", "lime", "kernelshap"]),
                     default="exact", show_default=True,
                     help="exact (= saliency): autograd gradient (captum); finite-difference: the paper's recipe "
                          "(spectra); else a captum method."),
        click.option("--baseline", type=click.Choice(["model", "median", "continuum", "zero"]), default="model",
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
@_method_options
@CATALOG
@click.option("--max-figures", type=click.IntRange(min=0), default=50, show_default=True,
              help="Figures for the first N explained spectra (images: gallery rows, at most 12).")
@_reports_errors
def explain(model_dir, inputs, out, method, baseline, segments, target, log_p, scheme, eps, seed, catalog,
            max_figures):
    """Attribution maps of a saved model for raw files, folders, catalogues or data sets (.h5).

    Raw spectra are reduced with the model's own grid and settings; images are read and checked against the
    model's size.  Every input gets a row in explanations.csv (kept, or rejected with the reason), with the
    prediction, the probabilities and the science check (spectra: Hβ core/wing means and the share of |map| near
    the lines; simulated images: the share of |map| on each true component).  Blue in every figure: more of this
    raises the explained probability; red: lowers it.
    """
    from astroxai.workflows.explain import explain_inputs

    options = method_settings(method, log_p, scheme, eps, segments)
    explain_inputs(model_dir, inputs, out, method=method, target=target, baseline=baseline, options=options,
                   catalog=catalog, max_figures=max_figures, seed=seed, progress=_progress)


@main.command()
@MODEL_DIR
@INPUTS
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for survey.parquet/ (one row per input), maps/ (with --maps) and survey.json.")
@_method_options
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
@_reports_errors
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
    from astroxai.workflows.survey import survey as run_survey

    options = method_settings(method, log_p, scheme, eps, segments)
    summary = run_survey(model_dir, inputs, out, method=method, options=options, target=target, baseline=baseline,
                         seed=seed, catalog=catalog, partition_size=partition_size, maps=maps, workers=workers,
                         scheduler=scheduler, restart=restart, place_on=place_on, map_key=map_key,
                         map_data=map_data, progress=_progress)
    click.echo(f"{summary['n_inputs']} inputs: {summary['n_kept']} classified and explained, {summary['n_rejected']} "
               f"rejected (reasons in the table); {summary['partitions_run']} partitions run, "
               f"{summary['partitions_skipped']} already done; {summary['seconds']:.1f} s → {out}")
    if summary.get("map_figure"):
        click.echo(f"the survey on the t-SNE map: {summary['map_figure']}")


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
@_reports_errors
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
    result = embed_maps(data, out, specs, seed=seed, dataset=dataset, progress=_progress)
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
@click.argument("model_dirs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for trust.csv/json and figures/.")
@click.option("--kernels", default="", help="Also refit these kernels of the SVM folders' searches (e.g. linear,rbf).")
@click.option("--methods", default="saliency,smoothgrad,integrated-gradients,occlusion,lime,kernelshap",
              show_default=True)
@click.option("--n-spectra", "n_inputs", type=click.IntRange(min=2), default=100, show_default=True,
              help="Test inputs drawn (seeded) from the first model's split.")
@click.option("--baseline", type=click.Choice(["model", "median", "continuum", "zero"]), default="model",
              show_default=True)
@click.option("--catalog", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The simulator's catalog.csv: enables the ground-truth scores of spectra.")
@click.option("--seed", type=int, default=0, show_default=True)
@_reports_errors
def trust(dataset, model_dirs, out, kernels, methods, n_inputs, baseline, catalog, seed):
    """Every explanation method × every model on the same test inputs, with trust scores.

    Faithfulness (deletion/insertion vs random order), sanity (model randomisation), stability (spectra: noise at
    each spectrum's own level) and, with ground truth (the simulator's catalogue for spectra, the component masks
    of a simulated image set), the share of attribution on it (and the Hβ core/wing sign test for spectra).
    """
    from astroxai.report.layout import TrustFiles
    from astroxai.workflows.inputs import load_dataset
    from astroxai.workflows.trust import trust_folders

    data = load_dataset(dataset, finite=True)
    result = trust_folders(data, model_dirs, out, kernels=[k.strip() for k in kernels.split(",") if k.strip()],
                           methods=[m.strip() for m in methods.split(",") if m.strip()], n_inputs=n_inputs,
                           baseline=baseline, catalog=catalog, seed=seed, progress=_progress)
    click.echo(f"{len(result['rows'])} method × model rows → {TrustFiles(out).table.with_suffix('.csv')}")


#: Catalogues shipped with astroxai for ``fetch --example``.
EXAMPLES = {"vaona2012": "the 2 153 Seyfert 2 and 521 intermediate spectra of Vaona et al. (2012), Peruzzi et al. "
                         "(2021)'s sample of them"}


@main.command()
@click.argument("catalog", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for the spectra (spec-PPPP-MMMMM-FFFF.fits), catalog.csv and fetch.manifest.csv.")
@click.option("--example", type=click.Choice(sorted(EXAMPLES)), default=None,
              help="A catalogue shipped with astroxai instead of CATALOG: "
                   + "; ".join(f"{k}: {v}" for k, v in EXAMPLES.items()) + ".")
@click.option("--base-url", default=None, help="The archive (default: the SDSS DR17 Science Archive Server, "
                                                "https://data.sdss.org/sas/dr17), a mirror, or file:// a local copy.")
@click.option("--jobs", type=click.IntRange(min=1, max=16), default=4, show_default=True,
              help="Connections at once (4 is polite to the archive).")
@click.option("--plates", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The archive's plates-dr17.fits: the reduction (run2d) of every plate, instead of trying each.")
@_reports_errors
def fetch(catalog: Path | None, out: Path, example: str | None, base_url: str | None, jobs: int,
          plates: Path | None):
    """Download the SDSS spectra a catalogue names by plate, MJD and fibre, checked before they are kept.

    CATALOG is a CSV or Parquet file with columns plate,mjd,fiber (optional run2d, label, z; every other column is
    kept).  Each spectrum is streamed to a temporary name and kept only when it is FITS, complete, readable and the
    spectrum asked for; 429 and 5xx answers are retried with backoff.  Run the same command again to resume: files
    already there are checked, not fetched again.  Then:

    \b
      astroxai fetch --example vaona2012 --out real/
      astroxai run --data real/catalog.csv --out runs/real
    """
    from importlib import resources

    from astroxai.workflows.fetch import DEFAULT_BASE_URL, FetchError
    from astroxai.workflows.fetch import fetch as fetch_spectra

    if (catalog is None) == (example is None):
        raise click.UsageError("give a CATALOG or --example NAME (one of them)")
    if example is not None:
        catalog = Path(str(resources.files("astroxai").joinpath("examples", f"{example}.csv")))
    try:
        summary = fetch_spectra(catalog, out, base_url=base_url or DEFAULT_BASE_URL, jobs=jobs, plates=plates,
                                progress=_progress)
    except FetchError as error:
        raise _fail(error) from None
    click.echo(f"{summary['fetched']} fetched, {summary['present']} present, {summary['failed']} failed, "
               f"{summary['rejected']} rejected ({summary['bytes'] / 1e6:.1f} MB in {summary['seconds']:.0f} s) → "
               f"{summary['catalog']} (every row's fate: {summary['manifest']})")


def _names(text: str | None) -> list[str] | None:
    """``A,B,C`` → ``["A", "B", "C"]`` (None stays None)."""
    if text is None:
        return None
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise click.UsageError("give class names separated by commas, e.g. --classes type1,type2")
    return names


def _run_data(data: tuple, inputs: tuple):
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
                   "quick, cnn, trust_spectra, ...; images: n_per_class, max_epochs, augment, ...).")
@click.option("--seed", type=int, default=None, help="Random seed for the simulation.")
@click.option("--kind", type=click.Choice(["spectra", "radio", "galaxy"]), default="spectra", show_default=True,
              help="spectra: the AGN study (Peruzzi et al. 2021); radio: LIME on radio morphologies (Liang et al. "
                   "2023); galaxy: bar lengths from SmoothGrad maps (Bhambra et al. 2022).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Processes running the independent stages side by side (default: every core; the numbers do "
                   "not depend on it).")
@_reports_errors
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
    settings = {"catalog": str(catalog) if catalog else None, "classes": _names(classes)}
    if kind == "spectra":
        settings["broad"] = _names(broad)
    elif broad:
        raise click.UsageError("--broad names broad-line classes of spectra: use it with --kind spectra")
    if target is not None:
        if kind != "galaxy":
            raise click.UsageError("--target names the bar-length column of a galaxy study: use --kind galaxy")
        settings["target"] = target
    result = run_workflow(kind, out, config=config, seed=seed, progress=_progress, workers=workers,
                          data=_run_data(data, inputs), **settings)
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
@_reports_errors
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


if __name__ == "__main__":  # pragma: no cover
    main()
