"""The own-branch search cut-off (``[thresholds] branch_search_limit_min``) on the real extracts.

The same members are measured with and without the cut-off: a member planted far from the
branch's meeting place is ``beyond_limit`` (no number) with it and walks longer than the limit
without it; everybody within the limit gets the same time both ways; coverage shares and the
dispersion flags do not change; maps and spreadsheets say ``> limit``, never a blank or 0.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from geo_planner.coverage import member_coverage, summarize_by_branch
from geo_planner.dispersion import classify_members
from geo_planner.errors import ScenarioError
from geo_planner.export import export_table
from geo_planner.geocode import Gazetteer
from geo_planner.maps import build_map
from geo_planner.organisation.records import min_en, min_zh, walk_median
from geo_planner.outputs import members_table
from geo_planner.settings import MapSettings, Thresholds, scenario_from_dict
from geo_planner.siting.schema import recommendation_row
from geo_planner.travel import member_travel_table

from ..support.paths import GUIXI, NANJING

T_FAR = 20.0  # branch_walk_min: coverage and 远距离 threshold
N_MEMBERS = 300
N_BRANCHES = 5


def _points(net, n: int, rng: np.random.Generator, extract: int) -> tuple[np.ndarray, np.ndarray]:
    """Random points near the roads of one extract (road nodes moved by up to ~50 m)."""
    w, s, e, nb = net.extracts[extract].bounds_lonlat
    inside = np.flatnonzero((net.node_lon >= w) & (net.node_lon <= e) & (net.node_lat >= s) & (net.node_lat <= nb))
    pick = rng.choice(inside, n)
    return net.node_lon[pick] + rng.uniform(-4e-4, 4e-4, n), net.node_lat[pick] + rng.uniform(-4e-4, 4e-4, n)


@pytest.fixture(scope="module")
def gaz() -> Gazetteer:
    return Gazetteer.from_osm([GUIXI, NANJING])


@pytest.fixture(scope="module", params=[0, 1], ids=["guixi", "nanjing"])
def case(request, walk_net, gaz) -> dict:
    """Members and branches inside one extract, the planted far member, and both travel tables."""
    extract = request.param
    rng = np.random.default_rng(2026 + extract)
    blon, blat = _points(walk_net, N_BRANCHES, rng, extract)
    branches = pd.DataFrame({"id": [f"B{i}" for i in range(N_BRANCHES)], "name": [f"支部{i}" for i in range(N_BRANCHES)],
                             "lon": blon, "lat": blat})
    mlon, mlat = _points(walk_net, N_MEMBERS, rng, extract)
    members = pd.DataFrame({"id": [f"M{i:04d}" for i in range(N_MEMBERS)], "name": [f"成员{i}" for i in range(N_MEMBERS)],
                            "lon": mlon, "lat": mlat,
                            "branch_id": rng.choice(branches["id"].to_numpy(), N_MEMBERS)})
    stations = branches.assign(id=lambda d: "S" + d["id"])
    # plant the member: of many points in the extract, the one farthest on foot from branch B0
    plon, plat = _points(walk_net, 400, rng, extract)
    inside = gaz.in_extents(plon, plat)  # inside the extract's extent (outside would be 异地)
    plon, plat = plon[inside], plat[inside]
    probe = pd.DataFrame({"lon": plon, "lat": plat, "branch_id": "B0"})
    probe_min = member_travel_table(walk_net, None, probe, branches, stations, None, max_snap_m=300)["walk_min_branch"]
    far = int(np.nanargmax(probe_min.to_numpy()))
    planted_min = float(probe_min.iloc[far])
    members.loc[len(members)] = {"id": "PLANTED", "name": "远处成员", "lon": plon[far], "lat": plat[far], "branch_id": "B0"}
    # a cut-off a planner could choose: above the threshold, below the planted member's walk
    limit = float(max(T_FAR + 5, math.floor(0.6 * planted_min)))
    assert planted_min > limit > T_FAR, (planted_min, limit)
    full = member_travel_table(walk_net, None, members, branches, stations, None, max_snap_m=300)
    cut = member_travel_table(walk_net, None, members, branches, stations, None, max_snap_m=300,
                              branch_limit_min=limit)
    return {"members": members, "branches": branches, "full": full, "cut": cut, "limit": limit,
            "planted": len(members) - 1, "planted_min": planted_min, "extract": extract}


def _with(case: dict, times: pd.DataFrame, thresholds: Thresholds) -> pd.DataFrame:
    m = pd.concat([case["members"], times], axis=1)
    return pd.concat([m, member_coverage(m, thresholds)], axis=1)


def test_planted_member_beyond_the_limit_both_ways(case):
    full, cut, p, limit = case["full"], case["cut"], case["planted"], case["limit"]
    # with the cut-off: no number, the status says why
    assert np.isnan(cut["walk_min_branch"].iloc[p]) and cut["branch_status"].iloc[p] == "beyond_limit"
    # without it: the same member's real walk, longer than the limit
    assert full["branch_status"].iloc[p] == "ok"
    assert full["walk_min_branch"].iloc[p] == pytest.approx(case["planted_min"]) and full["walk_min_branch"].iloc[p] > limit
    # members within the limit: identical times; beyond it: beyond_limit and nothing else
    f = full["walk_min_branch"].to_numpy()
    within = np.isfinite(f) & (f <= limit)
    assert within.sum() > 50
    np.testing.assert_array_equal(cut["walk_min_branch"].to_numpy()[within], f[within])
    beyond = np.isfinite(f) & (f > limit)
    assert (cut["branch_status"].to_numpy()[beyond] == "beyond_limit").all()
    assert set(cut["branch_status"][cut["branch_status"] == "beyond_limit"].index) == set(np.flatnonzero(beyond))
    # the other columns do not depend on the cut-off
    pd.testing.assert_frame_equal(cut.drop(columns=["walk_min_branch", "branch_status"]),
                                  full.drop(columns=["walk_min_branch", "branch_status"]))


def test_beyond_limit_is_far_with_a_note(case, gaz):
    th_cut = Thresholds(branch_walk_min=T_FAR, branch_search_limit_min=case["limit"])
    th_full = Thresholds(branch_walk_min=T_FAR, branch_search_limit_min=0)
    m_cut, m_full = _with(case, case["cut"], th_cut), _with(case, case["full"], th_full)
    d_cut = classify_members(m_cut, case["branches"], gaz, branch_walk_min=T_FAR,
                             branch_limit_min=th_cut.branch_limit())
    d_full = classify_members(m_full, case["branches"], gaz, branch_walk_min=T_FAR, branch_limit_min=None)
    p = case["planted"]
    assert d_cut["dispersion_reason"].iloc[p].split(";")[-1] == "far" and d_cut["dispersed"].iloc[p]
    assert d_cut["dispersion_note"].iloc[p] == f"> {case['limit']:g} min walk"
    # the flags are the same with and without the cut-off (beyond it is beyond the 远距离 threshold)
    pd.testing.assert_series_equal(d_cut["dispersed"], d_full["dispersed"])
    pd.testing.assert_series_equal(d_cut["dispersion_reason"], d_full["dispersion_reason"])
    beyond = (m_cut["branch_status"] == "beyond_limit").to_numpy() & (d_cut["dispersion_reason"] != "remote")
    assert beyond.any()
    assert (d_cut["dispersion_note"][beyond] == f"> {case['limit']:g} min walk").all()
    assert (d_full["dispersion_note"][beyond] == "").all()


def test_coverage_identical_and_beyond_counted_apart(case):
    th = Thresholds(branch_walk_min=T_FAR, branch_search_limit_min=case["limit"])
    m_cut, m_full = _with(case, case["cut"], th), _with(case, case["full"], th)
    for col in ("covered_station", "covered_branch", "covered_hospital"):
        pd.testing.assert_series_equal(m_cut[col], m_full[col])
    assert not m_cut["covered_branch"].iloc[case["planted"]]
    s_cut = summarize_by_branch(m_cut, case["branches"]).set_index("branch_id")
    s_full = summarize_by_branch(m_full, case["branches"]).set_index("branch_id")
    for col in ("share_covered_station", "share_covered_branch", "no_time_walk_branch", "median_walk_station_min"):
        pd.testing.assert_series_equal(s_cut[col], s_full[col])
    # beyond the limit: counted apart, not as "no time"
    f = m_full["walk_min_branch"]
    expected = (f > case["limit"]).groupby(m_full["branch_id"]).sum()
    assert (s_cut["beyond_limit_walk_branch"] == expected.reindex(s_cut.index, fill_value=0)).all()
    assert s_cut.loc["B0", "beyond_limit_walk_branch"] >= 1
    assert (s_full["beyond_limit_walk_branch"] == 0).all()
    # medians and 90th percentiles: the full figure wherever the cut one is known, and unknown
    # (blank) only where the full figure involves a walk beyond the limit
    within = f.where(f <= case["limit"]).groupby(m_full["branch_id"]).max().reindex(s_cut.index)
    n_known = 0
    for fig in ("median_walk_branch_min", "p90_walk_branch_min"):
        known = s_cut[fig].notna()
        n_known += int(known.sum())
        np.testing.assert_allclose(s_cut.loc[known, fig], s_full.loc[known, fig])
        assert (s_full.loc[~known, fig] > within[~known]).all()  # it would need a walk beyond the limit
    assert n_known > 0


def test_spreadsheets_say_beyond_the_limit(case, tmp_path: Path):
    limit = case["limit"]
    table = members_table(pd.concat([case["members"], case["cut"]], axis=1))
    p = case["planted"]
    xlsx = export_table(table, tmp_path / "members.xlsx", table="members", branch_limit_min=limit)
    ws = openpyxl.load_workbook(xlsx).active
    header = [c.value for c in ws[1]]
    col, status = header.index("步行至支部(分钟)"), header.index("支部时间状态")
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    assert rows[p][col] == f"> {limit:g}"
    assert rows[p][status] == "超过计算上限(未计具体时间)"
    ok = [r for r in rows if r[status] == "正常"]
    assert ok and all(isinstance(r[col], float) for r in ok)  # measured walks stay numbers
    csv = export_table(table, tmp_path / "members.csv", table="members", branch_limit_min=limit)
    zh = pd.read_csv(csv, encoding="utf-8-sig", dtype=str)
    assert zh["步行至支部(分钟)"].iloc[p] == f"> {limit:g}"
    # English (for scripts): the number column stays numeric, the status says why it is empty
    en = pd.read_csv(export_table(table, tmp_path / "en.csv", table="members", language="en",
                                  branch_limit_min=limit), encoding="utf-8-sig")
    assert np.isnan(en["walk_min_branch"].iloc[p]) and en["branch_status"].iloc[p] == "beyond_limit"


def test_map_popup_says_beyond_the_limit(case):
    limit = case["limit"]
    th = Thresholds(branch_walk_min=T_FAR, branch_search_limit_min=limit)
    members = _with(case, case["cut"], th)
    fmap = build_map(members, case["branches"], None, None, None, thresholds=th, settings=MapSettings())
    page = fmap.get_root().render()
    # the popup cell is HTML "&gt; 81", written into the page's script as JSON-safe "\u0026gt; 81"
    text = f"\\u0026gt; {limit:g}"
    n_beyond = int((members["branch_status"] == "beyond_limit").sum())
    assert page.count(text) >= n_beyond > 0
    wide = build_map(members, case["branches"], None, None, None, settings=MapSettings(),
                     thresholds=Thresholds(branch_walk_min=T_FAR, branch_search_limit_min=0))
    page = wide.get_root().render()
    assert text not in page and page.count("超过计算上限") >= n_beyond  # limit unknown: the status label


def test_setting_validated_and_documented():
    assert Thresholds().branch_limit() == 120.0
    assert Thresholds(branch_search_limit_min=0).branch_limit() is None
    assert Thresholds(branch_search_limit_min=None).branch_limit() is None
    # the default steps aside for a branch threshold at or above it (every walk measured)
    assert Thresholds(branch_walk_min=180).branch_limit() is None
    base = {"network": {"osm": [str(GUIXI)]}, "inputs": {"members": "m.csv", "branches": "b.csv", "stations": "s.csv"}}
    for bad in (20, 15, -1, "inf", "nan", 1e999):
        with pytest.raises(ScenarioError) as err:
            scenario_from_dict({**base, "thresholds": {"branch_walk_min": 20, "branch_search_limit_min": bad}})
        assert "branch_search_limit_min" in str(err.value)
    ok = scenario_from_dict({**base, "thresholds": {"branch_search_limit_min": 90}})
    assert ok.thresholds.branch_limit() == 90
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert "branch_search_limit_min = 120" in readme


def test_branch_recommendations_rank_beyond_above():
    # a member beyond the cut-off is a walk longer than any measured one, not a missing one
    assert walk_median(np.array([10.0, np.inf, np.inf])) == np.inf
    assert walk_median(np.array([10.0, 12.0, np.inf])) == 12.0
    assert walk_median(np.array([10.0, np.nan, 12.0])) == 11.0
    assert min_zh(np.inf) == "超过计算上限" and min_zh(np.nan) == "无法步行到达"
    assert min_en(np.inf) == "beyond the search limit"
    assert math.isnan(recommendation_row(kind="transfer", before_min=np.inf)["before_min"])


def test_demo_run_uses_the_default_cut_off(demo_run):
    # the pipeline passes [thresholds] branch_search_limit_min (default 120) to the travel stage
    result, m, out, _ = demo_run
    assert result.scenario.thresholds.branch_limit() == 120.0
    run_json = json.loads((out / "run.json").read_text(encoding="utf-8"))
    beyond = m["branch_status"] == "beyond_limit"
    assert run_json["counts"]["branch_search_limit"] == {"limit_min": 120.0, "members_beyond": int(beyond.sum())}
    assert m.loc[beyond, "walk_min_branch"].isna().all() and not m.loc[beyond, "covered_branch"].any()
    assert (m.loc[~beyond, "walk_min_branch"].dropna() <= 120).all()
    local = beyond & (m["dispersion_reason"] != "remote")
    assert m.loc[local, "dispersion_reason"].str.contains("far").all()
    assert (m.loc[local, "dispersion_note"] == "> 120 min walk").all()
    by_branch = pd.read_csv(out / "coverage_by_branch.csv", encoding="utf-8-sig", dtype={"branch_id": str})
    assert by_branch["beyond_limit_walk_branch"].sum() == beyond.sum()
    if beyond.any():  # the planner's spreadsheet says "> 120" where the walk was not measured
        ws = openpyxl.load_workbook(out / "members.xlsx").active
        header = [c.value for c in ws[1]]
        walks = [r[header.index("步行至支部(分钟)")] for r in ws.iter_rows(min_row=2, values_only=True)]
        assert walks.count("> 120") == beyond.sum()
