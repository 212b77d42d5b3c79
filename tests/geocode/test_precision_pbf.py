"""Whole scenarios on 贵溪 and 深圳龙岗: the imprecise-address policy, and a ``.pbf`` run equal to the XML run.

Planted answers: in each scenario three members are given only by an address known to its
township or county (贵溪: 雄石街道, 贵溪市; 龙岗: 龙岗区 written twice), two by a community
address, and six by coordinates next to a station. With ``min_precision_for_times =
"community"`` the three get no travel times (``imprecise_location``), are counted per area
but not in the coverage shares, stay out of the siting models, and ``run.json`` counts them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from geo_planner.pipeline import run
from geo_planner.settings import scenario_from_dict

from ..support.light import LIGHT_REPORT, LIGHT_SITING
from ..support.paths import GUIXI, OSM

LONGGANG = OSM / "shenzhen_longgang.osm"

# (extract, default region, station / branch points, precise member points, community, imprecise addresses)
CASES = {
    "guixi": (
        GUIXI, "江西省贵溪市",
        [(117.2401, 28.2958), (117.2280, 28.2888)],
        [(117.2395, 28.2950), (117.2405, 28.2962), (117.2410, 28.2945),
         (117.2285, 28.2892), (117.2275, 28.2880), (117.2290, 28.2885)],
        ["江西省贵溪市花园街道花园社区5栋", "江西省贵溪市花园街道四建社区"],
        {"江西省贵溪市雄石街道": "township", "江西省贵溪市东门街道12号楼": "township", "江西省鹰潭市贵溪市": "county"},
    ),
    "longgang": (
        LONGGANG, "广东省深圳市龙岗区",
        [(114.2233, 22.6885), (114.2096, 22.6881)],
        [(114.2230, 22.6890), (114.2240, 22.6880), (114.2225, 22.6878),
         (114.2100, 22.6885), (114.2090, 22.6875), (114.2105, 22.6872)],
        ["广东省深圳市龙岗区荷坳村3栋2单元501室", "广东省深圳市龙岗区荷坳村"],
        {"广东省深圳市龙岗区": "county", "深圳市龙岗区": "county", "广东省深圳市龙岗区3栋": "county"},
    ),
}


def _scenario(tmp: Path, case: str, osm: Path, cache_dir: Path, **geocode: object):
    extract, region, sites, precise, community, imprecise = CASES[case]
    tmp.mkdir(parents=True, exist_ok=True)
    rows = [(f"P{i}", "", lon, lat) for i, (lon, lat) in enumerate(precise)]
    rows += [(f"C{i}", a, np.nan, np.nan) for i, a in enumerate(community)]
    rows += [(f"I{i}", a, np.nan, np.nan) for i, a in enumerate(imprecise)]
    pd.DataFrame({
        "id": [r[0] for r in rows], "name": [f"成员{r[0]}" for r in rows], "branch_id": "B1",
        "address": [r[1] for r in rows], "lon": [r[2] for r in rows], "lat": [r[3] for r in rows],
    }).to_csv(tmp / "members.csv", index=False)
    pd.DataFrame({"id": ["B1"], "name": ["测试支部"], "lon": [sites[0][0]], "lat": [sites[0][1]]}).to_csv(
        tmp / "branches.csv", index=False)
    pd.DataFrame({"id": ["S1", "S2"], "name": ["驿站一", "驿站二"], "lon": [s[0] for s in sites],
                  "lat": [s[1] for s in sites]}).to_csv(tmp / "stations.csv", index=False)
    return scenario_from_dict({
        "name": case, "network": {"osm": [str(osm)], "cache_dir": str(cache_dir)},
        "inputs": {"members": "members.csv", "branches": "branches.csv", "stations": "stations.csv"},
        "geocode": {"default_region": region, **geocode},
        # what these runs prove does not depend on the PDF, the uncertainty draws or a long trade-off curve
        "siting": {"new_stations": 1, "time_limit_s": 20, **LIGHT_SITING}, "report": LIGHT_REPORT,
    }, base_dir=tmp)


@pytest.fixture(scope="module", params=list(CASES))
def runs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, cache_dir: Path):
    case = request.param
    tmp = tmp_path_factory.mktemp(f"precision-{case}")
    result = run(_scenario(tmp / "in", case, CASES[case][0], cache_dir), tmp / "out")
    return case, tmp, result


def test_imprecise_members_get_no_times(runs) -> None:  # noqa: ANN001
    case, tmp, result = runs
    m = result.members.set_index("id")
    imprecise = [f"I{i}" for i in range(3)]
    levels = list(CASES[case][5].values())
    assert m.loc[imprecise, "geocode_precision"].tolist() == levels
    assert (m.loc[imprecise, "network_status"] == "imprecise_location").all()
    for col in ("walk_min_branch", "walk_min_station"):
        assert m.loc[imprecise, col].isna().all()
    assert not m.loc[imprecise, ["covered_station", "covered_branch"]].to_numpy().any()
    assert m.loc[imprecise, "lon"].notna().all()  # the point stays for maps and area counts
    # the precise ones are measured
    precise = [f"P{i}" for i in range(6)] + ["C0", "C1"]
    assert (m.loc[precise, "network_status"] == "ok").all()
    assert m.loc[precise, ["walk_min_branch", "walk_min_station"]].notna().all().all()
    assert set(m.loc[["C0", "C1"], "geocode_precision"]) == {"community"}


def test_imprecise_members_are_counted_apart(runs) -> None:  # noqa: ANN001
    case, tmp, result = runs
    m = result.members
    area = result.coverage_by_area
    assert area["imprecise_location"].groupby(area["level"]).sum().tolist() == [3, 3]
    by_town = area[area["level"] == "township"]
    # shares are over the precisely located members of each area
    for _, row in by_town.iterrows():
        sub = m[m["township"].fillna("").replace("", "（未定位）") == row["area"]]
        precise = sub[sub["network_status"] != "imprecise_location"]
        if len(precise):
            assert row["share_covered_station"] == pytest.approx(precise["covered_station"].mean(), abs=1e-4)
        else:
            assert np.isnan(row["share_covered_station"])
    doc = json.loads((tmp / "out" / "run.json").read_text(encoding="utf-8"))
    counts = doc["counts"]
    assert counts["imprecise_location"]["members"] == 3
    assert counts["network_status"]["imprecise_location"] == 3
    assert sum(counts["imprecise_location"]["by_township"].values()) == 3
    assert counts["siting"]["members_imprecise_excluded"] == 3
    assert counts["siting"]["members_considered"] <= len(m) - 3
    # each is a warning row naming file, row and field, so the address can be completed
    rej = pd.read_csv(tmp / "out" / "rejections.csv", encoding="utf-8-sig")
    coarse = rej[rej["reason"].str.contains("no travel time", regex=False)]
    assert len(coarse) == 3 and (coarse["field"] == "address").all() and (coarse["action"] == "warning").all()
    assert coarse["file"].str.endswith("members.csv").all() and set(coarse["row"]) == {10, 11, 12}
    # no recommendation is built on an imprecise member
    ids = ";".join(result.recommendations["member_ids"].fillna("").astype(str))
    assert not any(f"I{i}" in ids.split(";") for i in range(3))


def test_coarser_setting_gives_times(tmp_path: Path, cache_dir: Path) -> None:
    """``min_precision_for_times = "county"`` measures everyone (the old behaviour), on 贵溪."""
    result = run(_scenario(tmp_path / "in", "guixi", GUIXI, cache_dir, min_precision_for_times="county"),
                 tmp_path / "out")
    assert "imprecise_location" not in set(result.members["network_status"])
    assert result.counts["imprecise_location"]["members"] == 0


def test_pbf_scenario_equals_xml(runs, tmp_path: Path, cache_dir: Path) -> None:  # noqa: ANN001
    """The same scenario from a .pbf made from the extract gives the same outputs as the XML."""
    import osmium

    case, tmp, xml_result = runs
    pbf = tmp_path / f"{case}.osm.pbf"
    with osmium.SimpleWriter(str(pbf)) as w:
        for obj in osmium.FileProcessor(str(CASES[case][0])):
            w.add(obj)
    result = run(_scenario(tmp_path / "in", case, pbf, cache_dir), tmp_path / "out")
    for name in ("members.csv", "coverage_by_area.csv", "coverage_by_branch.csv", "recommendations.csv"):
        a = pd.read_csv(tmp / "out" / name, encoding="utf-8-sig")
        b = pd.read_csv(tmp_path / "out" / name, encoding="utf-8-sig")
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-9, obj=name)
    keep = ("geocode_precision", "network_status", "imprecise_location", "walk_nodes", "walk_edges",
            "covered_station", "dispersed", "recommendations")
    assert {k: xml_result.counts.get(k) for k in keep} == {k: result.counts.get(k) for k in keep}
    g_xml, g_pbf = xml_result.gazetteer.entries, result.gazetteer.entries
    pd.testing.assert_frame_equal(g_xml.drop(columns="source"), g_pbf.drop(columns="source"))


def test_bz2_extract_reads_like_xml(tmp_path: Path, cache_dir: Path) -> None:
    """``.osm.bz2`` goes through the same readers: same gazetteer, same network (龙岗)."""
    import bz2

    from geo_planner.geocode import Gazetteer
    from geo_planner.network import build_network

    packed = tmp_path / "longgang.osm.bz2"
    packed.write_bytes(bz2.compress(LONGGANG.read_bytes()))
    a, b = Gazetteer.from_osm([LONGGANG]), Gazetteer.from_osm([packed])
    pd.testing.assert_frame_equal(a.entries.drop(columns="source"), b.entries.drop(columns="source"))
    np.testing.assert_array_equal(a.extents, b.extents)
    na, nb = build_network([LONGGANG], "walk", cache_dir=cache_dir), build_network([packed], "walk")
    assert (na.n_nodes, na.n_edges) == (nb.n_nodes, nb.n_edges)
    np.testing.assert_allclose(np.sort(na.edge_length_m), np.sort(nb.edge_length_m))


def test_demo_planted_township_addresses(demo_run, planted) -> None:  # noqa: ANN001
    """The demo's two members known only to their 街道: on the map, no times, counted apart."""
    result, m, out, _ = demo_run
    ids = planted["imprecise"]["member_ids"]
    assert len(ids) == 2
    rows = m.loc[ids]
    assert (rows["geocode_precision"] == "township").all()
    assert (rows["network_status"] == "imprecise_location").all()
    assert rows["walk_min_station"].isna().all() and rows["lon"].notna().all()
    assert rows["township"].tolist() == planted["imprecise"]["townships"]
    assert result.counts["imprecise_location"]["members"] == 2
    assert result.counts["imprecise_location"]["by_township"] == {"花园街道": 2}


def test_area_columns_refine_a_coarse_address() -> None:
    """「贵溪市雄石街道」 with 所在社区 = 城北社区 is placed at the community; without it, stays coarse."""
    from geo_planner.geocode import Gazetteer, geocode
    from geo_planner.pipeline import _refine_from_area_columns

    gaz = Gazetteer.from_osm([GUIXI])
    scenario = _scenario_stub()
    rows = pd.DataFrame({"township": ["雄石街道", "雄石街道", ""], "community": ["城北社区", "", "花园社区"]},
                        index=[5, 6, 7])
    addr = ["江西省贵溪市雄石街道", "江西省贵溪市雄石街道", "江西省贵溪市不存在的地方"]
    res = _refine_from_area_columns(geocode(addr, gaz, scenario.geocode), rows, gaz, scenario)
    assert res["geocode_precision"].tolist() == ["community", "township", "community"]
    assert res["geocode_match"].tolist() == ["城北社区", "雄石街道", "花园社区"]


def _scenario_stub():  # noqa: ANN202
    return scenario_from_dict({"network": {"osm": [str(GUIXI)]}, "inputs": {
        "members": "m.csv", "branches": "b.csv", "stations": "s.csv"}, "geocode": {"default_region": "江西省贵溪市"}})
