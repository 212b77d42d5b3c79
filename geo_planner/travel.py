"""Network travel times between snapped points, vectorised.

Every facility (station, hospital, branch meeting place) becomes a *virtual node* placed
on the edge it snapped to. On the **reversed** road graph, one multi-source Dijkstra pass
(``scipy.sparse.csgraph.dijkstra`` with ``min_only=True``) from all facilities of a type
gives, for every road node, the time to the nearest facility and which one it is. A
member on edge ``(u, v)`` at fraction ``t`` then needs::

    access + min(t·bwd + D[u],  (1−t)·fwd + D[v],  same-edge facility)

evaluated with numpy for all members at once. Access legs (point ↔ road) are walked at the
network's walking pace. No Python loop runs per member or per pair.

Times are returned in **minutes**; unreachable or off-network members get ``NaN`` and a
status, never a magic number.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.csgraph import connected_components, dijkstra

from .network import RoadNetwork, Snap, csr_min, min_per_key

log = logging.getLogger(__name__)

_EPS = 1e-6  # seconds; keeps zero-cost virtual arcs as real arcs in the sparse graph

#: Status values of a member's travel time.
STATUS_OK = "ok"
STATUS_OFF_NETWORK = "off_network"
STATUS_UNREACHABLE = "unreachable"
STATUS_NO_LOCATION = "no_location"
STATUS_NO_TARGET = "no_target"
#: With a cut-off: the time exceeds the limit (not measured further; reported as "> limit").
STATUS_BEYOND_LIMIT = "beyond_limit"
#: A member whose branch matched no branch of the branches table (kept, counted for stations and hospitals).
STATUS_UNKNOWN_BRANCH = "unknown_branch"


@dataclass(frozen=True)
class NearestResult:
    """Time to the nearest facility of one type.

    Attributes
    ----------
    minutes
        Travel time in minutes (NaN when not reachable).
    facility
        Index (into the facilities passed in) of the nearest facility, ``-1`` when none.
    status
        ``ok``, ``off_network``, ``unreachable`` or ``no_location`` per member.
    """

    minutes: np.ndarray
    facility: np.ndarray
    status: np.ndarray


def _part(frac: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """``frac × cost`` with ``0 × inf = 0`` (a point at an edge's end needs no travel on it)."""
    with np.errstate(invalid="ignore"):
        return np.where(frac > 0, frac * cost, 0.0)


def _augmented_reverse(net: RoadNetwork, fac: Snap) -> tuple[sparse.csr_matrix, np.ndarray]:
    """Reversed cost graph plus one virtual node per on-network facility.

    Returns the graph and the virtual node index of each facility (``-1`` if off-network).
    In the reversed graph a virtual node ``f`` on edge ``(u, v)`` at fraction ``t`` has arcs
    ``f→u`` costing ``t·fwd`` (in reality: u → f) and ``f→v`` costing ``(1−t)·bwd``, each plus
    the facility's walking access leg.
    """
    n = net.n_nodes
    ok = np.flatnonzero(fac.on_network)
    virt = np.full(fac.edge.shape[0], -1, dtype=np.int64)
    virt[ok] = n + np.arange(ok.shape[0])
    e = fac.edge[ok]
    t = fac.frac[ok]
    acc = fac.access_m[ok] / net.speed_mps
    w_u = acc + _part(t, net.edge_fwd_s[e]) + _EPS
    w_v = acc + _part(1.0 - t, net.edge_bwd_s[e]) + _EPS
    src = np.concatenate([np.arange(ok.shape[0]), np.arange(ok.shape[0])])
    dst = np.concatenate([net.edge_u[e], net.edge_v[e]])
    w = np.concatenate([w_u, w_v])
    keep = np.isfinite(w)
    base = net._memo.get("reverse_cost")
    if base is None:  # the reversed roads, every arc at least _EPS (built once per network)
        base = net.cost.T.tocsr()
        base.data = np.maximum(base.data, _EPS)
        base.sort_indices()
        net._memo["reverse_cost"] = base
    # a facility on a loop edge (u == v) has two arcs to the same node: keep the cheaper
    arcs = csr_min(src[keep], dst[keep], w[keep], (ok.shape[0], n))
    size = n + ok.shape[0]
    graph = sparse.csr_matrix(
        (np.concatenate([base.data, arcs.data]), np.concatenate([base.indices, arcs.indices]),
         np.concatenate([base.indptr, base.nnz + arcs.indptr[1:]])),
        shape=(size, size),
    )
    return graph, virt


def _combine(
    net: RoadNetwork, mem: Snap, d_u: np.ndarray, d_v: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Seconds from each member to a target given the target's times at the edge ends.

    Returns (seconds, side) where side is 0 when leaving through ``u`` and 1 through ``v``.
    """
    e = np.where(mem.on_network, mem.edge, 0)
    t = np.nan_to_num(mem.frac)
    via_u = _part(t, net.edge_bwd_s[e]) + d_u
    via_v = _part(1.0 - t, net.edge_fwd_s[e]) + d_v
    side = (via_v < via_u).astype(np.int8)
    best = np.minimum(via_u, via_v)
    best = best + np.nan_to_num(mem.access_m) / net.speed_mps
    best[~mem.on_network] = np.inf
    return best, side


def _same_edge_seconds(
    net: RoadNetwork, mem: Snap, fac: Snap, pairs_m: np.ndarray, pairs_f: np.ndarray
) -> np.ndarray:
    """Seconds for member/facility pairs that share an edge (direct travel along it)."""
    e = mem.edge[pairs_m]
    tm, tf = mem.frac[pairs_m], fac.frac[pairs_f]
    along = np.where(tf >= tm, _part(tf - tm, net.edge_fwd_s[e]), _part(tm - tf, net.edge_bwd_s[e]))
    return along + (mem.access_m[pairs_m] + fac.access_m[pairs_f]) / net.speed_mps


_STATUS_NAMES = np.array([STATUS_OK, STATUS_UNREACHABLE, STATUS_OFF_NETWORK, STATUS_NO_LOCATION], dtype=object)


def _status(mem: Snap, minutes: np.ndarray) -> np.ndarray:
    """Status per member (object array of strings), built from small integer codes."""
    code = np.where(~mem.located, 3, np.where(~mem.on_network, 2, np.where(np.isfinite(minutes), 0, 1)))
    return _STATUS_NAMES[code]


def nearest_facility(net: RoadNetwork, members: Snap, facilities: Snap) -> NearestResult:
    """Travel time from every member to its nearest facility, in one Dijkstra pass.

    Parameters
    ----------
    net
        The road network the snaps were made on.
    members, facilities
        Snapped points (``RoadNetwork.snap``).

    Returns
    -------
    NearestResult
        Aligned with ``members``.
    """
    n_m = members.edge.shape[0]
    if not facilities.on_network.any() or n_m == 0:
        minutes = np.full(n_m, np.nan)
        status = _status(members, minutes)
        status[members.on_network] = STATUS_NO_TARGET
        return NearestResult(minutes, np.full(n_m, -1, dtype=np.int64), status)
    graph, virt = _augmented_reverse(net, facilities)
    vidx = virt[virt >= 0]
    dist, _pred, sources = dijkstra(graph, directed=True, indices=vidx, min_only=True, return_predecessors=True)
    owner = np.full(graph.shape[0], -1, dtype=np.int64)
    # sources holds the virtual node each road node was reached from → facility index.
    fac_of_virtual = np.full(graph.shape[0], -1, dtype=np.int64)
    fac_of_virtual[vidx] = np.flatnonzero(virt >= 0)
    reached = sources >= 0
    owner[reached] = fac_of_virtual[sources[reached]]
    e = np.where(members.on_network, members.edge, 0)
    u, v = net.edge_u[e], net.edge_v[e]
    secs, side = _combine(net, members, dist[u], dist[v])
    fac = np.where(side == 0, owner[u], owner[v])
    # Members sharing an edge with a facility may reach it directly along the edge.
    pm, pf = _pairs_on_same_edge(members, facilities)
    if pm.size:
        direct = _same_edge_seconds(net, members, facilities, pm, pf)
        keep = min_per_key(pm, values=direct)  # each member's nearest facility on its edge
        pm, pf, direct = pm[keep], pf[keep], direct[keep]
        better = direct < secs[pm]
        secs[pm[better]] = direct[better]
        fac[pm[better]] = pf[better]
    minutes = secs / 60.0
    minutes[~np.isfinite(minutes)] = np.nan
    fac[np.isnan(minutes)] = -1
    return NearestResult(minutes, fac, _status(members, minutes))


def _pairs_on_same_edge(members: Snap, facilities: Snap) -> tuple[np.ndarray, np.ndarray]:
    """All (member, facility) index pairs snapped to the same edge."""
    fm = np.flatnonzero(facilities.on_network)
    if fm.size == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    fe = facilities.edge[fm]
    order = np.argsort(fe, kind="stable")
    fe_sorted, fm_sorted = fe[order], fm[order]
    # only members on an edge that holds a facility (a lookup table, not a search per member)
    n_edges = int(max(fe.max(), members.edge.max(initial=-1))) + 1
    holds = np.zeros(n_edges, dtype=bool)
    holds[fe] = True
    mm = np.flatnonzero(members.on_network)
    mm = mm[holds[members.edge[mm]]]
    me = members.edge[mm]
    lo = np.searchsorted(fe_sorted, me, side="left")
    hi = np.searchsorted(fe_sorted, me, side="right")
    counts = hi - lo
    has = counts > 0
    if not has.any():
        return np.empty(0, np.int64), np.empty(0, np.int64)
    rep_m = np.repeat(mm[has], counts[has])
    starts = np.repeat(lo[has], counts[has])
    within = np.arange(rep_m.shape[0]) - np.repeat(np.cumsum(counts[has]) - counts[has], counts[has])
    return rep_m, fm_sorted[starts + within]


def _chunks(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))


def time_to_assigned(
    net: RoadNetwork,
    members: Snap,
    targets: Snap,
    assignment: np.ndarray,
    *,
    limit_min: float | None = None,
    chunk: int = 256,
) -> tuple[np.ndarray, np.ndarray]:
    """Travel time from each member to one given target (e.g. its own branch's meeting place).

    One Dijkstra call per chunk of targets on the reversed graph (all targets of a chunk at
    once), never a call per member; members are grouped by target once, so each chunk reads
    a contiguous slice of them.

    Parameters
    ----------
    net
        The road network.
    members, targets
        Snapped points.
    assignment
        For each member, the index of its target in ``targets`` (``-1`` for none).
    limit_min
        Cut-off in minutes: the searches stop there, and members farther than this from their
        target get ``NaN`` with status ``beyond_limit`` (their time is known only to exceed the
        limit — never a wrong number). ``None`` measures every time (full searches).
    chunk
        Targets per Dijkstra call (bounds memory at ``chunk × nodes`` floats).

    Returns
    -------
    minutes, status
        Aligned with ``members``; NaN and a status where there is no time.
    """
    assignment = np.asarray(assignment, dtype=np.int64)
    n_m = members.edge.shape[0]
    secs = np.full(n_m, np.inf)
    limit_s = np.inf if limit_min is None else float(limit_min) * 60.0
    if targets.on_network.any():
        graph, virt = _augmented_reverse(net, targets)
        tgt_virtual = np.where(assignment >= 0, virt[np.clip(assignment, 0, None)], -1)
        todo = np.flatnonzero((tgt_virtual >= 0) & members.on_network)
        order = todo[np.argsort(tgt_virtual[todo], kind="stable")]  # members grouped by target
        tv = tgt_virtual[order]
        used, first = np.unique(tv, return_index=True)
        bounds = np.r_[first, order.shape[0]]
        for sl in _chunks(used.shape[0], chunk):
            block = used[sl]
            dist = dijkstra(graph, directed=True, indices=block, limit=limit_s)
            who = order[bounds[sl.start] : bounds[sl.stop]]
            rows = np.searchsorted(block, tgt_virtual[who])  # block is sorted (np.unique)
            e = members.edge[who]
            s, _ = _combine(net, members.subset(who), dist[rows, net.edge_u[e]], dist[rows, net.edge_v[e]])
            secs[who] = s
        # Same edge as the own target: direct travel along it.
        same = members.on_network & (assignment >= 0)
        same &= targets.on_network[np.clip(assignment, 0, None)]
        same &= members.edge == targets.edge[np.clip(assignment, 0, None)]
        pm = np.flatnonzero(same)
        if pm.size:
            direct = _same_edge_seconds(net, members, targets, pm, assignment[pm])
            secs[pm] = np.minimum(secs[pm], direct)
    beyond = np.isfinite(limit_s) & (secs > limit_s)
    secs[beyond] = np.inf
    minutes = secs / 60.0
    minutes[~np.isfinite(minutes)] = np.nan
    status = _status(members, minutes)
    status[(assignment < 0) & members.on_network] = STATUS_NO_TARGET
    if np.isfinite(limit_s) and targets.on_network.any():
        # Not reached within the cut-off: beyond the limit, unless the member's roads are not
        # connected to the target's at all (another weakly connected part: truly unreachable).
        cand = np.flatnonzero((status == STATUS_UNREACHABLE) & (assignment >= 0))
        cand = cand[targets.on_network[assignment[cand]]]
        if cand.size:
            _, comp = connected_components(net.cost, directed=True, connection="weak")
            same_part = comp[net.edge_u[members.edge[cand]]] == comp[net.edge_u[targets.edge[assignment[cand]]]]
            status[cand[same_part]] = STATUS_BEYOND_LIMIT
    return minutes, status


#: Share of the nodes a block of sites' cut-off searches reach above which :func:`cost_matrix`
#: times every member per site (contiguous arrays) instead of only those next to a reached node.
_DENSE_REACH = 0.25
#: ... and only with this many members (fewer: the vectorised path beats a loop over sites).
_DENSE_MIN_MEMBERS = 20_000


def cost_matrix(
    net: RoadNetwork,
    members: Snap,
    sites: Snap,
    cutoff_min: float,
    *,
    chunk: int = 128,
) -> sparse.csr_matrix:
    """Sparse member × site travel minutes, keeping only pairs within ``cutoff_min``.

    Used by siting: coverage sets are the stored entries. Entries are minutes plus a tiny
    epsilon so an exact zero remains a stored entry.

    Parameters
    ----------
    net
        The road network.
    members, sites
        Snapped points.
    cutoff_min
        Pairs slower than this are left out.
    chunk
        Sites per Dijkstra call.

    Returns
    -------
    scipy.sparse.csr_matrix
        Shape ``(n_members, n_sites)``.
    """
    n_m, n_s = members.edge.shape[0], sites.edge.shape[0]
    if n_m == 0 or n_s == 0 or not sites.on_network.any():
        return sparse.csr_matrix((n_m, n_s))
    graph, virt = _augmented_reverse(net, sites)
    limit = cutoff_min * 60.0
    on = np.flatnonzero(members.on_network)
    e = members.edge[on]
    u, v = net.edge_u[e], net.edge_v[e]
    sub = members.subset(on)
    site_idx = np.flatnonzero(virt >= 0)
    n = net.n_nodes
    # node → members on an edge ending there (for sites whose cut-off search reaches few nodes),
    # built on first use: the dense path (most members timed by every site) never needs it
    incidence: sparse.csr_matrix | None = None
    rows, cols, vals = [], [], []
    for sl in _chunks(site_idx.shape[0], chunk):
        block = site_idx[sl]
        dist = dijkstra(graph, directed=True, indices=virt[block], limit=limit)[:, :n]
        reached = np.isfinite(dist)
        if on.size >= _DENSE_MIN_MEMBERS and reached.mean() > _DENSE_REACH:  # time every member, site by site
            for k, s in enumerate(block):
                secs, _ = _combine(net, sub, dist[k, u], dist[k, v])
                keep = secs <= limit
                rows.append(on[keep])
                cols.append(np.full(int(keep.sum()), s, dtype=np.int64))
                vals.append(secs[keep] / 60.0)
            continue
        if incidence is None:
            ids = np.arange(on.size)
            incidence = sparse.csr_matrix((np.ones(2 * on.size, dtype=np.float32), (np.r_[u, v], np.r_[ids, ids])),
                                          shape=(n, on.size))
        near = sparse.csr_matrix(reached, dtype=np.float32) @ incidence  # only members next to a reached node
        near.sort_indices()
        k = np.repeat(np.arange(block.size), np.diff(near.indptr))
        j = near.indices
        secs, _ = _combine(net, sub.subset(j), dist[k, u[j]], dist[k, v[j]])
        keep = secs <= limit
        rows.append(on[j[keep]])
        cols.append(block[k[keep]])
        vals.append(secs[keep] / 60.0)
    pm, pf = _pairs_on_same_edge(members, sites)
    direct = _same_edge_seconds(net, members, sites, pm, pf) if pm.size else np.empty(0)
    keep = direct <= limit
    return _site_major_csr(
        np.concatenate(rows), np.concatenate(cols), np.concatenate(vals) + 1e-9,
        pm[keep], pf[keep], direct[keep] / 60.0 + 1e-9, (n_m, n_s),
    )


def _site_major_csr(
    rows: np.ndarray, cols: np.ndarray, vals: np.ndarray,
    extra_rows: np.ndarray, extra_cols: np.ndarray, extra_vals: np.ndarray, shape: tuple[int, int],
) -> sparse.csr_matrix:
    """CSR of unique pairs in site-major order merged with extra pairs, duplicates keeping the minimum.

    The graph pairs of :func:`cost_matrix` come sorted by (site, member) and unique, so the
    merge is a binary search of the few same-edge pairs and an O(nnz) CSC → CSR transpose,
    not a sort of every pair (:func:`~geo_planner.network.csr_min`, 20× slower at 10⁷ pairs).
    """
    n_m, n_s = shape
    key = cols.astype(np.int64) * n_m + rows
    if key.size > 1 and not bool(np.all(key[1:] > key[:-1])):  # not site-major: the general path
        return csr_min(np.concatenate([rows, extra_rows]), np.concatenate([cols, extra_cols]),
                       np.concatenate([vals, extra_vals]), shape)
    if extra_rows.size:
        kx = extra_cols.astype(np.int64) * n_m + extra_rows
        keep = min_per_key(kx, values=extra_vals)
        kx, vx = kx[keep], extra_vals[keep]
        pos = np.searchsorted(key, kx)
        hit = pos < key.size
        hit[hit] = key[pos[hit]] == kx[hit]
        vals = vals.copy()
        vals[pos[hit]] = np.minimum(vals[pos[hit]], vx[hit])
        key = np.insert(key, pos[~hit], kx[~hit])
        vals = np.insert(vals, pos[~hit], vx[~hit])
    site = key // n_m
    indptr = np.zeros(n_s + 1, dtype=np.int64)
    np.cumsum(np.bincount(site, minlength=n_s), out=indptr[1:])
    return sparse.csc_matrix((vals, key - site * n_m, indptr), shape=shape).tocsr()


def node_minutes_from(
    net: RoadNetwork, sources: Snap, *, limit_min: float | None = None, direction: Literal["from", "to"] = "from"
) -> np.ndarray:
    """Minutes between each source point and every road node.

    Used for isochrones (service areas). ``direction="from"`` gives travel from the source to
    each node, ``"to"`` travel from each node to the source (what a member's trip measures;
    they differ only on one-way streets). Returns an array ``(n_sources, n_nodes)``.
    """
    # _augmented_reverse measures travel *to* the sources; on the reversed network, *from* them
    base = net.reversed() if direction == "from" else net
    graph, virt = _augmented_reverse(base, sources)
    out = np.full((sources.edge.shape[0], net.n_nodes), np.inf)
    ok = np.flatnonzero(virt >= 0)
    if ok.size:
        limit = np.inf if limit_min is None else limit_min * 60.0
        dist = dijkstra(graph, directed=True, indices=virt[ok], limit=limit)
        out[ok] = dist[:, : net.n_nodes]
    return out / 60.0


def nearest_by_function(
    net: RoadNetwork,
    members: Snap,
    places: Snap,
    place_ids: np.ndarray,
    served: pd.DataFrame,
    *,
    every: NearestResult | None = None,
) -> dict[str, np.ndarray]:
    """Time to the nearest place of each 四就近 function: one multi-source Dijkstra per function.

    Parameters
    ----------
    net
        The walking network.
    members, places
        Snapped members and stations (all of them).
    place_ids
        The stations' ids, aligned with ``places``.
    served
        Boolean frame, one column per function, aligned with ``places``
        (:func:`geo_planner.functions.station_functions`).
    every
        The nearest station of any function when already measured: a function every station
        serves reuses it instead of searching again.

    Returns
    -------
    dict
        Column name → array aligned with ``members``: ``walk_min_<function>`` and
        ``nearest_<function>_id`` per function with at least one place (no columns for a
        function without any); NaN and ``""`` where there is no time.
    """
    out: dict[str, np.ndarray] = {}
    ids = np.asarray(place_ids, dtype=object)
    for function in served.columns:
        mask = served[function].to_numpy(bool)
        if not mask.any():
            continue
        idx = np.flatnonzero(mask)
        if every is not None and mask.all():  # every station serves it: the search already made
            res, fac = every, every.facility
        else:
            res = nearest_facility(net, members, places.subset(idx))
            fac = np.where(res.facility >= 0, idx[np.clip(res.facility, 0, None)], -1)
        out[f"walk_min_{function}"] = res.minutes
        out[f"nearest_{function}_id"] = np.where(fac >= 0, ids[np.clip(fac, 0, None)], "")
    return out


def member_travel_table(
    walk: RoadNetwork,
    drive: RoadNetwork | None,
    members: pd.DataFrame,
    branches: pd.DataFrame,
    stations: pd.DataFrame,
    hospitals: pd.DataFrame | None,
    *,
    max_snap_m: float,
    branch_limit_min: float | None = None,
    station_functions: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The per-member travel columns of ``members.csv``.

    Parameters
    ----------
    walk, drive
        Walking and driving networks (``drive`` may be None when there are no hospitals).
    members
        Needs ``lon``, ``lat`` (WGS-84, NaN when unknown) and ``branch_id``.
    branches, stations, hospitals
        Need ``id``, ``lon``, ``lat``.
    max_snap_m
        Points farther than this from a road are off-network.
    branch_limit_min
        Optional cut-off of the own-branch searches (see :func:`time_to_assigned`): members
        farther than this from their meeting place get ``branch_status == "beyond_limit"``
        and no time. ``None`` (default) measures every walk.
    station_functions
        Which 四就近 functions each station serves (boolean frame aligned with ``stations``,
        :func:`geo_planner.functions.station_functions`): adds ``walk_min_<function>`` and
        ``nearest_<function>_id`` per function with a place (:func:`nearest_by_function`).

    Returns
    -------
    pandas.DataFrame
        Aligned with ``members``: ``snap_m``, ``network_status``, ``walk_min_branch``,
        ``branch_status``, ``walk_min_station``, ``nearest_station_id``,
        ``drive_min_hospital``, ``nearest_hospital_id``, and the function columns.
    """
    lon = members["lon"].to_numpy(dtype="float64")
    lat = members["lat"].to_numpy(dtype="float64")
    m_walk = walk.snap(lon, lat, max_snap_m=max_snap_m)
    out = pd.DataFrame(index=members.index)
    out["snap_m"] = np.round(m_walk.access_m, 1)
    net_status = np.where(m_walk.on_network, STATUS_OK, STATUS_OFF_NETWORK).astype(object)
    net_status[~(np.isfinite(lon) & np.isfinite(lat))] = STATUS_NO_LOCATION
    out["network_status"] = net_status

    def snap_of(df: pd.DataFrame) -> Snap:
        return walk.snap(df["lon"].to_numpy(dtype="float64"), df["lat"].to_numpy(dtype="float64"),
                         max_snap_m=max_snap_m)

    b_snap = snap_of(branches)
    pos = pd.Index(branches["id"].astype(str)).get_indexer(members["branch_id"].astype(str))
    out["walk_min_branch"], out["branch_status"] = time_to_assigned(walk, m_walk, b_snap, pos,
                                                                    limit_min=branch_limit_min)
    out.loc[pos < 0, "branch_status"] = STATUS_UNKNOWN_BRANCH

    s_snap = snap_of(stations)
    res = nearest_facility(walk, m_walk, s_snap)
    ids = stations["id"].astype(str).to_numpy()
    out["walk_min_station"] = res.minutes
    out["nearest_station_id"] = np.where(res.facility >= 0, ids[np.clip(res.facility, 0, None)], "")
    out["station_status"] = res.status
    if station_functions is not None:
        by_function = nearest_by_function(walk, m_walk, s_snap, ids, station_functions.reset_index(drop=True),
                                          every=res)
        for col, values in by_function.items():
            out[col] = values

    if drive is not None and hospitals is not None and len(hospitals):
        m_drive = drive.snap(lon, lat, max_snap_m=max_snap_m)
        h_snap = drive.snap(hospitals["lon"].to_numpy(dtype="float64"),
                            hospitals["lat"].to_numpy(dtype="float64"), max_snap_m=max_snap_m)
        res = nearest_facility(drive, m_drive, h_snap)
        hids = hospitals["id"].astype(str).to_numpy()
        out["drive_min_hospital"] = res.minutes
        out["nearest_hospital_id"] = np.where(res.facility >= 0, hids[np.clip(res.facility, 0, None)], "")
        out["hospital_status"] = res.status
    else:
        out["drive_min_hospital"] = np.nan
        out["nearest_hospital_id"] = ""
        out["hospital_status"] = STATUS_NO_TARGET
    return out
