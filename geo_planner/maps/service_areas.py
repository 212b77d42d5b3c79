"""Network service areas (isochrones) of facilities, drawn as polygons on the map.

Service areas are network isochrones, not circles: one Dijkstra pass
(:func:`geo_planner.travel.node_minutes_from`) gives every road node's minutes to each
facility; the roads reachable within the limit — whole edges, plus the part of an edge
reachable from an end that is within the limit, plus the facility's own edge — are cut out
with vectorised shapely operations in the extract's metric CRS, buffered by ~50 m and unioned
per facility (one ``union_all`` per facility, not per member), then reprojected to WGS-84.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray

from ..network import RoadNetwork, Snap
from ..travel import node_minutes_from

__all__ = ["service_areas"]

FloatArray = NDArray[np.float64]


def _substrings(geoms: NDArray[Any], f0: FloatArray, f1: FloatArray) -> NDArray[Any]:
    """Vectorised ``line_substring``: the part of each line between fractions ``f0 < f1``.

    The pieces are assembled from the interpolated end points plus the interior vertices
    (a single ``get_coordinates`` / ``linestrings`` round trip, no Python loop per line).
    """
    n = geoms.shape[0]
    if n == 0:
        return np.empty(0, dtype=object)
    length = shapely.length(geoms)
    d0, d1 = f0 * length, f1 * length
    coords, idx = shapely.get_coordinates(geoms, return_index=True)
    step = np.hypot(np.diff(coords[:, 0]), np.diff(coords[:, 1]))
    step[idx[1:] != idx[:-1]] = 0.0
    cum = np.concatenate([[0.0], np.cumsum(step)])
    first = np.searchsorted(idx, np.arange(n))
    cum = cum - cum[first][idx]
    inner = (cum > d0[idx]) & (cum < d1[idx])
    p0 = shapely.get_coordinates(shapely.line_interpolate_point(geoms, d0))
    p1 = shapely.get_coordinates(shapely.line_interpolate_point(geoms, d1))
    pieces = np.concatenate([np.arange(n), idx[inner], np.arange(n)])
    key = np.concatenate([np.full(n, -np.inf), cum[inner], np.full(n, np.inf)])
    xy = np.concatenate([p0, coords[inner], p1])
    order = np.lexsort((key, pieces))
    return shapely.linestrings(xy[order], indices=pieces[order])


def _reachable_pieces(
    g: RoadNetwork, snap: Snap, seconds: FloatArray, limit_s: float
) -> tuple[NDArray[np.int64], NDArray[np.int64], FloatArray, FloatArray]:
    """Reachable parts of edges as ``(source, edge, f0, f1)`` with fractions from ``u``.

    ``seconds`` is ``(n_sources, n_nodes)`` of travel in ``g`` from each source.  A node
    reached with ``r`` seconds to spare reaches ``r / cost`` of each edge leaving it; an edge
    whose two partial reaches meet is whole.  The source's own edge is reached from the
    source's position in both directions.
    """
    u, v = g.edge_u, g.edge_v
    fwd, bwd = g.edge_fwd_s, g.edge_bwd_s
    src_l, edge_l, f0_l, f1_l = [], [], [], []
    # blocks bound the (sources × edges) temporaries to ~4 M elements
    block = max(1, 4_000_000 // max(1, g.n_edges))
    with np.errstate(divide="ignore", invalid="ignore"):
        for start in range(0, seconds.shape[0], block):
            ru = limit_s - seconds[start : start + block, u]
            rv = limit_s - seconds[start : start + block, v]
            s_idx, e_idx = np.nonzero((ru >= 0) | (rv >= 0))
            ru, rv = ru[s_idx, e_idx], rv[s_idx, e_idx]
            a = np.where(ru >= 0, np.clip(np.where(fwd[e_idx] > 0, ru / fwd[e_idx], 1.0), 0.0, 1.0), -1.0)
            reach_v = np.clip(np.where(bwd[e_idx] > 0, rv / bwd[e_idx], 1.0), 0.0, 1.0)
            b = np.where(rv >= 0, 1.0 - reach_v, 2.0)
            whole = a >= b
            src_l.append(s_idx[whole] + start)
            edge_l.append(e_idx[whole])
            f0_l.append(np.zeros(int(whole.sum())))
            f1_l.append(np.ones(int(whole.sum())))
            head = ~whole & (a > 0)
            src_l.append(s_idx[head] + start)
            edge_l.append(e_idx[head])
            f0_l.append(np.zeros(int(head.sum())))
            f1_l.append(a[head])
            tail = ~whole & (b < 1)
            src_l.append(s_idx[tail] + start)
            edge_l.append(e_idx[tail])
            f0_l.append(b[tail])
            f1_l.append(np.ones(int(tail.sum())))
        # the source's own edge, walked from the source's position
        on = np.flatnonzero(snap.on_network)
        e = snap.edge[on]
        t = snap.frac[on]
        spare = limit_s - snap.access_m[on] / g.speed_mps
        ok = spare >= 0
        on, e, t, spare = on[ok], e[ok], t[ok], spare[ok]
        hi = np.minimum(1.0, t + np.where(fwd[e] > 0, spare / fwd[e], np.inf))
        lo = np.maximum(0.0, t - np.where(bwd[e] > 0, spare / bwd[e], np.inf))
        src_l.append(on)
        edge_l.append(e)
        f0_l.append(lo)
        f1_l.append(hi)
    return (
        np.concatenate(src_l).astype(np.int64),
        np.concatenate(edge_l).astype(np.int64),
        np.concatenate(f0_l),
        np.concatenate(f1_l),
    )


def service_areas(
    net: RoadNetwork,
    lon: ArrayLike,
    lat: ArrayLike,
    minutes: float,
    *,
    ids: Sequence[Any] | ArrayLike | None = None,
    buffer_m: float = 50.0,
    max_snap_m: float = 500.0,
    direction: Literal["to", "from"] = "to",
    simplify_m: float = 5.0,
) -> gpd.GeoDataFrame:
    """Network service areas (isochrones) of facilities: where the facility is within ``minutes``.

    Parameters
    ----------
    net
        Walking network (stations) or driving network (hospitals).
    lon, lat
        WGS-84 coordinates of the facilities, degrees.
    minutes
        Travel-time limit, minutes (e.g. ``Thresholds.station_walk_min``).
    ids
        Facility ids (default ``0 … n-1``), copied to the ``id`` column.
    buffer_m
        Half-width of the band drawn around reachable roads, metres (40–60 m reads as "the
        homes along these roads").
    max_snap_m
        Facilities farther than this from every road get an empty area (``on_network`` False).
    direction
        ``"to"`` (default): roads *from which* the facility is reached in time (what a
        member's trip to it measures; differs from ``"from"`` only on one-way streets).
        ``"from"``: roads reached *from* the facility.
    simplify_m
        Tolerance of the outline simplification, metres (keeps the HTML small).

    Returns
    -------
    geopandas.GeoDataFrame
        One row per facility in input order, EPSG:4326: ``id``, ``minutes``, ``mode``,
        ``on_network``, ``area_km2`` and the (Multi)Polygon ``geometry`` (empty when off-network).
    """
    lon_a = np.asarray(lon, dtype="float64").ravel()
    lat_a = np.asarray(lat, dtype="float64").ravel()
    if lon_a.shape != lat_a.shape:
        raise ValueError(f"lon and lat differ in length ({lon_a.size} vs {lat_a.size})")
    if not (minutes > 0 and math.isfinite(minutes)):
        raise ValueError(f"minutes must be a positive number, got {minutes!r}")
    n = lon_a.size
    id_values = list(range(n)) if ids is None else list(np.asarray(ids, dtype=object).ravel())
    if len(id_values) != n:
        raise ValueError(f"ids has {len(id_values)} values for {n} facilities")
    if direction not in ("to", "from"):
        raise ValueError(f"direction must be 'to' or 'from', got {direction!r}")
    snap = net.snap(lon_a, lat_a, max_snap_m=max_snap_m)
    g = net.reversed() if direction == "to" else net  # edge costs seen from the facility
    limit_s = minutes * 60.0
    polys = np.array([shapely.Polygon()] * n, dtype=object)
    area = np.zeros(n)
    if n and snap.on_network.any():
        # one Dijkstra call for all facilities (in blocks only when the matrix would be huge)
        per_call = max(1, 20_000_000 // max(1, net.n_nodes))
        blocks = [snap.subset(np.arange(s, min(n, s + per_call))) for s in range(0, n, per_call)]
        seconds = np.vstack(
            [node_minutes_from(net, b, limit_min=minutes, direction=direction) * 60.0 for b in blocks]
        )
        src, edge, f0, f1 = _reachable_pieces(g, snap, seconds, limit_s)
        keep = (f1 - f0) * net.edge_length_m[edge] > 0.01
        src, edge, f0, f1 = src[keep], edge[keep], f0[keep], f1[keep]
        whole = (f0 <= 0.0) & (f1 >= 1.0)
        lines = np.empty(src.size, dtype=object)
        lines[whole] = net.edge_geom[edge[whole]]
        lines[~whole] = _substrings(net.edge_geom[edge[~whole]], f0[~whole], f1[~whole])
        order = np.argsort(src, kind="stable")
        src, lines = src[order], lines[order]
        owners, first = np.unique(src, return_index=True)
        # buffering each piece (vectorised) and unioning per facility is ~15× faster than
        # buffering one MultiLineString per facility
        pieces = shapely.buffer(lines, buffer_m, quad_segs=4)
        bounds = np.r_[first, src.size]
        spans = zip(bounds[:-1], bounds[1:], strict=True)
        bands = np.array([shapely.union_all(pieces[a:b]) for a, b in spans], dtype=object)
        if simplify_m > 0:
            bands = shapely.simplify(bands, simplify_m, preserve_topology=True)
        area[owners] = shapely.area(bands) / 1e6
        polys[owners] = bands
        # back to WGS-84, per extract (each source's roads lie in its own extract's CRS)
        for ex in net.extracts:
            mine = owners[(snap.edge[owners] >= ex.edge_start) & (snap.edge[owners] < ex.edge_stop)]
            if mine.size:
                polys[mine] = gpd.GeoSeries(polys[mine], crs=ex.crs).to_crs("EPSG:4326").to_numpy()
    return gpd.GeoDataFrame(
        {
            "id": id_values,
            "minutes": float(minutes),
            "mode": net.mode,
            "on_network": snap.on_network,
            "area_km2": np.round(area, 4),
        },
        geometry=list(polys),
        crs="EPSG:4326",
    )
