"""The commands that train and use models: ``train``, ``evaluate``, ``predict``."""

from __future__ import annotations

from pathlib import Path

import click

from astroxai.cli import CATALOG, INPUTS, MODEL_DIR, echo_note, invocation, main, progress_bar, reports_errors


def dataset_argument(context, parameter, value: str) -> str:
    """DATASET of ``train``: a data set file, or the name of a built-in one."""
    from astroxai.workflows.inputs import NAMED_SETS

    if value in NAMED_SETS or Path(value).is_file():
        return value
    raise click.BadParameter(f"{value!r} is neither a data set file nor a built-in set ({', '.join(NAMED_SETS)})")


@main.command()
@click.argument("dataset", callback=dataset_argument)
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
@click.option("--model", "model_kind", type=click.Choice(["svm", "cnn", "equivariant"]), default=None,
              help="Spectra: svm (default, the paper's study) or cnn (the 1-D CNN, same split). Images: cnn "
                   "(default) or equivariant (convolutions that respect the eight turns and flips of the pixel grid; "
                   "classifiers only).")
@click.option("--max-epochs", type=click.IntRange(min=1), default=None,
              help="CNNs: most epochs (default 200 for spectra, 100 for image classifiers, 200 for regressors).")
@click.option("--task", type=click.Choice(["classify", "regress"]), default="classify", show_default=True,
              help="Images: classify the labels, or regress the catalogue column --target.")
@click.option("--target", default="bar_length_px", show_default=True,
              help="Images, --task regress: the column to predict (on the images where it is positive).")
@click.option("--augment", is_flag=True, help="Images: turn and flip the training batches at random.")
@click.option("--average-views", is_flag=True,
              help="Images: every prediction and explanation is the mean over the eight turns and flips of the image "
                   "(test-time averaging; eight times the cost).")
@reports_errors
def train(dataset, out, n_classes, kernels, quick, seed, unstratified, standardise, n_jobs, timing_repeats,
          model_kind, max_epochs, task, target, augment, average_views):
    """Train a model on DATASET, evaluate it on the test part of its split, and save it into OUT.

    Spectra (a SpectraSet from `astroxai reduce`): the SVM study of Peruzzi et al. (2021) — 64/16/20 split, 5-fold
    CV macro F over C (and γ), refinement around the best C, choice of kernel on the validation set, refit on
    train + validation, test metrics, confusion matrices, noise robustness and training times; --model cnn trains
    the 1-D CNN on the same split (early stopping on the validation part) and writes the same test tables.

    Images (images.h5 from `astroxai simulate --kind radio|galaxy`, or `first`: the real FIRST radio galaxies of
    Griese et al. 2023 on their literature split): a 2-D CNN, a morphology classifier or, with --task regress, a
    regressor of --target (e.g. the bar length).  A model trained on `first` records how the survey's cutouts were
    cut and binned, and takes FIRST cutouts as they come.

    model.json records this command, the seed and the SHA-256 of the data set's content.
    """
    from astroxai.workflows.inputs import named_or_file_dataset
    from astroxai.workflows.train import ModelChoice, estimator_for
    from astroxai.workflows.train import train as train_workflow

    data = named_or_file_dataset(dataset, finite=True, progress=progress_bar)
    model = estimator_for(data, ModelChoice(model_kind, task, int(n_classes),
                                            tuple(k.strip() for k in kernels.split(",") if k.strip()), quick, seed,
                                            not unstratified, standardise, n_jobs, max_epochs, target, augment,
                                            average_views))
    result = train_workflow(data, model, out, dataset_path=str(dataset), timing_repeats=timing_repeats,
                            progress=progress_bar, command=invocation())
    test = result.test
    score = (f"test r {test['r']:.3f}, RMSE {test['rmse']:.3f}" if model.task == "regress"
             else f"test macro F {test['macro']['f1']:.4f}, accuracy {test['accuracy']:.4f}")
    click.echo(f"{type(model).__name__}{f' ({model.kernel_} kernel)' if hasattr(model, 'kernel_') else ''}: "
               f"{score} → {out}")


@main.command()
@MODEL_DIR
@click.argument("dataset", callback=dataset_argument)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for metrics, confusion, noise and predictions (CSV + JSON) and figures.")
@click.option("--part", type=click.Choice(["train", "validation", "test"]), default=None,
              help="Only the inputs of this part of the model's own split.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the noise draws.")
@reports_errors
def evaluate(model_dir, dataset, out, part, seed):
    """Metrics, confusion matrices, noise robustness (spectra) and per-input predictions of a saved model.

    MODEL_DIR is a model folder or a bundled model's name (`astroxai models`).  DATASET (a file, or `first`: the
    real FIRST galaxies) must be on the model's grid (spectra reduced onto its wavelengths, images of its size);
    inputs without one of the model's labels are left out.  A regressor writes r and RMSE against its target column.

    \b
    Example: the bundled FIRST network on the literature's 200 test images
      astroxai evaluate first-radio first --part test --out first-test/
    """
    from astroxai.workflows.inputs import named_or_file_dataset
    from astroxai.workflows.train import evaluate_folder

    data = named_or_file_dataset(dataset, finite=True, progress=progress_bar)
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
@reports_errors
def predict(model_dir, inputs, out, catalog, chunk_size):
    """Classify raw spectra (files, folders or catalogue CSVs), data sets or image files with a saved model.

    MODEL_DIR is a model folder or a bundled model's name (`astroxai models`).  Each spectrum file is reduced on
    the fly with the model's own grid and settings; each image file is cut and binned as the model's training
    images were (a FIRST model takes FIRST cutouts at 1.8″ pixels as they come).  Every input gets a row; those that
    cannot be used are marked rejected, with the reason.

    \b
    Example: FIRST cutouts (PNG or FITS) classified by the bundled network, no training needed
      astroxai predict first-radio cutouts/ --out classes.csv
    """
    from astroxai.workflows.train import predict_inputs

    echo_note(model_dir)
    summary = predict_inputs(model_dir, inputs, out, catalog=catalog, chunk_size=chunk_size, progress=progress_bar)
    counts = ", ".join(f"{n} {c}" for c, n in summary["predicted"].items())
    click.echo(f"classified {summary['n_classified']} of {summary['n_inputs']} inputs"
               + (f" ({counts})" if counts else "") + f" → {out}")
    if summary["n_labelled"]:
        click.echo(f"accuracy {summary['n_correct'] / summary['n_labelled']:.3f} on the {summary['n_labelled']} "
                   "inputs whose label (from --catalog or the data set) is one of the model's classes")
    if summary["n_rejected"]:
        click.echo(f"rejected {summary['n_rejected']}: reasons in the 'reason' column")
    if summary["n_out_of_distribution"]:
        click.echo(f"{summary['n_out_of_distribution']} classified inputs lie outside what the model was trained on "
                   "(out_of_distribution = True, ood_score > 1): do not trust their classes")


@main.command()
def models():
    """The models shipped with astroxai: name, kind, the data each was trained on, its classes and its recorded
    test scores.  Use a name wherever a command takes a model folder (predict, explain, evaluate, survey, trust).

    \b
    Example:
      astroxai predict first-radio cutouts/ --out classes.csv
      astroxai explain first-radio cutouts/ --method lime --out why/
    """
    from astroxai.models.bundled import describe, names

    shipped = names()
    if not shipped:
        click.echo("no bundled model is installed (the package data is missing: reinstall astroxai)")
        return
    for name in shipped:
        model = describe(name)
        scores = []
        if model.test_accuracy is not None:
            scores.append(f"accuracy {model.test_accuracy:.3f}")
        if model.test_macro_f1 is not None:
            scores.append(f"macro F1 {model.test_macro_f1:.3f}")
        if model.test_r is not None:
            scores.append(f"r {model.test_r:.3f}")
        tested = f" on {model.n_test} test inputs" if model.n_test else ""
        click.echo(f"{model.name}  ({model.kind}, {model.megabytes:.1f} MB)\n"
                   + (f"  note:       {model.note}\n" if model.note else "")
                   + f"  data:       {model.data}\n"
                   f"  classes:    {model.classes}\n"
                   f"  test:       {', '.join(scores) or 'not recorded'}{tested}\n"
                   f"  trained by: {model.trained_by or 'not recorded'}")
