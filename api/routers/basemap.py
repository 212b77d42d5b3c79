"""The run's own base map for web maps: its features (GeoJSON), a MapLibre GL style, and the glyphs.

Viewers and up may read a run's base map: it is OpenStreetMap data of the run's extracts only,
no person is in it. The glyphs (Latin letters, digits and punctuation drawn by MapLibre) are
public like the map pages' JavaScript: they are fonts, made by the library.

A MapLibre client loads ``GET /runs/{run_id}/basemap/style.json``: the workspace's pages by their
session cookie (same origin, nothing to add), other clients with their bearer token on every request
(MapLibre's ``transformRequest``); create the map with
``localIdeographFontFamily`` set to the style's ``metadata["geo_planner:localIdeographFontFamily"]``
so Chinese names are drawn with the browser's own fonts.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import FileResponse

from geo_planner.glyphs import GLYPH_FONT, glyph_range
from geo_planner.results import basemap_file, basemap_style_of

from ..deps import StoreDep, Viewer
from ..schemas import ErrorResponse

router = APIRouter(tags=["maps"])

_ERRORS: dict[int | str, dict[str, Any]] = {404: {"model": ErrorResponse}, 409: {"model": ErrorResponse}}

#: The glyph ranges MapLibre asks for: 256 code points from a multiple of 256, below U+10000
#: (the schema lists them, so a well-formed request is one the route can answer).
GLYPH_RANGES: tuple[str, ...] = tuple(f"{s}-{s + 255}" for s in range(0, 65536, 256))
GlyphRange = Literal[GLYPH_RANGES]  # type: ignore[valid-type]


@router.get(
    "/runs/{run_id}/basemap/basemap.geojson",
    response_class=FileResponse,
    summary="The run's base map features (GeoJSON)",
    responses={200: {"content": {"application/geo+json": {}}, "description": "one FeatureCollection, WGS-84"},
               **_ERRORS},
)
def basemap_features(run_id: str, store: StoreDep, role: Viewer) -> FileResponse:
    """Streets (by class, with names), 街道/社区 names, water, green, built-up areas, buildings, railways
    and boundaries of the run's OSM extracts; every feature has ``layer``, ``kind``, ``name``,
    ``rank`` and ``minzoom``."""
    return FileResponse(basemap_file(store, run_id), media_type="application/geo+json",
                        headers={"Cache-Control": "private, max-age=3600"})


@router.get(
    "/runs/{run_id}/basemap/style.json",
    summary="A MapLibre GL style for the run's base map",
    responses={200: {"content": {"application/json": {}}, "description": "a MapLibre style (version 8)"},
               **_ERRORS},
)
def basemap_style_json(run_id: str, request: Request, store: StoreDep, role: Viewer) -> dict[str, Any]:
    """The style, its source and glyph URLs pointing at this service."""
    data_url = str(request.url_for("basemap_features", run_id=run_id))
    glyphs = str(request.url_for("basemap_glyphs", fontstack="FONTSTACK", range_="RANGE"))
    glyphs = glyphs.replace("FONTSTACK", "{fontstack}").replace("RANGE", "{range}")
    return basemap_style_of(store, run_id, data_url, glyphs)


@router.get(
    "/basemap/glyphs/{fontstack}/{range_}.pbf",
    response_class=Response,
    summary="MapLibre glyphs (signed distance fields) for Latin letters, digits and punctuation",
    responses={200: {"content": {"application/x-protobuf": {}}, "description": "a glyph range"},
               422: {"model": ErrorResponse}},
)
def basemap_glyphs(
    fontstack: str,
    range_: GlyphRange = Path(description="a range of 256 code points such as 0-255 or 256-511"),
) -> Response:
    """Glyphs of 256 code points (one font stack is made: every name gets the same glyphs)."""
    start = int(range_.split("-", 1)[0])
    body = glyph_range(GLYPH_FONT, start)
    return Response(body, media_type="application/x-protobuf",
                    headers={"Cache-Control": "public, max-age=86400"})
