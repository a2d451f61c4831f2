"""Writers of explanations: the saliency study (:class:`~astroxai.explain.study.SaliencyStudy`) into its tables and
figures, the figures of one explained set for each kind of input (:func:`write_explanation_figures`, with a registry
a new modality adds its drawing to), and the small helpers every writer of a map shares (captions, file names made
from ids, probability columns).  They write and compute nothing else."""

from __future__ import annotations

import functools
import re
from pathlib import Path

import numpy as np

from astroxai.report.figures import class_name, plain, save_figure
from astroxai.report.figures.explain import (
    plot_class_saliency,
    plot_gallery,
    plot_saliency,
    plot_saliency_with_map,
    plot_tsne,
    saliency_title,
)
from astroxai.report.tables import write_table

ZERO_MAP_NOTE = "p at libsvm's clip (1 − 10⁻⁷): small changes cannot move it, the map is zero"
PHYSICS_DESCRIPTION = ("Hβ core (|v|<500 km/s) vs wings (1000–4000 km/s) sign test on spectra with a broad Hβ, and "
                       "the share of |saliency| within ±2000 km/s of the marked lines")


def safe_name(text: str, limit: int = 80) -> str:
    """A file-name part made from data (an id): letters, digits, ``.-_+`` only, at most ``limit`` characters, never
    empty or a path."""
    cleaned = re.sub(r"[^A-Za-z0-9.+_-]", "_", str(text)).strip("._") or "input"
    return cleaned[:limit]


def probability_columns(explanation, j: int, digits: int = 6) -> dict:
    return {f"p_{c}": round(float(p), digits) for c, p in zip(explanation.classes, explanation.probabilities[j],
                                                              strict=True)}


def maps_by_target(explanation) -> dict:
    """The non-zero maps of each explained class (classes without any left out), for the per-class curves."""
    by_class = {c: explanation.maps[(explanation.targets == c) & ~explanation.zero_map] for c in explanation.classes}
    return {c: maps for c, maps in by_class.items() if len(maps)}


def caption(explanation, j: int, label) -> tuple[str, str]:
    """Title (id, true and predicted class, probabilities, the target when it is not the prediction) and the note of
    a zero map, for input ``j``."""
    probs = dict(zip(explanation.classes, explanation.probabilities[j], strict=True))
    title = saliency_title(explanation.ids[j], label, explanation.predicted[j], probs, explanation.targets[j])
    return title, ZERO_MAP_NOTE if explanation.zero_map[j] else ""


def _gallery_rows(study, numbers, index) -> list[dict]:
    """The paper's Tables 10–11: each gallery spectrum's probabilities and Hβ core/wing means."""
    e = study.explanation
    return [{"number": int(number), "id": str(e.ids[i]), "label": str(study.labels[i]),
             "predicted": str(e.predicted[i]), **probability_columns(e, i, digits=4), "zero_map": bool(e.zero_map[i]),
             "hbeta_core_mean": study.science[i]["hbeta_core_mean"],
             "hbeta_wing_mean": study.science[i]["hbeta_wing_mean"]}
            for number, i in zip(numbers, index, strict=True)]


def spectrum_rows(study) -> list[dict]:
    """Every explained spectrum: its classes, probabilities and science columns (what the report's explorer shows
    and filters by, read back instead of recomputed)."""
    e = study.explanation
    return [{"id": str(e.ids[j]), "label": str(study.labels[j]), "predicted": str(e.predicted[j]),
             "target": str(e.targets[j]), **probability_columns(e, j), "zero_map": bool(e.zero_map[j]),
             **study.science[j], "broad": "" if study.broad is None else bool(study.broad[j])}
            for j in range(len(e))]


def write_saliency_study(layout, study, data, embedding=None) -> list[Path]:
    """The saliency study's tables (``misclassified``, ``correct_sample``, ``physics`` unless skipped, ``spectra``)
    and figures (per-class curves, one figure per gallery spectrum — beside its place on ``embedding``, an
    :class:`~astroxai.embed.EmbeddingMap`, when given —, the explained spectra on the map, gallery pages)."""
    numbers = np.arange(1, len(study.gallery) + 1)
    n_wrong = len(study.wrong)
    write_table(_gallery_rows(study, numbers[:n_wrong], study.wrong), layout.explain.table("misclassified"),
                {"table": "Table 10 analogue: probabilities of misclassified test spectra"})
    write_table(_gallery_rows(study, numbers[n_wrong:], study.correct), layout.explain.table("correct_sample"),
                {"table": "Table 11 analogue: a seeded random sample of correct spectra", "seed": study.seed})
    if not study.skipped:
        write_table([{"quantity": k, "value": v} for k, v in study.physics.items()], layout.explain.table("physics"),
                    {"description": PHYSICS_DESCRIPTION})
    write_table(spectrum_rows(study), layout.explain.table("spectra"), {"skipped": study.skipped,
                                                                         "model": study.model})
    figures = save_figure(plot_class_saliency(data.wavelength, maps_by_target(study.explanation),
                                              title="Saliency of the test spectra by explained class (median, "
                                                    "16–84 %)"), layout.explain.figure("class_saliency"))
    gallery, more = _gallery_figures(layout, study, data, embedding, numbers)
    return figures + more + _gallery_pages(layout, data.wavelength, gallery)


def _gallery_figures(layout, study, data, embedding, numbers) -> tuple[list[dict], list[Path]]:
    """One PNG per gallery spectrum (the report lists them; the gallery pages hold every map as PDF) and the
    explained spectra marked on the map."""
    e, figures, gallery = study.explanation, [], []
    position = {} if embedding is None else {str(i): k for k, i in enumerate(embedding.ids)}
    for number, i in zip(numbers, study.gallery, strict=True):
        title, note = caption(e, i, study.labels[i])
        title = f"{number}.  {title}"
        stem = layout.explain.gallery / f"{number:02d}_{safe_name(data.ids[i])}"
        correct = bool(study.labels[i] == e.predicted[i])
        if str(data.ids[i]) in position:
            fig = plot_saliency_with_map(data.wavelength, data.flux[i], e.maps[i], title, embedding.coords,
                                         embedding.labels, embedding.coords[position[str(data.ids[i])]], number,
                                         correct, note=note)
        else:
            fig = plot_saliency(data.wavelength, data.flux[i], e.maps[i], title, note=note)
        figures += save_figure(fig, stem, formats=("png",))
        gallery.append({"number": int(number), "id": str(data.ids[i]), "correct": correct, "flux": data.flux[i],
                        "saliency": e.maps[i], "title": title, "note": note})
    if embedding is not None:
        marked = [{"position": embedding.coords[position[g["id"]]], "number": g["number"], "correct": g["correct"]}
                  for g in gallery if g["id"] in position]
        figures += save_figure(plot_tsne(embedding.coords, embedding.labels, marked=marked,
                                         title="Explained spectra on the t-SNE map (green: correct, red: "
                                               f"misclassified)\n{embedding.spec.key}"),
                               layout.explain.figure("tsne_explained"))
    return gallery, figures


def _figure_pages(entries: list, per_page: int, draw, files, prefix: str) -> list[Path]:
    """``entries`` drawn ``per_page`` to a figure by ``draw`` and saved as ``files.figure(f"{prefix}_<page>")``,
    pages numbered from 1."""
    figures = []
    for page, start in enumerate(range(0, len(entries), per_page), start=1):
        figures += save_figure(draw(entries[start:start + per_page]), files.figure(f"{prefix}_{page}"))
    return figures


def _gallery_pages(layout, wavelength, gallery: list[dict]) -> list[Path]:
    figures = []
    for name, part in (("misclassified", [g for g in gallery if not g["correct"]]),
                       ("correct", [g for g in gallery if g["correct"]])):
        figures += _figure_pages(part, 12, functools.partial(plot_gallery, wavelength), layout.explain,
                                 f"gallery_{name}")
    return figures





def _spectra_figures(files, explanation, data, rows: list[dict], count: int) -> list[Path]:
    """A colour-coded spectrum for each of the first ``count`` inputs, and the per-class curves."""
    figures = []
    for j, row in enumerate(rows[:count]):
        title, note = caption(explanation, j, row.get("label") or "unknown")
        figures += save_figure(plot_saliency(data.wavelength, data.flux[j], explanation.maps[j], title, note=note),
                               files.figure(f"saliency_{j + 1:04d}_{safe_name(row['id'])}"))
    by_class = maps_by_target(explanation)
    if by_class:
        figures += save_figure(plot_class_saliency(data.wavelength, by_class), files.figure("class_saliency"))
    return figures


def image_gallery(explanation, data, rows: list[dict], count: int) -> list[dict]:
    """Entries of the image gallery figure for the first ``count`` images."""
    entries = []
    for j in range(min(count, len(explanation))):
        row = rows[j]
        note = ""
        if "defining" in row:
            note = (f"{row['defining_mass']:.0%} of |map| on the {row['defining']} "
                    f"(×{row['defining_lift']:.1f} its area)")
        p = dict(zip(explanation.classes, explanation.probabilities[j], strict=True))[explanation.targets[j]]
        entries.append({"image": data.images[j], "map": explanation.maps[j], "note": note,
                        "title": f"{plain(data.ids[j])}: {class_name(data.labels[j] or '?')} → "
                                 f"{class_name(explanation.predicted[j])} (p = {p:.2f})",
                        "masks": {name: mask[j] for name, mask in data.masks.items()}})
    return entries


#: Images per page of an image gallery (a page of 8 rows is 22 inches, 2 900 pixels tall).
IMAGES_PER_PAGE = 8


def _image_figures(files, explanation, data, rows: list[dict], count: int) -> list[Path]:
    """Gallery pages of the first ``count`` images (image, map, strongest 10 %), :data:`IMAGES_PER_PAGE` to a page:
    ``gallery_<method>_1``, ``_2``, … (the pages of an earlier explanation in the same folder are removed first)."""
    from astroxai.report.figures.images import plot_image_gallery

    for old in files.figures.glob(f"gallery_{explanation.method}*"):  # and the single file earlier versions wrote
        if re.fullmatch(rf"gallery_{re.escape(explanation.method)}(_\d+)?\.(png|pdf)", old.name):
            old.unlink()
    entries = image_gallery(explanation, data, rows, min(count, len(explanation)))
    return _figure_pages(entries, IMAGES_PER_PAGE, functools.partial(plot_image_gallery, method=explanation.method),
                         files, f"gallery_{explanation.method}")


#: Modality name → the figures of one explained set (a modality without an entry gets its tables only).
EXPLANATION_FIGURES = {"spectra": _spectra_figures, "images": _image_figures}


def write_explanation_figures(files, explanation, data, rows: list[dict], count: int) -> list[Path]:
    """The figures of an explained set (:class:`~astroxai.report.layout.ExplainFiles`): each kind of input draws
    its own (:data:`EXPLANATION_FIGURES`)."""
    draw = EXPLANATION_FIGURES.get(explanation.modality)
    return [] if draw is None else draw(files, explanation, data, rows, count)


__all__ = ["EXPLANATION_FIGURES", "ZERO_MAP_NOTE", "caption", "image_gallery", "maps_by_target", "probability_columns",
           "safe_name", "spectrum_rows", "write_explanation_figures", "write_saliency_study"]
