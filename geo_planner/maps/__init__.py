"""Interactive maps of a run (folium/Leaflet).

Members, branches, stations, hospitals, their real service areas on the road network
(:mod:`.service_areas`), dispersed members and recommendations.

:func:`build_map` draws the layers with a layer control, a legend and Chinese labels
(English with ``MapSettings.language = "en"``).  What a role sees:

* ``planner`` / ``admin``: every member as a clustered point with a popup, a heat map,
  dispersed members coloured by reason, recommendations with their member ids; above
  ``MapSettings.max_member_points`` members, counts on :data:`LARGE_CELL_M` (250 m) cells
  and a weighted heat map instead of points, so the page stays responsive;
* ``viewer``: members only as counts on the fixed viewer grid
  (:data:`geo_planner.privacy.VIEWER_CELL_M`, 500 m), cells with fewer than
  :data:`MIN_CELL_MEMBERS` members hidden; no member's name, id, address or point ever
  reaches the HTML (recommendation texts are scrubbed of member names and ids, and a
  recommendation point that sits on a member's home is moved to its grid cell's centre).

The modules: :mod:`.layers` (members), :mod:`.facilities` (branches, stations, hospitals,
recommendations), :mod:`.service_areas`, :mod:`.legend`, :mod:`.assets` (tiles and offline
files; 天地图), :mod:`.labels` (texts), :mod:`.style` (colours), :mod:`.elements` (Leaflet
building blocks) and :mod:`.canvas` (the map being drawn).
"""

from __future__ import annotations

from typing import Final

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ..crs import local_xy
from ..network import RoadNetwork
from ..settings import MapSettings, Thresholds
from ..vocab import ROLES, Role
from .assets import TIANDITU_KEY_ENV, add_tiles, inline_assets, save_map
from .badges import BadgeEngine
from .basemap import add_basemap
from .canvas import Canvas
from .elements import Display, Html, MetricScale
from .facilities import HOSPITALS, STATIONS, add_branches, add_facilities, add_recommendations
from .labels import LABELS
from .functions import add_function_layers
from .layers import LARGE_CELL_M, MIN_CELL_MEMBERS, add_members, grid_counts
from .legend import PAGE_STYLE, coverage_panel, legend_html, title_html
from .service_areas import service_areas
from .style import KIND_COLORS, REASON_COLORS

__all__ = [
    "KIND_COLORS",
    "LARGE_CELL_M",
    "MIN_CELL_MEMBERS",
    "REASON_COLORS",
    "TIANDITU_KEY_ENV",
    "Role",
    "build_map",
    "grid_counts",
    "inline_assets",
    "map_title",
    "save_map",
    "service_areas",
]

FloatArray = NDArray[np.float64]

#: The first view shows the points within this distance of their median, km.
FOCUS_RADIUS_KM: Final[float] = 40.0


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
    basemap: gpd.GeoDataFrame | None = None,
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
        Minutes of the service areas and of the "within reach" counts; a member beyond the
        own-branch search cut-off (``branch_status = "beyond_limit"``) reads ``> 120``.
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
    basemap
        The extract's own base map (:func:`geo_planner.basemap.build_basemap`), drawn under
        everything; on at first with ``tiles = "none"``, a layer to switch on under other tiles.

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
    c = _new_canvas(settings, role)
    c.branch_limit_min = thresholds.branch_limit()
    c.city = members is not None and len(members) > settings.max_member_points
    add_basemap(c, basemap, show=settings.tiles == "none")
    c.has_base = basemap is not None and not basemap.empty
    add_members(c, members, settings, station_walk_min=thresholds.station_walk_min)
    add_branches(c, branches, members)
    add_facilities(c, STATIONS, stations, members, limit=thresholds.station_walk_min, net=walk,
                   given=station_areas, max_snap_m=max_snap_m)
    add_facilities(c, HOSPITALS, hospitals, members, limit=thresholds.hospital_drive_min, net=drive,
                   given=hospital_areas, max_snap_m=max_snap_m)
    add_function_layers(c, stations, members, thresholds)  # 四就近: a hidden layer per function
    add_recommendations(c, recommendations, members)
    _finish(c, settings, role, coverage_by_area, title)
    return c.m


def _new_canvas(settings: MapSettings, role: Role) -> Canvas:
    """Start an empty map with a metric scale bar, the base tiles and only Leaflet's own files."""
    m = folium.Map(tiles=None, control_scale=False, prefer_canvas=True, zoom_start=12, location=[30.0, 115.0])
    m.add_child(MetricScale())
    m.add_child(BadgeEngine())  # before every badge layer: they register with it
    m.options["max_zoom"] = 18  # marker clusters need it even without a tile layer
    # only Leaflet itself: no jQuery/Bootstrap/font icons (markers are inline DivIcons), so
    # the page needs fewer downloads and can be made fully offline (save_map(assets_dir=…))
    m.default_js = [js for js in m.default_js if js[0] == "leaflet"]
    m.default_css = [css for css in m.default_css if css[0] == "leaflet_css"]
    return Canvas(m=m, disp=Display(add_tiles(m, settings)), lang=settings.language, planner=role != "viewer")


def _finish(
    c: Canvas, settings: MapSettings, role: Role, coverage_by_area: pd.DataFrame | None, title: str
) -> None:
    """Frame the first view, then add the layer control, the legend (with notes), the title and the style."""
    L = c.labels
    if c.bounds_lon:
        focus = _focus_bounds(np.concatenate(c.bounds_lon), np.concatenate(c.bounds_lat))
        if focus is not None:
            c.m.fit_bounds(focus)
    folium.LayerControl(collapsed=False).add_to(c.m)
    extra = ""
    if coverage_by_area is not None and len(coverage_by_area):
        extra = coverage_panel(coverage_by_area, c.lang, role, L["coverage"])
    if settings.tiles == "none":
        c.notes.append(L["no_tiles"] if c.has_base else L["no_base"])
    c.notes.append(L["osm_note"])
    root = c.m.get_root()
    root.add_child(Html(legend_html(L["legend"], c.legend, c.notes, extra)))
    root.add_child(Html(title_html(map_title(title, c.lang))))
    root.header.add_child(folium.Element(PAGE_STYLE), name="gp_style")


def map_title(title: str, lang: str) -> str:
    """The map's title: the scenario's (or run's) name; a name left at its default reads as the map's subject.

    ``"scenario"`` is the default name of a scenario file without one: never shown as a title.
    """
    name = (title or "").strip()
    if not name or name.lower() in ("scenario", "run"):
        return LABELS["en" if lang == "en" else "zh"]["default_title"]
    return name


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
    dx, dy = local_xy(x - cx, y - cy, cy)
    dist_km = np.hypot(dx, dy) / 1000.0
    near = dist_km <= radius_km
    if not near.any():
        near = dist_km <= dist_km.min()
    x, y = x[near], y[near]
    return [[float(y.min()), float(x.min())], [float(y.max()), float(x.max())]]

