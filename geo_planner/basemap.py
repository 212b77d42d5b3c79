"""The extract's own base map: streets, names, water, green, built-up areas, buildings, railways.

Every run reads its OSM extracts; this stage reads them once more with pyosmium (node
locations and multipolygon areas assembled by libosmium, one streaming pass plus one pass over
the relations) and keeps what a planner needs to find their way on a map, with no tile server
and no network:

========== ==================================================================== ===========
layer      what                                                                 geometry
========== ==================================================================== ===========
landuse    built-up areas: residential, commercial, industrial, retail, schools  polygon
green      parks, gardens, grass, woods, pitches, cemeteries                     polygon
water      lakes, ponds, reservoirs, river areas                                 polygon
waterway   rivers, canals, streams                                               line
building   buildings, where the extract has them                                 polygon
railway    railways, subways, light rail, trams (``tunnel`` kept in ``kind``)    line
road       streets by class (``kind``: ``major`` … ``path``) with their names    line
boundary   administrative boundaries (``rank`` = ``admin_level``)                line
place      街道 / 社区 / 村 names: place nodes, admin areas, named housing estates  point
========== ==================================================================== ===========

Every feature carries ``layer``, ``kind``, ``name`` (empty when unnamed), ``rank`` (smaller
is more important) and ``minzoom`` (the web-map zoom from which it is worth drawing).
Geometries are simplified (:data:`SIMPLIFY_DEG`, about 1 m) and rounded to 1e-6° when
written, so a district's base map is a few hundred kilobytes of GeoJSON.

:func:`write_basemap` writes ``basemap.geojson`` (one FeatureCollection, WGS-84) and
:func:`basemap_style` a MapLibre GL style for it (labels in the browser's own CJK fonts via
``localIdeographFontFamily``; Latin letters and digits from glyphs made here,
:mod:`geo_planner.glyphs`).  The base map is OpenStreetMap data only: no person is in it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .atomic import atomic_write
from .errors import InputError, Problem
from .glyphs import GLYPH_FONT

__all__ = [
    "BASEMAP_LAYERS", "BaseMap", "basemap_geojson", "basemap_style", "build_basemap", "read_basemap",
    "street_label_points", "write_basemap", "write_style",
]

log = logging.getLogger(__name__)

#: Layers in drawing order (bottom first).
BASEMAP_LAYERS: Final = ("landuse", "green", "water", "waterway", "building", "railway", "road", "boundary",
                         "place")
#: Simplification tolerance, degrees (about 1 m): below what a web map shows at zoom 18.
SIMPLIFY_DEG: Final[float] = 1e-5

#: highway=* → (road class, rank, minzoom).  Unlisted values (proposed, construction…) are skipped.
ROAD_CLASSES: Final[dict[str, tuple[str, int, int]]] = {
    **{k: ("major", 1, 8) for k in ("motorway", "trunk", "primary", "motorway_link", "trunk_link",
                                    "primary_link")},
    **{k: ("secondary", 2, 11) for k in ("secondary", "secondary_link", "tertiary", "tertiary_link")},
    **{k: ("minor", 3, 13) for k in ("residential", "unclassified", "living_street", "road", "pedestrian")},
    "service": ("service", 4, 15),
    **{k: ("path", 5, 15) for k in ("footway", "path", "cycleway", "steps", "track", "bridleway")},
}
_RAIL: Final = frozenset({"rail", "subway", "light_rail", "tram", "narrow_gauge", "monorail", "preserved"})
_WATERWAY: Final[dict[str, int]] = {"river": 1, "canal": 2, "stream": 3, "drain": 4, "ditch": 4}
_WATER_AREA: Final = {("natural", "water"), ("landuse", "reservoir"), ("landuse", "basin"),
                      ("waterway", "riverbank"), ("natural", "bay")}
_GREEN: Final = {("leisure", v) for v in ("park", "garden", "pitch", "nature_reserve", "playground",
                                          "recreation_ground", "golf_course", "common")} | {
    ("landuse", v) for v in ("grass", "forest", "meadow", "village_green", "recreation_ground", "cemetery",
                             "orchard", "farmland", "allotments")} | {
    ("natural", v) for v in ("wood", "scrub", "grassland", "heath")}
_BUILT: Final = {("landuse", v) for v in ("residential", "commercial", "industrial", "retail", "education",
                                          "construction", "railway", "military")} | {
    ("amenity", v) for v in ("school", "university", "college", "hospital", "kindergarten")}
#: place=* → (rank, minzoom) of its label: 街道/乡镇 before 社区/村.
PLACE_RANKS: Final[dict[str, tuple[int, int]]] = {
    "city": (1, 8), "county": (1, 8), "district": (2, 10), "town": (2, 11), "suburb": (2, 11),
    "township": (2, 11), "quarter": (3, 13), "village": (3, 13), "neighbourhood": (4, 14),
    "hamlet": (4, 14), "city_block": (5, 15), "residential": (5, 15),
}
#: admin_level of an administrative area → place kind of its label (China: 8 = 街道/乡镇, 9–10 = 社区/村).
_ADMIN_PLACE: Final[dict[str, str]] = {"6": "district", "7": "district", "8": "town", "9": "quarter",
                                       "10": "quarter"}
_KEYS: Final = ("highway", "railway", "waterway", "natural", "landuse", "leisure", "amenity", "building",
                "place", "boundary")


@dataclass
class BaseMap:
    """The base features of one or more extracts, and what could not be drawn.

    Attributes
    ----------
    features
        One row per feature: ``layer``, ``kind``, ``name``, ``rank``, ``minzoom``, geometry
        (WGS-84), in :data:`BASEMAP_LAYERS` order.
    skipped
        Per extract, elements whose geometry the extract does not hold (a way cut at the
        extract's edge, an incomplete multipolygon), counted, never silently lost.
    """

    features: gpd.GeoDataFrame
    skipped: dict[str, int] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        """Number of features per layer."""
        return {k: int(v) for k, v in self.features["layer"].value_counts().items()}


def _name(tags: Any) -> str:
    return str(tags.get("name") or tags.get("name:zh") or tags.get("name:zh-Hans") or "").strip()


def _admin_ways(path: Path) -> dict[int, int]:
    """Way id → smallest admin_level of the boundary=administrative relations it belongs to."""
    import osmium

    out: dict[int, int] = {}
    for rel in osmium.FileProcessor(str(path), osmium.osm.RELATION):
        tags = rel.tags
        level = tags.get("admin_level", "")
        if tags.get("boundary") != "administrative" or not level.isdigit():
            continue
        for m in rel.members:
            if m.type == "w":
                out[m.ref] = min(out.get(m.ref, 99), int(level))
    return out


def _classify_line(tags: Any, admin_level: int | None) -> tuple[str, str, int, int] | None:
    """``(layer, kind, rank, minzoom)`` of a way drawn as a line, or ``None``."""
    hw = tags.get("highway")
    if hw in ROAD_CLASSES and tags.get("area") != "yes":
        kind, rank, minzoom = ROAD_CLASSES[hw]
        return "road", kind, rank, minzoom
    rw = tags.get("railway")
    if rw in _RAIL:
        tunnel = tags.get("tunnel") not in (None, "no") or tags.get("location") == "underground"
        return "railway", f"{rw}_tunnel" if tunnel else rw, 1 if rw == "rail" else 2, 10
    ww = tags.get("waterway")
    if ww in _WATERWAY:
        return "waterway", ww, _WATERWAY[ww], 10 if ww in ("river", "canal") else 13
    level = admin_level
    if level is None and tags.get("boundary") == "administrative" and tags.get("admin_level", "").isdigit():
        level = int(tags.get("admin_level"))
    if level is not None and 4 <= level <= 10:
        return "boundary", f"admin_{level}", level, 8 if level <= 6 else 11
    return None


def _classify_area(tags: Any) -> tuple[str, str, int, int] | None:
    """``(layer, kind, rank, minzoom)`` of an area, or ``None``."""
    pairs = [(k, tags.get(k)) for k in ("natural", "landuse", "leisure", "amenity", "waterway")]
    for pair in pairs:
        if pair in _WATER_AREA:
            return "water", pair[1], 1, 8
    if "building" in tags and tags.get("building") != "no":
        return "building", "building", 5, 15
    for pair in pairs:
        if pair in _GREEN:
            return "green", pair[1], 3, 11
    for pair in pairs:
        if pair in _BUILT:
            return "landuse", pair[1], 4, 11
    return None


def _place(tags: Any, area: bool) -> tuple[str, int, int] | None:
    """``(kind, rank, minzoom)`` of a named place label, or ``None``."""
    if not _name(tags):
        return None
    place = tags.get("place")
    if place in PLACE_RANKS:
        return (place, *PLACE_RANKS[place])
    if area and tags.get("boundary") == "administrative" and tags.get("admin_level") in _ADMIN_PLACE:
        kind = _ADMIN_PLACE[tags.get("admin_level")]
        return (kind, *PLACE_RANKS[kind])
    if area and tags.get("landuse") == "residential":  # a named 小区 / 家属院
        return ("residential", *PLACE_RANKS["residential"])
    return None


def _read_extract(path: Path) -> tuple[list[tuple[Any, ...]], int]:
    """Rows ``(layer, kind, name, rank, minzoom, wkb, osm_key)`` of one extract, and the skipped count."""
    import osmium
    from osmium.geom import WKBFactory

    admin = _admin_ways(path)
    wkb = WKBFactory()
    rows: list[tuple[Any, ...]] = []
    skipped = 0
    proc = (osmium.FileProcessor(str(path)).with_locations().with_areas()
            .with_filter(osmium.filter.KeyFilter(*_KEYS)))
    for obj in proc:
        tags = obj.tags
        try:
            if obj.is_node():
                place = _place(tags, area=False)
                if place is not None:
                    rows.append(("place", place[0], _name(tags), place[1], place[2], wkb.create_point(obj),
                                 f"n{obj.id}"))
            elif obj.is_way():
                cls = _classify_line(tags, admin.get(obj.id))
                if cls is not None:
                    rows.append((cls[0], cls[1], _name(tags), cls[2], cls[3], wkb.create_linestring(obj),
                                 f"w{obj.id}"))
            elif obj.is_area():
                cls = _classify_area(tags)
                place = _place(tags, area=True)
                if cls is None and place is None:
                    continue
                geom = wkb.create_multipolygon(obj)
                key = f"{'w' if obj.from_way() else 'r'}{obj.orig_id()}"
                if cls is not None:
                    rows.append((cls[0], cls[1], _name(tags), cls[2], cls[3], geom, key))
                if place is not None:
                    rows.append(("place", place[0], _name(tags), place[1], place[2], geom, f"{key}:label"))
        except (RuntimeError, osmium.InvalidLocationError):
            skipped += 1  # a way whose nodes lie outside the extract, a broken multipolygon
    return rows, skipped


def build_basemap(extracts: Sequence[Path | str], *, simplify_deg: float = SIMPLIFY_DEG) -> BaseMap:
    """Read the base map of one or more OSM extracts.

    Parameters
    ----------
    extracts
        OSM files (``.osm``, ``.osm.bz2``/``.gz``, ``.pbf``): the run's ``[network] osm``.
        An element in several extracts is kept once.
    simplify_deg
        Douglas–Peucker tolerance, degrees (topology kept).

    Returns
    -------
    BaseMap
        The features (see the module docstring) and the elements that could not be drawn.

    Raises
    ------
    InputError
        If an extract is missing or cannot be read (names the file).
    """
    rows: list[tuple[Any, ...]] = []
    skipped: dict[str, int] = {}
    for ext in extracts:
        p = Path(ext)
        if not p.is_file():
            raise InputError(Problem(str(p), None, None, "OSM extract not found"))
        try:
            got, n_bad = _read_extract(p)
        except RuntimeError as exc:
            raise InputError(Problem(str(p), None, None, f"cannot read the OSM extract: {exc}")) from None
        rows.extend(got)
        skipped[p.name] = n_bad
        if n_bad:
            log.info("%s: %d base-map element(s) not drawn (geometry outside the extract)", p.name, n_bad)
    cols = ["layer", "kind", "name", "rank", "minzoom", "wkb", "osm"]
    df = pd.DataFrame(rows, columns=cols).drop_duplicates("osm", ignore_index=True)
    geom = shapely.from_wkb(df["wkb"].to_numpy(), on_invalid="ignore")
    place_area = (df["layer"] == "place").to_numpy() & (shapely.get_type_id(geom) != 0)
    geom[place_area] = shapely.point_on_surface(geom[place_area])
    geom = shapely.simplify(geom, simplify_deg, preserve_topology=True)
    keep = ~(shapely.is_missing(geom) | shapely.is_empty(geom))
    if (~keep).any():
        for name in df.loc[~keep, "osm"]:
            log.debug("base map: %s has an empty geometry", name)
        skipped["empty_geometry"] = int((~keep).sum())
    order = df["layer"].map({k: i for i, k in enumerate(BASEMAP_LAYERS)})
    gdf = gpd.GeoDataFrame(df.drop(columns=["wkb"]).assign(_o=order), geometry=geom, crs="EPSG:4326")
    gdf = gdf[keep].sort_values(["_o", "rank"], ascending=[True, False], kind="stable")
    gdf = gdf.drop(columns=["_o"]).reset_index(drop=True)
    gdf["rank"] = gdf["rank"].astype(int)
    gdf["minzoom"] = gdf["minzoom"].astype(int)
    return BaseMap(gdf, skipped)


def _round_coords(geoms: np.ndarray, decimals: int = 6) -> np.ndarray:
    return shapely.transform(geoms, lambda xy: np.round(xy, decimals))


def basemap_geojson(features: gpd.GeoDataFrame, *, decimals: int = 6) -> dict[str, Any]:
    """The base map as a GeoJSON FeatureCollection (coordinates rounded to ``decimals``)."""
    geoms = _round_coords(np.asarray(features.geometry.to_numpy()), decimals)
    shapes = shapely.to_geojson(geoms)
    props = features[["layer", "kind", "name", "rank", "minzoom"]].to_dict("records")
    return {
        "type": "FeatureCollection",
        "attribution": "© OpenStreetMap contributors (ODbL)",
        "features": [{"type": "Feature", "properties": p, "geometry": json.loads(s)}
                     for p, s in zip(props, shapes, strict=True)],
    }


def write_basemap(base: BaseMap, path: Path | str) -> Path:
    """Write the base map as one compact GeoJSON file, atomically.

    Parameters
    ----------
    base
        From :func:`build_basemap`.
    path
        Destination, e.g. ``OUT / outputs.BASEMAP_FILE``.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    text = json.dumps(basemap_geojson(base.features), ensure_ascii=False, separators=(",", ":"))
    return atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))


def read_basemap(path: Path | str) -> gpd.GeoDataFrame:
    """Read a base map written by :func:`write_basemap`.

    Returns
    -------
    geopandas.GeoDataFrame
        ``layer``, ``kind``, ``name``, ``rank``, ``minzoom`` and the geometry (WGS-84).


    Raises
    ------
    InputError
        If the file is missing or not a base map (names the file).
    """
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
        feats = data["features"]
        geoms = shapely.from_geojson([json.dumps(f["geometry"]) for f in feats]) if feats else []
        props = pd.DataFrame([f["properties"] for f in feats],
                             columns=["layer", "kind", "name", "rank", "minzoom"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(Problem(str(p), None, None, f"not a base map file: {exc}")) from None
    props["name"] = props["name"].fillna("").astype(str)
    return gpd.GeoDataFrame(props, geometry=list(geoms), crs="EPSG:4326")


def write_style(path: Path | str, source_url: str, *, glyphs_url: str | None = None) -> Path:
    """Write :func:`basemap_style` as JSON, atomically; ``source_url`` is relative to it (``basemap.geojson``)."""
    text = json.dumps(basemap_style(source_url, glyphs_url=glyphs_url), ensure_ascii=False, indent=1)
    return atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))


def street_label_points(features: gpd.GeoDataFrame, *, min_length_deg: float = 4e-4) -> pd.DataFrame:
    """Where to write street names: one anchor per named street part, with its angle.

    The ways of one name are merged (``line_merge``) and each merged part at least
    ``min_length_deg`` long (about 40 m) gets an anchor at its middle, turned along the street
    (degrees, −90…90, screen convention: clockwise from east).

    Returns
    -------
    pandas.DataFrame
        ``name``, ``kind``, ``rank``, ``minzoom``, ``lon``, ``lat``, ``angle``, ``length_deg``;
        longest first within a rank.
    """
    roads = features[(features["layer"] == "road") & (features["name"] != "")]
    cols = ["name", "kind", "rank", "minzoom", "lon", "lat", "angle", "length_deg"]
    if roads.empty:
        return pd.DataFrame(columns=cols)
    out = []
    for (name, kind), grp in roads.groupby(["name", "kind"], sort=False):
        merged = shapely.line_merge(shapely.union_all(grp.geometry.to_numpy()))
        parts = np.asarray(shapely.get_parts(merged))
        parts = parts[shapely.length(parts) >= min_length_deg]
        if parts.size == 0:
            continue
        lengths = shapely.length(parts)
        mid = shapely.line_interpolate_point(parts, 0.5, normalized=True)
        near = shapely.line_interpolate_point(parts, np.clip(lengths * 0.5 + 1e-4, 0, lengths))
        far = shapely.line_interpolate_point(parts, np.clip(lengths * 0.5 - 1e-4, 0, lengths))
        x0, y0 = shapely.get_x(far), shapely.get_y(far)
        x1, y1 = shapely.get_x(near), shapely.get_y(near)
        angle = np.degrees(np.arctan2(-(y1 - y0), (x1 - x0) * np.cos(np.radians(y0))))
        angle = (angle + 90.0) % 180.0 - 90.0
        rank = int(grp["rank"].min())
        minzoom = int(grp["minzoom"].min())
        for i in range(parts.size):
            out.append((name, kind, rank, minzoom, float(shapely.get_x(mid[i])), float(shapely.get_y(mid[i])),
                        float(angle[i]), float(lengths[i])))
    df = pd.DataFrame(out, columns=cols)
    df = df.sort_values(["rank", "length_deg"], ascending=[True, False], kind="stable")
    return df.reset_index(drop=True)


#: Colours of the base map (shared by the MapLibre style and the Folium map).
BASE_COLORS: Final[dict[str, str]] = {
    "background": "#f4f1ea", "landuse": "#ebe4d8", "green": "#cfe8c0", "water": "#aad3df",
    "waterway": "#8cc4d6", "building": "#d9d0c7", "railway": "#8a8a8a", "road_major": "#f7c77a",
    "road_secondary": "#fde8a8", "road_minor": "#ffffff", "road_service": "#ffffff", "road_path": "#c9b8a8",
    "road_casing": "#b9ad9d", "boundary": "#9e7bb5", "place_text": "#333333", "street_text": "#555555",
    "halo": "#ffffff",
}
#: Line widths of the road classes in pixels at zoom 12 and zoom 17.
ROAD_WIDTHS: Final[dict[str, tuple[float, float]]] = {
    "major": (2.0, 12.0), "secondary": (1.4, 9.0), "minor": (0.6, 6.0), "service": (0.4, 3.5),
    "path": (0.3, 1.5),
}
#: CSS font family the browser draws CJK labels with (``localIdeographFontFamily``).
LOCAL_CJK_FONTS: Final = ("'Noto Sans CJK SC', 'Source Han Sans SC', 'Microsoft YaHei', 'PingFang SC', "
                          "sans-serif")


def _filter(layer: str, *more: Any) -> list[Any]:
    return ["all", ["==", ["get", "layer"], layer], *more]


def _road_layers() -> list[dict[str, Any]]:
    layers: list[dict[str, Any]] = []
    c = BASE_COLORS
    for casing in (True, False):
        for kind in ("path", "service", "minor", "secondary", "major"):
            w12, w17 = ROAD_WIDTHS[kind]
            if casing and kind == "path":
                continue
            width = ["interpolate", ["exponential", 1.5], ["zoom"], 12, w12 + (1 if casing else 0),
                     17, w17 + (2 if casing else 0)]
            layers.append({
                "id": f"road-{kind}{'-casing' if casing else ''}", "type": "line", "source": "base",
                "minzoom": ROAD_CLASSES[{"major": "primary", "secondary": "secondary", "minor": "residential",
                                         "service": "service", "path": "footway"}[kind]][2],
                "filter": _filter("road", ["==", ["get", "kind"], kind]),
                "layout": {"line-cap": "round", "line-join": "round"},
                "paint": {"line-color": c["road_casing"] if casing else c[f"road_{kind}"],
                          "line-width": width,
                          **({"line-dasharray": [2, 1.5]} if kind == "path" else {})},
            })
    return layers


def basemap_style(
    source_url: str, *, glyphs_url: str | None = None, name: str = "geo_planner base map"
) -> dict[str, Any]:
    """A MapLibre GL style (version 8) for the base map file.

    Parameters
    ----------
    source_url
        URL of ``basemap.geojson`` as the browser reaches it (relative URLs are resolved by
        the page), e.g. ``/runs/{id}/basemap/basemap.geojson``.
    glyphs_url
        Glyph URL template with ``{fontstack}`` and ``{range}``
        (:func:`geo_planner.glyphs.glyph_range`); the style has no text layers without it.
        Chinese text is drawn by the browser with :data:`LOCAL_CJK_FONTS`: create the map with
        ``localIdeographFontFamily`` set to it (MapLibre's default is ``sans-serif``, which also works).
    name
        The style's name.

    Returns
    -------
    dict
        The style; ``json.dumps`` it for a client.
    """
    c = BASE_COLORS
    layers: list[dict[str, Any]] = [
        {"id": "background", "type": "background", "paint": {"background-color": c["background"]}},
        {"id": "landuse", "type": "fill", "source": "base", "minzoom": 11, "filter": _filter("landuse"),
         "paint": {"fill-color": c["landuse"]}},
        {"id": "green", "type": "fill", "source": "base", "minzoom": 10, "filter": _filter("green"),
         "paint": {"fill-color": c["green"]}},
        {"id": "water", "type": "fill", "source": "base", "filter": _filter("water"),
         "paint": {"fill-color": c["water"]}},
        {"id": "waterway", "type": "line", "source": "base", "filter": _filter("waterway"),
         "paint": {"line-color": c["waterway"],
                   "line-width": ["interpolate", ["linear"], ["zoom"], 10, 1, 16, 4]}},
        {"id": "building", "type": "fill", "source": "base", "minzoom": 14, "filter": _filter("building"),
         "paint": {"fill-color": c["building"], "fill-outline-color": "#c4b8ab"}},
        {"id": "railway", "type": "line", "source": "base", "minzoom": 9,
         "filter": _filter("railway", ["!", ["in", "tunnel", ["get", "kind"]]]),
         "paint": {"line-color": c["railway"], "line-width": 1.6, "line-dasharray": [3, 2]}},
        {"id": "railway-tunnel", "type": "line", "source": "base", "minzoom": 12,
         "filter": _filter("railway", ["in", "tunnel", ["get", "kind"]]),
         "paint": {"line-color": c["railway"], "line-width": 1.0, "line-opacity": 0.5,
                   "line-dasharray": [1, 2]}},
        *_road_layers(),
        {"id": "boundary", "type": "line", "source": "base", "filter": _filter("boundary"),
         "paint": {"line-color": c["boundary"], "line-dasharray": [4, 2, 1, 2],
                   "line-width": ["interpolate", ["linear"], ["zoom"], 10, 0.8, 16, 2]}},
    ]
    style: dict[str, Any] = {
        "version": 8, "name": name,
        "metadata": {"geo_planner:localIdeographFontFamily": LOCAL_CJK_FONTS,
                     "attribution": "© OpenStreetMap contributors (ODbL)"},
        "sources": {"base": {"type": "geojson", "data": source_url,
                             "attribution": "© OpenStreetMap contributors (ODbL)"}},
        "layers": layers,
    }
    if glyphs_url:
        style["glyphs"] = glyphs_url
        text = {"text-font": [GLYPH_FONT], "text-field": ["get", "name"]}
        halo = {"text-halo-color": c["halo"], "text-halo-width": 1.5}
        layers += [
            {"id": "street-label", "type": "symbol", "source": "base", "minzoom": 13,
             "filter": _filter("road", ["!=", ["get", "name"], ""], ["<=", ["get", "rank"], 3]),
             "layout": {**text, "symbol-placement": "line", "text-size": 12,
                        "symbol-sort-key": ["get", "rank"],
                        "text-max-angle": 30},
             "paint": {"text-color": c["street_text"], **halo}},
            *[{"id": f"place-label-z{z}", "type": "symbol", "source": "base", "minzoom": z,
               "filter": _filter("place", ["==", ["get", "minzoom"], z]),
               "layout": {**text, "symbol-sort-key": ["get", "rank"],
                          "text-size": ["match", ["get", "rank"], 1, 16, 2, 14, 3, 13, 12]},
               "paint": {"text-color": c["place_text"], **halo}}
              for z in sorted({mz for _, mz in PLACE_RANKS.values()})],
        ]
    return style
