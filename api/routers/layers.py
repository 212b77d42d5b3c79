"""A run's map layers and member tables for the workspace map (MapLibre GL in the browser).

Members' homes, names and details are member-level data: planners only, and each such route
is marked ``# audit: member-level`` (the audit log records who viewed them). Viewers get the
grid counts under the small-cell rule instead; facilities and roads are public.
The shapes are made by :mod:`geo_planner.weblayers`; the routes only call it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from geo_planner import weblayers
from geo_planner.placements import place_run_member
from geo_planner.store import Store

from ..deps import CurrentUser, NetworksDep, Planner, StoreDep, Viewer, audit
from ..schemas import records

router = APIRouter(prefix="/runs/{run_id}", tags=["layers"])

MemberId = Annotated[str, Path(max_length=200, description="member id (编号)")]


class MemberColumns(BaseModel):
    """Members as parallel columns (codes into ``labels``); no name, address or phone."""

    model_config = ConfigDict(extra="allow")

    n: int = Field(description="members drawn (with a point)")
    unplaced: int = Field(description="members without a point (not drawn, counted)")
    id: list[str]
    lon: list[float]
    lat: list[float]
    branch: list[int]
    township: list[int]
    community: list[int]
    precision: list[int]
    reasons: list[int] = Field(description="bit mask over reason_codes")
    covered: list[int] = Field(description="bit 0 station, bit 1 branch, bit 2 hospital")
    reason_codes: list[str]
    labels: dict[str, list[str]]


class GeoJSONLayer(BaseModel):
    """A GeoJSON FeatureCollection (WGS-84) with collection-level ``properties``."""

    model_config = ConfigDict(extra="allow")

    type: str = "FeatureCollection"
    features: list[dict[str, Any]]
    properties: dict[str, Any] = {}


class MemberRows(BaseModel):
    """Member rows (planners only)."""

    model_config = ConfigDict(extra="allow")

    run_id: str
    members: list[dict[str, Any]]


def _json(body: dict[str, Any]) -> JSONResponse:
    return JSONResponse(body, headers={"Cache-Control": "private, no-store"})


def _layer(store: Store, run_id: str, layer: str) -> Response:
    """A layer made once per run (:func:`geo_planner.weblayers.layer_json`), sent as it was kept."""
    return Response(weblayers.layer_json(store, run_id, layer), media_type="application/json",
                    headers={"Cache-Control": "private, no-store"})


# audit: member-level
@router.get("/layers/members", response_model=MemberColumns, summary="Members for the map (planner)")
def member_layer(run_id: str, request: Request, store: StoreDep, role: Planner) -> Response:
    """Every placed member's point with coded branch, 街道, 社区, precision, reasons and coverage."""
    resp = _layer(store, run_id, "members")
    n, unplaced = weblayers.member_layer_counts(bytes(resp.body))
    audit(request, run_id, "member_layer", n + unplaced)
    return resp


@router.get("/layers/grid", response_model=GeoJSONLayer, summary="Member counts on the privacy grid")
def grid_layer(run_id: str, store: StoreDep, role: Viewer) -> Response:
    """Members counted on the fixed viewer grid; cells of fewer than 5 members are not shown."""
    return _layer(store, run_id, "grid")


@router.get("/layers/facilities", response_model=GeoJSONLayer, summary="Stations, hospitals, branch meeting places")
def facility_layer(run_id: str, store: StoreDep, role: Viewer) -> Response:
    """The run's stations, hospitals and branch meeting places (public places)."""
    return _layer(store, run_id, "facilities")


@router.get("/layers/roads", response_model=GeoJSONLayer, summary="The run's walking road network")
def road_layer(run_id: str, store: StoreDep, networks: NetworksDep, role: Viewer) -> JSONResponse:
    """The walking network as straight node-to-node segments (for orientation on the map)."""
    return _json(weblayers.road_lines(networks.get(store, run_id).walk))


# audit: member-level
@router.get("/members/{member_id}", response_model=dict[str, Any], summary="One member (planner)")
def member(run_id: str, member_id: MemberId, request: Request, store: StoreDep, role: Planner) -> JSONResponse:
    """A member's details: branch, address, placement, travel times, coverage and dispersion."""
    body = weblayers.member_details(store, run_id, member_id)
    audit(request, run_id, "member_details", 1)
    return _json(body)


# audit: member-level
@router.get("/dispersed", response_model=MemberRows, summary="Every dispersed member (planner)")
def dispersed(run_id: str, request: Request, store: StoreDep, role: Planner) -> JSONResponse:
    """Members living dispersed from their branch, with the reason (member-level data)."""
    df = weblayers.dispersed_members(store, run_id)
    audit(request, run_id, "dispersed", len(df), detail="all branches")
    return _json({"run_id": run_id, "members": records(df)})


# audit: member-level
@router.get("/review", response_model=MemberRows, summary="Members placed only to a township or county (planner)")
def location_review(run_id: str, request: Request, store: StoreDep, role: Planner) -> JSONResponse:
    """The location review list: members without a point or placed only to a 街道/乡镇 or county, with
    what their address matched (member-level data)."""
    df = weblayers.review_members(store, run_id)
    audit(request, run_id, "location_review", len(df))
    return _json({"run_id": run_id, "members": records(df)})


class PointIn(BaseModel):
    """A point clicked on the map (WGS-84)."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)


class PlacementOut(BaseModel):
    """A kept manual placement (the address it is keyed by is not echoed)."""

    member_id: str
    lon: float
    lat: float
    by: str
    time: str
    geocode_precision: str = "manual"


@router.put("/members/{member_id}/placement", response_model=PlacementOut,
            summary="Place a member by hand (planner): kept for later runs")
def place_member(run_id: str, member_id: MemberId, body: PointIn, store: StoreDep, role: Planner,
                 me: CurrentUser) -> PlacementOut:
    """Keep the point a planner clicked for this member, keyed by the member id and the address text as
    written; every later run places the member there with ``geocode_precision = manual``."""
    pl = place_run_member(store, run_id, member_id, body.lon, body.lat, me.name)
    return PlacementOut(member_id=pl.member_id, lon=pl.lon, lat=pl.lat, by=pl.by, time=pl.time)
