"""Tests of geo_planner.geocode on the bundled real OSM extracts (贵溪, 南京)."""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from shapely.geometry import LineString, Point, Polygon

from geo_planner.errors import GeocodeError, InputError
from geo_planner.geocode import (
    AmapGeocoder,
    Gazetteer,
    GeocodeCache,
    TiandituGeocoder,
    assign_admin_units,
    geocode,
    load_county_centres,
    online_geocoder_from_settings,
    parse_address,
)
from geo_planner.settings import GeocodeSettings

DATA = Path(__file__).resolve().parents[2] / "data" / "osm"
GUIXI = DATA / "guixi_jiangxi.osm"
NANJING = DATA / "nanjing_xuanwu.osm"
HAVE_COUNTIES = not load_county_centres().empty


# --- reading the reference geometry straight from the OSM files ------------------------


def _elements(path: Path) -> tuple[dict[str, tuple[float, float]], list[ET.Element]]:
    root = ET.parse(path).getroot()
    coords = {n.get("id"): (float(n.get("lon")), float(n.get("lat"))) for n in root.iter("node")}
    return coords, list(root)


@pytest.fixture(scope="module")
def guixi_osm() -> tuple[dict[str, tuple[float, float]], list[ET.Element]]:
    return _elements(GUIXI)


@pytest.fixture(scope="module")
def nanjing_osm() -> tuple[dict[str, tuple[float, float]], list[ET.Element]]:
    return _elements(NANJING)


def _tags(el: ET.Element) -> dict[str, str]:
    return {t.get("k"): t.get("v") for t in el.findall("tag")}


def node_named(
    osm: tuple[dict[str, tuple[float, float]], list[ET.Element]], name: str, **tags: str
) -> tuple[float, float]:
    _, elements = osm
    hits = [
        (float(el.get("lon")), float(el.get("lat")))
        for el in elements
        if el.tag == "node"
        and _tags(el).get("name") == name
        and all(_tags(el).get(k) == v for k, v in tags.items())
    ]
    assert len(hits) == 1, f"{name}: {len(hits)} nodes"
    return hits[0]


def ways_named(
    osm: tuple[dict[str, tuple[float, float]], list[ET.Element]], name: str, key: str
) -> list[list[tuple[float, float]]]:
    coords, elements = osm
    return [
        [coords[nd.get("ref")] for nd in el.findall("nd")]
        for el in elements
        if el.tag == "way" and _tags(el).get("name") == name and key in _tags(el)
    ]


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Haversine distance between two lon/lat points."""
    lon1, lat1, lon2, lat2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(math.sqrt(h))


def local_xy(points: list[tuple[float, float]], lat0: float) -> list[tuple[float, float]]:
    k = 6_371_008.8 * math.pi / 180
    return [(lon * k * math.cos(math.radians(lat0)), lat * k) for lon, lat in points]


# --- fixtures ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gaz() -> Gazetteer:
    return Gazetteer.from_osm([GUIXI, NANJING])


def one(gaz: Gazetteer, address: str | None, **settings: Any) -> pd.Series:
    out = geocode([address], gaz, GeocodeSettings(**settings))
    return out.iloc[0]


# --- parse_address ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "江西省贵溪市雄石街道花园社区三栋",
            {
                "province": "江西省",
                "city": "贵溪市",
                "township": "雄石街道",
                "community": "花园社区",
                "poi": "三栋",
            },
        ),
        ("贵溪市花园街道东街社区", {"city": "贵溪市", "township": "花园街道", "community": "东街社区"}),
        ("雄石街道", {"township": "雄石街道"}),
        (
            "南京市玄武区中山路321号",
            {"city": "南京市", "county": "玄武区", "road": "中山路", "number": "321号"},
        ),
        ("贵溪市建设路12号", {"city": "贵溪市", "road": "建设路", "number": "12号"}),
        ("贵溪市建设路１２号", {"city": "贵溪市", "road": "建设路", "number": "12号"}),
        (
            "江西省鹰潭市余江区某某路",
            {"province": "江西省", "city": "鹰潭市", "county": "余江区", "road": "某某路"},
        ),
        (
            "江西鹰潭市贵溪市东门街道信江社区",
            {
                "province": "江西省",
                "city": "鹰潭市",
                "county": "贵溪市",
                "township": "东门街道",
                "community": "信江社区",
            },
        ),
        ("花园村", {"community": "花园村"}),
        ("上海路12号", {"road": "上海路", "number": "12号"}),  # a road, not the province 上海
        ("吉林市船营区", {"city": "吉林市", "county": "船营区"}),  # a city, not the province 吉林
        ("中山路社区", {"community": "中山路社区"}),
        ("建设路花园社区", {"road": "建设路", "community": "花园社区"}),
        ("贵溪市冶金大道东侧花园新村", {"city": "贵溪市", "road": "冶金大道", "community": "东侧花园新村"}),
        ("东街社区3栋2单元", {"community": "东街社区", "poi": "3栋2单元"}),
        ("贵溪市西街", {"city": "贵溪市", "road": "西街"}),
        ("贵溪市花园小区5栋", {"city": "贵溪市", "poi": "花园小区5栋"}),
        (
            "北京市朝阳区建国路88号",
            {"province": "北京市", "city": "北京市", "county": "朝阳区", "road": "建国路", "number": "88号"},
        ),
    ],
)
def test_parse_address(text: str, expected: dict[str, str]) -> None:
    parsed = parse_address(text)
    fields = ("province", "city", "county", "township", "community", "road", "number", "poi")
    assert {f: getattr(parsed, f) for f in fields} == {f: expected.get(f, "") for f in fields}
    assert parsed.raw == text


def test_east_street_community_is_not_a_road() -> None:
    parsed = parse_address("东街社区")
    assert parsed.community == "东街社区"
    assert parsed.road == ""


# --- gazetteer --------------------------------------------------------------------------


def test_gazetteer_entries(gaz: Gazetteer, guixi_osm: Any) -> None:
    e = gaz.entries
    guixi = e[e["source"] == GUIXI.name]
    row = guixi[guixi["name"] == "花园社区"].iloc[0]
    assert (row["kind"], row["level"]) == ("quarter", "community")
    assert (row["lon"], row["lat"]) == node_named(guixi_osm, "花园社区")
    assert row["township"] == "花园街道" and row["county"] == "贵溪市"
    assert set(guixi.loc[guixi["kind"] == "town", "name"]) == {"花园街道", "雄石街道", "东门街道"}
    assert guixi.loc[guixi["name"] == "花园村", "level"].tolist() == ["community"]
    assert (guixi.loc[guixi["kind"] == "quarter", "level"] == "community").sum() == 16
    # one entry per road name, its point a vertex of the road
    assert (guixi.loc[guixi["kind"] == "road", "name"] == "建设路").sum() == 1
    nanjing = e[e["source"] == NANJING.name]
    assert nanjing["name"].str.endswith("医院").sum() >= 4
    addr = nanjing[(nanjing["street"] == "仁寿里") & (nanjing["housenumber"] == "30号")]
    assert addr["level"].tolist() == ["poi"]
    assert (nanjing["city"].map(lambda c: c.startswith("南京"))).all()
    if HAVE_COUNTIES:
        assert (guixi["city"] == "鹰潭市").all() and (guixi["province"] == "江西省").all()
        assert (e["source"] == "cpca").sum() > 2500


def test_missing_and_broken_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        Gazetteer.from_osm([tmp_path / "x.osm.pbf"])
    broken = tmp_path / "broken.osm.pbf"
    broken.write_bytes(b"not a pbf")
    with pytest.raises(InputError, match="broken.osm.pbf.*PBF"):
        Gazetteer.from_osm([broken], cache_dir=tmp_path)
    with pytest.raises(InputError, match="not found"):
        Gazetteer.from_osm([tmp_path / "missing.osm"])
    bad = tmp_path / "bad.osm"
    bad.write_text("<osm><node id='1'", encoding="utf-8")
    with pytest.raises(InputError, match="not valid OSM XML"):
        Gazetteer.from_osm([bad])


# --- geocode: precision levels ----------------------------------------------------------


def test_community_address_hits_the_real_node(gaz: Gazetteer, guixi_osm: Any) -> None:
    r = one(gaz, "江西省贵溪市雄石街道花园社区三栋")
    assert r["geocode_precision"] == "community"
    assert r["geocode_match"] == "花园社区"
    assert metres((r["lon"], r["lat"]), node_named(guixi_osm, "花园社区")) < 1.0
    assert r["geocode_score"] >= 90
    assert (r["geocode_township"], r["geocode_community"]) == ("雄石街道", "花园社区")


def test_village_community_and_township_are_different_places(gaz: Gazetteer, guixi_osm: Any) -> None:
    village = one(gaz, "贵溪市花园村")
    assert (village["geocode_precision"], village["geocode_match"]) == ("community", "花园村")
    assert metres((village["lon"], village["lat"]), node_named(guixi_osm, "花园村")) < 1.0
    town = one(gaz, "贵溪市花园街道")
    assert (town["geocode_precision"], town["geocode_match"]) == ("township", "花园街道")
    assert metres((town["lon"], town["lat"]), node_named(guixi_osm, "花园街道", place="town")) < 1.0
    community = one(gaz, "贵溪市花园居委会")  # 居委会 is the 社区's committee
    assert (community["geocode_precision"], community["geocode_match"]) == ("community", "花园社区")


def test_township_address(gaz: Gazetteer, guixi_osm: Any) -> None:
    r = one(gaz, "贵溪市雄石街道")
    assert (r["geocode_precision"], r["geocode_match"], r["geocode_township"]) == (
        "township",
        "雄石街道",
        "雄石街道",
    )
    assert metres((r["lon"], r["lat"]), node_named(guixi_osm, "雄石街道", place="town")) < 1.0


def test_road_address_is_on_the_road(gaz: Gazetteer, guixi_osm: Any) -> None:
    r = one(gaz, "贵溪市建设路12号")
    assert (r["geocode_precision"], r["geocode_match"]) == ("street", "建设路")
    ways = ways_named(guixi_osm, "建设路", "highway")
    assert ways
    lat0 = r["lat"]
    point = Point(local_xy([(r["lon"], r["lat"])], lat0)[0])
    gap = min(LineString(local_xy(w, lat0)).distance(point) for w in ways)
    assert gap < 1.0


@pytest.mark.parametrize(("address", "name", "tag"), [
    ("贵溪市第四中学", "贵溪市第四中学", {"amenity": "school"}),
    ("贵溪市人民政府", "贵溪市人民政府", {"amenity": "townhall"}),
    ("东门街道办事处", "东门街道办事处", {"amenity": "townhall"}),
])  # fmt: skip
def test_poi_names(gaz: Gazetteer, guixi_osm: Any, address: str, name: str, tag: dict[str, str]) -> None:
    r = one(gaz, address)
    assert (r["geocode_precision"], r["geocode_match"]) == ("poi", name)
    assert metres((r["lon"], r["lat"]), node_named(guixi_osm, name, **tag)) < 1.0


def test_nanjing_hospital(gaz: Gazetteer, nanjing_osm: Any) -> None:
    r = one(gaz, "南京市江苏省中医院")
    assert (r["geocode_precision"], r["geocode_match"]) == ("poi", "江苏省中医院")
    (ring,) = ways_named(nanjing_osm, "江苏省中医院", "amenity")
    assert Polygon(ring).contains(Point(r["lon"], r["lat"]))


def test_nanjing_road_named_after_a_city(gaz: Gazetteer, nanjing_osm: Any) -> None:
    r = one(gaz, "南京市上海路")
    assert (r["geocode_precision"], r["geocode_match"]) == ("street", "上海路")
    assert (
        min(
            metres((r["lon"], r["lat"]), pt)
            for way in ways_named(nanjing_osm, "上海路", "highway")
            for pt in way
        )
        < 1
    )


def test_nanjing_house_number(gaz: Gazetteer, nanjing_osm: Any) -> None:
    r = one(gaz, "江苏省南京市秦淮区仁寿里30号")
    assert r["geocode_precision"] == "poi"
    coords, elements = nanjing_osm
    (ring,) = [
        [coords[nd.get("ref")] for nd in el.findall("nd")]
        for el in elements
        if el.tag == "way"
        and _tags(el).get("addr:street") == "仁寿里"
        and _tags(el).get("addr:housenumber") == "30号"
    ]
    assert Polygon(ring).contains(Point(r["lon"], r["lat"]))


def test_typos_match_with_a_lower_score(gaz: Gazetteer, guixi_osm: Any) -> None:
    exact = one(gaz, "贵溪市雄石街道花园社区")
    typo = one(gaz, "贵溪市雄石街道花元社区")
    assert typo["geocode_match"] == "花园社区" and typo["geocode_precision"] == "community"
    assert metres((typo["lon"], typo["lat"]), node_named(guixi_osm, "花园社区")) < 1.0
    assert 70 <= typo["geocode_score"] < exact["geocode_score"]
    road = one(gaz, "贵溪市建没路")
    assert (road["geocode_precision"], road["geocode_match"]) == ("street", "建设路")
    assert 70 <= road["geocode_score"] < 100


def test_unmatched_is_nan_never_a_default_point(gaz: Gazetteer) -> None:
    out = geocode(["啊啊啊啊", "qwerty uiop", "上海市某某路8号", "上海市建设路3号", "火星市建设路1号"], gaz)
    assert (out["geocode_precision"] == "unmatched").all()
    assert out["lon"].isna().all() and out["lat"].isna().all()
    assert (out["geocode_match"] == "").all()


def test_other_county(gaz: Gazetteer) -> None:
    r = one(gaz, "江西省鹰潭市余江区某某路")
    if HAVE_COUNTIES:  # 余江 county centre (cpca still says 余江县; it became 余江区 in 2018)
        assert r["geocode_precision"] == "county"
        assert r["geocode_match"] in ("余江县", "余江区")
        assert metres((r["lon"], r["lat"]), (116.82, 28.21)) < 15_000
    else:
        assert r["geocode_precision"] == "unmatched" and math.isnan(r["lon"])


def test_residential_compound_is_not_taken_for_a_community(gaz: Gazetteer) -> None:
    r = one(gaz, "贵溪市花园小区")
    assert r["geocode_match"] not in ("花园社区", "花园村", "花园街道")
    assert r["geocode_precision"] in ("county", "unmatched")


def test_default_region(gaz: Gazetteer, guixi_osm: Any) -> None:
    out = geocode(
        ["建设路12号", "南京市玄武区中山路321号", "啊啊啊啊", "人民政府"],
        gaz,
        GeocodeSettings(default_region="江西省贵溪市"),
    )
    assert (out.at[0, "geocode_precision"], out.at[0, "geocode_match"]) == ("street", "建设路")
    assert out.at[1, "geocode_match"] == "中山路" and out.at[1, "lat"] > 32  # still Nanjing
    assert out.at[2, "geocode_precision"] == "unmatched"  # the default region is no evidence of a place
    assert out.at[3, "geocode_match"] == "贵溪市人民政府"
    # without context, 人民政府 is ambiguous between 贵溪 and 玄武区
    ambiguous = one(gaz, "人民政府")
    assert (ambiguous["geocode_precision"], ambiguous["geocode_score"]) == ("unmatched", 0.0)
    assert one(gaz, "南京市玄武区人民政府")["geocode_match"] == "玄武区人民政府"
    assert one(gaz, "南京市人民政府")["geocode_match"] != "玄武区人民政府"  # the city's, not the district's


def test_duplicates_and_alignment(gaz: Gazetteer) -> None:
    addresses = [
        "贵溪市花园村",
        None,
        "贵溪市雄石街道",
        "",
        "贵溪市花园村",
        float("nan"),
        "  贵溪市 花园村 ",
        "乱码乱码",
    ]
    out = geocode(addresses, gaz)  # type: ignore[arg-type]
    assert isinstance(out.index, pd.RangeIndex) and len(out) == len(addresses)
    assert list(out.columns) == [
        "lon", "lat", "geocode_precision", "geocode_score", "geocode_match",
        "geocode_township", "geocode_community",
    ]  # fmt: skip
    pd.testing.assert_series_equal(out.iloc[0], out.iloc[4], check_names=False)
    pd.testing.assert_series_equal(out.iloc[0], out.iloc[6], check_names=False)
    assert out["geocode_precision"].tolist() == [
        "community", "unmatched", "township", "unmatched", "community", "unmatched", "community", "unmatched",
    ]  # fmt: skip
    assert out.loc[[1, 3, 5], "lon"].isna().all()
    assert out["lon"].dtype == np.float64 and out["geocode_score"].dtype == np.float64


# --- assign_admin_units -------------------------------------------------------------------


def test_assign_admin_units(gaz: Gazetteer, guixi_osm: Any) -> None:
    lon0, lat0 = node_named(guixi_osm, "花园社区")
    dlat = 50.0 / 111_195.0
    lons = np.array([lon0, lon0, lon0, np.nan])
    lats = np.array([lat0 + dlat, lat0 + 0.9, lat0 - dlat, np.nan])  # 50 m north, 100 km north, 50 m south
    out = assign_admin_units(lons, lats, gaz)
    assert out["community"].tolist() == ["花园社区", "", "花园社区", ""]
    assert out.at[0, "township"] == "花园街道"
    assert out.at[1, "township"] == ""
    series = assign_admin_units(pd.Series([lon0], index=[7]), pd.Series([lat0], index=[7]), gaz)
    assert series.index.tolist() == [7]


# --- online geocoders (no network) --------------------------------------------------------


def test_online_geocoder_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    assert online_geocoder_from_settings(GeocodeSettings()) is None
    monkeypatch.delenv("GEO_PLANNER_GEOCODER_KEY", raising=False)
    with pytest.raises(GeocodeError, match="GEO_PLANNER_GEOCODER_KEY"):
        online_geocoder_from_settings(GeocodeSettings(online_provider="amap"))
    monkeypatch.setenv("GEO_PLANNER_MY_KEY", "fake-key")  # only the project's own variables (issue 9)
    key = "GEO_PLANNER_MY_KEY"
    amap = online_geocoder_from_settings(GeocodeSettings(online_provider="amap", online_key_env=key))
    assert isinstance(amap, AmapGeocoder)
    tdt = online_geocoder_from_settings(GeocodeSettings(online_provider="tianditu", online_key_env=key))
    assert isinstance(tdt, TiandituGeocoder)
    with pytest.raises(GeocodeError):
        AmapGeocoder("")
    with pytest.raises(GeocodeError):
        TiandituGeocoder("")


def test_amap_request_and_response() -> None:
    amap = AmapGeocoder("fake-key", city="鹰潭")
    req = amap.build_request("贵溪市雄石街道花园社区")
    assert req.method == "GET"
    assert (req.url.scheme, req.url.host, req.url.path) == ("https", "restapi.amap.com", "/v3/geocode/geo")
    assert dict(req.url.params) == {
        "key": "fake-key",
        "address": "贵溪市雄石街道花园社区",
        "output": "JSON",
        "city": "鹰潭",
    }
    from geo_planner.crs import wgs84_to_gcj02

    gx, gy = wgs84_to_gcj02(117.24, 28.29)
    payload = {
        "status": "1", "info": "OK", "infocode": "10000", "count": "1",
        "geocodes": [{"formatted_address": "江西省鹰潭市贵溪市花园社区", "level": "村庄",
                      "location": f"{float(gx):.6f},{float(gy):.6f}"}],
    }  # fmt: skip
    result = amap.parse_response(payload)
    assert result is not None and result["precision"] == "community"
    assert metres((result["lon"], result["lat"]), (117.24, 28.29)) < 0.5
    with pytest.raises(GeocodeError):
        amap.parse_response({"status": "0", "info": "INVALID_USER_KEY", "infocode": "10001"})
    assert amap.parse_response({"status": "1", "count": "0", "geocodes": []}) is None


def test_tianditu_request_and_response() -> None:
    tdt = TiandituGeocoder("fake-key")
    req = tdt.build_request("贵溪市建设路12号")
    assert (req.url.host, req.url.path) == ("api.tianditu.gov.cn", "/geocoder")
    assert req.url.params["tk"] == "fake-key"
    assert json.loads(req.url.params["ds"]) == {"keyWord": "贵溪市建设路12号"}
    result = tdt.parse_response(
        {
            "status": "0",
            "msg": "ok",
            "location": {"lon": 117.235, "lat": 28.294, "level": "道路", "score": 80},
        }
    )
    assert result == {"lon": 117.235, "lat": 28.294, "precision": "street", "score": 80.0, "match": ""}


class FakeOnline:
    """An online geocoder stand-in that counts its calls."""

    name = "fake"

    def __init__(self) -> None:
        self.calls: list[str] = []

    def geocode(self, address: str) -> dict[str, Any] | None:
        """Answer for 花园社区 addresses only."""
        self.calls.append(address)
        if "花园社区" in address:
            return {"lon": 117.2401, "lat": 28.2904, "precision": "poi", "score": 95.0, "match": "三栋"}
        return None


def test_online_fallback_and_cache(gaz: Gazetteer, tmp_path: Path) -> None:
    cache = GeocodeCache(tmp_path / "geocode.sqlite")
    fake = FakeOnline()
    addresses = ["贵溪市雄石街道花园社区三栋", "贵溪市建设路12号", "啊啊啊啊", "贵溪市雄石街道花园社区三栋"]
    out = geocode(addresses, gaz, cache=cache, online=fake)
    # street is precise enough: only the community-level and the unmatched address go online, once each
    assert sorted(fake.calls) == sorted(["贵溪市雄石街道花园社区三栋", "啊啊啊啊"])
    assert out.at[0, "geocode_precision"] == "poi" and out.at[0, "geocode_match"] == "fake:三栋"
    assert out.at[1, "geocode_precision"] == "street"
    assert out.at[2, "geocode_precision"] == "unmatched" and math.isnan(out.at[2, "lon"])
    again = geocode(addresses, gaz, cache=cache, online=fake)
    assert len(fake.calls) == 2  # all answers, including the miss, came from the cache
    pd.testing.assert_frame_equal(out, again)
    assert cache.lookup("fake", "啊啊啊啊") == (True, None)
    assert cache.lookup("fake", "nowhere") == (False, None)


def test_cache_roundtrip(tmp_path: Path) -> None:
    cache = GeocodeCache(tmp_path / "sub" / "c.sqlite")
    cache.put("amap", "贵溪市 建设路１２号", {"lon": 1.5, "lat": 2.5, "precision": "poi"})
    assert cache.get("amap", "贵溪市建设路12号") == {"lon": 1.5, "lat": 2.5, "precision": "poi"}
    assert cache.get("tianditu", "贵溪市建设路12号") is None
    assert len(GeocodeCache(tmp_path / "sub" / "c.sqlite")) == 1


def test_without_county_centres() -> None:
    """With OSM only (no cpca table), region context comes from place nodes and addr:* tags."""
    osm_only = Gazetteer.from_osm([GUIXI, NANJING], counties=False)
    assert (osm_only.entries["source"] != "cpca").all()
    out = geocode(
        [
            "南京市江苏省中医院",
            "江西省鹰潭市余江区某某路",
            "鹰潭市余江区建设路",
            "鹰潭市贵溪市建设路",
            "贵溪市花园村",
        ],
        osm_only,
    )
    assert out["geocode_precision"].tolist() == ["poi", "unmatched", "unmatched", "street", "community"]


@pytest.mark.skipif(not HAVE_COUNTIES, reason="cpca (county centres) not installed")
def test_county_centres_are_converted_to_wgs84(gaz: Gazetteer, guixi_osm: Any) -> None:
    e = gaz.entries
    centre = e[(e["source"] == "cpca") & (e["name"] == "贵溪市")].iloc[0]
    # the GCJ-02 offset is ~500 m here; converted, the centre sits next to OSM's place node
    assert metres((centre["lon"], centre["lat"]), node_named(guixi_osm, "贵溪市", place="city")) < 300
    assert (centre["city"], centre["province"]) == ("鹰潭市", "江西省")


def test_custom_gazetteer_table() -> None:
    table = pd.DataFrame(
        {
            "name": ["幸福社区", "和平街道"],
            "level": ["community", "township"],
            "kind": ["quarter", "town"],
            "lon": [117.1, 117.2],
            "lat": [28.1, 28.2],
        }
    )
    out = geocode(["和平街道幸福居委会", "和平街道"], Gazetteer(table))
    assert out["geocode_precision"].tolist() == ["community", "township"]
    assert out.at[0, "geocode_match"] == "幸福社区" and out.at[0, "lon"] == 117.1
    with pytest.raises(GeocodeError, match="lat"):
        Gazetteer(table.drop(columns="lat"))
