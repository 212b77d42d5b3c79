"""Maps on the real 贵溪 road network: isochrones, layers, tiles, roles, and a real browser."""

from __future__ import annotations

import html
import json
import math
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer

from geo_planner.crs import M_PER_DEG_LAT, from_wgs84
from geo_planner.errors import ScenarioError
from geo_planner.maps import MIN_CELL_MEMBERS, build_map, grid_counts, inline_assets, save_map, service_areas
from geo_planner.network import RoadNetwork, build_network
from geo_planner.settings import MapSettings, Thresholds
from geo_planner.travel import nearest_facility

from ..support.paths import GUIXI

PLANTED_NAMES = ("欧阳秘密甲", "司马隐私乙", "诸葛保密丙")
PLANTED_IDS = ("ZZSECRET-001", "ZZSECRET-002", "ZZSECRET-003")


@pytest.fixture(scope="module")
def guixi_walk(tmp_path_factory: pytest.TempPathFactory) -> RoadNetwork:
    return build_network([GUIXI], "walk", cache_dir=tmp_path_factory.mktemp("maps-cache"))


@pytest.fixture(scope="module")
def guixi_drive(tmp_path_factory: pytest.TempPathFactory) -> RoadNetwork:
    return build_network([GUIXI], "drive", cache_dir=tmp_path_factory.mktemp("maps-cache-drive"))


def _points_on_edges(net: RoadNetwork, edges: np.ndarray, frac: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pts = shapely.line_interpolate_point(net.edge_geom[edges], frac, normalized=True)
    tr = Transformer.from_crs(net.extracts[0].crs, "EPSG:4326", always_xy=True)
    lon, lat = tr.transform(shapely.get_x(pts), shapely.get_y(pts))
    return np.asarray(lon), np.asarray(lat)


@pytest.fixture(scope="module")
def case(guixi_walk: RoadNetwork) -> dict[str, pd.DataFrame]:
    """Place a few stations, branches, a hospital and 160 members on the real roads."""
    net = guixi_walk
    rng = np.random.default_rng(7)
    lon, lat = net.edge_midpoints_lonlat()
    n = 160
    e = rng.integers(0, net.n_edges, n)
    m_lon, m_lat = _points_on_edges(net, e, rng.uniform(0.1, 0.9, n))
    m_lon = m_lon + rng.normal(0, 5e-5, n)  # a few metres off the road, like real homes
    m_lat = m_lat + rng.normal(0, 5e-5, n)
    names = [f"成员{i:03d}" for i in range(n)]
    ids = [f"M{i:04d}" for i in range(n)]
    for k in range(3):
        names[k], ids[k] = PLANTED_NAMES[k], PLANTED_IDS[k]
    members = pd.DataFrame(
        {
            "id": ids,
            "name": names,
            "lon": m_lon,
            "lat": m_lat,
            "branch_id": rng.choice(["B1", "B2", "B3"], n),
            "walk_min_branch": rng.uniform(1, 40, n),
            "walk_min_station": rng.uniform(1, 30, n),
            "nearest_station_id": rng.choice(["S1", "S2", "S3"], n),
            "dispersed": False,
            "dispersion_reason": "",
        }
    )
    members.loc[::4, "dispersion_reason"] = "far"
    members.loc[1::8, "dispersion_reason"] = "remote"
    members.loc[2::8, "dispersion_reason"] = "cross_township;far"
    members["dispersed"] = members["dispersion_reason"] != ""
    branches = pd.DataFrame(
        {
            "id": ["B1", "B2", "B3"],
            "name": ["市委机关第一党支部", "教育局退休党支部", "花园街道党支部"],
            "lon": lon[[5, 60, 120]],
            "lat": lat[[5, 60, 120]],
            "share_dispersed": [0.1, 0.5, 0.9],
        }
    )
    stations = pd.DataFrame(
        {
            "id": ["S1", "S2", "S3"],
            "name": ["桑榆红驿站", "老党员之家", "枫叶驿站"],
            "lon": lon[[10, 100, 200]],
            "lat": lat[[10, 100, 200]],
        }
    )
    hospitals = pd.DataFrame({"id": ["H1"], "name": ["贵溪市人民医院"], "lon": lon[[150]], "lat": lat[[150]]})
    recs = pd.DataFrame(
        {
            "rec_id": ["R001", "R002"],
            "kind": ["new_station", "transfer"],
            "name": ["新驿站（示范社区）", f"{PLANTED_NAMES[0]}就近参加活动"],
            "lon": [float(lon[300]), float(m_lon[0])],
            "lat": [float(lat[300]), float(m_lat[0])],
            "site_id": ["C12", "B2"],
            "site_name": ["示范社区", "教育局退休党支部"],
            "member_ids": [";".join(ids[3:40]), PLANTED_IDS[0]],
            "n_members": [37, 1],
            "branch_ids": ["B1;B2", "B1"],
            "before_min": [24.0, 31.0],
            "after_min": [7.5, 6.0],
            "max_after_min": [14.0, 6.0],
            "rationale_zh": [
                "37 名成员步行超过 15 分钟，新驿站可覆盖",
                f"{PLANTED_NAMES[0]}（{PLANTED_IDS[0]}）离支部过远",
            ],
            "rationale_en": ["37 members walk over 15 min", f"{PLANTED_IDS[0]} lives far from the branch"],
        }
    )
    return {
        "members": members,
        "branches": branches,
        "stations": stations,
        "hospitals": hospitals,
        "recommendations": recs,
    }


def _has(page: str, text: str) -> bool:
    """Whether ``text`` is in the page as written, HTML-escaped or JSON-escaped."""
    forms = {text, html.escape(text)}
    forms |= {json.dumps(f)[1:-1] for f in list(forms)}
    safe = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "'": "\\u0027"}  # Jinja's tojson
    forms |= {"".join(safe.get(ch, ch) for ch in f) for f in list(forms)}
    return any(f in page for f in forms)


def _has_point(page: str, first: float, second: float, digits: int = 6) -> bool:
    """Whether the pair ``first, second`` (rounded) is written in the page."""
    pattern = rf"{re.escape(str(round(first, digits)))}\s*,\s*{re.escape(str(round(second, digits)))}(?!\d)"
    return re.search(pattern, page) is not None


def _map_html(case: dict[str, pd.DataFrame], tmp_path: Path, name: str, **kwargs) -> str:  # noqa: ANN003
    kwargs.setdefault("thresholds", Thresholds())
    kwargs.setdefault("settings", MapSettings(tiles="none"))
    m = build_map(
        case["members"],
        case["branches"],
        case["stations"],
        case["hospitals"],
        case["recommendations"],
        **kwargs,
    )
    path = save_map(m, tmp_path / f"{name}.html")
    return path.read_text(encoding="utf-8")


# --------------------------------------------------------------------------------------
# service areas


def test_isochrones_follow_roads_not_circles(guixi_walk: RoadNetwork, case: dict[str, pd.DataFrame]) -> None:
    st = case["stations"]
    minutes = 15.0
    areas = service_areas(guixi_walk, st["lon"], st["lat"], minutes, ids=st["id"])
    assert areas.crs.to_epsg() == 4326
    assert areas["id"].tolist() == ["S1", "S2", "S3"]
    assert areas["on_network"].all()
    metric = areas.to_crs(guixi_walk.extracts[0].crs)
    radius = guixi_walk.speed_mps * minutes * 60  # 1 km at 4 km/h
    circle = math.pi * radius**2
    for i, poly in enumerate(metric.geometry):
        assert poly.geom_type in ("Polygon", "MultiPolygon") and poly.is_valid
        assert 0.02 * circle < poly.area < 0.6 * circle  # a band along roads, far below the circle
        assert poly.area < 0.8 * poly.convex_hull.area  # not convex: holes between the streets
        assert areas.geometry.iloc[i].contains(shapely.Point(st["lon"].iloc[i], st["lat"].iloc[i]))
        assert areas["area_km2"].iloc[i] == pytest.approx(poly.area / 1e6, rel=0.02)


def test_isochrones_agree_with_travel_times(guixi_walk: RoadNetwork, case: dict[str, pd.DataFrame]) -> None:
    """Points along every road: inside the area iff the station is within the limit (± boundary)."""
    net = guixi_walk
    st = case["stations"].iloc[[0]]
    minutes = 10.0
    area = service_areas(net, st["lon"], st["lat"], minutes).geometry.iloc[0]
    frac = np.linspace(0.03, 0.97, 12)
    edges = np.repeat(np.arange(net.n_edges), frac.size)
    lon, lat = _points_on_edges(net, edges, np.tile(frac, net.n_edges))
    res = nearest_facility(net, net.snap(lon, lat), net.snap(st["lon"].to_numpy(), st["lat"].to_numpy()))
    inside = shapely.contains_xy(area, lon, lat)
    near = res.minutes <= minutes - 0.1
    far = res.minutes >= minutes + 1.0
    assert near.sum() > 100 and far.sum() > 100
    assert inside[near].all()
    assert inside[far].mean() < 0.02  # only where another, reachable road passes within the band


def test_drive_isochrone_measures_trips_to_the_hospital(
    guixi_drive: RoadNetwork, case: dict[str, pd.DataFrame]
) -> None:
    """``direction="to"`` respects one-way streets in the members' direction of travel."""
    net = guixi_drive
    h = case["hospitals"]
    minutes = 1.5
    area = service_areas(net, h["lon"], h["lat"], minutes, direction="to").geometry.iloc[0]
    frac = np.linspace(0.03, 0.97, 12)
    edges = np.repeat(np.arange(net.n_edges), frac.size)
    lon, lat = _points_on_edges(net, edges, np.tile(frac, net.n_edges))
    snap = net.snap(lon, lat)
    res = nearest_facility(net, snap, net.snap(h["lon"].to_numpy(), h["lat"].to_numpy()))
    inside = shapely.contains_xy(area, lon, lat)
    near = res.minutes <= minutes - 0.05
    assert near.sum() > 20
    assert inside[near].all()
    assert (
        not inside[res.minutes >= minutes + 1.0].any() or inside[res.minutes >= minutes + 1.0].mean() < 0.05
    )


def test_off_network_facility_has_empty_area(guixi_walk: RoadNetwork) -> None:
    areas = service_areas(guixi_walk, [117.0, 117.2400747], [28.0, 28.2958127], 5, ids=["far", "near"])
    assert areas["on_network"].tolist() == [False, True]
    assert areas.geometry.iloc[0].is_empty and not areas.geometry.iloc[1].is_empty
    assert areas["area_km2"].iloc[0] == 0


def test_grid_counts_hide_small_cells() -> None:
    lon = np.r_[np.full(6, 117.2401), np.full(2, 117.2601)]
    lat = np.r_[np.full(6, 28.2901), np.full(2, 28.3101)]
    cells, hidden = grid_counts(lon, lat, cell_m=500, min_count=MIN_CELL_MEMBERS)
    assert cells["count"].tolist() == [6]
    assert hidden == 2
    c = cells.iloc[0]
    assert c["west"] < 117.2401 < c["east"] and c["south"] < 28.2901 < c["north"]
    assert (c["north"] - c["south"]) * M_PER_DEG_LAT == pytest.approx(500)  # 500 m tall: crs's metres per degree


# --------------------------------------------------------------------------------------
# maps


def test_planner_map_layers_legend_chinese(
    guixi_walk: RoadNetwork, guixi_drive: RoadNetwork, case: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    cov = pd.DataFrame(
        {
            "level": ["township"],
            "area": ["花园街道"],
            "members": [40],
            "share_covered_station": [0.5],
            "median_walk_station_min": [14.2],
        }
    )
    page = _map_html(
        case,
        tmp_path,
        "planner",
        walk=guixi_walk,
        drive=guixi_drive,
        title="贵溪市离退休干部服务地图",
        coverage_by_area=cov,
    )
    assert "L.control.layers" in page
    assert "gp-legend" in page and "图例" in page
    for label in (
        "离退休干部",
        "离退休干部热力图",
        "党支部活动地点",
        "驿站（活动阵地）",
        "驿站步行15分钟服务范围",
        "定点医院",
        "医院驾车30分钟服务范围",
        "调整建议",
        "居住分散的党员（按原因）",
        "异地居住",
        "距支部过远",
        "新建驿站",
        "就近参加活动",
        "分区覆盖情况",
        "贵溪市离退休干部服务地图",
    ):
        assert _has(page, label), label
    assert re.search(r"var group = L\.markerClusterGroup\(", page)
    assert re.search(r"var heat_map_\w+ = L\.heatLayer\(", page)
    # planners see members and the member ids of recommendations
    assert _has(page, PLANTED_NAMES[1]) and _has(page, PLANTED_IDS[1])
    assert _has(page, "M0003")
    lon0, lat0 = case["members"]["lon"].iloc[5], case["members"]["lat"].iloc[5]
    assert _has_point(page, lat0, lon0)  # the form the viewer test looks for
    # isochrones are drawn as polygons
    assert '"type": "Polygon"' in page or '"type": "MultiPolygon"' in page
    # tiles "none": no tile layer at all
    assert "L.tileLayer" not in page and "tile.openstreetmap.org" not in page and "{z}" not in page


def test_english_labels(case: dict[str, pd.DataFrame], tmp_path: Path) -> None:
    page = _map_html(case, tmp_path, "en", settings=MapSettings(tiles="none", language="en"))
    assert "Legend" in page and "Activity stations" in page and "New station" in page
    assert not _has(page, "图例")
    assert "no road network given" in page  # no networks: said so, no areas drawn


def test_default_is_no_tiles_with_a_note_and_a_metric_scale(
    case: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    # OSM tiles are often unreachable inside China: the default asks no tile server and says so
    assert MapSettings().tiles == "none"
    for lang, note in (("zh", "未加载底图"), ("en", "No base map")):
        page = _map_html(case, tmp_path, f"default_{lang}", settings=MapSettings(language=lang))
        assert "L.tileLayer" not in page and "{z}" not in page
        assert _has(page, note) and _has(page, "GEO_PLANNER_TIANDITU_KEY")
        # the scale bar is metric only (folium's own control_scale also shows feet and miles)
        assert re.findall(r"L\.control\.scale\(([^)]*)\)", page) == ["{imperial: false, metric: true, maxWidth: 150}"]
    page = _map_html(case, tmp_path, "osm_note", settings=MapSettings(tiles="osm"))
    assert not _has(page, "未加载底图")  # the note is only there when there is no base map


def test_osm_tiles_and_attribution(case: dict[str, pd.DataFrame], tmp_path: Path) -> None:
    page = _map_html(case, tmp_path, "osm", settings=MapSettings(tiles="osm"))
    assert "tile.openstreetmap.org" in page and "OpenStreetMap" in page


def test_amap_tiles_shift_every_layer_to_gcj02(
    guixi_walk: RoadNetwork, case: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    st = case["stations"]
    page = _map_html(case, tmp_path, "amap", walk=guixi_walk, settings=MapSettings(tiles="amap"))
    assert "autonavi.com" in page
    g_lon, g_lat = from_wgs84(st["lon"].to_numpy(), st["lat"].to_numpy(), "GCJ02")
    for i in range(len(st)):
        assert _has_point(page, float(g_lat[i]), float(g_lon[i]))
        assert not _has_point(page, float(st["lat"].iloc[i]), float(st["lon"].iloc[i]))
    # polygons shifted too: the WGS-84 area does not contain the GCJ-02 station, the drawn one does
    areas = service_areas(guixi_walk, st["lon"], st["lat"], 15.0)
    coords = re.findall(r"\[(117\.\d+), (28\.\d+)\]", page)
    assert coords
    xy = np.array(coords, dtype=float)
    wgs_bounds = areas.total_bounds
    shift_lon, shift_lat = float(np.mean(g_lon - st["lon"])), float(np.mean(g_lat - st["lat"]))
    assert shift_lon > 0.004 and shift_lat < -0.002  # ~ +500 m east, -300 m south around 贵溪
    assert xy[:, 0].max() == pytest.approx(wgs_bounds[2] + shift_lon, abs=2e-4)
    assert xy[:, 1].min() == pytest.approx(wgs_bounds[1] + shift_lat, abs=2e-4)


def test_tianditu_needs_key(
    case: dict[str, pd.DataFrame], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GEO_PLANNER_TIANDITU_KEY", raising=False)
    with pytest.raises(ScenarioError, match="GEO_PLANNER_TIANDITU_KEY"):
        _map_html(case, tmp_path, "tdt", settings=MapSettings(tiles="tianditu"))
    monkeypatch.setenv("GEO_PLANNER_TIANDITU_KEY", "abc123key")
    page = _map_html(case, tmp_path, "tdt", settings=MapSettings(tiles="tianditu"))
    assert "tianditu.gov.cn" in page and "tk=abc123key" in page and "cva_w" in page
    st = case["stations"]  # CGCS2000 ≈ WGS-84: no shift
    assert _has_point(page, float(st["lat"].iloc[0]), float(st["lon"].iloc[0]))


def test_viewer_never_sees_a_member(
    guixi_walk: RoadNetwork, case: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    page = _map_html(case, tmp_path, "viewer", walk=guixi_walk, role="viewer")
    members = case["members"]
    for secret in (*PLANTED_NAMES, *PLANTED_IDS, "M0003", "M0100", "成员001"):
        assert not _has(page, secret), secret
    for lon, lat in zip(members["lon"], members["lat"], strict=True):
        for digits in (6, 5, 4):
            assert not _has_point(page, lat, lon, digits) and not _has_point(page, lon, lat, digits)
    assert not re.search(r"var group = L\.markerClusterGroup\(", page)
    assert not re.search(r"var heat_map_\w+ = L\.heatLayer\(", page)
    assert _has(page, "离退休干部分布（网格人数）") and _has(page, "少于5人的网格不显示")
    # the recommendations are there, scrubbed; one about a single member is not (small-cell rule:
    # no count, no place, no text about fewer than 5 people)
    assert _has(page, "新驿站（示范社区）") and not _has(page, "就近参加活动")
    # facilities are public
    assert _has(page, "桑榆红驿站") and _has(page, "市委机关第一党支部")


def test_large_runs_are_aggregated(case: dict[str, pd.DataFrame], tmp_path: Path) -> None:
    page = _map_html(case, tmp_path, "large", settings=MapSettings(tiles="none", max_member_points=50))
    assert _has(page, "离退休干部（网格汇总）")
    assert not _has(page, "成员007") and not _has(page, "成员011")  # not dispersed: no point or popup
    assert _has(page, "居住分散的党员（按原因）")  # 80 dispersed > 50: clustered, still drawn


def test_missing_columns_degrade(tmp_path: Path, case: dict[str, pd.DataFrame]) -> None:
    members = case["members"][["id", "lon", "lat"]]
    branches = case["branches"].drop(columns="share_dispersed")
    m = build_map(
        members,
        branches,
        case["stations"][["lon", "lat"]],
        None,
        None,
        thresholds=Thresholds(),
        settings=MapSettings(tiles="none"),
    )
    page = save_map(m, tmp_path / "bare.html").read_text(encoding="utf-8")
    assert not _has(page, "居住分散的党员") and not _has(page, "支部居住分散比例")
    assert "L.control.layers" in page
    empty = build_map(
        None, None, None, None, None, thresholds=Thresholds(), settings=MapSettings(tiles="none")
    )
    assert "gp-legend" in empty.get_root().render()


def test_hostile_text_is_escaped(case: dict[str, pd.DataFrame], tmp_path: Path) -> None:
    stations = case["stations"].copy()
    stations.loc[0, "name"] = "${alert(1)}</script><script>alert(2)</script><img src=x onerror=alert(3)>"
    page = _map_html({**case, "stations": stations}, tmp_path, "xss")
    assert "<script>alert(2)" not in page
    assert "<img src=x" not in page
    assert "`${alert(1)}" not in page and "`" + "${" not in page
    assert _has(page, html.escape(stations.loc[0, "name"]))  # shown, as text


def test_saved_map_is_self_contained(case: dict[str, pd.DataFrame], tmp_path: Path) -> None:
    pytest.importorskip("offlinefolium")
    m = build_map(
        case["members"],
        case["branches"],
        case["stations"],
        None,
        case["recommendations"],
        thresholds=Thresholds(),
        settings=MapSettings(tiles="none"),
    )
    page = save_map(m, tmp_path / "offline.html").read_text(encoding="utf-8")
    assert not re.search(r"<(script|link)[^>]+(src|href)=\"https?://", page)  # nothing to download
    assert "/* leaflet.js */" in page and "/* leaflet.markercluster.js */" in page
    online = save_map(m, tmp_path / "online.html", offline=False).read_text(encoding="utf-8")
    assert '<script src="https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js"></script>' in online
    assert len(online) < len(page) - 100_000


# --------------------------------------------------------------------------------------
# a real browser (headless Chromium), fully offline


@pytest.fixture(scope="module")
def leaflet_assets(tmp_path_factory: pytest.TempPathFactory) -> Path | None:
    """Where Leaflet comes from: ``None`` = the packaged copies (folium-offline); else a folder.

    Without folium-offline, ``GEO_PLANNER_MAP_ASSETS`` or the npm packages are used (the test
    is skipped when neither can be had).
    """
    import os

    try:
        import offlinefolium  # noqa: F401

        return None
    except ImportError:
        pass
    env = os.environ.get("GEO_PLANNER_MAP_ASSETS")
    if env and (Path(env) / "leaflet.js").is_file():
        return Path(env)
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm not available to fetch Leaflet for the offline browser test")
    folder = tmp_path_factory.mktemp("leaflet")
    try:
        subprocess.run(
            [npm, "pack", "leaflet@1.9.3", "leaflet.markercluster@1.5.3", "--silent"],
            cwd=folder,
            check=True,
            capture_output=True,
            timeout=120,
        )
    except (subprocess.SubprocessError, OSError) as exc:
        pytest.skip(f"cannot fetch Leaflet from the npm registry: {exc}")
    for tgz in folder.glob("*.tgz"):
        with tarfile.open(tgz) as tar:
            for member in tar.getmembers():
                base = member.name.rsplit("/", 1)[-1]
                if member.name.startswith("package/dist/") and base in (
                    "leaflet.js",
                    "leaflet.css",
                    "leaflet.markercluster.js",
                    "MarkerCluster.css",
                    "MarkerCluster.Default.css",
                ):
                    fh = tar.extractfile(member)
                    assert fh is not None
                    (folder / base).write_bytes(fh.read())
    if not (folder / "leaflet.js").is_file():
        pytest.skip("leaflet.js not found in the npm package")
    return folder


@pytest.mark.browser
@pytest.mark.parametrize("role", ["planner", "viewer"])
def test_map_runs_in_headless_chromium(
    guixi_walk: RoadNetwork,
    case: dict[str, pd.DataFrame],
    tmp_path: Path,
    leaflet_assets: Path | None,
    role: str,
    page,  # noqa: ANN001 - the Playwright page (tests/conftest.py)
) -> None:
    m = build_map(
        case["members"],
        case["branches"],
        case["stations"],
        case["hospitals"],
        case["recommendations"],
        walk=guixi_walk,
        thresholds=Thresholds(),
        settings=MapSettings(tiles="none"),
        role=role,
    )
    html_text, remote = inline_assets(m.get_root().render(), leaflet_assets)
    assert remote == []  # nothing left to download: the page works offline
    # a probe opens the first marker's and the first member point's popup and copies them out
    map_var = re.search(r"var (map_[0-9a-f]+) = L\.map", html_text).group(1)
    probe = f"""<script>
    (function () {{
        var out = document.createElement("pre"); out.id = "gp-probe"; document.body.appendChild(out);
        var seen = {{}};
        {map_var}.eachLayer(function (l) {{
            var kind = l instanceof L.CircleMarker ? "circle" : (l instanceof L.Marker ? "marker" : null);
            if (kind && !seen[kind] && l.getPopup()) {{
                seen[kind] = true;
                l.openPopup();
                var e = l.getPopup().getElement();
                var c = e ? e.querySelector(".leaflet-popup-content") : null;
                out.appendChild(document.createTextNode(kind + ":" + (c ? c.innerHTML : "none") + "\\n"));
            }}
        }});
    }})();
    </script>"""
    html_text = html_text.replace("</html>", probe + "</html>")
    path = tmp_path / "map.html"
    path.write_text(html_text, encoding="utf-8")
    page.goto(path.as_uri())
    page.wait_for("() => (document.getElementById('gp-probe') || {}).textContent")
    page.settle(300)
    dom = page.page.content()
    assert page.errors == [] and page.bad == []
    assert all(u.startswith(("file:", "data:")) for u in page.urls), page.urls  # nothing from outside
    assert "leaflet-container" in dom
    recs = case["recommendations"]
    if role == "viewer":  # a recommendation about fewer than 5 members has no place for a viewer
        recs = recs[(recs["n_members"] >= 5) | (recs["kind"] == "new_station")]
    n_markers = len(case["branches"]) + len(case["stations"]) + len(case["hospitals"]) + len(recs)
    # every badge is shown, on its own or inside a joined badge (badges never overlap: maps/badges.py)
    singles = len(re.findall(r'class="[^"]*\bgp-icon\b(?![^"]*gp-cluster)', dom))
    joined = sum(int(n) for n in re.findall(r'data-n="(\d+)"', dom))
    assert singles + joined == n_markers
    assert "leaflet-control-layers-list" in dom and "gp-legend" in dom
    clusters = re.findall(r'class="[^"]*\bmarker-cluster\b', dom)
    assert (len(clusters) > 0) == (role == "planner")
    probe = re.search(r'<pre id="gp-probe">(.*?)</pre>', dom, re.S).group(1)
    assert re.search(r"marker:.*gp-pop.*(党支部|驿站|医院|新驿站)", probe) and "none" not in probe
    if role == "planner":  # dispersed members are plain points with a popup naming the member
        assert re.search(r"circle:.*gp-pop.*(成员\d{3}|欧阳秘密甲|司马隐私乙|诸葛保密丙)", probe)
    else:
        assert "circle:" not in probe
        for secret in PLANTED_NAMES:
            assert not _has(dom, secret) and not _has(html_text, secret)
