"""Raw gazetteer records from one OSM extract: places, boundaries, roads, POIs and house numbers.

The extract is read by :func:`geo_planner.osm.read_elements`; the records get their
administrative context afterwards (:func:`geo_planner.geocode.gazetteer._add_context`).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np

from ..osm import OsmElement, assemble_rings, read_elements, way_coords
from .geometry import _line_length_m, _polygon_centroid
from .parse import _canon_township, normalise_address

logger = logging.getLogger(__name__)

_POI_KEYS: Final[tuple[str, ...]] = (
    "amenity", "healthcare", "shop", "office", "tourism", "leisure", "craft", "historic", "club",
    "emergency", "government", "building", "landuse", "man_made",
)  # fmt: skip
_PLACE_LEVEL: Final[dict[str, str]] = {
    "city": "county",  # in China's OSM, place=city nodes inside an extract are mostly county seats/districts
    "county": "county",
    "district": "county",
    "town": "township",
    "suburb": "township",
    "township": "township",
    "quarter": "community",
    "village": "community",
    "neighbourhood": "community",
}
_PLACE_SKIP: Final = frozenset(
    {"country", "state", "province", "region", "archipelago", "continent", "ocean", "sea"}
)
_COMMUNITY_SEED_KINDS: Final = ("quarter", "village", "neighbourhood")
_LATIN_TAIL_RE: Final = re.compile(r"[A-Za-z][A-Za-z .'-]*$")  # 凤岗镇 (Fenggang) → 凤岗镇
_TOWNSHIP_SEED_KINDS: Final = ("town", "suburb")
_ADMIN_LEVEL: Final[dict[str, str]] = {"5": "prefecture", "6": "county", "7": "township", "8": "township",
                                       "9": "community", "10": "community"}  # fmt: skip


def _name_of(tags: dict[str, str]) -> str:
    name = tags.get("name") or tags.get("name:zh") or tags.get("name:zh-Hans") or ""
    return normalise_address(name)


def _poi_tag(tags: dict[str, str]) -> str:
    for key in _POI_KEYS:
        if key in tags:
            return f"{key}={tags[key]}"
    if tags.get("railway") in ("station", "halt") or tags.get("public_transport") == "station":
        return f"railway={tags.get('railway', 'station')}"
    return ""


def _records_from_osm(
    path: Path, source: str | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], tuple[float, float, float, float]]:
    """Turn one extract into raw gazetteer records (no admin context yet).

    Returns the records (at most one per tagged element, in file order), the
    township/community boundary polygons whose rings the extract holds completely
    (``name``, ``level``, ``geometry``, ``osm_id``, ``source``) and the extract's extent
    (:func:`_road_extent`).
    """
    coords, way_refs, tagged = read_elements(path)
    source = source or path.name
    areas = _admin_areas(tagged, coords, way_refs, source)
    records = [rec for el in tagged if (rec := _element_record(el, coords, way_refs, source)) is not None]
    logger.debug("%s: %d raw gazetteer records, %d boundary polygons", path, len(records), len(areas))
    return records, areas, _road_extent(tagged, coords)


def _road_extent(
    tagged: Sequence[OsmElement], coords: dict[str, tuple[float, float]]
) -> tuple[float, float, float, float]:
    """Min lon, min lat, max lon, max lat of the nodes of the extract's roads (``highway=*`` ways).

    The area its road network can measure — not of all nodes, since a boundary way reaches
    far beyond the extract. NaN when the extract has no roads.
    """
    road_nodes = {r for el in tagged if el.kind == "way" and "highway" in el.tags for r in el.refs}
    pts = [coords[r] for r in road_nodes if r in coords]
    if not pts:
        return math.nan, math.nan, math.nan, math.nan
    xy = np.asarray(pts, dtype=np.float64).reshape(-1, 2)
    return float(xy[:, 0].min()), float(xy[:, 1].min()), float(xy[:, 0].max()), float(xy[:, 1].max())


def _record(
    el: OsmElement, source: str, name: str, kind: str, level: str, lon: float, lat: float, tag: str,
    **extra: Any,
) -> dict[str, Any] | None:
    """Return one raw record (``None`` for a point without finite coordinates)."""
    if not (math.isfinite(lon) and math.isfinite(lat)):
        return None
    rec = {
        "name": name, "kind": kind, "level": level, "lon": lon, "lat": lat, "tag": tag, "source": source,
        "osm_id": f"{el.kind}/{el.osm_id}", "street": "", "housenumber": "",
        "_addr_city": normalise_address(el.tags.get("addr:city", "")),
        "_addr_district": normalise_address(el.tags.get("addr:district", "")),
        "_addr_province": normalise_address(el.tags.get("addr:province", "")),
        "_length_m": 0.0,
    }  # fmt: skip
    rec.update(extra)
    return rec


def _element_record(
    el: OsmElement, coords: dict[str, tuple[float, float]], way_refs: dict[str, tuple[str, ...]], source: str
) -> dict[str, Any] | None:
    """Return the raw record of one tagged element: road, boundary, place, POI or house number (or none)."""
    tags = el.tags
    name = _name_of(tags)
    street = normalise_address(tags.get("addr:street", ""))
    housenumber = normalise_address(tags.get("addr:housenumber", ""))
    if not name and not (street and housenumber):
        return None
    if el.kind == "way" and "highway" in tags and name:  # a road: its middle vertex lies on it
        pts = way_coords(el.refs, coords)
        if len(pts) == 0:
            return None
        mid = pts[len(pts) // 2]
        return _record(el, source, name, "road", "street", float(mid[0]), float(mid[1]),
                       f"highway={tags['highway']}", _length_m=_line_length_m(pts))  # fmt: skip
    is_admin = el.kind == "relation" and tags.get("boundary") == "administrative"
    point = _element_point(el, coords, way_refs, admin=is_admin)
    if point is None:
        return None
    lon, lat = point
    place = tags.get("place", "")
    poi_tag = _poi_tag(tags)
    if is_admin and name:
        level = _ADMIN_LEVEL.get(tags.get("admin_level", ""))
        if level is None:
            return None
        return _record(el, source, name, f"admin_level={tags['admin_level']}", level, lon, lat,
                       "boundary=administrative")  # fmt: skip
    if place and name and place not in _PLACE_SKIP:
        return _record(el, source, name, place, _PLACE_LEVEL.get(place, "poi"), lon, lat, f"place={place}")
    if name and poi_tag:
        return _record(el, source, name, "poi", "poi", lon, lat, poi_tag, street=street,
                       housenumber=housenumber)  # fmt: skip
    if street and housenumber and el.kind != "relation":
        label = street + housenumber + ("号" if housenumber.isdigit() else "")
        return _record(el, source, name or label, "address", "poi", lon, lat, "addr:housenumber",
                       street=street, housenumber=housenumber)  # fmt: skip
    return None


def _element_point(
    el: OsmElement,
    coords: dict[str, tuple[float, float]],
    way_refs: dict[str, tuple[str, ...]],
    *,
    admin: bool,
) -> tuple[float, float] | None:
    """Return a node's own point, a closed way's centroid, an open way's middle vertex, a relation's label."""
    if el.kind == "node":
        return el.lon, el.lat
    if el.kind == "way":
        pts = way_coords(el.refs, coords)
        if len(pts) == 0:
            return None
        if len(el.refs) >= 4 and el.refs[0] == el.refs[-1] and len(pts) == len(el.refs):
            return _polygon_centroid(pts)
        mid = pts[len(pts) // 2]
        return float(mid[0]), float(mid[1])
    lon, lat = _relation_point(el, coords, way_refs, admin=admin)
    return (lon, lat) if math.isfinite(lon) else None


_AREA_LEVEL: Final[dict[str, str]] = {"7": "township", "8": "township", "9": "community", "10": "community"}


def _admin_areas(
    tagged: Sequence[OsmElement],
    coords: dict[str, tuple[float, float]],
    way_refs: dict[str, tuple[str, ...]],
    source: str,
) -> list[dict[str, Any]]:
    """Township/community ``boundary=administrative`` relations whose outer rings are complete.

    An extract usually cuts a boundary: only relations whose every outer way and node is in
    the file, joined into closed rings, become polygons; the others are left to the nearest
    place node.
    """
    import shapely

    out: list[dict[str, Any]] = []
    for el in tagged:
        tags = el.tags
        level = _AREA_LEVEL.get(tags.get("admin_level", ""))
        if el.kind != "relation" or tags.get("boundary") != "administrative" or level is None:
            continue
        name = _LATIN_TAIL_RE.sub("", _name_of(tags))
        outer = [(mtype, ref) for mtype, ref, role in el.members if mtype == "way" and role in ("outer", "")]
        if not name or not outer or any(ref not in way_refs for _, ref in outer):
            continue
        ways = [way_refs[ref] for _, ref in outer]
        rings = assemble_rings(ways)
        if sum(len(r) - 1 for r in rings) != sum(len(w) - 1 for w in ways):
            continue  # some way did not close into a ring
        polys = []
        for ring in rings:
            pts = way_coords(ring, coords)
            if len(pts) != len(ring):
                break
            polys.append(shapely.make_valid(shapely.Polygon(pts)))
        else:
            geom = shapely.union_all(polys)
            if not geom.is_empty and geom.area > 0:
                canon = _canon_township(name) if level == "township" else name
                out.append({"name": canon, "level": level, "geometry": geom,
                            "osm_id": f"relation/{el.osm_id}", "source": source})
    return out


def _relation_point(
    el: OsmElement,
    coords: dict[str, tuple[float, float]],
    way_refs: dict[str, tuple[str, ...]],
    *,
    admin: bool,
) -> tuple[float, float]:
    """Label/admin-centre node of a boundary, or the centroid of a multipolygon's largest outer ring."""
    for role in ("label", "admin_centre"):
        for mtype, ref, mrole in el.members:
            if mtype == "node" and mrole == role and ref in coords:
                return coords[ref]
    if admin:  # partial boundary rings would give a misleading centroid
        return math.nan, math.nan
    best: tuple[float, float] = (math.nan, math.nan)
    best_area = -1.0
    outer = [way_refs[ref] for mtype, ref, mrole in el.members
             if mtype == "way" and mrole in ("outer", "") and ref in way_refs]  # fmt: skip
    for refs in assemble_rings(outer):
        pts = way_coords(refs, coords)
        if len(pts) < 4 or len(pts) != len(refs):
            continue
        x, y = pts[:, 0], pts[:, 1]
        area = abs(float((x[:-1] * y[1:] - x[1:] * y[:-1]).sum())) / 2.0
        if area > best_area:
            best_area, best = area, _polygon_centroid(pts)
    return best
