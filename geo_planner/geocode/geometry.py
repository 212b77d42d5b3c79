"""Lengths, centroids and nearest points of WGS-84 shapes (metres via :func:`geo_planner.crs.earth_xyz`)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from ..crs import earth_xyz


def _line_length_m(coords: NDArray[np.float64]) -> float:
    if len(coords) < 2:
        return 0.0
    xyz = earth_xyz(coords[:, 0], coords[:, 1])
    return float(np.linalg.norm(np.diff(xyz, axis=0), axis=1).sum())


def _polygon_centroid(coords: NDArray[np.float64]) -> tuple[float, float]:
    """Area centroid of a closed ring (lon/lat; planar, fine at building/district scale)."""
    x, y = coords[:, 0], coords[:, 1]
    x0, y0 = x.mean(), y.mean()  # shift for numerical stability
    xs, ys = x - x0, y - y0
    cross = xs[:-1] * ys[1:] - xs[1:] * ys[:-1]
    area = cross.sum() / 2.0
    if abs(area) < 1e-14:
        return float(x0), float(y0)
    cx = ((xs[:-1] + xs[1:]) * cross).sum() / (6.0 * area)
    cy = ((ys[:-1] + ys[1:]) * cross).sum() / (6.0 * area)
    return float(cx + x0), float(cy + y0)


def _nearest(
    seed_xyz: NDArray[np.float64], query_xyz: NDArray[np.float64], max_m: float
) -> tuple[NDArray[np.float64], NDArray[np.intp]]:
    """Nearest seed of each query point (distance inf / index -1 beyond ``max_m`` or for NaN)."""
    n = len(query_xyz)
    dist = np.full(n, np.inf)
    idx = np.full(n, -1, dtype=np.intp)
    if len(seed_xyz) == 0 or n == 0:
        return dist, idx
    finite = np.isfinite(query_xyz).all(axis=1)
    if finite.any():
        d, i = cKDTree(seed_xyz).query(query_xyz[finite], k=1, distance_upper_bound=max_m)
        ok = np.isfinite(d)
        sub_idx = np.where(ok, i, -1)
        dist[finite] = d
        idx[finite] = sub_idx
    return dist, idx
