"""The served map page in a real browser: Playwright driving Debian's headless ``chromium``.

Playwright (the PyPI wheel, which brings only its driver) launches the system Chromium through
``executable_path`` — no browser is downloaded; the shared fixtures are in ``tests/conftest.py``
and ``tests/support/browser.py``. The test loads ``/runs/{id}/map?access_token=…`` as a planner and as a
viewer and checks that the Leaflet layers rendered (marker elements in the DOM, the layer
control with its overlays, vector layers drawn, the metric scale bar), that no JavaScript error
was raised, that no resource failed to load and that nothing was requested from outside the
machine (every request is seen through ``page.on("request")``; the service serves Leaflet
itself and tiles are ``none``), then saves a screenshot under the test's tmp folder and copies
it to ``maps/``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ..support.browser import png_size
from ..support.paths import ROOT
from ..support.servers import ApiServer, copy_data, new_tokens, readable

pytestmark = pytest.mark.browser


LEAFLET_STATE = """(() => {
  const q = s => document.querySelectorAll(s).length;
  return {
    leaflet: typeof L === 'object' && typeof L.map === 'function',
    maps: q('.leaflet-container'),
    markers: q('.leaflet-marker-icon'),
    clusters: q('.marker-cluster'),
    layerControl: q('.leaflet-control-layers'),
    overlays: q('.leaflet-control-layers-overlays label'),
    vectors: q('.leaflet-overlay-pane path, .leaflet-overlay-pane canvas'),
    scale: Array.from(document.querySelectorAll('.leaflet-control-scale-line'))
      .map(e => /(ft|mi)$/.test(e.innerText.trim()) ? 'imperial' : 'metric'),
    text: document.body ? document.body.innerText : ''
  };
})()"""
#: The state once the markers and the layer control are there, else null.
READY = f"() => {{ const s = {LEAFLET_STATE}; return (s.markers > 0 && s.layerControl > 0) ? s : null; }}"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path, served_demo):
    """A server on a copy of the session's served demo (uploaded and run through the API once)."""
    data = copy_data(served_demo[0], tmp_path_factory.mktemp("browser") / "data")
    server = ApiServer(data, new_tokens(), cache_dir).start()
    try:
        yield server, served_demo[1]["run_id"]
    finally:
        server.stop()


def test_detector_sees_javascript_errors(page):
    page.goto("data:text/html,<p>x</p><script>window.setTimeout(() => { notDefinedAnywhere(); }, 0)</script>")
    page.settle(500)
    assert any("notDefinedAnywhere" in e for e in page.errors)


def test_detector_sees_requests_off_the_machine(page):
    # the request is seen (and fails: there is no network), so the check below cannot pass by accident
    page.goto("data:text/html,<img src='https://tile.openstreetmap.org/0/0/0.png'>")
    page.settle(500)
    assert any(u.startswith("https://tile.openstreetmap.org/") for u in page.urls), page.urls


@pytest.mark.parametrize("role", ["planner", "viewer"])
def test_map_renders_in_chromium(served, page, role, tmp_path):
    server, run_id = served
    url = f"{server.base_url}/runs/{run_id}/map?access_token={server.tokens[role]}"
    page.goto(url)
    state = page.wait_for(READY) or page.evaluate(LEAFLET_STATE)
    shot = tmp_path / f"map_{role}.png"
    data = page.screenshot(shot)
    maps_dir = ROOT / "maps"
    if maps_dir.is_dir():
        shutil.copyfile(shot, maps_dir / f"browser_map_{role}.png")
    assert state and state["leaflet"] and state["maps"] == 1, state
    assert state["markers"] > 0, state  # branch, station and hospital markers are DOM elements
    assert state["layerControl"] == 1 and state["overlays"] >= 3, state
    assert state["vectors"] > 0, state  # service areas / grid cells drawn
    assert state["scale"] == ["metric"], state  # a metric scale bar, no feet or miles
    page.settle(200)
    assert page.errors == []
    assert page.bad == []
    outside = [u for u in page.urls if not u.startswith((server.base_url, "data:", "about:", "blob:"))]
    assert outside == [], outside  # Leaflet comes from the service, tiles are "none": nothing from outside
    w, h = png_size(data)
    assert (w, h) == (1280, 900) and len(data) > 10_000
    if role == "viewer":
        text = readable(page.evaluate("document.documentElement.outerHTML"))
        assert "M0001" not in text and "肖生林" not in text  # the first demo member
