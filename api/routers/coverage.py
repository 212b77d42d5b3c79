"""Coverage questions: gaps by area and by branch, what serves a point, dispersed members of a branch."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

import numpy as np

from fastapi import APIRouter, Query

from geo_planner.coverage import point_coverage
from geo_planner.errors import InputError, NotFoundError, Problem
from geo_planner.privacy import small_cell_rule

from ..deps import NetworksDep, Planner, StoreDep, Viewer
from ..schemas import (
    AreaCoverage,
    BranchCoverage,
    CoverageByArea,
    CoverageByBranch,
    DispersedMember,
    DispersedMembers,
    FacilityWithin,
    PointCoverage,
    records,
)

router = APIRouter(prefix="/runs/{run_id}", tags=["coverage"])

DISPERSED_COLUMNS = [
    "id", "name", "status", "age", "address", "township", "community", "lon", "lat", "walk_min_branch",
    "branch_status", "dispersion_reason", "dispersion_note", "member_city", "member_county",
    "meeting_township",
]


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
    1–4 people is shown anywhere. Share of members within the thresholds (station walk, branch walk, hospital drive), medians and
    90th percentiles per area, worst station coverage first; members without a time are counted apart.
    """
    df = store.run_table(run_id, "coverage_by_area")
    if area:
        name = area.strip()
        df = df[(df["area"] == name) | ((df["level"] == "community") & (df["township"] == name))]
        if df.empty:
            raise NotFoundError(f"no area named {name!r} in run {run_id!r}")
    if level:
        df = df[df["level"] == level]
    if role == "viewer":
        df = small_cell_rule(df)
    return CoverageByArea(run_id=run_id, area=area, areas=[AreaCoverage(**r) for r in records(df)])


@router.get("/coverage/branches", response_model=CoverageByBranch,
            summary="Coverage and dispersion by branch")
def coverage_by_branch(run_id: str, store: StoreDep, role: Viewer) -> CoverageByBranch:
    """One row per branch: members, coverage shares and times, dispersed members and the flag."""
    df = store.run_table(run_id, "coverage_by_branch")
    if role == "viewer":
        df = small_cell_rule(df)
    return CoverageByBranch(run_id=run_id, branches=[BranchCoverage(**r) for r in records(df)])


def check_point_in_network(walk: Any, lon: float, lat: float, margin_m: float) -> None:
    """Refuse (422) a point outside the run's road network area (its extent plus the snapping distance).

    Raises
    ------
    InputError
        Naming the ``lon``/``lat`` fields and the area the run covers.
    """
    x = np.asarray(walk.node_lon, dtype="float64")
    y = np.asarray(walk.node_lat, dtype="float64")
    if not (math.isfinite(lon) and math.isfinite(lat)) or x.size == 0:
        raise InputError(Problem("request", None, "lon,lat", "give finite WGS-84 degrees"))
    dlat = margin_m / 111_320.0
    dlon = margin_m / (111_320.0 * max(0.01, math.cos(math.radians(float(np.nanmean(y))))))
    w, e, s, n = np.nanmin(x) - dlon, np.nanmax(x) + dlon, np.nanmin(y) - dlat, np.nanmax(y) + dlat
    if not (w <= lon <= e and s <= lat <= n):
        raise InputError(Problem(
            "request", None, "lon,lat",
            f"({lon:g}, {lat:g}) lies outside this run's road network (lon {w:.4f}–{e:.4f}, "
            f"lat {s:.4f}–{n:.4f}); ask about a point inside it"))


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
    ctx = networks.get(store, run_id)
    check_point_in_network(ctx.walk, lon, lat, ctx.scenario.network.max_snap_m)
    if ctx.point_index is not None:  # a snap and a lookup (precomputed when the run finished)
        res = ctx.point_index.query(ctx.walk, ctx.drive, lon, lat)
    else:
        res = point_coverage(
            ctx.walk, ctx.drive, lon, lat, stations=ctx.stations, branches=ctx.branches, hospitals=ctx.hospitals,
            thresholds=ctx.scenario.thresholds, max_snap_m=ctx.scenario.network.max_snap_m,
        )
    return PointCoverage(
        run_id=run_id, lon=lon, lat=lat, on_network=bool(res["on_network"]), snap_m=res.get("snap_m"),
        thresholds=ctx.scenario.thresholds,
        stations=[FacilityWithin(**f) for f in res.get("stations", [])],
        branches=[FacilityWithin(**f) for f in res.get("branches", [])],
        hospitals=[FacilityWithin(**f) for f in res.get("hospitals", [])],
        nearest_station_min=res.get("nearest_station_min"),
    )


@router.get("/branches/{branch_id}/dispersed", response_model=DispersedMembers, tags=["coverage"],
            summary="Dispersed members of a branch (planner)")
def dispersed_members(run_id: str, branch_id: str, store: StoreDep, role: Planner) -> DispersedMembers:
    """Dispersed members of a branch (planners only).

    Members of the branch who live far from its meeting place, in another township or another city,
    with the reason (``remote``, ``cross_township``, ``far``) — member-level data.
    """
    branches = store.run_table(run_id, "branches")
    match = branches[branches["id"] == branch_id]
    if match.empty:
        raise NotFoundError(f"no branch {branch_id!r} in run {run_id!r}")
    members = store.run_table(run_id, "members")
    if "dispersed" not in members.columns:
        raise NotFoundError(f"run {run_id!r} has no dispersion results (made by an older version)")
    mine = members[members["branch_id"] == branch_id]
    flag = mine["dispersed"].astype(str).str.strip().str.lower().isin(["true", "1", "yes"])
    rows = records(mine[flag], DISPERSED_COLUMNS)
    return DispersedMembers(
        run_id=run_id, branch_id=branch_id, branch_name=str(match["name"].iloc[0]), members=int(len(mine)),
        dispersed=[DispersedMember(**r) for r in rows],
    )
