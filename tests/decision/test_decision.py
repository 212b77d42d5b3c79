"""Decision support: the trade-off curve against spopt, p-center against brute force on real roads,
the phased plan against the curve, sensitivity, equity columns and the report (without a browser).

Real instances are cut from both bundled extracts (贵溪 and 南京): members and candidate sites at
network nodes, walking minutes from ``travel.cost_matrix`` on the real network.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import re

import numpy as np
import pandas as pd
import pulp
import pytest
import scipy.sparse as sp
from spopt.locate import MCLP

from geo_planner.decision.decide import SitingInstance, phased_plan, tradeoff_curve
from geo_planner.settings import SitingSettings
from geo_planner.siting.models.p_center import p_center
from geo_planner.siting.stations import mclp
from geo_planner.travel import cost_matrix

pytestmark = pytest.mark.filterwarnings("ignore:.*deprecated.*:DeprecationWarning")

THR = 15.0
REGIONS = {"guixi": lambda lon: lon < 118.0, "nanjing": lambda lon: lon >= 118.0}


def _real_instance(walk, region: str, seed: int, n_members: int = 70, n_sites: int = 14,
                   n_existing: int = 2) -> SitingInstance:
    """Members and sites at random nodes of one extract, within walking reach of each other."""
    rng = np.random.default_rng(seed)
    nodes = np.flatnonzero(REGIONS[region](walk.node_lon))
    # a compact neighbourhood: the nodes nearest to a random node
    c = nodes[rng.integers(nodes.size)]
    d = np.hypot((walk.node_lon[nodes] - walk.node_lon[c]) * 98_000, (walk.node_lat[nodes] - walk.node_lat[c]) * 110_500)
    near = nodes[np.argsort(d)[: max(400, n_members + n_sites)]]
    pick = rng.choice(near, n_members + n_sites, replace=False)
    m, s = pick[:n_members], pick[n_members:]
    mlon = walk.node_lon[m] + rng.normal(0, 0.0003, n_members)
    mlat = walk.node_lat[m] + rng.normal(0, 0.0003, n_members)
    ms = walk.snap(mlon, mlat, max_snap_m=500)
    cs = walk.snap(walk.node_lon[s], walk.node_lat[s], max_snap_m=500)
    cost = sp.csr_array(cost_matrix(walk, ms, cs, 3 * THR))
    cost.sort_indices()
    existing = np.zeros(n_sites, bool)
    existing[:n_existing] = True
    ex_cost = cost[:, np.flatnonzero(existing)].toarray()
    ex_cost[ex_cost == 0] = np.inf  # not stored = beyond the cut-off (stored minutes carry +1e-9)
    before = ex_cost.min(axis=1) if n_existing else np.full(n_members, np.inf)
    cands = pd.DataFrame({"id": [f"S{j}" for j in range(n_sites)], "name": [f"site {j}" for j in range(n_sites)],
                          "lon": walk.node_lon[s], "lat": walk.node_lat[s], "existing": existing})
    return SitingInstance(
        member_ids=np.array([f"M{i}" for i in range(n_members)]), rows=np.arange(n_members),
        weights=rng.choice([1.0, 1.5, 2.0], n_members), cost=cost, cutoff_min=3 * THR, candidates=cands,
        existing=existing, threshold_min=THR, before_min=before, precision=np.full(n_members, "coordinates"),
        lon=mlon, lat=mlat,
    )


def _dense(inst: SitingInstance) -> np.ndarray:
    d = np.full(inst.cost.shape, 1e6)
    rows = np.repeat(np.arange(inst.cost.shape[0]), np.diff(inst.cost.indptr))
    d[rows, inst.cost.indices] = inst.cost.data
    return d


@pytest.mark.parametrize("region,seed", [("guixi", 1), ("nanjing", 2)])
def test_tradeoff_curve_matches_independent_spopt_solves(walk_net, region: str, seed: int) -> None:
    inst = _real_instance(walk_net, region, seed)
    settings = SitingSettings(tradeoff_max_p=6)
    curve = tradeoff_curve(inst, settings)
    assert list(curve["p"]) == list(range(7))
    assert (curve["status"] == "optimal").all() and (curve["gap"].fillna(0) <= 1e-9).all()
    d = _dense(inst)
    n_ex = int(inst.existing.sum())
    for p in range(7):
        ref = MCLP.from_cost_matrix(d, inst.weights, THR, p_facilities=p + n_ex,
                                    predefined_facilities_arr=inst.existing.astype(int))
        ref = ref.solve(pulp.PULP_CBC_CMD(msg=False))
        assert curve.loc[p, "covered_weight"] == pytest.approx(pulp.value(ref.problem.objective), abs=1e-6)
    # shares, marginal gains, monotone
    assert np.all(np.diff(curve["covered_weight"]) >= -1e-9)
    assert curve["marginal_weight"].iloc[1:].to_numpy() == pytest.approx(np.diff(curve["covered_weight"]), abs=1e-3)
    assert curve["weighted_coverage_share"].to_numpy() == pytest.approx(
        curve["covered_weight"] / inst.weights.sum(), abs=1e-4)
    assert curve["new_site_ids"].str.split(";").map(lambda x: len([i for i in x if i])).le(curve["p"]).all()


@pytest.mark.parametrize("region,seed", [("guixi", 3), ("nanjing", 4)])
def test_p_center_on_real_roads_matches_brute_force(walk_net, region: str, seed: int) -> None:
    inst = _real_instance(walk_net, region, seed, n_members=45, n_sites=10, n_existing=1)
    d = _dense(inst)
    d[d >= 1e6] = np.inf
    for p in (1, 2):
        res = p_center(inst.cost, p, existing=inst.existing)
        best = (-1, np.inf)
        for k in range(p + 1):
            for combo in itertools.combinations(np.flatnonzero(~inst.existing), k):
                open_ = inst.existing.copy()
                open_[list(combo)] = True
                t = d[:, open_].min(axis=1)
                served = int(np.isfinite(t).sum())
                r = float(t[np.isfinite(t)].max()) if served else np.nan
                if served > best[0] or (served == best[0] and r < best[1]):
                    best = (served, r)
        assert res.status == "optimal"
        assert (res.served, res.radius_min) == (best[0], pytest.approx(best[1], abs=1e-9))


@pytest.mark.parametrize("region,seed", [("guixi", 5), ("nanjing", 6)])
def test_phased_plan_against_the_curve(walk_net, region: str, seed: int) -> None:
    inst = _real_instance(walk_net, region, seed, n_members=80, n_sites=16)
    settings = SitingSettings(per_year=2, years=3, tradeoff_max_p=6)
    curve = tradeoff_curve(inst, settings).set_index("p")
    plan, summary = phased_plan(inst, settings)
    years = plan.groupby("year").first()
    assert list(years.index) == [1, 2, 3]
    for k in (1, 2, 3):
        # the horizon optimum is the curve's point at k × per_year sites
        assert years.loc[k, "horizon_optimum_share"] == pytest.approx(curve.loc[2 * k, "weighted_coverage_share"],
                                                                      abs=1e-4)
        if years.loc[k, "optimal_at_horizon"]:
            assert years.loc[k, "year_weighted_share"] == pytest.approx(years.loc[k, "horizon_optimum_share"])
        else:
            assert years.loc[k, "note"]
    # nested, at most per_year openings a year, existing never reopened
    sites = plan[plan["site_id"] != ""]
    assert sites.groupby("year").size().le(2).all()
    assert not sites["site_id"].duplicated().any()
    assert not sites["site_id"].isin(inst.candidates.loc[inst.existing, "id"]).any()
    assert summary["optimal_at_every_horizon"] == bool(years["optimal_at_horizon"].all())
    # newly served members are disjoint across years and add up to the coverage gains
    ids = [i for s in plan["member_ids"] for i in s.split(";") if i]
    assert len(ids) == len(set(ids))


def _toy(cover_sets: list[set[int]], n: int) -> SitingInstance:
    rows, cols = zip(*[(i, j) for j, s in enumerate(cover_sets) for i in s], strict=True)
    cost = sp.csr_array((np.full(len(rows), 5.0), (rows, cols)), shape=(n, len(cover_sets)))
    cands = pd.DataFrame({"id": ["A", "B", "C"][: len(cover_sets)], "name": ["A", "B", "C"][: len(cover_sets)],
                          "lon": [117.0, 117.01, 117.02][: len(cover_sets)], "lat": 28.0, "existing": False})
    return SitingInstance(
        member_ids=np.array([f"M{i}" for i in range(n)]), rows=np.arange(n), weights=np.ones(n), cost=cost,
        cutoff_min=45.0, candidates=cands, existing=np.zeros(len(cover_sets), bool), threshold_min=15.0,
        before_min=np.full(n, np.inf), precision=np.full(n, "coordinates"), lon=np.zeros(n), lat=np.zeros(n))


def test_phased_plan_says_where_no_nested_optimum_exists() -> None:
    # one site: A (4 members) is best; two sites: B + C (6) — and no pair with A reaches 6
    inst = _toy([{0, 1, 3, 4}, {0, 1, 2}, {3, 4, 5}], 6)
    plan, summary = phased_plan(inst, SitingSettings(per_year=1, years=2))
    years = plan.groupby("year").first()
    assert years.loc[1, "site_id"] == "A" and bool(years.loc[1, "optimal_at_horizon"])
    assert years.loc[1, "year_weighted_share"] == pytest.approx(4 / 6, abs=1e-4)
    assert not years.loc[2, "optimal_at_horizon"]
    assert years.loc[2, "year_weighted_share"] == pytest.approx(5 / 6, abs=1e-4)
    assert years.loc[2, "horizon_optimum_share"] == pytest.approx(1.0)
    assert "no nested plan" in years.loc[2, "note"]
    assert not summary["optimal_at_every_horizon"]
    # a nested optimum exists when one year's best site is part of the next best pair: found
    inst = _toy([{0, 1, 2, 3}, {4, 5}, {0, 1}], 6)
    plan, summary = phased_plan(inst, SitingSettings(per_year=1, years=2))
    assert summary["optimal_at_every_horizon"]
    assert list(plan["site_id"]) == ["A", "B"]
    assert plan["new_members"].tolist() == [4, 2]


def test_phased_plan_budget_and_costs() -> None:
    inst = _toy([{0, 1, 3, 4}, {0, 1, 2}, {3, 4, 5}], 6)
    # A costs 3, the budget is 2 a year: A can never be built; B and C are
    s = SitingSettings(per_year=2, years=2, budget_per_year=2.0, site_costs={"A": 3.0})
    plan, summary = phased_plan(inst, s)
    assert "A" not in set(plan["site_id"])
    assert set(plan.loc[plan["year"] == 1, "site_id"]) == {"B", "C"}
    assert summary["budget_per_year"] == 2.0


# ---------------------------------------------------------------------------- the demo run


def test_demo_writes_decision_outputs(demo_run) -> None:
    result, _, out, _ = demo_run
    doc = json.loads((out / "run.json").read_text(encoding="utf-8"))
    siting = doc["counts"]["siting"]
    curve = pd.read_csv(out / "tradeoff.csv", encoding="utf-8-sig")
    p = result.scenario.siting.new_stations
    # the curve at p = new_stations is the run's maximal covering result
    row = curve[curve["p"] == p].iloc[0]
    assert row["covered_weight"] == pytest.approx(siting["mclp"]["covered_weight"], abs=1e-3)
    # one meaning per name: coverage_share is the members' share in both files, the weighted one is named so
    assert row["weighted_coverage_share"] == pytest.approx(siting["mclp"]["weighted_coverage_share"], abs=1e-4)
    assert row["coverage_share"] == pytest.approx(siting["mclp"]["coverage_share"], abs=1e-4)
    assert row["members_covered"] == siting["mclp"]["members_covered"]
    assert list(curve["p"]) == list(range(result.scenario.siting.tradeoff_max_p + 1))
    assert (curve["status"] == "optimal").all()
    assert np.all(np.diff(curve["covered_weight"]) >= -1e-9)
    # equity under every model and the current network
    for model in ("current", "mclp", "lscp", "p_median", "p_center"):
        fig = siting[model]["equity"]
        assert {"gini", "share_beyond", "p90_min", "n"} <= set(fig)
        assert 0 <= fig["gini"] <= 1
    from geo_planner.siting.plan import siting_members

    m = result.members
    ok = siting_members(m)
    assert siting["current"]["equity"]["n"] == siting["mclp"]["equity"]["n"] == int(ok.sum())
    assert siting["current"]["equity"]["share_beyond"] == pytest.approx(1 - m.loc[ok, "covered_station"].mean(),
                                                                         abs=1e-4)
    for model in ("mclp", "lscp", "p_median", "p_center"):  # new sites never lengthen a walk
        assert siting[model]["equity"]["share_beyond"] <= siting["current"]["equity"]["share_beyond"] + 1e-9
    # p-center: its longest walk is no longer than the other models' (same members served)
    pc = siting["p_center"]
    assert pc["status"] == "optimal" and pc["new_sites"] <= p
    assert pc["radius_before_min"] is None or pc["radius_min"] <= pc["radius_before_min"]
    # every served member is within the radius after the p-center's sites, and the radius is its longest walk
    assert siting["p_center"]["equity"]["max_min"] == pytest.approx(pc["radius_min"], abs=0.01) or \
        pc["served"] < pc["members_considered"]
    area = pd.read_csv(out / "coverage_by_area.csv", encoding="utf-8-sig")
    for col in ("current_gini", "current_share_beyond", "current_p90_min", "mclp_share_beyond", "p_center_p90_min"):
        assert col in area
    t = area[area["level"] == "township"]
    assert (t["current_share_beyond"].dropna() >= t["mclp_share_beyond"].dropna() - 1e-9).all()


def test_demo_sensitivity_and_stability(demo_run) -> None:
    result, _, out, _ = demo_run
    s = result.scenario.siting
    sens = pd.read_csv(out / "sensitivity.csv", encoding="utf-8-sig", dtype={"site_ids": str})
    assert sens["scenario"].iloc[0] == "base"
    thresholds = set(sens.loc[sens["kind"].str.contains("threshold|life_circle"), "threshold_min"])
    assert {5.0, 10.0, 15.0, 20.0} <= thresholds
    assert set(sens.loc[sens["kind"] == "walk_speed", "walk_speed_kmh"]) == {3.2, 4.8}
    assert (sens["kind"] == "geocode_uncertainty").sum() == s.sensitivity_draws  # the demo has imprecise addresses
    # the speed +20 % case is the base times divided by 1.2: an independent solve at 1.2 × the threshold agrees
    dec = result.decision
    from geo_planner.decision.decide import siting_instance
    from geo_planner.siting.plan import station_candidates

    cands = station_candidates(result.stations, result.gazetteer, result.walk, station_walk_min=15.0, max_snap_m=500)
    inst = siting_instance(result.members, cands, result.walk, result.scenario)
    ref = mclp(inst.cover(15.0 * 1.2), inst.weights, s.new_stations, existing=inst.existing)
    fast = sens[sens["scenario"] == "speed_+20%"].iloc[0]
    assert fast["weighted_coverage_share"] == pytest.approx(ref.coverage_share, abs=1e-4)
    # stability: the share of non-base solves choosing the site, in every new-station recommendation
    recs = result.recommendations
    st = recs[recs["kind"] == "new_station"]
    assert st["stability"].between(0, 1).all() and (st["stability_nearby"] >= st["stability"]).all()
    assert recs.loc[recs["kind"] != "new_station", "stability"].isna().all()
    others = sens[(sens["kind"] != "base") & ~((sens["kind"].str.startswith("threshold")) & (sens["value"] == 15.0))]
    for site, share in dec.stability.items():
        chosen = others["site_ids"].fillna("").str.split(";").map(lambda ids, s=site: s in ids)
        assert share == pytest.approx(chosen.mean(), abs=1e-4)
    doc = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert doc["counts"]["decision"]["sensitivity"]["verdict_zh"]


def test_demo_phased_plan_matches_curve(demo_run) -> None:
    result, _, out, _ = demo_run
    s = result.scenario.siting
    plan = pd.read_csv(out / "phased_plan.csv", encoding="utf-8-sig", dtype={"site_id": str, "member_ids": str})
    curve = pd.read_csv(out / "tradeoff.csv", encoding="utf-8-sig").set_index("p")
    years = plan.groupby("year").first()
    assert list(years.index) == list(range(1, s.years + 1))
    for k in years.index:
        assert years.loc[k, "horizon_optimum_share"] == pytest.approx(
            curve.loc[k * s.per_year, "weighted_coverage_share"], abs=1e-4)
        if years.loc[k, "optimal_at_horizon"]:
            assert years.loc[k, "year_weighted_share"] == pytest.approx(years.loc[k, "horizon_optimum_share"])
    # who each year newly serves: real members, each once
    ids = [i for v in plan["member_ids"].fillna("") for i in v.split(";") if i]
    assert len(ids) == len(set(ids)) and set(ids) <= set(result.members["id"].astype(str))
    assert plan["new_members"].sum() == len(ids)


def test_decision_tables_export_with_labels(demo_run, tmp_path) -> None:
    from geo_planner.export import export_table, redact_for_role, translate_frame

    result, _, out, _ = demo_run
    for name in ("tradeoff", "sensitivity", "phased_plan"):
        assert (out / f"{name}.xlsx").is_file()
        zh = translate_frame(getattr(result.decision, name), name, "zh")  # type: ignore[arg-type]
        assert not any(c.isascii() and "_" in c for c in zh.columns), zh.columns
        export_table(getattr(result.decision, name), tmp_path / f"{name}.csv", table=name)  # type: ignore[arg-type]
    viewer = redact_for_role(result.decision.phased_plan, "phased_plan", "viewer")
    assert "member_ids" not in viewer


def test_report_without_chromium_and_without_member_data(demo_run, tmp_path, monkeypatch) -> None:
    from geo_planner.report import write_report

    result, m, out, _ = demo_run
    page = (out / "report.html").read_text(encoding="utf-8")
    assert page.count('class="chart"') >= 6
    page = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", page)  # pictures: random letters
    # areas with fewer than 5 members are not listed one by one (the viewer small-cell rule)
    area = result.coverage_by_area
    small = area[(area["level"] == "township") & (area["members"] < 5)]
    assert ("不单独列出" in page) == (len(small) > 0)
    for word in list(m["id"].astype(str)) + [n for n in m["name"].astype(str) if len(n) >= 2]:
        assert word not in page
    # a machine without Chromium still gets the HTML report, and run.json says why there is no PDF
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    copy = dataclasses.replace(result, out_dir=tmp_path, counts=dict(result.counts))
    files = write_report(copy)
    assert set(files) == {"report_html"} and files["report_html"].stat().st_size > 10_000
    assert "chromium is not installed" in copy.counts["report"]["pdf"]


def test_time_budget_skips_and_says_so(walk_net) -> None:
    from geo_planner.decision.decide import SKIPPED
    from geo_planner.siting.budget import TimeBudget as Budget

    inst = _real_instance(walk_net, "nanjing", 8)
    s = SitingSettings(tradeoff_max_p=4)
    curve = tradeoff_curve(inst, s, budget=Budget(0.0))
    assert (curve["status"] == SKIPPED).all() and curve["covered_weight"].isna().all()
    # a budget that runs out part-way: the solved points are real optima, the rest say they were skipped
    budget = Budget(3600.0)
    full = tradeoff_curve(inst, s, budget=budget)
    assert (full["status"] == "optimal").all()
    res = p_center(inst.cost, 2, existing=inst.existing, total_time_limit_s=0.0)
    assert res.status == "time_limit" and "upper bound" in res.message
    exact = p_center(inst.cost, 2, existing=inst.existing)
    assert res.radius_min >= exact.radius_min - 1e-9 and res.served == exact.served


def test_decision_settings_are_validated() -> None:
    from geo_planner.errors import ScenarioError
    from geo_planner.settings import scenario_from_dict

    base = {"network": {"osm": ["x.osm"]}, "inputs": {"members": "m.csv", "branches": "b.csv", "stations": "s.csv"}}
    bad = {"sensitivity_speed_factors": [1.2, -0.8], "per_year": 0, "site_costs": {"C0001": 0.0},
           "tradeoff_max_p": -1, "decision_time_limit_s": 0}
    with pytest.raises(ScenarioError) as err:
        scenario_from_dict({**base, "siting": bad})
    text = str(err.value)
    for key in bad:
        assert f"siting.{key}" in text, (key, text)
    ok = scenario_from_dict({**base, "siting": {"per_year": 3, "years": 2, "budget_per_year": 4.5,
                                                "site_costs": {"C0001": 2.0}}, "report": {"pdf": False}})
    assert ok.siting.per_year == 3 and ok.report.pdf is False
