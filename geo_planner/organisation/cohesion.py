"""Cohesion: members of one unit living within a short walk of each other stay together.

:func:`cohesion_blocks` finds these neighbourhood *blocks*; the joint-branch model
(:func:`~geo_planner.organisation.joint.solve_joint_branches`, argument ``block``) puts a
block in one joint branch or in none.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from ..network import RoadNetwork, Snap
from .medoid import planar


def _member_to_member_s(
    walk: RoadNetwork, snap: Snap, a: np.ndarray, b: np.ndarray, limit_s: float, chunk: int = 256
) -> np.ndarray:
    """Return the walking seconds from member ``a[k]`` to member ``b[k]`` (``inf`` beyond ``limit_s``).

    Each leaves its edge through either end (access leg plus the part of the edge), one
    Dijkstra with ``limit=`` per chunk of distinct start nodes on the road graph, and arrives
    through either end of the other's edge; two members on one edge also walk along it.
    """
    e_a, e_b = snap.edge[a], snap.edge[b]
    ta, tb = np.nan_to_num(snap.frac[a]), np.nan_to_num(snap.frac[b])
    acc_a = np.nan_to_num(snap.access_m[a]) / walk.speed_mps
    acc_b = np.nan_to_num(snap.access_m[b]) / walk.speed_mps
    fwd, bwd = walk.edge_fwd_s, walk.edge_bwd_s
    leave = (acc_a + _part(ta, bwd[e_a]), acc_a + _part(1.0 - ta, fwd[e_a]))  # to u, to v
    arrive = (acc_b + _part(tb, fwd[e_b]), acc_b + _part(1.0 - tb, bwd[e_b]))  # from u, from v
    xs = (walk.edge_u[e_a], walk.edge_v[e_a])
    ys = (walk.edge_u[e_b], walk.edge_v[e_b])
    best = np.full(a.shape[0], np.inf)
    nodes = np.unique(np.concatenate(xs))
    for k0 in range(0, nodes.size, chunk):
        block = nodes[k0:k0 + chunk]
        dist = dijkstra(walk.cost, directed=True, indices=block, limit=limit_s)
        for k in (0, 1):
            sel = np.flatnonzero(np.isin(xs[k], block))
            rows = np.searchsorted(block, xs[k][sel])
            for m in (0, 1):
                t = leave[k][sel] + dist[rows, ys[m][sel]] + arrive[m][sel]
                best[sel] = np.minimum(best[sel], t)
    same = e_a == e_b
    if same.any():
        along = np.abs(ta[same] - tb[same]) * np.minimum(fwd[e_a[same]], bwd[e_a[same]])
        best[same] = np.minimum(best[same], acc_a[same] + along + acc_b[same])
    return best


def _part(frac: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """``frac × cost`` with ``0 × inf = 0`` (a point at an edge's end needs no travel on it)."""
    with np.errstate(invalid="ignore"):
        return np.where(frac > 0, frac * cost, 0.0)


def cohesion_blocks(
    walk: RoadNetwork, snap: Snap, unit: np.ndarray, lon: np.ndarray, lat: np.ndarray, *,
    cohesion_min: float, same_place_m: float = 0.0,
) -> np.ndarray:
    """Neighbourhoods of one unit: members who live within ``cohesion_min`` minutes' walk of each other.

    Two members of the same unit are neighbours when either walks to the other's home within
    ``cohesion_min`` (network time, access legs included), or when their homes are within
    ``same_place_m`` metres in a straight line (homes a few metres apart can snap to roads
    the network joins only by a long detour — an elevated road over a street, the two
    carriageways of a divided road: on the bundled extracts, members 11 m apart were 4.6
    minutes apart on the network); a block is a connected group of
    neighbours (single linkage). Pairs are first narrowed by straight-line distance (a walk
    is never shorter), per unit with a KD-tree; the walks of those pairs come from one
    cut-off Dijkstra per chunk of start nodes (:func:`_member_to_member_s`).

    Parameters
    ----------
    walk
        The walking network.
    snap
        The members, snapped.
    unit
        Integer unit code per member.
    lon, lat
        WGS-84 homes (NaN unknown).
    cohesion_min
        Walking minutes within which two members of one unit are neighbours (0: no blocks).
    same_place_m
        Straight-line metres within which two members of one unit are neighbours whatever
        the network says (0: the walk alone decides).

    Returns
    -------
    numpy.ndarray
        Block code per member (``-1``: no neighbour).
    """
    n = unit.shape[0]
    code = np.full(n, -1, dtype=np.int64)
    if cohesion_min <= 0 or n < 2:
        return code
    radius = max(cohesion_min * 60.0 * walk.speed_mps, same_place_m)
    x, y = planar(lon, lat)
    ok = np.isfinite(x) & np.isfinite(y) & snap.on_network
    order = np.argsort(unit, kind="stable")
    order = order[ok[order]]
    bounds = np.flatnonzero(np.r_[True, unit[order][1:] != unit[order][:-1], True])
    pair_a: list[np.ndarray] = []  # same-unit pairs within the radius in a straight line
    pair_b: list[np.ndarray] = []
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        if b - a < 2:
            continue
        g = order[a:b]
        pairs = cKDTree(np.c_[x[g], y[g]]).query_pairs(radius, output_type="ndarray")
        if pairs.size:
            pair_a.append(g[pairs[:, 0]])
            pair_b.append(g[pairs[:, 1]])
    if not pair_a:
        return code
    pa, pb = np.concatenate(pair_a), np.concatenate(pair_b)
    secs = np.minimum(_member_to_member_s(walk, snap, pa, pb, cohesion_min * 60.0),
                      _member_to_member_s(walk, snap, pb, pa, cohesion_min * 60.0))
    near = (secs <= cohesion_min * 60.0 + 1e-9) | (np.hypot(x[pa] - x[pb], y[pa] - y[pb]) <= same_place_m)
    r, c = pa[near], pb[near]
    if r.size == 0:
        return code
    g = sparse.csr_matrix((np.ones(r.size), (r, c)), shape=(n, n))
    _, label = csgraph.connected_components(g, directed=False)
    linked = np.zeros(n, dtype=bool)
    linked[r] = linked[c] = True
    code[linked] = label[linked]
    return code
