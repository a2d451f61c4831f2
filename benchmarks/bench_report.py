"""Size and load time of a run's ``report.html`` in headless Chromium (the issue's budget: ≤ 20 MB, opens in < 3 s).

    python benchmarks/bench_report.py runs/default [runs/radio ...] [--repeats 5] [--screenshot PNG]

For each page: its size and what it is made of (Bokeh's inlined JavaScript, the explorer's packed arrays, the
embedded PNG figures, the rest), then the browser's own timings over ``--repeats`` fresh loads (medians, and the
slowest): DOM ready and the load event from ``performance.timing``, and "explorer ready" — the moment the packed
arrays are decoded and the first spectrum or image is drawn.  Each load uses a new browser session (no cache).
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
from pathlib import Path

from astroxai.report import browser


def composition(text: str) -> dict:
    """Bytes of the page by kind of content."""
    scripts = re.findall(r"<script\b[^>]*>.*?</script>", text, flags=re.S)
    data = sum(len(s) for s in scripts if 'type="application/json"' in s)
    document = sum(len(s) for s in scripts if "docs_json" in s[:3000])
    library = sum(len(s) for s in scripts if 'type="application/json"' not in s and "docs_json" not in s[:3000])
    figures = sum(len(m) for m in re.findall(r'src="data:image/png;base64,[^"]+"', text))
    total = len(text.encode("utf-8"))
    return {"total": total, "library": library, "document": document, "packed_arrays": data, "png_figures": figures,
            "rest": total - library - document - data - figures}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, help="run folders (each with report.html)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--screenshot", type=Path, help="also click through to a misclassified intermediate and "
                        "save a screenshot of the explorer here (spectra runs)")
    args = parser.parse_args()
    for run in args.runs:
        page = run / "report.html" if run.is_dir() else run
        text = page.read_text(encoding="utf-8")
        parts = composition(text)
        print(f"{page}: {parts['total'] / 1e6:.2f} MB  (JavaScript: Bokeh + glue {parts['library'] / 1e6:.2f}; "
              f"Bokeh document {parts['document'] / 1e6:.2f}; packed arrays {parts['packed_arrays'] / 1e6:.2f}; "
              f"PNG figures {parts['png_figures'] / 1e6:.2f}; other {parts['rest'] / 1e6:.2f})")
        loads, errors = [], []
        for _ in range(args.repeats):
            driver = browser.start()
            try:
                loads.append(browser.open_report(driver, page))
                errors += browser.console_errors(driver)
            finally:
                driver.quit()
        print(f"  console errors over {args.repeats} loads: {len(errors)}" + (f" {errors[:3]}" if errors else ""))
        for key in ("dom_ready_ms", "load_ms", "explorer_ready_ms"):
            values = [load[key] for load in loads]
            print(f"  {key:18s} median {statistics.median(values):7.0f} ms   slowest {max(values):7.0f} ms   "
                  f"({len(values)} loads)")
        if args.screenshot and 'id="astroxai-spectra-data"' in text:
            print(f"  click-through: {click_through(page, args.screenshot)} → {args.screenshot}")


def click_through(page: Path, screenshot: Path) -> str:
    """As a user would: tick "misclassified only", leave only the intermediates (on a sample without them: every
    class), click the first such point on the map, and photograph the explorer.  Returns the id shown."""
    driver = browser.start(1440, 980)
    try:
        browser.open_report(driver, page)
        browser.widget_elements(driver, "filter-wrong", "input")[0].click()
        names = browser.model_value(driver, "filter-true", "labels")
        for k, name in enumerate(names):
            if name != "intermediate" and "intermediate" in names:
                browser.widget_elements(driver, "filter-true", "input")[k].click()
        shown = browser.model_value(driver, "astroxai-filter", "indices")
        if not shown:
            raise SystemExit("no misclassified spectrum of the chosen classes on this run's map")
        xs, ys = browser.column(driver, "astroxai-points", "x"), browser.column(driver, "astroxai-points", "y")
        ids = browser.column(driver, "astroxai-points", "id")
        pick = shown[0]
        browser.click_at(driver, *browser.screen_position(driver, "astroxai-map", xs[pick], ys[pick]))
        deadline = time.monotonic() + 10
        while ids[pick] not in browser.model_value(driver, "astroxai-info", "text"):
            if time.monotonic() > deadline:
                raise SystemExit("the click did not show the point's spectrum")
            time.sleep(0.05)
        driver.execute_script("document.querySelector('.explorer').scrollIntoView()")
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(screenshot))
        return ids[pick]
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
