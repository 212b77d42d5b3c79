"""Station siting on the demo's real network: planted uncovered neighbourhood, spopt on the same instance."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pulp
import pytest

from geo_planner.siting.plan import member_weights, recommend_stations, station_candidates
from geo_planner.travel import cost_matrix

pytestmark = pytest.mark.filterwarnings("ignore:.*deprecated.*:DeprecationWarning")


def test_mclp_sites_a_station_in_the_planted_gap(demo_run, planted):
    result, m, out, _ = demo_run
    recs = pd.read_csv(out / "recommendations.csv", encoding="utf-8-sig", dtype=str)
    mclp = recs[(recs["kind"] == "new_station") & recs["method"].str.startswith("mclp")]
    assert len(mclp) == result.scenario.siting.new_stations == 3
    served = set(";".join(mclp["member_ids"]).split(";"))
    gap = set(planted["uncovered"]["member_ids"])
    uncovered_before = {i for i in gap if not m.loc[i, "covered_station"]}
    assert len(uncovered_before) >= 30
    assert len(uncovered_before & served) / len(uncovered_before) > 0.9
    # the site serving them lies inside the planted neighbourhood (< 400 m from its centre)
    site = mclp.loc[mclp["member_ids"].str.contains(sorted(uncovered_before)[0])].iloc[0]
    dx = (float(site["lon"]) - planted["uncovered"]["lon"]) * 111_320 * np.cos(np.radians(28.3))
    dy = (float(site["lat"]) - planted["uncovered"]["lat"]) * 110_540
    assert np.hypot(dx, dy) < 400
    # every recommendation explains itself
    assert mclp["rationale_zh"].str.contains("新建驿站").all() and mclp["rationale_en"].str.len().gt(20).all()
    assert (mclp["after_min"].astype(float) <= 15).all()


def test_lscp_reaches_target_and_pmedian_reduces_time(demo_run):
    result, m, out, _ = demo_run
    s = result.counts["siting"]
    assert s["lscp"]["status"] == "optimal" and s["lscp"]["new_sites"] >= 1
    # the target is a share of the weight some site can cover at all
    assert s["lscp"]["covered_weight"] >= 0.95 * s["lscp"]["coverable_weight"] - 1e-6
    assert s["lscp"]["coverable_weight"] < s["lscp"]["total_weight"]
    assert s["mclp"]["coverage_share"] > 0.85
    assert s["p_median"]["status"] == "optimal" and s["p_median"]["new_sites"] == 3


def test_mclp_objective_equals_spopt_on_demo_instance(demo_run):
    from spopt.locate import MCLP

    from geo_planner.siting.stations import mclp

    result, m, out, _ = demo_run
    members = result.members[(result.members["network_status"] == "ok")
                             & ~result.members["dispersion_reason"].str.contains("remote")]
    cands = station_candidates(result.stations, result.gazetteer, result.walk, station_walk_min=15, max_snap_m=500)
    msnap = result.walk.snap(members["lon"].to_numpy(float), members["lat"].to_numpy(float))
    csnap = result.walk.snap(cands["lon"].to_numpy(float), cands["lat"].to_numpy(float))
    cost = cost_matrix(result.walk, msnap, csnap, 15.0)
    w = member_weights(members, result.scenario)
    ex = cands["existing"].to_numpy(bool)
    ours = mclp(cost > 0, w, 3, existing=ex)
    dense = np.where(cost.toarray() > 0, cost.toarray(), 999.0)
    ref = MCLP.from_cost_matrix(dense, w, 15.0, p_facilities=3 + int(ex.sum()),
                                predefined_facilities_arr=ex.astype(int)).solve(pulp.PULP_CBC_CMD(msg=False))
    assert ours.objective == pytest.approx(pulp.value(ref.problem.objective), rel=1e-9)
    # and the pipeline used the same instance
    assert result.counts["siting"]["mclp"]["objective"] == pytest.approx(ours.objective)


def test_member_weights(demo_run):
    result, m, out, _ = demo_run
    w = member_weights(result.members, result.scenario)
    lixiu = (result.members["status"] == "lixiu").to_numpy()
    old = (pd.to_numeric(result.members["age"], errors="coerce") >= 80).to_numpy()
    assert lixiu.any() and old.any()
    np.testing.assert_allclose(w[lixiu & old], 2.0 * 1.5)
    np.testing.assert_allclose(w[~lixiu & ~old], 1.0)


def test_recommend_stations_without_candidates_is_empty(demo_run):
    result, m, out, _ = demo_run
    recs, summary = recommend_stations(result.members, pd.DataFrame(), result.walk, result.scenario)
    assert recs.empty and summary == {}


def test_pipeline_branch_recommendations(demo_run, planted):
    result, m, out, _ = demo_run
    recs = pd.read_csv(out / "recommendations.csv", encoding="utf-8-sig", dtype=str)
    assert set(recs["kind"]) >= {"new_station", "joint_branch", "remote_branch", "mobile_member"}
    assert list(recs["rec_id"]) == [f"R{i + 1:03d}" for i in range(len(recs))]
    # the planted joint branch: all nine members in one joint branch, recorded on members.csv too
    joint = planted["joint_branch"]["member_ids"]
    rec_ids = set(m.loc[joint, "recommendation_id"])
    assert len(rec_ids) == 1
    row = recs.set_index("rec_id").loc[rec_ids.pop()]
    assert row["kind"] == "joint_branch" and 3 <= int(row["n_members"]) <= 50
    assert len(row["branch_ids"].split(";")) <= 5 and float(row["max_after_min"]) <= 20
    # the 南京 cluster is one remote branch; the 深圳 pair are mobile members
    remote = recs[recs["kind"] == "remote_branch"]
    assert len(remote) == 1 and set(planted["remote_cluster"]["member_ids"]) <= set(remote.iloc[0]["member_ids"].split(";"))
    assert set(m.loc[planted["off_network"]["member_ids"], "recommendation_kind"]) == {"mobile_member"}
    # every recommendation explains itself in both languages
    assert recs["rationale_zh"].str.len().gt(10).all() and recs["rationale_en"].str.len().gt(10).all()
    assert recs["rule"].str.len().gt(5).all()
