"""Build walking and driving road networks from OpenStreetMap extracts on disk.

The network is loaded offline with osmnx (``graph_from_xml``; ``.pbf`` extracts are first
converted to XML with pyosmium), filtered to the ways a mode may use, reduced to its
largest connected component per extract, simplified, and turned into flat arrays:

* a directed sparse matrix of edge costs in **seconds** (parallel edges keep the cheapest),
* one *geometry edge* per road segment, with its shape in metres (a local UTM zone per
  extract), its length, and the cost of travelling it forwards and backwards (``inf``
  where a one-way street forbids it). Points are snapped onto these edges, not only onto
  the nearest node.

Walking ignores one-way restrictions and moves at an elderly pace (default 4 km/h);
driving respects them and uses osmnx's imputed speeds and travel times. Built networks
are cached on disk, keyed on the content hash of the extracts and the options that
change the result, so a second run skips the build.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import pickle
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import shapely
from scipy import sparse
from scipy.spatial import cKDTree

from .errors import InputError, NetworkError
from .osm import file_sha256, osm_xml

log = logging.getLogger(__name__)

Mode = Literal["walk", "drive"]

#: Bump when the cached structure changes, so stale caches are rebuilt.
CACHE_VERSION = 4

#: ``highway`` values a pedestrian cannot use (motorways, construction, proposals…).
WALK_EXCLUDED = frozenset(
    {"motorway", "motorway_link", "trunk_link", "construction", "proposed", "planned", "abandoned",
     "razed", "raceway", "bus_guideway", "platform", "no", "corridor", "elevator", "escalator"}
)
#: ``highway`` values a car cannot use (the osmnx ``drive`` filter).
DRIVE_EXCLUDED = frozenset(
    {"footway", "pedestrian", "steps", "path", "cycleway", "bridleway", "track", "corridor", "elevator",
     "escalator", "construction", "proposed", "planned", "abandoned", "razed", "raceway", "bus_guideway",
     "platform", "no", "busway", "via_ferrata"}
)
#: ``service`` values excluded from driving (parking aisles, driveways, private roads).
DRIVE_EXCLUDED_SERVICE = frozenset({"parking", "parking_aisle", "driveway", "private", "emergency_access"})
_NO = frozenset({"no", "private"})
_EXTRA_WAY_TAGS = ("foot", "motor_vehicle", "motorcar", "area", "service", "access")


@dataclass(frozen=True)
class Extract:
    """One OSM extract's part of a network: its projection and its edges' spatial index."""

    path: str
    crs: str  # a local UTM zone, e.g. "EPSG:32650"
    edge_start: int
    edge_stop: int
    bounds_lonlat: tuple[float, float, float, float]


@dataclass(frozen=True)
class Snap:
    """Where points meet the network.

    Attributes
    ----------
    edge
        Index of the geometry edge each point snapped to (``-1`` when off-network).
    frac
        Position along that edge from its ``u`` end, 0–1.
    access_m
        Straight-line distance from the point to the edge, metres (``nan`` when off-network).
    on_network
        False where the point is farther than ``max_snap_m`` from every road, or invalid.
    located
        False where the input point had no coordinates (NaN).
    """

    edge: np.ndarray
    frac: np.ndarray
    access_m: np.ndarray
    on_network: np.ndarray
    located: np.ndarray

    def subset(self, rows: np.ndarray) -> Snap:
        """The snaps of the given rows (index array or boolean mask)."""
        return Snap(self.edge[rows], self.frac[rows], self.access_m[rows], self.on_network[rows], self.located[rows])


class _SegmentIndex:
    """Exact nearest-edge search for many points at once.

    Edges are cut into straight segments. First a uniform grid (``grid_cell_m`` cells) lists,
    per cell, every segment within one cell size of it: a point whose nearest listed segment
    is within that distance has its exact answer from one gather and numpy arithmetic over a
    handful of candidates (homes are usually within a few tens of metres of a road).
    Farther points go to a KD-tree of points sampled every ``spacing`` metres along the
    segments: the ``k`` nearest samples name the candidate segments, and the answer is exact
    whenever the k-th sample is farther than the best candidate distance + spacing/2 (then no
    other segment can be closer); the points where that does not hold are searched again with
    more samples, and the very few still unproven fall back to shapely's STRtree.
    """

    def __init__(self, geoms: np.ndarray, spacing: float = 10.0, k: int = 6, grid_cell_m: float = 30.0) -> None:
        coords, idx = shapely.get_coordinates(geoms, return_index=True)
        same = idx[1:] == idx[:-1]
        self.x0, self.y0 = coords[:-1][same, 0], coords[:-1][same, 1]
        self.x1, self.y1 = coords[1:][same, 0], coords[1:][same, 1]
        self.edge = idx[:-1][same]
        seg_len = np.hypot(self.x1 - self.x0, self.y1 - self.y0)
        self.seg_len = seg_len
        # cumulative length along the edge at each segment's start
        cum = np.cumsum(seg_len)
        edge_first = np.r_[True, self.edge[1:] != self.edge[:-1]]
        start_of_edge = np.maximum.accumulate(np.where(edge_first, np.arange(seg_len.shape[0]), 0))
        self.cum_start = cum - seg_len - (cum[start_of_edge] - seg_len[start_of_edge])
        self.edge_len = np.bincount(self.edge, weights=seg_len, minlength=geoms.shape[0])
        n_samples = np.maximum(1, np.ceil(seg_len / spacing).astype(np.int64)) + 1
        seg_of = np.repeat(np.arange(seg_len.shape[0]), n_samples)
        offsets = np.arange(seg_of.shape[0]) - np.repeat(np.cumsum(n_samples) - n_samples, n_samples)
        t = offsets / (n_samples[seg_of] - 1)
        sx = self.x0[seg_of] + t * (self.x1[seg_of] - self.x0[seg_of])
        sy = self.y0[seg_of] + t * (self.y1[seg_of] - self.y0[seg_of])
        self._samples = np.c_[sx, sy]
        self._tree: cKDTree | None = None
        # segment data packed for one gather per query; a sentinel segment (index S) stands
        # for the neighbours the KD-tree does not find (masked to an infinite distance)
        n_seg = seg_len.shape[0]
        self._seg_of_sample = np.r_[seg_of, n_seg]
        dx, dy = self.x1 - self.x0, self.y1 - self.y0
        l2 = dx * dx + dy * dy
        inv = np.divide(1.0, l2, out=np.zeros_like(l2), where=l2 > 0)
        self._pack = np.r_[np.c_[self.x0, self.y0, dx, dy, inv], [[0.0, 0.0, 0.0, 0.0, 0.0]]]
        self.seg_len = np.r_[seg_len, 0.0]
        self.cum_start = np.r_[self.cum_start, 0.0]
        self.edge = np.r_[self.edge, -1]
        self.spacing = spacing
        self.k = min(k, seg_of.shape[0])
        self.geoms = geoms
        self._strtree: shapely.STRtree | None = None
        if n_seg:
            xs, ys = np.r_[self.x0, self.x1], np.r_[self.y0, self.y1]
            self._bounds = (float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max()))
        else:
            self._bounds = (np.inf, np.inf, -np.inf, -np.inf)
        self._build_grid(n_seg, grid_cell_m)

    @property
    def tree(self) -> cKDTree:
        """KD-tree of the edge samples, built on first use (only points far from roads need it)."""
        if self._tree is None:
            self._tree = cKDTree(self._samples)
        return self._tree

    def _build_grid(self, n_seg: int, cell: float) -> None:
        """Bucket the segments in a uniform grid: each cell lists every segment within ``cell`` of it.

        A point's own cell then names every segment closer than ``cell`` metres to it, so when
        the nearest of them is within ``cell`` the answer is exact without a tree search.
        """
        self.grid_cell = cell
        if n_seg == 0:
            self._g_origin = (0.0, 0.0)
            self._g_shape = (0, 0)
            self._g_indptr = np.zeros(1, dtype=np.int64)
            self._g_segs = np.zeros(0, dtype=np.int32)
            return
        x0, y0 = self._pack[:-1, 0], self._pack[:-1, 1]
        x1, y1 = x0 + self._pack[:-1, 2], y0 + self._pack[:-1, 3]
        minx, maxx = np.minimum(x0, x1) - cell, np.maximum(x0, x1) + cell
        miny, maxy = np.minimum(y0, y1) - cell, np.maximum(y0, y1) + cell
        ox, oy = float(minx.min()), float(miny.min())
        ix0 = ((minx - ox) // cell).astype(np.int64)
        ix1 = ((maxx - ox) // cell).astype(np.int64)
        iy0 = ((miny - oy) // cell).astype(np.int64)
        iy1 = ((maxy - oy) // cell).astype(np.int64)
        nx, ny = int(ix1.max()) + 1, int(iy1.max()) + 1
        wy = iy1 - iy0 + 1
        cnt = (ix1 - ix0 + 1) * wy
        seg = np.repeat(np.arange(n_seg, dtype=np.int32), cnt)
        k = np.arange(seg.shape[0], dtype=np.int64) - np.repeat(np.cumsum(cnt) - cnt, cnt)
        wys = wy[seg]
        cid = (ix0[seg] + k // wys) * ny + (iy0[seg] + k % wys)
        order = np.argsort(cid, kind="stable")
        self._g_origin = (ox, oy)
        self._g_shape = (nx, ny)
        self._g_indptr = np.zeros(nx * ny + 1, dtype=np.int64)
        np.cumsum(np.bincount(cid, minlength=nx * ny), out=self._g_indptr[1:])
        self._g_segs = seg[order]

    def _grid_nearest(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Nearest segment among the point's grid cell list: ``(segment, t, distance)`` per point.

        Exact where the distance is at most ``grid_cell``; ``inf`` where the cell lists nothing.
        """
        n = x.shape[0]
        seg_out = np.full(n, self._pack.shape[0] - 1, dtype=np.int64)  # the sentinel segment
        t_out = np.zeros(n)
        d_out = np.full(n, np.inf)
        nx, ny = self._g_shape
        if n == 0 or nx == 0:
            return seg_out, t_out, d_out
        ox, oy = self._g_origin
        cx = ((x - ox) // self.grid_cell).astype(np.int64)
        cy = ((y - oy) // self.grid_cell).astype(np.int64)
        inside = (cx >= 0) & (cx < nx) & (cy >= 0) & (cy < ny)
        cid = np.where(inside, cx * ny + cy, 0)
        start = self._g_indptr[cid]
        count = np.where(inside, self._g_indptr[cid + 1] - start, 0)
        total = int(count.sum())
        if total == 0:
            return seg_out, t_out, d_out
        first = np.cumsum(count) - count
        pt = np.repeat(np.arange(n), count)
        seg = self._g_segs[np.repeat(start - first, count) + np.arange(total)]
        pack = self._pack[seg]
        px = x[pt] - pack[:, 0]
        py = y[pt] - pack[:, 1]
        t = np.clip((px * pack[:, 2] + py * pack[:, 3]) * pack[:, 4], 0.0, 1.0)
        ex = px - t * pack[:, 2]
        ey = py - t * pack[:, 3]
        d2 = ex * ex + ey * ey
        has = count > 0
        best = np.full(n, np.inf)
        best[has] = np.minimum.reduceat(d2, first[has])
        pos = np.flatnonzero(d2 == best[pt])
        who = pt[pos]
        keep = np.r_[True, who[1:] != who[:-1]]  # the first (lowest-listed) of tied segments
        pos, who = pos[keep], who[keep]
        seg_out[who] = seg[pos]
        t_out[who] = t[pos]
        d_out[who] = np.sqrt(best[who])
        return seg_out, t_out, d_out

    def nearest(
        self, x: np.ndarray, y: np.ndarray, max_dist: float, *, chunk: int = 65536
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Nearest edge, fraction along it and distance (inf beyond ``max_dist``) per point.

        Points are processed in chunks so the candidate arrays stay small. Points within one
        grid cell of a road are answered from the grid; the others by the KD-tree, where points
        whose answer is not proven exact with ``k`` samples are searched again with ``4k``
        samples, and only those still unproven go to shapely's STRtree.
        """
        if x.shape[0] > chunk:
            # points in grid-cell order: neighbours read the same segments (memory locality)
            nx, ny = self._g_shape
            ox, oy = self._g_origin
            cell = self.grid_cell
            key = np.nan_to_num((x - ox) // cell, nan=-1.0) * max(ny, 1) + np.nan_to_num((y - oy) // cell, nan=-1.0)
            order = np.argsort(key, kind="stable")
            xs, ys = x[order], y[order]
            parts = [self.nearest(xs[i : i + chunk], ys[i : i + chunk], max_dist, chunk=chunk)
                     for i in range(0, x.shape[0], chunk)]
            out = []
            for p in zip(*parts, strict=True):
                sorted_vals = np.concatenate(p)
                arr = np.empty_like(sorted_vals)
                arr[order] = sorted_vals
                out.append(arr)
            return tuple(out)  # type: ignore[return-value]
        # 0) points farther than max_dist from the box around every segment: off this extract
        near_box = ((x >= self._bounds[0] - max_dist) & (x <= self._bounds[2] + max_dist)
                    & (y >= self._bounds[1] - max_dist) & (y <= self._bounds[3] + max_dist))
        if not near_box.all():
            out_e = np.full(x.shape[0], -1, dtype=np.int64)
            out_f = np.full(x.shape[0], np.nan)
            out_d = np.full(x.shape[0], np.inf)
            rows = np.flatnonzero(near_box)
            if rows.size:
                out_e[rows], out_f[rows], out_d[rows] = self.nearest(x[rows], y[rows], max_dist, chunk=chunk)
            return out_e, out_f, out_d
        # 1) grid: exact for every point within grid_cell metres of a road (most homes)
        seg, t, d = self._grid_nearest(x, y)
        found = d <= self.grid_cell
        edge = np.full(x.shape[0], -1, dtype=np.int64)
        frac = np.full(x.shape[0], np.nan)
        dist = np.full(x.shape[0], np.inf)
        if found.any():
            s, ts = seg[found], t[found]
            e = self.edge[s]
            along = self.cum_start[s] + ts * self.seg_len[s]
            el = self.edge_len[e]
            edge[found] = e
            frac[found] = np.divide(along, el, out=np.zeros_like(along), where=el > 0)
            dist[found] = d[found]
        rest = np.flatnonzero(~found)
        if 0 < rest.size <= 32:  # 2a) a few farther points (a point query): shapely's STRtree directly
            self._fallback(rest, x, y, max_dist, edge, frac, dist)
        elif rest.size:  # 2b) many: k nearest samples of the KD-tree, proven or searched again
            edge[rest], frac[rest], dist[rest] = self._tree_nearest(x[rest], y[rest], max_dist)
        dist[dist > max_dist] = np.inf
        return edge, frac, dist

    def _tree_nearest(
        self, x: np.ndarray, y: np.ndarray, max_dist: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Nearest edge through the KD-tree of edge samples (any distance up to ``max_dist``)."""
        edge, frac, dist, unsure = self._candidates(x, y, max_dist, self.k)
        if unsure.size:
            e2, f2, d2, still = self._candidates(x[unsure], y[unsure], max_dist, min(4 * self.k, self.tree.n))
            edge[unsure], frac[unsure], dist[unsure] = e2, f2, d2
            if still.size:
                self._fallback(unsure[still], x, y, max_dist, edge, frac, dist)
        return edge, frac, dist

    def _candidates(
        self, x: np.ndarray, y: np.ndarray, max_dist: float, k: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Best of the segments of the ``k`` nearest samples, and the rows not proven exact."""
        n = x.shape[0]
        edge = np.full(n, -1, dtype=np.int64)
        frac = np.full(n, np.nan)
        dist = np.full(n, np.inf)
        if n == 0:
            return edge, frac, dist, np.empty(0, dtype=np.int64)
        workers = -1 if n > 20000 else 1  # threads only pay off on large batches (not one point)
        sd, si = self.tree.query(np.c_[x, y], k=k, distance_upper_bound=max_dist + self.spacing, workers=workers)
        sd, si = sd.reshape(n, -1), si.reshape(n, -1)
        # missing neighbours come back as index tree.n: the sentinel segment, masked below
        seg = self._seg_of_sample[si]
        pack = self._pack[seg]  # (n, k, 5): x0, y0, dx, dy, 1/len²
        px = x[:, None] - pack[..., 0]
        py = y[:, None] - pack[..., 1]
        t = np.clip((px * pack[..., 2] + py * pack[..., 3]) * pack[..., 4], 0.0, 1.0)
        ex = px - t * pack[..., 2]
        ey = py - t * pack[..., 3]
        d2 = np.where(si < self.tree.n, ex * ex + ey * ey, np.inf)
        j = np.argmin(d2, axis=1)
        r = np.arange(n)
        best_d = np.sqrt(d2[r, j])
        near = np.isfinite(best_d)
        best_seg = seg[r, j][near]
        best_t = t[r, j][near]
        edge[near] = self.edge[best_seg]
        along = self.cum_start[best_seg] + best_t * self.seg_len[best_seg]
        el = self.edge_len[edge[near]]
        frac[near] = np.divide(along, el, out=np.zeros_like(along), where=el > 0)
        dist[near] = best_d[near]
        # exact when the k-th sample lies beyond best + spacing/2: no other segment can be closer
        unsure = np.flatnonzero(near & (sd[:, -1] <= best_d + self.spacing / 2) & (best_d <= max_dist))
        return edge, frac, dist, unsure

    def _fallback(self, rows: np.ndarray, x: np.ndarray, y: np.ndarray, max_dist: float,
                  edge: np.ndarray, frac: np.ndarray, dist: np.ndarray) -> None:
        if self._strtree is None:
            self._strtree = shapely.STRtree(self.geoms)
        pts = shapely.points(x[rows], y[rows])
        (qi, ti), d = self._strtree.query_nearest(pts, max_distance=max_dist, return_distance=True,
                                                  all_matches=False)
        r = rows[qi]
        better = d < dist[r]
        r, ti, d, p = r[better], ti[better], d[better], pts[qi[better]]
        edge[r] = ti
        dist[r] = d
        frac[r] = shapely.line_locate_point(self.geoms[ti], p, normalized=True)


@dataclass(frozen=True)
class RoadNetwork:
    """A mode-specific road network as flat arrays (see the module docstring).

    Attributes
    ----------
    mode
        ``"walk"`` or ``"drive"``.
    speed_mps
        Walking speed (metres per second), used for off-network access in both modes.
    node_osmid, node_lon, node_lat
        Nodes (OSM id and WGS-84 coordinates).
    cost
        Directed ``n × n`` CSR matrix of travel seconds.
    edge_u, edge_v
        Node indices of each geometry edge; its shape runs from ``u`` to ``v``.
    edge_length_m
        Edge lengths, metres.
    edge_fwd_s, edge_bwd_s
        Seconds to travel the whole edge ``u→v`` and ``v→u`` (``inf`` when forbidden).
    edge_geom
        Edge shapes in the local metric CRS of their extract.
    edge_name
        Street names (``""`` when unnamed).
    extracts
        The extracts the network was built from.
    """

    mode: Mode
    speed_mps: float
    node_osmid: np.ndarray
    node_lon: np.ndarray
    node_lat: np.ndarray
    cost: sparse.csr_matrix
    edge_u: np.ndarray
    edge_v: np.ndarray
    edge_length_m: np.ndarray
    edge_fwd_s: np.ndarray
    edge_bwd_s: np.ndarray
    edge_geom: np.ndarray
    edge_name: np.ndarray
    extracts: tuple[Extract, ...]
    _trees: dict[int, _SegmentIndex] = field(default_factory=dict, repr=False, compare=False)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_trees"] = {}  # spatial indexes are rebuilt on demand, never pickled
        return state

    def reversed(self) -> RoadNetwork:
        """The same roads with every arc turned round (travel *to* a point becomes travel *from* it).

        The geometry is shared, and so is the snapping index.
        """
        return dataclasses.replace(
            self, cost=self.cost.T.tocsr(), edge_fwd_s=self.edge_bwd_s, edge_bwd_s=self.edge_fwd_s,
            _trees=self._trees,
        )

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return int(self.node_osmid.shape[0])

    @property
    def n_edges(self) -> int:
        """Number of geometry edges (road segments)."""
        return int(self.edge_u.shape[0])

    def _index(self, i: int) -> _SegmentIndex:
        index = self._trees.get(i)
        if index is None:
            ex = self.extracts[i]
            index = _SegmentIndex(self.edge_geom[ex.edge_start : ex.edge_stop])
            self._trees[i] = index
        return index

    def snap(self, lon: np.ndarray, lat: np.ndarray, *, max_snap_m: float = 500.0) -> Snap:
        """Snap WGS-84 points onto their nearest road edge (vectorised).

        Parameters
        ----------
        lon, lat
            WGS-84 coordinates (degrees); NaN marks a point without a location.
        max_snap_m
            Points farther than this from every edge are off-network.

        Returns
        -------
        Snap
            Aligned with the input arrays.
        """
        lon = np.asarray(lon, dtype="float64")
        lat = np.asarray(lat, dtype="float64")
        n = lon.shape[0]
        best_edge = np.full(n, -1, dtype=np.int64)
        best_dist = np.full(n, np.inf)
        best_frac = np.full(n, np.nan)
        located = np.isfinite(lon) & np.isfinite(lat)
        valid = np.flatnonzero(located)
        for i, ex in enumerate(self.extracts):
            if valid.size == 0:
                break
            x, y = _to_metric(ex.crs).transform(lon[valid], lat[valid])
            edge, frac, dist = self._index(i).nearest(np.asarray(x), np.asarray(y), max_snap_m)
            better = dist < best_dist[valid]
            rows = valid[better]
            best_edge[rows] = edge[better] + ex.edge_start
            best_dist[rows] = dist[better]
            best_frac[rows] = frac[better]
        on = np.isfinite(best_dist) & (best_dist <= max_snap_m)
        best_edge[~on] = -1
        best_dist[~on] = np.nan
        best_frac[~on] = np.nan
        return Snap(edge=best_edge, frac=np.clip(best_frac, 0.0, 1.0), access_m=best_dist, on_network=on,
                    located=located)

    def edge_midpoints_lonlat(self) -> tuple[np.ndarray, np.ndarray]:
        """Return WGS-84 midpoints of every edge (used to seed candidate sites)."""
        from pyproj import Transformer

        lon = np.empty(self.n_edges)
        lat = np.empty(self.n_edges)
        for ex in self.extracts:
            sl = slice(ex.edge_start, ex.edge_stop)
            mid = shapely.line_interpolate_point(self.edge_geom[sl], 0.5, normalized=True)
            tr = Transformer.from_crs(ex.crs, "EPSG:4326", always_xy=True)
            lon[sl], lat[sl] = tr.transform(shapely.get_x(mid), shapely.get_y(mid))
        return lon, lat


_local = threading.local()


def _to_metric(crs: str):  # noqa: ANN202 - pyproj.Transformer
    """WGS-84 → ``crs`` transformer, made once per thread (pyproj transformers are not shared
    between threads; creating one costs more than snapping a single point)."""
    from pyproj import Transformer

    cache = getattr(_local, "transformers", None)
    if cache is None:
        cache = _local.transformers = {}
    tr = cache.get(crs)
    if tr is None:
        tr = cache[crs] = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    return tr


@contextmanager
def _osmnx_way_tags() -> Iterator[None]:
    """Temporarily ask osmnx to keep the way tags the mode filters need."""
    import osmnx as ox

    old = list(ox.settings.useful_tags_way)
    ox.settings.useful_tags_way = list(dict.fromkeys(old + list(_EXTRA_WAY_TAGS)))
    try:
        yield
    finally:
        ox.settings.useful_tags_way = old


def _pbf_to_xml(path: Path, workdir: Path) -> Path:
    """Convert an ``.osm.pbf`` extract to OSM XML (the shared reader of :mod:`geo_planner.osm`)."""
    try:
        return osm_xml(path, workdir)
    except InputError as exc:
        raise NetworkError(str(exc)) from None


def _first(value: object) -> str:
    if isinstance(value, list):
        return str(value[0]) if value else ""
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


def _osmid_key(value: object) -> str:
    if isinstance(value, list):
        return ",".join(sorted(str(x) for x in value))
    return str(value)


def _allowed(mode: Mode, d: dict) -> bool:
    hw = _first(d.get("highway"))
    if not hw:
        return False  # buildings, landuse and other non-road ways
    if _first(d.get("area")) == "yes":
        return False
    if mode == "walk":
        if hw in WALK_EXCLUDED or _first(d.get("foot")) in _NO:
            return False
        return _first(d.get("access")) != "no" or _first(d.get("foot")) in {"yes", "designated", "permissive"}
    if hw in DRIVE_EXCLUDED or _first(d.get("service")) in DRIVE_EXCLUDED_SERVICE:
        return False
    if _first(d.get("access")) in _NO or _first(d.get("motor_vehicle")) in _NO or _first(d.get("motorcar")) in _NO:
        return False
    return True


def _load_graph(xml: Path, mode: Mode, fallback_kmh: float):  # noqa: ANN202 - osmnx MultiDiGraph
    import networkx as nx
    import osmnx as ox

    with _osmnx_way_tags():
        try:
            G = ox.graph_from_xml(xml, bidirectional=(mode == "walk"), simplify=False, retain_all=True)
        except Exception as exc:
            raise NetworkError(f"{xml}: osmnx could not read the extract: {exc}") from exc
    drop = [(u, v, k) for u, v, k, d in G.edges(keys=True, data=True) if not _allowed(mode, d)]
    G.remove_edges_from(drop)
    G.remove_nodes_from([n for n in list(G.nodes) if G.degree(n) == 0])
    if len(G) == 0:
        raise NetworkError(f"{xml}: the extract has no roads usable for {mode}")
    comps = nx.weakly_connected_components(G)
    G = G.subgraph(max(comps, key=len)).copy()
    G = ox.simplify_graph(G)
    if mode == "drive":
        G = ox.add_edge_speeds(G, fallback=fallback_kmh)
        G = ox.add_edge_travel_times(G)
    return G


def _graph_arrays(G, mode: Mode, speed_mps: float, path: str):  # noqa: ANN001, ANN202
    """Turn one extract's osmnx graph into node and geometry-edge arrays."""
    import osmnx as ox

    nodes, edges = ox.convert.graph_to_gdfs(G, nodes=True, edges=True)
    crs = str(nodes.estimate_utm_crs())
    edges_m = edges.to_crs(crs)
    u = edges.index.get_level_values(0).to_numpy()
    v = edges.index.get_level_values(1).to_numpy()
    length = edges["length"].to_numpy(dtype="float64")
    if mode == "drive":
        secs = edges["travel_time"].to_numpy(dtype="float64")
    else:
        secs = length / speed_mps
    geoms = edges_m.geometry.to_numpy()
    names = np.array([_first(x) for x in edges.get("name", [""] * len(edges))], dtype=object)
    osmids = [_osmid_key(x) for x in edges.get("osmid", [0] * len(edges))]
    # One geometry edge per physical segment: a two-way street appears as u→v and v→u with
    # the same shape (reversed). Key segments by their unordered ends and rounded length.
    a, b = np.minimum(u, v), np.maximum(u, v)
    rlen = np.round(length)
    order = np.lexsort((secs, rlen, b, a))
    seen: dict[tuple[int, int, str, float], int] = {}
    geo_idx: list[int] = []
    fwd: list[float] = []
    bwd: list[float] = []
    for i in order:  # one pass over the extract's edges at build time (not a hot path)
        key = (int(a[i]), int(b[i]), osmids[i], float(rlen[i]))
        j = seen.get(key)
        if j is None:
            seen[key] = len(geo_idx)
            geo_idx.append(int(i))
            fwd.append(float(secs[i]))
            bwd.append(np.inf)
            continue
        first = geo_idx[j]
        if u[first] == u[i] and v[first] == v[i]:
            fwd[j] = min(fwd[j], float(secs[i]))
        else:
            bwd[j] = min(bwd[j], float(secs[i]))
    gi = np.asarray(geo_idx, dtype=np.int64)
    fwd_a, bwd_a = np.asarray(fwd), np.asarray(bwd)
    if mode == "walk":  # walking ignores one-way rules: every segment can be walked both ways
        bwd_a = np.where(np.isinf(bwd_a), fwd_a, bwd_a)
    return {
        "crs": crs,
        "node_osmid": nodes.index.to_numpy(dtype=np.int64),
        "node_lon": nodes["x"].to_numpy(dtype="float64"),
        "node_lat": nodes["y"].to_numpy(dtype="float64"),
        "dir_u": u,
        "dir_v": v,
        "dir_s": secs,
        "geo_u": u[gi],
        "geo_v": v[gi],
        "geo_len": length[gi],
        "geo_fwd": fwd_a,
        "geo_bwd": bwd_a,
        "geo_geom": geoms[gi],
        "geo_name": names[gi],
        "bounds": tuple(float(x) for x in nodes.total_bounds),
        "path": path,
    }


def _assemble(parts: list[dict], mode: Mode, speed_mps: float) -> RoadNetwork:
    node_osmid = np.concatenate([p["node_osmid"] for p in parts])
    if np.unique(node_osmid).shape[0] != node_osmid.shape[0]:
        # Overlapping extracts share OSM nodes: keep them apart per extract so each extract's
        # component stays internally consistent (OSM ids are only labels here).
        log.warning("extracts overlap; shared OSM nodes are kept once per extract")
    offsets = np.cumsum([0] + [p["node_osmid"].shape[0] for p in parts])
    idx_maps = []
    for p, off in zip(parts, offsets[:-1], strict=True):
        idx_maps.append({int(o): int(off + k) for k, o in enumerate(p["node_osmid"])})

    def remap(arr: np.ndarray, m: dict[int, int]) -> np.ndarray:
        return np.fromiter((m[int(x)] for x in arr), dtype=np.int64, count=arr.shape[0])

    rows, cols, data = [], [], []
    edge_arrays: dict[str, list[np.ndarray]] = {k: [] for k in ("u", "v", "len", "fwd", "bwd", "geom", "name")}
    extracts = []
    start = 0
    for p, m in zip(parts, idx_maps, strict=True):
        rows.append(remap(p["dir_u"], m))
        cols.append(remap(p["dir_v"], m))
        data.append(p["dir_s"])
        edge_arrays["u"].append(remap(p["geo_u"], m))
        edge_arrays["v"].append(remap(p["geo_v"], m))
        edge_arrays["len"].append(p["geo_len"])
        edge_arrays["fwd"].append(p["geo_fwd"])
        edge_arrays["bwd"].append(p["geo_bwd"])
        edge_arrays["geom"].append(p["geo_geom"])
        edge_arrays["name"].append(p["geo_name"])
        stop = start + p["geo_u"].shape[0]
        extracts.append(Extract(p["path"], p["crs"], start, stop, p["bounds"]))
        start = stop
    n = int(offsets[-1])
    cost = csr_min(np.concatenate(rows), np.concatenate(cols), np.concatenate(data), (n, n))
    cat = {k: np.concatenate(v) for k, v in edge_arrays.items()}
    return RoadNetwork(
        mode=mode,
        speed_mps=speed_mps,
        node_osmid=node_osmid,
        node_lon=np.concatenate([p["node_lon"] for p in parts]),
        node_lat=np.concatenate([p["node_lat"] for p in parts]),
        cost=cost,
        edge_u=cat["u"],
        edge_v=cat["v"],
        edge_length_m=cat["len"],
        edge_fwd_s=cat["fwd"],
        edge_bwd_s=cat["bwd"],
        edge_geom=cat["geom"],
        edge_name=cat["name"],
        extracts=tuple(extracts),
    )


def csr_min(rows: np.ndarray, cols: np.ndarray, data: np.ndarray, shape: tuple[int, int]) -> sparse.csr_matrix:
    """Build a CSR matrix where duplicate ``(row, col)`` entries keep their **minimum**.

    scipy sums duplicates; for a graph, parallel arcs must keep the cheapest instead.
    """
    order = np.lexsort((data, cols, rows))
    r, c, d = rows[order], cols[order], data[order]
    first = np.ones(r.shape[0], dtype=bool)
    first[1:] = (r[1:] != r[:-1]) | (c[1:] != c[:-1])
    return sparse.csr_matrix((d[first], (r[first], c[first])), shape=shape)


def cache_key(paths: Sequence[Path | str], mode: Mode, *, walk_speed_kmh: float, fallback_kmh: float) -> str:
    """Key a built network on the extracts' content and the options that change it."""
    h = hashlib.sha256(f"v{CACHE_VERSION}|{mode}|{walk_speed_kmh:.6f}|{fallback_kmh:.6f}".encode())
    for p in paths:
        h.update(file_sha256(p).encode())
    return h.hexdigest()[:32]


def build_network(
    paths: Sequence[Path | str],
    mode: Mode,
    *,
    walk_speed_kmh: float = 4.0,
    drive_fallback_speed_kmh: float = 30.0,
    cache_dir: Path | str | None = None,
) -> RoadNetwork:
    """Build (or load from cache) the road network of one or more OSM extracts.

    Parameters
    ----------
    paths
        OSM XML (``.osm``/``.xml``) or PBF (``.pbf``) extracts. Each extract keeps its own
        largest connected component, so extracts of different cities form separate islands
        (members of one city cannot reach facilities of another: their time is missing).
    mode
        ``"walk"`` (one-way ignored, ``walk_speed_kmh``) or ``"drive"`` (one-way respected,
        osmnx speeds and travel times).
    walk_speed_kmh
        Walking speed in km/h; also the pace of the off-network access leg when driving.
    drive_fallback_speed_kmh
        Speed for road types without any ``maxspeed`` tag in the extract.
    cache_dir
        Folder for the cache; ``None`` disables caching.

    Returns
    -------
    RoadNetwork

    Raises
    ------
    NetworkError
        If a file is missing, unreadable, or has no usable roads.
    """
    if mode not in ("walk", "drive"):
        raise NetworkError(f"unknown mode {mode!r}; use 'walk' or 'drive'")
    paths = [Path(p) for p in paths]
    if not paths:
        raise NetworkError("no OSM extract given")
    for p in paths:
        if not p.is_file():
            raise NetworkError(f"{p}: OSM extract not found")
    speed_mps = walk_speed_kmh * 1000.0 / 3600.0
    cache_file = None
    if cache_dir is not None:
        key = cache_key(paths, mode, walk_speed_kmh=walk_speed_kmh, fallback_kmh=drive_fallback_speed_kmh)
        cache_file = Path(cache_dir) / f"network-{mode}-{key}.pkl"
        if cache_file.exists():
            try:
                with open(cache_file, "rb") as fh:
                    net = pickle.load(fh)
                if isinstance(net, RoadNetwork):
                    log.info("network %s loaded from cache %s", mode, cache_file)
                    return net
            except Exception:  # a corrupt cache is rebuilt, not fatal
                log.warning("ignoring unreadable network cache %s", cache_file)
    parts = []
    for p in paths:
        xml = p
        if p.suffix.lower() == ".pbf":
            xml = _pbf_to_xml(p, Path(cache_dir) if cache_dir else Path(tempfile.gettempdir()))
        G = _load_graph(xml, mode, drive_fallback_speed_kmh)
        parts.append(_graph_arrays(G, mode, speed_mps, str(p)))
        log.info("%s: %s network with %d nodes, %d edges", p.name, mode, len(G), G.number_of_edges())
    net = _assemble(parts, mode, speed_mps)
    if cache_file is not None:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache_file.parent, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                pickle.dump(net, fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, cache_file)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return net
