"""Drive times between every pair of stops (offices and homes), and the roads a leg follows.

The times are the hospital analysis's times (:mod:`geo_planner.travel`): every stop is a
virtual node on the edge it snapped to, reached from the road at the walking pace over its
access leg. One Dijkstra on the *reversed* augmented graph from a stop gives every road node's
time **to** that stop; the time from stop ``i`` is then ``access_i + min(t·bwd + D[u],
(1−t)·fwd + D[v])`` — numpy over all stops at once, a chunk of target stops per Dijkstra call,
never a call per pair. Stops on one edge may also drive along it directly.
"""

from __future__ import annotations

import logging

import numpy as np
import shapely
from numpy.typing import NDArray
from scipy.sparse.csgraph import dijkstra

from ..network import RoadNetwork, Snap, min_per_key
from ..travel import _augmented_reverse, _pairs_on_same_edge, _part, _same_edge_seconds

log = logging.getLogger(__name__)

#: Target stops per Dijkstra call (memory: ``chunk × nodes`` floats).
CHUNK = 256


def drive_seconds(net: RoadNetwork, stops: Snap, *, chunk: int = CHUNK) -> NDArray[np.float64]:
    """Seconds from every stop to every other (``out[i, j]``: from ``i`` to ``j``).

    Parameters
    ----------
    net
        The drive network.
    stops
        The stops, snapped to ``net``.
    chunk
        Target stops per Dijkstra call.

    Returns
    -------
    numpy.ndarray
        ``(n, n)`` seconds; ``inf`` where there is no route or a stop is off the network; 0 on the diagonal.
    """
    n_s = stops.edge.shape[0]
    out = np.full((n_s, n_s), np.inf)
    on = np.flatnonzero(stops.on_network)
    if on.size:
        graph, virt = _augmented_reverse(net, stops)
        e = stops.edge[on]
        u, v = net.edge_u[e], net.edge_v[e]
        t = stops.frac[on]
        to_u = _part(t, net.edge_bwd_s[e])  # from the stop along its edge back to u
        to_v = _part(1.0 - t, net.edge_fwd_s[e])
        access = stops.access_m[on] / net.speed_mps
        for start in range(0, on.size, chunk):
            tgt = on[start:start + chunk]
            dist = dijkstra(graph, directed=True, indices=virt[tgt])
            secs = np.minimum(to_u[None, :] + dist[:, u], to_v[None, :] + dist[:, v]) + access[None, :]
            out[np.ix_(on, tgt)] = secs.T
        pm, pf = _pairs_on_same_edge(stops, stops)
        if pm.size:
            direct = _same_edge_seconds(net, stops, stops, pm, pf)
            out[pm, pf] = np.minimum(out[pm, pf], direct)
    np.fill_diagonal(out, 0.0)
    return out


def _edge_lookup(net: RoadNetwork) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.bool_]]:
    """Sorted keys ``a·n + b`` of every drivable node pair, with its cheapest edge and direction.

    Returns ``(keys, edge, backwards)``; built once per network.
    """
    memo = net._memo.get("visit_edge_lookup")
    if memo is not None:
        return memo  # type: ignore[no-any-return]
    n = net.n_nodes
    idx = np.arange(net.n_edges)
    fwd_ok, bwd_ok = np.isfinite(net.edge_fwd_s), np.isfinite(net.edge_bwd_s)
    a = np.r_[net.edge_u[fwd_ok], net.edge_v[bwd_ok]].astype(np.int64)
    b = np.r_[net.edge_v[fwd_ok], net.edge_u[bwd_ok]].astype(np.int64)
    edge = np.r_[idx[fwd_ok], idx[bwd_ok]]
    back = np.r_[np.zeros(int(fwd_ok.sum()), bool), np.ones(int(bwd_ok.sum()), bool)]
    cost = np.r_[net.edge_fwd_s[fwd_ok], net.edge_bwd_s[bwd_ok]]
    keep = min_per_key(a, b, values=cost)
    keys = a[keep] * n + b[keep]
    order = np.argsort(keys)
    memo = (keys[order], edge[keep][order], back[keep][order])
    net._memo["visit_edge_lookup"] = memo
    return memo


def _piece(net: RoadNetwork, edge: int, f0: float, f1: float) -> shapely.LineString:
    """The part of an edge from fraction ``f0`` to ``f1`` (reversed when ``f1 < f0``), in metres."""
    geom = net.edge_geom[edge]
    lo, hi = min(f0, f1), max(f0, f1)
    part = shapely.ops.substring(geom, lo, hi, normalized=True)
    if part.geom_type != "LineString":  # a point: the stop sits on the node
        part = shapely.LineString([part.coords[0], part.coords[0]])
    return shapely.reverse(part) if f1 < f0 else part


def leg_lines(net: RoadNetwork, stops: Snap, legs: list[tuple[int, int]]) -> list[NDArray[np.float64] | None]:
    """The roads each leg ``(i, j)`` follows, as WGS-84 ``(k, 2)`` lon/lat arrays.

    The leg's path is the same shortest path :func:`drive_seconds` timed (predecessors of the
    Dijkstra to ``j`` on the reversed graph lead from ``i``'s edge to ``j``); its shape follows
    the edges' geometry, parts of the first and last edge included. ``None`` for a leg with no route.
    """
    import shapely.ops  # noqa: F401 - substring

    out: list[NDArray[np.float64] | None] = [None] * len(legs)
    if not legs:
        return out
    graph, virt = _augmented_reverse(net, stops)
    keys, edge_of, back = _edge_lookup(net)
    n = net.n_nodes
    targets = sorted({j for _, j in legs if stops.on_network[j]})
    for start in range(0, len(targets), CHUNK):
        block = targets[start:start + CHUNK]
        dist, pred = dijkstra(graph, directed=True, indices=virt[block], return_predecessors=True)
        row = {j: k for k, j in enumerate(block)}
        for li, (i, j) in enumerate(legs):
            if j in row and stops.on_network[i]:
                out[li] = _leg_shape(net, stops, i, j, dist[row[j]], pred[row[j]], (keys, edge_of, back), n)
    return out


def _leg_shape(
    net: RoadNetwork, stops: Snap, i: int, j: int, dist: np.ndarray, pred: np.ndarray,
    lookup: tuple[np.ndarray, np.ndarray, np.ndarray], n: int,
) -> NDArray[np.float64] | None:
    """One leg's line in WGS-84 (see :func:`leg_lines`)."""
    keys, edge_of, back = lookup
    ei, ti = int(stops.edge[i]), float(stops.frac[i])
    ej, tj = int(stops.edge[j]), float(stops.frac[j])
    u, v = int(net.edge_u[ei]), int(net.edge_v[ei])
    via_u = float(_part(np.array([ti]), net.edge_bwd_s[[ei]])[0]) + dist[u]
    via_v = float(_part(np.array([1.0 - ti]), net.edge_fwd_s[[ei]])[0]) + dist[v]
    pieces: list[shapely.LineString] = []
    direct = np.inf
    if ei == ej:
        direct = float(_same_edge_seconds(net, stops, stops, np.array([i]), np.array([j]))[0])
    if direct <= min(via_u, via_v):
        pieces.append(_piece(net, ei, ti, tj))
    elif not np.isfinite(min(via_u, via_v)):
        return None
    else:
        node = u if via_u <= via_v else v
        pieces.append(_piece(net, ei, ti, 0.0 if node == u else 1.0))
        while True:
            nxt = int(pred[node])
            if nxt < 0:
                return None
            if nxt >= n:  # the target's virtual node: the last, partial edge
                pieces.append(_piece(net, ej, 0.0 if node == int(net.edge_u[ej]) else 1.0, tj))
                break
            k = int(np.searchsorted(keys, node * n + nxt))
            e, rev = int(edge_of[k]), bool(back[k])
            pieces.append(_piece(net, e, 1.0 if rev else 0.0, 0.0 if rev else 1.0))
            node = nxt
    coords = np.concatenate([np.asarray(p.coords) for p in pieces])
    return _to_lonlat(net, ei, coords)


def _to_lonlat(net: RoadNetwork, edge: int, xy: np.ndarray) -> NDArray[np.float64]:
    """Metric coordinates of the extract holding ``edge`` → WGS-84 lon/lat."""
    from pyproj import Transformer

    ex = next(x for x in net.extracts if x.edge_start <= edge < x.edge_stop)
    tr = Transformer.from_crs(ex.crs, "EPSG:4326", always_xy=True)
    lon, lat = tr.transform(xy[:, 0], xy[:, 1])
    return np.column_stack([lon, lat])
