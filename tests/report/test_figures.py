"""Figures as files: save_figure writes the PNG matplotlib's ``savefig(bbox_inches='tight')`` writes, with one layout
instead of one per format, and a PDF whose page holds everything drawn; the galleries' colour bars stay clear of the
panels' titles whatever the maps' scale."""

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


@pytest.mark.parametrize("scale", [3e-12, 4e-3, 0.03, 0.5, 300.0])
def test_an_image_gallerys_colour_bar_keeps_clear_of_the_title_and_says_its_unit(scale):
    """SmoothGrad of a source the network is sure of is ~1e-11: matplotlib wrote "1e-11" on top of the colour bar,
    over the map's title.  The power of ten is now the bar's label, beside it; its ticks times it are the values."""
    from astroxai.report.figures.images import plot_image_gallery

    rng = np.random.default_rng(1)
    entry = {"image": rng.random((1, 64, 64)), "map": rng.normal(size=(1, 64, 64)) * scale,
             "title": "0123+456: FRI → FRI (p = 1.00)"}
    fig = plot_image_gallery([entry, dict(entry)], "smoothgrad")
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()
    bars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert len(bars) == 2
    for bar, panel in zip(bars, (fig.axes[1], fig.axes[4]), strict=True):  # the maps of the two rows
        texts = [bar.yaxis.get_offset_text(), bar.yaxis.label, *bar.get_yticklabels()]
        boxes = [t.get_window_extent(renderer) for t in texts if t.get_visible() and t.get_text()]
        title = panel.title.get_window_extent(renderer)
        assert not any(box.overlaps(title) for box in boxes), [t.get_text() for t in texts]
        assert bar.yaxis.get_offset_text().get_text() == ""
        exponent = int(np.floor(np.log10(np.abs(entry["map"]).max())))
        unit = 10.0 ** exponent if not -1 <= exponent <= 2 else 1.0
        assert (bar.yaxis.label.get_text() != "") == (unit != 1.0)
        for tick, value in zip(bar.get_yticklabels(), bar.get_yticks(), strict=True):
            if tick.get_text():
                shown = float(tick.get_text().replace("−", "-"))
                assert shown * unit == pytest.approx(value, rel=1e-2, abs=unit * 1e-9)
    plt.close(fig)
