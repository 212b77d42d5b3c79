"""Recommendations (new stations, joint branches, transfers, party groups …) as JSON or GeoJSON."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from geo_planner.pipl import member_ids
from geo_planner.privacy import is_viewer
from geo_planner.results import table_for_role
from geo_planner.store import Store
from geo_planner.vocab import Role

from ..deps import StoreDep, Viewer, audit
from ..schemas import Feature, FeatureCollection, PointGeometry, Recommendation, Recommendations, records

router = APIRouter(prefix="/runs/{run_id}", tags=["recommendations"])


def _split(value: Any) -> list[str]:
    if value is None:
        return []
    return [p for p in str(value).split(";") if p]


def _recommendations(store: Store, run_id: str, role: Role, kind: str | None) -> list[Recommendation]:
    # a viewer gets no member ids, names or homes in them (privacy.viewer_recommendations)
    df = table_for_role(store, run_id, "recommendations", role)
    if kind:
        df = df[df["kind"] == kind]
    out = []
    for r in records(df):
        if "member_ids" in r:
            r["member_ids"] = _split(r["member_ids"])
        r["branch_ids"] = _split(r.get("branch_ids"))
        for col in ("site_id", "site_name", "name", "city", "township", "rule", "method"):
            if r.get(col) is not None:
                r[col] = str(r[col])
        out.append(Recommendation(**r))
    return out


# audit: member-level (for planners: member ids and names in the rationales)
@router.get(
    "/recommendations",
    response_model=Recommendations | FeatureCollection,
    summary="Recommendations (JSON or GeoJSON)",
    responses={200: {"content": {"application/geo+json": {}}}},
)
def recommendations(
    run_id: str,
    request: Request,
    store: StoreDep,
    role: Viewer,
    format: Annotated[Literal["json", "geojson"], Query(description="json (default) or geojson")] = "json",
    kind: Annotated[str | None, Query(description="only this kind, e.g. new_station, joint_branch")] = None,
) -> Any:
    """Recommendations of the run.

    Each recommendation with its place, the members concerned (ids for planners; counts for viewers),
    minutes before and after, the rule satisfied and a rationale in Chinese and English.
    """
    recs = _recommendations(store, run_id, role, kind)
    if not is_viewer(role):
        audit(request, run_id, "recommendations", len(member_ids(r.member_ids or [] for r in recs)),
              detail=f"{format}{' ' + kind if kind else ''}")
    if format == "json":
        return Recommendations(run_id=run_id, recommendations=recs)
    features = []
    for rec in recs:
        props = rec.model_dump(exclude_none=False)
        lon, lat = props.pop("lon", None), props.pop("lat", None)
        geom = PointGeometry(coordinates=(lon, lat)) if lon is not None and lat is not None else None
        features.append(Feature(geometry=geom, properties=props))
    fc = FeatureCollection(features=features)
    return JSONResponse(fc.model_dump(mode="json"), media_type="application/geo+json")
