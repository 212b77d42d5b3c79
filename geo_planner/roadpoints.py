"""Drawing synthetic home locations on the real road edges of a network (demo and test cities)."""

from __future__ import annotations

import numpy as np
import shapely
from pyproj import Transformer

from .network import RoadNetwork

__all__ = ["RoadPointSampler"]


class RoadPointSampler:
    """Draw points 5–25 m off the real road edges of one extract of a network.

    Parameters
    ----------
    net
        The road network.
    extract
        Index of the extract (``net.extracts``) to draw on.
    rng
        Random generator; every draw consumes it in a fixed order, so a seed gives the same points.
    """

    def __init__(self, net: RoadNetwork, extract: int, rng: np.random.Generator) -> None:
        ex = net.extracts[extract]
        self.rng = rng
        self.to_m = Transformer.from_crs("EPSG:4326", ex.crs, always_xy=True)
        self.to_ll = Transformer.from_crs(ex.crs, "EPSG:4326", always_xy=True)
        self.geoms = net.edge_geom[ex.edge_start: ex.edge_stop]
        mid = shapely.line_interpolate_point(self.geoms, 0.5, normalized=True)
        self.mx, self.my = shapely.get_x(mid), shapely.get_y(mid)
        length = shapely.length(self.geoms)
        self.p = length / length.sum()  # uniform along the roads

    def _points(self, pick: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = pick.size
        pts = shapely.line_interpolate_point(self.geoms[pick], self.rng.uniform(0.1, 0.9, n), normalized=True)
        ang = self.rng.uniform(0, 2 * np.pi, n)
        off = self.rng.uniform(5, 25, n)
        x = shapely.get_x(pts) + off * np.cos(ang)
        y = shapely.get_y(pts) + off * np.sin(ang)
        lo, la = self.to_ll.transform(x, y)
        return np.round(np.asarray(lo), 7), np.round(np.asarray(la), 7)

    def anywhere(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``n`` points anywhere on the extract's roads, uniform along their length (WGS-84 lon, lat)."""
        return self._points(self.rng.choice(self.geoms.size, size=n, p=self.p))

    def near(self, lon: float, lat: float, n: int, radius_m: float = 350.0) -> tuple[np.ndarray, np.ndarray]:
        """``n`` points on edges whose midpoint is within ``radius_m`` metres of (``lon``, ``lat``).

        Where fewer than 3 edges are that close, the 5 nearest edges are used.
        """
        cx, cy = self.to_m.transform(lon, lat)
        d = np.hypot(self.mx - cx, self.my - cy)
        pool = np.flatnonzero(d <= radius_m)
        if pool.size < 3:
            pool = np.argsort(d)[:5]
        return self._points(self.rng.choice(pool, size=n))
