"""The report in a real headless Chromium: loads without console errors, every figure renders, nothing overflows.

Runs when ``PVOPT_BROWSER_TESTS`` is set (``.ci/run`` sets it and installs Debian's chromium);
then a missing browser or Playwright is a failure, not a skip.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
VIEWPORTS = [(1280, 900), (760, 900)]  # desktop and a narrow window: no horizontal overflow at either

pytestmark = pytest.mark.skipif(not os.environ.get("PVOPT_BROWSER_TESTS"), reason="set PVOPT_BROWSER_TESTS=1 (as .ci/run does) to run")


def test_report_renders_in_headless_chromium(report_run, tmp_path):
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.exists(), "install Debian's chromium (apt-get install -y chromium), as .ci/run does"
    html = report_run / "report.html"
    errors: list[str] = []
    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": VIEWPORTS[0][0], "height": VIEWPORTS[0][1]})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: requests.append(r.url) if not r.url.startswith(("file:", "data:", "blob:")) else None)
            page.goto(html.as_uri(), wait_until="load")
            page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length > 0", timeout=10000)
            n_divs = page.evaluate("document.querySelectorAll('div[id^=\"fig-\"]').length")
            rendered = page.evaluate("Array.from(document.querySelectorAll('div[id^=\"fig-\"]'))"
                                     ".filter(d => d.querySelector('.main-svg') && d.getBoundingClientRect().height > 100).length")
            assert n_divs >= 8 and rendered == n_divs, (n_divs, rendered)
            assert page.evaluate("Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).length") == 0
            for w, h in VIEWPORTS:
                page.set_viewport_size({"width": w, "height": h})
                page.wait_for_timeout(300)
                assert page.evaluate("document.documentElement.scrollWidth") <= w, f"horizontal overflow at {w} px"
                page.screenshot(path=str(tmp_path / f"report-{w}.png"))
        finally:
            browser.close()
    assert not errors, errors
    assert not requests, requests  # works offline: nothing fetched
    assert (tmp_path / "report-1280.png").read_bytes()[:4] == b"\x89PNG"
