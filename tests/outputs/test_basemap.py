"""The extract's own base map: built from the real 贵溪, 南京 and 龙岗 extracts, written, styled, drawn offline."""

from __future__ import annotations

import json
import shutil

import pytest
import shapely

from geo_planner.basemap import (
    BASEMAP_LAYERS,
    build_basemap,
    read_basemap,
    street_label_points,
    write_basemap,
    write_style,
)
from geo_planner.errors import InputError
from geo_planner.outputs import BASEMAP_FILE, BASEMAP_STYLE_FILE

from ..support.paths import ROOT

OSM = ROOT / "data" / "osm"
GUIXI, NANJING, LONGGANG = OSM / "guixi_jiangxi.osm", OSM / "nanjing_xuanwu.osm", OSM / "shenzhen_longgang.osm"


@pytest.fixture(scope="module")
def bases():
    return {p.stem: build_basemap([p]) for p in (GUIXI, NANJING, LONGGANG)}


@pytest.mark.parametrize(
    ("stem", "streets", "places"),
    [
        ("guixi_jiangxi", {"贵溪大道", "冶金大道", "府禾路"}, {"花园社区", "东街社区", "柏里村", "东门街道"}),
        ("nanjing_xuanwu", {"淮海路", "碑亭巷", "估衣廊"}, {"五老村", "玄武区"}),
        ("shenzhen_longgang", {"龙翔大道", "黄阁路"}, {"荷坳村"}),
    ],
)
def test_named_streets_and_places(bases, stem, streets, places):
    f = bases[stem].features
    named = set(f.loc[(f["layer"] == "road") & (f["name"] != ""), "name"])
    assert streets <= named
    assert places <= set(f.loc[f["layer"] == "place", "name"])
    # every feature has a valid WGS-84 geometry inside the extract's area, in drawing order
    assert f.crs.to_epsg() == 4326 and shapely.is_valid(f.geometry.to_numpy()).all()
    order = f["layer"].map({k: i for i, k in enumerate(BASEMAP_LAYERS)})
    assert order.is_monotonic_increasing
    assert (f["minzoom"].between(0, 18)).all() and (f["rank"] >= 1).all()
    # places are points; streets lines; nothing was dropped without being counted
    assert set(shapely.get_type_id(f.loc[f["layer"] == "place"].geometry.to_numpy())) == {0}
    assert set(shapely.get_type_id(f.loc[f["layer"] == "road"].geometry.to_numpy())) <= {1, 5}
    assert set(bases[stem].skipped) >= {f"{stem}.osm"}


def test_layers_by_extract(bases):
    g, n = bases["guixi_jiangxi"].counts(), bases["nanjing_xuanwu"].counts()
    # 贵溪: the railway through the city, the 信江 and its water, admin boundaries
    assert g["railway"] >= 10 and g["water"] >= 1 and g["waterway"] >= 1 and g["boundary"] >= 1
    # 南京 玄武: buildings, green and built-up areas
    assert n["building"] > 1000 and n["green"] > 50 and n["landuse"] > 10
    f = bases["nanjing_xuanwu"].features
    roads = f[f["layer"] == "road"]
    assert {"major", "secondary", "minor"} <= set(roads["kind"])
    # the subway runs underground: kept, marked as a tunnel
    assert any(k.endswith("_tunnel") for k in f.loc[f["layer"] == "railway", "kind"])


def test_street_labels_along_the_street(bases):
    f = bases["guixi_jiangxi"].features
    labels = street_label_points(f)
    assert {"贵溪大道", "冶金大道"} <= set(labels["name"])
    assert labels["angle"].between(-90, 90).all()
    assert labels["rank"].is_monotonic_increasing  # the most important streets first
    # each anchor lies on its street
    roads = f[(f["layer"] == "road")]
    for _, row in labels.head(10).iterrows():
        lines = roads.loc[roads["name"] == row["name"]].geometry
        assert shapely.distance(lines.to_numpy(), shapely.Point(row["lon"], row["lat"])).min() < 1e-6


def test_written_file_round_trips_and_the_style_loads_it(bases, tmp_path):
    base = build_basemap([GUIXI, NANJING])
    assert base.counts()["place"] == bases["guixi_jiangxi"].counts()["place"] + bases["nanjing_xuanwu"].counts()["place"]
    path = write_basemap(base, tmp_path / BASEMAP_FILE)
    size = path.stat().st_size
    assert 50_000 < size < 1_500_000  # two districts: a few hundred kilobytes
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["type"] == "FeatureCollection" and len(data["features"]) == len(base.features)
    # no more than 6 decimals: the file carries no false precision
    coords = json.dumps(data["features"][0]["geometry"]["coordinates"])
    assert all(len(part.split(".")[1].strip("]) ")) <= 6 for part in coords.split(",") if "." in part)
    back = read_basemap(path)
    assert list(back["name"]) == list(base.features["name"])
    style = json.loads(write_style(tmp_path / BASEMAP_STYLE_FILE, BASEMAP_FILE,
                                   glyphs_url="glyphs/{fontstack}/{range}.pbf").read_text(encoding="utf-8"))
    assert style["version"] == 8 and style["sources"]["base"] == {
        "type": "geojson", "data": BASEMAP_FILE, "attribution": "© OpenStreetMap contributors (ODbL)"}
    layer_names = {lyr["filter"][1][2] for lyr in style["layers"] if "filter" in lyr}
    assert layer_names == set(BASEMAP_LAYERS)
    assert {"street-label", "place-label-z13"} <= {lyr["id"] for lyr in style["layers"]}


def test_missing_extract_is_named(tmp_path):
    with pytest.raises(InputError, match="nowhere.osm"):
        build_basemap([tmp_path / "nowhere.osm"])
    bad = tmp_path / "broken.osm"
    bad.write_text("<osm><node id='1' lat='x'", encoding="utf-8")
    with pytest.raises(InputError, match="broken.osm"):
        build_basemap([bad])


def test_pbf_extract(tmp_path):
    porto = build_basemap([OSM / "porto_portugal.osm.pbf"])
    assert porto.counts()["road"] > 10_000 and porto.counts()["place"] >= 1


# ------------------------------------------------------------------ the demo's map in a real browser

BADGES = """(() => Array.from(document.querySelectorAll('.leaflet-marker-icon.gp-icon')).map(e => {
    const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; }))()"""


def _overlaps(boxes: list[list[float]], slack: float = 0.5) -> list[tuple[list[float], list[float]]]:
    """Pairs of screen boxes that overlap by more than ``slack`` pixels on both axes."""
    return [(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:]
            if min(a[2], b[2]) - max(a[0], b[0]) > slack and min(a[3], b[3]) - max(a[1], b[1]) > slack]


LABELS = """(() => Array.from(document.querySelectorAll('.gp-label')).map(e => e.textContent))()"""


@pytest.mark.browser
def test_demo_map_draws_street_and_community_names_offline(demo_run, page, tmp_path):
    result, _, out, _ = demo_run
    assert (out / BASEMAP_FILE).is_file() and (out / BASEMAP_STYLE_FILE).is_file()
    counts = json.loads((out / "run.json").read_text(encoding="utf-8"))["counts"]["basemap"]
    assert counts["features"]["road"] > 100 and counts["features"]["place"] > 10
    base = read_basemap(out / BASEMAP_FILE)
    # the network is blocked: every request that is not the file itself is aborted and recorded
    page.page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:")
                    else route.abort())
    page.goto((out / "map.html").as_uri())
    shown = page.wait_for(f"() => {{ const l = {LABELS}; return l.length > 5 ? l : null; }}") or []
    # badges (branches, stations, hospitals, recommendations by kind) never overlap
    assert _overlaps(page.evaluate(BADGES)) == []
    assert "scenario" not in page.evaluate("document.getElementById('gp-title').textContent")
    streets = set(base.loc[(base["layer"] == "road") & (base["name"] != ""), "name"])
    places = set(base.loc[base["layer"] == "place", "name"])
    assert streets & set(shown), shown
    assert {p for p in places if p.endswith("社区")} & set(shown), shown
    # at a closer zoom, minor streets get their names too, still without overlaps
    centre = base.loc[base["name"] == "贵溪市"].geometry.iloc[0]
    page.evaluate("(() => { const m = Object.values(window).find(v => v instanceof L.Map); "
                  f"m.setView([{centre.y}, {centre.x}], 16); }})()")
    page.settle(600)
    boxes = page.evaluate("""(() => Array.from(document.querySelectorAll('.gp-label')).map(e => {
        const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom, e.textContent]; }))()""")
    assert len(boxes) > 5
    # no two names overlap (a rotated name's box is its axis-aligned hull, so only a little slack)
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            ox = min(a[2], b[2]) - max(a[0], b[0])
            oy = min(a[3], b[3]) - max(a[1], b[1])
            assert ox <= 2 or oy <= 2, (a, b)
    assert page.evaluate("document.querySelectorAll('.leaflet-gpBase-pane canvas').length") == 1
    page.settle(200)
    assert page.errors == [] and page.bad == []
    outside = [u for u in page.urls if not u.startswith(("file:", "data:", "about:", "blob:"))]
    assert outside == [], outside
    shot = tmp_path / "demo_map.png"
    page.screenshot(shot)
    if (ROOT / "maps").is_dir():
        shutil.copyfile(shot, ROOT / "maps" / "basemap_demo.png")


# ------------------------------------------------------------------ the service: features, style, glyphs


def _glyph_ids(pbf: bytes) -> list[int]:
    """Code points of a glyph PBF (a minimal protobuf reader: stacks → glyphs → id)."""
    def fields(buf: bytes):
        i = 0
        while i < len(buf):
            key, i = _varint(buf, i)
            num, wire = key >> 3, key & 7
            if wire == 0:
                val, i = _varint(buf, i)
                yield num, val
            elif wire == 2:
                n, i = _varint(buf, i)
                yield num, buf[i:i + n]
                i += n
            else:
                raise AssertionError(f"unexpected wire type {wire}")

    ids = []
    for num, stack in fields(pbf):
        assert num == 1
        for n2, glyph in fields(stack):
            if n2 == 3:
                ids += [v for n3, v in fields(glyph) if n3 == 1]
    return ids


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, i


def test_service_serves_features_style_and_glyphs(hardened_server, hardened_demo):
    run_id = hardened_demo["run_id"]
    with hardened_server.client("viewer") as viewer, hardened_server.client() as anon:
        style = viewer.get(f"/runs/{run_id}/basemap/style.json")
        assert style.status_code == 200, style.text
        s = style.json()
        data_url = s["sources"]["base"]["data"]
        assert data_url.startswith(hardened_server.base_url) and data_url.endswith("/basemap/basemap.geojson")
        assert "{fontstack}" in s["glyphs"] and "{range}" in s["glyphs"]
        assert s["metadata"]["geo_planner:localIdeographFontFamily"]
        feats = viewer.get(data_url.removeprefix(hardened_server.base_url))
        assert feats.status_code == 200 and feats.headers["content-type"].startswith("application/geo+json")
        names = {f["properties"]["name"] for f in feats.json()["features"]}
        assert {"花园社区", "贵溪大道"} <= names
        # OpenStreetMap only: no member of the demo is in the base map
        assert "肖生林" not in feats.text and "M0001" not in feats.text
        assert anon.get(data_url.removeprefix(hardened_server.base_url)).status_code == 401
        glyph_url = s["glyphs"].replace("{fontstack}", "GeoPlanner Sans").replace("{range}", "0-255")
        pbf = anon.get(glyph_url.removeprefix(hardened_server.base_url))  # fonts are public
        assert pbf.status_code == 200 and pbf.headers["content-type"] == "application/x-protobuf"
        ids = _glyph_ids(pbf.content)
        assert {ord(c) for c in "AZaz09-()."} <= set(ids) and 0 not in ids
        assert anon.get("/basemap/glyphs/GeoPlanner%20Sans/5-260.pbf").status_code == 422
        assert viewer.get("/runs/nope/basemap/style.json").status_code == 404


# ------------------------------------------------------------------ the report's map picture


def test_report_picture_draws_the_base_map_with_names(bases, demo_run):
    from matplotlib.figure import Figure

    from geo_planner.report.basemap import draw_basemap
    from geo_planner.report.charts import Charts, _run_basemap

    ch = Charts()
    f = bases["guixi_jiangxi"].features
    fig = Figure(figsize=(7, 7), dpi=96)
    ax = fig.add_subplot(1, 1, 1)
    bounds = (117.19, 117.26, 28.27, 28.33)
    ax.set_xlim(*bounds[:2])
    ax.set_ylim(*bounds[2:])
    with ch._mpl.rc_context(ch.rc):
        written = draw_basemap(ax, f, bounds, labels=ch.font is not None)
    texts = [t.get_text() for t in ax.texts]
    assert len(ax.collections) >= 5  # areas, water, railways, roads by class
    if ch.font is not None:
        assert written == len(texts) > 5 and any(t.endswith("社区") for t in texts)
        # names written level never overlap: their boxes as matplotlib draws them
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        renderer = FigureCanvasAgg(fig).get_renderer()
        with ch._mpl.rc_context(ch.rc):
            boxes = [t.get_window_extent(renderer) for t in ax.texts if t.get_rotation() == 0]
        assert _overlaps([[b.x0, b.y0, b.x1, b.y1] for b in boxes], slack=2.0) == []
    # the run's own base map is what the report draws
    result = demo_run[0]
    assert _run_basemap(result) is not None and len(_run_basemap(result)) > 100


# ------------------------------------------------------------------ a city's badges: joined, filterable, never overlapping


def test_map_title_is_never_the_word_scenario():
    from geo_planner.maps import map_title

    assert map_title("scenario", "zh") == "离退休干部服务覆盖" and map_title("", "en").startswith("Retired")
    assert map_title("贵溪市离退休干部服务覆盖（演示）", "zh") == "贵溪市离退休干部服务覆盖（演示）"


@pytest.mark.browser
def test_many_recommendations_never_overlap_and_filter_by_kind(demo_run, page, tmp_path):
    import numpy as np
    import pandas as pd

    from geo_planner.maps import build_map, save_map
    from geo_planner.settings import MapSettings, Thresholds

    _, _, out, _ = demo_run
    rd = lambda n: pd.read_csv(out / n, encoding="utf-8-sig", dtype={"id": str, "branch_id": str})  # noqa: E731
    recs = rd("recommendations.csv")
    rng = np.random.default_rng(20)
    many = pd.concat([recs] * 12, ignore_index=True)  # several hundred badges over one town, as in a city
    many["lon"] = many["lon"] + rng.normal(0, 0.002, len(many))
    many["lat"] = many["lat"] + rng.normal(0, 0.002, len(many))
    m = build_map(rd("members.csv"), rd("branches.csv"), rd("stations.csv"), rd("hospitals.csv"), many,
                  thresholds=Thresholds(), settings=MapSettings(max_member_points=100), title="scenario",
                  basemap=read_basemap(out / BASEMAP_FILE))
    path = save_map(m, tmp_path / "many.html")
    page.goto(path.as_uri())
    page.wait_for("() => document.querySelector('.leaflet-container[data-gp-badges]')")
    page.settle(300)
    assert _overlaps(page.evaluate(BADGES)) == []
    counts = page.evaluate("""(() => Array.from(document.querySelectorAll('.gp-icon')).map(
        e => { const d = e.querySelector('[data-n]'); return d ? Number(d.getAttribute('data-n')) : 1; }))()""")
    n_places = sum(len(rd(f"{t}.csv")) for t in ("branches", "stations", "hospitals"))
    assert sum(counts) <= len(many) + n_places and max(counts) > 1  # badges were joined
    # a city opens on the coverage picture: the coverage grid on, the count grid and branches off
    checked = page.evaluate("""(() => Object.fromEntries(Array.from(document.querySelectorAll(
        '.leaflet-control-layers-overlays label')).map(l => [l.textContent.trim(), l.querySelector('input').checked])))()""")
    assert any(k.startswith("覆盖情况") and v for k, v in checked.items()), checked
    assert checked["党支部活动地点"] is False and checked["离退休干部（网格汇总）"] is False
    kinds = [k for k in checked if k.startswith("调整建议：")]
    assert len(kinds) == recs["kind"].nunique()  # one layer per kind: filterable
    before = sum(counts)
    page.page.get_by_text(kinds[0]).click()
    page.settle(500)
    after = page.evaluate("""(() => Array.from(document.querySelectorAll('.gp-icon')).map(
        e => { const d = e.querySelector('[data-n]'); return d ? Number(d.getAttribute('data-n')) : 1; })
        .reduce((a, b) => a + b, 0))()""")
    assert after < before and _overlaps(page.evaluate(BADGES)) == []
    assert "scenario" not in page.evaluate("document.getElementById('gp-title').textContent")
    assert page.errors == []
