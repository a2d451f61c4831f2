"""The commands that train and use models: ``train``, ``evaluate``, ``predict``."""

from __future__ import annotations

from pathlib import Path

import click

from astroxai.cli import CATALOG, INPUTS, MODEL_DIR, main, progress_bar, reports_errors


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
@reports_errors
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
    from astroxai.workflows.train import ModelChoice, estimator_for
    from astroxai.workflows.train import train as train_workflow

    data = load_dataset(dataset, finite=True)
    model = estimator_for(data, ModelChoice(model_kind, task, int(n_classes),
                                            tuple(k.strip() for k in kernels.split(",") if k.strip()), quick, seed,
                                            not unstratified, standardise, n_jobs, max_epochs, target, augment))
    result = train_workflow(data, model, out, dataset_path=str(dataset), timing_repeats=timing_repeats,
                            progress=progress_bar)
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
@reports_errors
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
@reports_errors
def predict(model_dir, inputs, out, catalog, chunk_size):
    """Classify raw spectra (files, folders or catalogue CSVs), data sets or image files with a saved model.

    Each spectrum file is reduced on the fly with the model's own grid and settings.  Every input gets a row;
    those that cannot be used are marked rejected, with the reason.
    """
    from astroxai.workflows.train import predict_inputs

    summary = predict_inputs(model_dir, inputs, out, catalog=catalog, chunk_size=chunk_size, progress=progress_bar)
    counts = ", ".join(f"{n} {c}" for c, n in summary["predicted"].items())
    click.echo(f"classified {summary['n_classified']} of {summary['n_inputs']} inputs"
               + (f" ({counts})" if counts else "") + f" → {out}")
    if summary["n_rejected"]:
        click.echo(f"rejected {summary['n_rejected']}: reasons in the 'reason' column")
    if summary["n_out_of_distribution"]:
        click.echo(f"{summary['n_out_of_distribution']} classified inputs lie outside what the model was trained on "
                   "(out_of_distribution = True, ood_score > 1): do not trust their classes")
