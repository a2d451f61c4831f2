"""``astroxai trust``: every explanation method × every saved model on the same test inputs, with every trust score,
and ``astroxai embed``: t-SNE maps of a data set, with other spectra placed on them."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from astroxai.embed import MapSpec, fit_maps, save_maps
from astroxai.errors import InputError
from astroxai.explain.modality import modality_of
from astroxai.explain.trust import TRUST_METHODS, TrustSettings, trust_table
from astroxai.models import load_model
from astroxai.report.figures import save_figure
from astroxai.report.figures.explain import plot_tsne, saliency_title
from astroxai.report.layout import EmbedFiles, TrustFiles
from astroxai.report.tables import write_table
from astroxai.report.writers import write_maps, write_trust
from astroxai.simulate import read_truth

log = logging.getLogger(__name__)


def load_models(data, model_dirs, kernels=()) -> dict:
    """Name → fitted model for every model folder, plus the SVM folders' other ``kernels`` refitted
    (:meth:`SVMClassifier.with_kernel`).  Names: ``SVM <kernel>``, ``CNN``, or the folder's name for image models."""
    models = {}
    for folder in map(Path, model_dirs):
        model = load_model(folder)
        model.check_grid_of(data.grid)
        if hasattr(model, "with_kernel"):  # an SVM: its other kernels refitted on the same search
            for kernel in [model.kernel_, *[k for k in kernels if k != model.kernel_]]:
                models[f"SVM {kernel}"] = model.with_kernel(data, kernel)
        elif model.kind == "torch-cnn":
            models["CNN" if "CNN" not in models else f"CNN ({folder.name})"] = model
        else:
            models[folder.name] = model
    return dict(sorted(models.items(), key=lambda item: (item[0].startswith("CNN"), item[0])))


def _side_by_side(table, models, data, rows, truth) -> tuple[int, str]:
    """The spectrum shown explained by every method for every model: one with a broad Hβ that every model classifies
    correctly, preferring an intermediate (the hard class) and, among those, the one whose first model is least
    saturated (probabilities at 1 − 10⁻⁷ flatten the SVM's gradients), so that the methods have physics to find and
    a gradient to follow."""
    labels = data.labels[rows]
    first = next(iter(models))
    explained = {name: table.explanations[(name, table.rows[0].method)] for name in models}
    correct = np.all([e.targets == labels for e in explained.values()], axis=0)
    candidates = np.flatnonzero(correct & (truth["broad"] if truth is not None else True))
    top = explained[first].probabilities.max(axis=1)
    pick = int(min(candidates, key=lambda i: (labels[i] != "intermediate", abs(top[i] - 0.9)))) if candidates.size \
        else 0
    e = explained[first]
    title = saliency_title(e.ids[pick], labels[pick], e.targets[pick],
                           dict(zip(e.classes, e.probabilities[pick], strict=True))) + f"   (probabilities: {first})"
    return pick, title


def trust_inputs(data, first_model, *, n_inputs: int = 100, catalog=None, seed: int = 0) -> dict:
    """What a trust table is computed on: ``n_inputs`` test inputs of the first model (a seeded draw from its split),
    the simulator's truth (when ``catalog`` describes them) and each input's noise level (where its modality knows
    one: spectra)."""
    rows = np.flatnonzero(np.isin(data.labels, list(first_model.classes_)))
    if first_model.split_ is not None:
        rows = rows[first_model.split_.contains(data.ids[rows], "test")]
    if rows.size == 0:
        raise InputError("no test input of the first model is in the data set")
    rows = np.sort(np.random.default_rng(seed).choice(rows, min(n_inputs, rows.size), replace=False))
    truth = read_truth(catalog, data.ids[rows]) if catalog else None
    if catalog and truth is None:
        log.warning("%s does not describe these inputs: no ground-truth scores", catalog)
    return {"rows": rows, "truth": truth, "sigma": modality_of(data).noise_level(data.subset(rows))}


def model_trust(data, model, name: str, inputs: dict, *, methods=TRUST_METHODS,
                settings: TrustSettings | None = None, progress=None):
    """The trust table rows of one model (every method) on :func:`trust_inputs`."""
    return trust_table({name: model}, data, inputs["rows"], methods=methods, truth=inputs["truth"],
                       sigma=inputs["sigma"], settings=settings or TrustSettings(), progress=progress)


def merge_tables(tables: list):
    """One trust table from the tables of several models, or of several methods of one model, in the given order."""
    merged = tables[0]
    for table in tables[1:]:
        merged.rows += table.rows
        for model, curves in table.curves.items():
            merged.curves.setdefault(model, {}).update(curves)
        merged.explanations.update(table.explanations)
    return merged


def write_trust_folder(out, table, data, inputs: dict) -> dict:
    """Write a merged trust table into ``out`` (a folder or its :class:`~astroxai.report.layout.TrustFiles`; and,
    for spectra, the spectrum every method explains for every model)."""
    rows, models = inputs["rows"], list(table.curves)
    side = _side_by_side(table, models, data, rows, inputs["truth"]) if modality_of(data).side_by_side else None
    files = out if isinstance(out, TrustFiles) else TrustFiles(out)
    figures = write_trust(files, table, ids=data.ids[rows], labels=data.labels[rows], side_by_side=side)
    return {"rows": table.rows, "figures": [str(f) for f in figures], "table": table,
            "example": None if side is None else str(data.ids[rows][side[0]])}


def trust_folders(data, model_dirs, out, settings: TrustSettings | None = None, *, kernels=(),
                  methods=TRUST_METHODS, n_inputs: int = 100, catalog=None, progress=None) -> dict:
    """``astroxai trust``: the trust table on :func:`trust_inputs` for saved model folders (and the SVM folders'
    other ``kernels``): spectra get the stability score at each spectrum's own noise level and, with the simulator's
    ``catalog``, the ground truth; images with component masks the share on the defining component.  Writes
    ``trust.csv/json`` and the figures into ``out``."""
    settings = settings or TrustSettings()
    models = load_models(data, model_dirs, kernels)
    inputs = trust_inputs(data, load_model(model_dirs[0]), n_inputs=n_inputs, catalog=catalog, seed=settings.seed)
    log.info("trust: %d methods × %d models on %d test %s", len(methods), len(models), inputs["rows"].size,
             data.NOUN)
    tables = [model_trust(data, model, name, inputs, methods=methods, settings=settings, progress=progress)
              for name, model in models.items()]
    return write_trust_folder(out, merge_tables(tables), data, inputs)


def embed_maps(data, out, specs, *, seed: int = 0, data_file=None, dataset=None, progress=None) -> dict:
    """Every map of ``specs`` (:func:`astroxai.embed.paper_specs`): the maps in ``data_file`` (default: ``out``'s
    :attr:`~astroxai.report.layout.EmbedFiles.maps`), the KL/time table and the figures; ``dataset``: the file
    ``data`` came from."""
    maps = fit_maps(data, specs, seed=seed, progress=progress)
    return {"maps": maps, **write_embedding(out, maps, seed=seed, data_file=data_file, dataset=dataset)}


def write_embedding(out, maps, *, seed: int = 0, data_file=None, dataset=None) -> dict:
    """Fitted maps into ``data_file`` (default: ``out``'s maps file), with the KL/time table and the figures.
    ``dataset``: the data set the maps were made from, recorded relative to ``data_file`` so that new spectra can
    be placed on them later (:func:`astroxai.embed.tsne.reference_map`)."""
    files = out if isinstance(out, EmbedFiles) else EmbedFiles(out)
    data_file = Path(data_file) if data_file else files.maps
    record = {"seed": seed, "library": "openTSNE", "perplexities": sorted({m.spec.perplexity for m in maps})}
    if dataset is not None:
        record["dataset"] = os.path.relpath(Path(dataset).absolute(), data_file.absolute().parent)
    data_file = save_maps(data_file, maps, {"tsne": record})
    figures = write_maps(files, maps, seed=seed)
    log.info("%d t-SNE maps (%.0f s of fitting) → %s", len(maps), sum(m.seconds for m in maps), data_file)
    return {"data_file": str(data_file), "figures": [str(f) for f in figures]}


def place_spectra(maps, new, out, *, seed: int = 0, source: str = "") -> dict:
    """Put the spectra of another data set on the largest-perplexity map(s) without refitting them (openTSNE
    ``transform``): ``placed.csv/json`` and a figure per map."""
    files = EmbedFiles(out)
    rows = []
    top = max(m.spec.perplexity for m in maps)
    for fitted in [m for m in maps if m.spec.perplexity == top]:
        if new.flux.shape[1] != fitted.reference.shape[1]:
            raise InputError(f"{source} is on another wavelength grid than the mapped spectra")
        coords = fitted.place(new.flux, seed=seed)
        rows += [{"map": fitted.spec.key, "id": i, "label": label, "x": float(x), "y": float(y)}
                 for i, label, (x, y) in zip(new.ids, new.labels, coords, strict=True)]
        marked = [{"position": c, "number": k + 1, "correct": None} for k, c in enumerate(coords[:50])]
        save_figure(plot_tsne(fitted.coords, fitted.labels, marked=marked,
                              title=f"{Path(source).name} placed on {fitted.spec.key}"),
                    files.figure(f"placed_{fitted.spec.subset}_{fitted.spec.features}"))
    write_table(rows, files.placed, {"source": str(source), "method": "openTSNE transform (map held fixed)"})
    return {"rows": rows}


__all__ = ["MapSpec", "embed_maps", "load_models", "merge_tables", "model_trust", "place_spectra",
           "trust_folders", "trust_inputs", "write_embedding", "write_trust_folder"]
