"""End to end: the seeded demo scenario through ``geo-planner run``, checked against planted answers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pyproj import Geod

from ..support.paths import DEMO, OSM

GEOD = Geod(ellps="WGS84")
REQUIRED = ["id", "lon", "lat", "geocode_precision", "branch_id", "walk_min_branch", "walk_min_station",
            "nearest_station_id", "drive_min_hospital", "nearest_hospital_id"]


def _metres(lon1, lat1, lon2, lat2):
    return GEOD.inv(lon1, lat1, lon2, lat2)[2]


def test_outputs_and_columns(demo_run):
    result, m, out, stages = demo_run
    assert set(REQUIRED) <= set(m.columns)
    assert (out / "rejections.csv").read_bytes().startswith(b"\xef\xbb\xbf")  # Excel shows Chinese
    doc = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert {"load", "geocode", "network", "travel", "coverage", "dispersion"} <= set(doc["timings_s"])
    assert doc["counts"]["members"] == len(m) == 711  # 712 rows: only the duplicate id is rejected
    assert doc["versions"]["osmnx"] and doc["scenario"]["network"]["walk_speed_kmh"] == 4.0
    # progress reported stage by stage up to 100 %
    assert [s for s, _ in stages][:2] == ["load", "load"] and stages[-1][1] == pytest.approx(1.0)
    # unknown columns of the planner's table are kept
    assert (m["备注"] == "合成数据(synthetic)").all()


def test_every_input_row_accounted_for(demo_run, planted):
    result, m, out, _ = demo_run
    raw = pd.read_csv(DEMO / "members.csv", encoding="gb18030", dtype=str)
    rej = pd.read_csv(out / "rejections.csv", encoding="utf-8-sig")
    rejected_rows = set(rej.loc[rej["action"] == "rejected", "row"])
    assert len(m) + len(rejected_rows) == len(raw)
    bad = planted["bad_rows"]
    assert bad["duplicate_id"]["row"] in rejected_rows and len(rejected_rows) == 1
    # a row that is a person stays a member: what is uncertain about it is flagged
    for key in ("unknown_branch", "bad_lon", "no_location"):
        assert bad[key]["row"] not in rejected_rows and bad[key]["id"] in m.index, key
        assert bad[key]["row"] in set(rej.loc[rej["action"] == "warning", "row"]), key
    assert m.loc[bad["unknown_branch"]["id"], "branch_status"] == "unknown_branch"
    assert m.loc[bad["unknown_branch"]["id"], "station_status"] == "ok"  # still counted for stations
    for key in ("bad_lon", "no_location"):
        assert m.loc[bad[key]["id"], "network_status"] == "no_location"
    reasons = " ".join(rej["reason"])
    assert "duplicate id 'M0001'" in reasons and "unknown branch" in reasons
    # swapped lon/lat is fixed with a warning, not rejected
    sw = bad["swapped"]
    assert sw["row"] not in rejected_rows
    assert m.loc[sw["id"], "lon"] == pytest.approx(sw["lon"]) and m.loc[sw["id"], "lat"] == pytest.approx(sw["lat"])


def test_gcj02_and_bd09_members_converted(demo_run, planted):
    _, m, _, _ = demo_run
    truth = planted["gcj02_members"]
    assert {v["crs"] for v in truth.values()} == {"高德", "百度"}
    for mid, t in truth.items():
        assert _metres(m.loc[mid, "lon"], m.loc[mid, "lat"], t["lon"], t["lat"]) < 0.5, mid


def test_address_only_members_geocoded(demo_run, planted):
    _, m, _, _ = demo_run
    n_comm = n_street = 0
    for mid, t in planted["address_only"].items():
        row = m.loc[mid]
        if "street" in t:
            assert row["geocode_precision"] == "street" and row["geocode_match"] == t["street"]
            n_street += 1
        else:
            assert row["geocode_precision"] == "community", mid
            assert _metres(row["lon"], row["lat"], t["lon"], t["lat"]) < 1.0
            n_comm += 1
    assert n_comm > 20 and n_street == 6


def test_planted_travel_times(demo_run, planted):
    result, m, _, _ = demo_run
    # a member living at her branch's meeting place walks (almost) nothing
    at = m.loc[planted["at_meeting_place"]]
    assert at["walk_min_branch"] < 1.5 and at["branch_status"] == "ok"
    # 南京 members: their 贵溪 branch and stations are unreachable, a 南京 hospital is reachable
    for mid in planted["remote_cluster"]["member_ids"]:
        row = m.loc[mid]
        assert np.isnan(row["walk_min_branch"]) and row["branch_status"] == "unreachable"
        assert np.isnan(row["walk_min_station"])
        assert pd.isna(row["nearest_station_id"]) or row["nearest_station_id"] == ""
        assert row["nearest_hospital_id"].startswith("H1") and 0 < row["drive_min_hospital"] < 15
    # 深圳 members are outside every extract: flagged, no numbers
    for mid in planted["off_network"]["member_ids"]:
        row = m.loc[mid]
        assert row["network_status"] == "off_network"
        assert np.isnan(row["walk_min_branch"]) and np.isnan(row["drive_min_hospital"])
    # the uncovered neighbourhood east of 花园社区 is far from every station
    unc = m.loc[planted["uncovered"]["member_ids"], "walk_min_station"]
    assert (unc > 15).mean() > 0.9
    gx = m[m["network_status"] == "ok"]
    assert (gx["walk_min_station"].dropna() >= 0).all()
    # hospital coordinates were 高德: after conversion the 贵溪 hospitals sit at their true points
    h = result.hospitals.set_index("id")
    for hid, t in planted["hospitals_true"].items():
        assert _metres(h.loc[hid, "lon"], h.loc[hid, "lat"], t["lon"], t["lat"]) < 0.5


def test_station_times_agree_with_networkx(demo_run):
    import networkx as nx

    from ..support.nxref import split_graph

    result, m, _, _ = demo_run
    net = result.walk
    sample = m[m["network_status"] == "ok"].iloc[::9]
    ms = net.snap(sample["lon"].to_numpy(), sample["lat"].to_numpy())
    fs = net.snap(result.stations["lon"].to_numpy(), result.stations["lat"].to_numpy())
    G = split_graph(net, {"m": ms, "f": fs}).reverse()
    d = nx.multi_source_dijkstra_path_length(G, [("f", j) for j in range(len(fs.edge))], weight="weight")
    ref = np.array([d.get(("m", i), np.inf) / 60 for i in range(len(sample))])
    got = sample["walk_min_station"].to_numpy()
    ok = np.isfinite(ref)
    np.testing.assert_allclose(got[ok], ref[ok], atol=0.006)  # members.csv rounds to 0.01 min
    assert np.isnan(got[~ok]).all()


def test_demo_generator_is_reproducible(tmp_path, cache_dir):
    from geo_planner.demo import generate_demo

    generate_demo(tmp_path, OSM, cache_dir=cache_dir)
    for name in ("members.csv", "branches.csv", "hospitals.csv", "planted.json", "scenario.toml"):
        assert (tmp_path / name).read_bytes() == (DEMO / name).read_bytes(), name
    a = pd.read_excel(tmp_path / "stations.xlsx", dtype=str)
    b = pd.read_excel(DEMO / "stations.xlsx", dtype=str)
    pd.testing.assert_frame_equal(a, b)


def test_cli_run_and_errors(tmp_path, cache_dir):
    """The command's progress, summary and errors; on a light scenario (tests/support/light.py: the small
    roster, no sensitivity draws, no PDF) since the demo's figures are checked on :func:`demo_run`."""
    from ..support.light import light_scenario, small_roster

    env = dict(os.environ, GEO_PLANNER_CACHE_DIR=str(cache_dir))
    exe = [sys.executable, "-m", "geo_planner.cli"]
    scenario = light_scenario(tmp_path, members=small_roster(tmp_path))
    ok = subprocess.run([*exe, "run", str(scenario), "--out", str(tmp_path / "o")],
                        capture_output=True, text=True, env=env, timeout=600)
    assert ok.returncode == 0, ok.stderr
    # stderr is a pipe, not a terminal: one progress line per stage, no bar redraws
    lines = [ln for ln in ok.stderr.splitlines() if ln.startswith("run: ")]
    stages = [ln.split()[1].rstrip(":") for ln in lines]  # "run: siting: mclp 62% …" is inside siting
    main = [s for i, s in enumerate(stages) if i == 0 or s != stages[i - 1]]
    assert main[0] == "load" and main[-1] == "done" and len(main) == len(set(main)) >= 8, ok.stderr
    assert len(lines) < 100, ok.stderr  # a line per stage and per model, never a line per redraw
    assert "\r" not in ok.stderr and "█" not in ok.stderr
    assert "50 accepted" in ok.stdout and (tmp_path / "o" / "members.csv").exists()  # every row of the roster
    bad = tmp_path / "bad.toml"
    bad.write_text('[network]\nosm = ["missing.osm"]\nwalk_speed_kmh = 40\n[inputs]\nmembers = "m.csv"\n',
                   encoding="utf-8")
    r = subprocess.run([*exe, "run", str(bad), "--out", str(tmp_path / "x")], capture_output=True, text=True,
                       env=env, timeout=120)
    assert r.returncode == 2
    assert "network.walk_speed_kmh" in r.stderr and "inputs.branches" in r.stderr


def test_run_writes_map_and_exports(demo_run):
    import geopandas as gpd
    from openpyxl import load_workbook

    result, m, out, _ = demo_run
    page = (out / "map.html").read_text(encoding="utf-8")
    assert "L.control.layers" in page and "Leaflet 1." in page  # Leaflet inlined: opens offline
    assert "桑榆红驿站" in page or "驿站" in page
    ws = load_workbook(out / "recommendations.xlsx").active
    headers = [c.value for c in ws[1]]
    assert "类型" in headers and "理由" in headers and ws.freeze_panes == "A2"
    kinds = {ws.cell(row=r, column=headers.index("类型") + 1).value for r in range(2, ws.max_row + 1)}
    assert {"新建驿站", "联合党支部", "异地支部"} <= kinds
    g = gpd.read_file(out / "recommendations.geojson")
    assert len(g) == len(result.recommendations) and g.crs.to_epsg() == 4326
    g2 = gpd.read_file(out / "recommendations.gpkg")
    assert len(g2) == len(g)
    doc = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert {"maps", "export", "siting"} <= set(doc["timings_s"])
    assert Path(doc["files"]["map"]).name == "map.html"
