"""Comparing two finished runs (``geo_planner.compare``): new, gone, moved members and coverage."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from geo_planner.compare import compare_runs, comparison_workbook
from geo_planner.pipl import list_people
from geo_planner.vocab import MEDIA_TYPES

from ..deps import StoreDep, Viewer, audit
from ..schemas import CompareArea, CompareOut, ErrorResponse, records

router = APIRouter(prefix="/runs/{run_id}", tags=["compare"])

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
