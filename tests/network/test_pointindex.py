"""Point queries from the precomputed per-node lookups equal the full computation."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from geo_planner.coverage import point_coverage
from geo_planner.errors import InputError
from geo_planner.pointindex import build_point_index, load_point_index, save_point_index
from geo_planner.settings import Thresholds


def _table(net, n, rng, prefix, extract):
    w, s, e, nb = net.extracts[extract].bounds_lonlat
    return pd.DataFrame({"id": [f"{prefix}{i}" for i in range(n)], "name": [f"{prefix} {i}" for i in range(n)],
                         "lon": rng.uniform(w, e, n), "lat": rng.uniform(s, nb, n)})


@pytest.mark.parametrize("extract", [0, 1])
def test_index_answers_equal_point_coverage(walk_net, drive_net, extract, tmp_path):
    rng = np.random.default_rng(3 + extract)
    stations = _table(walk_net, 15, rng, "S", extract)
    branches = _table(walk_net, 25, rng, "B", extract)
    hospitals = _table(drive_net, 4, rng, "H", extract)
    # a facility exactly at a station's place (same edge as points near it) and one off-network
    branches.loc[0, ["lon", "lat"]] = stations.loc[0, ["lon", "lat"]].to_numpy()
    stations.loc[14, ["lon", "lat"]] = [100.0, 30.0]
    th = Thresholds(station_walk_min=15, branch_walk_min=20, hospital_drive_min=10)
    index = build_point_index(walk_net, drive_net, stations=stations, branches=branches, hospitals=hospitals,
                              thresholds=th, max_snap_m=500)
    path = save_point_index(index, tmp_path / "point_index.npz")
    loaded = load_point_index(path)
    assert loaded.matches(walk_net, drive_net)
    # the same number of nodes is not enough: slower roads (or other roads) are other networks
    slower = dataclasses.replace(walk_net, cost=walk_net.cost * 1.25)
    assert slower.n_nodes == walk_net.n_nodes and not loaded.matches(slower, drive_net)
    assert not loaded.matches(walk_net, None)
    w, s, e, nb = walk_net.extracts[extract].bounds_lonlat
    pts = np.c_[rng.uniform(w, e, 60), rng.uniform(s, nb, 60)]
    pts = np.r_[pts, stations.loc[[0, 1], ["lon", "lat"]].to_numpy() + 1e-5, [[100.0, 30.0]]]
    n_listed = 0
    for lon, lat in pts:
        ref = point_coverage(walk_net, drive_net, float(lon), float(lat), stations=stations, branches=branches,
                             hospitals=hospitals, thresholds=th, max_snap_m=500)
        got = loaded.query(walk_net, drive_net, float(lon), float(lat))
        assert got["on_network"] == ref["on_network"] and got["snap_m"] == ref["snap_m"]
        assert got["nearest_station_min"] == pytest.approx(ref["nearest_station_min"], abs=0.011) \
            if ref["nearest_station_min"] is not None else got["nearest_station_min"] is None
        for kind in ("stations", "branches", "hospitals"):
            a = {f["id"]: f["minutes"] for f in got[kind]}
            b = {f["id"]: f["minutes"] for f in ref[kind]}
            assert a.keys() == b.keys(), (kind, lon, lat)
            for k in a:
                assert a[k] == pytest.approx(b[k], abs=0.011)
            n_listed += len(a)
    assert n_listed > 50  # the thresholds are wide enough that facilities are really listed


def test_unreadable_index_is_a_clear_error(tmp_path):
    bad = tmp_path / "point_index.npz"
    bad.write_bytes(b"not an npz")
    with pytest.raises(InputError, match="point index"):
        load_point_index(bad)
