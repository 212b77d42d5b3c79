"""Exact nearest-edge search for many points at once, in a network's metric coordinates.

:class:`SegmentIndex` is the snapping index of :meth:`geo_planner.network.RoadNetwork.snap`
(one per extract, built on first use, never pickled).
"""

from __future__ import annotations

import numpy as np
import shapely
from scipy.spatial import cKDTree

__all__ = ["SegmentIndex"]


class SegmentIndex:
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

    def __init__(
        self, geoms: np.ndarray, spacing: float = 10.0, k: int = 6, grid_cell_m: float = 30.0
    ) -> None:
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
            col = np.nan_to_num((x - ox) // cell, nan=-1.0)
            key = col * max(ny, 1) + np.nan_to_num((y - oy) // cell, nan=-1.0)
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
        bound = max_dist + self.spacing
        sd, si = self.tree.query(np.c_[x, y], k=k, distance_upper_bound=bound, workers=workers)
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
