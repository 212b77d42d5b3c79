"""Geocoding quality on every bundled extract (贵溪, 南京, 深圳龙岗).

Addresses are written the way members' tables write them from each extract's own named places
(社区/村/街道, also as …居委会 / …社区居委会), amenities and roads (with a house number, often
followed by building/unit/room detail or 附近), and the answer is checked against the OSM
geometry read independently with pyosmium: at least 95 % within 600 m (places) / 200 m
(amenities: to the feature; roads: to the nearest way of that name), and none placed more than
1 km away at a fine precision level (poi, street, community).

Names that occur more than once in an extract (chain stores, 图书馆) are left out: such an
address names no single place, and refusing it (ambiguous → coarser level) is the right answer.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from pathlib import Path

import numpy as np
import osmium
import pandas as pd
import pytest
import shapely
import shapely.ops

from geo_planner.geocode import Gazetteer, geocode, parse_address
from geo_planner.settings import GeocodeSettings

from ..support.paths import GUIXI, NANJING, OSM

LONGGANG = OSM / "shenzhen_longgang.osm"
REGION = {GUIXI: "江西省鹰潭市贵溪市", NANJING: "江苏省南京市", LONGGANG: "广东省深圳市龙岗区"}
TAILS = ("", "3栋2单元501室", "12号楼1单元302", "附近")
SKIP_ROADS = re.compile(r"(高速|隧道|桥|立交|服务区|匝道|出口|入口|线)$")


class _Truth(osmium.SimpleHandler):
    """Named places, amenities and roads of one extract, straight from the file."""

    def __init__(self) -> None:
        super().__init__()
        self.places: list[tuple[str, str, float, float]] = []
        self.amenities: list[tuple[str, float, float]] = []
        self.roads: dict[str, list[shapely.LineString]] = {}

    def node(self, n: osmium.osm.Node) -> None:
        name = n.tags.get("name")
        if not name:
            return
        place = n.tags.get("place")
        if place in ("quarter", "village", "neighbourhood", "town", "suburb"):
            self.places.append((name, place, n.location.lon, n.location.lat))
        elif "amenity" in n.tags:
            self.amenities.append((name, n.location.lon, n.location.lat))

    def way(self, w: osmium.osm.Way) -> None:
        name = w.tags.get("name")
        if not name:
            return
        try:
            pts = [(nd.lon, nd.lat) for nd in w.nodes]
        except osmium.InvalidLocationError:
            return
        if "highway" in w.tags and len(pts) >= 2:
            self.roads.setdefault(name, []).append(shapely.LineString(pts))
        elif "amenity" in w.tags and len(pts) >= 4 and pts[0] == pts[-1]:
            c = shapely.Polygon(pts).centroid
            self.amenities.append((name, c.x, c.y))


def _metres(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    k = math.pi / 180
    return 6_371_008.8 * math.hypot((lon2 - lon1) * k * math.cos((lat1 + lat2) / 2 * k), (lat2 - lat1) * k)


def _addresses(path: Path) -> pd.DataFrame:
    truth = _Truth()
    truth.apply_file(str(path), locations=True)
    region = REGION[path]
    rows: list[tuple[str, str, object]] = []  # kind, address, truth geometry
    for i, (name, place, lon, lat) in enumerate(truth.places):
        forms = [name]
        if place in ("quarter", "neighbourhood"):
            forms += [name.removesuffix("社区") + "居委会", name.removesuffix("社区") + "社区居委会"]
        for f in forms:
            rows.append(("place", region + f + TAILS[i % len(TAILS)], shapely.Point(lon, lat)))
    counts = Counter(a[0] for a in truth.amenities)
    for name, lon, lat in truth.amenities:
        if counts[name] == 1:
            rows.append(("amenity", region + name, shapely.Point(lon, lat)))
    for i, (name, lines) in enumerate(sorted(truth.roads.items())):
        if SKIP_ROADS.search(name):
            continue
        geom = shapely.MultiLineString(lines)
        for tail in ("", TAILS[1 + i % 3]):
            rows.append(("road", f"{region}{name}{17 + i}号{tail}", geom))
    return pd.DataFrame(rows, columns=["kind", "address", "truth"])


@pytest.fixture(scope="module")
def gaz() -> Gazetteer:
    return Gazetteer.from_osm([GUIXI, NANJING, LONGGANG])


@pytest.mark.parametrize("extract", [GUIXI, NANJING, LONGGANG], ids=["guixi", "nanjing", "longgang"])
def test_addresses_from_the_extract_are_placed(gaz: Gazetteer, extract: Path) -> None:
    cases = _addresses(extract)
    assert len(cases) >= 30 and set(cases["kind"]) == {"place", "amenity", "road"}
    out = geocode(cases["address"].tolist(), gaz, GeocodeSettings())
    dist = np.full(len(cases), np.inf)
    for i, (geom, lon, lat) in enumerate(zip(cases["truth"], out["lon"], out["lat"], strict=True)):
        if np.isfinite(lon):
            near = shapely.ops.nearest_points(geom, shapely.Point(lon, lat))[0]
            dist[i] = _metres(near.x, near.y, lon, lat)
    limit = np.where(cases["kind"] == "place", 600.0, 200.0)
    ok = dist <= limit
    bad = cases.assign(dist=dist.round(), precision=out["geocode_precision"], match=out["geocode_match"])[~ok]
    for kind, group in cases.assign(ok=ok).groupby("kind"):
        assert group["ok"].mean() >= 0.95, f"{extract.name} {kind}: {group['ok'].mean():.1%}\n{bad.to_string()}"
    fine = out["geocode_precision"].isin(["poi", "street", "community"]).to_numpy()
    assert not (fine & (dist > 1000)).any(), bad.to_string()
    # a building / unit / room tail never pushes a match down to county level
    tails = cases["address"].str.contains("单元|附近").to_numpy()
    assert not (tails & (out["geocode_precision"] == "county").to_numpy()).any()


@pytest.mark.parametrize(("address", "road"), [
    ("南京市估衣廊82号", "估衣廊"),
    ("南京市一枝园12号3栋2单元501室", "一枝园"),
    ("南京市玄武区东箭道66号附近", "东箭道"),
    ("南京市新街口转盘11号", "新街口转盘"),
    ("深圳市龙岗区大学道63号12号楼1单元302", "大学道"),
])  # fmt: skip
def test_old_city_names_without_road_suffix(gaz: Gazetteer, address: str, road: str) -> None:
    r = geocode([address], gaz).iloc[0]
    assert r["geocode_precision"] in ("street", "poi")
    assert r["geocode_match"] == road


def test_committee_suffixes_and_building_tails(gaz: Gazetteer) -> None:
    out = geocode(["贵溪市东街社区居委会", "贵溪市东街社区", "贵溪市北街社区居委会12号楼1单元302",
                   "贵溪市东街居委会3栋2单元501室", "贵溪市大岩苏家12号楼1单元302"], gaz)
    assert out["geocode_precision"].tolist() == ["community"] * 5
    assert out["geocode_match"].tolist() == ["东街社区", "东街社区", "北街社区", "东街社区", "大岩苏家"]
    # the parser keeps 东街社区居委会 a community (not the road 东街) and 网巾市 a road, not a county
    assert parse_address("贵溪市东街社区居委会").community == "东街社区居委会"
    p = parse_address("南京市网巾市195号")
    assert (p.county, p.poi) == ("", "网巾市195号")
    assert geocode(["南京市网巾市195号"], gaz)["geocode_match"].iat[0] == "网巾市"


def test_nanjing_addresses_naming_their_district(gaz: Gazetteer) -> None:
    """南京 addresses with the district written (玄武/秦淮/鼓楼 — 鼓楼区 has a 楼 in it): the district
    must agree with the place, or the place must lie within 500 m of it (roads along a district line)."""
    from geo_planner.admin import locate_divisions

    truth = _Truth()
    truth.apply_file(str(NANJING), locations=True)
    counts = Counter(a[0] for a in truth.amenities)
    rows: list[tuple[str, object]] = []
    for name, lon, lat in truth.amenities:
        if counts[name] == 1:
            district = locate_divisions([lon], [lat])["county"].iat[0]
            rows.append((f"江苏省南京市{district}{name}", shapely.Point(lon, lat)))
    for name, lines in sorted(truth.roads.items()):
        if SKIP_ROADS.search(name):
            continue
        xy = np.vstack([np.asarray(line.coords) for line in lines])
        mid = xy[len(xy) // 2]
        district = locate_divisions([mid[0]], [mid[1]])["county"].iat[0]
        rows.append((f"南京市{district}{name}12号", shapely.MultiLineString(lines)))
    assert {"玄武区", "秦淮区", "鼓楼区"} <= {a[len("江苏省南京市"):][:3] for a, _ in rows}
    out = geocode([a for a, _ in rows], gaz)
    ok = []
    for (address, geom), lon, lat in zip(rows, out["lon"], out["lat"], strict=True):
        if not np.isfinite(lon):
            ok.append(False)
            continue
        near = shapely.ops.nearest_points(geom, shapely.Point(lon, lat))[0]
        ok.append(_metres(near.x, near.y, lon, lat) <= 200)
    assert np.mean(ok) >= 0.95, [a for (a, _), good in zip(rows, ok, strict=True) if not good]
    assert parse_address("南京市鼓楼区中山路1号").county == "鼓楼区"
