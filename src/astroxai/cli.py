"""The ``astroxai`` command line: a thin shell over the library (every command is a few library calls)."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

import click
from tqdm.auto import tqdm

from astroxai.spectrum import SpectrumError


def _progress(iterable, desc: str, total: int, unit: str = "spec"):
    """Progress bar on stderr (silent when stderr is not a terminal and the run is short)."""
    return tqdm(iterable, desc=desc, total=total, unit=unit, file=sys.stderr, mininterval=0.5,
                disable=None if total < 50 else False)


def _progress_tasks(iterable, desc: str, total: int):
    """The same bar counting search tasks instead of spectra."""
    return _progress(iterable, desc, total, unit="task")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="astroxai")
@click.option("-v", "--verbose", is_flag=True, help="Log details of every step.")
def main(verbose: bool):
    """Classify astronomical spectra and show why the classifier decides what it decides."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(message)s")


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
def simulate(out: Path, kind: str, n_type1: int, n_type2: int, n_intermediate: int, n_per_class: int | None,
             seed: int | None):
    """Simulate AGN spectra (SDSS spec-lite FITS) or survey images (FITS cutouts with a WCS).

    Spectra: catalog.csv lists every file with its label, redshift and every true parameter.  Images: the
    cutouts, catalog.csv (every true parameter: bar lengths, S/N, sizes) and images.h5, the ImageSet with the
    ground-truth component masks.
    """
    start = time.perf_counter()
    if kind != "spectra":
        from astroxai.simulate.images import DEFAULT_IMAGE_COUNTS, DEFAULT_IMAGE_SEED, simulate_image_sample

        counts = (DEFAULT_IMAGE_COUNTS[kind] if n_per_class is None
                  else dict.fromkeys(DEFAULT_IMAGE_COUNTS[kind], n_per_class))
        path = simulate_image_sample(out, kind, counts, DEFAULT_IMAGE_SEED if seed is None else seed,
                                     progress=lambda it, desc, total: _progress(it, desc, total, unit="img"))
        click.echo(f"simulated {sum(counts.values())} {kind} images in {time.perf_counter() - start:.1f} s → {path}")
        return
    from astroxai.simulate import DEFAULT_SEED, simulate_sample

    counts = {"type1": n_type1, "type2": n_type2, "intermediate": n_intermediate}
    catalog = simulate_sample(out, counts, DEFAULT_SEED if seed is None else seed, progress=_progress)
    click.echo(f"simulated {sum(counts.values())} spectra in {time.perf_counter() - start:.1f} s → {catalog}")


def _parse_range(value):
    from astroxai.reduce import RANGE_PRESETS

    if value is None:
        return None
    if isinstance(value, str):
        return RANGE_PRESETS[value]
    return tuple(value)


@main.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Output SpectraSet (HDF5, e.g. dataset.h5); the manifest goes beside it.")
@click.option("--catalog", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="CSV with columns file,label,z giving labels and missing redshifts.")
@click.option("--range", "wave_range", type=(float, float), default=None, metavar="MIN MAX",
              help="Rest-frame grid range in Å (default: the overlap of all spectra).")
@click.option("--preset", type=click.Choice(["paper"]), default=None,
              help="Named range: 'paper' = 3728.91–5265.95 Å (Peruzzi et al. 2021).")
@click.option("--n-wave", type=click.IntRange(min=2), default=1000, show_default=True)
@click.option("--method", type=click.Choice(["linear", "flux-conserving"]), default="linear", show_default=True,
              help="Resampling: linear interpolation (the paper) or flux-conserving rebinning.")
@click.option("--chunk-size", type=click.IntRange(min=1), default=256, show_default=True,
              help="Spectra held in memory at once.")
def reduce(inputs, out, catalog, wave_range, preset, n_wave, method, chunk_size):
    """Reduce spectra: rest frame, normalise at 5100 Å, resample onto a common grid.

    INPUTS are spectrum files (SDSS spec/spec-lite/spSpec FITS, SDSS CSV, text), folders, or catalogue
    CSVs with columns file,label,z.  Every input gets a row in DATASET's manifest (kept, or rejected
    with the reason); the command fails only if no input could be reduced.
    """
    from astroxai.io import collect_inputs
    from astroxai.reduce import reduce_inputs

    if wave_range is not None and preset is not None:
        raise click.UsageError("give --range or --preset, not both")
    items = collect_inputs(inputs, catalog)
    if not items:
        raise click.ClickException("no spectrum files found in the inputs")
    try:
        summary = reduce_inputs(items, out, wave_range=_parse_range(preset or wave_range), n_wave=n_wave,
                                method=method, chunk_size=chunk_size, progress=_progress)
    except SpectrumError as error:
        raise click.ClickException(str(error)) from None
    lo, hi = summary["wave_range"]
    click.echo(f"kept {summary['n_kept']} of {summary['n_inputs']} spectra on {n_wave} points "
               f"{lo:.2f}–{hi:.2f} Å → {out}")
    if summary["n_rejected"]:
        click.echo(f"rejected {summary['n_rejected']}: reasons in {summary['manifest']}")


def _is_image_set(path: Path) -> bool:
    """Whether ``path`` is an ImageSet file (images.h5) rather than a SpectraSet."""
    import h5py

    from astroxai.images.imageset import FORMAT_NAME

    try:
        with h5py.File(path, "r") as handle:
            return handle.attrs.get("format") == FORMAT_NAME
    except OSError:
        return False


def _load_images(path: Path):
    from astroxai.images import ImageSet

    try:
        return ImageSet.load(path)
    except (OSError, ValueError, KeyError) as error:
        raise click.ClickException(f"{path}: not an astroxai image set ({error})") from None


def _model_kind(model_dir: Path) -> str | None:
    import json

    try:
        return json.loads((Path(model_dir) / "model.json").read_text()).get("kind")
    except (OSError, ValueError):
        return None  # load_model gives the proper message


def _load_dataset(path: Path):
    from astroxai.dataset import SpectraSet

    try:
        return SpectraSet.load(path)
    except (OSError, ValueError, KeyError) as error:
        raise click.ClickException(f"{path}: not an astroxai data set ({error})") from None


@main.command()
@click.argument("dataset", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Model folder: model.skops + model.json, split, tables (CSV + JSON) and figures.")
@click.option("--classes", "n_classes", type=click.Choice(["2", "3"]), default="3", show_default=True,
              help="2 = type 1 vs type 2; 3 = type 1 / type 2 / intermediate.")
@click.option("--kernels", default="linear,rbf,poly2,poly3", show_default=True,
              help="Comma-separated kernels to search.")
@click.option("--quick", is_flag=True, help="Coarse grid (one C per decade, 3 γ, 3 folds, no refinement).")
@click.option("--seed", type=int, default=None, help="Seed of the split, the CV folds and the noise draws.")
@click.option("--unstratified", is_flag=True, help="Plain random split, as the paper did.")
@click.option("--raw-features", is_flag=True,
              help="Feed the normalised fluxes to the SVM unscaled (default: standardised per wavelength).")
@click.option("--n-jobs", type=click.IntRange(min=1), default=None, help="Threads for the search (default: all).")
@click.option("--timing-repeats", type=click.IntRange(min=0), default=10, show_default=True,
              help="Fits per kernel for the training-time table (0 = skip).")
@click.option("--model", "model_kind", type=click.Choice(["svm", "cnn"]), default="svm", show_default=True,
              help="svm: the paper's SVM search; cnn: the 1-D CNN (same split, early stopping on validation).")
@click.option("--max-epochs", type=click.IntRange(min=1), default=None,
              help="CNNs: most epochs (default 200 for spectra, 100 for images).")
@click.option("--task", type=click.Choice(["classify", "regress"]), default="classify", show_default=True,
              help="Images: classify the labels, or regress the catalogue column --target.")
@click.option("--target", default="bar_length_px", show_default=True,
              help="Images, --task regress: the column to predict (on the images where it is positive).")
@click.option("--augment", is_flag=True, help="Images: turn and flip the training batches at random.")
def train(dataset, out, n_classes, kernels, quick, seed, unstratified, raw_features, n_jobs, timing_repeats,
          model_kind, max_epochs, task, target, augment):
    """Train a classifier on DATASET, evaluate it on the test part, and save it.

    SVM (default) follows Peruzzi et al. (2021): 64/16/20 split, 5-fold CV macro F over C (and γ), refinement
    around the best C, choice of kernel on the validation set, refit on train + validation, test metrics,
    confusion matrices, noise robustness and training times.  --model cnn trains the 1-D CNN on the same
    split (train part, early stopping on the validation part) and writes the same test tables.

    An image set (images.h5 from `astroxai simulate --kind radio|galaxy`) trains a 2-D CNN instead: a
    morphology classifier, or with --task regress a regressor of --target (e.g. the bar length).
    """
    if _is_image_set(dataset):
        from astroxai.images.study import DEFAULT_IMAGE_TRAIN_SEED, ImageTrainConfig, train_image_study

        cfg = ImageTrainConfig(task=task, target=target, seed=DEFAULT_IMAGE_TRAIN_SEED if seed is None else seed,
                               augment=augment)
        if max_epochs is not None:
            cfg.max_epochs = max_epochs
        try:
            train_image_study(_load_images(dataset), out, cfg,
                              progress=lambda it, total: _progress(it, "CNN epochs", total, unit="epoch"),
                              echo=click.echo, dataset_path=str(dataset))
        except ValueError as error:
            raise click.ClickException(str(error)) from None
        return
    from astroxai.models.study import DEFAULT_TRAIN_SEED, TrainConfig, train_cnn_study, train_study
    from astroxai.models.svm import KERNELS

    chosen = tuple(k.strip() for k in kernels.split(",") if k.strip())
    unknown = [k for k in chosen if k not in KERNELS]
    if unknown or not chosen:
        raise click.BadParameter(f"unknown kernels {unknown}; choose from {', '.join(KERNELS)}",
                                 param_hint="--kernels")
    cfg = TrainConfig(classes=int(n_classes), kernels=chosen, quick=quick,
                      seed=DEFAULT_TRAIN_SEED if seed is None else seed, stratify=not unstratified,
                      standardise=not raw_features, n_jobs=n_jobs, timing_repeats=timing_repeats)
    data = _load_dataset(dataset)
    try:
        if model_kind == "cnn":
            from astroxai.models.cnn import CNNConfig

            train_cnn_study(data, out, cfg, CNNConfig(seed=cfg.seed, max_epochs=max_epochs or 200),
                            progress=lambda it, total: _progress(it, "CNN epochs", total, unit="epoch"),
                            echo=click.echo, dataset_path=str(dataset))
        else:
            train_study(data, out, cfg, progress=_progress_tasks, echo=click.echo, dataset_path=str(dataset))
    except ValueError as error:
        raise click.ClickException(str(error)) from None


@main.command()
@click.argument("model_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("dataset", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--part", type=click.Choice(["train", "validation", "test"]), default=None,
              help="Only the spectra of this part of the model's own split.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the noise draws.")
def evaluate(model_dir, dataset, out, part, seed):
    """Metrics, confusion matrices, noise robustness and per-spectrum predictions of a saved model.

    DATASET must be reduced onto the model's grid; spectra without one of the model's labels are left out.
    An image model takes an image set (images.h5) and writes its metrics (classifier) or r and RMSE (regressor).
    """
    from astroxai.models.persist import GridMismatchError, ModelLoadError
    from astroxai.models.study import evaluate_model

    if _model_kind(model_dir) == "torch-image-cnn":
        from astroxai.images.study import evaluate_image_model

        try:
            evaluate_image_model(model_dir, _load_images(dataset), out, part=part, echo=click.echo)
        except (ModelLoadError, ValueError) as error:
            raise click.ClickException(str(error)) from None
        return

    data = _load_dataset(dataset)
    try:
        evaluate_model(model_dir, data, out, part=part, seed=seed, echo=click.echo)
    except (ModelLoadError, GridMismatchError, ValueError) as error:
        raise click.ClickException(str(error)) from None


@main.command()
@click.argument("model_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Predictions CSV: id, file, status, predicted, p_<class>..., reason.")
@click.option("--catalog", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="CSV with columns file,label,z giving missing redshifts.")
@click.option("--chunk-size", type=click.IntRange(min=1), default=256, show_default=True)
def predict(model_dir, inputs, out, catalog, chunk_size):
    """Classify raw spectra (files, folders or catalogue CSVs) with a saved model.

    Each file is reduced on the fly with the model's own grid and settings.  Every input gets a row;
    those that cannot be used are marked rejected, with the reason.
    """
    from astroxai.io import collect_inputs
    from astroxai.models.persist import ModelLoadError
    from astroxai.models.predict import predict_inputs

    items = collect_inputs(inputs, catalog)
    if not items:
        raise click.ClickException("no spectrum files found in the inputs")
    try:
        summary = predict_inputs(model_dir, items, out, chunk_size=chunk_size, progress=_progress)
    except ModelLoadError as error:
        raise click.ClickException(str(error)) from None
    counts = ", ".join(f"{n} {c}" for c, n in summary["predicted"].items())
    click.echo(f"classified {summary['n_classified']} of {summary['n_inputs']} inputs ({counts}) → {out}")
    if summary["n_rejected"]:
        click.echo(f"rejected {summary['n_rejected']}: reasons in the 'reason' column")


@main.command()
@click.argument("model_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for explanations.csv, explanations.h5 and figures/.")
@click.option("--method", type=click.Choice(["exact", "finite-difference", "smoothgrad", "integrated-gradients",
                                            "occlusion", "lime", "kernelshap"]), default="exact", show_default=True,
              help="exact: autograd saliency (captum); finite-difference: the paper's recipe; else a captum method.")
@click.option("--baseline", type=click.Choice(["median", "continuum", "zero"]), default="median", show_default=True,
              help="IG, occlusion, LIME, KernelSHAP: the median training spectrum or each spectrum's continuum.")
@click.option("--segments", type=click.Choice(["windows", "lines"]), default="windows", show_default=True,
              help="LIME, KernelSHAP: 40 equal wavelength windows, or ±2000 km/s around each line + continuum windows.")
@click.option("--target", default="predicted", show_default=True,
              help="Class whose probability is explained: 'predicted' or a class name.")
@click.option("--log", "log_p", is_flag=True, help="Explain log p (the paper's text) instead of p (its recipe).")
@click.option("--scheme", type=click.Choice(["forward", "central"]), default="forward", show_default=True,
              help="Finite differences: the paper's forward differences or central ones.")
@click.option("--eps", type=click.FloatRange(min=0, min_open=True), default=0.01, show_default=True,
              help="Finite differences: relative perturbation of each flux.")
@click.option("--catalog", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="CSV with columns file,label,z giving labels and missing redshifts.")
@click.option("--max-figures", type=click.IntRange(min=0), default=50, show_default=True,
              help="Saliency figures for the first N explained spectra (images: gallery rows).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of SmoothGrad's and LIME's draws.")
def explain(model_dir, inputs, out, method, baseline, segments, target, log_p, scheme, eps, catalog, max_figures,
            seed):
    """Attribution maps of a saved model (SVM or CNN) for raw spectra and/or reduced data sets (.h5).

    Raw files are reduced with the model's own grid and settings; every input gets a row in
    explanations.csv (kept, or rejected with the reason).  Blue in the figures: more flux there raises
    the explained probability; red: lowers it.

    An image classifier takes image sets (images.h5) and/or FITS, PNG or JPEG cutouts (every file gets a row
    in inputs.csv: kept or rejected with the reason); 'exact' means saliency there, and with the simulator's
    masks the share of attribution on each true component is written per image.
    """
    from astroxai.explain.study import explain_inputs
    from astroxai.models.persist import GridMismatchError, ModelLoadError

    if _model_kind(model_dir) == "torch-image-cnn":
        from astroxai.images.study import explain_image_inputs

        try:
            explain_image_inputs(model_dir, inputs, out, method="saliency" if method == "exact" else method,
                                 target=None if target == "predicted" else target, seed=seed,
                                 max_figures=min(max_figures, 12), echo=click.echo)
        except (ModelLoadError, ValueError) as error:
            raise click.ClickException(str(error)) from None
        return

    try:
        explain_inputs(model_dir, inputs, out, method=method, target=None if target == "predicted" else target,
                       log=log_p, scheme=scheme, eps=eps, baseline=baseline, catalog=catalog, max_figures=max_figures,
                       options={"lines": segments == "lines"} if method in ("lime", "kernelshap") else None,
                       progress=_progress, echo=click.echo)
    except (ModelLoadError, GridMismatchError, ValueError) as error:
        raise click.ClickException(str(error)) from None


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
def embed(dataset, out, perplexities, standardise, subsets, seed, place):
    """t-SNE maps of a reduced data set (openTSNE), as in the paper's Fig. 4 and appendix."""
    import numpy as np

    from astroxai.explain.embed import FEATURES, PAPER_PERPLEXITIES, SUBSETS, embed_study, place_on_map
    from astroxai.plots import save_figure
    from astroxai.plots.explain import plot_tsne
    from astroxai.tables import write_table

    data = _load_dataset(dataset)
    features = FEATURES if standardise is None else (("standardised",) if standardise else ("raw",))
    try:
        result = embed_study(data.flux, data.labels, data.ids, out, perplexities=perplexities or PAPER_PERPLEXITIES,
                             subsets=subsets or tuple(SUBSETS), features=features, seed=seed,
                             progress=lambda it, total: _progress(it, "t-SNE maps", total, unit="map"),
                             echo=click.echo)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    if place is None:
        return
    new = _load_dataset(place)
    if new.flux.shape[1] != data.flux.shape[1] or not np.allclose(new.wavelength, data.wavelength):
        raise click.ClickException(f"{place} is on another wavelength grid than {dataset}")
    rows = []
    top = max(r["spec"].perplexity for r in result["results"])
    for fitted in [r for r in result["results"] if r["spec"].perplexity == top]:
        spec = fitted["spec"]
        coords = place_on_map(data.flux[fitted["rows"]], fitted["coords"], new.flux, spec, seed=seed)
        rows += [{"map": spec.key, "id": i, "label": lab, "x": float(x), "y": float(y)}
                 for i, lab, (x, y) in zip(new.ids, new.labels, coords, strict=True)]
        marked = [{"position": c, "number": k + 1, "correct": None} for k, c in enumerate(coords[:50])]
        save_figure(plot_tsne(fitted["coords"], fitted["labels"], marked=marked,
                              title=f"{place.name} placed on {spec.key}"),
                    out / "figures" / f"placed_{spec.subset}_{spec.features}")
    write_table(rows, out / "placed", {"source": str(place), "method": "openTSNE transform (map held fixed)"})
    click.echo(f"placed {len(new)} spectra of {place} on {len(rows) // max(1, len(new))} map(s) → {out / 'placed.csv'}")


@main.command()
@click.argument("dataset", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("model_dirs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for trust.csv/json and figures/.")
@click.option("--kernels", default="", help="Also refit these kernels of the SVM folders' searches (e.g. linear,rbf).")
@click.option("--methods", default=",".join(("saliency", "smoothgrad", "integrated-gradients", "occlusion", "lime",
                                             "kernelshap")), show_default=True)
@click.option("--n-spectra", type=click.IntRange(min=2), default=100, show_default=True,
              help="Test spectra drawn (seeded) from the first model's split.")
@click.option("--baseline", type=click.Choice(["median", "continuum", "zero"]), default="median", show_default=True)
@click.option("--catalog", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The simulator's catalog.csv: enables the ground-truth scores.")
@click.option("--seed", type=int, default=0, show_default=True)
def trust(dataset, model_dirs, out, kernels, methods, n_spectra, baseline, catalog, seed):
    """Every explanation method × every model on the same test spectra, with trust scores.

    Faithfulness (deletion/insertion vs random order), sanity (model randomisation), stability (noise at each
    spectrum's own level) and, with the simulator's catalogue, the share of attribution on the true broad-line
    wavelengths and the Hβ core/wing sign test.
    """
    from astroxai.explain.compare import trust_models
    from astroxai.models.persist import GridMismatchError, ModelLoadError

    data = _load_dataset(dataset)
    try:
        trust_models(data, model_dirs, out, kernels=[k.strip() for k in kernels.split(",") if k.strip()],
                     methods=[m.strip() for m in methods.split(",") if m.strip()], n_spectra=n_spectra,
                     baseline=baseline, catalog=catalog, seed=seed, echo=click.echo)
    except (ModelLoadError, GridMismatchError, ValueError) as error:
        raise click.ClickException(str(error)) from None


@main.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("runs/default"),
              show_default=True, help="Folder for everything the run writes.")
@click.option("--config", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="JSON file overriding the defaults (keys: counts, seed, n_wave, range).")
@click.option("--seed", type=int, default=None, help="Random seed for the simulation.")
@click.option("--kind", type=click.Choice(["spectra", "radio", "galaxy"]), default="spectra", show_default=True,
              help="spectra: the AGN study; radio: LIME on radio morphologies (seed 002); galaxy: bar lengths from "
                   "SmoothGrad maps (seed 003).")
def run(out: Path, config: Path | None, seed: int | None, kind: str):
    """The main job on the embedded default data: simulate, reduce, classify, explain, map, report.

    Writes OUT/simulated (FITS + catalogue), OUT/dataset.h5 with its manifest, OUT/models (3- and
    2-class SVMs with their tables and figures), OUT/embed (t-SNE maps), OUT/explain (saliency maps,
    gallery, physics checks), OUT/explanations.h5 (every array), OUT/results.md, OUT/report.html and
    OUT/run.json (config, seed, versions, timings).

    --kind radio|galaxy runs an image study instead (default OUT: runs/radio or runs/galaxy): simulated
    cutouts, the CNN(s), explanation galleries with ground-truth overlap scores, a trust table, for galaxies
    the bar-length comparison, and OUT/report.html.
    """
    from astroxai.pipeline import RunConfig, run_pipeline

    if kind != "spectra":
        from astroxai.images.run import ImageRunConfig, run_image_pipeline

        if out == Path("runs/default"):
            out = Path("runs") / kind
        try:
            image_cfg = ImageRunConfig.from_file(config, kind) if config else ImageRunConfig(kind=kind)
        except (ValueError, TypeError) as error:
            raise click.ClickException(str(error)) from None
        if seed is not None:
            image_cfg.seed = seed
        start = time.perf_counter()
        summary = run_image_pipeline(image_cfg, out, progress=lambda it, desc, total: _progress(it, desc, total,
                                                                                                  unit="it"),
                                     echo=click.echo)
        click.echo(f"done in {time.perf_counter() - start:.0f} s; open {summary['report']} in a browser")
        return

    cfg = RunConfig.from_file(config) if config else RunConfig()
    if seed is not None:
        cfg.seed = seed
    start = time.perf_counter()
    summary = run_pipeline(cfg, out, progress=_progress, echo=click.echo, task_progress=_progress_tasks)
    for name, model in summary.get("models", {}).items():
        kind = "1-D CNN" if model["kernel"] == "cnn" else f"{model['kernel']} kernel"
        click.echo(f"{name}: {kind}, test macro F {model['test_macro_f1']:.3f} → {model['model_dir']}")
    click.echo(f"done in {time.perf_counter() - start:.0f} s; tables next to the paper's in {summary['results']}, "
               f"config/versions/timings in {out / 'run.json'}")
    if "report" in summary:
        click.echo(f"open {summary['report']} in a browser for the whole story")


if __name__ == "__main__":  # pragma: no cover
    main()
