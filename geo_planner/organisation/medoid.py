"""Meeting points of rule-made groups: the network medoid of their members, and planar metres."""

from __future__ import annotations

import math

import numpy as np
from scipy import sparse

from ..crs import local_xy
from ..network import RoadNetwork, Snap
from ..travel import cost_matrix

#: Members tried as a group's meeting point (the ones nearest to its centre).
MEDOID_CANDIDATES = 50
_MEDOID_CUTOFF_MIN = 10_000.0  # "no cutoff" for medoid walks (a finite number keeps matrices sparse)


def planar(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Local equirectangular metres (good enough to rank distances inside a town)."""
    lat0 = np.nanmean(lat) if np.isfinite(lat).any() else 0.0
    return local_xy(lon, lat, lat0)


def network_medoid(
    walk: RoadNetwork, snap: Snap, lon: np.ndarray, lat: np.ndarray
) -> tuple[float, float, np.ndarray, bool]:
    """Find the group member minimising the group's total walk to it (the network medoid).

    Candidates are the ``MEDOID_CANDIDATES`` on-network members nearest to the group's
    centroid; the winner reaches the most members, then has the least total walk.

    Returns
    -------
    lon, lat, minutes, on_network
        The meeting point, each member's walking minutes to it (NaN when unreachable) and
        whether a network medoid was found (else the centroid of located members).
    """
    n = lon.shape[0]
    located = np.isfinite(lon) & np.isfinite(lat)
    if not located.any():
        return math.nan, math.nan, np.full(n, np.nan), False
    cands = np.flatnonzero(snap.on_network)
    if cands.size == 0:
        return float(lon[located].mean()), float(lat[located].mean()), np.full(n, np.nan), False
    x, y = planar(lon, lat)
    cx, cy = x[located].mean(), y[located].mean()
    cands = cands[np.argsort(np.hypot(x[cands] - cx, y[cands] - cy), kind="stable")[:MEDOID_CANDIDATES]]
    cm = sparse.coo_matrix(cost_matrix(walk, snap, snap.subset(cands), _MEDOID_CUTOFF_MIN))
    t = np.full((n, cands.size), np.inf)
    t[cm.row, cm.col] = cm.data
    reach = np.isfinite(t).sum(axis=0)
    total = np.where(np.isfinite(t), t, 0.0).sum(axis=0)
    best = int(np.lexsort((total, -reach))[0])
    minutes = t[:, best].copy()
    minutes[~np.isfinite(minutes)] = np.nan
    k = cands[best]
    return float(lon[k]), float(lat[k]), minutes, True
