"""Maps of image classifiers against the components that define each class (radio galaxies, barred discs).

On simulated images every component is known (its mask): the share of |attribution| on it, and that share over the
component's share of the image (the lift; 1 = no better than spreading evenly) say whether a map found what defines
the class — after Liang et al. (2023, arXiv:2307.03453), who read LIME maps of FIRST galaxies for the hot spots of
FR II sources and the jets of FR I sources, and Bhambra et al. (2022, MNRAS 511, 5032) for bars.
"""

from __future__ import annotations

import numpy as np

from astroxai.explain.metrics import mass_in_mask

#: The ground-truth component that defines each class: the hot spots make an FR II, the jets fading from the core an
#: FR I (and a bent tail), the core a compact source, the bar a barred galaxy.
DEFINING_COMPONENT = {"compact": "core", "FRI": "jets", "FRII": "hotspots", "bent": "jets", "barred": "bar"}


def component_scores(maps, masks: dict, labels) -> list[dict]:
    """Per image, the share of |attribution| on each ground-truth component present in it (``mass_<name>``), its
    lift over the component's area share (``lift_<name>``), and the same for the component that defines the image's
    class (:data:`DEFINING_COMPONENT`) under ``defining``, ``defining_mass`` and ``defining_lift``."""
    rows = [{} for _ in range(len(maps))]
    for name, mask in masks.items():
        mass = mass_in_mask(maps, mask)
        for j, row in enumerate(rows):
            if mask[j].any():
                row[f"mass_{name}"] = float(mass["mass"][j])
                row[f"lift_{name}"] = float(mass["lift"][j])
    for row, label in zip(rows, labels, strict=True):
        name = DEFINING_COMPONENT.get(str(label))
        if name is not None and f"mass_{name}" in row:
            row.update(defining=name, defining_mass=row[f"mass_{name}"], defining_lift=row[f"lift_{name}"])
    return rows


def overlap_summary(rows_by_method: dict) -> list[dict]:
    """Per method and class: the median share of |attribution| on the class's defining component, its median lift and
    the share of images whose lift is above 1.  ``rows_by_method`` maps a method to per-image rows holding ``label``
    and the :func:`component_scores` columns."""
    table = []
    for method, rows in rows_by_method.items():
        for cls in sorted({r["label"] for r in rows}):
            scored = [r for r in rows if r["label"] == cls and "defining_mass" in r]
            if not scored:
                continue
            table.append({"method": method, "class": cls, "component": scored[0]["defining"], "n": len(scored),
                          "median_mass": round(float(np.median([r["defining_mass"] for r in scored])), 3),
                          "median_lift": round(float(np.median([r["defining_lift"] for r in scored])), 2),
                          "share_lift_above_1": round(float(np.mean([r["defining_lift"] > 1 for r in scored])), 3)})
    return table
