"""The workspace's MapLibre map draws the run's own base map (issue #20), in a real browser.

Playwright drives Debian's headless Chromium against the real uvicorn server of the hardening tests
(its demo run, on the Guixi and Nanjing Xuanwu extracts, is shared with them). The planner signs in with
a password as a person does, so every request carries the session cookie and no token: the base map's
style, features and glyphs come from this service by the cookie alone. On the result page the base
map's street and 社区 names are rendered in both cities (``map.queryRenderedFeatures`` on its label
layers), the Chinese characters are drawn from the browser's local fonts (no glyph range of an
ideograph is ever asked for), nothing leaves 127.0.0.1 and no JavaScript error is raised.
"""

from __future__ import annotations

from typing import Any

import pytest

from ..support.browser import VIEWPORT, Browser, WatchedPage

pytestmark = [
    pytest.mark.browser,
]

USER, PASSWORD = "basemap_planner", "Basemap-test-pw-2026"
#: One point of each extract of the demo (lon, lat): Guixi (Jiangxi) and Nanjing Xuanwu.
CITIES = {"guixi": (117.0, 28.5), "xuanwu": (118.8, 32.05)}
#: Code points whose glyphs MapLibre must draw locally (CJK Unified Ideographs).
IDEOGRAPHS = range(0x4E00, 0xA000)


class CookieBrowser(Browser):
    """A :class:`~tests.test_workspace.Browser` signed in by the sign-in route: a session cookie, no token."""

    def __init__(self, chromium: Any, server: Any) -> None:  # noqa: D107 - as Browser, without the token
        self.server = server
        self.context = chromium.new_context(viewport=VIEWPORT, device_scale_factor=1)
        self.page = WatchedPage(self.context.new_page())
        self.dialogs: list[str] = []
        self.bodies: dict[str, str] = {}
        self.downloads: set[str] = set()
        self.sent: list[tuple[str, str, dict[str, str]]] = []  # (method, url, headers), as Browser records them
        self.page.page.on("request", lambda r: self.sent.append((r.method, r.url, r.headers)))
        self.page.page.on("dialog", self._dialog)
        # requests of the map's web workers too (the base map's GeoJSON is fetched by a worker)
        self.context.on("request", lambda req: self.page.urls.append(req.url))
        r = self.context.request.post(server.base_url + "/auth/login",
                                      data={"username": USER, "password": PASSWORD})
        assert r.status == 200, r.text()
        assert {c["name"] for c in self.context.cookies()} >= {"gp_session", "gp_csrf"}


@pytest.fixture(scope="module")
def signed_in(chromium_browser, hardened_server, hardened_demo):
    """A planner's browser, signed in with a password, and the demo run's id."""
    store = hardened_server.store()
    try:
        store.add_user(USER, "底图测试", "planner", PASSWORD)
    finally:
        store.close()
    b = CookieBrowser(chromium_browser, hardened_server)
    yield b, hardened_demo["run_id"]
    b.close()


def _base_names(server: Any, run_id: str) -> dict[str, dict[str, set[str]]]:
    """The base map's street and 社区/村 names by city (from the served GeoJSON)."""
    with server.client("viewer") as viewer:
        feats = viewer.get(f"/runs/{run_id}/basemap/basemap.geojson").json()["features"]
    out: dict[str, dict[str, set[str]]] = {c: {"street": set(), "community": set()} for c in CITIES}
    for f in feats:
        p, g = f["properties"], f["geometry"]
        xy = g["coordinates"] if g["type"] == "Point" else g["coordinates"][0]
        while isinstance(xy[0], list):
            xy = xy[0]
        city = min(CITIES, key=lambda c: abs(CITIES[c][0] - xy[0]) + abs(CITIES[c][1] - xy[1]))
        if p["layer"] == "road" and p["name"]:
            out[city]["street"].add(p["name"])
        elif p["layer"] == "place" and p["rank"] >= 3 and p["name"]:  # 社区/村 level (街道 and up: rank ≤ 2)
            out[city]["community"].add(p["name"])
    return out


def _community_point(server: Any, run_id: str, city: str) -> tuple[float, float]:
    """Where a 社区 label of ``city`` stands (the first one in the file; a 社区/村-level label if none)."""
    with server.client("viewer") as viewer:
        feats = viewer.get(f"/runs/{run_id}/basemap/basemap.geojson").json()["features"]
    lon0, lat0 = CITIES[city]
    for suffix in ("社区", ""):
        for f in feats:
            p, g = f["properties"], f["geometry"]
            if p["layer"] == "place" and p["rank"] >= 3 and p["name"].endswith(suffix) and g["type"] == "Point":
                lon, lat = g["coordinates"]
                if abs(lon - lon0) + abs(lat - lat0) < 0.6:
                    return lon, lat
    raise AssertionError(f"no 社区 label in the {city} base map")


RENDERED = """(() => {
  const ids = gpMap.getStyle().layers.map(l => l.id).filter(id => id.startsWith('basemap-') && gpMap.getLayer(id).type === 'symbol');
  return gpMap.queryRenderedFeatures({ layers: ids }).map(f => [f.layer.id, f.properties.layer, f.properties.name]);
})()"""


def _idle(b: Browser) -> None:
    """Wait until the map has loaded its sources and drawn (``map.loaded()`` with nothing pending)."""
    assert b.wait("gpMap.loaded() && gpMap.areTilesLoaded() && !gpMap.isMoving()", 60)
    b.page.page.wait_for_timeout(300)
    assert b.wait("gpMap.loaded() && gpMap.areTilesLoaded()", 30)


def test_result_page_draws_the_runs_base_map_with_chinese_names(signed_in, hardened_server, tmp_path):
    b, run_id = signed_in
    names = _base_names(hardened_server, run_id)
    assert all(names[c]["street"] and names[c]["community"] for c in CITIES), names
    # the page's Content-Security-Policy lets the map reach this service (and its own blob:/data: URLs) only
    page = b.context.request.get(f"{hardened_server.base_url}/workspace/runs/{run_id}")
    assert page.status == 200
    csp = dict((d.split()[0], d.split()[1:]) for d in page.headers["content-security-policy"].split("; "))
    assert csp["connect-src"] == ["'self'"] and csp["default-src"] == ["'self'"]
    sources = {t for d in csp.values() for t in d}
    assert sources <= {"'self'", "'none'", "'unsafe-inline'", "data:", "blob:"}, sources
    b.goto(f"/workspace/runs/{run_id}")
    ready = b.wait("window.gpReady || window.gpFailed", 60)
    assert isinstance(ready, dict), ready
    assert b.wait("window.gpState.baseMap === true || window.gpState.baseMap === false", 60)
    assert b.js("gpState.baseMap") is True
    # the base map's layers are all below the run's own layers (members lowest of them)
    order = b.js("gpMap.getLayersOrder()")
    base = [i for i, lid in enumerate(order) if lid.startswith("basemap-")]
    assert len(base) > 10 and max(base) < order.index("members"), order
    assert {"basemap-street-label", "basemap-road-major"} <= set(order)
    # the map was made with the style's font family for Chinese text
    with hardened_server.client("viewer") as viewer:
        family = viewer.get(f"/runs/{run_id}/basemap/style.json").json()["metadata"][
            "geo_planner:localIdeographFontFamily"]
    assert b.js("gpMap.style.glyphManager.localIdeographFontFamily") == family

    for city in CITIES:
        lon, lat = _community_point(hardened_server, run_id, city)
        b.js(f"gpMap.jumpTo({{center: [{lon}, {lat}], zoom: 15}})")
        _idle(b)
        rendered = b.js(RENDERED)
        shown_streets = {n for _, layer, n in rendered if layer == "road"}
        shown_places = {n for _, layer, n in rendered if layer == "place"}
        assert shown_streets & names[city]["street"], (city, rendered[:20])
        assert shown_places & names[city]["community"], (city, rendered[:20])
        assert any(any(0x4E00 <= ord(ch) < 0xA000 for ch in n) for n in shown_streets)
        if city == "guixi":
            assert any(n.endswith("社区") for n in shown_places), shown_places
        b.page.page.screenshot(path=str(tmp_path / f"workspace_basemap_{city}.png"))
    # at a city's zoom (12) minor street names are not drawn yet: the map is not a wall of labels
    b.js(f"gpMap.jumpTo({{center: [{CITIES['guixi'][0]}, {CITIES['guixi'][1]}], zoom: 12}})")
    _idle(b)
    assert not [r for r in b.js(RENDERED) if r[0] == "basemap-street-label"]

    # glyphs: asked for (Latin letters, digits) from this service only, never a range of ideographs
    glyphs = [u for u in b.page.urls if "/basemap/glyphs/" in u]
    for u in glyphs:
        start, end = (int(x) for x in u.rsplit("/", 1)[-1].removesuffix(".pbf").split("-"))
        assert end < IDEOGRAPHS.start or start >= IDEOGRAPHS.stop, u
    # the features came by the session cookie: every request of the page went to this service, no token in a URL
    assert f"{hardened_server.base_url}/runs/{run_id}/basemap/basemap.geojson" in b.page.urls
    b.check_clean()
