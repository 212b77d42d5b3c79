"""Road networks from the real extracts and travel times checked against networkx."""

from __future__ import annotations

import time

import networkx as nx
import numpy as np
import pytest

from geo_planner.errors import NetworkError
from geo_planner.network import build_network
from geo_planner.travel import cost_matrix, nearest_facility, node_minutes_from, time_to_assigned

from ..support.nxref import split_graph
from ..support.paths import GUIXI


def _random_points(net, n, rng, extract=0):
    w, s, e, nb = net.extracts[extract].bounds_lonlat
    return rng.uniform(w, e, n), rng.uniform(s, nb, n)


def test_walk_network_is_undirected_roads_only(walk_net):
    # both extracts, each its own island; every segment walkable both ways
    assert len(walk_net.extracts) == 2
    assert walk_net.n_nodes > 700 and walk_net.n_edges > 1000
    assert np.isfinite(walk_net.edge_fwd_s).all() and np.isfinite(walk_net.edge_bwd_s).all()
    # elderly pace 4 km/h: seconds = metres / (4000/3600)
    np.testing.assert_allclose(walk_net.edge_fwd_s, walk_net.edge_length_m / (4000 / 3600))


def test_drive_network_respects_oneway(drive_net, walk_net):
    assert np.isinf(drive_net.edge_bwd_s).sum() > 50  # one-way streets exist in the extracts
    assert drive_net.n_nodes < walk_net.n_nodes  # footways and steps are not for cars
    assert set(np.unique(drive_net.edge_name)) >= {"建设路", "雄石路"}


def test_parallel_edges_keep_cheapest(walk_net):
    # the CSR cost of u→v is the cheapest of its geometry edges
    u, v, fw = walk_net.edge_u, walk_net.edge_v, walk_net.edge_fwd_s
    cheapest = {}
    for a, b, c in zip(u, v, fw):
        cheapest[(a, b)] = min(cheapest.get((a, b), np.inf), c)
    for (a, b), c in list(cheapest.items())[:500]:
        assert walk_net.cost[a, b] == pytest.approx(c)


def test_cache_is_used(tmp_path):
    t0 = time.perf_counter()
    a = build_network([GUIXI], "walk", cache_dir=tmp_path)
    first = time.perf_counter() - t0
    assert len(list(tmp_path.glob("network-walk-*.pkl"))) == 1
    t0 = time.perf_counter()
    b = build_network([GUIXI], "walk", cache_dir=tmp_path)
    second = time.perf_counter() - t0
    assert b.n_edges == a.n_edges and second < first
    # a different walking speed is a different network
    c = build_network([GUIXI], "walk", cache_dir=tmp_path, walk_speed_kmh=3.0)
    assert c.edge_fwd_s.sum() > a.edge_fwd_s.sum()
    assert len(list(tmp_path.glob("network-walk-*.pkl"))) == 2


def test_pbf_extract_loads_like_xml(tmp_path):
    import osmium

    pbf = tmp_path / "guixi.osm.pbf"
    with osmium.SimpleWriter(str(pbf)) as w:
        for obj in osmium.FileProcessor(str(GUIXI)):
            w.add(obj)
    a = build_network([GUIXI], "walk")
    b = build_network([pbf], "walk", cache_dir=tmp_path)
    assert (a.n_nodes, a.n_edges) == (b.n_nodes, b.n_edges)
    np.testing.assert_allclose(np.sort(a.edge_length_m), np.sort(b.edge_length_m))


def test_missing_and_empty_extract(tmp_path):
    with pytest.raises(NetworkError, match="not found"):
        build_network([tmp_path / "nope.osm"], "walk")
    empty = tmp_path / "empty.osm"
    empty.write_text('<?xml version="1.0"?><osm version="0.6"><node id="1" lat="28.3" lon="117.2"/></osm>')
    with pytest.raises(NetworkError):
        build_network([empty], "walk")


def test_snap_to_edge_not_node(walk_net):
    # a point in the middle of a long edge snaps onto the edge, a few metres away
    e = int(np.argmax(walk_net.edge_length_m[: walk_net.extracts[0].edge_stop]))
    lon, lat = walk_net.edge_midpoints_lonlat()
    s = walk_net.snap(lon[[e]], lat[[e]])
    assert s.edge[0] == e and 0.3 < s.frac[0] < 0.7 and s.access_m[0] < 1.0
    # off-network and missing points are flagged, not placed
    s = walk_net.snap(np.array([100.0, np.nan]), np.array([30.0, 28.3]))
    assert not s.on_network.any() and (s.edge == -1).all() and np.isnan(s.access_m).all()


@pytest.mark.parametrize("mode", ["walk", "drive"])
def test_times_match_networkx(mode, walk_net, drive_net):
    net = walk_net if mode == "walk" else drive_net
    rng = np.random.default_rng(7)
    mlon, mlat = _random_points(net, 400, rng)
    flon, flat = _random_points(net, 9, rng)
    # some members in 南京 (another island): unreachable from 贵溪 facilities
    nlon, nlat = _random_points(net, 20, rng, extract=1)
    ms = net.snap(np.r_[mlon, nlon], np.r_[mlat, nlat], max_snap_m=3000)
    fs = net.snap(flon, flat, max_snap_m=3000)
    # one member exactly on a facility's edge to exercise the same-edge path
    G = split_graph(net, {"m": ms, "f": fs}).reverse()
    ref = nx.multi_source_dijkstra_path_length(G, [("f", j) for j in range(len(flon))], weight="weight")
    expected = np.array([ref.get(("m", i), np.inf) / 60 for i in range(len(ms.edge))])
    got = nearest_facility(net, ms, fs)
    reachable = np.isfinite(expected)
    assert reachable.sum() >= 360  # of 400 贵溪 members (one-way dead ends at the extract edge)
    np.testing.assert_allclose(got.minutes[reachable], expected[reachable], rtol=1e-9, atol=1e-6)
    assert np.isnan(got.minutes[~reachable]).all()
    assert (got.status[~reachable] == "unreachable").all()
    assert (got.facility[~reachable] == -1).all()
    # the reported facility is one whose time equals the nearest time
    for i in np.flatnonzero(reachable)[:60]:
        d = nx.single_source_dijkstra_path_length(G, ("f", int(got.facility[i])), weight="weight")
        assert d[("m", int(i))] / 60 == pytest.approx(got.minutes[i], abs=1e-6)
    # own target (e.g. branch meeting place): one given facility per member
    assign = rng.integers(-1, len(flon), len(ms.edge))
    mins, status = time_to_assigned(net, ms, fs, assign, chunk=4)
    for i in range(0, len(ms.edge), 7):
        if assign[i] < 0:
            assert np.isnan(mins[i]) and status[i] in ("no_target", "off_network")
            continue
        d = nx.single_source_dijkstra_path_length(G, ("f", int(assign[i])), weight="weight").get(("m", i))
        if d is None:
            assert np.isnan(mins[i])
        else:
            assert mins[i] == pytest.approx(d / 60, abs=1e-6)
    # sparse cut-off matrix used by siting
    cm = cost_matrix(net, ms, fs, 12.0, chunk=3)
    for j in range(len(flon)):
        d = nx.single_source_dijkstra_path_length(G, ("f", j), weight="weight")
        full = np.array([d.get(("m", i), np.inf) / 60 for i in range(len(ms.edge))])
        col = cm[:, j].toarray().ravel()
        np.testing.assert_array_equal(col > 0, full <= 12.0)
        np.testing.assert_allclose(col[full <= 12.0], full[full <= 12.0], atol=1e-6)


def test_same_edge_direct_travel(walk_net):
    # member and facility on the same long edge: time is the distance along the edge
    e = int(np.argmax(walk_net.edge_length_m[: walk_net.extracts[0].edge_stop]))
    geom = walk_net.edge_geom[e]
    import shapely
    from pyproj import Transformer

    tr = Transformer.from_crs(walk_net.extracts[0].crs, "EPSG:4326", always_xy=True)
    p1 = shapely.line_interpolate_point(geom, 0.40, normalized=True)
    p2 = shapely.line_interpolate_point(geom, 0.45, normalized=True)
    lo, la = tr.transform([p1.x, p2.x], [p1.y, p2.y])
    ms = walk_net.snap(np.array(lo[:1]), np.array(la[:1]))
    fs = walk_net.snap(np.array(lo[1:]), np.array(la[1:]))
    got = nearest_facility(walk_net, ms, fs)
    expected_min = 0.05 * walk_net.edge_length_m[e] / (4000 / 60)
    assert got.minutes[0] == pytest.approx(expected_min, rel=1e-3)


def test_isochrone_node_times_forward(drive_net):
    # forward times from a source equal reversed-graph times to it (checked on the nodes)
    rng = np.random.default_rng(3)
    lon, lat = _random_points(drive_net, 1, rng)
    src = drive_net.snap(lon, lat, max_snap_m=3000)
    fwd = node_minutes_from(drive_net, src)[0]
    G = split_graph(drive_net, {"s": src})
    d = nx.single_source_dijkstra_path_length(G, ("s", 0), weight="weight")
    nodes = [k for k in d if isinstance(k, (int, np.integer))][:300]
    np.testing.assert_allclose(fwd[nodes], [d[k] / 60 for k in nodes], atol=1e-6)


def test_facility_on_loop_edge(walk_net):
    # a station on a loop street (u == v) has two arcs to the same node; the cheaper counts
    loops = np.flatnonzero(walk_net.edge_u == walk_net.edge_v)
    assert loops.size, "the 贵溪 extract has loop streets"
    e = int(loops[np.argmax(walk_net.edge_length_m[loops])])
    import shapely
    from pyproj import Transformer

    ex = next(x for x in walk_net.extracts if x.edge_start <= e < x.edge_stop)
    tr = Transformer.from_crs(ex.crs, "EPSG:4326", always_xy=True)
    p = shapely.line_interpolate_point(walk_net.edge_geom[e], 0.7, normalized=True)
    flon, flat = tr.transform([p.x], [p.y])
    fs = walk_net.snap(np.array(flon), np.array(flat))
    assert fs.edge[0] == e
    rng = np.random.default_rng(11)
    w, s, east, n = ex.bounds_lonlat
    ms = walk_net.snap(rng.uniform(w, east, 300), rng.uniform(s, n, 300), max_snap_m=3000)
    G = split_graph(walk_net, {"m": ms, "f": fs}).reverse()
    d = nx.single_source_dijkstra_path_length(G, ("f", 0), weight="weight")
    expected = np.array([d.get(("m", i), np.inf) / 60 for i in range(300)])
    got = nearest_facility(walk_net, ms, fs).minutes
    ok = np.isfinite(expected)
    np.testing.assert_allclose(got[ok], expected[ok], atol=1e-6)


@pytest.mark.parametrize("extract", [0, 1])
def test_snap_is_exact_against_shapely(walk_net, extract):
    # grid and KD-tree candidate searches must give the true nearest-edge distance (shapely STRtree)
    import shapely
    from pyproj import Transformer

    ex = walk_net.extracts[extract]
    rng = np.random.default_rng(5)
    w, s, e, n = ex.bounds_lonlat
    lon, lat = rng.uniform(w - 0.01, e + 0.01, 20000), rng.uniform(s - 0.01, n + 0.01, 20000)
    snap = walk_net.snap(lon, lat, max_snap_m=800)
    x, y = Transformer.from_crs("EPSG:4326", ex.crs, always_xy=True).transform(lon, lat)
    geoms = walk_net.edge_geom[ex.edge_start : ex.edge_stop]
    (qi, ti), d = shapely.STRtree(geoms).query_nearest(shapely.points(x, y), return_distance=True, all_matches=False)
    ref = np.full(lon.shape[0], np.inf)
    ref[qi] = d
    on = ref <= 800
    # both search paths are exercised: points within one grid cell of a road and farther ones
    near = ref <= walk_net._index(extract).grid_cell
    assert near.sum() > 1000 and (on & ~near).sum() > 1000
    np.testing.assert_array_equal(snap.on_network, on)
    np.testing.assert_allclose(snap.access_m[on], ref[on], atol=1e-6)
    # and the fraction places the snapped point on the chosen edge at that distance
    pts = shapely.line_interpolate_point(walk_net.edge_geom[snap.edge[on]], snap.frac[on], normalized=True)
    np.testing.assert_allclose(shapely.distance(pts, shapely.points(x[on], y[on])), ref[on], atol=1e-3)


@pytest.mark.parametrize("extract", [0, 1])
def test_own_target_cut_off_never_a_wrong_number(walk_net, extract):
    # with limit_min the searches stop at the cut-off: every time reported equals the full
    # search's, every member beyond it is NaN with status beyond_limit, and members whose roads
    # do not connect to their target at all stay unreachable
    rng = np.random.default_rng(11 + extract)
    other = 1 - extract
    mlon, mlat = _random_points(walk_net, 3000, rng, extract=extract)
    olon, olat = _random_points(walk_net, 50, rng, extract=other)
    flon, flat = _random_points(walk_net, 12, rng, extract=extract)
    ms = walk_net.snap(np.r_[mlon, olon], np.r_[mlat, olat], max_snap_m=3000)
    fs = walk_net.snap(flon, flat, max_snap_m=3000)
    assign = rng.integers(0, 12, ms.edge.shape[0])
    full, full_status = time_to_assigned(walk_net, ms, fs, assign)
    limit = float(np.nanpercentile(full, 40))
    cut, status = time_to_assigned(walk_net, ms, fs, assign, limit_min=limit, chunk=5)
    within = np.isfinite(full) & (full <= limit)
    assert within.sum() > 500 and (np.isfinite(full) & (full > limit)).sum() > 500
    np.testing.assert_allclose(cut[within], full[within], rtol=0, atol=1e-9)
    beyond = np.isfinite(full) & (full > limit)
    assert np.isnan(cut[beyond]).all() and (status[beyond] == "beyond_limit").all()
    assert np.isnan(cut[~np.isfinite(full)]).all()
    island = np.arange(ms.edge.shape[0]) >= 3000
    assert ((status[island] == "unreachable") | (status[island] == "off_network")).all()
    assert (status[island] == full_status[island]).all()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_site_major_merge_equals_sorting_min(seed):
    # the cost matrix's merge of graph pairs and same-edge pairs equals the general min-of-duplicates build
    from geo_planner.network import csr_min
    from geo_planner.travel import _site_major_csr

    rng = np.random.default_rng(seed)
    n_m, n_s = 300, 40
    dense = rng.random((n_m, n_s)) < 0.2
    cols, rows = np.nonzero(dense.T)  # site-major, unique
    vals = rng.random(rows.size) * 10 + 1e-9
    k = 60
    pick = rng.integers(0, rows.size, k // 2)  # half overlap stored pairs, half are new
    xr = np.r_[rows[pick], rng.integers(0, n_m, k - k // 2)]
    xc = np.r_[cols[pick], rng.integers(0, n_s, k - k // 2)]
    xv = rng.random(k) * 10 + 1e-9
    xr, xc, xv = np.r_[xr, xr[:5]], np.r_[xc, xc[:5]], np.r_[xv, xv[:5] / 2]  # duplicates among the extras too
    want = csr_min(np.r_[rows, xr], np.r_[cols, xc], np.r_[vals, xv], (n_m, n_s))
    got = _site_major_csr(rows, cols, vals, xr, xc, xv, (n_m, n_s))
    assert got.has_sorted_indices
    np.testing.assert_array_equal(got.indptr, want.indptr)
    np.testing.assert_array_equal(got.indices, want.indices)
    np.testing.assert_array_equal(got.data, want.data)
    # input not in site-major order takes the general path, same answer
    perm = rng.permutation(rows.size)
    again = _site_major_csr(rows[perm], cols[perm], vals[perm], xr, xc, xv, (n_m, n_s))
    assert (again != want).nnz == 0


@pytest.mark.parametrize("extract", [0, 1])
def test_cost_matrix_same_whether_members_are_timed_all_or_near_reached_nodes(walk_net, extract, monkeypatch):
    # the two ways cost_matrix times members (every member per site; only those next to a node the
    # cut-off search reached) give the same matrix, on 贵溪 and on 南京
    from geo_planner import travel

    rng = np.random.default_rng(5 + extract)
    mlon, mlat = _random_points(walk_net, 600, rng, extract=extract)
    flon, flat = _random_points(walk_net, 40, rng, extract=extract)
    ms, fs = walk_net.snap(mlon, mlat, max_snap_m=3000), walk_net.snap(flon, flat, max_snap_m=3000)
    got = {}
    monkeypatch.setattr(travel, "_DENSE_MIN_MEMBERS", 0)
    for mode, share in (("all", -1.0), ("near", 2.0)):
        monkeypatch.setattr(travel, "_DENSE_REACH", share)
        got[mode] = cost_matrix(walk_net, ms, fs, 8.0, chunk=16)
    assert 0 < got["near"].nnz < 600 * 40 * 0.9
    assert (got["all"] != got["near"]).nnz == 0
    np.testing.assert_array_equal(got["all"].indptr, got["near"].indptr)
