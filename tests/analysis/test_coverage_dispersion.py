"""Coverage flags, area/branch summaries and dispersed members on the demo run (planted answers)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geo_planner.coverage import point_coverage
from geo_planner.settings import Thresholds


def test_coverage_flags_follow_thresholds(demo_run):
    result, m, out, _ = demo_run
    t = result.scenario.thresholds
    ok = m["walk_min_station"].notna()
    assert (m.loc[ok, "covered_station"] == (m.loc[ok, "walk_min_station"] <= t.station_walk_min)).all()
    assert not m.loc[~ok, "covered_station"].any()  # missing time is never "covered"
    hb = m["drive_min_hospital"].notna()
    assert (m.loc[hb, "covered_hospital"] == (m.loc[hb, "drive_min_hospital"] <= t.hospital_drive_min)).all()
    assert 0 < m["covered_station"].mean() < 1


def test_area_summary(demo_run, planted):
    result, m, out, _ = demo_run
    area = pd.read_csv(out / "coverage_by_area.csv", encoding="utf-8-sig")
    towns = area[area["level"] == "township"]
    assert towns["members"].sum() == len(m)
    comm = area[area["level"] == "community"]
    assert comm["members"].sum() == len(m)
    # shares and percentiles are consistent with the member table
    keyed = comm.set_index(["township", "area"])
    for (town, name), sub in m.groupby(["township", "community"]):
        row = keyed.loc[(town or "（未定位）", name or "（未定位）")]
        assert row["members"] == len(sub)
        precise = sub[sub["network_status"] != "imprecise_location"]  # shares leave coarse addresses out
        assert row["imprecise_location"] == len(sub) - len(precise)
        if len(precise):
            assert row["share_covered_station"] == pytest.approx(precise["covered_station"].mean(), abs=1e-4)
        med = sub["walk_min_station"].median()
        assert (np.isnan(med) and np.isnan(row["median_walk_station_min"])) or row[
            "median_walk_station_min"] == pytest.approx(med, abs=0.01)
    # the planted uncovered neighbourhood is almost entirely outside the 15-minute circle
    unc = m.loc[planted["uncovered"]["member_ids"]]
    assert (~unc["covered_station"]).mean() > 0.85


def test_branch_dispersion_planted_township_example(demo_run, planted):
    result, m, out, _ = demo_run
    br = pd.read_csv(out / "coverage_by_branch.csv", encoding="utf-8-sig", dtype={"branch_id": str})
    ex = planted["township_example"]
    row = br.set_index("branch_id").loc[ex["branch_id"]]
    assert row["members"] == ex["members"] == 70
    assert row["n_in_township"] == ex["in_township"] == 15
    assert row["share_in_township"] == pytest.approx(15 / 70, abs=1e-4)
    assert bool(row["flagged"]) and "仅 15 名" in row["flag_note"]


def test_dispersion_reasons(demo_run, planted):
    result, m, out, _ = demo_run
    assert set(m["dispersion_reason"].fillna("").str.split(";").explode()) <= {"", "remote", "cross_township", "far"}
    for mid in planted["remote_cluster"]["member_ids"]:
        row = m.loc[mid]
        assert row["dispersed"] and row["dispersion_reason"] == "remote"
        assert row["member_city"] == "南京市" and "南京市" in row["dispersion_note"]
    for mid in planted["off_network"]["member_ids"]:
        row = m.loc[mid]
        assert row["dispersion_reason"] == "remote" and "深圳" in row["dispersion_note"]
    for mid in planted["joint_branch"]["member_ids"]:
        row = m.loc[mid]
        assert "far" in row["dispersion_reason"]
        assert row["walk_min_branch"] > 20 or row["branch_status"] == "beyond_limit"
    far = m["dispersion_reason"].fillna("").str.contains("far")
    # far: a measured walk over 20 min, or one beyond the search cut-off (no number)
    assert ((m.loc[far, "walk_min_branch"] > 20) | (m.loc[far, "branch_status"] == "beyond_limit")).all()
    at = m.loc[planted["at_meeting_place"]]
    assert not at["dispersed"]


def test_point_coverage(demo_run):
    result, m, out, _ = demo_run
    st = result.stations.iloc[0]
    got = point_coverage(result.walk, result.drive, float(st["lon"]), float(st["lat"]), stations=result.stations,
                         branches=result.branches, hospitals=result.hospitals, thresholds=Thresholds())
    assert got["on_network"] and got["stations"][0]["id"] == st["id"]
    assert got["stations"][0]["minutes"] < 1.0
    assert all(s["minutes"] <= 15 for s in got["stations"])
    assert got["hospitals"] and all(h["minutes"] <= 30 for h in got["hospitals"])
    far = point_coverage(result.walk, result.drive, 100.0, 30.0, stations=result.stations,
                         branches=result.branches, hospitals=result.hospitals, thresholds=Thresholds())
    assert not far["on_network"] and far["stations"] == [] and far["nearest_station_min"] is None
    assert np.isfinite(got["nearest_station_min"])
