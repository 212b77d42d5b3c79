"""异地 across regions: other regions' members served on the host region's networks and facilities.

Real networks (南京 and 龙岗 extracts), real Dijkstras; the expected minutes are computed
independently with scipy on the network's node graph (members and stations placed on road
nodes, so snapping adds no access leg).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.sparse.csgraph import dijkstra

from geo_planner.crossregion import BRANCH_COLUMNS, HOST_COLUMNS, serve_in_host
from geo_planner.geocode import IMPRECISE_STATUS
from geo_planner.pipeline import run_networks
from geo_planner.settings import scenario_from_dict

from ..support.paths import NANJING, OSM

LONGGANG = OSM / "shenzhen_longgang.osm"


def _host(tmp_path, cache_dir, extract):
    """A host region: its scenario, its output folder with 3 stations and 1 hospital on road nodes."""
    d = tmp_path / "host"
    d.mkdir()
    for t in ("members", "branches", "stations", "hospitals"):
        (d / f"in_{t}.csv").write_text("id,name,lon,lat\n", encoding="utf-8")
    sc = scenario_from_dict({
        "name": "host", "network": {"osm": [str(extract)], "cache_dir": str(cache_dir)},
        "inputs": {t: str(d / f"in_{t}.csv") for t in ("members", "branches", "stations", "hospitals")},
        "thresholds": {"station_walk_min": 15, "branch_walk_min": 20, "hospital_drive_min": 30},
        "branches": {"min_branch_members": 3, "max_branch_members": 50},
    })
    walk, drive = run_networks(sc)
    # a well-connected middle part of the network: nodes reached from the most central node
    centre = int(np.argmin(np.hypot(walk.node_lon - np.median(walk.node_lon), walk.node_lat - np.median(walk.node_lat))))
    dist = dijkstra(walk.cost, indices=centre)
    near = np.flatnonzero(np.isfinite(dist) & (dist < 15 * 60) & (dist > 0))
    rng = np.random.default_rng(7)
    st_nodes = rng.choice(near, 3, replace=False)
    pd.DataFrame({"id": ["S1", "S2", "S3"], "name": ["驿站一", "驿站二", "驿站三"],
                  "lon": walk.node_lon[st_nodes], "lat": walk.node_lat[st_nodes]}).to_csv(d / "stations.csv", index=False)
    pd.DataFrame({"id": ["H1"], "name": ["医院"], "lon": [walk.node_lon[centre]], "lat": [walk.node_lat[centre]]}
                 ).to_csv(d / "hospitals.csv", index=False)
    return sc, d, walk, drive, near, st_nodes, rng


def _members(walk, nodes, home, city="某市", county="某区", precision="coordinates", start=0):
    n = len(nodes)
    return pd.DataFrame({
        "id": [f"{home}{i + start:03d}" for i in range(n)], "home_region": home, "branch_id": f"B-{home}",
        "lon": walk.node_lon[nodes], "lat": walk.node_lat[nodes], "geocode_precision": precision,
        "host_region": "host", "member_city": city, "member_county": county,
    })


@pytest.mark.parametrize("extract", [NANJING, LONGGANG], ids=["nanjing", "longgang"])
def test_host_serves_members_with_exact_times_and_remote_branches(tmp_path, cache_dir, extract):
    sc, d, walk, drive, near, st_nodes, rng = _host(tmp_path, cache_dir, extract)
    nodes = rng.choice(near, 70, replace=False)
    m = pd.concat([
        _members(walk, nodes[:4], "甲"),                       # 4 of one home region: a 异地支部
        _members(walk, nodes[4:6], "乙"),                      # 2: too few for a branch
        _members(walk, nodes[6:7], "丁", precision="county"),  # known only to the county: no time
        _members(walk, nodes[7:67], "丙", county="东区"),       # 60 > 50: two branches
        _members(walk, st_nodes[:1], "戊"),                    # at station S1 itself
    ], ignore_index=True)
    served, branches = serve_in_host("host", sc, d, m)

    assert list(served["id"]) == list(m["id"]) and set(HOST_COLUMNS) <= set(served.columns)
    assert list(branches.columns) == list(BRANCH_COLUMNS)
    # nearest station minutes = independent scipy Dijkstra from each member's node to the stations' nodes
    precise = served["geocode_precision"] == "coordinates"
    member_nodes = np.concatenate([nodes[:67], st_nodes[:1]])
    expect = dijkstra(walk.cost, indices=member_nodes)[:, st_nodes].min(axis=1) / 60.0
    got = served["host_walk_min_station"].to_numpy(float)
    np.testing.assert_allclose(got[precise], expect[precise.to_numpy()], atol=0.01)
    assert served.loc[served["id"] == "戊000", "host_station_id"].item() == "S1"
    assert served.loc[served["id"] == "戊000", "host_walk_min_station"].item() == pytest.approx(0.0, abs=0.01)
    covered = served["host_covered_station"].to_numpy(bool)
    assert (covered[precise] == (expect[precise.to_numpy()] <= 15 + 1e-9)).all()
    # the county-level address: a point, but no time and a reason
    row = served[served["id"] == "丁000"].iloc[0]
    assert row["host_station_status"] == IMPRECISE_STATUS and row["host_hospital_status"] == IMPRECISE_STATUS
    assert np.isnan(row["host_walk_min_station"]) and np.isnan(row["host_drive_min_hospital"])
    assert (served.loc[precise, "host_hospital_id"] == "H1").all()
    assert served.loc[precise, "host_drive_min_hospital"].notna().all()

    # 异地支部: 甲 (4) one branch, 丙 (60) two with distinct names, 乙 (2) and 丁 (1) none
    assert sorted(branches["home_region"].unique()) == ["丙", "甲"]
    jia = branches[branches["home_region"] == "甲"].iloc[0]
    assert jia["n_members"] == 4 and jia["name"] == "甲某市异地支部"
    assert set(jia["member_ids"].split(";")) == set(m.loc[m["home_region"] == "甲", "id"])
    bing = branches[branches["home_region"] == "丙"]
    assert len(bing) == 2 and bing["name"].is_unique and bing["n_members"].sum() == 60
    assert (bing["n_members"] <= 50).all() and (bing["n_members"] >= 3).all()
    # the meeting point is one of the group's homes, the median walk is that of the members to it
    for _, b in branches.iterrows():
        ids = b["member_ids"].split(";")
        grp = m.set_index("id").loc[ids]
        k = int(np.flatnonzero((grp["lon"].to_numpy() == b["lon"]) & (grp["lat"].to_numpy() == b["lat"]))[0])
        gn = member_nodes[[list(m["id"]).index(i) for i in ids]]
        walks = dijkstra(walk.cost, indices=gn)[:, gn[k]] / 60.0
        assert b["median_walk_min"] == pytest.approx(np.median(walks), abs=0.01)
        assert b["members_within_branch_walk"] == int((walks <= 20).sum())
        assert b["venue_station_id"] in {"S1", "S2", "S3"} and b["meeting_on_network"]
        assert str(len(ids)) in b["rationale_zh"] and "异地党支部" in b["rationale_zh"]


def test_host_without_hospitals_and_off_network_members(tmp_path, cache_dir):
    sc, d, walk, drive, near, st_nodes, rng = _host(tmp_path, cache_dir, NANJING)
    (d / "hospitals.csv").unlink()
    far = pd.DataFrame({"id": ["X1"], "home_region": "甲", "branch_id": "B", "lon": [walk.node_lon.max() + 0.2],
                        "lat": [walk.node_lat.max() + 0.2], "geocode_precision": "coordinates", "host_region": "host",
                        "member_city": "某市", "member_county": ""})
    served, branches = serve_in_host("host", sc, d, far)
    row = served.iloc[0]
    assert row["host_station_status"] == "off_network" and np.isnan(row["host_walk_min_station"])
    assert row["host_hospital_status"] == "no_target" and row["host_hospital_id"] == ""
    assert not row["host_covered_station"] and len(branches) == 0
