"""Open a report in a real headless browser: the browser tests and ``benchmarks/bench_report.py`` use it.

Selenium drives the system's Chromium and ChromeDriver (Debian packages ``chromium`` and ``chromium-driver``; no
browser is downloaded at run time).  ``ASTROXAI_CHROMIUM`` and ``ASTROXAI_CHROMEDRIVER`` name other executables.
Selenium is a test dependency (``pip install astroxai[test]``), imported only here.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

INSTALL_HINT = ("the browser checks need Chromium and ChromeDriver: on Debian/Ubuntu `apt-get install chromium "
                "chromium-driver` (.ci/run does this), or set ASTROXAI_CHROMIUM and ASTROXAI_CHROMEDRIVER")


def executables() -> tuple[Path, Path] | None:
    """(chromium, chromedriver) when both are installed, else None."""
    chromium = os.environ.get("ASTROXAI_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    driver = os.environ.get("ASTROXAI_CHROMEDRIVER") or shutil.which("chromedriver")
    if chromium and driver and Path(chromium).exists() and Path(driver).exists():
        return Path(chromium), Path(driver)
    return None


def start(width: int = 1500, height: int = 1100):
    """A headless Chromium session (Selenium ``WebDriver``) that records the page's console."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    found = executables()
    if found is None:
        raise RuntimeError(INSTALL_HINT)
    options = webdriver.ChromeOptions()
    options.binary_location = str(found[0])
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     f"--window-size={width},{height}", "--hide-scrollbars"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(str(found[1])), options=options)


def open_report(driver, path, timeout: float = 30.0) -> dict:
    """Load ``path`` from disk and wait until every explorer on it is drawn; returns timings in ms from the browser's
    own clock (``performance.timing``): DOM ready, load event, and explorers ready (arrays decoded, first input
    drawn)."""
    driver.get(Path(path).resolve().as_uri())
    deadline = time.monotonic() + timeout
    script = ("const d = window.Bokeh && Bokeh.documents; if (!d || !d.length) return false;"
              "return d.every(doc => { const info = doc.get_model_by_name('astroxai-info');"
              "return !info || info.text.length > 0; });")
    while not driver.execute_script(script):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path}: the explorers were not drawn within {timeout} s")
        time.sleep(0.05)
    ready = time.time() * 1000.0
    timing = driver.execute_script("const t = performance.timing; return [t.navigationStart, "
                                   "t.domContentLoadedEventEnd, t.loadEventEnd];")
    return {"dom_ready_ms": timing[1] - timing[0], "load_ms": timing[2] - timing[0],
            "explorer_ready_ms": ready - timing[0]}


def console_errors(driver) -> list[str]:
    """Messages the page logged at error level (uncaught exceptions included) since the last call."""
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def model_value(driver, name: str, attribute: str, document: int = 0):
    """An attribute of a named Bokeh model on the page (the page's state as the browser holds it); typed arrays
    come back as lists."""
    return driver.execute_script(
        f"const m = Bokeh.documents[{document}].get_model_by_name(arguments[0]); const v = m[arguments[1]];"
        "return ArrayBuffer.isView(v) ? Array.from(v) : v;", name, attribute)


def column(driver, source: str, name: str, document: int = 0) -> list:
    """One column of a named ``ColumnDataSource`` on the page (images come back as flat lists)."""
    return driver.execute_script(
        f"const v = Bokeh.documents[{document}].get_model_by_name(arguments[0]).data[arguments[1]];"
        "const flat = (a) => ArrayBuffer.isView(a) ? Array.from(a) : (a && a.array ? Array.from(a.array) : a);"
        "return Array.from(v, flat);", source, name)


def screen_position(driver, figure: str, x: float, y: float, document: int = 0) -> tuple[float, float]:
    """Where data point (x, y) of a named Bokeh figure is drawn, in the viewport's CSS pixels (after scrolling the
    figure into view)."""
    return tuple(driver.execute_script(
        f"const fig = Bokeh.documents[{document}].get_model_by_name(arguments[0]);"
        "const view = Bokeh.index.find_one(fig); view.el.scrollIntoView({block: 'center'});"
        "const box = view.el.getBoundingClientRect();"
        "return [box.left + view.frame.x_scale.compute(arguments[1]),"
        "        box.top + view.frame.y_scale.compute(arguments[2])];",
        figure, float(x), float(y)))


def click_at(driver, x: float, y: float) -> None:
    """A real mouse click at viewport position (x, y)."""
    from selenium.webdriver.common.actions.action_builder import ActionBuilder

    actions = ActionBuilder(driver)
    actions.pointer_action.move_to_location(int(round(x)), int(round(y))).click()
    actions.perform()


def widget_elements(driver, name: str, selector: str, document: int = 0) -> list:
    """The DOM elements (``selector``) inside a named Bokeh widget (they live in its shadow root)."""
    return driver.execute_script(
        f"const m = Bokeh.documents[{document}].get_model_by_name(arguments[0]);"
        "const view = Bokeh.index.find_one(m); view.el.scrollIntoView({block: 'center'});"
        "return Array.from((view.shadow_el || view.el).querySelectorAll(arguments[1]));", name, selector)
