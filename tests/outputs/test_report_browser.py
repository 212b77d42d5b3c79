"""The printable report in the real headless Chromium (Debian's ``chromium``), driven by Playwright.

The demo run's ``report.html`` is opened from disk; the test checks that every chart picture
decoded (natural size > 0), that the trade-off, equity, map, sensitivity and phased-plan charts
are there, that the language button switches Chinese ⇄ English, that no JavaScript error was
raised and nothing was requested from outside the page, and that the run printed ``report.pdf``.
"""

from __future__ import annotations

import shutil

import pytest

from ..support.paths import ROOT

pytestmark = pytest.mark.browser

STATE = """(() => {
  const imgs = Array.from(document.querySelectorAll('img.chart'));
  const visible = s => Array.from(document.querySelectorAll(s)).filter(e => e.offsetParent !== null).length;
  return {
    lang: document.documentElement.lang,
    charts: imgs.map(i => [i.dataset.chart, i.complete, i.naturalWidth, i.naturalHeight]),
    zhVisible: visible('.zh'), enVisible: visible('.en'),
    h2: Array.from(document.querySelectorAll('h2')).map(h => h.innerText),
    tables: document.querySelectorAll('table').length,
  };
})()"""


def test_report_renders_in_chromium(demo_run, page, tmp_path) -> None:
    _, _, out, _ = demo_run
    page.goto((out / "report.html").resolve().as_uri())
    state = page.wait_for(f"() => {{ const s = {STATE}; return s.charts.every(c => c[1]) ? s : null; }}") \
        or page.evaluate(STATE)
    names = {c[0] for c in state["charts"]}
    assert {"tradeoff", "equity", "map", "sensitivity", "phased", "areas"} <= names, state["charts"]
    for name, complete, w, h in state["charts"]:
        assert complete and w > 200 and h > 100, (name, w, h)
    assert state["lang"] == "zh" and state["zhVisible"] > 20 and state["enVisible"] == 0
    assert len(state["h2"]) >= 6 and state["tables"] >= 4
    # the language button switches everything to English
    page.evaluate("document.getElementById('lang').click()")
    state = page.evaluate(STATE)
    assert state["lang"] == "en" and state["enVisible"] > 20 and state["zhVisible"] == 0
    assert any("trade" in h.lower() or "station" in h.lower() for h in state["h2"])
    page.settle(200)
    assert page.errors == [] and page.bad == []
    assert all(u.startswith(("file:", "data:")) for u in page.urls), page.urls
    shot = tmp_path / "report.png"
    page.screenshot(shot)
    (ROOT / "maps").mkdir(exist_ok=True)
    shutil.copyfile(shot, ROOT / "maps" / "report_screenshot.png")
    # the run printed the PDF through the same Chromium
    pdf = out / "report.pdf"
    assert pdf.is_file() and pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 50_000
