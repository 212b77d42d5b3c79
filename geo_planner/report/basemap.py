"""The extract's own base map under the report's map picture (matplotlib, no tiles, no browser).

Built-up and green areas, water, railways and streets by class are drawn from the run's
``basemap.geojson`` (:mod:`geo_planner.basemap`); 街道/社区 names and the main street names are
written on top where they overlap no name already written (greedy, most important first, boxes
measured in the figure's pixels), streets turned along their direction.
"""

from __future__ import annotations

from typing import Any, Final

import geopandas as gpd
import numpy as np
import shapely

from ..basemap import BASE_COLORS, street_label_points

__all__ = ["draw_basemap"]

#: Line widths (points) of the road classes in the picture.
_ROAD_LW: Final[dict[str, float]] = {"major": 2.2, "secondary": 1.5, "minor": 0.8, "service": 0.4,
                                     "path": 0.3}


def _rings(geoms: np.ndarray) -> list[np.ndarray]:
    """Exterior rings of the polygons (holes are left out of a small picture)."""
    polys = shapely.get_parts(geoms)
    polys = polys[shapely.get_type_id(polys) == 3]
    return [np.asarray(shapely.get_coordinates(shapely.get_exterior_ring(p))) for p in polys]


def _lines(geoms: np.ndarray) -> list[np.ndarray]:
    parts = shapely.get_parts(geoms)
    parts = parts[shapely.get_type_id(parts) == 1]
    return [np.asarray(shapely.get_coordinates(p)) for p in parts]


def draw_basemap(ax: Any, base: gpd.GeoDataFrame, bounds: tuple[float, float, float, float], *,
                 labels: bool = True) -> int:
    """Draw the base map into ``ax`` within ``bounds`` (lon0, lon1, lat0, lat1); return the names written.

    The axes' limits and aspect must already be set (label boxes are measured in pixels).
    """
    from matplotlib.collections import LineCollection, PolyCollection

    x0, x1, y0, y1 = bounds
    feats = base.cx[x0:x1, y0:y1] if len(base) else base
    if feats.empty:
        return 0
    c = BASE_COLORS
    ax.set_facecolor(c["background"])
    for layer, z in (("landuse", 0.1), ("green", 0.2), ("water", 0.3), ("building", 0.4)):
        rings = _rings(feats.loc[feats["layer"] == layer].geometry.to_numpy())
        if rings:
            edge = "#c4b8ab" if layer == "building" else "none"
            ax.add_collection(PolyCollection(rings, facecolors=c[layer], edgecolors=edge, linewidths=0.2,
                                             zorder=z))
    for layer, color, lw, style, z in (("waterway", c["waterway"], 1.2, "solid", 0.5),
                                       ("railway", c["railway"], 0.9, (0, (4, 2)), 0.6),
                                       ("boundary", c["boundary"], 0.8, (0, (6, 2, 1, 2)), 0.9)):
        lines = _lines(feats.loc[feats["layer"] == layer].geometry.to_numpy())
        if lines:
            ax.add_collection(LineCollection(lines, colors=color, linewidths=lw, linestyles=style, zorder=z))
    roads = feats[feats["layer"] == "road"]
    for kind in ("path", "service", "minor", "secondary", "major"):
        lines = _lines(roads.loc[roads["kind"] == kind].geometry.to_numpy())
        if not lines:
            continue
        lw = _ROAD_LW[kind]
        if kind != "path":
            ax.add_collection(LineCollection(lines, colors=c["road_casing"], linewidths=lw + 0.8, zorder=0.7,
                                             capstyle="round"))
        ax.add_collection(LineCollection(lines, colors=c[f"road_{kind}"], linewidths=lw, zorder=0.8,
                                         capstyle="round"))
    return _draw_labels(ax, feats, (x0, x1, y0, y1)) if labels else 0


def _draw_labels(ax: Any, feats: gpd.GeoDataFrame, bounds: tuple[float, float, float, float]) -> int:
    """Place names and main street names without overlaps (greedy, most important first)."""
    import matplotlib.patheffects as pe

    x0, x1, y0, y1 = bounds
    places = feats[(feats["layer"] == "place") & (feats["rank"] <= 4) & (feats["name"] != "")]
    rows = [(int(r), str(n), float(g.x), float(g.y), 0.0, 8.5 if r <= 2 else 7.5, True)
            for n, r, g in zip(places["name"], places["rank"], places.geometry, strict=True)]
    streets = street_label_points(feats)
    streets = streets[streets["rank"] <= 2]
    rows += [(10 + int(s.rank), str(s.name), float(s.lon), float(s.lat), float(s.angle), 6.5, False)
             for s in streets.itertuples()]
    rows.sort(key=lambda r: r[0])
    fig = ax.figure
    px = fig.dpi / 72.0
    to_px = ax.transData.transform
    placed: list[tuple[float, float, float, float]] = []
    halo = [pe.withStroke(linewidth=2.2, foreground="white")]
    n = 0
    for _, name, x, y, angle, size, bold in rows:
        if not (x0 <= x <= x1 and y0 <= y <= y1):
            continue
        w = sum(1.0 if ord(ch) > 0x2E80 else 0.6 for ch in name) * size * px + 4
        h = size * px * 1.3
        a = np.radians(angle)
        bw, bh = abs(w * np.cos(a)) + abs(h * np.sin(a)), abs(w * np.sin(a)) + abs(h * np.cos(a))
        cx, cy = to_px((x, y))
        box = (cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2)
        if any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in placed):
            continue
        placed.append(box)
        ax.text(x, y, name, fontsize=size, ha="center", va="center", rotation=-angle, rotation_mode="anchor",
                color=BASE_COLORS["place_text" if bold else "street_text"],
                fontweight="bold" if bold else "normal",
                path_effects=halo, zorder=2.5, clip_on=True)
        n += 1
    return n
