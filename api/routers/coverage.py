"""Coverage questions: gaps by area and by branch, what serves a point, dispersed members of a branch."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request

from geo_planner.errors import NotFoundError
from geo_planner.results import dispersed_of_branch, point_services, table_for_role

from ..deps import NetworksDep, Planner, StoreDep, Viewer, audit
from ..schemas import (
    AreaCoverage,
    BranchCoverage,
    CoverageByArea,
    CoverageByBranch,
    DispersedMember,
    DispersedMembers,
    FacilityWithin,
    FunctionAtPoint,
    PointCoverage,
    records,
)

router = APIRouter(prefix="/runs/{run_id}", tags=["coverage"])



@router.get("/coverage", response_model=CoverageByArea, summary="Coverage gaps by area")
def coverage_by_area(
    run_id: str,
    store: StoreDep,
    role: Viewer,
    area: Annotated[
        str | None,
        Query(description="a 社区/村 or 街道/乡镇 name; a township also lists its communities",
              examples=["花园社区"]),
    ] = None,
    level: Annotated[Literal["township", "community"] | None, Query(description="only this level")] = None,
) -> CoverageByArea:
    """Coverage gaps by area.

    Viewers: an area of fewer than 5 members shows no number (``suppressed``), and no count of
    1–4 people is shown anywhere. Share of members within the thresholds (station walk, branch
    walk, hospital drive), medians and 90th percentiles per area, worst station coverage first;
    members without a time are counted apart.
    """
    df = table_for_role(store, run_id, "coverage_by_area", role)  # small cells hidden before filtering
    if area:
        name = area.strip()
        df = df[(df["area"] == name) | ((df["level"] == "community") & (df["township"] == name))]
        if df.empty:
            raise NotFoundError(f"no area named {name!r} in run {run_id!r}")
    if level:
        df = df[df["level"] == level]
    return CoverageByArea(run_id=run_id, area=area, areas=[AreaCoverage(**r) for r in records(df)])


@router.get("/coverage/branches", response_model=CoverageByBranch,
            summary="Coverage and dispersion by branch")
def coverage_by_branch(run_id: str, store: StoreDep, role: Viewer) -> CoverageByBranch:
    """One row per branch: members, coverage shares and times, dispersed members and the flag."""
    df = table_for_role(store, run_id, "coverage_by_branch", role)
    return CoverageByBranch(run_id=run_id, branches=[BranchCoverage(**r) for r in records(df)])


@router.get("/coverage/point", response_model=PointCoverage, summary="What serves a location")
def coverage_at_point(
    run_id: str,
    store: StoreDep,
    networks: NetworksDep,
    role: Viewer,
    lon: Annotated[float, Query(ge=-180, le=180, description="WGS-84 longitude, degrees")],
    lat: Annotated[float, Query(ge=-90, le=90, description="WGS-84 latitude, degrees")],
) -> PointCoverage:
    """Tell what serves a location.

    Stations and branch meeting places within the walking thresholds and hospitals within the
    driving threshold of the point, with travel minutes, nearest first (the run's roads and thresholds).
    """
    run = networks.get(store, run_id)
    res = point_services(run, lon, lat)
    return PointCoverage(
        run_id=run_id, lon=lon, lat=lat, on_network=bool(res["on_network"]), snap_m=res.get("snap_m"),
        thresholds=run.scenario.thresholds,
        stations=[FacilityWithin(**f) for f in res.get("stations", [])],
        branches=[FacilityWithin(**f) for f in res.get("branches", [])],
        hospitals=[FacilityWithin(**f) for f in res.get("hospitals", [])],
        nearest_station_min=res.get("nearest_station_min"),
        functions={f: FunctionAtPoint(threshold_min=v["threshold_min"], nearest_min=v["nearest_min"],
                                      places=[FacilityWithin(**p) for p in v["places"]])
                   for f, v in res.get("functions", {}).items()},
    )


# audit: member-level
@router.get("/branches/{branch_id}/dispersed", response_model=DispersedMembers, tags=["coverage"],
            summary="Dispersed members of a branch (planner)")
def dispersed_members(
    run_id: str, branch_id: str, request: Request, store: StoreDep, role: Planner
) -> DispersedMembers:
    """Dispersed members of a branch (planners only).

    Members of the branch who live far from its meeting place, in another township or another city,
    with the reason (``remote``, ``cross_township``, ``far``) — member-level data.
    """
    name, n_members, dispersed = dispersed_of_branch(store, run_id, branch_id)
    audit(request, run_id, "dispersed", len(dispersed), detail=f"branch {branch_id}")
    return DispersedMembers(
        run_id=run_id, branch_id=branch_id, branch_name=name, members=n_members,
        dispersed=[DispersedMember(**r) for r in records(dispersed)],
    )
