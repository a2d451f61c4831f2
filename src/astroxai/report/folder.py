"""A run folder read back through its layout: the results a study wrote, as the objects the report draws.

:class:`RunFolder` is what ``report.html`` and ``results.md`` are drawn from, both when ``astroxai run`` has just
written the folder and when ``astroxai report`` rebuilds the page later: the same reads give the same page.  It
computes nothing — every number comes from a table, a model folder or an array file the study wrote — and it reads
each file through :class:`~astroxai.report.layout.RunLayout` and the readers of the objects that wrote it
(:meth:`Estimator.load <astroxai.models.Estimator.load>`, :meth:`Explanation.load
<astroxai.explain.Explanation.load>`, :func:`~astroxai.embed.load_maps`, :func:`~astroxai.report.tables.read_table`).
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from astroxai.report.layout import RunLayout, RunRecord
from astroxai.report.tables import read_csv_rows, read_table, read_table_meta


class RunFolder:
    """The results of one run folder (see the module doc)."""

    def __init__(self, root):
        self.layout = root if isinstance(root, RunLayout) else RunLayout(Path(root))

    @cached_property
    def record(self) -> RunRecord:
        return RunRecord.load(self.layout)

    @property
    def kind(self) -> str:
        return self.record.kind

    @property
    def modality(self) -> str:
        """The kind of input the run studied (its data set's)."""
        return self.dataset.modality

    @property
    def paper_sample(self) -> bool:
        """The embedded simulation of Peruzzi et al.'s sample with its classes: the paper's numbers apply."""
        return self.kind == "spectra" and self.record.data == "simulated" and not self.record.config.get("classes")

    def ran(self, stage: str) -> bool:
        return self.record.ran(stage)

    @cached_property
    def models(self) -> dict:
        """Model folder name → the loaded model, SVMs first (most classes first), then the other networks, the
        classifier before the regressors."""
        from astroxai.models import SVMClassifier, load_model

        loaded = {folder.name: load_model(folder) for folder in self.layout.model_folders()}

        def order(name):
            model = loaded[name]
            return (not isinstance(model, SVMClassifier), -len(getattr(model, "classes_", ())),
                    getattr(model, "task", "") != "classify", name)

        return {name: loaded[name] for name in sorted(loaded, key=order)}

    def table(self, stem) -> list[dict]:
        """A table's rows as written (numbers as numbers)."""
        return read_table(stem)

    def table_meta(self, stem) -> dict:
        return read_table_meta(stem)

    def text_rows(self, stem) -> list[dict]:
        """A table's rows as its CSV holds them (what the page shows)."""
        return read_csv_rows(stem)

    def has_table(self, stem) -> bool:
        return Path(stem).with_suffix(".csv").is_file()

    @cached_property
    def dataset(self):
        """The data set the study read (spectra or images)."""
        from astroxai.data import load_set

        return load_set(self.layout.dataset)

    @cached_property
    def saliency(self):
        """The saliency study's :class:`~astroxai.explain.Explanation` (spectra), or None."""
        from astroxai.explain import Explanation

        if not self.ran("saliency"):
            return None
        return Explanation.load(self.layout.explanations, key=self.layout.SALIENCY_KEY)

    @cached_property
    def maps(self) -> list:
        """The run's t-SNE maps (:class:`~astroxai.embed.EmbeddingMap`, without their spectra)."""
        from astroxai.embed import load_maps

        if not self.layout.explanations.is_file():
            return []
        try:
            return load_maps(self.layout.explanations)
        except (KeyError, ValueError):  # a file holding explanations but no maps
            return []

    def trust_maps(self) -> list:
        """``(model, method, Explanation)`` for every map of the trust table."""
        from astroxai.explain import Explanation

        path = self.layout.trust.maps
        if not path.is_file():
            return []
        return [(*key.split("/", 1), Explanation.load(path, key=key)) for key in Explanation.keys(path)]

    def method_maps(self) -> list:
        """``(method, Explanation)`` for every method an image study explained its test images with."""
        from astroxai.explain import Explanation

        explain = self.layout.explain
        return [(m, Explanation.load(explain.method(m).maps)) for m in explain.methods()]


__all__ = ["RunFolder"]
