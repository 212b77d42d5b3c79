"""Interactive maps of a run (folium/Leaflet).

Members, branches, stations, hospitals, their real service areas on the road network,
dispersed members and recommendations.

Service areas (:func:`service_areas`) are network isochrones, not circles: one Dijkstra
pass (:func:`geo_planner.travel.node_minutes_from`) gives every road node's minutes to
each facility; the roads reachable within the limit — whole edges, plus the part of an
edge reachable from an end that is within the limit, plus the facility's own edge — are
cut out with vectorised shapely operations in the extract's metric CRS, buffered by
~50 m and unioned per facility (one ``union_all`` per facility, not per member), then
reprojected to WGS-84.

:func:`build_map` draws the layers with a layer control, a legend and Chinese labels
(English with ``MapSettings.language = "en"``).  What a role sees:

* ``planner`` / ``admin``: every member as a clustered point with a popup, a heat map,
  dispersed members coloured by reason, recommendations with their member ids;
* ``viewer``: members only as counts on a fixed 500 m grid, cells with fewer than
  :data:`MIN_CELL_MEMBERS` members hidden; no member's name, id, address or point ever
  reaches the HTML (recommendation texts are scrubbed of member names and ids, and a
  recommendation point that sits on a member's home is moved to its grid cell's centre).

Tiles: ``none`` (the default: no tile requests, a note on the map says how to get a base
map; OpenStreetMap's tiles are often unreachable inside China), ``osm`` (OpenStreetMap), ``amap`` (高德, GCJ-02: every
layer, polygons included, is shifted with :func:`geo_planner.crs.from_wgs84`) and
``tianditu`` (天地图, CGCS2000 ≈ WGS-84, no shift; key from ``GEO_PLANNER_TIANDITU_KEY``).
Above ``MapSettings.max_member_points`` members, planners get grid counts and a weighted
heat map instead of points, so the page stays responsive with tens of thousands of members.
"""

from __future__ import annotations

import html
import json
import logging
import math
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Final, Literal

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import MacroElement, Template
from folium import plugins
from folium.template import Template as FoliumTemplate
from numpy.typing import ArrayLike, NDArray

from .crs import from_wgs84
from .errors import ScenarioError
from .export import header_label
from .vocab import KIND_LABELS, REASON_LABELS, ROLES, VALUE_LABELS, Role
from .io import atomic_write
from .network import RoadNetwork, Snap
from .privacy import MIN_GROUP, VIEWER_CELL_M, small_cell_rule, small_count, viewer_recommendations
from .privacy import lonlat as _lonlat
from .privacy import str_col as _str_col
from .settings import MapSettings, Thresholds
from .travel import node_minutes_from

__all__ = [
    "KIND_COLORS",
    "MIN_CELL_MEMBERS",
    "REASON_COLORS",
    "TIANDITU_KEY_ENV",
    "Role",
    "build_map",
    "grid_counts",
    "inline_assets",
    "save_map",
    "service_areas",
]

log = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]

#: Environment variable holding the 天地图 browser key.
TIANDITU_KEY_ENV: Final[str] = "GEO_PLANNER_TIANDITU_KEY"
#: Fewest members a grid cell must hold to be shown to a viewer.
MIN_CELL_MEMBERS: Final[int] = 5
#: Grid cell size for viewers (metres) and for aggregated planner maps.
LARGE_CELL_M: Final[float] = 250.0
#: The first view shows the points within this distance of their median, km.
FOCUS_RADIUS_KM: Final[float] = 40.0

REASON_COLORS: Final[dict[str, str]] = {
    "remote": "#7b3294",
    "cross_township": "#e66101",
    "far": "#d7191c",
}
_OTHER_REASON_COLOR: Final[str] = "#777777"
KIND_COLORS: Final[dict[str, str]] = {
    "new_station": "#1a9641",
    "joint_branch": "#2c7bb6",
    "transfer": "#f4a582",
    "party_group": "#4dac26",
    "remote_branch": "#5e3c99",
    "mobile_member": "#e7298a",
}
_KIND_GLYPH: Final[dict[str, dict[str, str]]] = {
    "zh": {"new_station": "新", "joint_branch": "联", "transfer": "转", "party_group": "组",
           "remote_branch": "异", "mobile_member": "流"},
    "en": {"new_station": "N", "joint_branch": "J", "transfer": "T", "party_group": "G",
           "remote_branch": "R", "mobile_member": "M"},
}
_STATION_COLOR: Final[str] = "#c2185b"
_HOSPITAL_COLOR: Final[str] = "#1565c0"
_MEMBER_COLOR: Final[str] = "#3182bd"
_SHARE_COLORS: Final[tuple[str, str, str]] = ("#1a9850", "#fdae61", "#d73027")
_GRID_COLORS: Final[tuple[str, str, str]] = ("#ffffb2", "#fd8d3c", "#bd0026")

LABELS: Final[dict[str, dict[str, str]]] = {
    "zh": {
        "members": "离退休干部",
        "members_large": "离退休干部（网格汇总）",
        "members_grid": "离退休干部分布（网格人数）",
        "heat": "离退休干部热力图",
        "dispersed": "居住分散的党员（按原因）",
        "branches": "党支部活动地点",
        "stations": "驿站（活动阵地）",
        "station_areas": "驿站步行{t:g}分钟服务范围",
        "hospitals": "定点医院",
        "hospital_areas": "医院驾车{t:g}分钟服务范围",
        "recommendations": "调整建议",
        "coverage": "分区覆盖情况",
        "legend": "图例",
        "share_dispersed": "支部居住分散比例",
        "member_point": "离退休干部（点击查看）",
        "cell": "网格人数",
        "cell_tip": "该网格 {n} 人",
        "suppressed": "为保护个人信息，成员按{cell:g}米网格汇总，少于{k}人的网格不显示（{n}人未显示）。",
        "suppressed_none": "为保护个人信息，成员按{cell:g}米网格汇总，少于{k}人的网格不显示。",
        "large": "成员超过{n}人，按{cell:g}米网格汇总显示。",
        "area_tip": "{name}：步行{t:g}分钟可达范围",
        "area_tip_drive": "{name}：驾车{t:g}分钟可达范围",
        "reach": "{t:g}分钟内可达人数",
        "kind": "类型",
        "name": "名称",
        "id": "编号",
        "member_name": "姓名",
        "branch": "党支部",
        "meeting_place": "活动地点",
        "n_members": "人数",
        "n_dispersed": "居住分散人数",
        "share": "居住分散比例",
        "rationale": "理由",
        "before": "调整前(分钟)",
        "after": "调整后(分钟)",
        "max_after": "调整后最长(分钟)",
        "site": "场所",
        "branch_ids": "涉及党支部",
        "member_ids": "成员编号",
        "more": "等{n}人",
        "reason": "分散原因",
        "other_reason": "其他",
        "walk_branch": "步行至支部(分钟)",
        "walk_station": "步行至最近驿站(分钟)",
        "drive_hospital": "驾车至最近医院(分钟)",
        "level": "等级",
        "member_word": "某成员",
        "no_areas": "（未提供路网，未绘制服务范围）",
        "osm_note": "路网与服务范围数据 © OpenStreetMap 贡献者（ODbL）",
        "no_tiles": "未加载底图（默认，境内可用、无需联网）。如需底图：方案中设 [map] tiles = \"tianditu\" "
                    "并配置天地图密钥 GEO_PLANNER_TIANDITU_KEY。",
        "glyph_station": "站",
        "glyph_hospital": "医",
        "glyph_branch": "支",
        "area_col": "区域",
        "hidden_rows": "另有{n}个区域人数少于{k}人，未列出。",
    },
    "en": {
        "members": "Retired cadres",
        "members_large": "Retired cadres (grid counts)",
        "members_grid": "Retired cadres (count per grid cell)",
        "heat": "Retired cadres heat map",
        "dispersed": "Dispersed party members (by reason)",
        "branches": "Branch meeting places",
        "stations": "Activity stations",
        "station_areas": "Stations: {t:g}-minute walk",
        "hospitals": "Designated hospitals",
        "hospital_areas": "Hospitals: {t:g}-minute drive",
        "recommendations": "Recommendations",
        "coverage": "Coverage by area",
        "legend": "Legend",
        "share_dispersed": "Share of dispersed members",
        "member_point": "Retired cadre (click for details)",
        "cell": "Members per cell",
        "cell_tip": "{n} members in this cell",
        "suppressed": "For privacy, members are counted on a {cell:g} m grid; cells with fewer than {k} are "
                      "hidden ({n} members not shown).",
        "suppressed_none": "For privacy, members are counted on a {cell:g} m grid; cells with fewer than {k} "
                           "are hidden.",
        "large": "More than {n} members: shown as counts on a {cell:g} m grid.",
        "area_tip": "{name}: {t:g}-minute walk",
        "area_tip_drive": "{name}: {t:g}-minute drive",
        "reach": "Members within {t:g} min",
        "kind": "Kind",
        "name": "Name",
        "id": "ID",
        "member_name": "Name",
        "branch": "Branch",
        "meeting_place": "Meeting place",
        "n_members": "Members",
        "n_dispersed": "Dispersed members",
        "share": "Share dispersed",
        "rationale": "Rationale",
        "before": "Before (min)",
        "after": "After (min)",
        "max_after": "Worst after (min)",
        "site": "Site",
        "branch_ids": "Branches involved",
        "member_ids": "Member ids",
        "more": "and {n} more",
        "reason": "Reason",
        "other_reason": "Other",
        "walk_branch": "Walk to branch (min)",
        "walk_station": "Walk to nearest station (min)",
        "drive_hospital": "Drive to nearest hospital (min)",
        "level": "Level",
        "member_word": "a member",
        "no_areas": "(no road network given: service areas not drawn)",
        "osm_note": "Roads and service areas © OpenStreetMap contributors (ODbL)",
        "no_tiles": "No base map (the default: works inside China and offline). For one, set [map] tiles = "
                    "\"tianditu\" with a 天地图 key in GEO_PLANNER_TIANDITU_KEY, or \"osm\" outside China.",
        "glyph_station": "S",
        "glyph_hospital": "H",
        "glyph_branch": "B",
        "area_col": "Area",
        "hidden_rows": "{n} more areas with fewer than {k} members are not listed.",
    },
}

_TILES: Final[dict[str, dict[str, str]]] = {
    "amap": {
        "url": "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}",
        "attr": "&copy; 高德地图 AutoNavi",
        "subdomains": "1234",
    },
    "tianditu": {
        "url": "https://t{s}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
               "&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}"
               "&TILECOL={x}&tk={key}",
        "attr": "&copy; 天地图 Tianditu",
        "subdomains": "01234567",
    },
}


# --------------------------------------------------------------------------------------
# service areas


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


# --------------------------------------------------------------------------------------
# aggregation


def grid_counts(
    lon: ArrayLike, lat: ArrayLike, *, cell_m: float = VIEWER_CELL_M, min_count: int = 1
) -> tuple[pd.DataFrame, int]:
    """Count points per cell of a fixed lon/lat grid of about ``cell_m`` metres.

    The grid is anchored at 0°/0° with a cell width fixed per whole degree of latitude, so
    the same point falls in the same cell on every map (two maps cannot be differenced to
    recover a point).

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
    dlat = cell_m / 111_320.0
    # cell width depends only on the whole-degree latitude band: stable across maps
    band = np.floor(lat_a)
    dlon = cell_m / (111_320.0 * np.cos(np.radians(np.minimum(np.abs(band) + 0.5, 89.0))))
    iy = np.floor(lat_a / dlat).astype(np.int64)
    ix = np.floor(lon_a / dlon).astype(np.int64)
    keys = np.stack([band.astype(np.int64), ix, iy], axis=1)
    cells, inverse, counts = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
    width = cell_m / (111_320.0 * np.cos(np.radians(np.minimum(np.abs(cells[:, 0]) + 0.5, 89.0))))
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


# --------------------------------------------------------------------------------------
# small helpers


class _Display:
    """Converts WGS-84 to the tiles' coordinates (GCJ-02 for 高德) and rounds to 1e-6°."""

    def __init__(self, gcj02: bool) -> None:
        self.gcj02 = gcj02

    def xy(self, lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
        lon_a = np.asarray(lon, dtype="float64")
        lat_a = np.asarray(lat, dtype="float64")
        if self.gcj02 and lon_a.size:
            lon_a, lat_a = from_wgs84(lon_a, lat_a, "GCJ02")
        return np.round(lon_a, 6), np.round(lat_a, 6)

    def geoms(self, geoms: NDArray[Any]) -> NDArray[Any]:
        def shift(xy: FloatArray) -> FloatArray:
            x, y = self.xy(xy[:, 0], xy[:, 1])
            return np.column_stack([x, y])

        return shapely.transform(geoms, shift)


def _text(value: Any) -> str:
    """Escaped text for HTML; missing values become an em dash."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return html.escape(str(value))


def _minutes(value: Any) -> str:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return "—"
    return "—" if not math.isfinite(x) else f"{x:.1f}"


def _popup(title: str, rows: Iterable[tuple[str, str]]) -> str:
    """Popup HTML; ``title`` and the row values must already be escaped."""
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f"<div class='gp-pop'><b>{title}</b><table>{body}</table></div>"


def _col(df: pd.DataFrame | None, name: str) -> pd.Series | None:
    if df is None or name not in df.columns:
        return None
    return df[name]


def _ramp(colors: Sequence[str], values: ArrayLike, vmin: float, vmax: float) -> list[str]:
    """Hex colours on a linear ramp (vectorised interpolation between the stops)."""
    stops = np.array([[int(c[i : i + 2], 16) for i in (1, 3, 5)] for c in colors], dtype=float)
    x = np.asarray(values, dtype="float64")
    span = vmax - vmin if vmax > vmin else 1.0
    t = np.clip((np.nan_to_num(x, nan=vmin) - vmin) / span, 0.0, 1.0) * (len(colors) - 1)
    i = np.minimum(np.floor(t).astype(int), len(colors) - 2)
    f = (t - i)[:, None]
    rgb = np.rint(stops[i] * (1 - f) + stops[i + 1] * f).astype(int)
    return [f"#{r:02x}{g:02x}{b:02x}" for r, g, b in rgb]


def _icon_html(glyph: str, color: str, size: int = 22, shape: str = "50%") -> str:
    """Return a small coloured badge with a glyph, used as a Leaflet ``divIcon``."""
    style = (
        f"width:{size}px;height:{size}px;line-height:{size}px;border-radius:{shape};background:{color};"
        "color:#fff;font:bold 12px sans-serif;text-align:center;border:2px solid #fff;"
        "box-sizing:border-box;box-shadow:0 0 3px rgba(0,0,0,.6)"
    )
    return f"<div style='{style}'>{html.escape(glyph)}</div>"


def _primary_reason(reasons: pd.Series) -> pd.Series:
    """First known code of a ``;``-joined reason (remote > cross_township > far)."""
    text = reasons.fillna("").astype(str)
    out = pd.Series("", index=reasons.index, dtype="object")
    for code in reversed(list(REASON_COLORS)):
        out = out.mask(text.str.contains(code, regex=False), code)
    out = out.mask((out == "") & (text.str.strip() != ""), "other")
    return out


def _reason_label(code: str, lang: str) -> str:
    return REASON_LABELS["en" if lang == "en" else "zh"].get(code, code)


def _kind_label(code: str, lang: str) -> str:
    if lang == "en":
        return KIND_LABELS["en"].get(code, code)
    return VALUE_LABELS["kind"].get(code, code)


def _json(obj: Any) -> str:
    """Return compact JSON that is safe inside ``<script>``.

    Like Jinja's ``tojson`` (``<``, ``>``, ``&`` and ``'`` escaped) but with Chinese kept as
    UTF-8 instead of escaped code points, which would double the page size.
    """
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("'", "\\u0027"),
                    ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text


class _PointLayer(plugins.MarkerCluster):  # type: ignore[misc]
    """Many circle markers from one compact array, clustered or not, as one toggleable layer.

    Rows are ``[lat, lon, colour_index, values]``; ``values`` is ``[title, v1, v2, …]`` of
    already HTML-escaped strings, turned into a popup table (with ``labels``) only when
    clicked, so 20,000 members cost a few megabytes, not tens.
    """

    _template = FoliumTemplate(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = (function () {
            var labels = {{ this.labels_json }};
            var colors = {{ this.colors_json }};
            var data = {{ this.data_json }};
            var popup = function (v) {
                return function () {
                    var h = "<div class='gp-pop'><b>" + v[0] + "</b><table>";
                    for (var j = 1; j < v.length; j++) {
                        h += "<tr><th>" + labels[j - 1] + "</th><td>" + v[j] + "</td></tr>";
                    }
                    return h + "</table></div>";
                };
            };
            var markers = new Array(data.length);
            for (var i = 0; i < data.length; i++) {
                var r = data[i];
                var m = L.circleMarker([r[0], r[1]], {radius: {{ this.radius }}, color: "#ffffff", weight: 1,
                    fillColor: colors[r[2]], fillOpacity: 0.9});
                if (r[3]) { m.bindPopup(popup(r[3]), {maxWidth: 360}); }
                markers[i] = m;
            }
            {% if this.cluster %}
            var group = L.markerClusterGroup({{ this.options|tojavascript }});
            group.addLayers(markers);
            {% else %}
            var group = L.featureGroup(markers);
            {% endif %}
            return group;
        })();
        {% endmacro %}
        """
    )

    def __init__(
        self,
        data: list[list[Any]],
        *,
        labels: Sequence[str],
        colors: Sequence[str],
        name: str,
        cluster: bool,
        radius: int = 5,
        show: bool = True,
    ) -> None:
        super().__init__(name=name, overlay=True, control=True, show=show, maxClusterRadius=50,
                         chunkedLoading=True)
        self._name = "PointLayer"
        self.data_json = _json(data)
        self.labels_json = _json([html.escape(x) for x in labels])
        self.colors_json = _json(list(colors))
        self.cluster = bool(cluster)
        self.radius = int(radius)


class _Html(MacroElement):
    """A fixed HTML block on the page (legend, title)."""

    _template = Template("{% macro html(this, kwargs) %}{{ this.content }}{% endmacro %}")

    def __init__(self, content: str) -> None:
        super().__init__()
        self._name = "Html"
        self.content = content


class _MetricScale(MacroElement):
    """Leaflet's scale bar in metres/kilometres only (folium's ``control_scale`` also shows feet)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        L.control.scale({imperial: false, metric: true, maxWidth: 150}).addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "MetricScale"


class _Markers(MacroElement):
    """Badge markers with popups and tooltips from one JSON array.

    Every text reaches the page as script-safe JSON (:func:`_json`; never inside a
    JavaScript template literal, where ``${…}`` in a planner's data would run, as folium's
    ``Popup``/``Tooltip`` do), and popups/tooltips are HTML-escaped in Python.
    Rows: ``[lat, lon, icon_html, popup_html, tooltip_html, size]``.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var data = {{ this.data_json }};
            var parent = {{ this._parent.get_name() }};
            for (var i = 0; i < data.length; i++) {
                var r = data[i];
                var icon = L.divIcon({html: r[2], className: 'gp-icon', iconSize: [r[5], r[5]],
                                      iconAnchor: [r[5] / 2, r[5] / 2]});
                var m = L.marker([r[0], r[1]], {icon: icon});
                if (r[3]) { m.bindPopup(r[3], {maxWidth: {{ this.max_width }}}); }
                if (r[4]) { m.bindTooltip(r[4]); }
                m.addTo(parent);
            }
        })();
        {% endmacro %}
        """
    )

    def __init__(self, data: list[list[Any]], max_width: int = 360) -> None:
        super().__init__()
        self._name = "Markers"
        self.data_json = _json(data)
        self.max_width = int(max_width)


# --------------------------------------------------------------------------------------
# the map


def _tiles(m: folium.Map, settings: MapSettings) -> bool:
    """Add the base layer; return whether layers must be shifted to GCJ-02."""
    if settings.tiles == "osm":
        folium.TileLayer("OpenStreetMap", name="OpenStreetMap", control=False).add_to(m)
        return False
    if settings.tiles == "amap":
        t = _TILES["amap"]
        folium.TileLayer(
            tiles=t["url"], attr=t["attr"], subdomains=t["subdomains"], name="高德地图" if
            settings.language == "zh" else "AMap", max_zoom=18, control=False,
        ).add_to(m)
        return True
    if settings.tiles == "tianditu":
        key = os.environ.get(TIANDITU_KEY_ENV, "").strip()
        if not key:
            raise ScenarioError(
                f"map.tiles = 'tianditu' needs a 天地图 key: set the environment variable {TIANDITU_KEY_ENV} "
                "(apply for a browser key at https://console.tianditu.gov.cn), or use tiles 'osm' or 'none'"
            )
        t = _TILES["tianditu"]
        note = "cva" if settings.language == "zh" else "eva"
        for layer, name, overlay in (("vec", "天地图", False), (note, "天地图注记", True)):
            folium.TileLayer(
                tiles=t["url"].replace("{layer}", layer).replace("{key}", key), attr=t["attr"],
                subdomains=t["subdomains"], name=name, max_zoom=18, overlay=overlay, control=False,
            ).add_to(m)
        return False
    return False  # "none": no tile layer at all, nothing is requested from a tile server


def _grid_layer(
    cells: pd.DataFrame, disp: _Display, name: str, tip: str, group: folium.FeatureGroup
) -> None:
    """Grid cells as polygons coloured by count, with a count tooltip."""
    if cells.empty:
        return
    boxes = shapely.box(cells["west"], cells["south"], cells["east"], cells["north"])
    boxes = disp.geoms(np.asarray(boxes))
    colors = _ramp(_GRID_COLORS, cells["count"], float(cells["count"].min()), float(cells["count"].max()))
    gdf = gpd.GeoDataFrame(
        {"label": [tip.format(n=int(c)) for c in cells["count"]], "color": colors},
        geometry=list(boxes),
        crs="EPSG:4326",
    )
    folium.GeoJson(
        gdf,
        name=name,
        style_function=lambda f: {
            "color": f["properties"]["color"], "weight": 0.5, "fillColor": f["properties"]["color"],
            "fillOpacity": 0.55,
        },
        tooltip=folium.GeoJsonTooltip(fields=["label"], labels=False),
    ).add_to(group)


def _area_layer(
    areas: gpd.GeoDataFrame,
    names: pd.Series,
    limit: float,
    tip: str,
    color: str,
    opacity: float,
    disp: _Display,
    group: folium.FeatureGroup,
) -> None:
    """Service-area polygons (one GeoJson) with a tooltip naming the facility."""
    keep = ~(areas.geometry.isna() | areas.geometry.is_empty).to_numpy()
    if not keep.any():
        return
    geoms = disp.geoms(np.asarray(areas.geometry.to_numpy()[keep]))
    geoms = shapely.set_precision(geoms, 1e-6)
    minutes = pd.to_numeric(areas.get("minutes", pd.Series(limit, index=areas.index)), errors="coerce")
    minutes = minutes.fillna(limit).to_numpy()[keep]
    labels = [
        html.escape(tip.format(name=n, t=float(t)))
        for n, t in zip(names.to_numpy()[keep], minutes, strict=True)
    ]
    gdf = gpd.GeoDataFrame({"label": labels}, geometry=list(geoms), crs="EPSG:4326")
    folium.GeoJson(
        gdf,
        style_function=lambda f, c=color, o=opacity: {
            "color": c, "weight": 1, "fillColor": c, "fillOpacity": o,
        },
        tooltip=folium.GeoJsonTooltip(fields=["label"], labels=False),
    ).add_to(group)


def _legend_html(title: str, entries: list[tuple[str, str]], notes: list[str], extra: str = "") -> str:
    rows = "".join(
        f"<div style='display:flex;align-items:center;margin:2px 0'>"
        f"<span style='display:inline-block;margin-right:6px'>{sw}</span>"
        f"<span>{html.escape(lab)}</span></div>"
        for sw, lab in entries
    )
    note = "".join(
        f"<div style='margin-top:4px;color:#555;font-size:11px'>{html.escape(n)}</div>" for n in notes
    )
    return (
        "<div id='gp-legend' class='gp-legend' style='position:fixed;bottom:24px;left:10px;z-index:1000;"
        "background:rgba(255,255,255,.93);padding:8px 10px;border-radius:6px;"
        "box-shadow:0 1px 5px rgba(0,0,0,.4);"
        "font:12px/1.35 \"Microsoft YaHei\",\"PingFang SC\",\"Noto Sans CJK SC\",sans-serif;max-width:300px;"
        "max-height:70vh;overflow:auto'>"
        f"<div style='font-weight:bold;margin-bottom:4px'>{html.escape(title)}</div>{rows}{note}{extra}</div>"
    )


def _swatch_dot(color: str) -> str:
    return (f"<span style='display:inline-block;width:12px;height:12px;border-radius:50%;background:{color};"
            "border:1px solid #fff;box-shadow:0 0 2px #000'></span>")


def _swatch_icon(glyph: str, color: str, round_: bool = True) -> str:
    radius = "50%" if round_ else "3px"
    return (f"<span style='display:inline-block;width:18px;height:18px;line-height:18px;"
            f"border-radius:{radius};"
            f"background:{color};color:#fff;font-weight:bold;text-align:center;font-size:11px'>"
            f"{html.escape(glyph)}</span>")


def _swatch_area(color: str, opacity: float) -> str:
    return (f"<span style='display:inline-block;width:18px;height:12px;background:{color};"
            f"opacity:{max(opacity * 2.5, 0.35):.2f};border:1px solid {color}'></span>")


def _swatch_ramp(colors: Sequence[str], lo: str, hi: str) -> str:
    grad = ",".join(colors)
    return (f"<span style='font-size:10px'>{html.escape(lo)}</span>"
            f"<span style='display:inline-block;width:70px;height:10px;margin:0 4px;"
            f"background:linear-gradient(to right,{grad})'></span>"
            f"<span style='font-size:10px'>{html.escape(hi)}</span>")


def _coverage_panel(
    coverage: pd.DataFrame, lang: Literal["zh", "en"], role: Role, title: str
) -> str:
    """Return a collapsible table of the worst-covered areas (viewer: areas of < 5 members hidden)."""
    df = coverage.copy()
    if "level" in df.columns and (df["level"] == "township").any():
        df = df[df["level"] == "township"]
    name_col = next((c for c in ("area", "township", "community", "city", "name") if c in df.columns), None)
    if name_col is None or df.empty:
        return ""
    size_col = next((c for c in ("members", "n_members") if c in df.columns), None)
    hidden = 0
    if role == "viewer" and size_col is not None:
        small = pd.to_numeric(df[size_col], errors="coerce").fillna(0) < MIN_CELL_MEMBERS
        hidden = int(small.sum())
        df = small_cell_rule(df[~small], size_col=size_col)
    candidates = (size_col, "share_covered_station", "median_walk_station_min", "share_covered_branch",
                  "share_covered_hospital")
    wanted = [c for c in candidates if c is not None and c in df.columns]
    head = "".join(
        f"<th style='padding:0 4px'>{html.escape(header_label(c, 'coverage_by_area', lang))}</th>"
        for c in [name_col, *wanted]
    )
    body = []
    for _, row in df.head(30).iterrows():
        cells = [f"<td>{_text(row[name_col])}</td>"]
        for c in wanted:
            v = row[c]
            if c.startswith("share_"):
                txt = "—" if pd.isna(v) else f"{float(v) * 100:.0f}%"
            elif c.endswith("_min"):
                txt = _minutes(v)
            else:
                txt = _text(int(v) if pd.notna(v) and float(v).is_integer() else v)
            cells.append(f"<td style='text-align:right;padding:0 4px'>{txt}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    note = ""
    if hidden:
        note = (f"<div style='color:#555;font-size:11px'>"
                f"{html.escape(LABELS[lang]['hidden_rows'].format(n=hidden, k=MIN_CELL_MEMBERS))}</div>")
    return (f"<details style='margin-top:6px'><summary style='cursor:pointer;font-weight:bold'>"
            f"{html.escape(title)}</summary><table style='font-size:11px;border-collapse:collapse'>"
            f"<tr>{head}</tr>{''.join(body)}</table>{note}</details>")


def build_map(
    members: pd.DataFrame | None,
    branches: pd.DataFrame | None,
    stations: pd.DataFrame | None,
    hospitals: pd.DataFrame | None,
    recommendations: pd.DataFrame | None,
    *,
    walk: RoadNetwork | None = None,
    drive: RoadNetwork | None = None,
    thresholds: Thresholds,
    settings: MapSettings,
    role: Role = "planner",
    coverage_by_area: pd.DataFrame | None = None,
    title: str = "",
    station_areas: gpd.GeoDataFrame | None = None,
    hospital_areas: gpd.GeoDataFrame | None = None,
    max_snap_m: float = 500.0,
) -> folium.Map:
    """Draw a run on an interactive map.

    Parameters
    ----------
    members
        Members with ``lon``/``lat`` (WGS-84); optional ``id``, ``name``, ``branch_id``,
        ``walk_min_branch``, ``walk_min_station``, ``drive_min_hospital``,
        ``nearest_station_id``, ``dispersed``, ``dispersion_reason``. Missing columns
        leave out what they would show.
    branches
        Branches with ``id``, ``name``, ``lon``/``lat`` of the meeting place; optional
        ``share_dispersed`` (computed from the members' ``dispersed`` when absent).
    stations, hospitals
        Facilities with ``id``, ``name``, ``lon``/``lat``.
    recommendations
        The recommendations table (:mod:`geo_planner.siting.schema`).
    walk, drive
        Networks for the stations' walking and the hospitals' driving service areas; without
        them (and without ``station_areas``/``hospital_areas``) no area is drawn.
    thresholds
        Minutes of the service areas and of the "within reach" counts.
    settings
        Tiles, language, and the member count above which members are aggregated.
    role
        ``planner``/``admin`` see members; a ``viewer`` sees only grid counts of at least
        :data:`MIN_CELL_MEMBERS` members and recommendations without member ids or names.
    coverage_by_area
        Optional coverage summary shown as a table in the legend.
    title
        Shown at the top of the map.
    station_areas, hospital_areas
        Precomputed :func:`service_areas` (row order of ``stations``/``hospitals``).
    max_snap_m
        Snapping limit for the service areas, metres.

    Returns
    -------
    folium.Map

    Raises
    ------
    ScenarioError
        If tiles are ``tianditu`` and no key is set in ``GEO_PLANNER_TIANDITU_KEY``.
    ValueError
        If ``role`` is unknown.
    """
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; use one of {', '.join(map(repr, ROLES))}")
    lang = settings.language
    L = LABELS[lang]
    planner = role != "viewer"
    m = folium.Map(tiles=None, control_scale=False, prefer_canvas=True, zoom_start=12, location=[30.0, 115.0])
    m.add_child(_MetricScale())
    m.options["max_zoom"] = 18  # marker clusters need it even without a tile layer
    # only Leaflet itself: no jQuery/Bootstrap/font icons (markers are inline DivIcons), so
    # the page needs fewer downloads and can be made fully offline (save_map(assets_dir=…))
    m.default_js = [js for js in m.default_js if js[0] == "leaflet"]
    m.default_css = [css for css in m.default_css if css[0] == "leaflet_css"]
    disp = _Display(_tiles(m, settings))
    legend: list[tuple[str, str]] = []
    notes: list[str] = []
    bounds_lon: list[FloatArray] = []
    bounds_lat: list[FloatArray] = []

    # ---- members -------------------------------------------------------------------
    m_lon, m_lat, m_ok = _lonlat(members)
    if members is not None and m_ok.any():
        mem = members.loc[m_ok]
        lon, lat = m_lon[m_ok], m_lat[m_ok]
        n = int(m_ok.sum())
        if not planner:
            cells, hidden = grid_counts(lon, lat, cell_m=VIEWER_CELL_M, min_count=MIN_CELL_MEMBERS)
            group = folium.FeatureGroup(name=L["members_grid"], show=True)
            _grid_layer(cells, disp, L["members_grid"], L["cell_tip"], group)
            group.add_to(m)
            if len(cells):
                legend.append((_swatch_ramp(_GRID_COLORS, str(int(cells["count"].min())),
                                            str(int(cells["count"].max()))), L["cell"]))
                bx, by = disp.xy(np.r_[cells["west"], cells["east"]], np.r_[cells["south"], cells["north"]])
                bounds_lon.append(bx)
                bounds_lat.append(by)
            msg = "suppressed" if hidden else "suppressed_none"
            notes.append(L[msg].format(cell=VIEWER_CELL_M, k=MIN_CELL_MEMBERS, n=hidden))
        else:
            dx, dy = disp.xy(lon, lat)
            bounds_lon.append(dx)
            bounds_lat.append(dy)
            if n > settings.max_member_points:
                cells, _ = grid_counts(lon, lat, cell_m=LARGE_CELL_M)
                group = folium.FeatureGroup(name=L["members_large"], show=True)
                _grid_layer(cells, disp, L["members_large"], L["cell_tip"], group)
                group.add_to(m)
                legend.append((_swatch_ramp(_GRID_COLORS, str(int(cells["count"].min())),
                                            str(int(cells["count"].max()))), L["cell"]))
                notes.append(L["large"].format(n=settings.max_member_points, cell=LARGE_CELL_M))
                cx, cy = disp.xy(cells["lon"], cells["lat"])
                heat = np.c_[cy, cx, cells["count"].to_numpy(dtype=float)].tolist()
            else:
                labels, values = _member_values(mem, L, lang)
                data = [[float(y), float(x), 0, v] for x, y, v in zip(dx, dy, values, strict=True)]
                layer = _PointLayer(data, labels=labels, colors=[_MEMBER_COLOR], name=L["members"],
                                    cluster=True)
                layer.add_to(m)
                legend.append((_swatch_dot(_MEMBER_COLOR), L["member_point"]))
                heat = np.c_[dy, dx].tolist()
            plugins.HeatMap(heat, name=L["heat"], show=False, radius=18, blur=15, min_opacity=0.3).add_to(m)
            _dispersed_layer(mem, dx, dy, L, lang, settings, m, legend)

    # ---- branches ------------------------------------------------------------------
    b_lon, b_lat, b_ok = _lonlat(branches)
    if branches is not None and b_ok.any():
        br = branches.loc[b_ok]
        share = _branch_share(br, members)
        colors = _ramp(_SHARE_COLORS, share.fillna(0.0), 0.0, 1.0)
        colors = [c if pd.notna(s) else "#607d8b" for c, s in zip(colors, share, strict=True)]
        counts = _branch_counts(br, members)
        x, y = disp.xy(b_lon[b_ok], b_lat[b_ok])
        group = folium.FeatureGroup(name=L["branches"], show=True)
        names = _str_col(br, "name")
        ids = _str_col(br, "id")
        places = _str_col(br, "meeting_place")
        data = []
        for i in range(len(br)):
            rows = [(L["id"], _text(ids.iloc[i]))]
            if places.iloc[i]:
                rows.append((L["meeting_place"], _text(places.iloc[i])))
            # viewers: the small-cell rule (no count of 1–4 people, no share of fewer than 5)
            small = not planner and (counts is None or int(counts.iloc[i]) < MIN_GROUP)
            if counts is not None and not small:
                rows.append((L["n_members"], _text(int(counts.iloc[i]))))
            if pd.notna(share.iloc[i]) and not small and (planner or _share_shown(share.iloc[i], counts.iloc[i])):
                rows.append((L["share"], f"{float(share.iloc[i]) * 100:.0f}%"))
            note = br["flag_note"].iloc[i] if "flag_note" in br.columns and planner else ""
            if isinstance(note, str) and note:
                rows.append(("", _text(note)))
            label = names.iloc[i] or ids.iloc[i]
            data.append([float(y[i]), float(x[i]), _icon_html(L["glyph_branch"], colors[i], 20, "3px"),
                         _popup(_text(label), rows), html.escape(label), 20])
        group.add_child(_Markers(data))
        group.add_to(m)
        bounds_lon.append(x)
        bounds_lat.append(y)
        if share.notna().any():
            legend.append((_swatch_ramp(_SHARE_COLORS, "0%", "100%"), L["share_dispersed"]))
        legend.append((_swatch_icon(L["glyph_branch"], "#607d8b", round_=False), L["branches"]))

    # ---- stations and hospitals with their service areas ---------------------------
    for kind in ("stations", "hospitals"):
        table = stations if kind == "stations" else hospitals
        f_lon, f_lat, f_ok = _lonlat(table)
        if table is None or not f_ok.any():
            continue
        fac = table.loc[f_ok].reset_index(drop=True)
        net = walk if kind == "stations" else drive
        limit = thresholds.station_walk_min if kind == "stations" else thresholds.hospital_drive_min
        given = station_areas if kind == "stations" else hospital_areas
        color = _STATION_COLOR if kind == "stations" else _HOSPITAL_COLOR
        opacity = 0.18 if kind == "stations" else 0.08
        names = _str_col(fac, "name")
        ids = _str_col(fac, "id")
        names = names.where(names != "", ids)
        areas = None
        if given is not None:
            areas = given.loc[f_ok].reset_index(drop=True) if len(given) == len(table) else given
        elif net is not None:
            areas = service_areas(net, f_lon[f_ok], f_lat[f_ok], limit, ids=ids.tolist(),
                                  max_snap_m=max_snap_m)
        area_name = L["station_areas" if kind == "stations" else "hospital_areas"].format(t=limit)
        if areas is not None and len(areas) == len(fac):
            agroup = folium.FeatureGroup(name=area_name, show=True)
            tip = L["area_tip" if kind == "stations" else "area_tip_drive"]
            _area_layer(areas, names, limit, tip, color, opacity, disp, agroup)
            agroup.add_to(m)
            legend.append((_swatch_area(color, opacity), area_name))
        else:
            notes.append(f"{L[kind]}{L['no_areas']}")
        reach = _within_counts(
            fac, members, "nearest_station_id" if kind == "stations" else "nearest_hospital_id",
            "walk_min_station" if kind == "stations" else "drive_min_hospital", limit,
        )
        x, y = disp.xy(f_lon[f_ok], f_lat[f_ok])
        group = folium.FeatureGroup(name=L[kind], show=True)
        glyph = L["glyph_station" if kind == "stations" else "glyph_hospital"]
        extra_col = "kind" if kind == "stations" else "level"
        extra = _str_col(fac, extra_col)
        shape = "50%" if kind == "stations" else "4px"
        data = []
        for i in range(len(fac)):
            rows = [(L["id"], _text(ids.iloc[i]))]
            if extra.iloc[i]:
                rows.append((L["kind" if kind == "stations" else "level"], _text(extra.iloc[i])))
            if reach is not None:
                shown = int(reach.iloc[i]) if planner else small_count(int(reach.iloc[i]))
                rows.append((L["reach"].format(t=limit), _text(shown if shown is not None else f"<{MIN_GROUP}")))
            data.append([float(y[i]), float(x[i]), _icon_html(glyph, color, 22, shape),
                         _popup(_text(names.iloc[i]), rows), html.escape(names.iloc[i]), 22])
        group.add_child(_Markers(data))
        group.add_to(m)
        bounds_lon.append(x)
        bounds_lat.append(y)
        legend.append((_swatch_icon(glyph, color, round_=kind == "stations"), L[kind]))

    # ---- recommendations -----------------------------------------------------------
    if recommendations is not None and len(recommendations):
        recs = recommendations if planner else viewer_recommendations(recommendations, members, lang)
        r_lon, r_lat, r_ok = _lonlat(recs)
        if r_ok.any():
            recs = recs.loc[r_ok]
            x, y = disp.xy(r_lon[r_ok], r_lat[r_ok])
            group = folium.FeatureGroup(name=L["recommendations"], show=True)
            kinds = _str_col(recs, "kind")
            sep = "：" if lang == "zh" else ": "
            data = []
            for i in range(len(recs)):
                row = recs.iloc[i]
                kind = kinds.iloc[i]
                label = _kind_label(kind, lang)
                glyph = _KIND_GLYPH[lang].get(kind, "?")
                icon = _icon_html(glyph, KIND_COLORS.get(kind, "#333333"), 24, "6px")
                name = row.get("name", "")
                tip = label + (sep + str(name) if isinstance(name, str) and name else "")
                data.append([float(y[i]), float(x[i]), icon, _rec_popup(row, label, L, lang, planner),
                             html.escape(tip), 24])
            group.add_child(_Markers(data, max_width=400))
            group.add_to(m)
            bounds_lon.append(x)
            bounds_lat.append(y)
            for kind in dict.fromkeys(kinds.tolist()):
                swatch = _swatch_icon(_KIND_GLYPH[lang].get(kind, "?"), KIND_COLORS.get(kind, "#333333"),
                                      round_=False)
                legend.append((swatch, _kind_label(kind, lang)))

    # ---- frame, controls, legend, title --------------------------------------------
    if bounds_lon:
        focus = _focus_bounds(np.concatenate(bounds_lon), np.concatenate(bounds_lat))
        if focus is not None:
            m.fit_bounds(focus)
    folium.LayerControl(collapsed=False).add_to(m)
    extra = ""
    if coverage_by_area is not None and len(coverage_by_area):
        extra = _coverage_panel(coverage_by_area, lang, role, L["coverage"])
    if settings.tiles == "none":
        notes.append(L["no_tiles"])
    notes.append(L["osm_note"])
    m.get_root().add_child(_Html(_legend_html(L["legend"], legend, notes, extra)))
    if title:
        m.get_root().add_child(
            _Html(
                "<div id='gp-title' style='position:fixed;top:10px;left:50%;transform:translateX(-50%);"
                "z-index:1000;background:rgba(255,255,255,.93);padding:4px 14px;border-radius:6px;"
                "box-shadow:0 1px 5px rgba(0,0,0,.4);font:bold 16px \"Microsoft YaHei\",\"PingFang SC\","
                f"sans-serif'>{html.escape(title)}</div>"
            )
        )
    m.get_root().header.add_child(
        folium.Element(
            "<meta charset='utf-8'><style>.gp-icon{background:none;border:none}"
            ".gp-pop{font-size:12px}.gp-pop th{text-align:left;padding-right:6px;white-space:nowrap;"
            "vertical-align:top}</style>"
        ),
        name="gp_style",
    )
    return m


def _focus_bounds(
    lon: FloatArray, lat: FloatArray, *, radius_km: float = FOCUS_RADIUS_KM
) -> list[list[float]] | None:
    """Bounds of the points within ``radius_km`` of their median (the main city of a run).

    Members living in another city (异地) would otherwise zoom the first view out to a
    whole province; they stay on the map, a zoom-out away.
    """
    ok = np.isfinite(lon) & np.isfinite(lat)
    if not ok.any():
        return None
    x, y = lon[ok], lat[ok]
    cx, cy = float(np.median(x)), float(np.median(y))
    dist_km = np.hypot((x - cx) * 111.32 * math.cos(math.radians(cy)), (y - cy) * 111.32)
    near = dist_km <= radius_km
    if not near.any():
        near = dist_km <= dist_km.min()
    x, y = x[near], y[near]
    return [[float(y.min()), float(x.min())], [float(y.max()), float(x.max())]]


def _member_values(mem: pd.DataFrame, L: dict[str, str], lang: str) -> tuple[list[str], list[list[str]]]:
    """Popup labels and, per member, ``[title, value…]`` (HTML-escaped), built column-wise."""
    names = _str_col(mem, "name")
    ids = _str_col(mem, "id")
    labels = [L["id"]]
    columns: list[list[str]] = [ids.map(_text).tolist()]
    if "branch_id" in mem.columns:
        labels.append(L["branch"])
        columns.append(_str_col(mem, "branch_id").map(_text).tolist())
    for col, key in (("walk_min_branch", "walk_branch"), ("walk_min_station", "walk_station"),
                     ("drive_min_hospital", "drive_hospital")):
        if col in mem.columns:
            labels.append(L[key])
            columns.append(mem[col].map(_minutes).tolist())
    if "dispersion_reason" in mem.columns:
        reason = mem["dispersion_reason"].fillna("").astype(str)
        labels.append(L["reason"])
        columns.append(
            reason.map(
                lambda s: "、".join(html.escape(_reason_label(p, lang)) for p in s.split(";") if p) or "—"
            ).tolist()
        )
    titles = names.where(names != "", ids).map(_text).tolist()
    return labels, [list(row) for row in zip(titles, *columns, strict=True)]


def _dispersed_layer(
    mem: pd.DataFrame,
    dx: FloatArray,
    dy: FloatArray,
    L: dict[str, str],
    lang: str,
    settings: MapSettings,
    m: folium.Map,
    legend: list[tuple[str, str]],
) -> None:
    """Dispersed members coloured by their main reason (planners only)."""
    if "dispersion_reason" not in mem.columns and "dispersed" not in mem.columns:
        return
    reason = _primary_reason(_str_col(mem, "dispersion_reason"))
    if "dispersed" in mem.columns:
        flag = mem["dispersed"].fillna(False).astype(bool).to_numpy()
        reason = reason.mask(flag & (reason == "").to_numpy(), "other")
    else:
        flag = (reason != "").to_numpy()
    if not flag.any():
        return
    sub = mem.loc[flag]
    codes = reason[flag]
    palette = [*REASON_COLORS, "other"]
    position = {c: i for i, c in enumerate(palette)}
    color_index = codes.map(position).fillna(len(palette) - 1).astype(int).tolist()
    labels, values = _member_values(sub, L, lang)
    rows = zip(dx[flag], dy[flag], color_index, values, strict=True)
    data = [[float(y), float(x), c, v] for x, y, c, v in rows]
    colors = [REASON_COLORS.get(c, _OTHER_REASON_COLOR) for c in palette]
    _PointLayer(data, labels=labels, colors=colors, name=L["dispersed"], radius=6,
                cluster=len(data) > settings.max_member_points).add_to(m)
    for code in [*REASON_COLORS, "other"]:
        if (codes == code).any():
            label = L["other_reason"] if code == "other" else _reason_label(code, lang)
            legend.append((_swatch_dot(REASON_COLORS.get(code, _OTHER_REASON_COLOR)), label))


def _branch_share(br: pd.DataFrame, members: pd.DataFrame | None) -> pd.Series:
    """``share_dispersed`` of each branch: the table's, else the members' mean of ``dispersed``."""
    if "share_dispersed" in br.columns:
        return pd.to_numeric(br["share_dispersed"], errors="coerce").reset_index(drop=True)
    if members is None or "branch_id" not in members.columns or "id" not in br.columns:
        return pd.Series(np.nan, index=range(len(br)))
    if "dispersed" in members.columns:
        flag = members["dispersed"].fillna(False).astype(bool)
    elif "dispersion_reason" in members.columns:
        flag = members["dispersion_reason"].fillna("").astype(str) != ""
    else:
        return pd.Series(np.nan, index=range(len(br)))
    share = flag.groupby(members["branch_id"].astype(str)).mean()
    return br["id"].astype(str).map(share).reset_index(drop=True)


def _share_shown(share: float, count: float | None) -> bool:
    """Whether a viewer may see a share: its numerator is 0 or at least ``MIN_GROUP`` people."""
    if count is None or not np.isfinite(float(count)):
        return False
    k = round(float(share) * float(count))
    return k == 0 or k >= MIN_GROUP


def _branch_counts(br: pd.DataFrame, members: pd.DataFrame | None) -> pd.Series | None:
    if members is None or "branch_id" not in members.columns or "id" not in br.columns:
        return None
    counts = members["branch_id"].astype(str).value_counts()
    return br["id"].astype(str).map(counts).fillna(0).astype(int).reset_index(drop=True)


def _within_counts(
    fac: pd.DataFrame, members: pd.DataFrame | None, id_col: str, time_col: str, limit: float
) -> pd.Series | None:
    """Members whose nearest facility is this one and within ``limit`` minutes."""
    if members is None or id_col not in members.columns or time_col not in members.columns or "id" not in fac:
        return None
    t = pd.to_numeric(members[time_col], errors="coerce")
    near = members.loc[t <= limit, id_col].astype(str).value_counts()
    return fac["id"].astype(str).map(near).fillna(0).astype(int).reset_index(drop=True)


def _rec_popup(row: pd.Series, kind_label: str, L: dict[str, str], lang: str, planner: bool) -> str:
    rationale = row.get("rationale_en" if lang == "en" else "rationale_zh", "")
    if (not isinstance(rationale, str) or not rationale) and lang == "en":
        rationale = row.get("rationale_zh", "")
    rows = [(L["kind"], _text(kind_label))]
    if isinstance(rationale, str) and rationale:
        rows.append((L["rationale"], _text(rationale)))
    n_members = row.get("n_members")
    if n_members is not None and pd.notna(n_members):
        rows.append((L["n_members"], _text(int(float(n_members)))))
    for col, key in (("before_min", "before"), ("after_min", "after"), ("max_after_min", "max_after")):
        if col in row.index:
            rows.append((L[key], _minutes(row[col])))
    site = row.get("site_name", "")
    if isinstance(site, str) and site:
        rows.append((L["site"], _text(site)))
    branch_ids = row.get("branch_ids", "")
    if isinstance(branch_ids, str) and branch_ids:
        rows.append((L["branch_ids"], _text(branch_ids.replace(";", "、"))))
    if planner:
        ids = row.get("member_ids", "")
        if isinstance(ids, str) and ids:
            parts = [p for p in ids.split(";") if p]
            shown = "、".join(parts[:30])
            if len(parts) > 30:
                shown += " " + L["more"].format(n=len(parts))
            rows.append((L["member_ids"], _text(shown)))
    rec_id = row.get("rec_id", "")
    name = row.get("name", "")
    head = f"{rec_id} {name}".strip() if isinstance(rec_id, str) else str(name)
    return _popup(_text(head or kind_label), rows)


def _offline_resources() -> dict[str, str]:
    """Leaflet and plugin files by CDN URL from the ``folium-offline`` package, if installed."""
    try:
        from offlinefolium.elements import _res  # the resources of the matching folium version
    except ImportError:
        return {}
    return {str(k): str(v) for k, v in dict(_res).items()}


def _asset(url: str, assets_dir: Path | None, resources: dict[str, str]) -> tuple[str, str] | None:
    """Local copy of a script/stylesheet: ``(name, text)`` or ``None``.

    Looked up by file name in ``assets_dir``, then by URL in ``folium-offline``'s resources,
    then by file name among folium's own templates (the heat-map plugin).
    """
    name = url.split("?")[0].rsplit("/", 1)[-1]
    if assets_dir is not None and (assets_dir / name).is_file():
        return name, (assets_dir / name).read_text(encoding="utf-8")
    if url in resources:
        return name, resources[url]
    bundled = Path(folium.__file__).parent / "templates" / name
    if bundled.is_file():
        return name, bundled.read_text(encoding="utf-8")
    return None


def inline_assets(page: str, assets_dir: Path | str | None = None) -> tuple[str, list[str]]:
    """Replace the page's ``<script src>`` / stylesheet links by local copies, inline.

    A file is taken from ``assets_dir`` when its name (the last part of the URL, e.g.
    ``leaflet.js``, ``leaflet.css``, ``leaflet.markercluster.js``, ``MarkerCluster.css``,
    ``MarkerCluster.Default.css``) is there, else from the ``folium-offline`` package (the
    same files as folium's CDN links), else from folium's own package.  With every file
    found, the page needs no network at all when tiles are ``none``.

    Parameters
    ----------
    page
        HTML of a map (``m.get_root().render()``).
    assets_dir
        Optional folder holding JavaScript/CSS files (e.g. copied from the npm packages
        ``leaflet`` and ``leaflet.markercluster``); it wins over the packaged copies.

    Returns
    -------
    tuple
        The new page and the URLs that stayed remote (no local copy found).
    """
    folder = Path(assets_dir) if assets_dir is not None else None
    resources = _offline_resources()
    remote: list[str] = []

    def inline(match: re.Match[str], tag: str) -> str:
        url = match.group(1)
        found = _asset(url, folder, resources)
        if found is None:
            remote.append(url)
            return match.group(0)
        name, text = found
        text = text.replace(f"</{tag}", f"<\\/{tag}")
        return f"<{tag}>/* {html.escape(name)} */\n{text}\n</{tag}>"

    page = re.sub(r'<script src="(https?://[^"]+)"></script>', lambda m: inline(m, "script"), page)
    page = re.sub(r'<link rel="stylesheet" href="(https?://[^"]+)"\s*/?>', lambda m: inline(m, "style"), page)
    return page, remote


def save_map(
    m: folium.Map, path: Path | str, *, offline: bool = True, assets_dir: Path | str | None = None
) -> Path:
    """Write a map as a standalone HTML file, atomically.

    Parameters
    ----------
    m
        A map from :func:`build_map`.
    path
        Destination ``.html`` file; its folder is created.
    offline
        Inline Leaflet and its plugins (:func:`inline_assets`) so the page opens without a
        network (tiles aside); files without a local copy stay on their CDN, with a warning.
        ``False`` keeps folium's CDN links (a smaller page).
    assets_dir
        Optional folder of local asset files preferred over the packaged copies.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    page = m.get_root().render()
    if offline:
        page, remote = inline_assets(page, assets_dir)
        if remote:
            log.warning("map %s still loads %d file(s) from the network: %s", path, len(remote),
                        ", ".join(remote))
    return atomic_write(path, lambda p: p.write_text(page, encoding="utf-8"))
