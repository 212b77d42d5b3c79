"""Member layers of the map: grid counts, points, the heat map and dispersed members.

A ``viewer`` sees members only as counts on the fixed viewer grid (:data:`VIEWER_CELL_M`
cells from :mod:`geo_planner.privacy`), cells with fewer than :data:`MIN_CELL_MEMBERS`
members hidden. Planners see every member as a clustered point with a popup, a heat map and
dispersed members coloured by reason; above ``MapSettings.max_member_points`` members they
get counts on :data:`LARGE_CELL_M` cells and a weighted heat map instead of points, so the
page stays responsive with tens of thousands of members.
"""

from __future__ import annotations

import html
from typing import Final

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from folium import plugins
from numpy.typing import ArrayLike, NDArray

from ..privacy import MIN_GROUP, VIEWER_CELL_M, grid_cell_size, grid_cells
from ..privacy import lonlat as _lonlat
from ..privacy import str_col as _str_col
from ..settings import MapSettings
from ..travel import STATUS_BEYOND_LIMIT
from .canvas import Canvas
from .elements import Display, LazyGeoJson, PointLayer, html_minutes, html_text, ramp
from .labels import reason_label
from .legend import swatch_dot, swatch_ramp
from .style import COVERAGE_COLORS, GRID_COLORS, MEMBER_COLOR, OTHER_REASON_COLOR, REASON_COLORS

__all__ = ["LARGE_CELL_M", "MIN_CELL_MEMBERS", "add_members", "grid_counts"]

FloatArray = NDArray[np.float64]

#: Fewest members a grid cell must hold to be shown to a viewer (the small-cell rule).
MIN_CELL_MEMBERS: Final[int] = MIN_GROUP
#: Grid cell size (metres) of planner maps with more than ``MapSettings.max_member_points``
#: members; viewers always get :data:`geo_planner.privacy.VIEWER_CELL_M` cells.
LARGE_CELL_M: Final[float] = 250.0


def grid_counts(
    lon: ArrayLike, lat: ArrayLike, *, cell_m: float = VIEWER_CELL_M, min_count: int = 1
) -> tuple[pd.DataFrame, int]:
    """Count points per cell of a fixed lon/lat grid of about ``cell_m`` metres.

    The grid (:func:`geo_planner.privacy.grid_cells`) is anchored at 0°/0° with a cell width
    fixed per whole degree of latitude, so the same point falls in the same cell on every map
    (two maps cannot be differenced to recover a point).

    Parameters
    ----------
    lon, lat
        WGS-84 degrees; NaN points are ignored.
    cell_m
        Cell size, metres.
    min_count
        Cells with fewer points are dropped (and counted in the second return value).

    Returns
    -------
    tuple
        A frame with ``count``, ``west``, ``south``, ``east``, ``north``, ``lon``, ``lat``
        (cell centre) per kept cell, and the number of points in dropped cells.
    """
    lon_a = np.asarray(lon, dtype="float64").ravel()
    lat_a = np.asarray(lat, dtype="float64").ravel()
    ok = np.isfinite(lon_a) & np.isfinite(lat_a)
    lon_a, lat_a = lon_a[ok], lat_a[ok]
    cols = ["count", "west", "south", "east", "north", "lon", "lat"]
    if lon_a.size == 0:
        return pd.DataFrame(columns=cols), 0
    cells, counts = np.unique(grid_cells(lon_a, lat_a, cell_m), axis=0, return_counts=True)
    width, dlat = grid_cell_size(cells[:, 0], cell_m)
    west = cells[:, 1] * width
    south = cells[:, 2] * dlat
    df = pd.DataFrame(
        {
            "count": counts,
            "west": west,
            "south": south,
            "east": west + width,
            "north": south + dlat,
            "lon": west + width / 2,
            "lat": south + dlat / 2,
        }
    )
    kept = df["count"] >= min_count
    return df[kept].reset_index(drop=True), int(df.loc[~kept, "count"].sum())


def add_members(
    c: Canvas, members: pd.DataFrame | None, settings: MapSettings, *, station_walk_min: float = 15.0
) -> None:
    """Draw the members as a viewer or a planner may see them (see the module docstring).

    A planner also gets the coverage picture: members on :data:`LARGE_CELL_M` cells coloured by
    the share within ``station_walk_min`` minutes' walk of a station (on at first in a city).
    """
    m_lon, m_lat, m_ok = _lonlat(members)
    if members is None or not m_ok.any():
        return
    mem = members.loc[m_ok]
    lon, lat = m_lon[m_ok], m_lat[m_ok]
    if not c.planner:
        _viewer_grid(c, lon, lat)
        return
    dx, dy = c.disp.xy(lon, lat)
    c.extend(dx, dy)
    _coverage_grid(c, mem, lon, lat, station_walk_min)
    if len(mem) > settings.max_member_points:
        heat = _large_grid(c, lon, lat, settings.max_member_points)
    else:
        heat = _member_points(c, mem, dx, dy)
    plugins.HeatMap(heat, name=c.labels["heat"], show=False, radius=18, blur=15, min_opacity=0.3).add_to(c.m)
    _dispersed_layer(c, mem, dx, dy, settings)


def _viewer_grid(c: Canvas, lon: FloatArray, lat: FloatArray) -> None:
    """Members as counts on the viewer grid, small cells hidden, with a note saying so."""
    L = c.labels
    cells, hidden = grid_counts(lon, lat, cell_m=VIEWER_CELL_M, min_count=MIN_CELL_MEMBERS)
    group = folium.FeatureGroup(name=L["members_grid"], show=True)
    _grid_layer(cells, c.disp, L["members_grid"], L["cell_tip"], group)
    group.add_to(c.m)
    if len(cells):
        c.legend.append((_count_ramp(cells), L["cell"]))
        bx, by = c.disp.xy(np.r_[cells["west"], cells["east"]], np.r_[cells["south"], cells["north"]])
        c.extend(bx, by)
    msg = "suppressed" if hidden else "suppressed_none"
    c.notes.append(L[msg].format(cell=VIEWER_CELL_M, k=MIN_CELL_MEMBERS, n=hidden))


def _large_grid(c: Canvas, lon: FloatArray, lat: FloatArray, max_points: int) -> list[list[float]]:
    """Many members for a planner: counts on :data:`LARGE_CELL_M` cells; returns heat-map rows."""
    L = c.labels
    cells, _ = grid_counts(lon, lat, cell_m=LARGE_CELL_M)
    group = folium.FeatureGroup(name=L["members_large"], show=not c.city)
    _grid_layer(cells, c.disp, L["members_large"], L["cell_tip"], group)
    group.add_to(c.m)
    c.legend.append((_count_ramp(cells), L["cell"]))
    c.notes.append(L["large"].format(n=max_points, cell=LARGE_CELL_M))
    cx, cy = c.disp.xy(cells["lon"], cells["lat"])
    heat: list[list[float]] = np.c_[cy, cx, cells["count"].to_numpy(dtype=float)].tolist()
    return heat


def _coverage_grid(c: Canvas, mem: pd.DataFrame, lon: FloatArray, lat: FloatArray, limit: float) -> None:
    """Members on :data:`LARGE_CELL_M` cells coloured by the share covered by a station (planners)."""
    if "covered_station" not in mem.columns:
        return
    L = c.labels
    covered = mem["covered_station"].fillna(False).astype(bool).to_numpy()
    cells, _ = grid_counts(lon, lat, cell_m=LARGE_CELL_M)
    hit, _ = grid_counts(lon[covered], lat[covered], cell_m=LARGE_CELL_M)
    key = ["west", "south"]
    cells = cells.merge(hit[[*key, "count"]].rename(columns={"count": "covered"}), on=key, how="left")
    cells["covered"] = cells["covered"].fillna(0).astype(int)
    share = cells["covered"] / cells["count"]
    name = L["coverage_grid"].format(t=limit)
    group = folium.FeatureGroup(name=name, show=c.city)
    boxes = np.asarray(shapely.box(cells["west"], cells["south"], cells["east"], cells["north"]))
    boxes = c.disp.geoms(boxes)
    colors = ramp(COVERAGE_COLORS, share, 0.0, 1.0)
    opacity = np.round(0.3 + 0.35 * np.minimum(1.0, np.log1p(cells["count"]) / np.log1p(50)), 2)
    gdf = gpd.GeoDataFrame(
        {"label": [html.escape(L["coverage_tip"].format(n=int(n), p=f"{p * 100:.0f}%", t=limit))
                   for n, p in zip(cells["count"], share, strict=True)],
         "style": [{"color": col, "weight": 0.3, "fillColor": col, "fillOpacity": float(o)}
                   for col, o in zip(colors, opacity, strict=True)]},
        geometry=list(boxes), crs="EPSG:4326",
    )
    group.add_child(LazyGeoJson(gdf))
    group.add_to(c.m)
    c.legend.append((swatch_ramp(COVERAGE_COLORS, "0%", "100%"), L["coverage_share"]))


def _member_points(c: Canvas, mem: pd.DataFrame, dx: FloatArray, dy: FloatArray) -> list[list[float]]:
    """Every member as a clustered point with a popup; returns heat-map rows."""
    L = c.labels
    labels, values = _member_values(mem, L, c.lang, c.branch_limit_min)
    data = [[float(y), float(x), 0, v] for x, y, v in zip(dx, dy, values, strict=True)]
    PointLayer(data, labels=labels, colors=[MEMBER_COLOR], name=L["members"], cluster=True).add_to(c.m)
    c.legend.append((swatch_dot(MEMBER_COLOR), L["member_point"]))
    heat: list[list[float]] = np.c_[dy, dx].tolist()
    return heat


def _count_ramp(cells: pd.DataFrame) -> str:
    """Legend swatch of the grid colours from the fewest to the most members per cell."""
    return swatch_ramp(GRID_COLORS, str(int(cells["count"].min())), str(int(cells["count"].max())))


def _grid_layer(cells: pd.DataFrame, disp: Display, name: str, tip: str, group: folium.FeatureGroup) -> None:
    """Grid cells as polygons coloured by count, with a count tooltip."""
    if cells.empty:
        return
    boxes = shapely.box(cells["west"], cells["south"], cells["east"], cells["north"])
    boxes = disp.geoms(np.asarray(boxes))
    colors = ramp(GRID_COLORS, cells["count"], float(cells["count"].min()), float(cells["count"].max()))
    gdf = gpd.GeoDataFrame(
        {"label": [html.escape(tip.format(n=int(c))) for c in cells["count"]],
         "style": [{"color": col, "weight": 0.5, "fillColor": col, "fillOpacity": 0.55} for col in colors]},
        geometry=list(boxes),
        crs="EPSG:4326",
    )
    group.add_child(LazyGeoJson(gdf))


def _member_values(
    mem: pd.DataFrame, L: dict[str, str], lang: str, branch_limit_min: float | None = None
) -> tuple[list[str], list[list[str]]]:
    """Popup labels and, per member, ``[title, value…]`` (HTML-escaped), built column-wise.

    A walk beyond the own-branch search cut-off reads ``> 120`` (never a dash or a number).
    """
    names = _str_col(mem, "name")
    ids = _str_col(mem, "id")
    labels = [L["id"]]
    columns: list[list[str]] = [ids.map(html_text).tolist()]
    if "branch_id" in mem.columns:
        labels.append(L["branch"])
        columns.append(_str_col(mem, "branch_id").map(html_text).tolist())
    for col, key in (("walk_min_branch", "walk_branch"), ("walk_min_station", "walk_station"),
                     ("drive_min_hospital", "drive_hospital")):
        if col in mem.columns:
            labels.append(L[key])
            cells = mem[col].map(html_minutes)
            if col == "walk_min_branch" and "branch_status" in mem.columns:
                beyond = (mem["branch_status"].astype(str) == STATUS_BEYOND_LIMIT) & mem[col].isna()
                text = f"&gt; {branch_limit_min:g}" if branch_limit_min else html.escape(L["beyond_limit"])
                cells = cells.mask(beyond, text)
            columns.append(cells.tolist())
    if "dispersion_reason" in mem.columns:
        reason = mem["dispersion_reason"].fillna("").astype(str)
        labels.append(L["reason"])
        columns.append(
            reason.map(
                lambda s: "、".join(html.escape(reason_label(p, lang)) for p in s.split(";") if p) or "—"
            ).tolist()
        )
    titles = names.where(names != "", ids).map(html_text).tolist()
    return labels, [list(row) for row in zip(titles, *columns, strict=True)]


def _primary_reason(reasons: pd.Series) -> pd.Series:
    """First known code of a ``;``-joined reason (remote > cross_township > far)."""
    text = reasons.fillna("").astype(str)
    out = pd.Series("", index=reasons.index, dtype="object")
    for code in reversed(list(REASON_COLORS)):
        out = out.mask(text.str.contains(code, regex=False), code)
    out = out.mask((out == "") & (text.str.strip() != ""), "other")
    return out


def _dispersed_layer(
    c: Canvas, mem: pd.DataFrame, dx: FloatArray, dy: FloatArray, settings: MapSettings
) -> None:
    """Dispersed members coloured by their main reason (planners only)."""
    if "dispersion_reason" not in mem.columns and "dispersed" not in mem.columns:
        return
    L = c.labels
    reason = _primary_reason(_str_col(mem, "dispersion_reason"))
    if "dispersed" in mem.columns:
        flag = mem["dispersed"].fillna(False).astype(bool).to_numpy()
        reason = reason.mask(flag & (reason == "").to_numpy(), "other")
    else:
        flag = (reason != "").to_numpy()
    if not flag.any():
        return
    codes = reason[flag]
    palette = [*REASON_COLORS, "other"]
    position = {code: i for i, code in enumerate(palette)}
    color_index = codes.map(position).fillna(len(palette) - 1).astype(int).tolist()
    labels, values = _member_values(mem.loc[flag], L, c.lang, c.branch_limit_min)
    rows = zip(dx[flag], dy[flag], color_index, values, strict=True)
    data = [[float(y), float(x), i, v] for x, y, i, v in rows]
    colors = [REASON_COLORS.get(code, OTHER_REASON_COLOR) for code in palette]
    PointLayer(data, labels=labels, colors=colors, name=L["dispersed"], radius=6,
               cluster=len(data) > settings.max_member_points, show=not c.city).add_to(c.m)
    for code in palette:
        if (codes == code).any():
            label = L["other_reason"] if code == "other" else reason_label(code, c.lang)
            c.legend.append((swatch_dot(REASON_COLORS.get(code, OTHER_REASON_COLOR)), label))
