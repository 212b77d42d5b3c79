"""异地 by boundary polygons on every bundled extract (贵溪, 南京, 深圳龙岗), with planted answers.

The rule (DOMAIN, README "Design"): a member is ``remote`` when they live in another
prefecture-level city than their branch's meeting place, or outside every loaded extract; for
a meeting place in a county (县, 县级市) another county-level division also counts; the urban
districts (市辖区) of one city are one place. ``[dispersion] remote = "county"`` makes every
other county-level division 异地.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from geo_planner.admin import load_divisions, locate_divisions
from geo_planner.dispersion import classify_members
from geo_planner.geocode import Gazetteer
from geo_planner.organisation import split_by_residence
from geo_planner.settings import DispersionSettings, ScenarioError, scenario_from_dict

from ..support.paths import GUIXI, NANJING, OSM

LONGGANG = OSM / "shenzhen_longgang.osm"

# Planted places (WGS-84), each checked against the extract it belongs to.
GUIXI_CENTRE = (117.2400, 28.2905)  # 花园社区, 贵溪市 (a county-level city of 鹰潭)
GUIXI_EAST = (117.2330, 28.3180)  # 炼厂社区, 贵溪市, another 街道
YUEHU = (117.0300, 28.2400)  # 鹰潭 月湖区: the city's urban district, 20 km west, not in any extract
YUJIANG = (116.9500, 28.2300)  # 鹰潭 余江区: another urban district
XUANWU = (118.7900, 32.0500)  # 南京 玄武区
QINHUAI = (118.7850, 32.0350)  # 南京 秦淮区, 1.7 km south of XUANWU: the same city
GULOU = (118.7650, 32.0450)  # 南京 鼓楼区
DAYUN = (114.2233, 22.6885)  # 大运 metro station, 深圳 龙岗区
FENGGANG = (114.1780, 22.7250)  # inside the 龙岗 extract, across the line in 东莞 (凤岗)
SEA = (114.30, 22.20)  # open sea south of Hong Kong: no division


@pytest.fixture(scope="module")
def gaz() -> Gazetteer:
    return Gazetteer.from_osm([GUIXI, NANJING, LONGGANG])


def _members(points: list[tuple[float, float]], branch: str = "B1", **cols: object) -> pd.DataFrame:
    n = len(points)
    df = pd.DataFrame({
        "id": [f"M{i}" for i in range(n)], "branch_id": branch,
        "lon": [p[0] for p in points], "lat": [p[1] for p in points],
        "township": "", "walk_min_branch": 5.0, "branch_status": "ok", "network_status": "ok",
    })
    for k, v in cols.items():
        df[k] = v
    return df


def _branch(point: tuple[float, float], bid: str = "B1") -> pd.DataFrame:
    return pd.DataFrame({"id": [bid], "name": [bid], "lon": [point[0]], "lat": [point[1]]})


def test_divisions_are_polygons_with_their_city() -> None:
    div = load_divisions()
    assert div is not None and len(div.geoms) > 2800
    pts = [GUIXI_CENTRE, YUEHU, XUANWU, QINHUAI, GULOU, DAYUN, FENGGANG, SEA, (math.nan, math.nan)]
    out = locate_divisions([p[0] for p in pts], [p[1] for p in pts])
    assert out["county"].tolist() == ["贵溪市", "月湖区", "玄武区", "秦淮区", "鼓楼区", "龙岗区", "东莞市", "", ""]
    assert out["city"].tolist() == ["鹰潭市", "鹰潭市", "南京市", "南京市", "南京市", "深圳市", "东莞市", "", ""]
    assert out["county_type"].tolist()[:7] == ["county", "district", "district", "district", "district",
                                               "district", "district"]
    assert out["province"].tolist()[:7] == ["江西省"] * 2 + ["江苏省"] * 3 + ["广东省"] * 2
    # municipalities and county-level units directly under a province are their own city
    special = locate_divisions([116.40, 107.70, 113.16], [39.90, 29.85, 30.66])
    assert special["city"].tolist() == ["北京市", "重庆市", "天门市"]
    assert special["county_type"].tolist() == ["district", "county", "county"]


@pytest.mark.parametrize("extract", [GUIXI, NANJING, LONGGANG], ids=["guixi", "nanjing", "longgang"])
def test_every_extract_has_its_extent_and_city(gaz: Gazetteer, extract) -> None:  # noqa: ANN001
    e = gaz.entries[gaz.entries["source"] == extract.name]
    city = {"guixi_jiangxi.osm": "鹰潭市", "nanjing_xuanwu.osm": "南京市", "shenzhen_longgang.osm": "深圳市"}
    assert (e["city"] == city[extract.name]).mean() > 0.9
    inside = gaz.in_extents(e["lon"], e["lat"])
    assert inside.mean() > 0.9


def test_nanjing_districts_are_one_place(gaz: Gazetteer) -> None:
    """The reported bug: members 2 km from their 玄武区 branch, in 秦淮/鼓楼, were called 异地."""
    members = _members([XUANWU, QINHUAI, GULOU, GUIXI_CENTRE, DAYUN])
    out = classify_members(members, _branch(XUANWU), gaz, branch_walk_min=20)
    assert out["dispersion_reason"].tolist()[:3] == ["", "", ""]
    assert out["member_county"].tolist()[:3] == ["玄武区", "秦淮区", "鼓楼区"]
    assert (out["admin_source"] == "polygon").all()
    assert out["dispersion_reason"].tolist()[3:] == ["remote", "remote"]
    assert out["dispersion_note"].tolist()[3:] == ["鹰潭市贵溪市", "深圳市龙岗区"]
    county = classify_members(members, _branch(XUANWU), gaz, branch_walk_min=20, remote_rule="county")
    assert county["dispersion_reason"].tolist() == ["", "remote", "remote", "remote", "remote"]


def test_county_branch_counts_another_county(gaz: Gazetteer) -> None:
    """贵溪市 is a county-level city: its retirees living in 鹰潭's urban district are 异地."""
    members = _members([GUIXI_CENTRE, GUIXI_EAST, YUEHU, XUANWU], township=["花园街道", "东门街道", "", ""])
    branch = _branch(GUIXI_CENTRE).assign(township="花园街道")
    out = classify_members(members, branch, gaz, branch_walk_min=20)
    assert out["dispersion_reason"].tolist() == ["", "cross_township", "remote", "remote"]
    assert out["dispersion_note"].iat[2].startswith("鹰潭市月湖区")
    assert out["dispersion_note"].iat[3] == "南京市玄武区"


def test_rule_without_extents_isolates_the_county_rule(gaz: Gazetteer) -> None:
    """With every point inside the map, only the admin rule decides (both settings)."""
    no_extent = Gazetteer(gaz.entries)  # a table-built gazetteer knows no extract extents
    pts = [GUIXI_CENTRE, YUEHU, YUJIANG]
    # a county (贵溪) branch: the city's districts are 异地 under both rules
    for rule in ("city", "county"):
        out = classify_members(_members(pts), _branch(GUIXI_CENTRE), no_extent, branch_walk_min=20, remote_rule=rule)
        assert out["dispersion_reason"].tolist() == ["", "remote", "remote"], rule
    # a 月湖区 (urban district) branch: 余江区 is the same city; 贵溪市 (a county) is 异地 only by county rule
    city = classify_members(_members(pts), _branch(YUEHU), no_extent, branch_walk_min=20)
    assert city["dispersion_reason"].tolist() == ["", "", ""]
    county = classify_members(_members(pts), _branch(YUEHU), no_extent, branch_walk_min=20, remote_rule="county")
    assert county["dispersion_reason"].tolist() == ["remote", "", "remote"]


def test_longgang_city_line_inside_one_extract(gaz: Gazetteer) -> None:
    """The 龙岗 extract crosses into 东莞: a member there is 异地 although on the same map."""
    assert gaz.in_extents([FENGGANG[0]], [FENGGANG[1]]).all()
    members = _members([DAYUN, FENGGANG, SEA])
    out = classify_members(members, _branch(DAYUN), gaz, branch_walk_min=20)
    assert out["dispersion_reason"].tolist() == ["", "remote", "remote"]
    assert out["dispersion_note"].iat[1] == "东莞市"
    assert out["dispersion_note"].iat[2].endswith("outside the loaded map extracts）")


def test_rule_is_a_scenario_setting() -> None:
    base = {"network": {"osm": [str(GUIXI)]}, "inputs": {"members": "m.csv", "branches": "b.csv", "stations": "s.csv"}}
    assert scenario_from_dict(base).dispersion == DispersionSettings(remote="city")
    assert scenario_from_dict({**base, "dispersion": {"remote": "county"}}).dispersion.remote == "county"
    with pytest.raises(ScenarioError, match="dispersion.remote"):
        scenario_from_dict({**base, "dispersion": {"remote": "district"}})
    # the service's scenario accepts the same key
    from api.schemas import ScenarioRequest

    req = ScenarioRequest.model_validate({"network": {"osm": ["guixi_jiangxi.osm"]}, "inputs": {
        k: {"dataset": "ds_1"} for k in ("members", "branches", "stations")}, "dispersion": {"remote": "county"}})
    assert req.model_dump(mode="json")["dispersion"] == {"remote": "county"}
    with pytest.raises(ValueError, match="city"):
        classify_members(_members([XUANWU]), _branch(XUANWU), Gazetteer.from_osm([NANJING]),
                         branch_walk_min=20, remote_rule="district")


def test_remote_branch_split_by_where_members_live() -> None:
    """120 members of one city: split by district, then 街道, parts merged back while they fit."""
    rng = np.random.default_rng(7)

    def around(p: tuple[float, float], n: int) -> np.ndarray:
        return np.column_stack([p[0] + rng.normal(0, 0.002, n), p[1] + rng.normal(0, 0.002, n)])

    pts = np.vstack([around(XUANWU, 30), around((118.80, 32.06), 30), around(QINHUAI, 40), around(GULOU, 20)])
    county = np.array(["玄武区"] * 60 + ["秦淮区"] * 40 + ["鼓楼区"] * 20, dtype=object)
    township = np.array(["玄武门街道"] * 30 + ["锁金村街道"] * 30 + ["夫子庙街道"] * 40 + ["华侨路街道"] * 20,
                        dtype=object)
    order = rng.permutation(120)  # input order carries no information
    parts = split_by_residence(pts[order, 0], pts[order, 1], county[order], township[order], 50)
    assert sorted(np.concatenate(parts).tolist()) == list(range(120))
    assert all(p.size <= 50 for p in parts)
    assert len(parts) == 3  # 50 + 40 + 30: no part split off without need
    for p in parts:  # no 街道 is cut in two
        towns = set(township[order][p])
        for t in towns:
            assert (township[order][p] == t).sum() == (township == t).sum()
    assert [p.size for p in parts] == [50, 40, 30]
    # a group within the maximum stays whole, whatever the districts
    assert len(split_by_residence(pts[:50, 0], pts[:50, 1], county[:50], township[:50], 50)) == 1
    # one 街道 larger than the maximum is cut along its longer axis into contiguous runs
    one = split_by_residence(pts[:, 0], pts[:, 1], np.full(120, "玄武区", dtype=object),
                             np.full(120, "玄武门街道", dtype=object), 50)
    assert [p.size for p in one] == [40, 40, 40]


def test_township_by_osm_boundary_where_the_extract_has_it(gaz: Gazetteer) -> None:
    """贵溪's extract holds the whole 东门街道 boundary: it decides there, the nearest place node elsewhere."""
    from geo_planner.geocode import assign_admin_units

    assert gaz.areas["name"].tolist() == ["东门街道"]  # the other 街道 boundaries are cut by the extract
    # inside 东门街道, but nearer to the 雄石街道 place node; then a point in 花园街道 (no polygon)
    pts = [(117.209, 28.282), (117.2400, 28.2905), (118.79, 32.05)]
    out = assign_admin_units([p[0] for p in pts], [p[1] for p in pts], gaz)
    assert out["township"].tolist()[:2] == ["东门街道", "花园街道"]
    assert out["township_source"].tolist() == ["osm_boundary", "osm_place", ""]
    nearest_only = assign_admin_units([pts[0][0]], [pts[0][1]], Gazetteer(gaz.entries))
    assert nearest_only["township"].iat[0] == "雄石街道"  # what the nearest seed alone said


def test_remote_branches_one_per_city_split_by_district(walk_net) -> None:  # noqa: ANN001
    """A 贵溪 unit's 60 retirees in 南京 (30 in 玄武, 30 in 秦淮) and 4 in 深圳 龙岗: with a branch
    maximum of 50 the 南京 group is split by district (not arbitrarily), 深圳 gets one branch."""
    from geo_planner.organisation import recommend_branches
    from geo_planner.settings import BranchSettings, Thresholds

    rng = np.random.default_rng(3)
    xw = np.column_stack([118.7905 + rng.normal(0, 0.0015, 30), 32.0500 + rng.normal(0, 0.0015, 30)])
    qh = np.column_stack([118.7850 + rng.normal(0, 0.0015, 30), 32.0370 + rng.normal(0, 0.0010, 30)])
    sz = np.column_stack([DAYUN[0] + rng.normal(0, 0.001, 4), DAYUN[1] + rng.normal(0, 0.001, 4)])
    pts = np.vstack([xw, qh, sz])
    where = locate_divisions(pts[:, 0], pts[:, 1])
    assert where["county"].tolist() == ["玄武区"] * 30 + ["秦淮区"] * 30 + ["龙岗区"] * 4  # planted
    n = len(pts)
    members = pd.DataFrame({
        "id": [f"R{i:02d}" for i in range(n)], "branch_id": np.where(np.arange(n) % 2, "B1", "B2"),
        "lon": pts[:, 0], "lat": pts[:, 1], "walk_min_branch": np.nan, "network_status": "ok",
        "dispersed": True, "dispersion_reason": "remote", "member_city": where["city"],
        "township": "", "community": "",
    })
    branches = pd.DataFrame({"id": ["B1", "B2"], "name": ["一支部", "二支部"], "lon": [GUIXI_CENTRE[0]] * 2,
                             "lat": [GUIXI_CENTRE[1]] * 2})
    sites = pd.DataFrame({"id": ["S1"], "name": ["驿站"], "kind": ["station"], "lon": [GUIXI_CENTRE[0]],
                          "lat": [GUIXI_CENTRE[1]]})
    recs, _ = recommend_branches(members, branches, sites, walk_net, rules=BranchSettings(max_branch_members=50),
                                 thresholds=Thresholds())
    remote = recs[recs["kind"] == "remote_branch"].set_index("name")
    assert sorted(remote.index) == ["南京市玄武区异地支部", "南京市秦淮区异地支部", "深圳市异地支部"]
    assert remote.loc["南京市玄武区异地支部", "member_ids"].split(";") == [f"R{i:02d}" for i in range(30)]
    assert remote.loc["南京市秦淮区异地支部", "member_ids"].split(";") == [f"R{i:02d}" for i in range(30, 60)]
    assert remote.loc["深圳市异地支部", "n_members"] == 4
    # within the maximum, one remote branch per city, whatever the districts
    recs, _ = recommend_branches(members, branches, sites, walk_net, rules=BranchSettings(max_branch_members=60),
                                 thresholds=Thresholds())
    remote = recs[recs["kind"] == "remote_branch"]
    assert sorted(remote["name"]) == ["南京市异地支部", "深圳市异地支部"]
    assert remote.set_index("name").loc["南京市异地支部", "n_members"] == 60


def test_imprecise_point_is_not_outside_the_map(gaz: Gazetteer) -> None:
    """A 龙岗区-only address sits at the district's centre; it is not 异地 for lying off the map.

    Nor is a precise point there: outside the extract, in the branch's own city (by the
    polygons), is not another city (issue 19) — it is outside the loaded network.
    """
    members = _members([(114.30, 22.75), (114.30, 22.75)],
                       network_status=["imprecise_location", "ok"])
    assert not gaz.in_extents([114.30], [22.75]).any()
    out = classify_members(members, _branch(DAYUN), gaz, branch_walk_min=20)
    assert out["dispersion_reason"].tolist() == ["", ""]
    assert out["outside_extract"].tolist() == [False, True]
    assert out["member_city"].tolist() == ["深圳市", "深圳市"]
