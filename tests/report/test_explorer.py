"""The report's explorable views, in a real headless Chromium (Debian's chromium + chromium-driver, driven by
Selenium; .ci/run installs them): the page loads without console errors, the t-SNE map has one point per test
spectrum, a real click shows the spectrum the clicked point carries (its fluxes, decoded in the browser, equal the
data set's to the packing's precision), the method switch draws the map stored in the run's trust.h5, filters hide
exactly what they should, and the screenshot is not blank.  The same for an image run's gallery."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import h5py
import matplotlib.image as mpimg
import numpy as np
import pytest

from astroxai.data import ImageSet, SpectraSet
from astroxai.explain import Explanation
from astroxai.models import load_model
from astroxai.report import browser as web
from astroxai.report.explorer import Pack
from astroxai.report.figures.images import display

#: Screenshots land here (CI keeps the folder as the tests' artefacts).
ARTEFACTS = Path(os.environ.get("ASTROXAI_TEST_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts"))


@pytest.fixture(scope="module")
def driver():
    if web.executables() is None:
        pytest.fail(web.INSTALL_HINT)
    session = web.start()
    yield session
    session.quit()


def wait_for(condition, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("the page did not reach the expected state")
        time.sleep(0.05)


def not_blank(path: Path) -> None:
    image = mpimg.imread(path)[..., :3]
    assert image.shape[0] > 500 and image.shape[1] > 1000
    colours = np.unique((image.reshape(-1, 3) * 255).astype(np.uint8), axis=0)
    assert float(image.std()) > 0.05 and len(colours) > 200


def test_pack_keeps_each_row_to_its_quantisation_step():
    rng = np.random.default_rng(4)
    rows = rng.normal(size=(5, 300)) * np.array([[1e-6], [1.0], [30.0], [0.0], [2.0]])
    rows[4, 7] = np.nan
    for bits, centred in ((16, True), (16, False), (8, True)):
        pack = Pack()
        pack.add("x", rows, bits=bits, centred=centred)
        import base64
        import zlib

        payload = pack.payload()
        meta = payload["arrays"]["x"]
        buffer = zlib.decompress(base64.b64decode(payload["buffer"]))
        q = np.frombuffer(buffer, dtype=np.int16 if bits == 16 else np.int8, offset=meta["offset"],
                          count=rows.size).reshape(rows.shape)
        back = np.array(meta["shift"])[:, None] + q * np.array(meta["scale"])[:, None]
        expected = np.nan_to_num(rows)
        step = np.array(meta["scale"])[:, None]
        assert np.all(np.abs(back - expected) <= 0.5 * step * (1 + 1e-9) + 1e-15)
        assert np.all(back[3] == 0)  # an all-zero row stays exactly zero
        if centred:
            assert np.all(np.sign(back[np.abs(expected) > step]) == np.sign(expected[np.abs(expected) > step]))


def test_the_pages_attribution_colours_are_the_figures_own():
    """The pages' palette (Bokeh's, no matplotlib) against the colour map of the figures, :data:`ATTRIBUTION_CMAP`,
    as matplotlib defines it (its segments, interpolated linearly at each step; matplotlib's own 256-colour table
    is one reading of them): less than 1/255 off per channel at every step (Bokeh cuts its colours to 8 bits), red
    at the low end, white at zero, blue at the high end — the project's one convention (blue raises the output)."""
    from matplotlib import colormaps
    from matplotlib.colors import to_rgb

    from astroxai.report.explorer import attribution_palette
    from astroxai.report.figures import ATTRIBUTION_CMAP

    segments = colormaps[ATTRIBUTION_CMAP]._segmentdata
    for n in (255, 11, 2):
        steps = np.linspace(0.0, 1.0, n)
        figures = np.column_stack([np.interp(steps, *np.asarray(segments[channel])[:, [0, 2]].T)
                                   for channel in ("red", "green", "blue")])
        palette = np.array([to_rgb(c) for c in attribution_palette(n)])
        assert palette.shape == (n, 3)
        assert np.abs(palette - figures).max() < 1 / 255, n
    palette = np.array([to_rgb(c) for c in attribution_palette(255)])
    red, white, blue = palette[0], palette[127], palette[-1]
    assert red[0] > 0.3 > red[2] and blue[2] > 0.3 > blue[0] and white.min() > 0.95


def test_spectra_explorer_in_a_real_browser(small_run, driver):
    page = small_run / "report.html"
    timings = web.open_report(driver, page)
    assert web.console_errors(driver) == []
    assert 0 < timings["load_ms"] <= timings["explorer_ready_ms"] < 30_000
    data = SpectraSet.load(small_run / "dataset.h5")
    model = load_model(small_run / "models" / "svm-3class")
    test_rows = model.split_.rows(data.ids, "test")
    flux_of = {str(i): data.flux[r] for i, r in zip(data.ids[test_rows], test_rows, strict=True)}

    # one point per test spectrum, every one drawn on the main map
    ids = web.column(driver, "astroxai-points", "id")
    assert sorted(ids) == sorted(flux_of)
    shown = web.model_value(driver, "astroxai-filter", "indices")
    xs, ys = web.column(driver, "astroxai-points", "x"), web.column(driver, "astroxai-points", "y")
    assert sorted(shown) == list(range(len(ids))) and all(np.isfinite(xs)) and all(np.isfinite(ys))

    # a real click on the most isolated point that is not already shown
    positions = np.array([web.screen_position(driver, "astroxai-map", x, y) for x, y in zip(xs, ys, strict=True)])
    selected = driver.execute_script(
        "return Bokeh.documents[0].get_model_by_name('astroxai-points').selected.indices")
    gaps = np.linalg.norm(positions[:, None] - positions[None], axis=2) + np.eye(len(ids)) * 1e9
    order = [i for i in np.argsort(-gaps.min(axis=1)) if i not in selected]
    target = int(order[0])
    assert gaps[target].min() > 6  # the click cannot hit a neighbour
    x, y = web.screen_position(driver, "astroxai-map", xs[target], ys[target])
    web.click_at(driver, x, y)
    info = wait_for(lambda: (t := web.model_value(driver, "astroxai-info", "text")) and ids[target] in t and t)
    assert driver.execute_script(
        "return Bokeh.documents[0].get_model_by_name('astroxai-points').selected.indices") == [target]
    drawn = np.array(web.column(driver, "astroxai-spectrum-line", "y"))
    truth = flux_of[ids[target]]
    step = (truth.max() - truth.min()) / 2 / 32767
    assert np.max(np.abs(drawn - truth)) <= 0.51 * step + 1e-9  # the browser decoded this spectrum's own fluxes
    assert "probability" in info

    # the method switch: a spectrum the trust table explained, found with the search box
    trust_ids = json.loads((small_run / "trust" / "trust.json").read_text())["ids"]
    wanted = next(i for i in trust_ids if i in flux_of and i != ids[target])
    box = web.widget_elements(driver, "filter-search", "input")[0]
    box.send_keys(wanted)
    wait_for(lambda: wanted in web.model_value(driver, "astroxai-info", "text"))
    assert web.model_value(driver, "astroxai-filter", "indices") == [ids.index(wanted)]
    options = dict(map(tuple, web.model_value(driver, "astroxai-method", "options")))
    with h5py.File(small_run / "trust" / "trust.h5") as handle:
        stored = [f"{m}/{k}" for m in handle["explanations"] for k in handle[f"explanations/{m}"]]
    assert len(options) == 1 + len(stored)  # the run's saliency and every trust map of this spectrum
    before = np.array(web.column(driver, "astroxai-segments", "a"))
    assert "lime · CNN" in options.values()
    from selenium.webdriver.support.ui import Select

    Select(web.widget_elements(driver, "astroxai-method", "select")[0]).select_by_visible_text("lime · CNN")
    wait_for(lambda: "lime · CNN" in web.model_value(driver, "astroxai-info", "text"))
    after = np.array(web.column(driver, "astroxai-segments", "a"))
    lime = Explanation.load(small_run / "trust" / "trust.h5", key="CNN/lime")
    expected = lime.maps[list(lime.ids).index(wanted)]
    expected = expected / np.abs(expected).max()
    assert not np.allclose(before, after)
    assert np.max(np.abs(after - 0.5 * (expected[1:] + expected[:-1]))) < 1e-4

    # clear the search, then the class filter: unticking type 1 hides exactly the type 1 spectra
    from selenium.webdriver.common.keys import Keys

    box.send_keys(Keys.BACKSPACE * len(wanted))
    wait_for(lambda: len(web.model_value(driver, "astroxai-filter", "indices")) == len(ids))
    classes = web.column(driver, "astroxai-points", "true_class")
    labels = [label for label in model.classes_]
    web.widget_elements(driver, "filter-true", "input")[labels.index("type1")].click()
    kept = wait_for(lambda: (k := web.model_value(driver, "astroxai-filter", "indices")) and len(k) < len(ids) and k)
    assert sorted(kept) == [i for i, c in enumerate(classes) if c != "type1"]
    assert f">{len(kept)}</span> of {len(ids)}" in web.model_value(driver, "astroxai-count", "text")
    assert web.console_errors(driver) == []

    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    web.widget_elements(driver, "astroxai-tsne", "select")  # scrolls the explorer into view
    driver.save_screenshot(str(ARTEFACTS / "report-spectra.png"))
    not_blank(ARTEFACTS / "report-spectra.png")


def test_image_gallery_in_a_real_browser(image_run, driver):
    run = image_run("radio")
    web.open_report(driver, run / "report.html")
    assert web.console_errors(driver) == []
    data = ImageSet.load(run / "dataset.h5")
    classifier = load_model(run / "models" / "radio-classifier")
    test_ids = set(data.ids[classifier.split_.rows(data.ids, "test")])
    ids = web.column(driver, "astroxai-gallery", "id")
    assert sorted(ids) == sorted(test_ids)

    # a real click on a thumbnail that is not shown yet: the viewer shows that image (8-bit) and its map
    shown = driver.execute_script(
        "return Bokeh.documents[0].get_model_by_name('astroxai-gallery').selected.indices")
    target = next(i for i in range(len(ids)) if i not in shown)
    cx, cy = web.column(driver, "astroxai-gallery", "cx")[target], web.column(driver, "astroxai-gallery", "cy")[target]
    web.click_at(driver, *web.screen_position(driver, "astroxai-gallery-figure", cx, cy))
    wait_for(lambda: ids[target] in web.model_value(driver, "astroxai-info", "text"))
    picture = np.array(web.column(driver, "astroxai-picture", "image")[0])
    expected = display(data.images[list(data.ids).index(ids[target])]).ravel() * 255
    assert np.max(np.abs(picture - expected)) <= 0.51 * (expected.max() - expected.min()) / 2 / 127 + 1e-6

    # the opacity slider sets the overlay's alpha; the method switch draws the other method's map
    def overlay_alpha() -> float:
        return driver.execute_script("const a = Bokeh.documents[0].get_model_by_name('astroxai-overlay-glyph')"
                                     ".glyph.global_alpha; return typeof a === 'object' ? a.value : a;")

    alpha = overlay_alpha()
    from selenium.webdriver.common.keys import Keys

    handle = web.widget_elements(driver, "astroxai-opacity", ".noUi-handle")[0]
    for _ in range(4):
        handle.send_keys(Keys.ARROW_LEFT)
    lower = wait_for(lambda: (a := overlay_alpha()) < alpha and a)
    assert lower == pytest.approx(web.model_value(driver, "astroxai-opacity", "value"))
    first = np.array(web.column(driver, "astroxai-overlay", "image")[0])
    from selenium.webdriver.support.ui import Select

    Select(web.widget_elements(driver, "astroxai-method", "select")[0]).select_by_visible_text("smoothgrad")
    wait_for(lambda: "smoothgrad" in web.model_value(driver, "astroxai-info", "text"))
    second = np.array(web.column(driver, "astroxai-overlay", "image")[0])
    smooth = Explanation.load(run / "explain" / "smoothgrad" / "explanations.h5")
    stored = smooth.maps[list(smooth.ids).index(ids[target])].sum(axis=0).ravel()
    assert not np.allclose(first, second)
    assert np.max(np.abs(second - stored / np.abs(stored).max())) <= 0.51 / 127 + 1e-6

    # the correctness filter: "misclassified" keeps exactly the misclassified test images
    wrong = web.column(driver, "astroxai-gallery", "wrong")
    web.widget_elements(driver, "filter-correct", "button")[2].click()
    assert 0 < sum(wrong) < len(wrong)
    wait_for(lambda: len(web.model_value(driver, "astroxai-filter", "indices")) == sum(wrong))
    kept = web.model_value(driver, "astroxai-filter", "indices")
    assert sorted(kept) == [i for i, w in enumerate(wrong) if w]
    assert web.console_errors(driver) == []
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(ARTEFACTS / "report-radio.png"))
    not_blank(ARTEFACTS / "report-radio.png")


#: Text from a user's data that must show as text: a class name and ids that are HTML and script, quotes and
#: backslashes, a byte that is not UTF-8, and a 10 000-character name.
HOSTILE_CLASSES = ("</script><script>alert(1)</script>", "it's \"quoted\" \\ and <b>bold</b>")
HOSTILE_IDS = ("<img src=x onerror=alert(2)>", "\"'><svg onload=alert(3)>", "back\\slash\\", "byte\udcff-name",
               "long-" + "x" * 10_000)


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    from astroxai import simulate
    from astroxai.workflows.run import run

    made = simulate.spectra_set({"type1": 12, "type2": 12}, seed=5, n_wave=100)
    labels = np.where(made.labels == "type1", HOSTILE_CLASSES[0], HOSTILE_CLASSES[1]).astype(object)
    ids = np.array([*HOSTILE_IDS, *[f"<i>{k}</i>" for k in range(len(made) - len(HOSTILE_IDS))]], dtype=object)
    data = SpectraSet(made.flux, made.wavelength, labels, ids, dict(made.meta))
    out = tmp_path_factory.mktemp("hostile") / "run"
    result = run("spectra", out, data=data, workers=1, n_wave=100, quick=True, timing_repeats=1, perplexities=[4],
                 n_correct=2, trust_spectra=4, trust_methods=["saliency"], cnn=False, broad=[HOSTILE_CLASSES[0]])
    return result


def test_hostile_text_from_the_data_shows_as_text_and_runs_nothing(hostile_run, driver):
    page = hostile_run.report
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument",
                           {"source": "window.__alerts = []; window.alert = (m) => window.__alerts.push(String(m));"})
    web.open_report(driver, page)
    assert driver.execute_script("return window.__alerts") == []  # no script of the data ran, not even once
    injected = ("return [...document.querySelectorAll('img[src=\"x\"], svg[onload]')].length + "
                "[...document.querySelectorAll('b')].filter((e) => e.textContent === 'bold').length")
    assert driver.execute_script(injected) == 0  # no element of the data's HTML was made
    assert web.console_errors(driver) == []
    # the explorer still works, and names the inputs exactly as the data does
    shown = web.column(driver, "astroxai-points", "id")
    test = hostile_run.data.ids[hostile_run["svm-2class"].model.split_.rows(hostile_run.data.ids, "test")]
    stored = SpectraSet.load(hostile_run.layout.dataset).ids  # the non-UTF-8 byte is kept as its \xNN escape
    assert sorted(shown) == sorted(test) and set(shown) <= set(stored)
    assert set(web.column(driver, "astroxai-points", "true_class")) <= set(HOSTILE_CLASSES)
    box = web.widget_elements(driver, "filter-search", "input")[0]
    hostile = next(i for i in shown if len(i) < 100 and any(c in i for c in "<>\"\\"))
    box.send_keys(hostile)
    escaped = hostile.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    info = wait_for(lambda: (t := web.model_value(driver, "astroxai-info", "text")) and escaped in t and t)
    assert hostile not in info or hostile == escaped  # the id went into the panel's HTML escaped
    assert web.model_value(driver, "astroxai-filter", "indices") == [shown.index(hostile)]
    assert driver.execute_script("return window.__alerts") == []
    labels = [e.text for e in web.widget_elements(driver, "filter-true", "label")]
    assert any(HOSTILE_CLASSES[0] in label for label in labels)  # a class name shows as the text it is
    # in the static page too: every hostile class and id escaped where the tables show them
    text = page.read_text(encoding="utf-8")
    assert "<script>alert(1)</script>" not in text.split('id="astroxai-spectra-data"')[0]
    assert check_report_quiet(page) == []


def check_report_quiet(page):
    from astroxai.report.html import check_report

    return check_report(page)
