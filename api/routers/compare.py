"""Comparing two finished runs (``geo_planner.compare``): new, gone, moved members and coverage."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from geo_planner.compare import compare_runs, comparison_workbook
from geo_planner.compare_map import difference_areas, difference_members
from geo_planner.pipl import list_people
from geo_planner.roster_update import worklist_workbook
from geo_planner.vocab import MEDIA_TYPES

from ..deps import Planner, StoreDep, Viewer, audit
from ..schemas import CompareArea, CompareOut, ErrorResponse, records

router = APIRouter(prefix="/runs/{run_id}", tags=["compare"])

WithQuery = Annotated[
    str, Query(alias="with", min_length=1, max_length=200, description="the earlier run's id")
]
FormatQuery = Annotated[
    Literal["json", "xlsx"], Query(alias="format", description="json, or xlsx: one sheet per part")
]


# audit: member-level (for planners: the member lists)
@router.get(
    "/compare",
    response_model=CompareOut,
    summary="What changed since another run",
    responses={
        200: {
            "content": {"application/json": {}, MEDIA_TYPES["xlsx"]: {}},
            "description": "the comparison (JSON, or a workbook with ?format=xlsx)",
        },
        404: {"model": ErrorResponse},
    },
)
def compare(
    run_id: str,
    request: Request,
    store: StoreDep,
    role: Viewer,
    with_: Annotated[
        str, Query(alias="with", min_length=1, max_length=200, description="the earlier run's id")
    ],
    fmt: FormatQuery = "json",
) -> CompareOut | Response:
    """Members new, gone, moved (home more than 100 m away) or in another branch, and coverage before/after.

    Members are matched by id, else by name and birth month (``matched_by``, ``note``). Viewers get
    aggregates (no count of 1–4 people); planners also the member lists and the work list (members
    who moved out of the station circle or away from their branch).
    """
    res = compare_runs(store, run_id, with_, role=role)
    if res.get("lists") is not None:
        audit(request, run_id, "compare_lists", list_people(res["lists"]), detail=f"with {with_} ({fmt})")
    if fmt == "xlsx":
        return Response(
            comparison_workbook(res),
            media_type=MEDIA_TYPES["xlsx"],
            headers={"Content-Disposition": f'attachment; filename="compare_{run_id}_{with_}.xlsx"'},
        )
    cov = res["coverage"]
    lists = res.get("lists")
    return CompareOut(
        run_id=run_id,
        with_=with_,
        members=res["members"],
        matched_by=res["matched_by"],
        note=res["note"],
        coverage={
            "before": cov["before"],
            "after": cov["after"],
            "by_area": [CompareArea(**r) for r in records(cov["by_area"])],
        },
        moved_out_of_circle=res["moved_out_of_circle"],
        moved_into_circle=res["moved_into_circle"],
        moved_m=res["moved_m"],
        lists=None if lists is None else {k: records(v) for k, v in lists.items()},
    )


class DifferenceMembers(BaseModel):
    """Members coded by the change of their station coverage, as parallel columns (planners)."""

    model_config = ConfigDict(extra="allow")

    n: int = Field(description="members drawn (with a point)")
    unplaced: int = Field(description="members without a point (not drawn, counted)")
    id: list[str]
    lon: list[float]
    lat: list[float]
    change: list[int] = Field(description="code into codes")
    codes: list[str]
    counts: dict[str, int]


class DifferenceAreas(BaseModel):
    """The privacy grid with the coverage share before and after (GeoJSON FeatureCollection)."""

    model_config = ConfigDict(extra="allow")

    type: str = "FeatureCollection"
    features: list[dict[str, Any]]
    properties: dict[str, Any] = {}


def _no_store(body: dict[str, Any]) -> JSONResponse:
    return JSONResponse(body, headers={"Cache-Control": "private, no-store"})


# audit: member-level
@router.get(
    "/compare/members",
    response_model=DifferenceMembers,
    summary="The difference map's members: newly covered, newly uncovered, new, gone (planner)",
    responses={404: {"model": ErrorResponse}},
)
def compare_members(
    run_id: str, request: Request, store: StoreDep, role: Planner, with_: WithQuery
) -> JSONResponse:
    """Members coded by the change of station coverage since run ``with``.

    Every member of this run with a point (matched as ``/compare`` matches them), and the members
    gone at their old homes.
    """
    body = difference_members(store, run_id, with_)
    n_people = int(body["n"]) + int(body["unplaced"])
    audit(request, run_id, "member_layer", n_people, detail=f"difference map with {with_}")
    return _no_store(body)


@router.get(
    "/compare/areas",
    response_model=DifferenceAreas,
    summary="The difference map's areas: coverage share before and after on the privacy grid",
    responses={404: {"model": ErrorResponse}},
)
def compare_areas(run_id: str, store: StoreDep, role: Viewer, with_: WithQuery) -> JSONResponse:
    """Answer the privacy grid with each cell's station coverage share in run ``with``, in this run, and the change.

    Viewers get the small-cell rule (shares in whole per cent).
    """
    return _no_store(difference_areas(store, run_id, with_, role=role))


# audit: member-level
@router.get(
    "/compare/worklist",
    summary="The planner's work list and member lists as a workbook with Chinese headers (planner)",
    response_class=Response,
    responses={
        200: {"content": {MEDIA_TYPES["xlsx"]: {}}, "description": "the workbook"},
        404: {"model": ErrorResponse},
    },
)
def compare_worklist(
    run_id: str, request: Request, store: StoreDep, role: Planner, with_: WithQuery
) -> Response:
    """Write the work list and the member lists since run ``with`` as XLSX, Chinese headers.

    工作清单 (members who moved out of the station circle or away from their branch), 新增, 减少, 搬家
    and 转换支部, one sheet each, for the "update the roster" flow.
    """
    res = compare_runs(store, run_id, with_, role=role)
    audit(request, run_id, "compare_lists", list_people(res["lists"]), detail=f"work list with {with_} (xlsx)")
    return Response(
        worklist_workbook(res),
        media_type=MEDIA_TYPES["xlsx"],
        headers={"Content-Disposition": f'attachment; filename="worklist_{run_id}_{with_}.xlsx"'},
    )
