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


def defining_components(data) -> dict | str:
    """The component each class of ``data`` is scored on: a set may name one for every class in its
    ``defining_component`` attribute (real images have no component masks, only e.g. the ``source`` above the noise);
    otherwise :data:`DEFINING_COMPONENT`."""
    return getattr(data, "attrs", {}).get("defining_component") or DEFINING_COMPONENT


def component_scores(maps, masks: dict, labels, defining: dict | str | None = None) -> list[dict]:
    """Per image, the share of |attribution| on each ground-truth component present in it (``mass_<name>``), its
    lift over the component's area share (``lift_<name>``), and the same for the component that defines the image's
    class (``defining``: class → component, or one component for every class; default :data:`DEFINING_COMPONENT`)
    under ``defining``, ``defining_mass`` and ``defining_lift``."""
    defining = DEFINING_COMPONENT if defining is None else defining
    rows = [{} for _ in range(len(maps))]
    for name, mask in masks.items():
        mass = mass_in_mask(maps, mask)
        for j, row in enumerate(rows):
            if mask[j].any():
                row[f"mass_{name}"] = float(mass["mass"][j])
                row[f"lift_{name}"] = float(mass["lift"][j])
    for row, label in zip(rows, labels, strict=True):
        name = defining if isinstance(defining, str) else defining.get(str(label))
        if name is not None and f"mass_{name}" in row:
            row.update(defining=name, defining_mass=row[f"mass_{name}"], defining_lift=row[f"lift_{name}"])
    return rows


def overlap_summary(rows_by_method: dict, components=()) -> list[dict]:
    """Per method and class: the median share of |attribution| on the class's defining component, its median lift and
    the share of images whose lift is above 1; then the same for each of ``components`` (e.g. the ``brightest`` part
    of a real source) in every class.  ``rows_by_method`` maps a method to per-image rows holding ``label`` and the
    :func:`component_scores` columns."""
    table = []
    for method, rows in rows_by_method.items():
        for cls in sorted({r["label"] for r in rows}):
            in_class = [r for r in rows if r["label"] == cls]
            scored = [(r["defining"], r["defining_mass"], r["defining_lift"]) for r in in_class if "defining_mass" in r]
            table += _summary(method, cls, scored)
            for name in components:
                table += _summary(method, cls, [(name, r[f"mass_{name}"], r[f"lift_{name}"]) for r in in_class
                                                if f"mass_{name}" in r])
    return table


def _summary(method: str, cls: str, scored: list[tuple]) -> list[dict]:
    if not scored:
        return []
    mass, lift = np.array([s[1] for s in scored]), np.array([s[2] for s in scored])
    return [{"method": method, "class": cls, "component": scored[0][0], "n": len(scored),
             "median_mass": round(float(np.median(mass)), 3), "median_lift": round(float(np.median(lift)), 2),
             "share_lift_above_1": round(float(np.mean(lift > 1)), 3)}]
