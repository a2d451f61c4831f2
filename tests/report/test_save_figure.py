"""save_figure: the PNG it writes is the file matplotlib's ``savefig(bbox_inches='tight')`` writes, found with one
layout instead of one per format; the PDF's page holds everything drawn."""

import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from astroxai.report.figures import save_figure  # noqa: E402


def _figure():
    """Two panels as astroxai draws them: an image with a colour bar, a curve with a log axis, titles, a legend,
    text reaching past the axes, then tight_layout()."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(7.0, 3.0))
    image = left.imshow(np.random.default_rng(0).normal(size=(32, 32)), cmap="RdBu")
    fig.colorbar(image, ax=left)
    left.set_title("source 0123+456: FRII → FRII (p = 0.97)")
    right.plot(np.arange(1, 50), np.arange(1, 50) ** 2.0, label="curve")
    right.set_yscale("log")
    right.set_xlabel("wavelength (Å)")
    right.legend()
    right.text(1.02, 0.5, "a note beyond the axes", transform=right.transAxes)
    fig.tight_layout()
    return fig


def _media_box(path) -> list[float]:
    return [float(v) for v in re.search(rb"/MediaBox \[([^\]]*)\]", path.read_bytes()).group(1).split()]


def test_the_png_is_savefigs_tight_png_from_one_layout(tmp_path, monkeypatch):
    reference = _figure()
    reference.savefig(tmp_path / "reference.png", dpi=130, bbox_inches="tight")
    reference.savefig(tmp_path / "reference.pdf", dpi=130, bbox_inches="tight")
    plt.close(reference)
    draws = []
    original = Figure.draw
    monkeypatch.setattr(Figure, "draw", lambda fig, renderer: (draws.append(type(renderer).__name__),
                                                               original(fig, renderer))[1])
    written = save_figure(_figure(), tmp_path / "saved")
    assert [p.name for p in written] == ["saved.png", "saved.pdf"]
    assert (tmp_path / "saved.png").read_bytes() == (tmp_path / "reference.png").read_bytes()
    # one layout (a draw without output) and one draw per format; savefig's 'tight' draws twice per format
    assert sorted(draws) == ["MixedModeRenderer", "RendererAgg", "RendererAgg"]  # the PDF: MixedModeRenderer
    # the PDF's page: the raster renderer's box, within a point of the one the PDF renderer finds, and inside the
    # 0.1 inch padding, so nothing drawn is cut
    ours, theirs = _media_box(tmp_path / "saved.pdf"), _media_box(tmp_path / "reference.pdf")
    assert ours[:2] == [0, 0] and ours[2:] == pytest.approx(theirs[2:], abs=2.0)


@pytest.mark.parametrize("case", ["constrained", "autolayout", "svg canvas"])
def test_figures_that_lay_themselves_out_when_saved_keep_savefigs_tight_box(tmp_path, case):
    """Constrained layout (or rcParams' autolayout) lays the figure out as it is saved, and another canvas may be a
    window's: those are saved with ``bbox_inches='tight'`` per format as before, the same PNG as savefig's."""
    from matplotlib.backends.backend_svg import FigureCanvasSVG

    def make():
        if case == "constrained":
            fig, ax = plt.subplots(layout="constrained")
        else:
            fig, ax = plt.subplots()
        ax.plot([0, 1], [0, 1])
        ax.set_title("a title")
        if case == "svg canvas":
            FigureCanvasSVG(fig)
        return fig

    with matplotlib.rc_context({"figure.autolayout": case == "autolayout"}):
        reference = make()
        reference.savefig(tmp_path / "reference.png", dpi=130, bbox_inches="tight")
        plt.close(reference)
        save_figure(make(), tmp_path / "saved", formats=("png",))
    assert (tmp_path / "saved.png").read_bytes() == (tmp_path / "reference.png").read_bytes()
