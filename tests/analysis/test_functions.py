"""四就近 by function: the kind → function mapping, per-function times and coverage (planted answers)."""

from __future__ import annotations

import json

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from geo_planner.coverage import member_coverage, summarize_by_area
from geo_planner.errors import ScenarioError
from geo_planner.functions import function_coverage, kind_functions, station_functions
from geo_planner.settings import Thresholds, scenario_from_dict
from geo_planner.travel import member_travel_table
from geo_planner.vocab import DEFAULT_FUNCTION_KINDS

from ..support.functions import planted_members
from ..support.nxref import split_graph
from ..support.paths import DEMO, GUIXI


def _scenario(**extra):
    base = {"network": {"osm": [str(GUIXI)]},
            "inputs": {"members": "m.csv", "branches": "b.csv", "stations": "s.csv"}}
    return scenario_from_dict({**base, **extra})


def test_default_mapping_by_kind_word():
    kinds = _scenario().functions
    assert kind_functions("桑榆红驿站", kinds) == ("activity",)
    assert kind_functions("贵溪市老年大学", kinds) == ("study",)
    assert kind_functions("老干部活动中心", kinds) == ("activity",)
    assert kind_functions("社区养老服务站", kinds) == ("service",)
    # the longest word wins: a 志愿服务站 is for contributing, not a 服务站 of any kind
    assert kind_functions("志愿服务站", kinds) == ("contribution",)
    assert kind_functions("棋牌室", kinds) is None and kind_functions("", kinds) is None
    assert set(DEFAULT_FUNCTION_KINDS) >= {"老年大学", "教学点", "党校", "驿站", "老党员之家", "日间照料中心", "实践基地"}


def test_scenario_mapping_adds_to_defaults_and_thresholds_default_to_station():
    sc = _scenario(functions={"老干部活动中心": ["activity", "study"], "书画院": "study"},
                   thresholds={"station_walk_min": 12, "functions": {"study": 20}})
    assert kind_functions("贵溪市老干部活动中心", sc.functions) == ("study", "activity")  # a place serving two
    assert kind_functions("书画院", sc.functions) == ("study",)
    assert kind_functions("枫叶驿站", sc.functions) == ("activity",)  # defaults kept
    t = sc.thresholds
    assert (t.function_walk_min("study"), t.function_walk_min("activity"), t.function_walk_min("service")) == (
        20.0, 12.0, 12.0)
    with pytest.raises(ScenarioError, match="functions"):
        _scenario(functions={"驿站": ["dancing"]})
    with pytest.raises(ScenarioError, match="thresholds"):
        _scenario(thresholds={"functions": {"study": -1}})


def test_unknown_kind_is_warned_and_counts_as_activity():
    st = pd.DataFrame({"id": ["S1", "S2", "S3"], "kind": ["老年大学", "棋牌室", ""], "source_row": [2, 3, 4]})
    served, warn = station_functions(st, _scenario().functions, file="stations.xlsx")
    assert served.loc[0, "study"] and not served.loc[0, "activity"]
    assert served.loc[1, "activity"] and served.loc[2, "activity"]
    assert not served[["service", "contribution"]].to_numpy().any()
    assert warn[["file", "row", "field", "value", "action"]].values.tolist() == [
        ["stations.xlsx", 3, "kind", "棋牌室", "warning"], ["stations.xlsx", 4, "kind", "", "warning"]]
    assert "counted as activity" in warn["reason"].iloc[0]


@pytest.mark.parametrize("extract,seed", [(0, 11), (1, 12)])  # 贵溪, 南京
def test_planted_functions_and_independent_dijkstra(walk_net, extract, seed):
    net = walk_net
    a, b, c = planted_members(net, extract, seed)
    lon, lat = net.node_lon, net.node_lat
    stations = pd.DataFrame({"id": ["A", "B", "C"], "name": ["桑榆红驿站", "老年大学分校", "活动中心"],
                             "kind": ["桑榆红驿站", "老年大学分校", "老干部活动中心"],
                             "lon": lon[[a, b, c]], "lat": lat[[a, b, c]], "source_row": [2, 3, 4]})
    sc = _scenario(functions={"老干部活动中心": ["activity", "study"]})
    served, warn = station_functions(stations, sc.functions)
    assert warn.empty and served["study"].tolist() == [False, True, True]
    # planted members a few metres from each place, plus seeded random members on the extract
    rng = np.random.default_rng(seed)
    w, s, e, n = net.extracts[extract].bounds_lonlat
    k = 150
    mlon = np.r_[lon[[a, b, c]] + 0.00005, rng.uniform(w, e, k)]
    mlat = np.r_[lat[[a, b, c]], rng.uniform(s, n, k)]
    members = pd.DataFrame({"id": [f"M{i}" for i in range(k + 3)], "lon": mlon, "lat": mlat, "branch_id": "X",
                            "network_status": "ok"})
    branches = pd.DataFrame({"id": ["X"], "lon": lon[[a]], "lat": lat[[a]]})
    times = member_travel_table(net, None, members, branches, stations, None, max_snap_m=500,
                                station_functions=served)
    # a function without a place has no columns at all (no NaN columns that look like data)
    assert {"walk_min_study", "walk_min_activity", "nearest_study_id", "nearest_activity_id"} <= set(times)
    assert not [col for col in times if "service" in col or "contribution" in col]
    m = pd.concat([members, times.drop(columns=["network_status"])], axis=1)
    cov = function_coverage(m, sc.thresholds)
    assert list(cov.columns) == ["covered_study", "covered_activity"]
    # next to the activity station, far from study: covered for activity, not study, not 四就近
    assert cov.loc[0, "covered_activity"] and not cov.loc[0, "covered_study"]
    assert m.loc[0, "nearest_activity_id"] == "A" and m.loc[0, "walk_min_study"] > 40
    assert cov.loc[1, "covered_study"] and not cov.loc[1, "covered_activity"]
    assert cov.loc[2, "covered_study"] and cov.loc[2, "covered_activity"]
    assert m.loc[2, "nearest_study_id"] == "C" == m.loc[2, "nearest_activity_id"]
    # shares by area: the activity-only member is not 四就近
    m = pd.concat([m, member_coverage(m, sc.thresholds), cov], axis=1)
    m["township"] = ["T0", "T1", "T2"] + ["R"] * k
    m["community"] = "c"
    area = summarize_by_area(m).set_index(["level", "area"])
    assert area.loc[("township", "T0"), ["share_covered_activity", "share_covered_study", "share_four_near"]].tolist() == [
        1.0, 0.0, 0.0]
    assert area.loc[("township", "T2"), "share_four_near"] == 1.0
    assert "share_covered_service" not in area
    # per-function times equal an independent networkx Dijkstra on the split graph
    msnap = net.snap(mlon, mlat, max_snap_m=500)
    fsnap = net.snap(stations["lon"].to_numpy(), stations["lat"].to_numpy(), max_snap_m=500)
    G = split_graph(net, {"m": msnap, "f": fsnap}).reverse()
    for function, places in (("study", [1, 2]), ("activity", [0, 2])):
        ref = nx.multi_source_dijkstra_path_length(G, [("f", j) for j in places], weight="weight")
        expected = np.array([ref.get(("m", i), np.inf) / 60 for i in range(k + 3)])
        got = m[f"walk_min_{function}"].to_numpy(float)
        reach = np.isfinite(expected)
        assert reach.sum() > k // 2
        np.testing.assert_allclose(got[reach], expected[reach], rtol=1e-9, atol=1e-6)
        assert np.isnan(got[~reach]).all()
    # the station columns stay: the nearest place of any function
    np.testing.assert_allclose(m["walk_min_station"], np.fmin(m["walk_min_study"], m["walk_min_activity"]))


def test_demo_outputs_by_function(demo_run):
    result, m, out, _ = demo_run
    # the demo's kinds: 老年大学 → study; 驿站, 老党员之家, 老干部活动中心 → activity; nothing else
    stations = pd.read_csv(out / "stations.csv", encoding="utf-8-sig")
    assert set(stations.loc[stations["kind"] == "老年大学", "functions"]) == {"study"}
    assert set(stations.loc[stations["kind"] != "老年大学", "functions"]) == {"activity"}
    for f in ("study", "activity"):
        assert {f"walk_min_{f}", f"nearest_{f}_id", f"covered_{f}"} <= set(m.columns)
        ok = m[f"walk_min_{f}"].notna()
        thr = result.scenario.thresholds.function_walk_min(f)
        assert (m.loc[ok, f"covered_{f}"] == (m.loc[ok, f"walk_min_{f}"] <= thr)).all()
    assert not [c for c in m.columns if "service" in c or "contribution" in c]
    # imprecise addresses get no time, as for stations
    coarse = m["network_status"] == "imprecise_location"
    assert coarse.any() and m.loc[coarse, ["walk_min_study", "walk_min_activity"]].isna().all().all()
    ok = m["walk_min_station"].notna()
    np.testing.assert_allclose(m.loc[ok, "walk_min_station"],
                               np.fmin(m.loc[ok, "walk_min_study"], m.loc[ok, "walk_min_activity"]), atol=0.011)
    counts = json.loads((out / "run.json").read_text(encoding="utf-8"))["counts"]["coverage"]["functions"]
    precise = m[~coarse]
    assert counts["study"]["places"] == 1 and counts["activity"]["places"] == 6
    assert counts["service"] == {"places": 0, "threshold_min": 15.0}
    assert counts["study"]["covered"] == int(precise["covered_study"].sum())
    both = int((precise["covered_study"] & precise["covered_activity"]).sum())
    assert counts["four_near"] == {"functions": ["study", "activity"], "covered": both,
                                   "share_covered": round(both / len(precise), 4)}
    for name in ("coverage_by_area", "coverage_by_branch"):
        table = pd.read_csv(out / f"{name}.csv", encoding="utf-8-sig")
        assert {"share_covered_study", "share_covered_activity", "share_four_near"} <= set(table.columns)
        assert "share_covered_service" not in table
        assert (table["share_four_near"].dropna() <= table["share_covered_study"].dropna() + 1e-9).all()
    rej = pd.read_csv(out / "rejections.csv", encoding="utf-8-sig")
    assert not (rej["field"] == "kind").any()  # every demo kind is known
    assert (DEMO / "stations.xlsx").is_file()


def test_thresholds_functions_default():
    t = Thresholds()
    assert t.function_walk_min("contribution") == t.station_walk_min == 15.0


@pytest.mark.parametrize("extract", [0, 1])  # 贵溪, 南京
def test_point_index_per_function_equals_full_computation(walk_net, extract, tmp_path):
    from geo_planner.coverage import point_coverage
    from geo_planner.functions import functions_text
    from geo_planner.pointindex import build_point_index, load_point_index, save_point_index

    rng = np.random.default_rng(40 + extract)
    w, s, e, n = walk_net.extracts[extract].bounds_lonlat
    k = 12
    kinds = rng.choice(["老年大学", "桑榆红驿站", "老干部活动中心"], k)
    stations = pd.DataFrame({"id": [f"S{i}" for i in range(k)], "name": [f"场所{i}" for i in range(k)],
                             "kind": kinds, "lon": rng.uniform(w, e, k), "lat": rng.uniform(s, n, k)})
    sc = _scenario(functions={"老干部活动中心": ["activity", "study"]},
                   thresholds={"station_walk_min": 15, "functions": {"study": 25}})
    served, _ = station_functions(stations, sc.functions)
    stations["functions"] = functions_text(served).to_numpy()
    branches = stations.iloc[:1][["id", "name", "lon", "lat"]]
    index = build_point_index(walk_net, None, stations=stations, branches=branches, hospitals=None,
                              thresholds=sc.thresholds, max_snap_m=500)
    index = load_point_index(save_point_index(index, tmp_path / "point_index.npz"))
    assert set(index.layers) == {"stations", "branches", "study", "activity"}  # no layer for a function without places
    listed = 0
    for lon, lat in np.c_[rng.uniform(w, e, 40), rng.uniform(s, n, 40)]:
        got = index.query(walk_net, None, float(lon), float(lat))
        assert set(got["functions"]) == {"study", "activity"}
        for f in ("study", "activity"):
            thr = sc.thresholds.function_walk_min(f)
            sub = stations[served[f].to_numpy()]
            ref = point_coverage(walk_net, None, float(lon), float(lat), stations=sub, branches=branches,
                                 hospitals=None, thresholds=Thresholds(station_walk_min=thr), max_snap_m=500)
            a = {p["id"]: p["minutes"] for p in got["functions"][f]["places"]}
            b = {p["id"]: p["minutes"] for p in ref["stations"]}
            assert a.keys() == b.keys() and all(a[i] == pytest.approx(b[i], abs=0.011) for i in a)
            assert got["functions"][f]["threshold_min"] == thr
            near = ref["nearest_station_min"]
            assert (got["functions"][f]["nearest_min"] is None) if near is None else (
                got["functions"][f]["nearest_min"] == pytest.approx(near, abs=0.011))
            listed += len(a)
    assert listed > 10


def test_map_has_a_layer_per_function_with_a_legend(demo_run, page):
    """The demo's map in a real browser: a hidden layer per function with a place, turned on by its checkbox."""
    result, m, out, _ = demo_run
    page.goto((out / "map.html").as_uri())
    page.wait_for("() => document.querySelector('.leaflet-control-layers-list')")
    page.settle(300)
    legend = page.evaluate("() => document.getElementById('gp-legend').textContent")
    assert "四就近·就近学习场所（步行15分钟）" in legend and "四就近·就近活动场所（步行15分钟）" in legend
    assert "就近服务" not in legend and "就近发挥作用" not in legend  # no place of service or contribution
    # badges shown alone plus those inside a joined badge (badges never overlap: maps/badges.py)
    count = ("() => [...document.querySelectorAll('.gp-icon')].filter(e => !e.classList.contains('gp-cluster'))"
             ".length + [...document.querySelectorAll('[data-n]')].reduce((a, e) => a + Number(e.dataset.n), 0)")
    before = page.evaluate(count)
    # turn the study layer on: its one place (the 老年大学) appears, with its function in the popup
    page.page.locator(".leaflet-control-layers-list").get_by_text("四就近·就近学习场所（步行15分钟）").click()
    page.settle(300)
    assert page.evaluate(count) == before + 1
    page.page.locator(".leaflet-control-layers-list").get_by_text("四就近·就近活动场所（步行15分钟）").click()
    page.settle(300)
    assert page.evaluate(count) == before + 1 + 6
    assert page.errors == [] and page.bad == []


def test_report_has_the_four_near_table_by_township(demo_run):
    result, m, out, _ = demo_run
    page = (out / "report.html").read_text(encoding="utf-8")
    table = page[page.index('<table class="four-near">'):]
    table = table[:table.index("</table>")]
    assert "就近学习（15分钟）" in table and "就近活动（15分钟）" in table and "四就近（各项均可达）" in table
    assert "就近服务" not in table and "就近发挥作用" not in table  # no place: no column
    area = pd.read_csv(out / "coverage_by_area.csv", encoding="utf-8-sig")
    towns = area[(area["level"] == "township") & (area["members"] >= 5)]
    for _, row in towns.iterrows():
        assert f"<td>{row['area']}</td><td>{int(row['members'])}</td>" in table
    big = towns.sort_values("members").iloc[-1]  # shares as in coverage_by_area.csv (whole numbers of people ≥ 5)
    assert f"{big['share_covered_activity']:.1%}" in table
    # no share standing for 1–4 people
    precise = towns["members"] - towns["imprecise_location"]
    for col in ("share_covered_study", "share_covered_activity", "share_four_near"):
        people = (towns[col] * precise).round()
        for share in towns.loc[(people >= 1) & (people < 5), col]:
            assert f"<td>{share:.1%}</td>" not in table


def test_xlsx_chinese_headers_for_function_columns(demo_run):
    from openpyxl import load_workbook

    result, m, out, _ = demo_run
    for name, expected in (("members", {"步行至最近学习场所(分钟)", "最近学习场所", "学习场所步行可达",
                                        "步行至最近活动场所(分钟)", "最近活动场所", "活动场所步行可达"}),
                           ("coverage_by_area", {"学习场所步行覆盖率", "活动场所步行覆盖率", "四就近覆盖率(各项均可达)"})):
        ws = load_workbook(out / f"{name}.xlsx", read_only=True).active
        header = {str(c.value) for c in next(ws.iter_rows(max_row=1))}
        assert expected <= header, name
        assert not [h for h in header if "study" in h or "activity" in h or "four_near" in h]


def test_siting_view_for_one_function():
    from geo_planner.siting.function import siting_view

    sc = _scenario(thresholds={"station_walk_min": 15, "functions": {"study": 25}}, siting={"function": "study"})
    stations = pd.DataFrame({"id": ["A", "U", "C"], "name": ["驿站", "老年大学", "活动中心"],
                             "functions": ["activity", "study", "activity;study"],
                             "lon": [1.0, 2.0, 3.0], "lat": [1.0, 2.0, 3.0]})
    members = pd.DataFrame({"id": ["M1", "M2"], "walk_min_station": [3.0, 4.0], "walk_min_study": [30.0, np.nan],
                            "walk_min_activity": [3.0, 4.0]})
    view = siting_view(members, stations, sc)
    assert view.function == "study" and view.stations["id"].tolist() == ["U", "C"]
    assert view.others["id"].tolist() == ["A"]
    assert view.scenario.thresholds.station_walk_min == 25.0 and sc.thresholds.station_walk_min == 15.0
    np.testing.assert_array_equal(view.members["walk_min_station"], [30.0, np.nan])
    assert members["walk_min_station"].tolist() == [3.0, 4.0]  # the run's own table is untouched
    # the other stations stay meeting places for joint branches
    cands = pd.DataFrame({"id": ["U", "C", "C0001", "N1"], "name": ["老年大学", "活动中心", "社区", "路口"],
                          "kind": ["station", "station", "candidate", "candidate"],
                          "source": ["existing", "existing", "osm_place", "network_node"],
                          "lon": [2.0, 3.0, 4.0, 5.0], "lat": [2.0, 3.0, 4.0, 5.0],
                          "existing": [True, True, False, False]})
    sites = view.branch_sites(cands)
    assert sites["id"].tolist() == ["U", "C", "C0001", "A"]
    assert sites["kind"].tolist() == ["station", "station", "candidate", "station"]
    # a function without any place: nothing is open and nobody is covered yet
    none = siting_view(members, stations, _scenario(siting={"function": "service"}))
    assert none.stations.empty and none.members["walk_min_station"].isna().all()
    # without a function the view is the run itself
    plain = siting_view(members, stations, _scenario())
    assert plain.function is None and plain.members is members and plain.stations is stations
